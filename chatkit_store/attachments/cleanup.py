"""The periodic clean-up: attachments never sent in a message are removed after a day
(their bytes with them), and files on disk whose attachment is gone (a crash between the
database commit and the unlink, an abandoned partial upload) are removed too.

Every process runs the loop; each round takes a transaction-level advisory lock and skips
the round when another process holds it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import bindparam, delete, select, text

from chatkit_store.attachments.service import AttachmentFiles
from chatkit_store.schema import attachments
from docsdesk.core.locks import try_xact_lock

log = logging.getLogger("docsdesk.attachments")

UNSENT_TTL_SECONDS = 24 * 3600
INTERVAL_SECONDS = 15 * 60
FIRST_ROUND_SECONDS = 60
ORPHAN_GRACE_SECONDS = 3600  # files younger than this may belong to a commit in flight
_LOCK = "docsdesk.attachments.cleanup"
_DELETE_UNSENT = (
    delete(attachments)
    .where(
        attachments.c.thread_id.is_(None),
        attachments.c.created_at < text("now() - make_interval(secs => :ttl)"),
    )
    .returning(attachments.c.id)
)
_EXISTING = select(attachments.c.id).where(attachments.c.id.in_(bindparam("ids", expanding=True)))


@dataclass
class CleanupReport:
    ran: bool
    unsent: int = 0
    orphan_files: int = 0


async def clean_up(files: AttachmentFiles, unsent_ttl_seconds: float = UNSENT_TTL_SECONDS) -> CleanupReport:
    """One round; `ran` is False when another process is doing it."""
    async with files.engine.begin() as conn:
        if not await try_xact_lock(conn, _LOCK):
            return CleanupReport(ran=False)
        unsent = list(await conn.scalars(_DELETE_UNSENT, {"ttl": float(unsent_ttl_seconds)}))
    await files.forget(unsent)
    orphans = 0
    if files.disk is not None:
        stored, partial = await asyncio.to_thread(files.disk.old_files, ORPHAN_GRACE_SECONDS)
        gone = list(partial)
        if stored:
            async with files.engine.connect() as conn:
                existing = set(await conn.scalars(_EXISTING, {"ids": list(stored)}))
            gone += [path for attachment_id, path in stored.items() if attachment_id not in existing]
        if gone:
            await asyncio.to_thread(_unlink_all, gone)
        orphans = len(gone)
    if unsent or orphans:
        log.info(
            "attachment clean-up: %d unsent attachments, %d orphaned files removed", len(unsent), orphans
        )
    return CleanupReport(ran=True, unsent=len(unsent), orphan_files=orphans)


def _unlink_all(paths: Iterable[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


async def run_periodically(files: AttachmentFiles, interval: float = INTERVAL_SECONDS) -> None:
    """Until cancelled: a round shortly after start, then every `interval` seconds."""
    await asyncio.sleep(FIRST_ROUND_SECONDS)
    while True:
        try:
            await clean_up(files)
        except Exception:
            log.warning("attachment clean-up failed; will retry", exc_info=True)
        await asyncio.sleep(interval)
