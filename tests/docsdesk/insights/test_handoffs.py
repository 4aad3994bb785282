"""Deflection from seeded conversations: hand-offs offered, tickets sent, the deflection rate
per assistant and day, the tickets in the report, the console's data, the export and the CLI."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from docsdesk.cli.report_view import print_report
from tests.docsdesk.insights.conftest import admin
from tests.docsdesk.insights.seed import seed, seed_thread, turn


async def handoff(
    engine, thread_id: str, state: str, *, email: str | None = None, ago_days: float = 0, deliveries=None
):
    created = datetime.now(UTC) - timedelta(days=ago_days)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO handoffs (item_id, thread_id, user_id, assistant, reason, state, email, note,"
                " deliveries, created_at, submitted_at)"
                " VALUES (:item, :thread, 'seed-user', 'default', 'not_covered', :state, :email, 'help',"
                " CAST(:deliveries AS jsonb), :created, :submitted)"
            ),
            {
                "item": f"wid_{thread_id}_{state}_{ago_days}",
                "thread": thread_id,
                "state": state,
                "email": email,
                "deliveries": json.dumps(deliveries or []),
                "created": created,
                "submitted": created if state in ("sent", "failed") else None,
            },
        )


async def seeded(engine, collection: str) -> dict[str, str]:
    threads = {name: await seed_thread(engine) for name in ("sent", "deflected", "failed", "old", "other")}
    await seed(
        engine,
        [
            turn(threads[n], f"Question {n}", collection, outcome="not_covered")
            for n in ("sent", "deflected", "failed")
        ]
        + [turn(threads["old"], "Old", collection, outcome="not_covered", ago_days=40)]
        + [turn(threads["other"], "Elsewhere", "other-" + collection, outcome="not_covered")],
    )
    ok = [{"channel": "webhook", "ok": True, "reference": "https://hooks.example/"}]
    failed = [{"channel": "webhook", "ok": False, "error": "HTTP 503"}]
    await handoff(engine, threads["sent"], "shown", ago_days=0.001)
    await handoff(engine, threads["sent"], "sent", email="a@example.org", deliveries=ok)
    await handoff(engine, threads["deflected"], "shown")
    await handoff(engine, threads["failed"], "failed", email="b@example.org", deliveries=failed)
    await handoff(engine, threads["old"], "sent", email="old@example.org", ago_days=40, deliveries=ok)
    await handoff(engine, threads["other"], "sent", email="other@example.org", deliveries=ok)
    return threads


async def test_deflection_per_assistant_and_day(admin_app, engine, collection, capsys):
    url, _ = admin_app
    threads = await seeded(engine, collection)
    async with admin(url) as http:
        report = (await http.get("/admin/api/report", params={"days": 30})).json()
    handoffs = report["handoffs"]
    # Three conversations offered a hand-off in the window and collection; one sent a ticket.
    total = handoffs["per_assistant"]["default"]
    assert (
        total["conversations"],
        total["shown"],
        total["tickets"],
        total["failed"],
        total["deflected"],
    ) == (
        3,
        4,
        1,
        1,
        2,
    )
    assert total["deflection_rate"] == 0.667
    [day] = handoffs["per_day"]
    assert day["day"] == datetime.now(UTC).date().isoformat() and day["deflection_rate"] == 0.667
    tickets = {t["thread_id"]: t for t in handoffs["tickets"]}
    assert set(tickets) == {threads["sent"], threads["failed"]}
    assert tickets[threads["failed"]]["state"] == "failed"
    assert tickets[threads["failed"]]["deliveries"][0]["error"] == "HTTP 503"

    print_report(report)
    printed = capsys.readouterr().out
    assert "Hand-offs" in printed and "67%" in printed and "not delivered" in printed
    assert "failed:" in printed and "503" in printed  # the failed delivery, with its reason


async def test_tickets_export(admin_app, engine, collection):
    url, _ = admin_app
    threads = await seeded(engine, collection)
    async with admin(url) as http:
        jsonl = await http.get("/admin/api/export", params={"format": "jsonl", "of": "tickets"})
        as_csv = await http.get("/admin/api/export", params={"format": "csv", "of": "tickets"})
        md = await http.get("/admin/api/export", params={"format": "md", "of": "tickets"})
        bad = await http.get("/admin/api/export", params={"format": "csv", "of": "passwords"})
    rows = [json.loads(line) for line in jsonl.text.splitlines()]
    assert {r["thread_id"] for r in rows} == {threads["sent"], threads["failed"]}
    assert "tickets" in jsonl.headers["content-disposition"]
    parsed = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert {r["deliveries"] for r in parsed} == {"webhook ok", "webhook failed: HTTP 503"}
    assert md.text.startswith("# Tickets") and md.text.count("## Ticket ") == 2
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_export"
