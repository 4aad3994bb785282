"""The per-request context handed to the ChatKit server and, through it, to the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RequestContext:
    """Who is asking, and what they sent besides the ChatKit payload.

    `user_id` and `tenant_id` come only from the authenticated identity (see auth.py);
    every store query is scoped to both. `metadata` is the request-level `metadata` of the
    ChatKit request body (the widget's page context lives there); it is untrusted data.
    """

    user_id: str
    tenant_id: str = ""
    request_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    request_type: str = ""
