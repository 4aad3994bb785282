"""The extractive answer of the offline model: from the top passages of a search, quote the
sentences, list items, table rows (under their header) or whole code block that best match
the question, each with its [n] citation; or say plainly that the docs do not seem to cover
the question, citing nothing: when nothing in the passages holds enough of the question, or
when words the documentation never uses (the search's "not_in_docs") hold much of it.

Scoring is lexical and local to the passages: the question's content words (question words
and stop words dropped, light stemming, identifier parts) weigh by how rare they are among
the passages' pieces, so the piece holding the distinctive words of the question wins. A
question whose distinctive words appear nowhere in the passages is "not covered", and so is
one naming a product or service that no page mentions (`words.names_a_product`), unless it is
offered as an alternative to something the docs use ("an image or a PDF"). The parts of a word
no page uses that a retrieved passage holds ("app" of "app.ourcompany.com") are no evidence,
and a phrasal verb the passages write as one word ("logs out", `logout`) counts as that word.
Of the best-scored pieces, the one whose whole quote (with its paragraph, the list it opens, the
sentence introducing it) holds most of the question is quoted first, going on into the next
sentences of its section that hold more of the question, or into the next whole sentence while
it is short, or into the list a following sentence opens ("Two common fixes:") when that holds
more of the question (`quotes.continued`); the quotes after it are `docsdesk.assistant.further`'s.
A list pointing elsewhere ("This guide covers:", "Where to go next") counts less than the
section it names. Pure Python on a few kilobytes: well under a millisecond a passage.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from docsdesk.assistant.further import MAX_EXTRA_QUOTES, further_quotes, page_quotes, top_passage_quote
from docsdesk.assistant.pieces import Piece, Quote, render, split_passage
from docsdesk.assistant.quotes import continued, dangles, pointers, quote_for, quoted_terms, trimmed
from docsdesk.assistant.refusal import asked_figure, none_states
from docsdesk.assistant.words import (
    STOP_WORDS,
    alternatives,
    camel_parts,
    identifier_kinds,
    named_terms,
    names_a_product,
    question_terms,
    readers_own,
    terms,
)
from docsdesk.core.terms import QUESTION_WORDS, stem
from docsdesk.core.turn import NotCoveredReason

MAX_UNKNOWN_SHARE = 0.4  # words no page uses holding this share of the question: not covered
MIN_UNKNOWN_TERMS = 2  # ... when there are at least this many of them (or half the question)
MIN_SECTION_MATCH = 0.25  # share of the question's weight the best section must hold to answer
RELATIVE_SECTION_MATCH = 0.6  # sections quoted from match at least this share of the best one
FIRST_QUOTE_CHOICES = 6  # best-scored pieces whose whole quotes compete for the first quote
FIRST_QUOTE_MARGIN = 0.7  # ... when their score is at least this share of the best one's
HELD_WEIGHT = 0.5  # how much what the whole quote holds counts, besides the piece's own score
DANGLING = 0.5  # ... times this for a quote ending with ':' and without what it opens
POINTER = 0.6  # a piece of a list pointing elsewhere ("This guide covers:") scores this share


Outcome = Literal["answered", "not_covered"]


@dataclass(frozen=True)
class OfflineAnswer:
    """What the offline answerer decided, as a value: answered (with its quotes, rendered, and
    the passage numbers they cite) or not covered (citing nothing), and why."""

    outcome: Outcome
    text: str = ""  # the quotes as Markdown, each with its [n] marker
    cited: tuple[int, ...] = ()  # passage numbers quoted, in order
    reason: NotCoveredReason | None = None  # not covered: why (the turn records it)
    absent: tuple[str, ...] = ()  # the question's words the documentation never uses

    @property
    def covered(self) -> bool:
        return self.outcome == "answered"

    @classmethod
    def not_covered(cls, reason: NotCoveredReason, absent: Sequence[str] = ()) -> OfflineAnswer:
        return cls("not_covered", reason=reason, absent=tuple(absent))


@dataclass
class _Section:
    """A passage as a whole: its terms with those of its title and heading path."""

    number: int
    rank: int
    title_terms: set[str]
    terms: set[str]
    pieces: list[Piece]
    match: float = 0.0
    page: str = ""  # the page the passage is from ("" when not known)


def _absent_terms(
    question: str, wanted: set[str], unknown: Sequence[str], sections: list[_Section]
) -> set[str]:
    """The question's terms that come from words no page uses (the search's "not_in_docs"),
    but for the reader's own names, versions and numbers (`readers_own`), and for the parts of
    such a word that a retrieved passage holds ("app" of "app.ourcompany.com"): the docs use them."""
    own = {t for word in unknown if readers_own(question, word) for t in question_terms(word)}
    held = set().union(*(s.terms for s in sections)) if sections else set()
    return wanted & {t for word in unknown for t in question_terms(word)} - own - held


def _known_alternative(question: str, word: str, unknown: Sequence[str]) -> bool:
    """Whether the question offers `word` as one of alternatives ("an image or a PDF") of which
    the docs use another: the reader asks about what the docs cover, the name is no evidence."""
    missing = {w.casefold() for w in unknown}
    return any(other.casefold() not in missing for other in alternatives(question, word))


def _refused_for_absent_terms(wanted: set[str], absent: set[str]) -> bool:
    """Positive evidence of a topic the docs lack: words no page uses hold much of the question.
    One such word among several is likely the reader's own name for something (their app)."""
    if not wanted or not absent:
        return False
    share = len(absent) / len(wanted)
    return share >= 0.5 or (len(absent) >= MIN_UNKNOWN_TERMS and share >= MAX_UNKNOWN_SHARE)


