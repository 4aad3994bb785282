"""A docs folder uploaded as a .tar.gz (from CI), checked, unpacked and ingested into a
collection as one source (`upload:COLLECTION`): the next upload replaces it, re-chunking only
the files that changed and removing those it no longer holds.

Every member is checked before anything is unpacked: regular files and folders only (no
symbolic or hard links, devices or FIFOs), no absolute paths, no `..`, at most MAX_MEMBERS
members and MAX_UNPACKED_BYTES in all; then tarfile's `data` filter unpacks them (it refuses
the same again, and drops modes and owners). The upload endpoint checks the members
(`check_archive`) before it accepts the archive; the job that ingests it later
(docsdesk.jobs.uploads, `ingest_upload`) checks them again as it unpacks.
"""

from __future__ import annotations

import asyncio
import re
import tarfile
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath

from sqlalchemy.ext.asyncio import AsyncEngine

from rag.embeddings import Embedder
from rag.exclude import ExcludeRules
from rag.ingest import IngestError, ingest_sources
from rag.ingest_report import IngestSummary
from rag.sources import FolderSource, SourceError
from rag.urls import DOC_SUFFIXES, check_base_url, check_style

MAX_UPLOAD_BYTES = 50_000_000  # the compressed archive
MAX_UNPACKED_BYTES = 200_000_000
MAX_MEMBERS = 20_000
_DRIVE = re.compile(r"[A-Za-z]:")


class UploadRefused(ValueError):
    """The archive is not acceptable; `status` is 400 (malformed, hostile) or 413 (too large)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def checked_members(archive: Path) -> int:
    """Blocking: raise UploadRefused naming the first member that is not acceptable; the number
    of documentation files (by their suffix) otherwise."""
    total = documents = 0
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for count, member in enumerate(tar, start=1):
                if count > MAX_MEMBERS:
                    raise UploadRefused(f"more than {MAX_MEMBERS} members", 413)
                name = member.name[:200]
                path = PurePosixPath(member.name)
                if path.is_absolute() or member.name.startswith(("/", "\\")) or _DRIVE.match(member.name):
                    raise UploadRefused(f"{name!r}: absolute path")
                if ".." in path.parts or "\\" in member.name:
                    raise UploadRefused(f"{name!r}: a path out of the folder ('..' or '\\')")
                if member.issym() or member.islnk():
                    raise UploadRefused(f"{name!r}: links are not accepted")
                if not (member.isfile() or member.isdir()):
                    raise UploadRefused(f"{name!r}: only files and folders are accepted")
                total += member.size
                if total > MAX_UNPACKED_BYTES:
                    raise UploadRefused(f"more than {MAX_UNPACKED_BYTES} bytes unpacked", 413)
                documents += member.isfile() and path.name.lower().endswith(DOC_SUFFIXES)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise UploadRefused(f"not a readable .tar.gz ({exc})") from None
    return documents


NO_DOCUMENTS = "the archive holds no documentation files (.md, .markdown, .mdx, .html, .htm)"


def check_archive(archive: Path) -> None:
    """Blocking: what the upload endpoint checks before it accepts an archive (every member,
    and that there is something to ingest); UploadRefused naming the problem."""
    if not checked_members(archive):
        raise UploadRefused(NO_DOCUMENTS)


def check_target(base_url: str, url_style: str) -> None:
    """The base URL and URL style of an upload's pages; UploadRefused naming the problem."""
    try:
        check_base_url(base_url, site_relative=True)
        check_style(url_style)
    except ValueError as exc:
        raise UploadRefused(str(exc)) from None


def unpack(archive: Path, into: Path) -> None:
    """Blocking: check then unpack `archive` under `into`."""
    checked_members(archive)
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise UploadRefused(f"cannot unpack the archive ({exc})") from None


def _folder_source(folder: Path, collection: str, base_url: str, url_style: str) -> FolderSource:
    [source] = FolderSource.discover([folder], base_url=base_url, url_style=url_style, rules=ExcludeRules())
    source.root = f"upload:{collection}"  # the same identity for every upload to the collection
    return source


async def ingest_upload(
    engine: AsyncEngine,
    archive: Path,
    collection: str,
    *,
    base_url: str,
    url_style: str = "mkdocs",
    embedder: Embedder | None = None,
    report: Callable[[int, int | None], None] | None = None,
    locked: Callable[[], Awaitable[None]] | None = None,
) -> IngestSummary:
    """Unpack `archive` (checked) into a temporary folder and bring `collection`'s uploaded
    documents in line with it (`report` and `locked` as for rag.ingest.ingest_sources).
    UploadRefused for a bad archive, IngestError otherwise."""
    check_target(base_url, url_style)
    with tempfile.TemporaryDirectory(prefix="docsdesk-upload-") as scratch:
        folder = Path(scratch) / "docs"
        await asyncio.to_thread(folder.mkdir)
        await asyncio.to_thread(unpack, archive, folder)
        try:
            source = await asyncio.to_thread(_folder_source, folder, collection, base_url, url_style)
        except SourceError as exc:
            raise UploadRefused(str(exc)) from None
        if not source.count():
            raise UploadRefused(NO_DOCUMENTS)
        return await ingest_sources(
            engine,
            [source],
            collection=collection,
            anchor_style=url_style,
            embedder=embedder,
            report=report,
            locked=locked,
        )


__all__ = [
    "MAX_UPLOAD_BYTES",
    "IngestError",
    "UploadRefused",
    "check_archive",
    "check_target",
    "ingest_upload",
    "unpack",
]
