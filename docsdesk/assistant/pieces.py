"""The quotable pieces of a passage, and how a chosen few are quoted.

A passage (a section's Markdown) is cut into whole sentences, list items, table rows (each
knowing its header) and whole code blocks; each piece knows the heading it is under. A quote
never cuts a sentence: pieces are whole, a passage clipped for the tool output ends at a block
boundary, and a piece marked as clipped ("…") is never quoted. Rendering puts each citation
marker on prose: a code block or table is introduced by the sentence that precedes it (or by
the section's name), which carries the marker, so no marker stands alone on a line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$")
# A sentence ends at . ! ? followed by space and a capital, code, quote, bracket or digit; not
# after the usual abbreviations ("e.g. `x`", "vs. Y").
_SENTENCE_END = re.compile(
    r"(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\betc\.)(?<!\bvs\.)(?<!\bcf\.)(?<!\bNo\.)"
    r"(?<=[.!?])\s+(?=[A-Z`\"'(\[*_0-9])"
)
MAX_HEADING_CHARS = 100  # of the section name a quote is shown under
CLIPPED = "…"  # what ends a passage clipped for the tool output
LEFT_OUT = "…"  # the item that stands for those of a quoted list left out
_WORDY = re.compile(r"\w")


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
    paragraph: int = -1  # the paragraph a sentence belongs to (its sentences share it); -1 for other kinds

    @property
    def prose(self) -> bool:
        return self.kind in ("sentence", "item")

    @property
    def clipped(self) -> bool:
        return self.text.rstrip().endswith(CLIPPED)


class _Splitter:
    """Cuts one passage's lines into pieces (see split_passage)."""

    def __init__(self, number: int, rank: int, title: str) -> None:
        self.number, self.rank, self.heading = number, rank, title
        self.pieces: list[Piece] = []
        self.paragraph: list[str] = []
        self.paragraphs = 0

    def add(self, kind: str, body: str, header: str = "", paragraph: int = -1) -> None:
        body = body.strip()
        if body and _WORDY.search(body):
            self.pieces.append(
                Piece(
                    kind,
                    body,
                    self.number,
                    len(self.pieces),
                    self.rank,
                    self.heading,
                    header,
                    paragraph=paragraph,
                )
            )

    def flush(self) -> None:
        if self.paragraph:
            flat = " ".join(" ".join(self.paragraph).split())
            for sentence in _SENTENCE_END.split(flat):
                self.add("sentence", sentence, paragraph=self.paragraphs)
            self.paragraphs += 1
            self.paragraph.clear()

    def code(self, lines: list[str], i: int) -> int:
        fence = _FENCE.match(lines[i]).group(1)  # type: ignore[union-attr]
        block = [lines[i]]
        i += 1
        while i < len(lines) and not lines[i].lstrip().startswith(fence):
            block.append(lines[i])
            i += 1
        # No closing fence: the passage was clipped inside the block, which is never quoted.
        block.append(lines[i] if i < len(lines) else CLIPPED)
        self.add("code", "\n".join(block))
        return i + 1

    def table(self, lines: list[str], i: int) -> int:
        header = f"{lines[i].strip()}\n{lines[i + 1].strip()}"
        i += 2
        while i < len(lines) and lines[i].lstrip().startswith("|"):
            self.add("row", lines[i], header)
            i += 1
        return i

    def item(self, lines: list[str], i: int) -> int:
        item = [lines[i]]
        while i + 1 < len(lines) and lines[i + 1].startswith((" ", "\t")) and lines[i + 1].strip():
            i += 1
            item.append(lines[i].strip())
        self.add("item", " ".join(item))
        return i + 1


