"""Where documents come from: the `DocumentSource` extension point of ingestion.

A source yields `Document`s: a key stable within the source, the page's published URL, its
media type, its bytes and a version tag (an ETag, a Last-Modified date, a git blob id; for a
folder, the file's modification time and size). Ingestion (`rag.ingest.ingest_sources`) takes sources and
knows nothing else about them: it fingerprints each document, re-chunks what changed and, for a
`complete` source, removes the stored documents it no longer lists.

Adding a kind of source (a sitemap, a crawl, a git repository) is a subclass with a `kind`,
registered with `@source_kind`; `SOURCE_KINDS` maps each kind to its class.

`FolderSource` is the first: the documentation files under a directory (or a single file), with
URLs from the site generator's rules (`rag.urls`: mkdocs, docusaurus, plain).
"""

from __future__ import annotations

import asyncio
import os
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TypeVar

from rag.exclude import ExcludeRules
from rag.front_matter import parse_front_matter
from rag.paths import inside_root, open_regular
from rag.urls import DOC_SUFFIXES, check_style, page_url

MARKDOWN = "text/markdown"
MDX = "text/mdx"
HTML = "text/html"
MEDIA_TYPES = {".md": MARKDOWN, ".markdown": MARKDOWN, ".mdx": MDX, ".html": HTML, ".htm": HTML}


class SourceError(RuntimeError):
    """A source cannot be read; the message is one line for humans."""


@dataclass(frozen=True)
class Document:
    """One page from a source."""

    key: str  # stable within its source (a folder: the posix path relative to its root)
    url: str  # the page's published URL (no anchor)
    media_type: str  # one of MEDIA_TYPES' values
    data: bytes
    version: str  # changes when the content does: ETag, Last-Modified, blob id, digest
    # The source knows the stored copy is current (an HTTP 304, the same blob id): `data` is
    # empty and ingestion keeps the document's rows as they are.
    unchanged: bool = False


class DocumentSource(ABC):
    """A set of documents ingested together into one collection."""

    kind: ClassVar[str]
    root: str  # the source's identity, stored with each of its documents
    complete: bool = True  # lists all it holds: stored documents it does not list are gone

    @abstractmethod
    def documents(self) -> AsyncIterator[Document]:
        """The source's documents, in a stable order."""

    def count(self) -> int | None:
        """How many documents `documents()` will yield, when known beforehand (progress)."""
        return None


SOURCE_KINDS: dict[str, type[DocumentSource]] = {}
S = TypeVar("S", bound=type[DocumentSource])


def source_kind(cls: S) -> S:
    """Class decorator: register a `DocumentSource` subclass under its `kind`."""
    if cls.kind in SOURCE_KINDS:
        raise ValueError(f"source kind {cls.kind!r} is already registered")
    SOURCE_KINDS[cls.kind] = cls
    return cls


def media_type_of(name: str) -> str:
    """The media type of a documentation file, by its suffix."""
    suffix = Path(name).suffix.lower()
    if suffix not in MEDIA_TYPES:
        expected = ", ".join(DOC_SUFFIXES)
        raise ValueError(f"{name!r}: unsupported document type; expected one of {expected}")
    return MEDIA_TYPES[suffix]


def folder_page_url(key: str, data: bytes | str, base_url: str, url_style: str) -> str:
    """The published URL of the file `key` (posix, relative to the docs root) of a folder
    built by `url_style`'s generator; docusaurus pages may set theirs in front matter."""
    front_matter: dict[str, str] = {}
    if url_style == "docusaurus" and media_type_of(key) != HTML:
        text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
        front_matter, _ = parse_front_matter(text.lstrip("\ufeff").replace("\r\n", "\n"))
    return page_url(key, base_url, url_style, front_matter)


@source_kind
class FolderSource(DocumentSource):
    """The documentation files under a directory, or chosen files of one directory (then it
    is not `complete`: files of that directory it does not name are left alone)."""

    kind = "folder"

    def __init__(self, root: Path, keys: list[str], *, base_url: str, url_style: str, complete: bool) -> None:
        self.root = str(root)  # its identity (a subclass may name it otherwise)
        self.directory = Path(root)
        self.keys = keys
        self.base_url = base_url
        self.url_style = check_style(url_style)
        self.complete = complete

    @classmethod
    def discover(
        cls, paths: list[Path], *, base_url: str, url_style: str, rules: ExcludeRules | None = None
    ) -> list[FolderSource]:
        """Blocking: one source per directory given, and one per directory of single files,
        minus what `rules` exclude (rag.exclude; the defaults when None)."""
        rules = rules if rules is not None else ExcludeRules()
        roots: dict[str, tuple[Path, set[str], bool]] = {}
        for given in paths:
            path = Path(given).expanduser()
            if not path.exists():
                raise SourceError(f"{given}: no such file or directory")
            path = path.resolve()
            if path.is_file():
                media_type_or_error(given, path)
                _, keys, _ = roots.setdefault(str(path.parent), (path.parent, set(), False))
                keys.add(path.name)
            else:
                _, keys, _ = roots.get(str(path), (path, set(), True))
                keys.update(_walk(path, rules))
                roots[str(path)] = (path, keys, True)
        return [
            cls(root, sorted(keys), base_url=base_url, url_style=url_style, complete=complete)
            for root, keys, complete in roots.values()
        ]

    def count(self) -> int:
        return len(self.keys)

    async def documents(self) -> AsyncIterator[Document]:
        for key in self.keys:
            yield await asyncio.to_thread(self._read, key)

    def _read(self, key: str) -> Document:
        path = self.directory / key
        if (why := inside_root(self.directory, path)) is not None:  # changed since the walk
            raise SourceError(f"{path}: {why}")
        try:
            with open_regular(path.resolve()) as file:
                stat = os.fstat(file.fileno())
                data = file.read()
        except OSError as exc:
            raise SourceError(f"{path}: {exc.strerror or exc}") from exc
        url = folder_page_url(key, data, self.base_url, self.url_style)
        version = f"mtime:{stat.st_mtime_ns}:{stat.st_size}"
        return Document(key, url, media_type_of(key), data, version)


def media_type_or_error(given: Path | str, path: Path) -> str:
    try:
        return media_type_of(path.name)
    except ValueError:
        raise SourceError(f"{given}: not a documentation file ({', '.join(DOC_SUFFIXES)})") from None


def _walk(root: Path, rules: ExcludeRules) -> list[str]:
    """The documentation files under `root`, as posix paths relative to it (hidden files and
    folders, generated-site and theme folders, and `rules`' patterns left out; links out of
    the root, dangling links, FIFOs and devices left out and recorded in `rules.skipped`)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):  # never descends into linked folders
        here = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if here == "." else here + "/"
        dirnames[:] = [d for d in sorted(dirnames) if not rules.skip(prefix + d, is_dir=True)]
        for name in sorted(filenames):
            if Path(name).suffix.lower() in MEDIA_TYPES and not rules.skip(prefix + name, is_dir=False):
                if (why := inside_root(root, Path(dirpath, name))) is not None:
                    rules.skipped.append(f"{prefix + name} ({why})")
                else:
                    found.append(prefix + name)
    return found
