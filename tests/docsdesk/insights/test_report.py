"""The insights report over HTTP: near-duplicate grouping, outcomes, negative feedback,
cited and never-cited pages, latency, tenant and collection scoping."""

from __future__ import annotations

from sqlalchemy import text

from tests.docsdesk.insights.conftest import admin
from tests.docsdesk.insights.seed import seed, seed_thread, turn

DOCS = "https://docs.example.com/"


async def test_report_groups_near_duplicates_and_counts_outcomes(admin_app, engine, collection):
    url, _ = admin_app
    thread = await seed_thread(engine)
    gaps = [
        "How do I deploy Lantern on Kubernetes?",
        "how do i deploy lantern on kubernetes",
        "Deploying Lantern on Kubernetes?",
        "How do I deploy Lantern on Kubrenetes?",  # a typo: merged by trigram similarity
        "Is there a Windows installer?",
    ]
    records = [turn(thread, q, collection, outcome="not_covered") for q in gaps]
    records += [
        turn(thread, "How do I retry a job?", collection, cited=[DOCS + "concepts/retries/#backoff"])
        for _ in range(3)
    ]
    records.append(turn(thread, "It broke", collection, outcome="error"))
    records.append(turn(thread, "Old question", collection, outcome="not_covered", ago_days=40))
    records.append(
        turn(thread, "Another collection's question", "other-" + collection, outcome="not_covered")
    )
    await seed(engine, records)
    async with admin(url) as http:
        response = await http.get("/admin/api/report", params={"days": 30})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["grouping"]["method"] == "full-text+trigram"
    assert report["scope"]["collection"] == collection
    totals = report["totals"]
    assert (totals["turns"], totals["answered"], totals["not_covered"], totals["error"]) == (9, 3, 5, 1)
    gap_counts = {g["question"]: g["count"] for g in report["coverage_gaps"]}
    assert gap_counts == {"How do I deploy Lantern on Kubernetes?": 4, "Is there a Windows installer?": 1}
    kubernetes = report["coverage_gaps"][0]
    # Same stemmed words: one key; the typo is another key, merged into the group.
    assert kubernetes["variants"] == ["How do I deploy Lantern on Kubrenetes?"]
    top = report["top_questions"][0]
    assert (top["question"], top["count"]) == ("How do I deploy Lantern on Kubernetes?", 4)
    assert report["top_questions"][1]["count"] == 3
    cited = report["top_cited_pages"]
    assert cited[0]["url"] == DOCS + "concepts/retries/" and cited[0]["citations"] == 3
    assert cited[0]["title"]
    never = {p["url"] for p in report["never_cited_pages"]}
    assert DOCS + "concepts/retries/" not in never and DOCS + "concepts/workers/" in never
    assert report["latency_ms"]["first_text"]["p50"] == 300
    assert sum(day["total"] for day in report["per_day"]) == 9
    assert len(report["per_day"]) == 31


async def test_report_lists_the_words_readers_looked_for_that_no_page_uses(admin_app, engine, collection):
    url, _ = admin_app
    thread = await seed_thread(engine)
    await seed(
        engine,
        [
            turn(
                thread,
                "Helm chart for Lantern?",
                collection,
                outcome="not_covered",
                not_in_docs=["Helm"],
                ago_days=2,
            ),
            turn(
                thread,
                "Is there a helm chart?",
                collection,
                outcome="not_covered",
                not_in_docs=["helm", "HELM"],
                ago_days=1,
            ),
            turn(
                thread,
                "Pay invoices in euros?",
                collection,
                outcome="not_covered",
                not_in_docs=["invoices", "euros"],
            ),
            turn(thread, "How do I retry?", collection),
            turn(thread, "Helm in another collection", "other-" + collection, not_in_docs=["helm"]),
            # A follow-up whose search repeats the earlier question's words: they count for the
            # question that asked them, and a word of its own ("node.js", a dot) counts here.
            turn(thread, "and what about the node.js client?", collection, not_in_docs=["euros", "node.js"]),
            turn(thread, "nodexjs", collection, not_in_docs=["node.js"], ago_days=3),
        ],
    )
    async with admin(url) as http:
        report = (await http.get("/admin/api/report", params={"days": 30})).json()
    missing = [(w["word"], w["turns"], w["example"]) for w in report["missing_words"]]
    # Case folded, one count per turn, the latest question as the example, busiest first; a
    # word counts for a turn whose question holds it ("nodexjs" does not hold "node.js").
    assert missing == [
        ("helm", 2, "Is there a helm chart?"),
        ("euros", 1, "Pay invoices in euros?"),
        ("invoices", 1, "Pay invoices in euros?"),
        ("node.js", 1, "and what about the node.js client?"),
    ]


