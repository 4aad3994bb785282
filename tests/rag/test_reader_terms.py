"""A collection's own reader terms: checked rows, storage per tenant and collection (a phrase
once, by its stems), imports all or nothing with every bad line named, versions bumped."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from rag.collections import remove_collection
from rag.reader_terms import (
    MAX_ROWS,
    MAX_TERMS,
    ReaderTerm,
    ReaderTermError,
    TermFileError,
    add_term,
    checked_name,
    checked_term,
    import_terms,
    list_terms,
    parse_file,
    remove_term,
    to_file,
)
from tests.support import ingested_pages, new_id


def test_a_row_is_checked_and_tidied():
    assert checked_term("  Kudos \u00a0 button ", "endorsement,  endorse, ,endorsement") == ReaderTerm(
        "Kudos button", ("endorsement", "endorse")
    )
    assert checked_term("kudos", ["endorsement", " badge "]).docs == ("endorsement", "badge")


@pytest.mark.parametrize(
    ("reader", "docs", "problem"),
    [
        ("", "x", "the reader phrase is empty"),
        ("   ", "x", "the reader phrase is empty"),
        ("-- !", "x", "no words"),
        ("#kudos", "x", "starts with '#'"),
        ("one two three four", "x", "more than 3 words"),
        ("a" * 101, "x", "longer than 100 characters"),
        ("kudos\tbutton", "x", "tab, a line break"),
        ("kudos\n", "x", "tab, a line break"),
        ("kudos", "", "docs is empty"),
        ("kudos", ", ,", "docs holds no terms"),
        ("kudos", ["a,b"], "contains a comma"),
        ("kudos", ["ok", "line\nbreak"], "tab, a line break"),
        ("kudos", ["x" * 101], "longer than 100 characters"),
        ("kudos", [f"t{i}" for i in range(MAX_TERMS + 1)], f"more than {MAX_TERMS} docs terms"),
        ("kudos", [3], "list of terms"),
        ("kudos", None, "list of terms"),
    ],
)
def test_a_bad_row_is_refused_naming_the_problem(reader, docs, problem):
    with pytest.raises(ReaderTermError, match=problem):
        checked_term(reader, docs)


def test_names_are_checked():
    assert checked_name("", "tenant", empty=True) == ""
    for bad in ("", "a b", "x\x00", "n" * 257):
        with pytest.raises(ReaderTermError):
            checked_name(bad, "collection")


def test_a_file_reports_every_bad_line_with_its_number():
    content = (
        "reader\tdocs\n"
        "kudos\tendorsement\n"
        "\n"
        "# a comment\n"
        "no tab here\n"
        "\tendorsement\n"
        "kudo\tbadge\n"  # the same stems as line 2
        "a\tb\tc\n"
        "fine\tgood, well\r\n"
        "form\x0cfeed\tx\n"  # a form feed: one line, refused, not two
    )
    with pytest.raises(TermFileError) as raised:
        parse_file(content)
    assert raised.value.problems == [
        (5, "1 columns; a row is reader<TAB>docs"),
        (6, "the reader phrase is empty"),
        (7, "the phrase 'kudo' is already on line 2"),
        (8, "3 columns; a row is reader<TAB>docs"),
        (10, "the reader phrase contains a tab, a line break or another control character"),
    ]
    assert str(raised.value).startswith("line 5: 1 columns")
    with pytest.raises(TermFileError, match="line 1: the first line must be the header"):
        parse_file("kudos\tendorsement\n")
    with pytest.raises(TermFileError, match="not UTF-8"):
        parse_file(b"reader\tdocs\n\xff\tx\n")


def test_a_file_round_trips():
    rows = [checked_term('"kudos" given', "endorsement, badge"), checked_term("time out", "timeout")]
    assert parse_file(to_file(rows).encode()) == rows
    assert to_file(rows).splitlines()[0] == "reader\tdocs"


async def test_rows_are_stored_per_tenant_and_collection_once_per_phrase(engine):
    collection, other = new_id("c"), new_id("c")
    assert await add_term(engine, collection, checked_term("kudos", "endorsement"))
    assert not await add_term(engine, collection, checked_term("Kudo", "endorsement, badge"))  # replaced
    assert await add_term(engine, collection, checked_term("kudos", "praise"), tenant="acme")
    assert await add_term(engine, other, checked_term("kudos", "like"))

    [row] = await list_terms(engine, collection)
    assert (row.reader, row.docs) == ("Kudo", ("endorsement", "badge")) and row.updated_at is not None
    assert [r.docs for r in await list_terms(engine, collection, "acme")] == [("praise",)]
    assert await list_terms(engine, collection, "globex") == []

    assert await remove_term(engine, collection, "KUDOS")
    assert not await remove_term(engine, collection, "kudos")
    assert await list_terms(engine, collection) == []
    assert len(await list_terms(engine, collection, "acme")) == 1  # another tenant's row stays
    assert len(await list_terms(engine, other)) == 1


async def versions(engine, collection: str) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT tenant, version FROM docs_reader_term_versions WHERE collection = :c"),
            {"c": collection},
        )
        return dict(rows.all())


async def test_every_change_bumps_its_version(engine):
    collection = new_id("c")
    await add_term(engine, collection, checked_term("kudos", "endorsement"))
    first = await versions(engine, collection)
    await remove_term(engine, collection, "kudos")
    second = await versions(engine, collection)
    await import_terms(engine, collection, [], tenant="acme")
    third = await versions(engine, collection)
    assert second[""] > first[""] and third[""] == second[""] and third["acme"] > second[""]


async def test_an_import_is_all_or_nothing(engine):
    collection = new_id("c")
    await add_term(engine, collection, checked_term("kudos", "endorsement"))
    rows = parse_file("reader\tdocs\nkudos\tbadge\nhigh five\tendorsement\n")
    counts = await import_terms(engine, collection, rows)
    assert (counts.added, counts.replaced, counts.removed) == (1, 1, 0)
    assert {r.reader: r.docs for r in await list_terms(engine, collection)} == {
        "kudos": ("badge",),
        "high five": ("endorsement",),
    }

    counts = await import_terms(engine, collection, [checked_term("shout out", "mention")], replace=True)
    assert (counts.added, counts.removed) == (1, 2)
    assert [r.reader for r in await list_terms(engine, collection)] == ["shout out"]

    twice = [checked_term("kudos", "a"), checked_term("kudo", "b")]
    with pytest.raises(ReaderTermError, match="'kudos' and 'kudo' are the same phrase"):
        await import_terms(engine, collection, twice)
    too_many = [checked_term(f"w{i}", "x") for i in range(MAX_ROWS)]
    with pytest.raises(ReaderTermError, match=f"at most {MAX_ROWS}"):
        await import_terms(engine, collection, too_many)  # one more than the room left
    assert [r.reader for r in await list_terms(engine, collection)] == ["shout out"]  # nothing written


async def test_removing_the_collection_removes_its_terms(engine, tmp_path):
    collection = await ingested_pages(engine, tmp_path, {"a.md": "# A\n\nText.\n"}, "https://d.test/")
    await add_term(engine, collection, checked_term("kudos", "endorsement"), tenant="acme")
    before = await versions(engine, collection)
    assert await remove_collection(engine, collection)
    assert await list_terms(engine, collection, "acme") == []
    assert (await versions(engine, collection))["acme"] > before["acme"]
