"""Coherent quotes around the piece of a passage that answers best (docsdesk.assistant.answer).

A piece alone may not stand: a code block or a table needs the sentence that introduces it, a
list item the sentence that opens its list, a sentence that starts with "This" or "They" the
one it refers back to. `quote_for` widens the chosen piece to that whole, and never across a
heading: a sentence right before a code block or table (it ends its paragraph) introduces it;
a short list is quoted whole under its opening sentence, a long one gives that sentence and
the chosen item; a short table is quoted whole, a long one gives the chosen row under its
header. `trimmed` then leaves out the bullet items and rows that hold none of the question's
words.
"""

from __future__ import annotations

import re

from docsdesk.assistant.pieces import Piece, Quote
from docsdesk.assistant.words import terms

LEAD_WINDOW = 3  # sentences before a code block or table that may introduce it
MAX_LIST_ITEMS = 8  # a list of at most this many items is quoted whole
MAX_LIST_CHARS = 900  # ... when its items hold at most this many characters
MAX_TABLE_ROWS = 8  # rows of a table quoted with the sentence that introduces it
MAX_WHOLE_TABLE_ROWS = 4  # a table of at most this many rows is quoted whole
MAX_PARAGRAPH_CHARS = 400  # a paragraph this short is quoted whole around its best sentence
SHORT_QUOTE_CHARS = 250  # a quote this short goes on into the next sentence of its section
# A sentence that goes on from the one before: a pronoun ("This", "They") or a connective
# ("Indeed", "However", "In that case") whose antecedent is that sentence.
_REFERS_BACK = re.compile(
    r"^(?:This|That|These|Those|It|Its|They|Their|Such|Both"
    r"|Indeed|However|Instead|Otherwise|Therefore|Thus|Hence|So|But|Also|In (?:that|this|such a) case)\b"
)
# What a guide's table of contents says: "This guide covers:", "In this page you'll learn", or a
# heading sending the reader elsewhere ("Where to go next", "Next steps", "See also").
_CONTENTS_INTRO = re.compile(
    r"\b(?:this|the following) (?:guide|page|section|tutorial|chapter|document)s? (?:covers|shows|walks)"
    r"|\byou(?:'ll| will) learn\b",
    re.IGNORECASE,
)
_ELSEWHERE_HEADING = re.compile(
    r"^(?:where to go next|next steps?|next:|what's next|see also|learn more|further reading|related\b)",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?][*_`)\"'”’]*$")  # a whole sentence, not a label ("**Arguments**")
_NUMBERED = re.compile(r"^\s*\d{1,3}[.)]\s")  # an item of a numbered list: a step
_INLINE_NAME = re.compile(r"`([A-Za-z_][\w.]*[\w])")


def _neighbour(pieces: list[Piece], index: int, step: int) -> Piece | None:
    """The piece next to `index` (step 1 after, -1 before) under the same heading, or None."""
    other = index + step
    if 0 <= other < len(pieces) and pieces[other].heading == pieces[index].heading:
        return pieces[other]
    return None


def lead_of(pieces: list[Piece], index: int) -> Piece | None:
    """The sentence that introduces the block at `index`: of the prose right before it under
    the same heading (at most LEAD_WINDOW pieces), one ending with ':', else the one sharing
    most words with the block, then matching the question best, then the nearest."""
    block = pieces[index]
    before: list[Piece] = []
    for piece in reversed(pieces[max(0, index - LEAD_WINDOW) : index]):
        if not piece.prose or piece.heading != block.heading:
            break
        before.append(piece)
    if not before:
        return None
    colon = next((p for p in before if p.text.endswith(":")), None)
    block_terms = block.terms or terms(block.text)
    return colon or max(before, key=lambda p: (len(p.terms & block_terms), p.score, -before.index(p)))


def _rows(pieces: list[Piece], first: int, limit: int = MAX_TABLE_ROWS) -> list[Piece]:
    """The rows of the table whose first row is at `first` (at most `limit`)."""
    header = pieces[first].header
    rows: list[Piece] = []
    for piece in pieces[first:]:
        if piece.kind != "row" or piece.header != header or len(rows) >= limit:
            break
        rows.append(piece)
    return rows


def _row_quote(pieces: list[Piece], index: int) -> Quote:
    """The row at `index` under the sentences before its table; a short table (at most
    MAX_WHOLE_TABLE_ROWS rows) whole, as a short list is: a reader asking which of a few
    options fits, or what the difference is, needs the rows side by side."""
    piece = pieces[index]
    first = next(i for i, p in enumerate(pieces) if p.kind == "row" and p.header == piece.header)
    rows = _rows(pieces, first, MAX_WHOLE_TABLE_ROWS + 1)
    whole = len(rows) <= MAX_WHOLE_TABLE_ROWS and sum(len(p.text) for p in rows) <= MAX_LIST_CHARS
    return Quote(rows if whole else [piece], lead_of(pieces, first))


def _list_quote(pieces: list[Piece], index: int) -> Quote:
    """The list around the item at `index` under the sentence that opens it: whole when it is
    short, else that sentence and the item. A numbered list right after a code block annotates
    it ("1. This is the `db` instance we defined above"): it comes after that block."""
    start = end = index
    while (before := _neighbour(pieces, start, -1)) is not None and before.kind == "item":
        start -= 1
    while (after := _neighbour(pieces, end, 1)) is not None and after.kind == "item":
        end += 1
    opening = _neighbour(pieces, start, -1)
    intro = [opening] if opening is not None and opening.kind == "sentence" else []
    items = pieces[start : end + 1]
    if len(items) > MAX_LIST_ITEMS or sum(len(p.text) for p in items) > MAX_LIST_CHARS:
        items = [pieces[index]]
    if opening is not None and opening.kind == "code" and _NUMBERED.match(pieces[start].text):
        return Quote([opening, *items], lead_of(pieces, start - 1))  # the block's annotations
    return Quote([*intro, *items])


def _sentence_quote(pieces: list[Piece], index: int) -> Quote:
    """A sentence with what it introduces (the code block, table or list right after it), or
    with the rest of its short paragraph, or with the sentence or code block it refers back to;
    prose that ends with ':' comes with the list it opens."""
    piece = pieces[index]
    after = _neighbour(pieces, index, 1)
    if after is not None and after.kind == "code":
        return Quote([after], piece)
    if after is not None and after.kind == "row":
        return Quote(_rows(pieces, index + 1), piece)
    if after is not None and after.kind == "item" and piece.text.endswith(":"):
        return _list_quote(pieces, index + 1)
    before = _neighbour(pieces, index, -1)
    if before is not None and _REFERS_BACK.match(piece.text) and before.kind == "code":
        return Quote([before, piece], lead_of(pieces, index - 1))
    prose = _paragraph(pieces, piece)
    if prose is None and before is not None and _REFERS_BACK.match(piece.text) and before.kind == "sentence":
        prose = [before, piece]
    if prose is None and after is not None and after.kind == "sentence" and _REFERS_BACK.match(after.text):
        prose = [piece, after]  # the sentence that goes on about it
    return _with_list(prose or [piece], pieces)


def _with_list(prose: list[Piece], pieces: list[Piece]) -> Quote:
    """`prose` as a quote, with the list its last sentence opens (ending with ':') if any."""
    last = pieces.index(prose[-1])
    following = _neighbour(pieces, last, 1)
    if following is not None and following.kind == "item" and prose[-1].text.endswith(":"):
        return Quote(prose[:-1] + _list_quote(pieces, last + 1).pieces)
    return Quote(prose)


def _paragraph(pieces: list[Piece], piece: Piece) -> list[Piece] | None:
    """`piece` and the sentences after it in its paragraph, while they fit in MAX_PARAGRAPH_CHARS
    (with the sentence before it when it refers back): the statement of a problem and its way
    out are often consecutive sentences of one paragraph. None when that adds nothing."""
    if piece.paragraph < 0:
        return None
    paragraph = [p for p in pieces if p.kind == "sentence" and p.paragraph == piece.paragraph]
    at = paragraph.index(piece)
    start = at - 1 if at > 0 and _REFERS_BACK.match(piece.text) else at
    chosen = paragraph[start : at + 1]
    size = sum(len(p.text) + 1 for p in chosen)
    for later in paragraph[at + 1 :]:
        if size + len(later.text) > MAX_PARAGRAPH_CHARS or _opens_unquoted(pieces, later):
            break
        chosen.append(later)
        size += len(later.text) + 1
    return chosen if len(chosen) > 1 else None


def _opens_unquoted(pieces: list[Piece], piece: Piece) -> bool:
    """Whether `piece` ends with ':' and what it opens is not a list (which `_with_list`
    quotes with it): a code block, a table or nothing at all (cut off the passage)."""
    if not piece.text.endswith(":"):
        return False
    after = _neighbour(pieces, pieces.index(piece), 1)
    return after is None or after.kind != "item"


def dangles(quote: Quote, pieces: list[Piece]) -> bool:
    """Whether `quote` ends with a sentence that opens something (ending with ':') the quote
    does not hold: a code block or list the passage does not have (it was cut), or a further
    sentence."""
    last = quote.pieces[-1]
    if not last.prose or not last.text.endswith(":"):
        return False
    after = _neighbour(pieces, pieces.index(last), 1)
    return after is None or after.kind == "sentence"


def quote_for(piece: Piece, pieces: list[Piece]) -> Quote:
    """The coherent quote around `piece` of `pieces` (its passage's pieces, in order)."""
    index = pieces.index(piece)
    if piece.kind == "code":
        explained = _neighbour(pieces, index, 1)
        tail = [explained] if explained is not None and _REFERS_BACK.match(explained.text) else []
        return Quote([piece, *tail], lead_of(pieces, index))
    if piece.kind == "row":  # the sentences before the table, not the rows before
        return _row_quote(pieces, index)
    if piece.kind == "item":
        return _list_quote(pieces, index)
    return with_example(_sentence_quote(pieces, index), pieces, piece)


def with_example(quote: Quote, pieces: list[Piece], piece: Piece | None = None) -> Quote:
    """A sentence naming a function or setting (`report.annotate(...)`) introduces the code
    block after it, under the same heading, that uses that name: quoted together. `piece`:
    the sentence the quote was built around (its first piece when not given); the quote is
    prose only, that sentence or the paragraph around it."""
    piece = piece or quote.pieces[0]
    if quote.lead is not None or not piece.prose or any(not p.prose for p in quote.pieces):
        return quote
    names = {name for name in _INLINE_NAME.findall(piece.text) if len(name) >= 4}
    for later in pieces[pieces.index(piece) + 1 :]:
        if later.heading != piece.heading:
            break
        if later.kind == "code" and any(name in later.text for name in names):
            return Quote([later], piece)
    return quote


def trimmed(quote: Quote, wanted: set[str]) -> Quote:
    """`quote` without the items of its bullet list, or the rows of its table, that hold none
    of `wanted` (the question's terms) when others do: a short list or table is quoted whole
    for the items that answer, and the rest only lengthens the answer. The quote says that it
    left some out (`Quote.omitted`: a list ends with an item "…"; a table's rows are records
    that stand alone, as a single quoted row always did). The steps of a numbered list stay
    whole."""
    parts = [p for p in quote.pieces if p.kind in ("item", "row")]
    if len(parts) < 2 or any(p.kind == "item" and _NUMBERED.match(p.text) for p in parts):
        return quote
    left_out = {id(p) for p in parts if not (p.terms or terms(p.text)) & wanted}
    if not left_out or len(left_out) == len(parts):
        return quote
    return Quote([p for p in quote.pieces if id(p) not in left_out], quote.lead, omitted=True)


def quoted_terms(quote: Quote) -> set[str]:
    """The terms a quote's own words hold (its heading does not answer anything)."""
    found: set[str] = set()
    for piece in [*quote.pieces, *([quote.lead] if quote.lead else [])]:
        found |= piece.terms
    return found


def holds(quote: Quote, piece: Piece) -> bool:
    return piece in quote.pieces or piece is quote.lead


def continued(quote: Quote, pieces: list[Piece], wanted: set[str]) -> Quote:
    """A prose quote with the sentences right after it under the same heading (the next short
    paragraph) while each holds a word of the question the quote does not yet hold ("make sure
    all of your production hostnames are registered" after the sentence about the domain key);
    a quote shorter than SHORT_QUOTE_CHARS (a sentence stating the topic) also goes on into the
    next whole sentence, which says what to do about it ("You declare one by putting ...")."""
    if quote.lead is not None or any(p.kind != "sentence" for p in quote.pieces):
        return quote
    found = set().union(*(p.terms or terms(p.text) for p in quote.pieces))
    chosen = list(quote.pieces)
    size = sum(len(p.text) + 1 for p in chosen)
    while (after := _neighbour(pieces, pieces.index(chosen[-1]), 1)) is not None:
        new = ((after.terms or terms(after.text)) & wanted) - found
        if after.kind == "sentence" and after.text.endswith(":"):
            chosen += _opened_list(after, pieces, wanted - found, size)  # "Two common fixes:", its list
            break
        if after.kind != "sentence" or after.text.endswith(":"):
            break  # a sentence ending with ':' opens what comes next: not without it
        if not new and (size >= SHORT_QUOTE_CHARS or not _SENTENCE_END.search(after.text)):
            break  # nothing more of the question, and the quote says enough (or a label follows)
        if size + len(after.text) > MAX_PARAGRAPH_CHARS:
            break
        chosen.append(after)
        found |= new
        size += len(after.text) + 1
    return Quote(chosen) if len(chosen) > len(quote.pieces) else quote


def _opened_list(opening: Piece, pieces: list[Piece], wanted: set[str], size: int) -> list[Piece]:
    """`opening` (a sentence ending with ':') with the short list it opens, to go on a quote of
    `size` characters, when they hold some of `wanted` (the question's terms the quote lacks);
    else nothing."""
    opened = _with_list([opening], pieces).pieces
    held = set().union(*(p.terms or terms(p.text) for p in opened))
    if len(opened) < 2 or not held & wanted:
        return []
    return (
        opened if size + sum(len(p.text) + 1 for p in opened) <= MAX_PARAGRAPH_CHARS + MAX_LIST_CHARS else []
    )


def pointers(pieces: list[Piece]) -> set[int]:
    """The positions of the pieces of `pieces` that point elsewhere rather than answer: a list
    under a heading sending the reader on ("Where to go next", "See also"), or a list whose
    opening sentence announces what the guide covers ("This guide covers:"), with that sentence.
    Such an item names the topic in few words, as an overview does; the section it names holds
    the answer."""
    found: set[int] = set()
    for index, piece in enumerate(pieces):
        heading = piece.heading.split(" › ")[-1].strip()
        if piece.kind == "item" and _ELSEWHERE_HEADING.match(heading):
            found.add(index)
        elif piece.kind == "sentence" and _CONTENTS_INTRO.search(piece.text):
            after = index + 1
            while (
                after < len(pieces)
                and pieces[after].kind == "item"
                and pieces[after].heading == piece.heading
            ):
                found.add(after)
                after += 1
            if after > index + 1:
                found.add(index)
    return found
