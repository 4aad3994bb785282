"""Turn documentation source (Markdown, MDX, HTML) into clean sections of readable text.

A line scanner, not a full CommonMark parser: fast (well over 10 MB/s) and aware of what docs sites
use. Fenced code is kept intact (and never searched for headings); mkdocs-material admonitions and
content tabs, docusaurus `:::` admonitions, MDX import/export and JSX, HTML comments and tags, link and
image syntax, attribute lists, snippets and mkdocstrings `::: module.object` stubs are reduced to text.
HTML pages go through the stdlib `html.parser` into the same structure.

Modules: rag.parsed_page (the result), rag.front_matter, rag.inline (inline cleaning),
rag.markdown_syntax (the line patterns), this one (the block scanner) and rag.html_page (HTML).
The public names stay importable from here.
"""

from __future__ import annotations

from rag.budget import check as check_budget
from rag.front_matter import MAX_FRONT_MATTER_CHARS, parse_front_matter
from rag.html_page import parse_html
from rag.inline import SKIP_WITH_CONTENT, clean_inline, plain_heading
from rag.markdown_syntax import (
    ABBREVIATION,
    ADMONITION,
    API_STUB,
    ATTR_TOKEN_RE,
    ATX,
    CODE_ANNOTATION,
    DOCUSAURUS,
    DOCUSAURUS_SPACED,
    DOCUSAURUS_TYPES,
    ESM,
    FENCE,
    FENCE_TITLE,
    HRULE,
    LIST_OR_QUOTE,
    MAX_NESTING,
    REF_DEF,
    SETEXT,
    SPECIAL_START,
    TAB,
    atx_text,
    dedent,
    directive_title,
    heading_attrs,
    indent_of,
    tidy,
)
from rag.parsed_page import ParsedPage, Section, Unit

__all__ = [
    "MAX_FRONT_MATTER_CHARS",
    "ParsedPage",
    "Section",
    "Unit",
    "clean_inline",
    "parse_front_matter",
    "parse_html",
    "parse_markdown",
    "plain_heading",
]


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
            text = tidy(clean_inline("\n".join(self.para), mdx=self.mdx))
            self.para = []
            if text:
                self.units.append(Unit(text))

    def heading(self, level: int, raw: str) -> None:
        self.flush()
        explicit_id = None
        attrs = heading_attrs(raw)
        if attrs and all(ATTR_TOKEN_RE.fullmatch(token) for token in attrs[0].split()):
            ids = [token[1:] for token in attrs[0].split() if token.startswith("#")]
            explicit_id = ids[0] if ids else None
            raw = raw[: attrs[1]]
        text = " ".join(tidy(clean_inline(raw, mdx=self.mdx)).split())
        title = plain_heading(raw, mdx=self.mdx)
        self.sections.append(Section(level, title, explicit_id, f"{'#' * level} {text}".rstrip()))

    def labelled(self, label: str, body: list[str]) -> None:
        """A container (admonition, tab, ...): its label leads the first unit of its parsed body."""
        self.flush()
        units = self.units
        first = len(units)
        if self.depth >= MAX_NESTING:  # absurdly deep nesting: keep the text, stop recursing
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
        special = SPECIAL_START
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
        indent = indent_of(line, stripped)
        if first == "#":
            if top and indent < 4:
                match = ATX.match(stripped)
                if match:
                    self.heading(len(match.group(1)), atx_text(match.group(2) or ""))
                    return 1
            return 0
        if first in "!?":
            match = ADMONITION.match(stripped) if stripped[:3] in ("!!!", "???") else None
            if match:
                kind = (match.group(1) or "note").replace("-", " ").capitalize()
                title = match.group(3)
                label = f"{kind}: {title}" if title else f"{kind}:"
                return self.indented_container(lines, i, indent, label)
            return 0
        if first == "=":
            match = TAB.match(stripped) if stripped.startswith("===") else None
            if match:
                return self.indented_container(lines, i, indent, f"{match.group(1)}:")
            if top and self.para and SETEXT.match(line):
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
                and SETEXT.match(line)
                and not LIST_OR_QUOTE.match(self.para[0].lstrip())
            ):
                return self.setext(2)
            if HRULE.match(stripped):
                self.flush()
                return 1
            if first == "*" and ABBREVIATION.match(stripped):
                return 1
            return 0
        if first == "[":
            return 1 if indent < 4 and REF_DEF.match(stripped) else 0
        if self.mdx and first in "ie" and not self.para and indent == 0 and ESM.match(stripped):
            j = i + 1
            while j < len(lines) and lines[j].strip():
                j += 1
            return j - i
        return 0

    def fence(self, lines: list[str], i: int, stripped: str) -> int:
        match = FENCE.match(stripped)
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
            body = [dedent(body_line, indent) for body_line in body]
        code = "\n".join(body).strip("\n")
        if ")!" in code:
            code = CODE_ANNOTATION.sub("", code).rstrip("\n")
        words = info.strip("{} ").split()
        lang = words[0].lstrip(".") if words and "=" not in words[0] else ""
        title_match = FENCE_TITLE.search(info)
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
                if indent_of(line, stripped) < width:
                    break
                last = j
            j += 1
        body = [dedent(line, width) for line in lines[i + 1 : last + 1]]
        self.labelled(label, body)
        return last + 1 - i

    def colon_block(self, lines: list[str], i: int, stripped: str, indent: int) -> int:
        if not stripped.startswith(":::"):
            return 0
        match = DOCUSAURUS.match(stripped)
        valid, title = directive_title(match.group(3)) if match else (False, None)
        if match and valid:
            colons, kind = match.group(1), match.group(2)
        else:
            spaced = DOCUSAURUS_SPACED.match(stripped)
            if spaced and spaced.group(2).lower() in DOCUSAURUS_TYPES:
                colons, kind, title = spaced.group(1), spaced.group(2), (spaced.group(3) or "").rstrip(" \t")
            elif API_STUB.match(stripped):
                return self.api_stub(lines, i, indent)
            elif not stripped.strip(":").strip():
                return 1  # a stray closing fence
            else:
                return 0
        end = self.directive_end(lines, i, colons)
        body = lines[i + 1 : end]
        if indent:
            body = [dedent(line, indent) for line in body]
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
                match = FENCE.match(candidate)
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
            if stripped and indent_of(line, stripped) <= indent:
                break
            j += 1
        return j - i

    def html_block(self, lines: list[str], i: int, stripped: str) -> int:
        if stripped.startswith("<!--"):
            return self.until(lines, i, "<!--", "-->", keep_rest=True)
        lowered = stripped[:8].lower()
        for tag in SKIP_WITH_CONTENT:
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
