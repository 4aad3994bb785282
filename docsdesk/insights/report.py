"""The insights report over the turn records of a time window, in one collection (and
optionally one tenant): volume per day, outcomes, coverage gaps, top questions, negative
feedback, cited and never-cited pages, latency.

Near-duplicate questions count once: each turn carries `question_key` (its sorted, stemmed
English lexemes; see migration 0003), so "How do I install it?" and "installing it" share a
group; with pg_trgm the most frequent groups are then merged when their keys are similar
(a typo, one extra word). Without pg_trgm the report says grouping is by key alone.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from chatkit_store.schema import TURN_OUTCOMES
from docsdesk.core.turn import NotCoveredReason, TurnChannel
from docsdesk.insights.handoffs import handoff_report
from docsdesk.insights.pages import page_sections
from docsdesk.insights.reasons import merged, reason_counts

MAX_DAYS = 3650
GROUP_CANDIDATES = 300  # the most frequent keys considered for trigram merging
MERGE_SIMILARITY = 0.6
SHOWN = 25


@dataclass(frozen=True)
class Scope:
    """Which turns: the last `days` days of `assistant` (None = every assistant), in
    `collection` (None = every collection), of `tenant` (None = every tenant), through
    `channel` (`widget`, `mcp`; None = every channel). `pages`: the collections whose pages
    count as "never cited" (default: `collection`)."""

    collection: str | None = None
    days: int = 30
    tenant: str | None = None
    until: datetime | None = None
    channel: TurnChannel | None = None
    assistant: str | None = None
    pages: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """What the scope covers, for a title or a file name."""
        return self.assistant or self.collection or "all"

    def params(self) -> dict[str, Any]:
        until = self.until or datetime.now(UTC)
        pages = self.pages or ((self.collection,) if self.collection else ())
        return {
            "collection": self.collection,
            "assistant": self.assistant,
            "pages": list(pages),
            "tenant": self.tenant,
            "channel": str(self.channel) if self.channel else None,
            "since": until - timedelta(days=self.days),
            "until": until,
        }


def check_days(value: object) -> int:
    """`days` from a query string or the command line; ValueError naming the problem."""
    try:
        days = int(str(value))
    except ValueError:
        raise ValueError(f"days must be a whole number, not {str(value)[:40]!r}") from None
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}, not {days}")
    return days


SCOPED = """
    (CAST(:collection AS text) IS NULL OR t.collection = CAST(:collection AS text))
    AND (CAST(:assistant AS text) IS NULL OR t.assistant = CAST(:assistant AS text))
    AND (CAST(:tenant AS text) IS NULL OR t.tenant_id = CAST(:tenant AS text))
    AND (CAST(:channel AS text) IS NULL OR t.channel = CAST(:channel AS text))
    AND t.created_at >= :since AND t.created_at < :until
