"""`docsdesk ingest --url https://docsdesk.example.com --token ... ./docs`: from a CI job that
reaches the server but not its database. The folder's documentation files are packed into a
.tar.gz (in a spooled temporary file: memory up to 8 MB, then disk) and streamed to
`POST /admin/api/collections/{name}/upload`, which answers 202 with the job that ingests it; the
command follows the job (`GET /admin/api/jobs/{id}`), says its progress on stderr, prints its
one-line summary and exits 1 with the job's error when it failed."""

from __future__ import annotations

import argparse
import io
import os
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from docsdesk.cli.common import CommandError, fail, say

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
    server = args.url.rstrip("/")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(headers=headers, timeout=httpx.Timeout(30.0, read=300.0)) as client:
        with pack(folder) as archive:
            try:
                response = client.post(
                    f"{server}/admin/api/collections/{args.collection}/upload",
                    params={"base_url": args.base_url, "url_style": args.url_style},
                    content=_chunks(archive),
                    headers={"Content-Type": "application/gzip"},
                )
            except httpx.HTTPError as exc:
                fail(f"cannot upload to {args.url}: {exc}")
                return
        if response.status_code >= 400:
            fail(f"the server refused the upload ({response.status_code}): {_message(response)}")
        job = response.json()
        say(f"uploaded {folder}: job {job['job']} ingests it into collection '{args.collection}'")
        ended = wait_for_job(client, server + job["url"], args.wait)
    if ended["state"] != "succeeded":
        fail(f"job {ended['id']} {ended['state']}: {ended.get('error') or 'no reason given'}")
    print(
        f"docsdesk: uploaded {folder} into collection '{args.collection}' (job {ended['id']}):"
        f" {ended['result']['summary']}"
    )


def wait_for_job(client, url: str, within: float, every: float = 1.0) -> dict:
    """Poll the job at `url` until it ends (its JSON), saying its progress as it changes. The
    server away for a while (a restart) is waited for; past `within` seconds it is an error."""
    import httpx

    deadline = time.monotonic() + within
    shown, trouble = "", ""
    while time.monotonic() < deadline:
        try:
            response = client.get(url)
        except httpx.HTTPError as exc:
            trouble = f"cannot reach the server ({exc})"
        else:
            if response.status_code < 400:
                job = response.json()
                if job["state"] in ENDED:
                    return job
                line, trouble = describe_progress(job), ""
                if line != shown:
                    say(line)
                    shown = line
            elif response.status_code in (502, 503, 504):
                trouble = f"the server answers {response.status_code}"
            else:
                fail(f"cannot follow the job ({response.status_code}): {_message(response)}")
        time.sleep(every)
    raise CommandError(
        f"the job did not end within {within:g} s" + (f" ({trouble})" if trouble else "") + f": see {url}"
    )


ENDED = ("succeeded", "failed", "cancelled")


def describe_progress(job: dict) -> str:
    progress = job.get("progress") or {}
    line = f"job {job['id']} {job['state']}"
    if job["state"] == "running" and progress.get("stage"):
        line += f": {progress['stage']}"
        if progress.get("files"):
            line += f" {progress.get('done', 0)} of {progress['files']} files"
    if job.get("attempts", 0) > 1:
        line += f" (attempt {job['attempts']})"
    if job["state"] == "queued" and job.get("error"):
        line += f" ({job['error']})"
    return line


def _message(response) -> str:
    try:
        return str(response.json()["error"]["message"])[:500]
    except (ValueError, KeyError, TypeError):
        return response.text[:200].strip() or response.reason_phrase
