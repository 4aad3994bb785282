"""The quotes of an offline answer after its first (docsdesk.assistant.answer): at most
MAX_EXTRA_QUOTES more, in this order:

- pieces of the matching passages holding a part of the question the quotes so far do not
  (`further_quotes`);
- the best piece of the search's first passage, when no quote is from it (`top_passage_quote`):
  the search ranked that passage first on evidence the answerer does not see (the rarity of the
  question's words in the whole collection, their meaning, the page), so a lexical match
  elsewhere does not silence it;
- the best piece of each further passage of the first quote's page that holds a word of the
  question the quotes lack (`page_quotes`): a page's opening states its topic, a later section
  of it says how ("Implement `add_feedback` on your server", "Recap"); while the answer is short,
  the first page's best further section even without such a word; none once the answer is long.

None repeats a quoted piece, ends with a sentence opening what it leaves out, or holds a long
code block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from docsdesk.assistant.pieces import Piece, Quote, render
from docsdesk.assistant.quotes import dangles, holds, quote_for, quoted_terms

MAX_EXTRA_QUOTES = 2  # further quotes, each answering another part of the question
MIN_NEW_PART = 0.3  # share of the weight a further quote must add that the others lack
MIN_EXTRA_SCORE = 0.6  # ... and its score, as a share of the first quote's
MAX_FURTHER_CODE_CHARS = 700  # a further quote holds no longer code block
MAX_PAGE_ANSWER_CHARS = 900  # a same-page quote is added only while the answer is shorter
SHORT_ANSWER_CHARS = 500  # ... and the top page's best further section even without a new term
TOP_PASSAGE_SCORE = (
    0.5  # the first passage's best piece, quoted when it scores this share of the first quote's
)


class Passage(Protocol):
    """A retrieved passage as the answerer scores it (docsdesk.assistant.answer._Section)."""

    number: int
    page: str  # the page it is from ("" when not known)
    pieces: list[Piece]


P = TypeVar("P", bound=Passage)


def further_quotes(
    quotes: list[Quote],
    candidates: Sequence[tuple[Piece, Passage]],
    first: Piece,
    weight: dict[str, float],
    total: float,
) -> None:
    """Add to `quotes` the best-scored `candidates` (pieces of the matching passages, best
    first) that hold at least two terms and MIN_NEW_PART of the question's weight the quotes
    so far lack, scoring at least MIN_EXTRA_SCORE of `first`."""
    found = quoted_terms(quotes[0])
    for piece, section in candidates[1:]:
        if len(quotes) > MAX_EXTRA_QUOTES:
            break
        new_terms = [t for t in weight if t in piece.terms and t not in found]
        new = sum(weight[t] for t in new_terms) / total
        if len(new_terms) < 2 or new < MIN_NEW_PART or piece.score < MIN_EXTRA_SCORE * first.score:
            continue
        if any(holds(q, piece) for q in quotes):
            continue
        quote = _whole(piece, section, quotes)
        if quote is not None:
            quotes.append(quote)
            found |= quoted_terms(quote)


def top_passage_quote(quotes: list[Quote], top: P, first_score: float, score: Callable[[P], None]) -> None:
    """Add the best piece of `top` (the search's first passage) when no quote is from it and
    the answer has room, if it scores at least TOP_PASSAGE_SCORE of `first_score` ("pop a
    toast": the passage on client effects names the toast once; another matches "anything" and
    "back"). `score`: scores a passage's pieces when they are not scored yet."""
    if any(q.passage == top.number for q in quotes) or len(quotes) > MAX_EXTRA_QUOTES or not top.pieces:
        return
    score(top)
    quote = _best(top, quotes, TOP_PASSAGE_SCORE * first_score)
    if quote is not None:
        quotes.append(quote)


def page_quotes(
    quotes: list[Quote],
    passages: Sequence[P],
    wanted: set[str],
    score: Callable[[P], None],
    lead: P | None = None,
) -> None:
    """Add the best piece of each further passage (in the search's order) from the page of the
    first quote, while the answer has room and is shorter than MAX_PAGE_ANSWER_CHARS, when it
    holds a term of `wanted` (the question's) that the quotes so far lack. `lead`: the first of
    the first page's further sections (the search's `top_page`, ranked for the whole question
    among that page's sections), quoted without a new term while the answer is shorter than
    SHORT_ANSWER_CHARS: a quote or two that only state the topic, where the page goes on to
    say how ("Turning it off", "With Beanie support")."""
    page = next((p.page for p in passages if p.number == quotes[0].passage), "")
    for passage in passages:
        length = len(render(quotes))
        if len(quotes) > MAX_EXTRA_QUOTES or length >= MAX_PAGE_ANSWER_CHARS:
            break
        if not page or passage.page != page or not passage.pieces:
            continue
        if any(q.passage == passage.number for q in quotes):
            continue
        score(passage)
        short = passage is lead and length < SHORT_ANSWER_CHARS
        quote = _best(passage, quotes, -1.0 if short else 0.0)
        held = set().union(*(quoted_terms(q) for q in quotes))
        if quote is not None and (short or (quoted_terms(quote) & wanted) - held):
            quotes.append(quote)


def _best(passage: Passage, quotes: list[Quote], floor: float) -> Quote | None:
    """The quote around the best piece of `passage` (its pieces scored) when that piece scores
    above `floor`."""
    piece = max(passage.pieces, key=lambda p: (p.score, -p.order))
    if piece.score <= floor or any(holds(q, piece) for q in quotes):
        return None
    return _whole(piece, passage, quotes)


def _whole(piece: Piece, passage: Passage, quotes: list[Quote]) -> Quote | None:
    """The coherent quote around `piece`, unless it ends on what it leaves out, repeats a
    quoted piece or holds a code block longer than MAX_FURTHER_CODE_CHARS (an example that
    long is for the page the citation links to, not for an answer's second or third quote)."""
    quote = quote_for(piece, passage.pieces)
    if dangles(quote, passage.pieces) or any(holds(q, p) for q in quotes for p in quote.pieces):
        return None
    if any(p.kind == "code" and len(p.text) > MAX_FURTHER_CODE_CHARS for p in quote.pieces):
        return None
    return quote
