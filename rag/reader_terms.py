"""A collection's own reader terms: the reader phrases its docs team maps to the documentation's
terms ("thumbs up" -> "feedback, rating"), stored per tenant and collection (migration 0017).

Search joins them to the generic thesaurus (`rag.thesaurus`) for that collection's searches
(`rag.reader_vocabulary`); a row for a phrase the generic table has replaces the generic row.
Tenant '' rows apply to every reader of the collection, a tenant's rows (which replace those
for the same phrase) to that tenant's readers only.

A phrase is unique by its word stems ("log in" and "logging in" are one phrase) within a
tenant and collection; adding a phrase that exists replaces its terms. Every change bumps the
(tenant, collection)'s version in the same transaction, which tells every search process to
reload. Rows are checked (`checked_term`) before anything is written; an import is checked
whole, with every bad line's number, and written all or nothing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from rag.thesaurus import MAX_EXPANSIONS, MAX_PHRASE_WORDS, phrase_stems, split_terms

MAX_READER_CHARS = 100
MAX_TERM_CHARS = 100
MAX_TERMS = MAX_EXPANSIONS  # documentation terms of one row (a query gets this many at most)
MAX_ROWS = 2000  # rows of one tenant's collection
MAX_FILE_BYTES = 1024 * 1024
MAX_NAME_CHARS = 256  # a collection's or a tenant's name
HEADER = ("reader", "docs")


class ReaderTermError(ValueError):
    """A row, a name or a request that cannot be stored; the message names the problem."""


@dataclass
class TermFileError(ReaderTermError):
    """The bad lines of a terms file: (line number, problem), every one of them."""

    problems: list[tuple[int, str]] = field(default_factory=list)

    def __str__(self) -> str:
        shown = [f"line {n}: {problem}" for n, problem in self.problems[:20]]
        more = len(self.problems) - len(shown)
        return "; ".join(shown + ([f"and {more} more"] if more > 0 else []))


@dataclass(frozen=True)
class ReaderTerm:
    reader: str  # the phrase, whitespace collapsed
    docs: tuple[str, ...]  # the documentation terms
    updated_at: datetime | None = None

    @property
    def key(self) -> str:
        return phrase_key(self.reader)


@dataclass(frozen=True)
class ImportCounts:
    added: int
    replaced: int
    removed: int  # with `replace`: rows the file did not hold

    def describe(self) -> str:
        return f"{self.added} added, {self.replaced} replaced, {self.removed} removed"


def phrase_key(reader: str) -> str:
    """What makes a phrase unique: its word stems."""
    return " ".join(phrase_stems(reader))


def _plain(value: str, what: str, limit: int) -> str:
    """`value` with its spaces collapsed; ReaderTermError if it is empty, too long or holds a
    tab, a line break or another control character."""
    if not isinstance(value, str):
        raise ReaderTermError(f"{what} must be text")
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise ReaderTermError(f"{what} contains a tab, a line break or another control character")
    collapsed = " ".join(value.split())
    if not collapsed:
        raise ReaderTermError(f"{what} is empty")
    if len(collapsed) > limit:
        raise ReaderTermError(f"{what} is longer than {limit} characters")
    return collapsed


def checked_term(reader: str, docs: str | Sequence[str]) -> ReaderTerm:
    """The row for `reader` and `docs` (a list, or comma-separated text), checked; a
    ReaderTermError naming the first problem otherwise."""
    phrase = _plain(reader, "the reader phrase", MAX_READER_CHARS)
    if phrase.startswith("#"):
        raise ReaderTermError("the reader phrase starts with '#' (a comment in a terms file)")
    words = phrase_stems(phrase)
    if not words:
        raise ReaderTermError("the reader phrase has no words (letters or digits)")
    if len(words) > MAX_PHRASE_WORDS:
        raise ReaderTermError(
            f"the reader phrase has more than {MAX_PHRASE_WORDS} words (search matches no longer ones)"
        )
    if isinstance(docs, str):
        _plain(docs, "docs", MAX_TERMS * (MAX_TERM_CHARS + 2))
        given: Sequence[str] = split_terms(docs)
    elif isinstance(docs, Sequence) and all(isinstance(term, str) for term in docs):
        given = docs
    else:
        raise ReaderTermError("docs must be a list of terms or comma-separated text")
    terms = tuple(dict.fromkeys(_plain(term, "a docs term", MAX_TERM_CHARS) for term in given))
    if not terms:
        raise ReaderTermError("docs holds no terms")
    if len(terms) > MAX_TERMS:
        raise ReaderTermError(f"more than {MAX_TERMS} docs terms")
    if any("," in term for term in terms):
        raise ReaderTermError("a docs term contains a comma (commas separate the terms)")
    return ReaderTerm(phrase, terms)


def checked_name(value: str, what: str, *, empty: bool = False) -> str:
    """A collection or tenant name: 1-256 printable characters without spaces (a tenant may
    be '' with `empty`: every tenant)."""
    if value == "" and empty:
        return value
    if not isinstance(value, str) or not value:
        raise ReaderTermError(f"{what} is empty")
    if len(value) > MAX_NAME_CHARS:
        raise ReaderTermError(f"{what} is longer than {MAX_NAME_CHARS} characters")
    if not value.isprintable() or any(ch.isspace() for ch in value):
        raise ReaderTermError(f"{what} contains spaces or control characters")
    return value


def parse_file(content: str | bytes) -> list[ReaderTerm]:
    """The rows of a terms file (TSV, header `reader<TAB>docs`, docs comma-separated); a
    TermFileError with every bad line's number and problem otherwise (nothing is written)."""
    if len(content) > MAX_FILE_BYTES:
        raise TermFileError([(0, f"the file is larger than {MAX_FILE_BYTES} bytes")])
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise TermFileError([(0, f"not UTF-8 text (byte {exc.start})")]) from None
    # Lines as an editor numbers them: split at line feeds only (a CR before one is dropped).
    lines = [line.removesuffix("\r") for line in content.removeprefix("\ufeff").split("\n")]
    if not lines or tuple(cell.strip().lower() for cell in lines[0].split("\t")) != HEADER:
        raise TermFileError([(1, "the first line must be the header reader<TAB>docs")])
    rows: list[ReaderTerm] = []
    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) != 2:
            problems.append((number, f"{len(cells)} columns; a row is reader<TAB>docs"))
            continue
        try:
            row = checked_term(*cells)
        except ReaderTermError as exc:
            problems.append((number, str(exc)))
            continue
        if row.key in seen:
            problems.append((number, f"the phrase {row.reader!r} is already on line {seen[row.key]}"))
            continue
        seen[row.key] = number
        rows.append(row)
    if len(rows) > MAX_ROWS:
        problems.append((0, f"more than {MAX_ROWS} rows"))
    if problems:
        raise TermFileError(problems)
    return rows


