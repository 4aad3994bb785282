"""What `docsdesk serve` does before it binds: open (and migrate) the database, index --docs,
check every assistant's collections, and say what is served and how it is searched."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docsdesk.cli.common import fail, say

if TYPE_CHECKING:
    from docsdesk.core.database import Database
    from docsdesk.core.settings import Settings


async def prepare_serving(config: Settings, args: argparse.Namespace) -> Database:
    """Open (and migrate) the database, index --docs and check every assistant's collections."""
    from docsdesk.core.database import open_database

    db = await open_database(config)
    try:
        await index_for_serving(db, config, args)
    except BaseException:
        await db.close()
        raise
    await db.engine.dispose()
    return db


async def index_for_serving(db: Database, config: Settings, args: argparse.Namespace) -> None:
    """Index --docs (into --assistant's first collection); with a config file, every
    assistant's collections must hold documents; without one, docsdesk's own docs stand in
    as a demo while the collection is empty."""
    from docsdesk.cli.resolve import chosen_assistant, deployment
    from docsdesk.cli.search import checked_base_url
    from docsdesk.own_docs import own_docs_root
    from rag.collections import (
        OWN_COLLECTION,
        collection_summary,
        ingest_own_docs,
        missing_collections,
        unknown_collection_message,
    )
    from rag.embeddings import build_embedder
    from rag.ingest import ingest

    deployed = deployment(config, args)
    target = chosen_assistant(deployed, args.assistant).collections[0]
    embedder = build_embedder(config.embeddings, config)
    if args.docs:
        if not args.base_url:
            fail("--docs needs --base-url (the URL the docs are published at)")
        checked_base_url(args.base_url)
        summary = await ingest(
            db.engine,
            [Path(p) for p in args.docs],
            base_url=args.base_url,
            collection=target,
            url_style=args.url_style,
            embedder=embedder,
            progress=sys.stderr.isatty(),
            exclude=args.exclude,
        )
        say(f"indexed {', '.join(map(str, args.docs))} into '{target}': {summary.describe()}")
    if deployed.path is not None:
        wanted = list(dict.fromkeys(c for a in deployed.assistants for c in a.collections))
        missing, existing = await missing_collections(db.engine, wanted)
        if missing:
            fail(f"{deployed.path}: {unknown_collection_message(missing, existing)}")
        for a in deployed.assistants:
            say(f"assistant '{a.name}': collections {', '.join(a.collections)}")
        for name in wanted:
            say_collection(await collection_summary(db.engine, name), embedder)
        return
    served = await collection_summary(db.engine, target)
    if served.files == 0:
        summary = await ingest_own_docs(db.engine, embedder, own_docs_root())
        served = await collection_summary(db.engine, OWN_COLLECTION)
        say(
            f"no documentation given (docsdesk serve --docs DIR --base-url URL): serving "
            f"docsdesk's own docs as a demo ({summary.describe()})"
        )
    say_collection(served, embedder)


def say_collection(served: Any, embedder: Any) -> None:
    """What a served collection holds and how it is searched (and when it is re-embedded)."""
    from rag.collections import embedder_note

    note = embedder_note(served, embedder.name if embedder is not None else None)
    mode = "full text only" if note or embedder is None else f"full text + {embedder.name} vectors"
    say(f"docs: collection '{served.name}': {served.files} files, {served.chunks} chunks; search: {mode}")
    if note:
        say(note)
