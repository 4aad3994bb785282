"""Why the not-covered turns were not covered (migration 0018), in the insights report's
words: the window's count per reason, and each coverage gap's. A reason tells the docs team
what to write: a figure for a page that has the topic (`unstated_figure`), a section for a
topic the docs touch (`no_matching_section`), a page for a subject they never name."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from docsdesk.core.turn import NotCoveredReason

NOT_RECORDED = "not recorded (turns from before reasons were recorded)"
_KNOWN = {r.value: r for r in NotCoveredReason}


def label(reason: str | None) -> str:
    """What `reason` means; a value this version does not know is shown as it is."""
    if reason is None:
        return NOT_RECORDED
    known = _KNOWN.get(reason)
    return known.label if known else reason


def reason_counts(counts: Iterable[tuple[str | None, int]]) -> list[dict[str, Any]]:
    """[{"reason", "label", "turns"}], most turns first, from (reason, turns) pairs (a reason
    may come more than once: the counts add up)."""
    total: Counter[str | None] = Counter()
    for reason, turns in counts:
        total[reason] += turns
    ordered = sorted(total.items(), key=lambda kv: (-kv[1], kv[0] or "~"))
    return [{"reason": reason, "label": label(reason), "turns": turns} for reason, turns in ordered]


def merged(*groups: Mapping[str, int] | None) -> dict[str, int]:
    """Per-reason counts of several question groups, added up (reasons counted 0 left out)."""
    total: Counter[str] = Counter()
    for group in groups:
        total.update({reason: n for reason, n in (group or {}).items() if n})
    return dict(total)
