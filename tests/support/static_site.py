"""A second web origin for browser tests: a tiny threaded HTTP server for a directory of files,
on its own loopback port (so its pages are cross-origin to the docsdesk server under test)."""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


class StaticSite:
    """Serves `root` at `origin` (http://127.0.0.1:PORT) until closed; a context manager."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="static-site", daemon=True)

    def write(self, name: str, text: str) -> str:
        """Write a file under the root; return its URL."""
        (self.root / name).write_text(text, encoding="utf-8")
        return f"{self.origin}/{name}"

    def __enter__(self) -> StaticSite:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
