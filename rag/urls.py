"""Where a documentation page and its headings live on the published site.

Three URL styles: "mkdocs" (directory URLs: `a/b.md` -> `BASE/a/b/`), "docusaurus" (extension dropped,
`slug:`/`id:` front matter honoured) and "plain" (the path as-is). Heading anchors follow the generators:
python-markdown's toc slugify for mkdocs, github-slugger for docusaurus (and plain).
"""

from __future__ import annotations

import re
import unicodedata
from posixpath import normpath
from urllib.parse import quote, urlsplit

DOC_SUFFIXES = (".md", ".markdown", ".mdx", ".html", ".htm")
URL_STYLES = ("mkdocs", "docusaurus", "plain")

_INDEX_STEMS = frozenset({"index", "readme"})
_URL_SAFE = "/:@!$&'()*+,;=-._~"

# Docusaurus strips "01-", "2_", "3." number prefixes from folder and file names (not "1.2.3" versions).
_NUMBER_PREFIX = re.compile(r"^\d+\s*[-_.]+\s*(?=[^-_.\s])")
_VERSION_LIKE = re.compile(r"^\d+[-_.]\d+")

# python-markdown toc.slugify, separator "-".
_MKDOCS_STRIP = re.compile(r"[^\w\s-]")
_MKDOCS_COLLAPSE = re.compile(r"[-\s]+")
_MKDOCS_COUNT = re.compile(r"^(.*)_([0-9]+)$")

# github-slugger keeps letters, marks, decimal/letter numbers, connector punctuation, "-" and " ".
_GITHUB_KEEP_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "Pc"})


def check_style(style: str) -> str:
    """Return `style` if it is a known URL style, else raise a ValueError naming the choices."""
    if style not in URL_STYLES:
        raise ValueError(f"unknown url_style {style!r}; expected one of {', '.join(URL_STYLES)}")
    return style


def check_base_url(base_url: str, *, site_relative: bool = False) -> str:
    """`base_url` if it is an absolute http(s) URL with a host (or, with `site_relative`, a
    path starting with "/" or empty: docsdesk's own docs); else a ValueError saying what to write."""
    base = base_url.strip()
    if site_relative and (not base or base.startswith("/")):
        return base
    parts = urlsplit(base)
    if parts.scheme in ("http", "https") and parts.netloc:
        return base
    if not parts.scheme or "." in parts.scheme or not parts.netloc:
        example = "https://" + base.lstrip("/") if base else "https://docs.example.com/"
        raise ValueError(f"--base-url {base_url!r} has no scheme: write the full URL, e.g. {example}")
    raise ValueError(f"--base-url {base_url!r}: expected an http:// or https:// URL")


def normalise_base(base_url: str) -> str:
    """`base_url` with a trailing "/" (an empty base stays empty, giving site-relative URLs)."""
    base = base_url.strip()
    return base if not base or base.endswith("/") else base + "/"


def absolute_url(url: str, public_url: str | None) -> str:
    """A stored site-relative URL (docsdesk's own docs) made absolute with the public URL."""
    if url.startswith("/") and public_url:
        return normalise_base(public_url) + url[1:]
    return url


def page_key(url: str) -> str:
    """The page a URL points at, for comparing URLs: without its anchor, query string and
    trailing slash (`guide/?tab=1#install` and `guide` are one page)."""
    return url.split("#", 1)[0].split("?", 1)[0].rstrip("/")


def page_url(source_path: str, base_url: str, style: str, front_matter: dict) -> str:
    """The published URL of the page at `source_path` (posix, relative to the docs root)."""
    check_style(style)
    base = normalise_base(base_url)
    path = source_path.replace("\\", "/").lstrip("/")
    if path.startswith("./"):
        path = path[2:]
    if style == "plain":
        return base + quote(path, safe=_URL_SAFE)
    folder, _, name = path.rpartition("/")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    suffix = "." + suffix.lower() if suffix else ""
    if style == "mkdocs":
        rel = _mkdocs_path(folder, stem, suffix)
    else:
        rel = _docusaurus_path(folder, stem, front_matter)
    return base + quote(rel, safe=_URL_SAFE)


