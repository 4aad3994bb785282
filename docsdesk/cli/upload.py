"""`docsdesk ingest --url https://docsdesk.example.com --token ... ./docs`: from a CI job that
reaches the server but not its database. The folder's documentation files are packed into a
.tar.gz (in a spooled temporary file: memory up to 8 MB, then disk) and streamed to
`POST /admin/api/collections/{name}/upload`, which ingests it before it answers."""

from __future__ import annotations

import argparse
import io
import os
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from docsdesk.cli.common import fail

SPOOL_BYTES = 8 * 1024 * 1024
SKIPPED_FOLDERS = {"node_modules", "site", "build", "_build", "__pycache__"}


def documentation_files(folder: Path) -> Iterator[Path]:
    """The folder's documentation files (as `docsdesk ingest` reads them): no hidden or built
    folders, no symbolic links (the server refuses links)."""
    from rag.urls import DOC_SUFFIXES

    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_FOLDERS)
        for name in sorted(files):
            path = Path(root, name)
            if name.lower().endswith(DOC_SUFFIXES) and not name.startswith(".") and not path.is_symlink():
                yield path


def pack(folder: Path) -> IO[bytes]:
    """The folder's documentation files as a .tar.gz, rewound."""
    archive = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - returned
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for path in documentation_files(folder):
            info = tarfile.TarInfo(path.relative_to(folder).as_posix())
            data = path.read_bytes()
            info.size, info.mtime, info.mode = len(data), int(path.stat().st_mtime), 0o644
            tar.addfile(info, io.BytesIO(data))
    archive.seek(0)
    return archive


def _chunks(archive: IO[bytes]) -> Iterator[bytes]:
    while chunk := archive.read(256 * 1024):
        yield chunk


def remote_ingest(args: argparse.Namespace) -> None:
    import httpx

    token = args.token or os.environ.get("DOCSDESK_ADMIN_TOKEN")
    if not token:
        fail("--url needs the admin token: --token or DOCSDESK_ADMIN_TOKEN")
    if not args.collection:
        fail("--url needs --collection (the collection the folder replaces on the server)")
    if len(args.paths) != 1 or not args.paths[0].is_dir():
        fail("--url uploads one folder: give its path")
    folder = args.paths[0]
    endpoint = f"{args.url.rstrip('/')}/admin/api/collections/{args.collection}/upload"
    params = {"base_url": args.base_url, "url_style": args.url_style}
    with pack(folder) as archive:
        try:
            response = httpx.post(
                endpoint,
                params=params,
                content=_chunks(archive),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/gzip"},
                timeout=httpx.Timeout(30.0, read=900.0),
            )
        except httpx.HTTPError as exc:
            fail(f"cannot upload to {args.url}: {exc}")
            return
    if response.status_code >= 400:
        fail(f"the server refused the upload ({response.status_code}): {_message(response)}")
    print(f"docsdesk: uploaded {folder} into collection '{args.collection}': {response.json()['summary']}")


def _message(response) -> str:
    try:
        return str(response.json()["error"]["message"])[:500]
    except (ValueError, KeyError, TypeError):
        return response.text[:200].strip() or response.reason_phrase