def _sections(passages: list[tuple[int, str, str]], start: int = 0) -> list[_Section]:
    """The passages as sections, ranked from `start`."""
    sections = []
    for rank, (number, title, text) in enumerate(passages, start):
        pieces = [p for p in split_passage(text, number, rank, title) if not p.clipped]
        for piece in pieces:
            piece.terms = terms(piece.text)
        title_terms = terms(title)
        headings = set().union(*(terms(p.heading + "\n" + p.header) for p in pieces)) if pieces else set()
        body = set().union(*(p.terms for p in pieces)) if pieces else set()
        sections.append(_Section(number, rank, title_terms, title_terms | headings | body, pieces))
    return sections


_LETTERS = re.compile(r"[A-Za-z]+")


def compounds(question: str, sections: list[_Section]) -> set[str]:
    """A phrasal verb of the question that the passages write as one word ("logs out" for
    "logout", "signs up" for "signup", "set up" for "setup"): a word and the particle after it
    (a stop word, which counts for nothing alone), joined, when a retrieved passage writes it."""
    words = _LETTERS.findall(question)
    joined = {
        stem(stem(a) + b.lower())
        for a, b in itertools.pairwise(words)
        if b.lower() in STOP_WORDS and a.lower() not in STOP_WORDS and a.lower() not in QUESTION_WORDS
    }
    if not joined:
        return set()
    written = {stem(w) for s in sections for p in s.pieces for w in _LETTERS.findall(p.text)}
    return joined & written


def _weights(wanted: set[str], sections: list[_Section]) -> dict[str, float]:
    """Rarer among the sections weighs more. A term in no retrieved section (the docs use it,
    the search found it nowhere near the question's other words) weighs as the commonest:
    the filler of a long question must not make it "not covered"."""
    n = len(sections)
    df = {t: sum(t in s.terms for s in sections) for t in wanted}
    weight = {t: math.log(1 + (n + 1) / (df[t] + 0.5)) for t in wanted if df[t]}
    floor = min(weight.values(), default=1.0)
    return {t: weight.get(t, floor) for t in wanted}


