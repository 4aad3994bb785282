"""The `file` field of a multipart/form-data request body, streamed as it arrives
(python-multipart's push parser), never buffered whole."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from chatkit_store.attachments.kinds import format_size
from docsdesk.core.errors import ApiError

MULTIPART_OVERHEAD_BYTES = 64 * 1024  # part headers, boundaries, small extra fields


class FileField:
    """The first part named `field` that carries a file name: its name, declared type and
    bytes (`chunks()`), read from the request body as it streams in."""

    def __init__(self, request: Request, field: str, body_limit: int) -> None:
        mime, params = parse_options_header(request.headers.get("content-type", ""))
        boundary = params.get(b"boundary")
        if mime != b"multipart/form-data" or not boundary:
            raise ApiError(
                415, "expected_multipart", f"send the file as multipart/form-data in a {field!r} field"
            )
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > body_limit:
            raise ApiError(413, "attachment_too_large", _too_large(body_limit - MULTIPART_OVERHEAD_BYTES))
        self.field = field
        self.filename = ""
        self.content_type = ""
        self._limit = body_limit
        self._request = request
        self._events: list[tuple[str, Any]] = []
        self._headers: dict[bytes, bytes] = {}
        self._header_name = bytearray()
        self._header_value = bytearray()
        try:
            self._parser = MultipartParser(
                boundary,
                {
                    "on_part_begin": self._part_begin,
                    "on_header_field": lambda data, start, end: self._header_name.extend(data[start:end]),
                    "on_header_value": lambda data, start, end: self._header_value.extend(data[start:end]),
                    "on_header_end": self._header_end,
                    "on_headers_finished": lambda: self._events.append(("headers", dict(self._headers))),
                    "on_part_data": lambda data, start, end: self._events.append(("data", data[start:end])),
                    "on_part_end": lambda: self._events.append(("end", None)),
                },
            )
        except Exception as exc:  # noqa: BLE001 - a bad boundary
            raise ApiError(400, "invalid_multipart", f"invalid multipart boundary: {exc}") from None
        self._body = self._events_of_body()
        self._in_file = False

    def _part_begin(self) -> None:
        self._headers = {}

    def _header_end(self) -> None:
        self._headers[bytes(self._header_name).lower()] = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    async def _events_of_body(self) -> AsyncIterator[tuple[str, Any]]:
        received = 0
        try:
            async for chunk in self._request.stream():
                received += len(chunk)
                if received > self._limit:
                    raise ApiError(
                        413, "attachment_too_large", _too_large(self._limit - MULTIPART_OVERHEAD_BYTES)
                    )
                self._parser.write(chunk)
                events, self._events = self._events, []
                for event in events:
                    yield event
            self._parser.finalize()
        except MultipartParseError as exc:
            raise ApiError(400, "invalid_multipart", f"the multipart body is malformed: {exc}") from None
        except ClientDisconnect:
            raise ApiError(400, "client_disconnected", "the upload was interrupted") from None
        for event in self._events:
            yield event

    async def open(self) -> None:
        """Read up to the file part's data; ApiError 400 if the body has none."""
        async for event, value in self._body:
            if event != "headers":
                continue
            disposition, params = parse_options_header(value.get(b"content-disposition", b""))
            if disposition != b"form-data" or params.get(b"name") != self.field.encode():
                continue
            if b"filename" not in params:
                continue
            self.filename = params[b"filename"].decode("utf-8", "replace")
            self.content_type = value.get(b"content-type", b"").decode("latin-1").strip()
            self._in_file = True
            return
        raise ApiError(400, "missing_file", f"the multipart body has no {self.field!r} file field")

    async def chunks(self) -> AsyncIterator[bytes]:
        """The file part's bytes, as they arrive."""
        if not self._in_file:
            raise RuntimeError("open() the field first")
        async for event, value in self._body:
            if event == "data":
                if value:
                    yield bytes(value)
            elif event == "end":
                self._in_file = False
                return
        raise ApiError(400, "invalid_multipart", "the multipart body ended inside the file")


def _too_large(limit: int) -> str:
    return f"the file is over the {format_size(limit)} limit"


def file_field(request: Request) -> Callable[[int], FileField]:
    """The `file` field of `request`, opened for a file of at most `max_bytes`."""
    return lambda max_bytes: FileField(request, "file", max_bytes + MULTIPART_OVERHEAD_BYTES)