async def test_report_keeps_a_follow_up_with_the_question_it_leans_on(admin_app, engine, collection):
    url, _ = admin_app
    thread = await seed_thread(engine)
    webhooks, retries = "How do I set up webhooks?", "Are failed jobs retried?"
    await seed(
        engine,
        [
            turn(thread, "can I turn it off?", collection, outcome="not_covered", follows=webhooks),
            turn(
                thread,
                "Can I turn it off",
                collection,
                outcome="not_covered",
                follows="how do I set up webhooks",
            ),
            turn(thread, "can I turn it off?", collection, outcome="not_covered", follows=retries),
            turn(thread, "Can I turn it off?", collection, outcome="not_covered"),
        ],
    )
    async with admin(url) as http:
        report = (await http.get("/admin/api/report", params={"days": 30})).json()
    gaps = sorted((g["count"], g["question"], g["follows"]) for g in report["coverage_gaps"])
    # The same words after another question (or after none) are another coverage gap.
    assert gaps == [
        (1, "Can I turn it off?", None),
        (1, "can I turn it off?", retries),
        (2, "can I turn it off?", webhooks),
    ]
    assert sorted(g["count"] for g in report["top_questions"]) == [1, 1, 2]


async def test_negative_feedback_comes_with_question_and_sources(admin_app, engine, collection):
    url, _ = admin_app
    thread = await seed_thread(engine)
    answer_id = "msg_rated_" + thread[-8:]
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO items (id, thread_id, tenant_id, user_id, data) "
                "VALUES (:id, :t, '', 'seed-user', '{}'::jsonb)"
            ),
            {"id": answer_id, "t": thread},
        )
        await conn.execute(
            text(
                "INSERT INTO feedback (item_id, thread_id, tenant_id, user_id, kind) "
                "VALUES (:id, :t, '', 'seed-user', 'negative')"
            ),
            {"id": answer_id, "t": thread},
        )
    await seed(
        engine,
        [
            turn(
                thread,
                "Why is my worker idle?",
                collection,
                answer_item_id=answer_id,
                cited=[DOCS + "concepts/workers/"],
            )
        ],
    )
    async with admin(url) as http:
        report = (await http.get("/admin/api/report")).json()
    [negative] = report["negative_feedback"]
    assert negative["question"] == "Why is my worker idle?"
    assert negative["cited_urls"] == [DOCS + "concepts/workers/"]
    assert negative["thread_id"] == thread
    assert report["feedback"] == {"positive": 0, "negative": 1}


async def test_report_is_scoped_per_tenant(admin_app, engine, collection):
    url, _ = admin_app
    acme, globex = await seed_thread(engine, tenant="acme"), await seed_thread(engine, tenant="globex")
    await seed(
        engine,
        [
            turn(acme, "Acme asks about retries", collection, tenant="acme"),
            turn(acme, "Acme asks about workers", collection, tenant="acme", outcome="not_covered"),
            turn(globex, "Globex asks about secrets", collection, tenant="globex", outcome="not_covered"),
        ],
    )
    async with admin(url) as http:
        acme_report = (await http.get("/admin/api/report", params={"tenant": "acme"})).json()
        everyone = (await http.get("/admin/api/report")).json()
        conversation = await http.get(f"/admin/api/conversations/{globex}", params={"tenant": "acme"})
    assert acme_report["totals"]["turns"] == 2
    assert [g["question"] for g in acme_report["coverage_gaps"]] == ["Acme asks about workers"]
    assert everyone["totals"]["turns"] == 3
    assert conversation.status_code == 404  # another tenant's conversation is not there


async def test_report_rejects_bad_parameters(admin_app):
    url, _ = admin_app
    async with admin(url) as http:
        for params, code in [
            ({"days": "abc"}, "invalid_days"),
            ({"days": "0"}, "invalid_days"),
            ({"days": "99999"}, "invalid_days"),
            ({"tenant": ""}, "invalid_tenant"),
            ({"collection": "no/slash"}, "invalid_collection"),
        ]:
            response = await http.get("/admin/api/report", params=params)
            assert response.status_code == 400, (params, response.text)
            assert response.json()["error"]["code"] == code
            assert response.json()["error"]["message"]
