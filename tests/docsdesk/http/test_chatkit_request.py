"""The ChatKit request is parsed once: the pinned shim over openai-chatkit 1.6.5's process()."""

from __future__ import annotations

from importlib.metadata import version

import chatkit.server
import pytest
from chatkit.types import ChatKitReq, ThreadListParams, ThreadsListReq
from pydantic import TypeAdapter

from docsdesk.core.errors import ApiError
from docsdesk.http import chatkit_request
from docsdesk.http.chatkit_request import (
    PROCESS_SOURCE_SHA256,
    SDK_VERSION,
    ParsedBody,
    install_parse_once,
    installed,
    parse_request,
    process_source_digest,
)


def test_the_shim_is_pinned_to_the_sdk_it_was_written_for():
    """Fails when openai-chatkit changes: look at ChatKitServer.process() again (does it still
    build a TypeAdapter per request? is there a public way to pass a parsed request now?),
    then update SDK_VERSION and PROCESS_SOURCE_SHA256 or remove the shim."""
    assert version("openai-chatkit") == SDK_VERSION
    assert process_source_digest() == PROCESS_SOURCE_SHA256


async def test_process_uses_the_parsed_request_and_builds_no_adapter(settings, engine, monkeypatch):
    from chatkit_server import DocsDeskServer
    from chatkit_store import PostgresStore
    from docsdesk.core.context import RequestContext
    from rag.search import DocsSearch

    server = DocsDeskServer(PostgresStore(engine), DocsSearch(engine), settings)
    assert install_parse_once() and installed()
    built = []
    original = chatkit_request.TypeAdapter

    def counting(*args, **kwargs):
        built.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(chatkit_request, "TypeAdapter", counting)
    request = ThreadsListReq(params=ThreadListParams(limit=1))
    # Bytes that are not even JSON: only the carried request can be what process() acts on.
    result = await server.process(ParsedBody(b"not json", request), RequestContext(user_id="parse-once"))
    assert result.json == b'{"data":[],"has_more":false}'
    # Plain bytes are still parsed (by the one shared adapter), as the SDK always did.
    result = await server.process(request.model_dump_json().encode(), RequestContext(user_id="parse-once"))
    assert result.json == b'{"data":[],"has_more":false}'
    assert built == []  # no adapter built per request


def test_other_adapters_inside_the_sdk_are_pydantics_own():
    assert install_parse_once()
    adapter = chatkit.server.TypeAdapter[int](int)
    assert isinstance(adapter, TypeAdapter) and adapter.validate_json("3") == 3
    assert chatkit.server.TypeAdapter[ChatKitReq](ChatKitReq).validate_json(
        b'{"type":"threads.list","params":{}}'
    ) == ThreadsListReq(params=ThreadListParams())


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{", "invalid_json"),
        (b'{"type":"threads.nope","params":{}}', "unknown_request_type"),
        (b'{"type":"threads.get_by_id","params":{}}', "invalid_request"),
    ],
)
def test_bad_bodies_are_400s_naming_the_problem(body, code):
    with pytest.raises(ApiError) as refused:
        parse_request(body)
    assert refused.value.status == 400 and refused.value.code == code
