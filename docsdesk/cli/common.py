"""What every `docsdesk` command shares: one-line failures, the console narrative, settings."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from docsdesk.core.settings import Settings


class CommandError(Exception):
    """An expected failure: printed as one `docsdesk: error:` line, exit status 1."""


def fail(message: str) -> None:
    raise CommandError(message)


def say(message: str) -> None:
    """One line of the console narrative (stderr, so stdout stays for data)."""
    print(f"docsdesk: {message}", file=sys.stderr, flush=True)


def settings() -> Settings:
    from docsdesk.core.settings import get_settings

    return get_settings()


def run(coroutine) -> None:
    asyncio.run(coroutine)