def to_file(rows: Sequence[ReaderTerm]) -> str:
    """The rows as a terms file, which `parse_file` reads back."""
    lines = ["\t".join(HEADER), *(f"{row.reader}\t{', '.join(row.docs)}" for row in rows)]
    return "\n".join(lines) + "\n"  # a phrase or a term never holds a tab or a line break


async def list_terms(engine: AsyncEngine, collection: str, tenant: str = "") -> list[ReaderTerm]:
    """The collection's rows for `tenant` ('' : those for every tenant), by phrase."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT reader, docs, updated_at FROM docs_reader_terms"
                " WHERE tenant = :t AND collection = :c ORDER BY lower(reader), reader"
            ),
            {"t": tenant, "c": collection},
        )
        return [ReaderTerm(r.reader, tuple(r.docs), r.updated_at) for r in rows]


async def _bump(conn: AsyncConnection, tenant: str, collection: str) -> None:
    """Mark the (tenant, collection)'s rows changed; holds its version row's lock until the
    transaction ends, so changes of one collection's rows are serialised."""
    await conn.execute(
        text(
            "INSERT INTO docs_reader_term_versions (tenant, collection, version)"
            " VALUES (:t, :c, nextval('docs_reader_terms_version'))"
            " ON CONFLICT (tenant, collection) DO UPDATE SET version = excluded.version"
        ),
        {"t": tenant, "c": collection},
    )


