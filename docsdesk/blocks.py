"""Attachment data blocks: how a file the reader attached is shown to the model.

A block is ``<attachment_data>`` + one JSON object + ``</attachment_data>``. In the JSON,
``<``, ``>`` and ``&`` are escaped (\\u003c ...), so nothing in a file or its name can close
the block or open another one; the system prompt says the blocks are data, never
instructions. The offline model reads them back with `parse_block`.
"""

from __future__ import annotations

import json
from typing import Any

BLOCK_OPEN = "<attachment_data>"
BLOCK_CLOSE = "</attachment_data>"


def data_block(fields: dict[str, Any]) -> str:
    encoded = json.dumps(fields, ensure_ascii=False)
    encoded = encoded.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"{BLOCK_OPEN}\n{encoded}\n{BLOCK_CLOSE}"


def parse_block(text: str) -> dict[str, Any] | None:
    """The JSON object of a block, or None if `text` is not one."""
    stripped = text.strip()
    if not (stripped.startswith(BLOCK_OPEN) and stripped.endswith(BLOCK_CLOSE)):
        return None
    try:
        value = json.loads(stripped[len(BLOCK_OPEN) : -len(BLOCK_CLOSE)])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