def split_passage(text: str, number: int, rank: int, title: str = "") -> list[Piece]:
    """Cut a passage into sentences, list items, table rows (with their header) and code blocks;
    each knows the heading it is under (at first the passage's title)."""
    splitter = _Splitter(number, rank, title)
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if _FENCE.match(line):
            splitter.flush()
            i = splitter.code(lines, i)
            continue
        if (match := _HEADING.match(line)) is not None:
            splitter.flush()
            splitter.heading = match.group(1)
        elif line.lstrip().startswith("|") and i + 1 < len(lines) and _TABLE_RULE.match(lines[i + 1]):
            splitter.flush()
            i = splitter.table(lines, i)
            continue
        elif _LIST_ITEM.match(line):
            splitter.flush()
            i = splitter.item(lines, i)
            continue
        elif not line.strip():
            splitter.flush()
        else:
            splitter.paragraph.append(line)
        i += 1
    splitter.flush()
    return splitter.pieces


def clip_passage(text: str, limit: int) -> str:
    """`text` cut to at most about `limit` characters at a block boundary (a blank line outside
    code), else after a whole sentence, ending with CLIPPED on a line of its own; never inside
    a sentence or a code block when a boundary exists."""
    if len(text) <= limit:
        return text
    boundary, in_code, position = -1, False, 0
    for line in text.splitlines(keepends=True):
        if position + len(line) > limit:
            break
        if _FENCE.match(line):
            in_code = not in_code
            if not in_code:
                boundary = position + len(line)
        elif not line.strip() and not in_code:
            boundary = position
        position += len(line)
    if boundary <= 0:
        ends = [m.start() for m in _SENTENCE_END.finditer(text[:limit])]
        boundary = ends[-1] if ends else text[:limit].rfind(" ")
    head = text[: max(boundary, 0)].rstrip()
    return f"{head}\n\n{CLIPPED}" if head else CLIPPED


@dataclass
class Quote:
    """One coherent quote: a run of sentences or items of one passage, or a code block (then
    the sentences that explain it) or table rows with the sentence that introduces them
    (`lead`, which carries the marker)."""

    pieces: list[Piece]
    lead: Piece | None = None
    omitted: bool = False  # items of its list were left out (`quotes.trimmed`): a last item "…"

    @property
    def passage(self) -> int:
        return self.pieces[0].passage


def _heading(quote: Quote) -> str:
    """The section a quote comes from, as its heading reads (its last part)."""
    heading = (quote.lead or quote.pieces[0]).heading.split(" › ")[-1].strip()
    return " ".join(heading.split())[:MAX_HEADING_CHARS] or "the documentation"


def _intro(quote: Quote) -> str:
    """The prose line that carries the citation marker of a code block or table."""
    if quote.lead is not None:
        return f"From “{_heading(quote)}”:\n> {quote.lead.text} [{quote.passage}]"
    return f"From “{_heading(quote)}” [{quote.passage}]:"


def render(quotes: list[Quote]) -> str:
    """The quotes as Markdown, each under the name of its section: a prose run is one block
    quote ending with its [n] marker; a code block or table comes after its introducing line,
    which carries the marker."""
    blocks: list[str] = []
    for quote in quotes:
        first = quote.pieces[0]
        if first.kind == "code":  # then the sentences (or annotations: items) that explain it
            after = "\n".join(p.text for p in quote.pieces[1:] if p.kind == "item")
            after = after or " ".join(p.text for p in quote.pieces[1:] if p.prose)
            body = "\n".join("> " + line for line in after.splitlines())
            blocks.append(f"{_intro(quote)}\n\n{first.text}" + (f"\n\n{body}" if after else ""))
        elif first.kind == "row":
            rows = "\n".join(p.text for p in quote.pieces)  # a row stands alone: no marker
            blocks.append(f"{_intro(quote)}\n\n{first.header}\n{rows}")
        else:
            lines = [
                ("- " + _LIST_ITEM.sub("", p.text, count=1)) if p.kind == "item" else p.text
                for p in quote.pieces
            ] + ([f"- {LEFT_OUT}"] if quote.omitted else [])
            joined = "\n".join(lines) if any(p.kind == "item" for p in quote.pieces) else " ".join(lines)
            body = "\n".join("> " + line for line in joined.splitlines())
            blocks.append(f"From “{_heading(quote)}”:\n{body} [{quote.passage}]")
    return "\n\n".join(blocks)
