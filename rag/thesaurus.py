"""A reader's words for the documentation's: query expansion from a generic thesaurus.

Readers describe a problem in their own words ("it waits before trying again", "kick out a
user") where documentation names the concept ("retry", "backoff", "revoke"). Full-text search
cannot match a word the page does not use, and the shipped static embedder is too weak to bridge
most of these. `rag/data/reader_terms.tsv` maps plain phrases to the terms software
documentation usually uses for them; it was written for documentation in general, from general
knowledge, by someone who saw neither the docs sets nor the question sets docsdesk is measured
on (its README says how). `expansion(query)` gives the documentation terms of the reader
phrases the query holds, matched on word stems ("trying again" holds "try again"); the search
adds them to the query's lexemes with a lower weight than the query's own words
(`EXPANSION_WEIGHT`), so a page using the reader's own words still comes first.

A collection's own rows (`rag.reader_terms`, added by its docs team) join this table for the
searches of that collection (`rag.reader_vocabulary`); `expand` does the matching for any table.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Mapping
from importlib.resources import files

from docsdesk.core.terms import stem

EXPANSION_WEIGHT = 0.5  # an expansion lexeme's idf counts this share of a query word's
MAX_EXPANSIONS = 8  # documentation terms added to one query, at most

MAX_PHRASE_WORDS = 3  # the longest reader phrase matched

_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")


def phrase_stems(text: str) -> tuple[str, ...]:
    """The word stems of `text`, as phrases and queries are matched on."""
    return tuple(stem(w) for w in _WORD.findall(text.lower()))


def split_terms(docs: str) -> tuple[str, ...]:
    """The documentation terms of a thesaurus row's `docs` column (comma-separated)."""
    return tuple(t.strip() for t in docs.split(",") if t.strip())


@functools.cache
def generic_table() -> dict[tuple[str, ...], tuple[str, ...]]:
    """The shipped table, {the stems of a reader phrase: the documentation terms} (shared: not
    to be changed)."""
    table: dict[tuple[str, ...], tuple[str, ...]] = {}
    source = files("rag.data").joinpath("reader_terms.tsv").read_text(encoding="utf-8")
    for row in csv.DictReader(source.splitlines(), delimiter="\t"):
        phrase, docs = phrase_stems(row["reader"]), split_terms(row["docs"])
        if phrase and docs:
            table[phrase] = table.get(phrase, ()) + docs
    return table


@functools.lru_cache(maxsize=4096)
def expansion(query: str) -> tuple[str, ...]:
    """The documentation terms for the reader phrases in `query`, longest phrases first, without
    terms the query already uses; at most MAX_EXPANSIONS."""
    return expand(generic_table(), query)


def phrase_words(phrases: frozenset[tuple[str, ...]], query: str) -> frozenset[str]:
    """The stems of the words of `query` that are part of one of `phrases` (reader phrases'
    stems) where it occurs in the query."""
    words = phrase_stems(query)
    return frozenset(
        word
        for size in range(MAX_PHRASE_WORDS, 0, -1)
        for start in range(len(words) - size + 1)
        if words[start : start + size] in phrases
        for word in words[start : start + size]
    )


def expand(table: Mapping[tuple[str, ...], tuple[str, ...]], query: str) -> tuple[str, ...]:
    """`expansion` with the table `table` ({the stems of a reader phrase: the documentation terms})."""
    words = phrase_stems(query)
    held = set(words)
    found: list[str] = []
    for size in range(MAX_PHRASE_WORDS, 0, -1):
        for start in range(len(words) - size + 1):
            for term in table.get(words[start : start + size], ()):
                if term not in found and not set(phrase_stems(term)) <= held:
                    found.append(term)
    return tuple(found[:MAX_EXPANSIONS])
