"""The attachment types docsdesk accepts, and the check of a file's bytes against its type.

A type is chosen from the declared MIME type (or, when the browser declares a generic one,
from the file name's extension) and must be on the allowed list. The bytes must then agree:
binary types by their magic numbers, text types by being valid UTF-8 without NUL bytes.
Nothing here is ever served as HTML or SVG: neither is a kind.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import PurePosixPath

from docsdesk.core.settings import ATTACHMENT_KINDS


@dataclass(frozen=True)
class Kind:
    name: str  # the setting's name for it
    mime: str  # the canonical type, stored and served
    label: str
    extensions: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    magic: tuple[bytes, ...] = ()  # prefixes; empty for text kinds
    image: bool = False

    @property
    def text(self) -> bool:
        return not self.magic


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("png", "image/png", "PNG", (".png",), magic=(b"\x89PNG\r\n\x1a\n",), image=True),
        Kind(
            "jpeg",
            "image/jpeg",
            "JPEG",
            (".jpg", ".jpeg"),
            ("image/jpg", "image/pjpeg"),
            magic=(b"\xff\xd8\xff",),
            image=True,
        ),
        Kind("webp", "image/webp", "WebP", (".webp",), magic=(b"RIFF",), image=True),
        Kind("gif", "image/gif", "GIF", (".gif",), magic=(b"GIF87a", b"GIF89a"), image=True),
        Kind("pdf", "application/pdf", "PDF", (".pdf",), ("application/x-pdf",), magic=(b"%PDF-",)),
        Kind("text", "text/plain", "plain text", (".txt", ".text")),
        Kind("markdown", "text/markdown", "Markdown", (".md", ".markdown", ".mdx"), ("text/x-markdown",)),
        Kind("json", "application/json", "JSON", (".json",), ("text/json", "application/x-json")),
        Kind(
            "yaml",
            "application/yaml",
            "YAML",
            (".yaml", ".yml"),
            ("application/x-yaml", "text/yaml", "text/x-yaml"),
        ),
        Kind("csv", "text/csv", "CSV", (".csv",), ("application/csv", "text/x-csv")),
        Kind("log", "text/x-log", "log", (".log",), ("text/log",)),
    )
}
assert set(KINDS) == set(ATTACHMENT_KINDS), "settings.ATTACHMENT_KINDS and KINDS must list the same kinds"

# Declared types that say nothing specific: the extension decides.
_GENERIC = {"", "application/octet-stream", "text/plain", "application/vnd.ms-excel", "binary/octet-stream"}
_BY_MIME = {mime: kind for kind in KINDS.values() for mime in (kind.mime, *kind.aliases)}
_BY_EXTENSION = {ext: kind for kind in KINDS.values() for ext in kind.extensions}
SNIFF_BYTES = 16


def base_type(mime_type: str) -> str:
    return mime_type.split(";", 1)[0].strip().lower()


def resolve_kind(mime_type: str, name: str) -> Kind | None:
    """The kind a file declares, by its MIME type, else (generic type) its extension."""
    mime = base_type(mime_type)
    extension = PurePosixPath(name.replace("\\", "/")).suffix.lower()
    if mime in _GENERIC and extension in _BY_EXTENSION:
        return _BY_EXTENSION[extension]
    return _BY_MIME.get(mime)


class ContentMismatch(ValueError):
    """The bytes are not what the declared type says."""


class Sniffer:
    """Checks a file's bytes, chunk by chunk, against its kind; raises ContentMismatch."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self._head = b""
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict") if kind.text else None
        self._checked = False

    def feed(self, data: bytes) -> None:
        if not self._checked:
            self._head += data[: SNIFF_BYTES - len(self._head)]
            if len(self._head) >= SNIFF_BYTES:
                self._check_head()
        if self._decoder is not None:
            if b"\x00" in data:
                raise ContentMismatch(f"the file is not {self.kind.label}: it contains NUL bytes")
            try:
                self._decoder.decode(data)
            except UnicodeDecodeError:
                raise ContentMismatch(
                    f"the file is not {self.kind.label}: it is not valid UTF-8 text"
                ) from None

    def finish(self) -> None:
        if not self._checked:
            self._check_head()
        if self._decoder is not None:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise ContentMismatch(
                    f"the file is not {self.kind.label}: it ends inside a UTF-8 sequence"
                ) from None

    def _check_head(self) -> None:
        self._checked = True
        head = self._head
        if not self.kind.magic:
            return
        ok = any(head.startswith(magic) for magic in self.kind.magic)
        if self.kind.name == "webp":
            ok = ok and head[8:12] == b"WEBP"
        if not ok:
            raise ContentMismatch(f"the file's bytes are not {self.kind.label} (declared {self.kind.mime})")


def format_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"
