"""`GET /embed.js`: the browser script that connects ChatKit's widget to docsdesk.

The script is package data (`docsdesk/static/embed.js`), read once when the app is built. Its
version (the ``VERSION`` it declares) makes the cache-friendly URL `/embed.js?v=VERSION`,
cached for a year; the plain URL is revalidated every few minutes with its ETag."""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from fastapi import Request, Response

SCRIPT_NAME = "embed.js"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, max-age=300"
_VERSION = re.compile(rb'\bvar VERSION = "([0-9]+\.[0-9]+\.[0-9]+)";')


@dataclass(frozen=True)
class EmbedScript:
    body: bytes
    gzipped: bytes
    version: str
    etag: str

    def response(self, request: Request) -> Response:
        """The script, or 304 when the client's copy (If-None-Match) is this one."""
        pinned = request.query_params.get("v") == self.version
        compressed = _accepts_gzip(request.headers.get("accept-encoding", ""))
        body = self.gzipped if compressed else self.body
        headers = {
            # One ETag per representation: a cache must not answer a gzip request with plain bytes.
            "ETag": self.etag[:-1] + '-gz"' if compressed else self.etag,
            "Cache-Control": IMMUTABLE if pinned else REVALIDATE,
            "Vary": "Accept-Encoding",
            "X-Docsdesk-Embed-Version": self.version,
            "X-Content-Type-Options": "nosniff",
            # Public code: loadable by any page, also as an ES module (a CORS request).
            "Access-Control-Allow-Origin": "*",
            "Cross-Origin-Resource-Policy": "cross-origin",
        }
        if compressed:
            headers["Content-Encoding"] = "gzip"
        if _matches(request.headers.get("if-none-match"), headers["ETag"]):
            return Response(status_code=304, headers=headers)
        response = Response(
            b"" if request.method == "HEAD" else body,
            media_type="text/javascript; charset=utf-8",
            headers=headers,
        )
        if request.method == "HEAD":
            response.headers["Content-Length"] = str(len(body))
        return response


def load_embed_script() -> EmbedScript:
    """The packaged script with its version and ETag; ValueError if it declares no version."""
    body = resources.files("docsdesk").joinpath("static", SCRIPT_NAME).read_bytes()
    match = _VERSION.search(body)
    if match is None:
        raise ValueError(f"docsdesk/static/{SCRIPT_NAME} declares no VERSION")
    digest = hashlib.sha256(body).hexdigest()[:32]
    return EmbedScript(
        body=body,
        gzipped=gzip.compress(body, compresslevel=9, mtime=0),
        version=match.group(1).decode(),
        etag=f'"{digest}"',
    )


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in candidates or etag in candidates


def _accepts_gzip(accept_encoding: str) -> bool:
    """Whether Accept-Encoding allows gzip (listed, or `*`, without q=0)."""
    for entry in accept_encoding.lower().split(","):
        coding, *params = [part.strip() for part in entry.split(";")]
        if coding in ("gzip", "*"):
            for param in params:
                if param.startswith("q="):
                    try:
                        return float(param[2:]) > 0
                    except ValueError:
                        return False
            return True
    return False
