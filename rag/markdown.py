"""Turn documentation source (Markdown, MDX, HTML) into clean sections of readable text.

A line scanner, not a full CommonMark parser: fast (well over 10 MB/s) and aware of what docs sites
use. Fenced code is kept intact (and never searched for headings); mkdocs-material admonitions and
content tabs, docusaurus `:::` admonitions, MDX import/export and JSX, HTML comments and tags, link and
image syntax, attribute lists, snippets and mkdocstrings `::: module.object` stubs are reduced to text.
HTML pages go through the stdlib `html.parser` into the same structure.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import yaml

from rag.budget import check as check_budget

__all__ = [
    "ParsedPage",
    "Section",
    "Unit",
    "clean_inline",
    "parse_front_matter",
    "parse_html",
    "parse_markdown",
    "plain_heading",
]


@dataclass(slots=True)
class Unit:
    """An indivisible piece of a section: a paragraph-like text block or a whole code block."""

    text: str
    code: bool = False


@dataclass(slots=True)
class Section:
    """A heading and the content up to the next heading (level 0: text before the first heading)."""

    level: int
    title: str  # plain text of the heading ("" for level 0)
    explicit_id: str | None  # `{#id}` in Markdown, the id attribute in HTML
    heading: str  # how the heading reads in chunk text, e.g. "## Title"
    units: list[Unit] = field(default_factory=list)


@dataclass(slots=True)
class ParsedPage:
    front_matter: dict[str, str]
    sections: list[Section]
    html_title: str | None = None  # <title> of an HTML page
    ids_only: bool = False  # HTML: anchors are the headings' real ids, never computed


# --------------------------------------------------------------------------- front matter

MAX_FRONT_MATTER_CHARS = 16 * 1024  # a longer leading block is not front matter
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split a leading `---` YAML block off `text`: its top-level scalar values as strings.

    Parsed with PyYAML's safe loader, within MAX_FRONT_MATTER_CHARS (a block whose closing
    `---` or `...` line is not within that many characters is left as text). Lists and
    nested mappings are dropped; a block that is not a mapping, or not valid YAML, gives no
    values (the block is still not page text). Without a closing line the text is returned
    unchanged.
    """
    if not text.startswith("---"):
        return {}, text
    first_end = text.find("\n")
    if first_end < 0 or text[:first_end].strip() != "---":
        return {}, text
    head = text[first_end + 1 : first_end + 1 + MAX_FRONT_MATTER_CHARS + 4]
    lines = head.split("\n")
    complete = len(head) < MAX_FRONT_MATTER_CHARS + 4  # else the last piece may be cut short
    offset = first_end + 1
    for line in lines if complete else lines[:-1]:
        if line.rstrip() in ("---", "..."):
            break
        offset += len(line) + 1
    else:
        return {}, text
    block = text[first_end + 1 : offset]
    body = text[offset:].split("\n", 1)[1] if "\n" in text[offset:] else ""
    try:
        loaded = yaml.load(block, Loader=_YAML_LOADER)
    except yaml.YAMLError:
        return {}, body
    if not isinstance(loaded, dict):
        return {}, body
    meta = {
        str(key): str(value).strip() if not isinstance(value, bool) else str(value).lower()
        for key, value in loaded.items()
        if value is not None and not isinstance(value, (dict, list, set, tuple))
    }
    return meta, body


# --------------------------------------------------------------------------- inline cleaning

