"""A git repository as a `DocumentSource`: the documentation files of one commit (never the
working tree) under a path, read with the git CLI (`git ls-tree -r -l -z`, `git cat-file
--batch`). Each document's version is its blob id: a blob read before is not read again.

A local repository is read in place; a URL is cloned (bare) once into the cache directory and
fetched before each sync. Only the file, git, http(s) and ssh transports are allowed.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from rag.exclude import ExcludeRules
from rag.source_state import Failure, Known
from rag.sources import (
    MEDIA_TYPES,
    Document,
    DocumentSource,
    SourceError,
    folder_page_url,
    media_type_of,
    source_kind,
)
from rag.urls import check_style

GIT_SECONDS = 300.0  # a clone or fetch
LIST_SECONDS = 60.0
MAX_BLOB_BYTES = 5_000_000
_SAFE_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/@{}^~-]{0,199}")
_ENV = {
    "GIT_ALLOW_PROTOCOL": "file:git:http:https:ssh",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "LC_ALL": "C",
}


@dataclass(frozen=True)
class GitSettings:
    repo: str
    ref: str = "main"
    path: str = ""
    base_url: str = "/"
    url_style: str = "mkdocs"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GitSettings:
        settings = cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})
        if not settings.repo or settings.repo.startswith("-"):
            raise SourceError(f"git repository {settings.repo[:200]!r}: give a path or a URL")
        if not _SAFE_REF.fullmatch(settings.ref) or ".." in settings.ref:
            raise SourceError(f"git ref {settings.ref[:200]!r}: not a branch, tag or commit name")
        path = PurePosixPath(settings.path.strip("/") or ".")
        if path.is_absolute() or ".." in path.parts:
            raise SourceError(f"--path {settings.path[:200]!r}: a folder inside the repository")
        check_style(settings.url_style)
        if not settings.is_url:  # a local repository, recorded as an absolute path
            return replace(settings, repo=os.path.abspath(os.path.expanduser(settings.repo)))
        return settings

    @property
    def is_url(self) -> bool:
        return "://" in self.repo or re.match(r"^[\w.-]+@[\w.-]+:", self.repo) is not None

    @property
    def prefix(self) -> str:
        path = self.path.strip("/")
        return "" if path in ("", ".") else path + "/"


@source_kind
class GitSource(DocumentSource):
    kind: ClassVar[str] = "git"

    def __init__(
        self,
        root: str,
        settings: GitSettings,
        known: dict[str, Known],
        cache_dir: Path,
        rules: ExcludeRules | None = None,
    ) -> None:
        self.root = root
        self.settings = settings
        self.known = known
        self.cache_dir = cache_dir
        self.rules = rules if rules is not None else ExcludeRules()
        self.fetched = 0
        self.failures: list[Failure] = []
        self.seen: dict[str, Known] = {}
        self.commit: str | None = None

    async def documents(self) -> AsyncIterator[Document]:
        git_dir = await self._repository()
        ref = f"{self.settings.ref}^{{commit}}"
        self.commit = (await _git(git_dir, "rev-parse", "--verify", "--end-of-options", ref)).strip().decode()
        listed = await self._list(git_dir, self.commit)
        wanted = []
        for key, blob, size in listed:
            known = self.known.get(key)
            if known is not None and known.version == blob:
                self.seen[key] = known
                yield Document(key, known.url, media_type_of(key), b"", blob, unchanged=True)
            elif size > MAX_BLOB_BYTES:
                self.failures.append(Failure(key, f"larger than {MAX_BLOB_BYTES} bytes ({size})"))
            else:
                wanted.append((key, blob))
        async for key, blob, data in _cat_blobs(git_dir, wanted):
            url = folder_page_url(key, data, self.settings.base_url, self.settings.url_style)
            self.fetched += 1
            self.seen[key] = Known(url, blob)
            yield Document(key, url, media_type_of(key), data, blob)

    async def _repository(self) -> str:
        """The git directory to read: the local repository, or the refreshed clone of the URL."""
        settings = self.settings
        if not settings.is_url:
            found = await _run(["git", "-C", settings.repo, "rev-parse", "--absolute-git-dir"], LIST_SECONDS)
            return found.strip().decode()
        clone = self.cache_dir / "git" / hashlib.sha256(settings.repo.encode()).hexdigest()[:24]
        if not await asyncio.to_thread(_prepare_clone_dir, clone):
            await _run(["git", "clone", "--bare", "--quiet", "--", settings.repo, str(clone)], GIT_SECONDS)
        else:
            refs = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]
            await _git(
                str(clone), "fetch", "--quiet", "--prune", "--", settings.repo, *refs, seconds=GIT_SECONDS
            )
        return str(clone)

    async def _list(self, git_dir: str, commit: str) -> list[tuple[str, str, int]]:
        """(key relative to --path, blob id, size) of the commit's documentation files."""
        prefix = self.settings.prefix
        args = ["ls-tree", "-r", "-l", "-z", "--full-tree", commit]
        out = await _git(git_dir, *args, *(["--", prefix] if prefix else []), seconds=LIST_SECONDS)
        found = []
        for entry in out.split(b"\0"):
            if not entry:
                continue
            meta, _, name = entry.partition(b"\t")
            mode, kind, blob, size = meta.split()
            path = name.decode("utf-8", errors="replace")
            if kind != b"blob" or mode not in (b"100644", b"100755") or not path.startswith(prefix):
                continue  # links, submodules
            key = path[len(prefix) :]
            if PurePosixPath(key).suffix.lower() in MEDIA_TYPES and not self._excluded(key):
                found.append((key, blob.decode(), int(size)))
        return sorted(found)

    def _excluded(self, key: str) -> bool:
        parts = key.split("/")
        folders = ["/".join(parts[: i + 1]) for i in range(len(parts) - 1)]
        return any(self.rules.skip(folder, is_dir=True) for folder in folders) or self.rules.skip(
            key, is_dir=False
        )