def _score_pieces(section: _Section, weight: dict[str, float], total: float) -> None:
    """A piece's share of the question's weight: its own words fully, its heading's and the
    section title's words half (the words the reader used are often in the heading). A piece of
    a list pointing elsewhere ("This guide covers:", "Where to go next") counts less: the section
    it names holds the answer."""
    elsewhere = pointers(section.pieces)
    for index, piece in enumerate(section.pieces):
        context = section.title_terms | terms(piece.heading + "\n" + piece.header)
        own = sum(w for t, w in weight.items() if t in piece.terms)
        around = sum(w for t, w in weight.items() if t in context and t not in piece.terms)
        piece.score = (own + 0.5 * around) / total * (1.0 - 0.03 * min(piece.order, 10))
        if piece.kind == "code":
            piece.score *= 0.8  # code matches on identifiers and comments easily; prose explains
        if index in elsewhere:
            piece.score *= POINTER


def extract_answer(
    question: str,
    passages: list[tuple[int, str, str]],
    unknown: Sequence[str] = (),
    pages: Sequence[str] = (),
    more: Sequence[tuple[int, str, str]] = (),
) -> OfflineAnswer:
    """The quoted answer to `question` from `passages` ((citation number, title with heading
    path, text), best first); `unknown`: the question's words that the documentation never uses;
    `pages`: the page each passage is from (its URL without the fragment), when known; `more`:
    further sections of the first passage's page (the search's `top_page`), best first.

    Not covered only on evidence: no passages, words no page uses holding much of the question,
    no passage (with its title and headings) holding enough of the question's weight, or a figure
    asked that no passage states (`refusal.asked_figure`, `refusal.none_states`)."""
    if not passages:
        return OfflineAnswer.not_covered(NotCoveredReason.NO_RESULTS)
    sections = _sections(passages)
    for section, page in zip(sections, pages, strict=False):
        section.page = page
    wanted = question_terms(question) | compounds(question, sections)
    absent = _absent_terms(question, wanted, unknown, sections)
    if _refused_for_absent_terms(wanted, absent):
        return OfflineAnswer.not_covered(
            NotCoveredReason.ABSENT_TERMS, [w for w in unknown if question_terms(w) & absent]
        )
    camel = any(camel_parts(w) for w in unknown)  # the passages' identifiers, only when they matter
    kinds = identifier_kinds("\n".join(text for _, _, text in passages)) if camel else frozenset()
    products = [
        w
        for w in unknown
        if names_a_product(question, w, kinds)
        and question_terms(w) & absent
        and not _known_alternative(question, w, unknown)
    ]
    if products:  # the question names a product or service no page mentions
        return OfflineAnswer.not_covered(NotCoveredReason.UNKNOWN_PRODUCT, products)
    wanted = (wanted - absent) or wanted
    weight = _weights(wanted, sections)
    total = sum(weight.values()) or 1.0
    for section in sections:
        section.match = sum(w for t, w in weight.items() if t in section.terms) / total
    best = max(sections, key=lambda s: (s.match * (1.0 - 0.1 * s.rank), -s.rank))
    if best.match < MIN_SECTION_MATCH:  # a section naming what the question names matches
        named = named_terms(question)
        best = next((s for s in sections if named & s.terms and s.pieces), best)
        best.match = max(best.match, MIN_SECTION_MATCH if named & best.terms else 0.0)
    if best.match < MIN_SECTION_MATCH or not best.pieces:
        return OfflineAnswer.not_covered(NotCoveredReason.NO_MATCHING_SECTION)
    figure = asked_figure(question)
    if figure and none_states(figure, [p for s in [*sections, *_sections(list(more))] for p in s.pieces]):
        return OfflineAnswer.not_covered(NotCoveredReason.UNSTATED_FIGURE)  # asked for a figure none states
    return _answer_from(best, sections, weight, total, more)


