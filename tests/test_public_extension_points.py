"""docsdesk uses the SDKs' and libraries' public extension points, not their private code:
the names below were relied on before (issue #12, defect 13) and must not come back."""

from __future__ import annotations

import re

from tests.support import REPO

PRIVATE = {
    "ChatKitServer._process_streaming / _process_non_streaming (use process())": r"\._process_(non_)?streaming\b",
    "ThreadItemConverter._thread_item_to_input_item (use to_agent_input)": r"_thread_item_to_input_item\b",
    "chatkit.store._ID_PREFIXES (use the store's own ID_PREFIXES)": r"from chatkit\.store import[^\n]*\b_ID_PREFIXES\b|chatkit\.store\._ID_PREFIXES",
    "limits' name-mangled MemoryStorage internals (use the Storage interface)": r"_MemoryStorage__",
}
SOURCES = [
    "app.py",
    "chatkit_server.py",
    "lifespan.py",
    "prompts.py",
    "chatkit_store",
    "rag",
    "docsdesk",
    "bench",
]


def test_no_private_sdk_or_library_names_in_the_code():
    files = []
    for name in SOURCES:
        path = REPO / name
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    found = [
        f"{file.relative_to(REPO)}: {what}"
        for file in files
        for what, pattern in PRIVATE.items()
        if re.search(pattern, file.read_text(encoding="utf-8"))
    ]
    assert not found, found


async def test_the_server_goes_through_the_sdks_public_process(settings, engine, monkeypatch):
    """process_request hands every request the SDK serves to ChatKitServer.process()."""
    from chatkit.types import ThreadListParams, ThreadsListReq

    from chatkit_server import DocsDeskServer
    from chatkit_store import PostgresStore
    from docsdesk.core.context import RequestContext
    from rag.search import DocsSearch

    seen = []
    original = DocsDeskServer.process

    async def spy(self, request, context):
        seen.append(request)
        return await original(self, request, context)

    monkeypatch.setattr(DocsDeskServer, "process", spy)
    server = DocsDeskServer(PostgresStore(engine), DocsSearch(engine), settings)
    request = ThreadsListReq(params=ThreadListParams(limit=1))
    body = request.model_dump_json().encode()
    result = await server.process_request(request, RequestContext(user_id="public-api"), body)
    assert result.json == b'{"data":[],"has_more":false}'
    assert seen == [body]
