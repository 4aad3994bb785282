"""Bounds on every client-supplied field of a ChatKit request, checked after parsing and
before anything is written or streamed.

- No NUL (U+0000) anywhere in the body: PostgreSQL cannot store it in text or JSONB, so a
  request carrying one would fail half-way (after a thread was created, or a message stored).
- Identifiers (thread, item, attachment ids, cursors) are short; lists are short (feedback
  item ids, attachments, message parts); free-form JSON the request carries to be stored
  (input tag `data`, a client tool's `result`, structured-input answers, widget action
  payloads, request `metadata` other than `metadata.page`) shares one byte budget; every
  other string is at most `max_message_chars` characters.
- The message's own text and quoted text have their limit in the server (`message_too_long`);
  `metadata.page` has its own (`invalid_page_context`); `audio_base64` is bounded by the body.

Each violation is an `ApiError` 400 naming the field (`params.input.inference_options.model`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from docsdesk.core.errors import ApiError

MAX_ID_CHARS = 256
MAX_SHORT_CHARS = 256
MAX_FEEDBACK_ITEMS = 100
MAX_ATTACHMENTS = 10
MAX_CONTENT_PARTS = 50
MAX_LIST_ITEMS = 100
MAX_DATA_BYTES = 16 * 1024

_ID_KEYS = frozenset({"id", "thread_id", "item_id", "after", "attachment_id"})
_SHORT_KEYS = frozenset({"model", "name", "mime_type", "group", "type", "kind", "order", "status", "icon"})
_LIST_LIMITS = {"item_ids": MAX_FEEDBACK_ITEMS, "attachments": MAX_ATTACHMENTS, "content": MAX_CONTENT_PARTS}
_DATA_KEYS = frozenset({"data", "payload", "result", "answers"})
_MESSAGE_TEXT_KEYS = frozenset({"text", "quoted_text"})  # the server's message_too_long covers them
_BULK_KEYS = frozenset({"audio_base64"})  # bounded by the body size only
# A JSON-escaped NUL: "\u0000" not itself escaped (an even number of backslashes before it).
_ESCAPED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def too_large(field: str, detail: str) -> ApiError:
    return ApiError(400, "field_too_large", f"{field} {detail}")


def check_no_nul(body: bytes) -> None:
    """400 when the body carries a NUL character anywhere, naming the first field that does."""
    if b"\x00" not in body and not _ESCAPED_NUL.search(body):
        return
    where = "the request body"
    try:
        where = _nul_path(json.loads(body), "") or where
    except ValueError:
        pass
    raise ApiError(
        400, "invalid_character", f"{where} contains a NUL character (\\u0000), which is not allowed"
    )


def _nul_path(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path or "body" if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        child_path = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and "\x00" in key:
            return f"a key of {path or 'the body'}"
        found = _nul_path(child, child_path)
        if found:
            return found
    return None


def check_action_type(request: Any) -> None:
    """threads.custom_action / threads.sync_custom_action: the SDK's Action defaults a missing
    `type` to its TypeVar, which then cannot be serialised (a 500): a string is required."""
    action = getattr(getattr(request, "params", None), "action", None)
    if action is not None and not (isinstance(action.type, str) and action.type):
        raise ApiError(400, "invalid_request", "params.action.type is required: a non-empty string")


def check_fields(request: Any, max_text_chars: int) -> None:
    """Bound every field of the parsed request (a ChatKitReq); raises ApiError 400."""
    check_action_type(request)
    dumped = request.model_dump(mode="json", exclude_none=True)
    budget = [MAX_DATA_BYTES]
    metadata = dict(dumped.get("metadata") or {})
    metadata.pop("page", None)  # bounded by max_page_context_bytes (invalid_page_context)
    if metadata:
        _spend(budget, "metadata", metadata)
    _walk(dumped.get("params", {}), "params", max_text_chars, budget)


def _walk(value: Any, path: str, max_text_chars: int, budget: list[int]) -> None:
    key = path.rsplit(".", 1)[-1]
    if isinstance(value, dict):
        for name, child in value.items():
            child_path = f"{path}.{name}"
            if name in _DATA_KEYS:
                _spend(budget, child_path, child)
            else:
                _walk(child, child_path, max_text_chars, budget)
    elif isinstance(value, list):
        limit = _LIST_LIMITS.get(key, MAX_LIST_ITEMS)
        if len(value) > limit:
            raise too_large(path, f"has {len(value)} entries; the limit is {limit}")
        for index, child in enumerate(value):
            # Ids in id lists (item_ids, attachments) are bounded like ids.
            child_path = f"{path}.{index}"
            if key in ("item_ids", "attachments") and isinstance(child, str):
                _bound(child, child_path, MAX_ID_CHARS)
            else:
                _walk(child, child_path, max_text_chars, budget)
    elif isinstance(value, str):
        if key in _ID_KEYS:
            _bound(value, path, MAX_ID_CHARS)
        elif key in _SHORT_KEYS:
            _bound(value, path, MAX_SHORT_CHARS)
        elif key not in _MESSAGE_TEXT_KEYS and key not in _BULK_KEYS:
            _bound(value, path, max_text_chars)


def _bound(value: str, path: str, limit: int) -> None:
    if len(value) > limit:
        raise too_large(path, f"is {len(value)} characters long; the limit is {limit}")


def _spend(budget: list[int], path: str, value: Any) -> None:
    """Free-form JSON to be stored: all of it in one request shares MAX_DATA_BYTES."""
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    budget[0] -= size
    if budget[0] < 0:
        raise too_large(
            path, f"is {size} bytes of free-form data; a request may carry {MAX_DATA_BYTES} in all"
        )
