"""Delimited data blocks for the model: untrusted values (the reader's page, a quoted
selection, an attached file) shown as

    <page_context>
    {"title": "...", "url": "..."}
    </page_context>

The value is JSON in which every ``<``, ``>`` and ``&`` is written as a ``\\u`` escape, so no
delimiter, of this block or any other, in any letter case, can appear inside a block: the
text between the tags holds no ``<`` at all, and JSON quoting keeps every value in its field.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: The reader's quoted selection, shown for the message being answered.
QUOTE_BLOCK = "quoted_text"
QUOTE_INTRO = "The reader is asking about this selection:"

_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def to_json(value: Any) -> str:
    """`value` as one line of JSON with no ``<``, ``>`` or ``&`` characters."""
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return re.sub(r"[<>&]", lambda m: _ESCAPES[m.group()], text)


def data_block(name: str, value: Any) -> str:
    """`value` between ``<name>`` and ``</name>`` lines (see the module docstring)."""
    return f"<{name}>\n{to_json(value)}\n</{name}>"


def read_block(name: str, text: str) -> Any | None:
    """The value of a block `data_block(name, ...)` wrote at the start of `text`, or None."""
    text = text.strip()
    start, end = f"<{name}>\n", f"\n</{name}>"
    if not (text.startswith(start) and text.endswith(end)):
        return None
    try:
        return json.loads(text[len(start) : -len(end)])
    except ValueError:
        return None


#: A file the reader attached (its name, type and text), shown for the message being answered.
ATTACHMENT_BLOCK = "attachment_data"


def attachment_block(fields: dict[str, Any]) -> str:
    return data_block(ATTACHMENT_BLOCK, fields)


def parse_attachment_block(text: str) -> dict[str, Any] | None:
    """The fields of an attachment block, or None if `text` is not one."""
    value = read_block(ATTACHMENT_BLOCK, text)
    return value if isinstance(value, dict) else None
