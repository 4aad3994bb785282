"""The extractive answer of the offline model: from the top passages of a search, quote the
sentences, list items, table rows (under their header) or whole code block that best match
the question, each with its [n] citation; or say plainly that the docs do not seem to cover
the question, citing nothing: when nothing in the passages holds enough of the question, or
when words the documentation never uses (the search's "not_in_docs") hold much of it.

Scoring is lexical and local to the passages: the question's content words (question words
and stop words dropped, light stemming, identifier parts) weigh by how rare they are among
the passages' pieces, so the piece holding the distinctive words of the question wins. A
question whose distinctive words appear nowhere in the passages is "not covered". Pure
Python on a few kilobytes: well under a millisecond a passage.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from docsdesk.core.terms import QUESTION_WORDS, identifier_terms, stem

STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "the",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "from",
        "by",
        "with",
        "without",
        "into",
        "onto",
        "about",
        "as",
        "or",
        "if",
        "then",
        "than",
        "so",
        "it",
        "its",
        "it's",
        "this",
        "that",
        "these",
        "those",
        "be",
        "been",
        "being",
        "is",
        "are",
        "was",
        "were",
        "am",
        "has",
        "have",
        "had",
        "having",
        "not",
        "no",
        "nor",
        "but",
        "also",
        "just",
        "only",
        "very",
        "too",
        "all",
        "any",
        "some",
        "each",
        "every",
        "other",
        "such",
        "own",
        "same",
        "more",
        "most",
        "less",
        "will",
        "get",
        "gets",
        "got",
        "go",
        "goes",
        "make",
        "makes",
        "one",
        "ones",
        "there",
        "their",
        "them",
        "they",
        "he",
        "she",
        "his",
        "her",
        "him",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "yours",
        "via",
        "per",
        "up",
        "out",
        "over",
        "under",
        "again",
        "further",
        "once",
        "while",
    ]
)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*|[0-9]+(?:\.[0-9]+)*")
_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`\"'(\[*_0-9])")

MAX_PIECES = 4  # pieces quoted at most
MAX_QUOTE_CHARS = 900  # prose quoted at most (a code block or table is kept whole up to the next)
MIN_COVERAGE = 0.45  # share of the question's weight the best piece must hold to answer
RELATIVE_CUTOFF = 0.6  # further pieces must score this share of the best one
MAX_UNKNOWN_SHARE = 0.4  # words no page uses holding this share of the question: not covered
MIN_UNKNOWN_TERMS = 2  # ... when there are at least this many of them


def terms(text: str) -> set[str]:
    """The content terms of `text`: stemmed words and identifier parts, minus stop words."""
    words = _WORD.findall(text) + identifier_terms(text).split()
    return {stem(w) for w in words if w.lower() not in STOP_WORDS and len(w) > 1}


def question_terms(question: str) -> set[str]:
    """The question's content terms: its words (an identifier counts once, as its whole; its
    parts are what the passages' identifiers expand to; the words of a snake_case or dotted
    name count too), question and stop words dropped."""
    kept: set[str] = set()
    for token in re.findall(r"[A-Za-z_][\w.:]*[\w]|[A-Za-z0-9]+", question):
        if identifier_terms(token):
            kept.add(stem("".join(_WORD.findall(token)).lower()))
            if "_" in token or "." in token:  # snake_case and dotted: the words typed count too
                kept.update(
                    stem(w) for w in _WORD.findall(token) if w.lower() not in STOP_WORDS and len(w) > 1
                )
        elif token.lower() not in QUESTION_WORDS and token.lower() not in STOP_WORDS and len(token) > 1:
            kept.add(stem(token))
    return kept or terms(question)


@dataclass
class Piece:
    """A quotable part of a passage."""

    kind: str  # "sentence", "item", "row", "code"
    text: str
    passage: int  # citation number
    order: int  # position in the passage
    rank: int  # passage rank (0 = top)
    heading: str = ""
    header: str = ""  # a table row's header and rule lines
    terms: set[str] = field(default_factory=set)
    score: float = 0.0


def split_passage(text: str, number: int, rank: int, title: str = "") -> list[Piece]:
    """Cut a passage into sentences, list items, table rows (with their header) and code blocks;
    each knows the heading it is under (at first the passage's title)."""
    pieces: list[Piece] = []
    heading = title
    lines = text.splitlines()
    i = 0

    def add(kind: str, body: str, header: str = "") -> None:
        body = body.strip()
        if body:
            pieces.append(Piece(kind, body, number, len(pieces), rank, heading, header))

    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            flat = " ".join(" ".join(paragraph).split())
            for sentence in _SENTENCE_END.split(flat):
                add("sentence", sentence)
            paragraph.clear()

    while i < len(lines):
        line = lines[i]
        if opening := _FENCE.match(line):
            flush()
            fence = opening.group(1)
            block = [line]
            i += 1
            while i < len(lines) and not lines[i].lstrip().startswith(fence):
                block.append(lines[i])
                i += 1
            block.append(lines[i] if i < len(lines) else fence)
            add("code", "\n".join(block))
        elif (match := _HEADING.match(line)) is not None:
            flush()
            heading = match.group(1)
        elif line.lstrip().startswith("|") and i + 1 < len(lines) and _TABLE_RULE.match(lines[i + 1]):
            flush()
            header = f"{line.strip()}\n{lines[i + 1].strip()}"
            i += 2
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                add("row", lines[i], header)
                i += 1
            continue
        elif _LIST_ITEM.match(line):
            flush()
            item = [line]
            while i + 1 < len(lines) and lines[i + 1].startswith((" ", "\t")) and lines[i + 1].strip():
                i += 1
                item.append(lines[i].strip())
            add("item", " ".join(item))
        elif not line.strip():
            flush()
        else:
            paragraph.append(line)
        i += 1
    flush()
    return pieces


def score_pieces(
    question: str, pieces: list[Piece], unknown: Sequence[str] = ()
) -> tuple[float, float, float]:
    """Score every piece; returns (the question's total weight, the best piece's coverage,
    the share of the weight held by `unknown`: words the documentation never uses)."""
    wanted = question_terms(question)
    absent = wanted & {t for word in unknown for t in question_terms(word)}
    if len(absent) < MIN_UNKNOWN_TERMS:
        # One word no page uses is likely the reader's own name for something (their app):
        # no passage could hold it, so it does not count against them.
        wanted, absent = (wanted - absent) or wanted, set()
    if not wanted or not pieces:
        return 0.0, 0.0, 0.0
    for piece in pieces:
        piece.terms = terms(piece.text)
    n = len(pieces)
    df = {t: sum(t in p.terms for p in pieces) for t in wanted}
    # Rare terms weigh more; a term in no piece weighs a little more than one found once, so
    # a question whose distinctive words are all missing is not "covered" by its common ones.
    weight = {t: math.log(1 + (n + 1) / (df[t] + 0.5 if df[t] else 1.0)) for t in wanted}
    total = sum(weight.values())
    best = 0.0
    headings: dict[str, set[str]] = {}
    for piece in pieces:
        context = f"{piece.heading}\n{piece.header}"  # a table row's header describes it
        heading_terms = headings.get(context)
        if heading_terms is None:
            heading_terms = headings[context] = terms(context)
        matched = wanted & piece.terms
        in_heading = (wanted & heading_terms) - matched
        coverage = (sum(weight[t] for t in matched) + 0.5 * sum(weight[t] for t in in_heading)) / total
        # Prefer the better-ranked passage and, a little, what a passage says first.
        piece.score = coverage * (1.0 - 0.04 * piece.rank) * (1.0 - 0.005 * min(piece.order, 20))
        if piece.kind == "code":
            piece.score *= 0.9  # code matches on identifiers easily; prose explains
        best = max(best, coverage)
    return total, best, sum(weight[t] for t in absent) / total


def select(pieces: list[Piece]) -> list[Piece]:
    """The best pieces (at most MAX_PIECES, within MAX_QUOTE_CHARS), a lead-in ending in ':'
    followed by what it introduces."""
    ranked = sorted(pieces, key=lambda p: (-p.score, p.rank, p.order))
    if not ranked or ranked[0].score <= 0:
        return []
    chosen: list[Piece] = []
    chars = 0
    for piece in ranked:
        if piece.score < RELATIVE_CUTOFF * ranked[0].score or len(chosen) >= MAX_PIECES:
            break
        size = len(piece.text) if piece.kind not in ("code", "row") else 0
        if chosen and chars + size > MAX_QUOTE_CHARS:
            continue
        chosen.append(piece)
        chars += size
    by_position = {(p.passage, p.order): p for p in pieces}
    for piece in list(chosen):  # "For example:" brings its code block
        if piece.text.endswith(":"):
            following = by_position.get((piece.passage, piece.order + 1))
            if (
                following is not None
                and following not in chosen
                and following.kind in ("code", "item", "row")
            ):
                chosen.append(following)
    return sorted(chosen, key=lambda p: (p.rank, p.order))


def render(chosen: list[Piece]) -> str:
    """Quote the chosen pieces grouped by passage, each group ending with its [n] marker."""
    blocks: list[str] = []
    i = 0
    while i < len(chosen):
        piece = chosen[i]
        if piece.kind == "row":
            rows = [piece]
            while (
                i + 1 < len(chosen)
                and chosen[i + 1].kind == "row"
                and chosen[i + 1].header == piece.header
                and chosen[i + 1].passage == piece.passage
            ):
                i += 1
                rows.append(chosen[i])
            blocks.append(piece.header + "\n" + "\n".join(r.text for r in rows) + f"\n\n[{piece.passage}]")
        elif piece.kind == "code":
            blocks.append(f"{piece.text}\n\n[{piece.passage}]")  # kept whole
        else:
            run = [piece]
            while (
                i + 1 < len(chosen)
                and chosen[i + 1].kind in ("sentence", "item")
                and chosen[i + 1].passage == piece.passage
            ):
                i += 1
                run.append(chosen[i])
            lines = [
                ("- " + _LIST_ITEM.sub("", p.text, count=1)) if p.kind == "item" else p.text for p in run
            ]
            joined = "\n".join(lines) if any(p.kind == "item" for p in run) else " ".join(lines)
            blocks.append("\n".join("> " + line for line in joined.splitlines()) + f" [{piece.passage}]")
        i += 1
    return "\n\n".join(blocks)


@dataclass
class Answer:
    text: str
    cited: list[int]  # passage numbers quoted, in order
    covered: bool


def extract_answer(
    question: str, passages: list[tuple[int, str, str]], unknown: Sequence[str] = ()
) -> Answer:
    """The quoted answer to `question` from `passages` ((citation number, title, text), best
    first); `unknown`: the question's words that the documentation never uses."""
    pieces = [
        piece
        for rank, (number, title, text) in enumerate(passages)
        for piece in split_passage(text, number, rank, title)
    ]
    _, coverage, unknown_share = score_pieces(question, pieces, unknown)
    covered = coverage >= MIN_COVERAGE and unknown_share < MAX_UNKNOWN_SHARE
    chosen = select(pieces) if covered else []
    if not chosen:
        return Answer("", [], False)
    cited = list(dict.fromkeys(p.passage for p in chosen))
    return Answer(render(chosen), cited, True)


# Words that, with question and stop words, make a question about the page itself ("What is this
# page about?", "Summarise this", "And this one?"): nothing in it names a topic to search for.
PAGE_WORDS = frozenset(
    {
        "page",
        "about",
        "summary",
        "summarise",
        "summarize",
        "overview",
        "one",
        "section",
        "doc",
        "docs",
        "explain",
        "tell",
        "describe",
        "mean",
        "topic",
        "main",
        "point",
    }
)


def asks_about_the_page(question: str) -> bool:
    """Whether `question` names no topic of its own beyond the page it is asked on."""
    words = {w.lower() for w in _WORD.findall(question)}
    content = {stem(w) for w in words if w not in QUESTION_WORDS and w not in STOP_WORDS and len(w) > 1}
    return not content - {stem(w) for w in PAGE_WORDS}


def page_lead(passages: list[tuple[int, str, str]], page_title: str, sentences: int = 2) -> Answer:
    """What the reader's page says first: the opening sentences (or items) of the passage from
    that page (by title; the top passage otherwise), quoted with its citation."""
    wanted = " ".join(page_title.split()).lower()
    chosen = next(
        (p for p in passages if wanted and p[1].lower() in wanted), passages[0] if passages else None
    )
    if chosen is None:
        return Answer("", [], False)
    number, title, text = chosen
    lead = [piece for piece in split_passage(text, number, 0, title) if piece.kind in ("sentence", "item")][
        :sentences
    ]
    if not lead:
        return Answer("", [], False)
    return Answer(render(lead), [number], True)
