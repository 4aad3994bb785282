"""POST /admin/api/collections/{name}/upload over real HTTP: a docs folder as .tar.gz is
ingested (a second upload re-chunks only what changed and removes what went), and hostile
archives (`..`, absolute paths, links, devices, too large, not gzip) are refused with a 4xx
naming the problem, nothing ingested."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest
from sqlalchemy import text

from rag import upload as upload_module
from tests.docsdesk.insights.conftest import admin, admin_app, collection  # noqa: F401 - fixtures
from tests.docsdesk.ops.test_ops_http import assert_error
from tests.support import new_id


def archive(files: dict[str, bytes], extra: list[tarfile.TarInfo] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tar.addfile(info)
    return buffer.getvalue()


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


async def document_paths(engine, name: str) -> set[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT source_path FROM docs_documents WHERE collection = :c"), {"c": name}
        )
        return {row[0] for row in rows}


DOCS = {
    "docs/index.md": b"# Home\n\nWelcome to the uploaded docs.\n",
    "docs/guide/setup.md": b"# Setup\n\n## Install\n\nRun the installer.\n",
    "docs/guide/old.md": b"# Old\n\nGoing away.\n",
}


async def test_upload_ingests_a_docs_folder_and_replaces_it(admin_app, engine):  # noqa: F811
    url, _ = admin_app
    name = new_id("up")
    async with admin(url) as http:
        first = await http.post(
            f"/admin/api/collections/{name}/upload",
            params={"base_url": "https://docs.example.test/"},
            content=archive(DOCS),
            headers={"Content-Type": "application/gzip"},
        )
        assert first.status_code == 200, first.text
        assert (first.json()["added"], first.json()["chunks"] > 0) == (3, True)
        assert await document_paths(engine, name) == {
            "docs/index.md",
            "docs/guide/setup.md",
            "docs/guide/old.md",
        }

        changed = {**DOCS, "docs/index.md": b"# Home\n\nNew welcome.\n"}
        del changed["docs/guide/old.md"]
        second = await http.post(
            f"/admin/api/collections/{name}/upload",
            params={"base_url": "https://docs.example.test/"},
            content=archive(changed),
        )
        body = second.json()
        assert (body["added"], body["changed"], body["removed"], body["unchanged"]) == (0, 1, 1, 1), body
        assert await document_paths(engine, name) == {"docs/index.md", "docs/guide/setup.md"}
    async with admin(url, "wrong-token") as intruder:
        refused = await intruder.post(f"/admin/api/collections/{name}/upload", content=archive(DOCS))
        assert_error(refused, 401, "invalid_admin_token")


@pytest.mark.parametrize(
    ("files", "extra", "status", "words"),
    [
        ({"docs/../../escape.md": b"# x\n"}, None, 400, "a path out of the folder"),
        ({"/etc/evil.md": b"# x\n"}, None, 400, "absolute path"),
        ({"docs/a.md": b"# a\n"}, [link("docs/passwd.md", "/etc/passwd")], 400, "links are not accepted"),
        (
            {"docs/a.md": b"# a\n"},
            [link("docs/hard.md", "docs/a.md", tarfile.LNKTYPE)],
            400,
            "links are not accepted",
        ),
        ({"docs/a.md": b"# a\n"}, [link("docs/fifo", "", tarfile.FIFOTYPE)], 400, "only files and folders"),
        ({"docs/notes.txt": b"text"}, None, 400, "no documentation files"),
    ],
)
async def test_hostile_archives_are_refused_and_nothing_is_ingested(
    admin_app,  # noqa: F811
    engine,
    files,
    extra,
    status,
    words,
):
    url, _ = admin_app
    name = new_id("up")
    async with admin(url) as http:
        response = await http.post(f"/admin/api/collections/{name}/upload", content=archive(files, extra))
    error = assert_error(response, status, "invalid_archive")
    assert words in error["message"]
    assert await document_paths(engine, name) == set()


async def test_oversized_and_malformed_uploads(admin_app, engine, monkeypatch):  # noqa: F811
    url, _ = admin_app
    name = new_id("up")
    monkeypatch.setattr(upload_module, "MAX_UNPACKED_BYTES", 1000)
    from docsdesk.http import admin_upload

    monkeypatch.setattr(admin_upload, "MAX_UPLOAD_BYTES", 5000)
    async with admin(url) as http:
        bomb = archive({"docs/big.md": b"# Big\n" + b"a" * 5000})  # compresses well under the limit
        assert_error(
            await http.post(f"/admin/api/collections/{name}/upload", content=bomb), 413, "upload_too_large"
        )
        noise = gzip.compress(bytes(range(256)) * 100, compresslevel=0)
        too_big = await http.post(f"/admin/api/collections/{name}/upload", content=noise)
        assert_error(too_big, 413, "upload_too_large")

        async def chunked():  # no Content-Length: the limit applies to what is streamed
            for _ in range(10):
                yield b"\x1f\x8b" + b"x" * 998

        streamed = await http.post(f"/admin/api/collections/{name}/upload", content=chunked())
        assert_error(streamed, 413, "upload_too_large")
        not_gzip = await http.post(f"/admin/api/collections/{name}/upload", content=b"PK\x03\x04 a zip")
        assert_error(not_gzip, 400, "invalid_archive")
        truncated = await http.post(f"/admin/api/collections/{name}/upload", content=archive(DOCS)[:200])
        assert_error(truncated, 400, "invalid_archive")
        bad_name = await http.post("/admin/api/collections/..%2Fx/upload", content=archive(DOCS))
        assert bad_name.status_code in (400, 404)
        bad_url = await http.post(
            f"/admin/api/collections/{name}/upload", params={"url_style": "hugo"}, content=archive(DOCS)
        )
        assert_error(bad_url, 400, "invalid_archive")
    assert await document_paths(engine, name) == set()
