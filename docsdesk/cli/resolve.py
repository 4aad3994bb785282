"""One resolution for every command: which assistant, and which collections it answers from.

`serve`, `search`, `eval`, `report`, `export` and `collections` read the same config as the
server (docsdesk.core.config_file: `--config`, DOCSDESK_CONFIG, ./docsdesk.toml, or the
DOCSDESK_* variables describing `default`), so a command looks at what the server answers
from. `--collection` overrides; `--assistant NAME` picks another assistant. A collection that
holds no documents is an error naming those that do, never a silent search of something else.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

from docsdesk.cli.common import fail, say

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from docsdesk.core.config_file import AssistantConfig, DeploymentConfig
    from docsdesk.core.settings import Settings


def add_assistant_arguments(parser: argparse.ArgumentParser, collection_help: str | None = None) -> None:
    parser.add_argument(
        "--assistant",
        metavar="NAME",
        help="the assistant (docsdesk.toml) whose collections to use (default: the main one, "
        "which POST /chatkit serves)",
    )
    parser.add_argument(
        "--collection",
        help=collection_help or "one collection instead of the assistant's (it must hold documents)",
    )


@dataclass(frozen=True)
class Resolved:
    config: DeploymentConfig
    assistant: AssistantConfig | None  # None: --collection alone
    collections: tuple[str, ...]

    @property
    def label(self) -> str:
        return ", ".join(self.collections)


def deployment(settings: Settings, args: argparse.Namespace) -> DeploymentConfig:
    from docsdesk.core.config_file import load_config

    return load_config(settings, getattr(args, "config", None))


def chosen_assistant(config: DeploymentConfig, name: str | None) -> AssistantConfig:
    """The assistant `name` (default: the config's default); a one-line error listing them."""
    found = config.get(name or config.default)
    if found is None:
        fail(f"no assistant named {name!r} (assistants: {', '.join(config.names())})")
        raise AssertionError  # unreachable: fail raises
    return found


async def resolve(engine: AsyncEngine, settings: Settings, args: argparse.Namespace) -> Resolved:
    """The collections a command works on, checked to hold documents."""
    from rag.collections import OWN_COLLECTION, missing_collections, unknown_collection_message

    config = deployment(settings, args)
    name = getattr(args, "assistant", None)
    collection = getattr(args, "collection", None)
    assistant = chosen_assistant(config, name) if name or not collection else None
    wanted = (collection,) if collection else assistant.collections if assistant else ()
    missing, existing = await missing_collections(engine, wanted)
    if missing and _demo_stands_in(settings, config, assistant, collection) and OWN_COLLECTION in existing:
        say(
            f"collection {missing[0]!r} holds no documents yet: using docsdesk's own docs, "
            "as the server does until you run `docsdesk ingest`"
        )
        return Resolved(config, assistant, (OWN_COLLECTION,))
    if missing:
        fail(unknown_collection_message(missing, existing))
    return Resolved(config, assistant, wanted)


def _demo_stands_in(
    settings: Settings, config: DeploymentConfig, assistant: AssistantConfig | None, collection: str | None
) -> bool:
    """The server's demo: no config file, no DOCSDESK_COLLECTION, nothing indexed yet."""
    return (
        config.path is None
        and assistant is not None
        and not collection
        and "collection" not in settings.model_fields_set
    )
