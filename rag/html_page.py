"""HTML pages read with the stdlib `html.parser` into the same sections as Markdown: the
<article> (else <main>, else everything), minus scripts, styles, navigation and headers; headings
keep their real ids."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from rag.budget import check as check_budget
from rag.parsed_page import ParsedPage, Section, Unit

__all__ = ["parse_html"]

_HTML_SKIP = frozenset(
    [
        "script",
        "style",
        "nav",
        "noscript",
        "template",
        "svg",
        "iframe",
        "button",
        "footer",
        "form",
        "select",
        "canvas",
        "object",
        "dialog",
    ]
)
_HTML_BLOCKS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "header",
        "hr",
        "html",
        "li",
        "main",
        "ol",
        "p",
        "section",
        "summary",
        "table",
        "tbody",
        "tfoot",
        "thead",
        "tr",
        "ul",
    ]
)
_HTML_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)
_HEADING_TAGS = {f"h{level}": level for level in range(1, 7)}
_HEADERLINK_CLASSES = frozenset({"headerlink", "hash-link", "anchor", "anchorjs-link"})
_CODE_LANG = re.compile(r"\b(?:language|lang|highlight-source)-([\w+#.-]+)")
_TRAILING_MARKS = "¶\u200b \t\n"
_BACKTICKS = re.compile(r"`{3,}")
_BREAK = "\x00"  # a <br>, kept through whitespace collapsing
# Dropped before parsing (html.parser is the slow part): comments and elements never shown as text.
# An unclosed comment or raw-text element runs to the end of the page (as in a browser), so a
# page of unclosed `<!--` or `<script>` costs one pass, not one pass per opener (issue 23).
_HTML_NOISE = re.compile(
    r"<!--.*?(?:-->|\Z)|<(script|style|svg|noscript|template)\b[^>]*+(?:>.*?(?:</\1\s*+>|\Z)|\Z)", re.S | re.I
)


@dataclass(slots=True)
class _HtmlEvent:
    kind: str  # "heading" | "text" | "item" (list line) | "row" (table row) | "code"
    text: str
    scope: int  # 2 inside <article>, 1 inside <main>, 0 elsewhere
    level: int = 0
    anchor: str | None = None


class _HtmlExtractor(HTMLParser):
    """Collects headings, paragraphs, list/table lines and <pre> code from an HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[_HtmlEvent] = []
        self.title: str | None = None
        self._buffer: list[str] = []
        self._line_kind = "text"
        self._skip_tag: str | None = None
        self._skip_depth = 0
        self._pre_depth = 0
        self._pre: list[str] = []
        self._pre_lang = ""
        self._heading: tuple[int, str | None] | None = None
        self._heading_buffer: list[str] = []
        self._in_title = False
        self._title_buffer: list[str] = []
        self._article = 0
        self._main = 0
        self._cells = 0
        self._lists: list[int] = []  # open lists: next item number of an <ol>, 0 for a <ul>
        self._marker = ""

    @property
    def _scope(self) -> int:
        return 2 if self._article else 1 if self._main else 0

    def _flush(self) -> None:
        text = "".join(self._buffer)
        if self._line_kind == "item" and self._marker and text.strip() == self._marker.strip():
            return  # a list item's marker waits for the item's first block (<li><p>...)
        self._buffer = []
        lines = [" ".join(part.split()) for part in text.split(_BREAK)]
        text = "\n".join(part for part in lines if part)
        if text:
            self.events.append(_HtmlEvent(self._line_kind, text, self._scope))
        self._line_kind = "text"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        check_budget()
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth += 1
            return
        attributes = dict(attrs)
        if self._starts_skipped(tag, attributes):
            return
        if tag == "article":
            self._article += 1
        elif tag == "main":
            self._main += 1
        if self._pre_depth:
            self._start_in_pre(tag, attributes)
        elif tag == "pre":
            self._flush()
            self._pre_depth, self._pre, self._pre_lang = 1, [], self._language(attributes)
        elif tag in _HEADING_TAGS:
            self._flush()
            self._heading = (_HEADING_TAGS[tag], attributes.get("id") or None)
            self._heading_buffer = []
        elif self._heading is not None:
            if tag == "a" and not self._heading[1]:
                anchor = attributes.get("id") or attributes.get("name")
                if anchor:
                    self._heading = (self._heading[0], anchor)
            elif tag == "code":
                self._heading_buffer.append("`")
        else:
            self._start_in_text(tag, attributes)

    def _starts_skipped(self, tag: str, attributes: dict[str, str | None]) -> bool:
        """Whether `tag` opens an element never read as text (its content skipped); a heading's
        permalink still gives the heading its anchor."""
        classes = set((attributes.get("class") or "").split())
        if not (
            tag in _HTML_SKIP
            or (tag == "header" and not (self._article or self._main))
            or (tag == "a" and classes & _HEADERLINK_CLASSES)
        ):
            return False
        if tag == "a" and self._heading and not self._heading[1]:
            href = attributes.get("href") or ""
            if href.startswith("#") and len(href) > 1:
                self._heading = (self._heading[0], href[1:])
        if tag not in _HTML_VOID:
            self._skip_tag, self._skip_depth = tag, 1
        return True

    def _start_in_pre(self, tag: str, attributes: dict[str, str | None]) -> None:
        if tag == "pre":
            self._pre_depth += 1
        elif tag == "code" and not self._pre_lang:
            self._pre_lang = self._language(attributes)
        elif tag == "br":
            self._pre.append("\n")

    def _start_in_text(self, tag: str, attributes: dict[str, str | None]) -> None:
        """A start tag in body text: titles, breaks, lists, tables, blocks."""
        if tag == "title":
            self._in_title, self._title_buffer = True, []
        elif tag == "br":
            self._buffer.append(_BREAK)
        elif tag == "code":
            self._buffer.append("`")
        elif tag in ("ul", "ol"):
            self._flush()
            start = (attributes.get("start") or "1").strip()
            self._lists.append((int(start) if start.isdigit() else 1) if tag == "ol" else 0)
        elif tag == "li":
            self._flush()
            number = self._lists[-1] if self._lists else 0
            if number:
                self._lists[-1] += 1
            self._marker = f"{number}. " if number else "- "
            self._line_kind = "item"
            self._buffer.append(self._marker)
        elif tag == "tr":
            self._flush()
            self._line_kind, self._cells = "row", 0
        elif tag in ("td", "th"):
            self._buffer.append("| " if self._cells == 0 else " | ")
            self._cells += 1
        elif tag == "dt" or tag == "dd":
            self._flush()
            self._line_kind = "item"
        elif tag in _HTML_BLOCKS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth -= 1
                if self._skip_depth == 0:
                    self._skip_tag = None
            return
        if tag == "article" and self._article:
            self._article -= 1
        elif tag == "main" and self._main:
            self._main -= 1
        if self._pre_depth:
            if tag == "pre":
                self._pre_depth -= 1
                if self._pre_depth == 0:
                    code = "".join(self._pre).strip("\n")
                    if code.strip():
                        longest = max((len(run) for run in _BACKTICKS.findall(code)), default=0)
                        fence = "`" * max(3, longest + 1)
                        self.events.append(
                            _HtmlEvent("code", f"{fence}{self._pre_lang}\n{code}\n{fence}", self._scope)
                        )
            return
        if tag in _HEADING_TAGS and self._heading is not None:
            level, anchor = self._heading
            self._heading = None
            text = " ".join("".join(self._heading_buffer).split()).rstrip(_TRAILING_MARKS)
            self.events.append(_HtmlEvent("heading", text, self._scope, level, anchor))
        elif self._heading is not None:
            if tag == "code":
                self._heading_buffer.append("`")
        elif tag == "title":
            self._in_title = False
            self.title = " ".join("".join(self._title_buffer).split()) or None
        elif tag == "code":
            self._buffer.append("`")
        elif tag == "summary":
            self._buffer.append(":")
            self._flush()
        elif tag in ("ul", "ol"):
            self._flush()
            if self._lists:
                self._lists.pop()
        elif tag == "tr" and self._cells:
            self._buffer.append(" |")
            self._flush()
        elif tag in _HTML_BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        check_budget()
        if self._skip_tag is not None:
            return
        if self._pre_depth:
            self._pre.append(data)
        elif self._heading is not None:
            self._heading_buffer.append(data)
        elif self._in_title:
            self._title_buffer.append(data)
        else:
            self._buffer.append(data)

    @staticmethod
    def _language(attributes: dict[str, str | None]) -> str:
        match = _CODE_LANG.search(attributes.get("class") or "")
        return match.group(1) if match else ""

    def close(self) -> None:
        super().close()
        self._flush()


