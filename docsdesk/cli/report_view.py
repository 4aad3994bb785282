"""The insights report printed for a terminal (`docsdesk report`): one Rich table per
section, reader text shown literally (markup escaped, terminal controls removed)."""

from __future__ import annotations

import re
from typing import Any

# What reader text must not carry to an admin's terminal (issue 23, item 10): C0 controls but
# tab and newline (and CR only before LF, CSV's line end), DEL, C1 controls (U+009B is a CSI),
# and bidirectional overrides. ESC sequences clear the screen, set titles, forge OSC 8 links.
_TERMINAL_UNSAFE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]|\r(?!\n)"
)


def terminal_safe(text: str) -> str:
    """`text` without control characters a terminal would act on."""
    return _TERMINAL_UNSAFE.sub("", text)


def print_report(report: dict[str, Any]) -> None:
    from rich.console import Console

    console = Console()
    scope = report["scope"]
    tenant = f", tenant {scope['tenant']}" if scope["tenant"] else ""
    tenant += f", channel {scope['channel']}" if scope.get("channel") else ""
    who = f"assistant {scope['assistant']}, " if scope.get("assistant") else ""
    what = f"collection {scope['collection']}" if scope["collection"] else "all its collections"
    console.print(f"[bold]docsdesk insights[/]: {who}{what}{tenant}, last {scope['days']} days")
    for table in (
        _overview(report),
        _per_day_table(report["per_day"]),
        _reasons_table(report["not_covered_reasons"]),
        *_question_tables(report),
        _missing_table(report["missing_words"]),
        _negative_table(report["negative_feedback"]),
        *_handoff_tables(report["handoffs"]),
        _cited_table(report["top_cited_pages"]),
    ):
        console.print(table)
    console.print(f"pages never cited: {report['never_cited_total']}")
    for page in report["never_cited_pages"][:20]:
        console.print(f"  {_plain(page['url'])}", markup=False)
    console.print(f"[dim]{report['grouping']['note']}[/]")


def channels_line(report: dict[str, Any]) -> str:
    """Turns per channel (the widget, coding agents over MCP), with how many were not covered."""
    channels = report.get("channels", {}).items()
    return " · ".join(f"{name} {c['turns']} ({c['not_covered']} not covered)" for name, c in channels) or "–"


def _table(title: str, *columns: str, right: tuple[str, ...] = ()) -> Any:
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left")
    return table


def _overview(report: dict[str, Any]) -> Any:
    from rich.table import Table

    totals, latency = report["totals"], report["latency_ms"]["first_text"]

    def share(n: int) -> str:
        return f"{n} ({round(100 * n / totals['questions'])}%)" if totals["questions"] else str(n)

    overview = Table(title="Overview", show_header=False)
    for label, value in [
        ("questions", totals["questions"]),
        ("conversations", totals["conversations"]),
        ("readers", totals["users"]),
        ("answered", share(totals["answered"])),
        ("not covered", share(totals["not_covered"])),
        ("errors", share(totals["error"])),
        ("cancelled", share(totals["cancelled"])),
        ("small talk", totals["small_talk"]),
        ("by channel", channels_line(report)),
        ("rated up / down", f"{report['feedback']['positive']} / {report['feedback']['negative']}"),
        (
            "first text p50 / p95",
            f"{latency['p50']} / {latency['p95']} ms" if latency["p50"] is not None else "–",
        ),
    ]:
        overview.add_row(label, str(value))
    return overview


def _per_day_table(per_day: list[dict[str, Any]]) -> Any:
    columns = ("answered", "not_covered", "error", "cancelled", "small_talk")
    days = _table(
        "Questions per day", "day", *(c.replace("_", " ") for c in columns), "total", right=("total",)
    )
    peak = max((d["total"] for d in per_day), default=0) or 1
    for day in per_day:
        if day["total"]:
            bar = "█" * max(1, round(20 * day["total"] / peak))
            days.add_row(day["day"], *(str(day[c]) for c in columns), f"{day['total']} {bar}")
    return days


def _reasons_table(rows: list[dict[str, Any]]) -> Any:
    reasons = _table("Why not covered", "turns", "reason", right=("turns",))
    for row in rows:
        reasons.add_row(str(row["turns"]), _plain(row["label"]))
    return reasons


def _question_tables(report: dict[str, Any]) -> list[Any]:
    tables = []
    for key, title in (
        ("coverage_gaps", "Coverage gaps (not covered by the docs)"),
        ("top_questions", "Top questions"),
    ):
        table = _table(title, "asked", "question", "last asked", "why not covered", right=("asked",))
        for group in report[key]:
            question = _plain(group["question"])
            if group.get("follows"):  # a follow-up: the question it leans on
                question = f"[dim]after “{_plain(group['follows'])}”:[/]\n{question}"
            if group["variants"]:
                question += "\n[dim]also: " + _plain(" · ".join(group["variants"])) + "[/]"
            why = "\n".join(f"{r['turns']}: {_plain(r['label'])}" for r in group.get("reasons", []))
            table.add_row(str(group["count"]), question, group["last_asked"][:10], why)
        tables.append(table)
    return tables


def _missing_table(rows: list[dict[str, Any]]) -> Any:
    missing = _table(
        "Words readers looked for that no page uses", "turns", "word", "latest question", right=("turns",)
    )
    for row in rows:
        missing.add_row(str(row["turns"]), _plain(row["word"]), _plain(row["example"]))
    return missing


def _negative_table(rows: list[dict[str, Any]]) -> Any:
    negative = _table("Rated down", "question", "answer", "sources", "thread")
    for row in rows:
        answer = row["answer"] if len(row["answer"]) < 200 else row["answer"][:200] + "…"
        negative.add_row(
            _plain(row["question"]), _plain(answer), "\n".join(row["cited_urls"]), row["thread_id"]
        )
    return negative


def _handoff_tables(handoffs: dict[str, Any]) -> list[Any]:
    """Deflection per assistant and day, and the tickets (failed deliveries marked)."""
    from docsdesk.insights.handoffs import delivery_summary

    def rate(value: float | None) -> str:
        return "–" if value is None else f"{round(100 * value)}%"

    days = _table(
        "Hand-offs", "day", "assistant", "offered", "tickets", "deflection", right=("offered", "tickets")
    )
    for day in handoffs["per_day"]:
        days.add_row(
            day["day"],
            day["assistant"],
            str(day["conversations"]),
            str(day["tickets"]),
            rate(day["deflection_rate"]),
        )
    tickets = _table("Tickets", "sent", "from", "state", "delivery", "thread")
    for ticket in handoffs["tickets"]:
        state = "[red]not delivered[/]" if ticket["state"] == "failed" else ticket["state"]
        tickets.add_row(
            ticket["submitted_at"][:16],
            _plain(ticket["email"] or ""),
            state,
            _plain(delivery_summary(ticket["deliveries"])),
            ticket["thread_id"],
        )
    return [days, tickets]


def _cited_table(pages: list[dict[str, Any]]) -> Any:
    cited = _table("Most cited pages", "cited", "page", right=("cited",))
    for page in pages:
        cited.add_row(
            str(page["citations"]), _plain(page["title"] or "") + f"\n[dim]{_plain(page['url'])}[/]"
        )
    return cited


def _plain(value: str) -> str:
    """Reader text shown literally: Rich markup in it is escaped, terminal controls removed."""
    from rich.markup import escape

    return escape(terminal_safe(value))