def _mkdocs_path(folder: str, stem: str, suffix: str) -> str:
    prefix = folder + "/" if folder else ""
    if stem.lower() in _INDEX_STEMS:
        return prefix
    if suffix in (".html", ".htm"):
        return f"{prefix}{stem}{suffix}"
    return f"{prefix}{stem}/"


def _strip_number_prefix(segment: str) -> str:
    if _VERSION_LIKE.match(segment):
        return segment
    return _NUMBER_PREFIX.sub("", segment, count=1)


def _docusaurus_path(folder: str, stem: str, front_matter: dict) -> str:
    dirs = [_strip_number_prefix(part) for part in folder.split("/") if part]
    folder_slug = "/".join(dirs)
    slug = str(front_matter.get("slug") or "").strip()
    if slug:
        if slug.startswith("/"):
            resolved = normpath(slug).lstrip("/")
        else:
            resolved = normpath(f"{folder_slug}/{slug}" if folder_slug else slug).lstrip("/")
        if resolved == ".":
            resolved = ""
        if slug.endswith("/") and resolved:
            resolved += "/"
        return resolved
    stem = _strip_number_prefix(stem)
    doc_id = str(front_matter.get("id") or "").strip()
    # index.md, README.md and a/a.md are the category index of their folder.
    is_index = stem.lower() in _INDEX_STEMS or (bool(dirs) and stem.lower() == dirs[-1].lower())
    if is_index and not doc_id:
        return folder_slug + "/" if folder_slug else ""
    leaf = doc_id or stem
    return f"{folder_slug}/{leaf}" if folder_slug else leaf


def heading_anchor(heading: str, style: str) -> str:
    """The anchor a generator gives `heading` (plain text) before de-duplication."""
    check_style(style)
    if style == "mkdocs":
        value = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode("ascii")
        value = _MKDOCS_STRIP.sub("", value).strip().lower()
        return _MKDOCS_COLLAPSE.sub("-", value)
    out = []
    for char in heading.lower():
        if char == " ":
            out.append("-")
        elif char == "-" or unicodedata.category(char) in _GITHUB_KEEP_CATEGORIES:
            out.append(char)
    return "".join(out)


class AnchorSlugger:
    """Per-page anchor allocation with the generator's de-duplication ("_1" mkdocs, "-1" otherwise)."""

    def __init__(self, style: str, reserved: set[str] | None = None) -> None:
        self.style = check_style(style)
        # mkdocs reserves explicit ids ({#id}) before numbering the other headings.
        self._used: set[str] = set(reserved or ()) if style == "mkdocs" else set()
        self._occurrences: dict[str, int] = {}
        # mkdocs: where the numbering of each slug stopped last time (every id before it on the
        # `x`, `x_1`, `x_2`... chain is taken), so 4,000 `## Options` are linear, not quadratic.
        self._resume: dict[str, str] = {}

    def anchor(self, heading: str, explicit_id: str | None = None) -> str:
        """Anchor of the next heading of the page (an explicit id wins unchanged)."""
        if explicit_id:
            self._used.add(explicit_id)
            return explicit_id
        slug = heading_anchor(heading, self.style)
        if self.style == "mkdocs":
            start = slug
            slug = self._resume.get(start, slug)
            while slug in self._used or not slug:
                match = _MKDOCS_COUNT.match(slug)
                slug = f"{match.group(1)}_{int(match.group(2)) + 1}" if match else f"{slug}_1"
            self._used.add(slug)
            self._resume[start] = slug
            return slug
        original = slug
        while slug in self._occurrences:
            self._occurrences[original] += 1
            slug = f"{original}-{self._occurrences[original]}"
        self._occurrences[slug] = 0
        return slug
