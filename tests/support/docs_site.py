"""A published documentation site for source tests and the benchmark: a threaded HTTP server
holding generated pages in the shape of an mkdocs-material build (site header, navigation,
sidebars, an "edit this page" button, a cookie banner, a footer around an <article>), with a
sitemap and robots.txt. It answers conditional GETs (ETag, Last-Modified) with 304 and counts
every request by path and status."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def page_html(title: str, body: str, nav: list[str]) -> str:
    links = "".join(f'<li><a href="{href}">{href}</a></li>' for href in nav)
    return f"""<!doctype html><html><head><title>{title} - Example Docs</title></head>
<body><header class="md-header"><a href="/">Example Docs</a> Search the site</header>
<div class="md-container"><nav class="md-nav" aria-label="Navigation"><ul>{links}</ul></nav>
<div class="md-sidebar md-sidebar--secondary"><nav class="md-nav--secondary">Table of contents</nav></div>
<main class="md-main"><article class="md-content__inner">
<a href="https://github.example/docs/edit/main/{title}.md" class="md-content__button" title="Edit this page">Edit</a>
<h1 id="{title.lower()}">{title}</h1>
{body}
<aside class="md-source-file">Last update: 2024-01-01</aside>
</article></main></div>
<div id="cookie-consent" class="cookie-banner">We use cookies to improve your experience. Accept all cookies</div>
<footer class="md-footer">Copyright Example Corp. Made with Material for MkDocs</footer>
</body></html>"""


class DocsSite:
    """Serves `pages` ({path: html}) at `origin` until closed; a context manager. `redirects`
    maps a path to a Location; `robots` is robots.txt's text; `lastmod` puts each page's
    modification date in the sitemap."""

    def __init__(self, pages: dict[str, str], *, robots: str = "", lastmod: bool = False) -> None:
        self.pages = dict(pages)
        self.redirects: dict[str, str] = {}
        self.robots = robots
        self.lastmod = lastmod
        self.modified: dict[str, float] = {path: 1_700_000_000.0 for path in pages}
        self.requests: Counter[tuple[str, int]] = Counter()
        self.delays: dict[str, float] = {}  # seconds before answering a path
        self.in_flight = 0
        self.most_in_flight = 0  # the most requests answered at once
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes

            def log_message(self, format, *args) -> None:
                pass

            def do_GET(self) -> None:
                with site.lock:
                    site.in_flight += 1
                    site.most_in_flight = max(site.most_in_flight, site.in_flight)
                try:
                    time.sleep(site.delays.get(self.path, 0.0))
                    status, headers, body = site.answer(self.path, self.headers)
                finally:
                    with site.lock:
                        site.in_flight -= 1
                with site.lock:
                    site.requests[(self.path, status)] += 1
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="docs-site", daemon=True)

    def set_page(self, path: str, html: str) -> None:
        with self.lock:
            self.pages[path] = html
            self.modified[path] = self.modified.get(path, 1_700_000_000.0) + 86_400

    def remove_page(self, path: str) -> None:
        with self.lock:
            self.pages.pop(path, None)

    def count(self, status: int | None = None, path: str | None = None) -> int:
        with self.lock:
            return sum(
                n
                for (p, s), n in self.requests.items()
                if (status is None or s == status) and (path is None or p == path)
            )

    def reset_counts(self) -> None:
        with self.lock:
            self.requests.clear()

    def answer(self, path: str, headers) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            if path == "/robots.txt":
                return (
                    (200, {"Content-Type": "text/plain"}, self.robots.encode())
                    if self.robots
                    else (404, {}, b"")
                )
            if path == "/sitemap.xml":
                return 200, {"Content-Type": "application/xml"}, self._sitemap().encode()
            if path in self.redirects:
                return 301, {"Location": self.redirects[path]}, b""
            if path not in self.pages:
                return 404, {"Content-Type": "text/html"}, b"<h1>Not found</h1>"
            body = self.pages[path].encode()
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            modified = formatdate(self.modified[path], usegmt=True)
        if headers.get("If-None-Match") == etag:
            return 304, {"ETag": etag}, b""
        return (
            200,
            {"Content-Type": "text/html; charset=utf-8", "ETag": etag, "Last-Modified": modified},
            body,
        )

    def _sitemap(self) -> str:
        entries = []
        for path in sorted(self.pages):
            lastmod = (
                f"<lastmod>{formatdate(self.modified[path], usegmt=True)}</lastmod>" if self.lastmod else ""
            )
            entries.append(f"<url><loc>{self.origin}{path}</loc>{lastmod}</url>")
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">' + "".join(entries) + "</urlset>"
        )

    def __enter__(self) -> DocsSite:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def generated_site(pages: int, prefix: str = "/docs/") -> dict[str, str]:
    """`pages` linked pages under `prefix` (each page links to the index and its neighbours)."""
    paths = [f"{prefix}page-{i}/" for i in range(pages)]
    site = {}
    for i, path in enumerate(paths):
        nav = [prefix, paths[(i + 1) % pages], paths[i - 1]]
        body = (
            f"<p>Page {i} explains widget number {i} and its settings.</p>"
            f'<h2 id="usage-{i}">Usage {i}</h2><p>Configure widget {i} with <code>--widget {i}</code>.</p>'
        )
        site[path] = page_html(f"Page{i}", body, nav)
    site[prefix] = page_html("Index", "<p>Welcome to the docs.</p>", paths)
    return site
