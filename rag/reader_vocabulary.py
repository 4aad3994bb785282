"""The thesaurus of a search's scope: the generic table (`rag.thesaurus`) joined by the reader
terms of the collections searched (`rag.reader_terms`), cached per process and kept current
without an extra round trip per search.

A collection row replaces the generic row of the same phrase (same word stems); a tenant's row
replaces the collection-wide one for that tenant's readers. Several collections searched
together pool their rows (a phrase two of them map gets both sets of terms).

Currency: every change of a (tenant, collection)'s rows bumps its version (migration 0017).
The statement that counts the query's lexemes (`rag.search`) also reads the sums of the
versions in scope (`version_columns`), for the collection-wide rows and for the tenant's. When
they differ from those of the cached vocabulary, its rows are read again (one statement, rows
and versions together) and, only if the query's expansion changed, the count statement runs
again. So a change is seen by every server process on its next search of that scope, a scope
without rows never reads any, and an unchanged scope costs two index probes of a small table
inside a statement that runs anyway.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection

from rag import thesaurus

if TYPE_CHECKING:
    from rag.search import SearchQuery

MAX_SCOPES = 256  # vocabularies cached per process (least recently used go first)
Versions = tuple[int, int]  # (collection-wide rows, the tenant's rows): sums of versions in scope


def version_columns(query: SearchQuery) -> str:
    """Two select-list columns, `shared_terms` and `own_terms`: the version sums of the
    scope's collection-wide and tenant rows (binds: the query's `collections`, `tenant`)."""
    scope = query.scope("tv.collection")
    total = "(SELECT coalesce(sum(tv.version), 0)::bigint FROM docs_reader_term_versions tv WHERE"
    return (
        f"{total} tv.tenant = '' {scope}) AS shared_terms,"
        f" {total} tv.tenant = :tenant AND :tenant <> '' {scope}) AS own_terms"
    )


class Vocabulary:
    """A table and the versions of the rows it was built from; its expansions are cached.
    `own` are the reader phrases of the scope's own rows (the docs team's, not the generic
    table's)."""

    def __init__(
        self,
        table: Mapping[tuple[str, ...], tuple[str, ...]] | None,
        versions: Versions,
        own: frozenset[tuple[str, ...]] = frozenset(),
    ) -> None:
        self.versions = versions
        self.table = table
        self.own = own
        self._expansion = functools.lru_cache(maxsize=1024)(functools.partial(thesaurus.expand, table or {}))

    def expansion(self, query: str) -> tuple[str, ...]:
        """The documentation terms for `query` (`rag.thesaurus.expand`)."""
        return thesaurus.expansion(query) if self.table is None else self._expansion(query)

    def taught(self, query: str) -> frozenset[str]:
        """The stems of the words of `query` that the scope's own rows map to documentation
        terms: the docs team says the docs cover them, in other words."""
        return thesaurus.phrase_words(self.own, query) if self.own else frozenset()


GENERIC = Vocabulary(None, (0, 0))  # the generic table alone: a scope with no rows of its own


def merged(rows: Iterable[tuple[str, str, Sequence[str]]]) -> dict[tuple[str, ...], tuple[str, ...]]:
    """The generic table with `rows` (tenant, reader, docs) over it: a collection-wide row
    replaces the generic one, a tenant's row the collection-wide one."""
    layers: tuple[dict[tuple[str, ...], list[str]], ...] = ({}, {})
    for tenant, reader, docs in rows:
        layers[bool(tenant)].setdefault(thesaurus.phrase_stems(reader), []).extend(docs)
    table = dict(thesaurus.generic_table())
    for layer in layers:
        table.update({phrase: tuple(dict.fromkeys(terms)) for phrase, terms in layer.items()})
    return table


class Vocabularies:
    """Per process (one `DocsSearch`): the vocabulary of each scope searched, keyed by the
    collections and, for a tenant with rows of its own, the tenant."""

    def __init__(self, max_scopes: int = MAX_SCOPES) -> None:
        self._cached: OrderedDict[tuple[str, tuple[str, ...] | None], Vocabulary] = OrderedDict()
        self.max_scopes = max_scopes

    def current(self, query: SearchQuery) -> Vocabulary:
        """The cached vocabulary of the query's scope (the generic one before any was read)."""
        keys = ((query.tenant, query.collections),) if query.tenant else ()
        for key in (*keys, ("", query.collections)):
            if (found := self._cached.get(key)) is not None:
                self._cached.move_to_end(key)
                return found
        return GENERIC

    async def refreshed(self, conn: AsyncConnection, query: SearchQuery, versions: Versions) -> Vocabulary:
        """The scope's vocabulary as of `versions` (read by the search's statement): the cached
        one when they match, else read again (with the versions it was read at)."""
        cached = self.current(query)
        if cached.versions == versions:
            return cached
        statement = query.statement(
            f"SELECT v.shared_terms, v.own_terms, r.tenant, r.reader, r.docs FROM (SELECT {version_columns(query)}) AS v"
            " LEFT JOIN docs_reader_terms r ON (r.tenant = '' OR r.tenant = :tenant)"
            f" {query.scope('r.collection')} ORDER BY r.collection, r.reader"
        )
        rows = (await conn.execute(statement, {**query.binds, "tenant": query.tenant})).all()
        read = (int(rows[0].shared_terms), int(rows[0].own_terms))
        found = [(r.tenant, r.reader, r.docs) for r in rows if r.reader is not None]
        own = frozenset(thesaurus.phrase_stems(reader) for _, reader, _ in found)
        vocabulary = Vocabulary(merged(found), read, own) if read != (0, 0) else GENERIC
        key = (query.tenant if read[1] else "", query.collections)
        self._cached[key] = vocabulary
        self._cached.move_to_end(key)
        while len(self._cached) > self.max_scopes:
            self._cached.popitem(last=False)
        return vocabulary

    async def rows_with(
        self,
        conn: AsyncConnection,
        query: SearchQuery,
        run: Callable[[tuple[str, ...]], Awaitable[Sequence[Any]]],
    ) -> Sequence[Any]:
        """The rows of `run(expansion)`, a statement with `version_columns` (at least one row),
        for the query's expansion by its scope's vocabulary as of that statement: run again
        when the vocabulary had to be read again and expands the query otherwise."""
        terms = self.current(query).expansion(query.positive)
        rows = await run(terms)
        versions = (int(rows[0].shared_terms), int(rows[0].own_terms))
        again = (await self.refreshed(conn, query, versions)).expansion(query.positive)
        return rows if again == terms else await run(again)