def _escape_unclosed_tail(text: str) -> str:
    """No `<` after the last `>` can open a complete tag: make them text. html.parser would
    rescan to the end of the page for each one (`</` or `<?` repeated: quadratic)."""
    last = text.rfind(">")
    if text.find("<", last + 1) < 0:
        return text
    return text[: last + 1] + text[last + 1 :].replace("<", "&lt;")


def parse_html(text: str) -> ParsedPage:
    """Parse an HTML page: the <article> (else <main>, else everything) minus scripts/styles/nav."""
    extractor = _HtmlExtractor()
    extractor.feed(_escape_unclosed_tail(_HTML_NOISE.sub(" ", text)))
    extractor.close()
    best = max((event.scope for event in extractor.events), default=0)
    sections = [Section(0, "", None, "")]
    previous_kind = ""
    for event in extractor.events:
        if event.scope < best:
            continue
        if event.kind == "heading":
            heading = " ".join(event.text.replace("`", "").split())
            sections.append(Section(event.level, heading, event.anchor, f"{'#' * event.level} {event.text}"))
        elif event.kind in ("item", "row") and previous_kind == event.kind and sections[-1].units:
            last = sections[-1].units[-1]
            sections[-1].units[-1] = Unit(f"{last.text}\n{event.text}")
        else:
            sections[-1].units.append(Unit(event.text, code=event.kind == "code"))
        previous_kind = event.kind
    return ParsedPage({}, sections, html_title=extractor.title, ids_only=True)
