"""Which assistants MCP serves (its keys, tools and llms.txt), which collections each reads, and
which are public: the one place docsdesk.mcp asks.

Serving, the assistants are the server's own (`docsdesk.assistant.definition.Assistants`, the
registry the ChatKit server answers from: `from_registry`); `docsdesk mcp` over stdio, which
runs no assistant, takes the default assistant the settings describe (`from_settings`, as
`AssistantRegistry.from_settings` makes it). `default` is public with DOCSDESK_MCP_PUBLIC. Until
assistants are configured in their own right, DOCSDESK_MCP_ASSISTANTS ({"name": ["collection",
...]}) names more, never public, reading exactly those collections.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from docsdesk.assistant.definition import Assistants
from docsdesk.core.context import DEFAULT_ASSISTANT
from docsdesk.core.settings import Settings
from rag.collections import ServingCollection

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class CollectionSource(Protocol):
    """Where an assistant's collection name comes from (`rag.collections.ServingCollection`:
    the configured one, or the own docs while that is empty)."""

    async def name(self) -> str: ...


@dataclass(frozen=True)
class FixedCollection:
    """A collection named in the configuration, read as is."""

    configured: str

    async def name(self) -> str:
        return self.configured


@dataclass(frozen=True)
class McpAssistant:
    name: str
    public: bool  # readable without a key
    sources: tuple[CollectionSource, ...]

    async def collections(self) -> list[str]:
        """The collections it reads (and the only ones its tools and llms.txt read)."""
        return list(dict.fromkeys([await source.name() for source in self.sources]))


class McpAssistants:
    """The assistants of one process, by name."""

    def __init__(self, assistants: Iterable[McpAssistant]) -> None:
        self._by_name = {assistant.name: assistant for assistant in assistants}

    def names(self) -> list[str]:
        return list(self._by_name)

    def get(self, name: str) -> McpAssistant | None:
        return self._by_name.get(name)

    @classmethod
    def from_registry(cls, registry: Assistants, settings: Settings) -> McpAssistants:
        """The server's assistants, each reading the collection it answers from."""
        served = [registry.get(name) for name in registry.names()]
        return cls(
            [
                *(McpAssistant(a.name, _public(a.name, settings), (a.collection,)) for a in served),
                *_configured(settings),
            ]
        )

    @classmethod
    def from_settings(cls, settings: Settings, engine: AsyncEngine) -> McpAssistants:
        """The default assistant the settings describe (for a process that answers nothing)."""
        default = ServingCollection(engine, settings.collection)
        public = _public(DEFAULT_ASSISTANT, settings)
        return cls([McpAssistant(DEFAULT_ASSISTANT, public, (default,)), *_configured(settings)])


def _public(name: str, settings: Settings) -> bool:
    return name == DEFAULT_ASSISTANT and settings.mcp_public


def _configured(settings: Settings) -> list[McpAssistant]:
    return [
        McpAssistant(name, False, tuple(FixedCollection(c) for c in dict.fromkeys(collections)))
        for name, collections in settings.mcp_assistants.items()
    ]
