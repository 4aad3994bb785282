"""Which assistants MCP serves (its keys, tools and llms.txt), which collections each reads, and
which are public: the one place docsdesk.mcp asks.

Serving, the assistants are the server's own (`docsdesk.assistant.definition.Assistants`, the
registry the ChatKit server answers from, read live: `from_registry`); `docsdesk mcp` over
stdio, which runs no assistant, reads the same config file (`from_settings`). An assistant is
public with `mcp_public = true` in docsdesk.toml, the default one also with DOCSDESK_MCP_PUBLIC.
DOCSDESK_MCP_ASSISTANTS ({"name": ["collection", ...]}) names more, never public, reading exactly
those collections.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from docsdesk.assistant.definition import Assistants
from docsdesk.core.config_file import load_config
from docsdesk.core.context import DEFAULT_ASSISTANT
from docsdesk.core.settings import Settings
from rag.collections import ServingCollection

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class CollectionSource(Protocol):
    """Where an assistant's collection names come from (`rag.collections.ServingCollection`:
    the configured ones, or the own docs while they are empty)."""

    async def names(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class FixedCollection:
    """A collection named in the configuration, read as is."""

    configured: str

    async def names(self) -> tuple[str, ...]:
        return (self.configured,)


@dataclass(frozen=True)
class McpAssistant:
    name: str
    public: bool  # readable without a key
    sources: tuple[CollectionSource, ...]

    async def collections(self) -> list[str]:
        """The collections it reads (and the only ones its tools and llms.txt read)."""
        names = [name for source in self.sources for name in await source.names()]
        return list(dict.fromkeys(names))


class McpAssistants:
    """The assistants of one process, by name. Built on the server's registry, each lookup
    reads the registry as it is now, so a config reload reaches MCP too."""

    def __init__(
        self,
        assistants: Iterable[McpAssistant],
        registry: Assistants | None = None,
        settings: Settings | None = None,
    ) -> None:
        self._by_name = {assistant.name: assistant for assistant in assistants}
        self._registry, self._settings = registry, settings

    def names(self) -> list[str]:
        served = self._registry.names() if self._registry is not None else []
        return list(dict.fromkeys([*served, *self._by_name]))

    def get(self, name: str) -> McpAssistant | None:
        if self._registry is not None and self._settings is not None and name in self._registry.names():
            a = self._registry.get(name)
            return McpAssistant(a.name, a.mcp_public or _public(a.name, self._settings), (a.collection,))
        return self._by_name.get(name)

    @classmethod
    def from_registry(cls, registry: Assistants, settings: Settings) -> McpAssistants:
        """The server's assistants, each reading the collections it answers from."""
        return cls(_configured(settings), registry, settings)

    @classmethod
    def from_settings(cls, settings: Settings, engine: AsyncEngine) -> McpAssistants:
        """The assistants of the config file (docsdesk.toml), or the default one the
        environment describes (for a process that answers nothing: `docsdesk mcp`, keys)."""
        config = load_config(settings)
        fallback = config.path is None  # the environment's assistant keeps the own-docs demo
        return cls(
            [
                *(
                    McpAssistant(
                        a.name,
                        a.mcp_public or _public(a.name, settings),
                        (ServingCollection(engine, a.collections, demo_fallback=fallback),),
                    )
                    for a in config.assistants
                ),
                *_configured(settings),
            ]
        )


def _public(name: str, settings: Settings) -> bool:
    return name == DEFAULT_ASSISTANT and settings.mcp_public


def _configured(settings: Settings) -> list[McpAssistant]:
    return [
        McpAssistant(name, False, tuple(FixedCollection(c) for c in dict.fromkeys(collections)))
        for name, collections in settings.mcp_assistants.items()
    ]