"""

_PER_DAY = text(
    f"""
    SELECT (t.created_at AT TIME ZONE 'UTC')::date AS day, t.outcome, t.not_covered_reason AS reason,
           count(*) AS n
    FROM turns t WHERE {SCOPED} GROUP BY 1, 2, 3 ORDER BY 1
    """
)
_TOTALS = text(
    f"""
    SELECT count(DISTINCT t.thread_id) AS conversations, count(DISTINCT t.user_hash) AS users,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY t.first_text_ms) AS first_p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY t.first_text_ms) AS first_p95,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY t.duration_ms)
               FILTER (WHERE t.outcome IN ('answered', 'not_covered')) AS total_p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY t.duration_ms)
               FILTER (WHERE t.outcome IN ('answered', 'not_covered')) AS total_p95,
           sum(t.input_tokens) AS input_tokens, sum(t.output_tokens) AS output_tokens
    FROM turns t WHERE {SCOPED}
    """
)
# One aggregate over the window's turns serves both lists: every question (top questions)
# and the not-covered ones (coverage gaps); each keeps its GROUP_CANDIDATES biggest keys. A
# group carries its not-covered turns' count per reason (only not-covered turns have one).
# A follow-up ("and can I turn it off?") is grouped with the question it leans on (`follows`),
# reduced as question_key is, after a unit separator: the same words after another question
# are another question, and groups merge by similar words only after the same question.
_FOLLOWS_KEY = (
    "chr(31) || coalesce(nullif(strip(to_tsvector('english'::regconfig, t.follows))::text, ''), "
    "lower(btrim(t.follows)))"
)
_REASON_COUNTS = ", ".join(
    f"'{r.value}', count(*) FILTER (WHERE t.not_covered_reason = '{r.value}')" for r in NotCoveredReason
)
_GROUPS = text(
    f"""
    WITH g AS (
        SELECT t.question_key || coalesce({_FOLLOWS_KEY}, '') AS key, count(*) AS n, min(t.id) AS first_id,
               max(t.created_at) AS last,
               jsonb_build_object({_REASON_COUNTS}) AS reasons,
               count(*) FILTER (WHERE t.outcome = 'not_covered') AS gap_n,
               min(t.id) FILTER (WHERE t.outcome = 'not_covered') AS gap_first_id,
               max(t.created_at) FILTER (WHERE t.outcome = 'not_covered') AS gap_last
        FROM turns t WHERE {SCOPED} AND t.outcome <> 'small_talk'
        GROUP BY 1
    ), picked AS (
        (SELECT 'top' AS list, key, n, last, first_id, reasons FROM g ORDER BY n DESC, key LIMIT :candidates)
        UNION ALL
        (SELECT 'gap', key, gap_n, gap_last, gap_first_id, reasons FROM g WHERE gap_n > 0
         ORDER BY gap_n DESC, key LIMIT :candidates)
    )
    SELECT p.list, p.key, p.n, p.last, e.question, e.follows, e.page_url, e.thread_id, p.reasons
    FROM picked p JOIN turns e ON e.id = p.first_id ORDER BY p.list, p.n DESC, p.key
    """
)
_SIMILAR = text(
    """
    SELECT a.i, b.i FROM unnest(CAST(:keys AS text[])) WITH ORDINALITY AS a(key, i)
    JOIN unnest(CAST(:keys AS text[])) WITH ORDINALITY AS b(key, i)
      ON a.i < b.i AND split_part(a.key, chr(31), 2) = split_part(b.key, chr(31), 2)
      AND similarity(split_part(a.key, chr(31), 1), split_part(b.key, chr(31), 1)) >= :threshold
    """
)
_NEGATIVE = text(
    f"""
    SELECT t.thread_id, t.question, t.answer, t.cited_urls, t.page_url, t.outcome,
           t.created_at, f.created_at AS rated_at
    FROM feedback f JOIN turns t ON t.answer_item_id = f.item_id
    WHERE f.kind = 'negative' AND {SCOPED}
    ORDER BY f.created_at DESC LIMIT :shown
    """
)
_FEEDBACK = text(
    f"""
    SELECT f.kind, count(*) FROM feedback f JOIN turns t ON t.answer_item_id = f.item_id
    WHERE {SCOPED} GROUP BY f.kind
    """
)
_CITED = text(
    f"""
    SELECT split_part(u.url, '#', 1) AS page, count(*) AS n
    FROM turns t CROSS JOIN LATERAL unnest(t.cited_urls) AS u(url)
    WHERE {SCOPED} GROUP BY 1 ORDER BY n DESC, page
    """
)
# The words of the assistant's searches that no page uses: what readers look for and the docs
# never name (lower-cased; each counted once per turn), with the question of the latest turn.
# Only the words the turn's own question holds: a follow-up's search also holds the earlier
# question's words (and a language model may bring in words of its own), which are counted for
# the turn that asked them. A search word (rag.unknown_words: letters and digits joined by
# . @ ' ’ -) is in the question when it stands there between characters that are neither
# letters nor digits; "." is the one regular-expression character such a word can hold.
_MISSING_WORDS = text(
    f"""
    WITH w AS (
        SELECT DISTINCT t.id, lower(word) AS word, t.created_at, t.question
        FROM turns t CROSS JOIN LATERAL jsonb_array_elements(t.searches) AS s(search)
        CROSS JOIN LATERAL jsonb_array_elements_text(
            CASE WHEN jsonb_typeof(s.search -> 'not_in_docs') = 'array' THEN s.search -> 'not_in_docs' ELSE '[]' END
        ) AS n(word)
        WHERE {SCOPED}
          AND lower(t.question) ~ ('(^|[^[:alnum:]])' || replace(lower(word), '.', '\\.') || '($|[^[:alnum:]])')
    )
    SELECT word, count(*) AS turns, max(created_at) AS last,
           (array_agg(question ORDER BY created_at DESC))[1] AS example
    FROM w GROUP BY word ORDER BY turns DESC, word LIMIT :shown
    """
)
# Questions per channel: what readers ask in the widget, what coding agents search over MCP.
_CHANNELS = text(
    f"""
    SELECT t.channel, count(*) AS turns, count(*) FILTER (WHERE t.outcome = 'not_covered') AS not_covered
    FROM turns t WHERE {SCOPED} GROUP BY t.channel ORDER BY t.channel
    """
)
_PAGES = text(
    "SELECT page_url, title FROM docs_documents WHERE collection = ANY(CAST(:pages AS text[])) ORDER BY page_url"
)


async def trigram_available(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        return bool(
            await conn.scalar(text("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')"))
        )


WORK_MEM = "64MB"  # the report's sorts and aggregates stay in memory


async def _rows(engine: AsyncEngine, statement, params: dict[str, Any]) -> list[Any]:
    # Each query checks out its own connection and holds only that one; its transaction
    # (rolled back at the end: nothing is written) carries the work_mem setting.
    async with engine.connect() as conn:
        await conn.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
        return list((await conn.execute(statement, params)).all())


def _per_day(rows: list[Any], scope: dict[str, Any]) -> tuple[list[dict], dict[str, int]]:
    counts: dict[date, dict[str, int]] = {}
    totals = dict.fromkeys(TURN_OUTCOMES, 0)
    for day, outcome, _, n in rows:
        counts.setdefault(day, dict.fromkeys(TURN_OUTCOMES, 0))[outcome] += n
        totals[outcome] += n
    first: date = scope["since"].astimezone(UTC).date()
    last: date = scope["until"].astimezone(UTC).date()
    days = []
    day = first
    while day <= last:
        entry = counts.get(day, dict.fromkeys(TURN_OUTCOMES, 0))
        days.append({"day": day.isoformat(), **entry, "total": sum(entry.values())})
        day += timedelta(days=1)
    return days, totals


async def question_groups(
    engine: AsyncEngine, params: dict[str, Any], trigram: bool
) -> dict[str, list[dict[str, Any]]]:
    """{"top": the most asked questions, "gap": the most asked not-covered ones}, with
    near-duplicates counted once."""
    rows = await _rows(engine, _GROUPS, {**params, "candidates": GROUP_CANDIDATES})
    lists = {"top": [r for r in rows if r.list == "top"], "gap": [r for r in rows if r.list == "gap"]}
    merged = await asyncio.gather(*(_merge(engine, lists[name], trigram) for name in ("top", "gap")))
    return dict(zip(("top", "gap"), merged, strict=True))


async def _merge(engine: AsyncEngine, rows: list[Any], trigram: bool) -> list[dict[str, Any]]:
    """Groups (rows by count, biggest first) merged when their keys are trigram-similar."""
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if trigram and len(rows) > 1:
        pairs = await _rows(engine, _SIMILAR, {"keys": [r.key for r in rows], "threshold": MERGE_SIMILARITY})
        for a, b in pairs:
            ra, rb = root(a - 1), root(b - 1)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)  # the bigger group leads
    groups: dict[int, dict[str, Any]] = {}
    for i, row in enumerate(rows):
        lead = root(i)
        group = groups.get(lead)
        if group is None:
            groups[lead] = {
                "question": row.question,
                "follows": row.follows,  # the earlier question a follow-up leans on, or None
                "count": row.n,
                "variants": [],
                "last_asked": row.last.isoformat(),
                "page_url": row.page_url,
                "threads": [row.thread_id],  # conversations where it was asked (the console opens them)
                "reasons": merged(row.reasons),
            }
        else:
            group["count"] += row.n
            group["reasons"] = merged(group["reasons"], row.reasons)
            if len(group["threads"]) < 5 and row.thread_id not in group["threads"]:
                group["threads"].append(row.thread_id)
            if len(group["variants"]) < 5:
                group["variants"].append(row.question)
            group["last_asked"] = max(group["last_asked"], row.last.isoformat())
    ordered = sorted(groups.values(), key=lambda g: -g["count"])[:SHOWN]
    for group in ordered:
        group["reasons"] = reason_counts(group["reasons"].items())
    return ordered


def _channels(rows: list[Any]) -> dict[str, dict[str, int]]:
    return {row.channel: {"turns": row.turns, "not_covered": row.not_covered} for row in rows}


async def build_report(engine: AsyncEngine, scope: Scope) -> dict[str, Any]:
    params = scope.params()
    trigram = await trigram_available(engine)
    rows, groups, handoffs = await asyncio.gather(
        asyncio.gather(
            _rows(engine, _PER_DAY, params),
            _rows(engine, _TOTALS, params),
            _rows(engine, _NEGATIVE, {**params, "shown": SHOWN}),
            _rows(engine, _FEEDBACK, params),
            _rows(engine, _CITED, params),
            _rows(engine, _PAGES, params),
            _rows(engine, _MISSING_WORDS, {**params, "shown": SHOWN}),
            _rows(engine, _CHANNELS, params),
        ),
        question_groups(engine, params, trigram),
        handoff_report(engine, params),
    )
    per_day_rows, totals_rows, negative, feedback_rows, cited_rows, pages, missing, channel_rows = rows
    per_day, outcomes = _per_day(per_day_rows, params)
    turns, totals = sum(outcomes.values()), totals_rows[0]
    return {
        "scope": _scope(scope, params),
        "totals": {
            "turns": turns,
            "questions": turns - outcomes["small_talk"],  # greetings and thanks apart
            **outcomes,
            "conversations": totals.conversations,
            "users": totals.users,
            "input_tokens": totals.input_tokens,
            "output_tokens": totals.output_tokens,
        },
        "channels": _channels(channel_rows),
        "not_covered_reasons": reason_counts(
            (row.reason, row.n) for row in per_day_rows if row.outcome == "not_covered"
        ),
        "per_day": per_day,
        "coverage_gaps": groups["gap"],
        "top_questions": groups["top"],
        "missing_words": [
            {"word": row.word, "turns": row.turns, "last_asked": row.last.isoformat(), "example": row.example}
            for row in missing
        ],
        "feedback": {"positive": 0, "negative": 0, **{kind: n for kind, n in feedback_rows}},
        "negative_feedback": [_negative(row) for row in negative],
        **page_sections(cited_rows, pages, SHOWN),
        "latency_ms": {
            "first_text": {"p50": _ms(totals.first_p50), "p95": _ms(totals.first_p95)},
            "total": {"p50": _ms(totals.total_p50), "p95": _ms(totals.total_p95)},
        },
        "grouping": GROUPING_TRIGRAM if trigram else GROUPING_FULL_TEXT,
        "handoffs": handoffs,
    }


# How questions are grouped, in the words a docs team reads (the console shows the note).
GROUPING_TRIGRAM = {
    "method": "full-text+trigram",
    "note": "questions asked in the same words count once, and so do questions that differ by a typo or a word",
}
GROUPING_FULL_TEXT = {
    "method": "full-text",
    "note": "questions asked in the same words count once (questions that differ by a typo are "
    "counted apart: the database lacks the pg_trgm extension)",
}


def _scope(scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "collection": scope.collection,
        "assistant": scope.assistant,
        "tenant": scope.tenant,
        "channel": str(scope.channel) if scope.channel else None,
        "days": scope.days,
        "since": params["since"].isoformat(),
        "until": params["until"].isoformat(),
    }


def _ms(value: Any) -> int | None:
    return None if value is None else round(float(value))


def _negative(row: Any) -> dict[str, Any]:
    return {
        "thread_id": row.thread_id,
        "question": row.question,
        "answer": row.answer,
        "cited_urls": list(row.cited_urls),
        "page_url": row.page_url,
        "outcome": row.outcome,
        "asked_at": row.created_at.isoformat(),
        "rated_at": row.rated_at.isoformat(),
    }