_HTML_TAGS = frozenset(
    [
        "a",
        "abbr",
        "address",
        "article",
        "aside",
        "audio",
        "b",
        "bdi",
        "bdo",
        "big",
        "blockquote",
        "body",
        "br",
        "button",
        "canvas",
        "caption",
        "center",
        "cite",
        "code",
        "col",
        "colgroup",
        "dd",
        "del",
        "details",
        "dfn",
        "div",
        "dl",
        "dt",
        "em",
        "embed",
        "fieldset",
        "figcaption",
        "figure",
        "font",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "head",
        "header",
        "hr",
        "html",
        "i",
        "iframe",
        "img",
        "input",
        "ins",
        "kbd",
        "label",
        "legend",
        "li",
        "main",
        "mark",
        "meter",
        "nav",
        "noscript",
        "object",
        "ol",
        "optgroup",
        "option",
        "output",
        "p",
        "picture",
        "pre",
        "progress",
        "q",
        "s",
        "samp",
        "section",
        "select",
        "small",
        "source",
        "span",
        "strike",
        "strong",
        "sub",
        "summary",
        "sup",
        "svg",
        "table",
        "tbody",
        "td",
        "template",
        "textarea",
        "tfoot",
        "th",
        "thead",
        "time",
        "tr",
        "track",
        "tt",
        "u",
        "ul",
        "var",
        "video",
        "wbr",
    ]
)
# Atomic groups and possessive quantifiers: an attribute, once matched, is never re-split
# another way, so hostile input (`<A x={{a}} x={{a}} ...`) cannot backtrack exponentially.
_BRACED = r"\{(?:[^{}]++|\{[^{}]*+\})*+\}"
_JSX_ATTR = (
    r"(?>\s++(?>[^\s\"'{}<>/=]++(?>\s*+=\s*+(?>\"[^\"]*+\"|'[^']*+'|" + _BRACED + r"|[^\s\"'=<>`{]++))?+"
    r"|" + _BRACED + r"))*+"
)
_ATTR_TOKEN = r"(?>[#.][\w-]++|[\w-]++=(?>\"[^\"]*+\"|'[^']*+'|[^\s}]++))"
# Every alternative starts with a literal character, so the regex engine can skip plain text fast.
# A span with an opener and a closer (comments, <summary>) cannot run past the next opener, so
# a line of unclosed openers costs one pass, not one pass per opener (issue 23, item 3).
_INLINE = re.compile(
    r"`(?P<code>[^`]+`|(?P<ticks>`+)[^`].*?(?<!`)`(?P=ticks)(?!`))"
    r"|<(?P<comment>!--(?:(?!<!--).)*?-->)"
    r"|\{(?P<mdxcomment>/\*(?:(?!\{/\*).)*?\*/\})"
    r"|!(?P<img>\[(?:[^\[\]]|\[[^\[\]]*\])*\](?:\((?:[^()]|\([^()]*\))*\)|\[[^\]]*\]))"
    r"|\[(?P<link>(?P<ltext>(?:[^\[\]]|\[[^\[\]]*\])*)\]"
    r"(?:\((?:[^()\s]|\([^()]*\))*(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)|\[[^\]\n]*\]))"
    r"|\[(?P<fnref>\^[^\]\s]+\])"
    r"|<(?P<auto>(?P<aurl>(?:https?|ftp|mailto):[^<>\s]+)>)"
    r"|<(?P<summary>summary\b[^<>]*>(?P<stext>(?:(?!<summary\b).)*?)</summary\s*>)"
    r"|<(?P<tag>/?(?P<tname>[A-Za-z][\w.:-]*)(?P<attrs>" + _JSX_ATTR + r")\s*/?>)"
    r"|\{(?P<attr>(?>:[ \t]*+"
    + _ATTR_TOKEN
    + r"|[ \t]*+[#.][\w-]++)(?>[ \t]++"
    + _ATTR_TOKEN
    + r")*+[ \t]*+\})"
    r"|:(?P<icon>(?:material|fontawesome|octicons|simple)-[\w-]+:)"
    r"|&(?P<entity>(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);)",
    re.S,
)
_ICON = re.compile(r":(?:material|fontawesome|octicons|simple)-")
_DOUBLE_SPACE = re.compile(r"(?<=\S)[ \t]{2,}(?=\S)")
_GAP_BEFORE_PUNCTUATION = re.compile(r"(?<=\w)[ \t]+(?=[.,;:!?](?:\s|$))")
_LABEL_ATTR = re.compile(r"\blabel=(?:\"([^\"]*)\"|'([^']*)'|\{[\"']([^\"']*)[\"']\})")
_SKIP_WITH_CONTENT = ("script", "style")


