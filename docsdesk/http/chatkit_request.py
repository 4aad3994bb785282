"""A ChatKit request body, parsed once.

The route parses the body (`parse_request`, with 4xx errors that name the problem) to run its
checks, then hands the SDK's public `ChatKitServer.process()` a `ParsedBody`: the same bytes,
carrying the parsed request. `process()` in openai-chatkit 1.6.5 parses its argument with
``TypeAdapter[ChatKitReq](ChatKitReq).validate_json(request)``, building a new pydantic
adapter on every request (several ms), and there is no public way to give it a parsed
request. `install_parse_once()` therefore replaces the name `TypeAdapter` inside
`chatkit.server` (that one line is its only use) with `_ReusedAdapter`: for `ChatKitReq` it
returns one adapter built once, whose `validate_json` returns a `ParsedBody`'s request instead
of parsing the bytes again; any other use gets pydantic's own TypeAdapter. The shim is pinned
to openai-chatkit 1.6.5 and to that exact line of `process()`: with any other version or
source it is not installed (`installed()` is False, the SDK parses as it always did), and
tests/docsdesk/http/test_chatkit_request.py fails so that it is looked at again.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from importlib.metadata import version
from typing import Any

import chatkit.server
from chatkit.server import ChatKitServer
from chatkit.types import ChatKitReq
from pydantic import TypeAdapter, ValidationError

from docsdesk.core.errors import ApiError

log = logging.getLogger("docsdesk.http")

SDK_VERSION = "1.6.5"
# sha256 of inspect.getsource(ChatKitServer.process) in openai-chatkit 1.6.5.
PROCESS_SOURCE_SHA256 = "ca6328c8189fdb02b19347d1126dc38937d499874ffef900d9230cf97166f9dd"
REQUEST_ADAPTER: TypeAdapter[ChatKitReq] = TypeAdapter(ChatKitReq)


class ParsedBody(bytes):
    """The raw body of a request together with its parsed form."""

    request: ChatKitReq

    def __new__(cls, body: bytes, request: ChatKitReq) -> ParsedBody:
        instance = super().__new__(cls, body)
        instance.request = request
        return instance


def parse_request(body: bytes) -> ChatKitReq:
    """The ChatKit request in `body`; ApiError 400 naming what is wrong."""
    try:
        return REQUEST_ADAPTER.validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        kind = errors[0]["type"]
        if kind == "json_invalid":
            raise ApiError(400, "invalid_json", f"body is not valid JSON: {errors[0]['msg']}") from None
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            raise ApiError(400, "unknown_request_type", errors[0]["msg"]) from None
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in errors[:5]
        )
        raise ApiError(400, "invalid_request", detail) from None


class _ParseOnce:
    """The adapter `process()` gets for ChatKitReq: REQUEST_ADAPTER, minus a second parse."""

    def validate_json(self, data: Any, *args: Any, **kwargs: Any) -> ChatKitReq:
        if isinstance(data, ParsedBody) and not args and not kwargs:
            return data.request
        return REQUEST_ADAPTER.validate_json(data, *args, **kwargs)


_PARSE_ONCE = _ParseOnce()


class _ReusedAdapter:
    """Stands in for pydantic's TypeAdapter inside chatkit.server only."""

    def __class_getitem__(cls, item: Any) -> type[_ReusedAdapter]:
        return cls

    def __new__(cls, type_: Any, *args: Any, **kwargs: Any) -> Any:
        if type_ is ChatKitReq and not args and not kwargs:
            return _PARSE_ONCE
        return TypeAdapter(type_, *args, **kwargs)


def process_source_digest() -> str:
    return hashlib.sha256(inspect.getsource(ChatKitServer.process).encode()).hexdigest()


def installed() -> bool:
    return chatkit.server.TypeAdapter is _ReusedAdapter


def install_parse_once() -> bool:
    """Install the shim if the SDK is the one it was written for; True when in effect."""
    if installed():
        return True
    if version("openai-chatkit") != SDK_VERSION or process_source_digest() != PROCESS_SOURCE_SHA256:
        log.warning(
            "openai-chatkit is not %s as pinned: ChatKit requests are parsed twice (slower, correct)",
            SDK_VERSION,
        )
        return False
    chatkit.server.TypeAdapter = _ReusedAdapter  # type: ignore[misc,assignment]
    return True