async def _write(conn: AsyncConnection, tenant: str, collection: str, rows: Sequence[ReaderTerm]) -> int:
    """Insert or replace `rows`; how many were new."""
    if not rows:
        return 0
    statement = text(
        "INSERT INTO docs_reader_terms AS r (tenant, collection, phrase_key, reader, docs)"
        " SELECT :t, :c, k, p, string_to_array(d, E'\\t')"
        " FROM unnest(CAST(:keys AS text[]), CAST(:readers AS text[]), CAST(:docs AS text[])) AS x(k, p, d)"
        " ON CONFLICT (tenant, collection, phrase_key) DO UPDATE"
        " SET reader = excluded.reader, docs = excluded.docs, updated_at = now()"
        " RETURNING (xmax = 0) AS inserted"
    ).bindparams(bindparam("keys"), bindparam("readers"), bindparam("docs"))
    values = {
        "t": tenant,
        "c": collection,
        "keys": [row.key for row in rows],
        "readers": [row.reader for row in rows],
        "docs": ["\t".join(row.docs) for row in rows],  # a term never holds a tab
    }
    return sum(1 for row in await conn.execute(statement, values) if row.inserted)


async def _check_room(conn: AsyncConnection, tenant: str, collection: str) -> None:
    count = await conn.scalar(
        text("SELECT count(*) FROM docs_reader_terms WHERE tenant = :t AND collection = :c"),
        {"t": tenant, "c": collection},
    )
    if count > MAX_ROWS:
        raise ReaderTermError(f"a collection holds at most {MAX_ROWS} reader terms (per tenant)")


async def add_term(engine: AsyncEngine, collection: str, row: ReaderTerm, tenant: str = "") -> bool:
    """Store `row` (replacing the terms of the same phrase); True when the phrase is new."""
    async with engine.begin() as conn:
        await _bump(conn, tenant, collection)
        added = await _write(conn, tenant, collection, [row]) == 1
        await _check_room(conn, tenant, collection)  # raising rolls the row back
    return added


async def remove_term(engine: AsyncEngine, collection: str, reader: str, tenant: str = "") -> bool:
    """Remove the row of the phrase `reader` (matched on its stems); False if there was none."""
    async with engine.begin() as conn:
        await _bump(conn, tenant, collection)
        removed = await conn.execute(
            text("DELETE FROM docs_reader_terms WHERE tenant = :t AND collection = :c AND phrase_key = :k"),
            {"t": tenant, "c": collection, "k": phrase_key(reader)},
        )
    return bool(removed.rowcount)


async def import_terms(
    engine: AsyncEngine, collection: str, rows: Sequence[ReaderTerm], tenant: str = "", replace: bool = False
) -> ImportCounts:
    """Store `rows` in one transaction (phrases present get the file's terms); with `replace`,
    the collection's rows become exactly `rows`. Two rows of one phrase are a ReaderTermError."""
    keys: dict[str, str] = {}
    for row in rows:
        if keys.setdefault(row.key, row.reader) != row.reader:
            raise ReaderTermError(f"the phrases {keys[row.key]!r} and {row.reader!r} are the same phrase")
    async with engine.begin() as conn:
        await _bump(conn, tenant, collection)
        removed = 0
        if replace:
            gone = await conn.execute(
                text(
                    "DELETE FROM docs_reader_terms WHERE tenant = :t AND collection = :c"
                    " AND NOT phrase_key = ANY(CAST(:keys AS text[]))"
                ),
                {"t": tenant, "c": collection, "keys": [row.key for row in rows]},
            )
            removed = gone.rowcount
        added = await _write(conn, tenant, collection, rows)
        await _check_room(conn, tenant, collection)
    return ImportCounts(added, len(rows) - added, removed)


async def forget_collection_terms(conn: AsyncConnection, collection: str) -> None:
    """Remove every tenant's rows of `collection` (the collection is being removed), marking
    them changed for the searches that cached them."""
    tenants = await conn.execute(
        text("DELETE FROM docs_reader_terms WHERE collection = :c RETURNING tenant"), {"c": collection}
    )
    for tenant in sorted(set(tenants.scalars())):
        await _bump(conn, tenant, collection)