def _inline_sub(match: re.Match[str], mdx: bool, dropped: list[bool]) -> str:
    kind = match.lastgroup
    if kind == "code":
        return match.group(0)
    if kind == "link":
        return clean_inline(match.group("ltext"), mdx=mdx)
    if kind == "auto":
        return match.group("aurl").removeprefix("mailto:")
    if kind == "summary":
        label = clean_inline(match.group("stext"), mdx=mdx).strip()
        return f"\n{label}:\n" if label else ""
    if kind == "tag":
        name = match.group("tname")
        if name.lower() in _HTML_TAGS and (not mdx or not name[0].isupper()):
            dropped[0] = True
            return " " if name.lower() == "br" else ""
        if mdx and name[0].isupper():
            found = _LABEL_ATTR.search(match.group("attrs") or "")
            if found and not match.group(0).startswith("</") and not match.group(0).endswith("/>"):
                return "\n" + next(g for g in found.groups() if g is not None) + ":\n"
            dropped[0] = True
            return ""
        return match.group(0)  # an unknown lowercase tag like <ARTICLE_TAG>: keep as text
    if kind == "entity":
        return html.unescape(match.group(0))
    dropped[0] = True
    return ""  # comments, images, footnote refs, attribute lists, icons


def clean_inline(text: str, *, mdx: bool = False) -> str:
    """Reduce inline Markdown/HTML syntax to text; inline code spans are kept verbatim."""
    # Quick test: plain text (code spans alone are kept as they are) needs no full pass.
    if not ("[" in text or "<" in text or "{" in text or "&" in text or (":" in text and _ICON.search(text))):
        return text
    dropped = [False]
    text = _INLINE.sub(lambda match: _inline_sub(match, mdx, dropped), text)
    if dropped[0]:  # close the gaps removed markup leaves ("a  b", "word .")
        text = _GAP_BEFORE_PUNCTUATION.sub("", _DOUBLE_SPACE.sub(" ", text))
    return text


# Emphasis spans at most 500 characters: a heading of unclosed `*a *a ...` costs a bounded scan
# per marker, not a scan to the end of the heading.
_EMPHASIS = re.compile(r"(\*{1,3}|(?<![\w\\])_{1,3})(?=\S)(.{1,500}?)(?<=\S)\1(?![\w*])")


def plain_heading(text: str, *, mdx: bool = False) -> str:
    """Heading text as a reader sees it: markup, backticks and emphasis markers removed."""
    text = clean_inline(text, mdx=mdx)
    if "*" in text or "_" in text:
        text = _EMPHASIS.sub(r"\2", text)
    return " ".join(text.replace("`", "").split())


# --------------------------------------------------------------------------- markdown blocks

