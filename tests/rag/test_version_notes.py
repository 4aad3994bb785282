"""Questions about a version change rank the pages about versions (changelogs, migration
guides) first, on real PostgreSQL; what counts as such a question and such a page."""

from __future__ import annotations

import pytest
from sqlalchemy import text

import rag.version_notes as version_notes
from rag.page_evidence import page_evidence_sql, with_page_scores
from rag.page_evidence import version_notes as versioned_pages
from rag.search import DocsSearch
from rag.version_notes import for_other_questions, version_change, versioned
from tests.support import ingested_pages

BASE = "https://docs.example.test/"

PAGES = {
    # The guide to the feature holds the reader's words about the symptom ...
    "guides/attachments.md": (
        "# Accept attachments\n\nUsers attach files to a message.\n\n"
        "## Direct upload\n\nThe FileAttachment has an upload_descriptor: the client uploads the "
        "file to its URL.\n\n"
        "## Previews\n\nAn image attachment shows a preview.\n"
    ),
    # ... while the changelog names the change once, under a version.
    "release.md": (
        "# Changelog\n\n## 1.5.0\n\n- FileAttachment: upload_url replaced by upload_descriptor.\n\n"
        "## 1.4.0\n\n- Widgets: widget text streams in as it is written.\n\n## 1.3.0\n\n- Thread titles.\n"
    ),
    "install.md": "# Installation\n\nInstall with pip.\n",
    "guides/widgets.md": (
        "# Cards\n\nCards show content in the chat.\n\n"
        "## Updates\n\nA widget's text can stream in while the model writes it.\n"
    ),
}
QUESTION = "after upgrading, FileAttachment has no upload_url anymore, upload fails"


@pytest.fixture(scope="module")
async def site(database, tmp_path_factory):
    return await ingested_pages(database.engine, tmp_path_factory.mktemp("versions"), PAGES, BASE)


async def test_an_upgrade_question_ranks_the_changelog_first(engine, site, monkeypatch):
    search = DocsSearch(engine)
    results = await search.search(QUESTION, collection=site)
    assert results[0].source_path == "release.md"
    assert all(0 <= r.score <= 1 for r in results)

    monkeypatch.setattr(version_notes, "VERSION_NOTES_BONUS", 0.0)
    monkeypatch.setattr("rag.page_evidence.VERSION_NOTES_BONUS", 0.0)
    without = await search.search(QUESTION, collection=site)
    assert without[0].source_path == "guides/attachments.md"


async def test_the_same_words_without_a_version_change_keep_the_guide_first(engine, site):
    results = await DocsSearch(engine).search("FileAttachment upload_url upload fails", collection=site)
    assert results[0].source_path == "guides/attachments.md"


async def test_for_other_questions_the_changelog_gives_way(engine, site, monkeypatch):
    search = DocsSearch(engine)
    results = await search.search("does widget text stream in as the model has written it", collection=site)
    assert results[0].source_path == "guides/widgets.md"
    assert "release.md" in {r.source_path for r in results}  # still found

    monkeypatch.setattr(version_notes, "OTHER_QUESTIONS_FACTOR", 1.0)
    without = await search.search("does widget text stream in as the model has written it", collection=site)
    assert without[0].source_path == "release.md"


def test_only_the_pages_about_versions_give_way():
    scores = {1: 1.0, 2: 1.0}
    pages = {1: "release", 2: "guide"}
    assert for_other_questions(scores, pages, {"release"}) == {
        1: version_notes.OTHER_QUESTIONS_FACTOR,
        2: 1.0,
    }
    assert for_other_questions(scores, pages, set()) == scores


async def test_versioned_sections_are_counted_per_page(engine, site):
    async with engine.connect() as conn:
        ids = (
            await conn.execute(
                text("SELECT min(id) FROM docs_chunks WHERE collection = :c GROUP BY page_url"), {"c": site}
            )
        ).scalars()
        rows = (await conn.execute(text(page_evidence_sql(1)), {"ids": list(ids), "term0": "'upload'"})).all()
    counts = {row.page_url.removeprefix(BASE): (row.sections, row.versioned) for row in rows}
    assert counts["release/"][1] == 3 and counts["release/"][0] <= 4
    assert counts["guides/attachments/"][1] == 0 and counts["install/"] == (1, 0)
    assert versioned_pages(rows) == {BASE + "release/"}


@pytest.mark.parametrize(
    "query",
    [
        "after upgrading, a model refusal raises a new exception",
        "we bumped openai-chatkit from 1.4 to 1.5 and now it crashes",
        "after updating the sdk my handoffs lost their history",
        "upgraded to v10 and UserDB is gone",
        "is it safe to move to the new minor version",
        "what changed in 1.5",
        "moving from v9 to v10",
        "upload_url was removed from ImageAttachment, what do I use now",
        "JWTAuthentication no longer exists",
        "the hook was renamed?",
    ],
)
def test_questions_about_a_version_change(query):
    assert version_change(query)


@pytest.mark.parametrize(
    "query",
    [
        "update the widget while the text streams",
        "updating the thread title after the first turn",
        "show the version of the server",
        "retry from the first step",
        "the item is removed from the thread after a refresh",
        "remove a tool from the agent",
    ],
)
def test_other_questions(query):
    assert not version_change(query)


def test_a_page_is_about_versions_when_half_of_its_headings_name_one():
    assert versioned(4, 2) and versioned(1, 1)
    assert not versioned(10, 2) and not versioned(0, 0)


def test_the_bonus_is_added_and_rescaled():
    scores = {1: 1.0, 2: 0.8}
    pages = {1: "guide", 2: "release"}
    mixed = with_page_scores(scores, pages, {"guide": 1.0, "release": 1.0}, 0.3, favoured={"release"})
    assert mixed[2] > mixed[1]
    assert all(0 <= s <= 1 for s in mixed.values())
    # favoured with no term evidence at all still counts
    assert with_page_scores(scores, pages, {}, 0.3, favoured={"release"})[2] > 0.8 / 1.6
