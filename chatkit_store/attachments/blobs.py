"""Where attachment bytes live, behind one small interface: PostgreSQL (default) or a
directory on disk (DOCSDESK_ATTACHMENTS_DIR, for a single node).

Bytes go in and out in CHUNK_BYTES pieces: an upload never sits whole in memory, and no
pooled connection is held while waiting for the client (each chunk is one short statement).
Disk I/O runs in worker threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from chatkit_store.attachments.schema import attachment_chunks

CHUNK_BYTES = 256 * 1024
BATCH_CHUNKS = 4  # rows per statement, in and out
_SAFE_ID = re.compile(r"^atc_[0-9a-f]{32}$")


class BlobWriter(Protocol):
    async def write(self, data: bytes) -> None: ...
    async def finish(self) -> None: ...
    async def abort(self) -> None: ...


class BlobStorage(Protocol):
    name: str

    def writer(self, attachment_id: str) -> BlobWriter: ...

    def read(self, attachment_id: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Bytes [start, end) in pieces of at most CHUNK_BYTES."""
        ...

    async def delete(self, attachment_ids: Iterable[str]) -> None: ...


class _Buffered:
    """Collects writes into CHUNK_BYTES pieces for `_put`."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.seq = 0

    async def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= CHUNK_BYTES:
            piece = bytes(self._buffer[:CHUNK_BYTES])
            del self._buffer[:CHUNK_BYTES]
            await self._put(piece)

    async def _flush(self) -> None:
        if self._buffer:
            piece, self._buffer = bytes(self._buffer), bytearray()
            await self._put(piece)

    async def _put(self, piece: bytes) -> None:
        raise NotImplementedError


# --- PostgreSQL -----------------------------------------------------------------------

_INSERT_CHUNK = insert(attachment_chunks)
_CHUNKS = (
    select(attachment_chunks.c.seq, attachment_chunks.c.data)
    .where(
        attachment_chunks.c.attachment_id == bindparam("id"),
        attachment_chunks.c.seq >= bindparam("first"),
        attachment_chunks.c.seq < bindparam("upto"),
    )
    .order_by(attachment_chunks.c.seq)
)
# Chunk writes need not wait for the WAL flush: the upload's final commit (marking the file
# ready) is synchronous, and WAL is flushed in order, so it makes every chunk before it durable.
_ASYNC_COMMIT = text("SET LOCAL synchronous_commit TO off")
_DELETE_CHUNKS = delete(attachment_chunks).where(attachment_chunks.c.attachment_id == bindparam("id"))


class PostgresBlobs:
    """Bytes in `attachment_chunks`, one row per CHUNK_BYTES."""

    name = "postgres"

    def __init__(self, engine: AsyncEngine) -> None:
        self._writes = engine
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    def writer(self, attachment_id: str) -> BlobWriter:
        return _PostgresWriter(self._writes, attachment_id)

    async def read(self, attachment_id: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        seq, skip = divmod(start, CHUNK_BYTES)
        position = seq * CHUNK_BYTES
        while end is None or position < end:
            # BATCH_CHUNKS rows per short read; the connection goes back before we yield.
            async with self._engine.connect() as conn:
                rows = (
                    await conn.execute(
                        _CHUNKS, {"id": attachment_id, "first": seq, "upto": seq + BATCH_CHUNKS}
                    )
                ).all()
            if not rows:
                return
            for row in rows:
                if row.seq != seq or (end is not None and position >= end):
                    return
                piece = bytes(row.data)
                stop = len(piece) if end is None else min(len(piece), end - position)
                if skip or stop < len(piece):
                    piece = piece[skip:stop]
                skip = 0
                if piece:
                    yield piece
                position += CHUNK_BYTES
                seq += 1
            if len(rows) < BATCH_CHUNKS:
                return

    async def delete(self, attachment_ids: Iterable[str]) -> None:
        # The rows go with their attachment (ON DELETE CASCADE); nothing else to do.
        return None


class _PostgresWriter(_Buffered):
    """Writes BATCH_CHUNKS rows per short transaction, in the background: the next piece
    is received from the client while the previous batch is being inserted (at most one
    batch in flight, so an upload holds at most two batches in memory)."""

    def __init__(self, engine: AsyncEngine, attachment_id: str) -> None:
        super().__init__()
        self._engine = engine
        self._id = attachment_id
        self._batch: list[dict[str, Any]] = []
        self._inflight: asyncio.Task[None] | None = None

    async def _put(self, piece: bytes) -> None:
        self._batch.append({"attachment_id": self._id, "seq": self.seq, "data": piece})
        self.seq += 1
        if len(self._batch) >= BATCH_CHUNKS:
            await self._send()

    async def _send(self) -> None:
        await self._settle()
        rows, self._batch = self._batch, []
        if rows:
            self._inflight = asyncio.create_task(self._insert(rows))

    async def _insert(self, rows: list[dict[str, Any]]) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(_ASYNC_COMMIT)
            await conn.execute(_INSERT_CHUNK, rows)

    async def _settle(self) -> None:
        task, self._inflight = self._inflight, None
        if task is not None:
            await task

    async def finish(self) -> None:
        await self._flush()
        await self._send()
        await self._settle()

    async def abort(self) -> None:
        task, self._inflight = self._inflight, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        async with self._engine.begin() as conn:
            await conn.execute(_DELETE_CHUNKS, {"id": self._id})


# --- a directory on disk --------------------------------------------------------------


class DiskBlobs:
    """Bytes in files under `root`: `root/<last two hex digits>/<attachment id>`; uploads
    are written to `root/.partial/` and renamed into place when complete."""

    name = "disk"

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.partial = self.root / ".partial"

    def prepare(self) -> None:
        """Blocking: create the directories (at start-up)."""
        self.partial.mkdir(parents=True, exist_ok=True)

    def path(self, attachment_id: str) -> Path:
        if not _SAFE_ID.fullmatch(attachment_id):
            raise ValueError(f"not an attachment id: {attachment_id!r}")
        return self.root / attachment_id[-2:] / attachment_id

    def writer(self, attachment_id: str) -> BlobWriter:
        return _DiskWriter(self, attachment_id)

    async def read(self, attachment_id: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        try:
            handle = await asyncio.to_thread(open, self.path(attachment_id), "rb")
        except FileNotFoundError:
            return
        try:
            if start:
                await asyncio.to_thread(handle.seek, start)
            position = start
            while end is None or position < end:
                want = CHUNK_BYTES if end is None else min(CHUNK_BYTES, end - position)
                piece = await asyncio.to_thread(handle.read, want)
                if not piece:
                    return
                position += len(piece)
                yield piece
        finally:
            await asyncio.to_thread(handle.close)

    async def delete(self, attachment_ids: Iterable[str]) -> None:
        paths = [self.path(i) for i in attachment_ids if _SAFE_ID.fullmatch(i)]
        if paths:
            await asyncio.to_thread(_unlink_all, paths)

    def old_files(self, older_than_seconds: float) -> tuple[dict[str, Path], list[Path]]:
        """Blocking: stored files and abandoned partial uploads not modified for the given
        time (for the periodic clean-up: it removes those whose attachment is gone)."""
        cutoff = time.time() - older_than_seconds
        stored: dict[str, Path] = {}
        partial: list[Path] = []
        if not self.root.is_dir():
            return stored, partial
        for path in self.root.glob("*/*"):
            try:
                if not path.is_file() or path.stat().st_mtime >= cutoff:
                    continue
            except FileNotFoundError:
                continue
            if path.parent == self.partial:
                partial.append(path)
            elif _SAFE_ID.fullmatch(path.name):
                stored[path.name] = path
        return stored, partial


def _unlink_all(paths: Iterable[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


class _DiskWriter(_Buffered):
    def __init__(self, blobs: DiskBlobs, attachment_id: str) -> None:
        super().__init__()
        self._final = blobs.path(attachment_id)
        self._partial = blobs.partial / f"{attachment_id}.{secrets.token_hex(4)}"
        self._handle: io.FileIO | None = None
        self._finished = False

    async def _put(self, piece: bytes) -> None:
        if self._handle is None:
            self._handle = await asyncio.to_thread(_open_new, self._partial)
        await asyncio.to_thread(self._handle.write, piece)
        self.seq += 1

    async def finish(self) -> None:
        await self._flush()
        if self._handle is None:
            self._handle = await asyncio.to_thread(_open_new, self._partial)
        await asyncio.to_thread(_commit, self._handle, self._partial, self._final)
        self._handle = None
        self._finished = True

    async def abort(self) -> None:
        """Remove what was written (also after finish(): the file already moved into place)."""
        handle, self._handle = self._handle, None
        await asyncio.to_thread(_discard, handle, self._final if self._finished else self._partial)


def _open_new(path: Path) -> io.FileIO:
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb", buffering=0)


def _commit(handle: io.FileIO, partial: Path, final: Path) -> None:
    try:
        handle.flush()
        os.fsync(handle.fileno())
    finally:
        handle.close()
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(partial, final)


def _discard(handle: io.FileIO | None, partial: Path) -> None:
    if handle is not None:
        handle.close()
    partial.unlink(missing_ok=True)
