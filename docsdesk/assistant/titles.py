"""Conversation titles: the assistant's model writes one from the first message, in the
background of the first turn; a heuristic title when it cannot (offline model, failure)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from agents import Runner
from chatkit.types import UserMessageTextContent

from docsdesk.assistant.definition import Assistant

log = logging.getLogger("docsdesk.assistant")

MAX_TITLE_CHARS = 200  # what a client may set (threads.update)
TITLE_CHARS = 80  # what the model's title is cut to
TITLE_INPUT_CHARS = 2_000
TITLE_SECONDS = 15


def message_text(content: list[Any]) -> str:
    """A user message's text, tags as @name."""
    return "".join(
        part.text if isinstance(part, UserMessageTextContent) else f"@{part.text}" for part in content
    )


def heuristic_title(text: str) -> str:
    words = " ".join(text.split())
    if len(words) <= 60:
        return words.rstrip(" ?.!") or "New conversation"
    return words[:60].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


async def make_title(assistant: Assistant, first_message: str) -> str:
    fallback = heuristic_title(first_message)
    titler = assistant.titler
    if titler is None:
        return fallback
    try:
        result = await asyncio.wait_for(Runner.run(titler, first_message[:TITLE_INPUT_CHARS]), TITLE_SECONDS)
        title = " ".join(str(result.final_output).split()).strip("\"'“” .")
    except Exception:
        log.warning("title generation failed; using a heuristic title", exc_info=True)
        return fallback
    return title[:TITLE_CHARS] or fallback
