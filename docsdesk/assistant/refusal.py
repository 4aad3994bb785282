"""Refusals on evidence beyond the question's words: a question that asks the documentation for
a figure it does not state.

A reader asking "how many days are traces kept?", "is there a max number of handoffs?" or "what's
the default max file size?" wants a figure: a count, a limit, a default, a duration, a size or a
price. The passages the search finds are about the topic (traces, handoffs, attachments), so they
hold the question's words and would be quoted; but when none of them states an amount for what is
asked, quoting them answers another question. A figure is stated by a number (digits or a number
word: "five attempts", "`lifetime_seconds=3600`", "at most 50"), or by a setting that names an
amount (`max_turns`, `total_tokens`, `lifetime_seconds`), in a piece that names what the question
counts ("how many *days*", "max number of *handoffs*") or, for "how long" and "how big", a unit of
time or size. A list's numbering, versions, dates, ports and the digits inside a name are no
amounts; a date is a year with its month (`2025-12-27`, "March 2026").

Only the question's own ask counts: "how many" or "how long" opening a sentence ("by default, how
many tool calls ..."), or "is there a max / hard cap / limit ...", "what's the default max ...";
not "can I cap how long it runs" (a way to set a limit) nor "how many tokens did my run use" (a
measurement of the reader's own run, which the docs answer with where to read it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from docsdesk.assistant.pieces import Piece
from docsdesk.assistant.words import STOP_WORDS, terms
from docsdesk.core.terms import QUESTION_WORDS, identifier_terms, stem


def _listed(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Where the question's own ask starts: the question's or a sentence's start, after a comma or a
# joining word ("so how many", "by default how many").
_ASK_START = r"(?:^|[.?!;:(]\s*|,\s*|\b(?:and|so|but|or|also|default|then)\s+)"
_HOW = re.compile(_ASK_START + r"how\s+(?P<how>many|much|long|big|large|often)\b(?P<rest>[^.?!;]*)", re.I)
_LIMIT = re.compile(
    r"\b(?:is\s+there|are\s+there|what\s+is|what's|whats|what\s+are)\s+(?:a|an|the|any)\s+"
    r"(?:(?:default|hard|upper|lower|built-in|official)\s+)*"
    r"(?P<how>max|maximum|min|minimum|limit|cap|threshold|quota)\b(?P<rest>[^.?!;]*)",
    re.I,
)
# "when is 3.0 coming out?", "when will it be released?": a date
_WHEN = re.compile(
    _ASK_START + r"when\s+(?:is|will|does|do|are)\b(?P<rest>(?:[^.?!;]|\.(?=\d))*?)"
    r"\b(?:come|comes|coming|out|release|released|ship|ships|shipping|launch|available)\b",
    re.I,
)
_DATE = re.compile(
    r"\b(?:19|20)\d\d-\d\d(?:-\d\d)?\b|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+"
    r"(?:\d{1,2},?\s+)?(?:19|20)\d\d\b|\bQ[1-4]\s+(?:19|20)\d\d\b",
    re.I,
)
# The question asks about something that happened to the reader: "how many tokens did my run use".
_PAST = re.compile(r"\b(?:did|was|were|used|spent|consumed)\b", re.I)
# Where the counted noun phrase ends: a verb, a pronoun, a clause or a comparison.
_PHRASE_END = _listed(
    "do does did is are was were will would can could should shall may might must have has had i we "
    "you they it he she before after if when until while so because than per by"
)
_FIGURE_WORDS = _listed("number amount count size default max maximum min minimum many much")
_DURATION = frozenset(
    stem(w)
    for w in _listed(
        "second seconds sec secs minute minutes min hour hours day days week weeks month months year "
        "years ms millisecond milliseconds timeout lifetime ttl expire expires expiry interval"
    )
)
_SIZE = frozenset(
    stem(w) for w in _listed("byte bytes kb mb gb kib mib gib size max maximum limit characters chars length")
)
# ("one" and "once" are more often a pronoun and a conjunction than a figure)
_NUMBER_WORDS = _listed(
    "two three four five six seven eight nine ten eleven twelve fifteen twenty thirty forty fifty "
    "sixty hundred thousand million twice dozen"
)
# A number as a figure: not a list's numbering, a version (`1.5.0`, `v2`), a date, a port or
# path (`:8000`, `/v1`), nor digits inside a name (`gpt-4o`, `http2`, `SEP-2577`).
_ORDINAL = re.compile(r"(?:^\s*|(?<=[.:!?]\s))(?:\d{1,3}[.)]|[-*+])\s+")  # also a nested list's, run in
_NUMBER = re.compile(r"(?<![\w.:/#@$-])\d+(?:[_,]\d{3})*(?:\.\d+)?(?![\w.:/-]*\d)(?![-.]\w)")
_WORD = re.compile(r"[A-Za-z]+")
_NUMBER_WORD = re.compile(r"\b[A-Za-z]+\b(?!-)")  # not "two-phase"
# The parts of a setting's name that make it an amount (`max_turns`, `lifetime_seconds`).
_AMOUNT_PARTS = _listed(
    "max min maximum minimum limit limits size timeout seconds secs ms ttl lifetime count total "
    "threshold retries attempts length"
)
_NAME = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b|\b[a-z]+(?:[A-Z][a-z0-9]+)+\b")


@dataclass(frozen=True)
class Figure:
    """What a question asks a figure of: the terms of what it counts ("days", "handoffs"), and
    the units that also name it ("how long": units of time; "how big": of size)."""

    counted: frozenset[str]
    units: frozenset[str] = frozenset()
    date: bool = False  # a date, not an amount ("when is 3.0 coming out?")


def asked_figure(question: str) -> Figure | None:
    """The figure `question` asks for, or None when its ask is not for a figure."""
    when = _WHEN.search(question)
    if when is not None:
        return Figure(frozenset(terms(when.group("rest"))), date=True)
    for pattern in (_HOW, _LIMIT):
        match = pattern.search(question)
        if match is None:
            continue
        how, rest = match.group("how").lower(), match.group("rest")
        if pattern is _HOW and _PAST.search(rest):
            return None  # a measurement of the reader's own run
        units = _DURATION if how in ("long", "often") else _SIZE if how in ("big", "large") else frozenset()
        return Figure(_counted(rest, how), units)
    return None


def _counted(rest: str, how: str) -> frozenset[str]:
    """The terms of what is counted: the noun phrase right after "how many" or "max number of"
    ("days", "uvicorn workers"); after "how much" with none ("how much does it cost"), the
    clause's last word (what it measures)."""
    words = _WORD.findall(rest)
    phrase: list[str] = []
    for word in words:
        lower = word.lower()
        if lower in _PHRASE_END:
            break
        if lower not in STOP_WORDS and lower not in QUESTION_WORDS and lower not in _FIGURE_WORDS:
            phrase.append(word)
        if len(phrase) == 2:
            break
    if not phrase and how == "much":
        content = [w for w in words if w.lower() not in STOP_WORDS and w.lower() not in _PHRASE_END]
        phrase = content[-1:]
    return frozenset(terms(" ".join(phrase)))