# Possessive and greedy, the info string's trailing blanks stripped in Python: runs of blanks
# after an opener or a `#` cannot be split between two `[ \t]*` in every way (issue 23, item 3).
_FENCE = re.compile(r"(`{3,}+|~{3,}+)[ \t]*+([^`]*+)$")
_FENCE_TITLE = re.compile(r"""\btitle=(?:"([^"]*)"|'([^']*)'|(\S+))""")
# mkdocs-material code annotation markers `# (1)!` (the whole line when it holds nothing else).
_CODE_ANNOTATION = re.compile(
    r"^[ \t]*(?:#|//)[ \t]*\(\d+\)![ \t]*(?:\n|$)|[ \t]*(?:#|//)[ \t]*\(\d+\)![ \t]*$", re.M
)
_ATX = re.compile(r"(#{1,6}+)(?:[ \t]++(.*+))?$")
_HEADING_ATTRS = re.compile(r"\{:?[ \t]*+([^{}]*+)\}[ \t]*+")
_ATTR_TOKEN_RE = re.compile(_ATTR_TOKEN)
_SETEXT = re.compile(r" {0,3}(?:=+|-+)[ \t]*$")
_HRULE = re.compile(r"([-*_])(?:[ \t]*+\1){2,}+[ \t]*+$")
_ADMONITION = re.compile(
    r"(?:!!!|\?\?\?\+?)[ \t]*+([A-Za-z][\w-]*+)?((?:[ \t]++[\w-]++)*+)[ \t]*+(?:\"(.*?)\")?[ \t]*+$"
)
_TAB = re.compile(r"===\+?[ \t]+\"(.*?)\"[ \t]*$")
_DOCUSAURUS = re.compile(r"(:{3,}+)([A-Za-z][\w-]*+)(.*+)$")  # the rest: see _directive_title
_DOCUSAURUS_SPACED = re.compile(r"(:{3,}+)[ \t]++([A-Za-z][\w-]*+)(?:[ \t]++(.*+))?$")
_DOCUSAURUS_TYPES = frozenset(
    ["note", "tip", "info", "warning", "danger", "caution", "important", "success", "secondary", "details"]
)
_API_STUB = re.compile(r":::[ \t]+[\w.:-]+[ \t]*$")
_REF_DEF = re.compile(r"\[(?!\^)[^\]]+\]:[ \t]*\S+(?:[ \t]+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?[ \t]*$")
_ABBREVIATION = re.compile(r"\*\[[^\]]+\]:")
_ESM = re.compile(r"(?:import|export)\b")
_LIST_OR_QUOTE = re.compile(r"(?:[-+*>|]|\d+[.)])(?:[ \t]|$)")
_SPECIAL_START = frozenset("`~#!?=:<-*_[")
_MAX_NESTING = 24


def _atx_text(rest: str) -> str:
    """An ATX heading's text: trailing blanks and a closing `#` sequence (after a blank) removed."""
    body = rest.rstrip(" \t")
    trimmed = body.rstrip("#")
    if trimmed != body and trimmed[-1:] in (" ", "\t"):
        body = trimmed.rstrip(" \t")
    return body


def _heading_attrs(raw: str) -> tuple[str, int] | None:
    """A trailing attribute list `{#id .class}` of a heading: (its tokens, where it starts)."""
    start = raw.rfind("{")
    found = _HEADING_ATTRS.fullmatch(raw, start) if start >= 0 else None
    if found is None:
        return None
    return found.group(1), len(raw[:start].rstrip(" \t"))


def _directive_title(rest: str) -> tuple[bool, str | None]:
    """After `:::kind`: `[title]` or ` title`, then an optional `{attrs}` -> (valid, title)."""
    rest = rest.rstrip(" \t")
    if rest.endswith("}"):
        opening = rest.find("{", rest.rfind("}", 0, len(rest) - 1) + 1)
        if opening >= 0:
            rest = rest[:opening].rstrip(" \t")
    if not rest:
        return True, None
    if rest[0] == "[":
        return (True, rest[1:-1]) if rest.endswith("]") and len(rest) > 1 else (False, None)
    return (True, rest.strip(" \t")) if rest[0] in " \t" else (False, None)


def _indent_of(line: str, stripped: str) -> int:
    lead = line[: len(line) - len(stripped)]
    return len(lead.expandtabs(4)) if "\t" in lead else len(lead)


def _dedent(line: str, width: int) -> str:
    """Remove `width` columns of leading whitespace (tabs count as 4)."""
    head = line[:width]
    if len(head) == width and head.isspace() and "\t" not in head:
        return line[width:]
    stripped = line.lstrip()
    if not stripped:
        return ""
    return line[: len(line) - len(stripped)].expandtabs(4)[width:] + stripped


