"""Why questions were not covered (migration 0018): recorded with the outcome, counted in the
report per reason and per coverage gap, and never on a turn that was answered."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from docsdesk.core.turn import NotCoveredReason
from docsdesk.insights.reasons import NOT_RECORDED, label, reason_counts
from tests.docsdesk.insights.conftest import admin
from tests.docsdesk.insights.seed import seed, seed_thread, turn

FIGURE = NotCoveredReason.UNSTATED_FIGURE
PRODUCT = NotCoveredReason.UNKNOWN_PRODUCT


async def test_the_report_counts_not_covered_turns_per_reason(admin_app, engine, collection):
    url, _ = admin_app
    thread = await seed_thread(engine)
    records = [
        turn(thread, "How many days are traces kept?", collection, outcome="not_covered", reason=FIGURE),
        turn(thread, "how many days are traces kept", collection, outcome="not_covered", reason=FIGURE),
        turn(thread, "How many days are traces kept?", collection, outcome="not_covered"),  # before 0018
        turn(thread, "Does it work with Pinecone?", collection, outcome="not_covered", reason=PRODUCT),
        turn(thread, "How many days are traces kept?", collection),  # answered once: no reason
    ]
    await seed(engine, records)
    async with admin(url) as http:
        report = (await http.get("/admin/api/report", params={"days": 30})).json()
    assert report["not_covered_reasons"] == [
        {"reason": "unstated_figure", "label": FIGURE.label, "turns": 2},
        {"reason": "unknown_product", "label": PRODUCT.label, "turns": 1},
        {"reason": None, "label": NOT_RECORDED, "turns": 1},
    ]
    traces, pinecone = report["coverage_gaps"]
    assert (traces["count"], traces["reasons"]) == (
        3,
        [{"reason": "unstated_figure", "label": FIGURE.label, "turns": 2}],
    )
    assert [r["reason"] for r in pinecone["reasons"]] == ["unknown_product"]
    top = report["top_questions"][0]  # the same group among all questions: its not-covered turns' reasons
    assert top["count"] == 4 and top["reasons"][0]["turns"] == 2


async def test_a_reason_only_goes_with_a_not_covered_turn(engine, collection):
    thread = await seed_thread(engine)
    answered = turn(thread, "How do I retry?", collection, reason=FIGURE)
    with pytest.raises(ValueError, match="answered turn has no not-covered reason"):
        answered.row()
    async with engine.begin() as conn:
        with pytest.raises(IntegrityError, match="ck_turns_not_covered_reason"):
            await conn.execute(
                text(
                    "INSERT INTO turns (thread_id, tenant_id, user_hash, collection, question, outcome,"
                    " model, not_covered_reason) VALUES (:t, '', 'u', :c, 'q', 'answered', 'm', 'no_results')"
                ),
                {"t": thread, "c": collection},
            )


def test_labels_name_each_reason_and_keep_unknown_values():
    assert {label(r.value) for r in NotCoveredReason} == {r.label for r in NotCoveredReason}
    assert len({r.label for r in NotCoveredReason}) == len(NotCoveredReason)
    assert label(None) == NOT_RECORDED and label("a_newer_reason") == "a_newer_reason"
    counts = reason_counts([("absent_terms", 1), (None, 4), ("absent_terms", 2)])
    assert [(c["reason"], c["turns"]) for c in counts] == [(None, 4), ("absent_terms", 3)]