def _prepare_clone_dir(clone: Path) -> bool:
    """Whether `clone` holds a clone already (else its parent is made, for `git clone`)."""
    if (clone / "HEAD").exists():
        return True
    clone.parent.mkdir(parents=True, exist_ok=True)
    return False


async def _cat_blobs(git_dir: str, wanted: list[tuple[str, str]]) -> AsyncIterator[tuple[str, str, bytes]]:
    """(key, blob id, bytes) of each wanted blob, from one `git cat-file --batch`."""
    if not wanted:
        return
    process = await asyncio.create_subprocess_exec(
        "git", "--git-dir", git_dir, "cat-file", "--batch",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, **_ENV},
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None

    async def feed() -> None:
        assert process.stdin is not None
        for _, blob in wanted:
            process.stdin.write(f"{blob}\n".encode())
            await process.stdin.drain()
        process.stdin.close()

    feeder = asyncio.create_task(feed())
    try:
        for key, blob in wanted:
            header = (await process.stdout.readline()).split()
            if len(header) != 3 or header[1] != b"blob":
                raise SourceError(f"git cat-file: cannot read blob {blob} ({key})")
            data = await process.stdout.readexactly(int(header[2]))
            await process.stdout.readexactly(1)  # the newline after each object
            yield key, blob, data
        await feeder
    finally:
        feeder.cancel()
        if process.returncode is None:
            process.kill()
        await process.wait()


async def _git(git_dir: str, *args: str, seconds: float = LIST_SECONDS) -> bytes:
    return await _run(["git", "--git-dir", git_dir, *args], seconds)


async def _run(argv: list[str], seconds: float) -> bytes:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, **_ENV}
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), seconds)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise SourceError(f"{' '.join(argv[:4])}: no answer within {seconds:g} s") from None
    if process.returncode != 0:
        message = err.decode("utf-8", errors="replace").strip().splitlines()
        raise SourceError(f"git: {message[-1] if message else f'exit status {process.returncode}'}")
    return out
