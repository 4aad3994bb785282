"""/admin/api/collections/{name}/terms over real HTTP against real PostgreSQL: the admin token,
rows added, replaced, listed, removed, imported and exported, their effect on the assistant's
search at once, and every bad request a 4xx naming the problem (never a 500, never a row)."""

from __future__ import annotations

import httpx
import pytest

from tests.docsdesk.insights.conftest import ADMIN_TOKEN, admin, admin_app, collection  # noqa: F401 - fixtures
from tests.docsdesk.ops.test_ops_http import assert_error
from tests.support import new_id


async def found(http, query: str, **params: str) -> list[str]:
    response = await http.get("/admin/api/search", params={"q": query, **params})
    assert response.status_code == 200, response.text
    return [r["url"] for r in response.json()["results"]]


async def test_the_token_is_required(admin_app, collection):  # noqa: F811
    url, _ = admin_app
    for http in (httpx.AsyncClient(base_url=url), admin(url, "wrong-token")):
        async with http:
            response = await http.post(
                f"/admin/api/collections/{collection}/terms", json={"reader": "a", "docs": "b"}
            )
            assert_error(response, 401, "invalid_admin_token")
            assert_error(
                await http.get(f"/admin/api/collections/{collection}/terms"), 401, "invalid_admin_token"
            )
    async with admin(url) as http:
        assert (await http.get(f"/admin/api/collections/{collection}/terms")).json()["terms"] == []


async def test_a_row_changes_the_assistants_search_at_once(admin_app, collection):  # noqa: F811
    url, _ = admin_app
    terms = f"/admin/api/collections/{collection}/terms"
    async with admin(url) as http:
        assert not any("add-annotations" in u for u in await found(http, "footnotes"))

        added = await http.post(terms, json={"reader": "footnotes", "docs": ["annotations"]})
        assert added.status_code == 201, added.text
        assert added.json()["term"]["docs"] == ["annotations"] and added.json()["added"]
        assert "add-annotations" in (await found(http, "footnotes"))[0]

        replaced = await http.post(terms, json={"reader": "Footnote", "docs": "annotations, citations"})
        assert replaced.status_code == 200 and not replaced.json()["added"]
        [row] = (await http.get(terms)).json()["terms"]
        assert (row["reader"], row["docs"]) == ("Footnote", ["annotations", "citations"]) and row[
            "updated_at"
        ]

        other = await http.post(terms, json={"reader": "kudos", "docs": ["retry"], "tenant": "acme"})
        assert other.status_code == 201
        assert "concepts/retries" in (await found(http, "kudos", tenant="acme"))[0]  # as acme's readers
        assert not any("retries" in u for u in await found(http, "kudos"))
        assert [r["reader"] for r in (await http.get(terms, params={"tenant": "acme"})).json()["terms"]] == [
            "kudos"
        ]

        removed = await http.delete(terms, params={"reader": "footnotes"})
        assert removed.status_code == 200, removed.text
        assert not any("add-annotations" in u for u in await found(http, "footnotes"))
        assert_error(await http.delete(terms, params={"reader": "footnotes"}), 404, "not_found")
        assert len((await http.get(terms, params={"tenant": "acme"})).json()["terms"]) == 1