def has_amount(text: str) -> bool:
    """Whether `text` states an amount: a number, a number word, or a setting naming one."""
    body = _ORDINAL.sub("", text)
    if _NUMBER.search(body):
        return True
    if any(m.group(0).lower() in _NUMBER_WORDS for m in _NUMBER_WORD.finditer(body)):
        return True
    return names_an_amount(body)


def names_an_amount(text: str) -> bool:
    """Whether `text` names a setting that is an amount (`max_turns`, `lifetime_seconds`)."""
    return any(set(identifier_terms(name).split()) & _AMOUNT_PARTS for name in _NAME.findall(text))


def states_figure(piece: Piece, figure: Figure) -> bool:
    """Whether `piece` states the asked figure: an amount, with what is counted or its unit."""
    about = figure.counted | figure.units
    if about and not piece.terms & about:
        # "how long does a run go on?": a limit in other units than time (`max_turns`); a size
        # limit's name holds a unit of size (`max_queue_size`)
        return figure.units == _DURATION and names_an_amount(piece.text)
    return bool(_DATE.search(piece.text)) if figure.date else has_amount(piece.text)


def none_states(figure: Figure, pieces: Iterable[Piece]) -> bool:
    """Whether none of `pieces` states `figure` (what a question asks, `asked_figure`)."""
    return not any(states_figure(piece, figure) for piece in pieces)