def _tidy(text: str) -> str:
    """Strip trailing spaces, drop lines left empty by cleaning, remove the common indent."""
    if "\n" not in text:
        return text.strip()
    lines = [line.rstrip() for line in text.split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    if any(line[0] in " \t" for line in lines):
        width = min(len(line) - len(line.lstrip()) for line in lines)
        if width:
            lines = [line[width:] for line in lines]
    return "\n".join(lines).strip()


class _MarkdownParser:
    """Scans lines once; top-level headings open sections, containers recurse on their bodies."""

    def __init__(self, mdx: bool) -> None:
        self.mdx = mdx
        self.sections: list[Section] = [Section(0, "", None, "")]
        self.para: list[str] = []
        self.depth = 0  # containers being parsed

    # -- output --------------------------------------------------------------
    @property
    def units(self) -> list[Unit]:
        return self.sections[-1].units

    def flush(self) -> None:
        if self.para:
            text = _tidy(clean_inline("\n".join(self.para), mdx=self.mdx))
            self.para = []
            if text:
                self.units.append(Unit(text))

    def heading(self, level: int, raw: str) -> None:
        self.flush()
        explicit_id = None
        attrs = _heading_attrs(raw)
        if attrs and all(_ATTR_TOKEN_RE.fullmatch(token) for token in attrs[0].split()):
            ids = [token[1:] for token in attrs[0].split() if token.startswith("#")]
            explicit_id = ids[0] if ids else None
            raw = raw[: attrs[1]]
        text = " ".join(_tidy(clean_inline(raw, mdx=self.mdx)).split())
        title = plain_heading(raw, mdx=self.mdx)
        self.sections.append(Section(level, title, explicit_id, f"{'#' * level} {text}".rstrip()))

    def labelled(self, label: str, body: list[str]) -> None:
        """A container (admonition, tab, ...): its label leads the first unit of its parsed body."""
        self.flush()
        units = self.units
        first = len(units)
        if self.depth >= _MAX_NESTING:  # absurdly deep nesting: keep the text, stop recursing
            self.para.extend(body)
            self.flush()
        else:
            self.depth += 1
            self.parse(body, top=False)
            self.depth -= 1
        if len(units) > first:
            units[first] = Unit(f"{label}\n{units[first].text}", units[first].code)
        else:
            units.append(Unit(label))

    # -- scanning ------------------------------------------------------------
    def parse(self, lines: list[str], *, top: bool) -> None:
        n = len(lines)
        i = 0
        special = _SPECIAL_START
        while i < n:
            check_budget()
            line = lines[i]
            stripped = line.lstrip()
            if not stripped:
                if self.para:
                    self.flush()
                i += 1
                continue
            first = stripped[0]
            if first in special or (self.mdx and first in "ie"):
                consumed = self.special(lines, i, stripped, top)
                if consumed:
                    i += consumed
                    continue
            self.para.append(line)
            i += 1
        self.flush()

    def special(self, lines: list[str], i: int, stripped: str, top: bool) -> int:
        """Handle a construct starting at line i; return how many lines it used (0: plain text)."""
        first = stripped[0]
        line = lines[i]
        if first in "`~":
            return self.fence(lines, i, stripped)
        indent = _indent_of(line, stripped)
        if first == "#":
            if top and indent < 4:
                match = _ATX.match(stripped)
                if match:
                    self.heading(len(match.group(1)), _atx_text(match.group(2) or ""))
                    return 1
            return 0
        if first in "!?":
            match = _ADMONITION.match(stripped) if stripped[:3] in ("!!!", "???") else None
            if match:
                kind = (match.group(1) or "note").replace("-", " ").capitalize()
                title = match.group(3)
                label = f"{kind}: {title}" if title else f"{kind}:"
                return self.indented_container(lines, i, indent, label)
            return 0
        if first == "=":
            match = _TAB.match(stripped) if stripped.startswith("===") else None
            if match:
                return self.indented_container(lines, i, indent, f"{match.group(1)}:")
            if top and self.para and _SETEXT.match(line):
                return self.setext(1)
            return 0
        if first == ":":
            return self.colon_block(lines, i, stripped, indent)
        if first == "<":
            return self.html_block(lines, i, stripped)
        if first in "-*_":
            if stripped.startswith("--8<--"):
                return self.snippet(lines, i, stripped)
            if (
                first == "-"
                and top
                and self.para
                and _SETEXT.match(line)
                and not _LIST_OR_QUOTE.match(self.para[0].lstrip())
            ):
                return self.setext(2)
            if _HRULE.match(stripped):
                self.flush()
                return 1
            if first == "*" and _ABBREVIATION.match(stripped):
                return 1
            return 0
        if first == "[":
            return 1 if indent < 4 and _REF_DEF.match(stripped) else 0
        if self.mdx and first in "ie" and not self.para and indent == 0 and _ESM.match(stripped):
            j = i + 1
            while j < len(lines) and lines[j].strip():
                j += 1
            return j - i
        return 0

    def fence(self, lines: list[str], i: int, stripped: str) -> int:
        match = _FENCE.match(stripped)
        if not match:
            return 0
        self.flush()
        marker, info = match.group(1), match.group(2).rstrip(" \t")
        indent = len(lines[i]) - len(stripped)
        char = marker[0]
        n = len(lines)
        j = i + 1
        while j < n:
            candidate = lines[j].strip()
            if candidate.startswith(marker) and not candidate.strip(char):
                break
            j += 1
        body = lines[i + 1 : j]
        if indent:
            body = [_dedent(body_line, indent) for body_line in body]
        code = "\n".join(body).strip("\n")
        if ")!" in code:
            code = _CODE_ANNOTATION.sub("", code).rstrip("\n")
        words = info.strip("{} ").split()
        lang = words[0].lstrip(".") if words and "=" not in words[0] else ""
        title_match = _FENCE_TITLE.search(info)
        title = next((g for g in title_match.groups() if g), "") if title_match else ""
        label = f"{title}:\n" if title else ""
        self.units.append(Unit(f"{label}{marker}{lang}\n{code}\n{marker}", code=True))
        return j + 1 - i

    def indented_container(self, lines: list[str], i: int, indent: int, label: str) -> int:
        width = indent + 4
        n = len(lines)
        j = i + 1
        last = i
        while j < n:
            line = lines[j]
            stripped = line.lstrip()
            if stripped:
                if _indent_of(line, stripped) < width:
                    break
                last = j
            j += 1
        body = [_dedent(line, width) for line in lines[i + 1 : last + 1]]
        self.labelled(label, body)
        return last + 1 - i

    def colon_block(self, lines: list[str], i: int, stripped: str, indent: int) -> int:
        if not stripped.startswith(":::"):
            return 0
        match = _DOCUSAURUS.match(stripped)
        valid, title = _directive_title(match.group(3)) if match else (False, None)
        if match and valid:
            colons, kind = match.group(1), match.group(2)
        else:
            spaced = _DOCUSAURUS_SPACED.match(stripped)
            if spaced and spaced.group(2).lower() in _DOCUSAURUS_TYPES:
                colons, kind, title = spaced.group(1), spaced.group(2), (spaced.group(3) or "").rstrip(" \t")
            elif _API_STUB.match(stripped):
                return self.api_stub(lines, i, indent)
            elif not stripped.strip(":").strip():
                return 1  # a stray closing fence
            else:
                return 0
        end = self.directive_end(lines, i, colons)
        body = lines[i + 1 : end]
        if indent:
            body = [_dedent(line, indent) for line in body]
        title = plain_heading(title, mdx=self.mdx) if title else ""
        kind = kind.replace("-", " ").capitalize()
        self.labelled(f"{kind}: {title}" if title else f"{kind}:", body)
        return min(end + 1, len(lines)) - i

    @staticmethod
    def directive_end(lines: list[str], i: int, colons: str) -> int:
        """Index of the line closing the `:::` directive opened at line i (fence-aware, nestable)."""
        width = len(colons)
        depth = 1
        fence = ""
        for j in range(i + 1, len(lines)):
            candidate = lines[j].strip()
            if fence:
                if candidate.startswith(fence) and not candidate.strip(fence[0]):
                    fence = ""
                continue
            if candidate[:3] in ("```", "~~~"):
                match = _FENCE.match(candidate)
                if match:
                    fence = match.group(1)
                continue
            if candidate.startswith(colons):
                rest = candidate[width:]
                if not rest.strip():
                    depth -= 1
                    if depth == 0:
                        return j
                elif rest[0] != ":" and rest[0].isalpha():
                    depth += 1
        return len(lines)

    def api_stub(self, lines: list[str], i: int, indent: int) -> int:
        """mkdocstrings `::: package.module` plus its indented options: rendered elsewhere, dropped."""
        self.flush()
        j = i + 1
        while j < len(lines):
            line = lines[j]
            stripped = line.lstrip()
            if stripped and _indent_of(line, stripped) <= indent:
                break
            j += 1
        return j - i

    def html_block(self, lines: list[str], i: int, stripped: str) -> int:
        if stripped.startswith("<!--"):
            return self.until(lines, i, "<!--", "-->", keep_rest=True)
        lowered = stripped[:8].lower()
        for tag in _SKIP_WITH_CONTENT:
            if lowered.startswith(f"<{tag}") and lowered[len(tag) + 1 : len(tag) + 2] in (">", " ", "\t", ""):
                return self.until(lines, i, f"<{tag}", f"</{tag}>", keep_rest=False)
        return 0

    def until(self, lines: list[str], i: int, opener: str, closer: str, *, keep_rest: bool) -> int:
        """Skip from `opener` on line i to the line containing `closer` (case-insensitive)."""
        start = lines[i].lower().find(opener) + len(opener)
        for j in range(i, len(lines)):
            position = lines[j].lower().find(closer, start if j == i else 0)
            if position >= 0:
                rest = lines[j][position + len(closer) :]
                if keep_rest and rest.strip():
                    lines[j] = rest  # continue with the text after the comment
                    return j - i
                return j + 1 - i
        return len(lines) - i

    def snippet(self, lines: list[str], i: int, stripped: str) -> int:
        """pymdownx snippets: `--8<-- "file"` lines, or a `--8<--` ... `--8<--` block."""
        self.flush()
        if stripped.rstrip() != "--8<--":
            return 1
        for j in range(i + 1, len(lines)):
            if lines[j].strip() == "--8<--":
                return j + 1 - i
        return len(lines) - i

    def setext(self, level: int) -> int:
        raw = " ".join(part.strip() for part in self.para)
        self.para = []
        self.heading(level, raw)
        return 1


def parse_markdown(text: str, *, mdx: bool = False) -> ParsedPage:
    """Parse Markdown (or MDX) into front matter and heading sections of clean text."""
    text = text.lstrip("\ufeff")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    front_matter, body = parse_front_matter(text)
    parser = _MarkdownParser(mdx)
    parser.parse(body.split("\n"), top=True)
    return ParsedPage(front_matter, parser.sections)


# --------------------------------------------------------------------------- HTML pages

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
        classes = set((attributes.get("class") or "").split())
        if (
            tag in _HTML_SKIP
            or (tag == "header" and not (self._article or self._main))
            or (tag == "a" and classes & _HEADERLINK_CLASSES)
        ):
            if tag == "a" and self._heading and not self._heading[1]:
                href = attributes.get("href") or ""
                if href.startswith("#") and len(href) > 1:
                    self._heading = (self._heading[0], href[1:])
            if tag not in _HTML_VOID:
                self._skip_tag, self._skip_depth = tag, 1
            return
        if tag == "article":
            self._article += 1
        elif tag == "main":
            self._main += 1
        if self._pre_depth:
            if tag == "pre":
                self._pre_depth += 1
            elif tag == "code" and not self._pre_lang:
                self._pre_lang = self._language(attributes)
            elif tag == "br":
                self._pre.append("\n")
            return
        if tag == "pre":
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
        elif tag == "title":
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