async def test_a_file_is_imported_all_or_nothing_and_exported(admin_app, collection):  # noqa: F811
    url, _ = admin_app
    terms = f"/admin/api/collections/{collection}/terms"
    async with admin(url) as http:
        bad = "reader\tdocs\nfootnotes\tannotations\nno tab\n\tx\none two three four\tx\n"
        response = await http.put(terms, content=bad.encode())
        error = assert_error(response, 400, "invalid_terms_file")
        assert error["lines"] == [
            {"line": 3, "problem": "1 columns; a row is reader<TAB>docs"},
            {"line": 4, "problem": "the reader phrase is empty"},
            {"line": 5, "problem": "the reader phrase has more than 3 words (search matches no longer ones)"},
        ]
        assert (await http.get(terms)).json()["terms"] == []  # nothing written

        good = "reader\tdocs\nfootnotes\tannotations\nkudos\tfeedback, rating\n"
        imported = await http.put(terms, content=good.encode())
        assert imported.status_code == 200, imported.text
        assert (imported.json()["added"], imported.json()["replaced"]) == (2, 0)
        exported = await http.get(f"{terms}.tsv")
        assert exported.status_code == 200 and exported.headers["content-type"].startswith(
            "text/tab-separated-values"
        )
        assert exported.text == good

        replaced = await http.put(terms, params={"replace": "true"}, content=b"reader\tdocs\nkudos\tpraise\n")
        assert (replaced.json()["added"], replaced.json()["replaced"], replaced.json()["removed"]) == (
            0,
            1,
            1,
        )
        assert (await http.get(f"{terms}.tsv")).text == "reader\tdocs\nkudos\tpraise\n"
        assert_error(
            await http.put(terms, content=b"reader\tdocs\n" + b"x" * (1024 * 1024)), 413, "body_too_large"
        )


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        (b"not json", "invalid_json", "JSON object"),
        (b"[1, 2]", "invalid_json", "JSON object"),
        (b'{"reader": "kudos"}', "invalid_term", "docs is required"),
        (b'{"docs": "x"}', "invalid_term", "reader is required"),
        (b'{"reader": "kudos", "docs": "x", "colour": 1}', "invalid_term", "unknown field 'colour'"),
        (b'{"reader": "one two three four", "docs": "x"}', "invalid_term", "more than 3 words"),
        (b'{"reader": "kudos\\tx", "docs": "x"}', "invalid_term", "tab, a line break"),
        (b'{"reader": 3, "docs": "x"}', "invalid_term", "must be text"),
        (b'{"reader": "kudos", "docs": 3}', "invalid_term", "list of terms"),
        (b'{"reader": "kudos", "docs": ["a", {"b": 1}]}', "invalid_term", "list of terms"),
        (b'{"reader": "kudos", "docs": ["a,b"]}', "invalid_term", "comma"),
        (b'{"reader": "kudos", "docs": ""}', "invalid_term", "docs is empty"),
        (b'{"reader": "kudos", "docs": "x", "tenant": 5}', "invalid_tenant", "text"),
        (b'{"reader": "kudos", "docs": "x", "tenant": "a b"}', "invalid_tenant", "spaces"),
    ],
)
async def test_a_bad_row_is_a_400_naming_the_problem(admin_app, collection, body, code, says):  # noqa: F811
    url, _ = admin_app
    async with admin(url) as http:
        response = await http.post(
            f"/admin/api/collections/{collection}/terms",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        assert says in assert_error(response, 400, code)["message"]
        assert (await http.get(f"/admin/api/collections/{collection}/terms")).json()["terms"] == []


async def test_unknown_collections_and_bad_parameters(admin_app, collection):  # noqa: F811
    url, _ = admin_app
    async with admin(url) as http:
        missing = new_id("c")
        assert_error(await http.get(f"/admin/api/collections/{missing}/terms"), 404, "unknown_collection")
        response = await http.post(
            f"/admin/api/collections/{missing}/terms", json={"reader": "a", "docs": "b"}
        )
        assert_error(response, 404, "unknown_collection")
        terms = f"/admin/api/collections/{collection}/terms"
        assert_error(await http.get(terms, params={"tenant": "a\x01"}), 400, "invalid_tenant")
        assert_error(await http.get(terms, params={"tenant": "t" * 301}), 400, "invalid_request")
        assert_error(await http.delete(terms), 400, "invalid_term")
        assert_error(await http.get("/admin/api/collections/a%20b/terms"), 400, "invalid_collection")


async def test_a_full_collection_is_a_409(admin_app, collection, monkeypatch):  # noqa: F811
    url, _ = admin_app
    monkeypatch.setattr("rag.reader_terms.MAX_ROWS", 1)
    terms = f"/admin/api/collections/{collection}/terms"
    async with admin(url) as http:
        assert (await http.post(terms, json={"reader": "kudos", "docs": "endorse"})).status_code == 201
        response = await http.post(terms, json={"reader": "footnotes", "docs": "annotations"})
        assert "at most 1 reader terms" in assert_error(response, 409, "too_many_terms")["message"]
        response = await http.put(terms, content=b"reader\tdocs\nshout out\tmention\n")
        assert_error(response, 409, "too_many_terms")
        assert [t["reader"] for t in (await http.get(terms)).json()["terms"]] == ["kudos"]