def _answer_from(
    best: _Section,
    sections: list[_Section],
    weight: dict[str, float],
    total: float,
    more: Sequence[tuple[int, str, str]] = (),
) -> OfflineAnswer:
    """The best piece of the matching sections as one quote, and at most MAX_EXTRA_QUOTES more:
    pieces holding a part of the question the quotes so far do not, the search's first passage
    when no quote is from it, further passages of the first quote's page (with `more`, the first
    passage's page's further sections, after the passages). A section matching
    only by its heading is quoted from its opening."""
    matching = [s for s in sections if s.match >= max(MIN_SECTION_MATCH, RELATIVE_SECTION_MATCH * best.match)]
    candidates: list[tuple[Piece, _Section]] = []
    for section in matching:
        _score_pieces(section, weight, total)
        for piece in section.pieces:
            piece.score *= 1.0 - 0.05 * section.rank  # the search's order counts too
            candidates.append((piece, section))
    candidates.sort(key=lambda ps: (-ps[0].score, ps[0].rank, ps[0].order))
    first, section = candidates[0]
    if not first.terms & set(weight):  # the question's words are in the heading: its opening
        section = best
        first = next((p for p in best.pieces if p.prose), best.pieces[0])
        quotes = [quote_for(first, section.pieces)]
    else:
        first, quotes = _first_quote(candidates, weight, total)
    quotes[0] = continued(quotes[0], next(s for p, s in candidates if p is first).pieces, set(weight))
    further_quotes(quotes, candidates, first, weight, total)

    def score(section: _Section) -> None:  # a section not among the matching ones, when quoted
        if section not in matching:
            _score_pieces(section, weight, total)

    top_passage_quote(quotes, sections[0], first.score, score)
    extra = _more_sections(more, sections, quotes)
    page_quotes(quotes, [*sections, *extra], set(weight), score, extra[0] if extra else None)
    quotes = [trimmed(quote, set(weight)) for quote in quotes]
    cited = tuple(dict.fromkeys(q.passage for q in quotes))
    return OfflineAnswer("answered", render(quotes), cited)


def _more_sections(
    more: Sequence[tuple[int, str, str]], sections: list[_Section], quotes: list[Quote]
) -> list[_Section]:
    """The first passage's page's further sections (`more`: the search's `top_page`), ranked
    after the passages, when `page_quotes` may quote them: the first quote is from that page
    and the answer has room (they are split into pieces only then). They take no part in the
    choice of the first quote nor in the question's weights: quoted first, another section of
    the top page crowds out the passage the search ranked for the whole question."""
    page = sections[0].page
    first = next((s.page for s in sections if s.number == quotes[0].passage), "")
    if not more or not page or first != page or len(quotes) > MAX_EXTRA_QUOTES:
        return []
    extra = _sections(list(more), start=len(sections))
    for section in extra:
        section.page = page
    return extra


def _first_quote(
    candidates: list[tuple[Piece, _Section]], weight: dict[str, float], total: float
) -> tuple[Piece, list[Quote]]:
    """Of the best-scored pieces (within FIRST_QUOTE_MARGIN of the best), the one whose whole
    quote (`quote_for`: with the sentence introducing it, its list, its paragraph) holds most
    of the question's weight: the item of a list that answers with the list around it beats a
    lone sentence that only names the topic."""
    top = candidates[0][0].score
    best: tuple[float, Piece, Quote] | None = None
    for piece, section in candidates[:FIRST_QUOTE_CHOICES]:
        if piece.score < FIRST_QUOTE_MARGIN * top:
            break
        quote = quote_for(piece, section.pieces)
        held = sum(w for t, w in weight.items() if t in quoted_terms(quote)) / total
        value = (HELD_WEIGHT * held + piece.score) * (DANGLING if dangles(quote, section.pieces) else 1.0)
        if best is None or value > best[0]:
            best = (value, piece, quote)
    assert best is not None
    return best[1], [best[2]]


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
    words = {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z0-9]*", question)}
    content = {stem(w) for w in words if w not in QUESTION_WORDS and w not in STOP_WORDS and len(w) > 1}
    return not content - {stem(w) for w in PAGE_WORDS}


def page_lead(passage: tuple[int, str, str], sentences: int = 2) -> OfflineAnswer:
    """What the reader's page says first: the opening sentences (or items) of `passage` (its
    number, title and text), quoted with its citation."""
    number, title, text = passage
    lead = [p for p in split_passage(text, number, 0, title) if p.prose and not p.clipped][:sentences]
    if not lead:
        return OfflineAnswer.not_covered(NotCoveredReason.NO_MATCHING_SECTION)
    return OfflineAnswer("answered", render([Quote(lead)]), (number,))
