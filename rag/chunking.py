"""Cut a documentation page into search chunks that follow its heading hierarchy.

Each section is cut on its own, so every chunk cites the heading its text came from: a section
that fits the target is one chunk; a long one is split between paragraphs (pieces of one section
are merged up to the target, never across headings). A heading with no text of its own leads the
first chunk of its first subsection. Code blocks are never split: one larger than `max_tokens`
gets a chunk of its own.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from rag.budget import check as check_budget
from rag.html_page import parse_html
from rag.markdown import parse_markdown
from rag.parsed_page import ParsedPage, Unit
from rag.sources import HTML, MARKDOWN, MDX
from rag.urls import DOC_SUFFIXES, AnchorSlugger, check_style

__all__ = ["Chunk", "chunk_document", "token_count"]


@dataclass(frozen=True)
class Chunk:
    collection: str
    url: str  # page URL + "#anchor" of the chunk's heading (no anchor before the first heading)
    page_url: str
    page_title: str
    heading_path: tuple[str, ...]
    text: str
    ordinal: int
    token_count: int
    content_hash: str


def token_count(text: str) -> int:
    """Approximate tokens: about four characters each."""
    return (len(text) + 3) // 4


@dataclass(slots=True)
class _Node:
    """A section with its subsections."""

    path: tuple[str, ...]
    anchor: str
    heading: str
    units: list[Unit]
    children: list[_Node] = field(default_factory=list)
    total_tokens: int = 0

    def text(self) -> str:
        parts = [self.heading] if self.heading else []
        parts.extend(unit.text for unit in self.units)
        parts.extend(child.text() for child in self.children)
        return "\n\n".join(parts)


@dataclass(slots=True)
class _Block:
    """A run of text that the packer places whole: a section, a paragraph, or a code block."""

    path: tuple[str, ...]
    anchor: str
    text: str
    tokens: int
    opens: bool = False  # first block of a section too big to stay whole: starts a chunk


_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")
_TABLE_RULE = re.compile(
    r"\|?+\s*+:?+-{3,}+:?+\s*+(?:\|\s*+:?+-{3,}+:?+\s*+)*+\|?+\s*+$"
)  # possessive: linear


def chunk_document(
    raw: str,
    media_type: str,
    page_url: str,
    *,
    anchor_style: str = "mkdocs",
    collection: str = "default",
    target_tokens: int = 400,
    max_tokens: int = 600,
) -> list[Chunk]:
    """Parse one page (Markdown, MDX or HTML by `media_type`) published at `page_url`, and cut
    it into chunks whose URLs carry the anchors `anchor_style`'s generator gives headings."""
    if not isinstance(raw, str):
        raise TypeError(f"{page_url!r}: raw must be decoded text (str), not {type(raw).__name__}")
    check_style(anchor_style)
    if target_tokens < 1 or max_tokens < target_tokens:
        raise ValueError(f"need 1 <= target_tokens <= max_tokens, got {target_tokens} and {max_tokens}")
    if media_type == HTML:
        page = parse_html(raw)
    elif media_type in (MARKDOWN, MDX):
        page = parse_markdown(raw, mdx=media_type == MDX)
    else:
        raise ValueError(f"{page_url!r}: unsupported media type {media_type!r}")
    title = _page_title(page, page_url)
    root = _tree(page, anchor_style)
    blocks = _flatten(root, target_tokens, max_tokens)
    chunks: list[Chunk] = []
    for path, anchor, text in _pack(blocks, target_tokens, max_tokens):
        check_budget()
        chunk_url = f"{page_url}#{anchor}" if anchor else page_url
        digest = hashlib.sha256(
            "\x1e".join((collection, chunk_url, "\x1f".join(path), text)).encode("utf-8", "surrogatepass")
        ).hexdigest()
        chunks.append(
            Chunk(collection, chunk_url, page_url, title, path, text, len(chunks), token_count(text), digest)
        )
    return chunks


def _page_title(page: ParsedPage, page_url: str) -> str:
    """Front matter title, else the first H1, else the HTML <title>/sidebar label, else the
    last part of the page's URL ("Home" for a site's root)."""
    title = page.front_matter.get("title", "").strip()
    if title:
        return title
    for section in page.sections:
        if section.level == 1 and section.title:
            return section.title
    for candidate in (page.html_title, page.front_matter.get("sidebar_label")):
        if candidate and candidate.strip():
            return candidate.strip()
    segments = [unquote(part) for part in urlsplit(page_url).path.split("/") if part]
    if not segments:
        return "Home"
    stem = segments[-1]
    if "." in stem and "." + stem.rsplit(".", 1)[1].lower() in DOC_SUFFIXES:
        stem = stem.rsplit(".", 1)[0]
    if stem.lower() in ("index", "readme"):
        if len(segments) < 2:
            return "Home"
        stem = segments[-2]
    name = stem.replace("-", " ").replace("_", " ").strip() or stem
    return name.capitalize() if name.lower() == name else name


def _tree(page: ParsedPage, style: str) -> _Node:
    """Nest sections under their parent headings; compute anchors and sizes."""
    reserved = {section.explicit_id for section in page.sections if section.explicit_id}
    slugger = AnchorSlugger(style, reserved)
    preamble = page.sections[0]
    root = _Node((), "", "", preamble.units)
    stack: list[tuple[int, _Node]] = [(0, root)]
    for section in page.sections[1:]:
        if page.ids_only:
            anchor = section.explicit_id or ""
        else:
            anchor = slugger.anchor(section.title, section.explicit_id)
        while stack[-1][0] >= section.level:
            stack.pop()
        parent = stack[-1][1]
        node = _Node((*parent.path, section.title), anchor, section.heading, section.units)
        parent.children.append(node)
        stack.append((section.level, node))
    _measure(root)
    return root


def _measure(node: _Node) -> int:
    own = token_count(node.heading) + sum(token_count(unit.text) + 1 for unit in node.units)
    node.total_tokens = own + sum(_measure(child) + 1 for child in node.children)
    return node.total_tokens


def _flatten(root: _Node, target: int, limit: int) -> list[_Block]:
    """Whole sections where they fit the target, otherwise heading+paragraph blocks, in page order."""
    blocks: list[_Block] = []
    pending: list[str] = []  # headings of sections with no text of their own, waiting for content

    def add(path: tuple[str, ...], anchor: str, text: str, opens: bool = False) -> None:
        nonlocal pending
        if pending:
            text = "\n\n".join([*pending, text])
            pending = []
        blocks.append(_Block(path, anchor, text, token_count(text), opens))

    def visit(node: _Node) -> None:
        if not node.children and node.total_tokens <= target and (node.units or node.heading):
            add(node.path, node.anchor, node.text())
            return
        units = _bind_lead_ins(node.units, limit)
        if node.heading and not units:
            if node.children:
                pending.append(node.heading)
            else:
                add(node.path, node.anchor, node.heading, True)
        for index, unit in enumerate(units):
            opens = index == 0 and bool(node.heading)
            text = f"{node.heading}\n\n{unit.text}" if opens else unit.text
            if unit.code or token_count(text) <= limit:
                add(node.path, node.anchor, text, opens)
            else:
                for number, piece in enumerate(_split_text(text, target)):
                    add(node.path, node.anchor, piece, opens and number == 0)
        for child in node.children:
            visit(child)

    visit(root)  # a heading is pending only while it has subsections still to visit
    return blocks


def _bind_lead_ins(units: list[Unit], limit: int) -> list[Unit]:
    """Keep "For example:"-style paragraphs with what they introduce (when both fit `limit`)."""
    bound: list[Unit] = []
    for unit in units:
        if bound and not bound[-1].code and bound[-1].text.endswith(":"):
            joined = f"{bound[-1].text}\n\n{unit.text}"
            if token_count(joined) <= limit:
                bound[-1] = Unit(joined, code=unit.code)
                continue
        bound.append(unit)
    return bound


def _split_text(text: str, target: int) -> list[str]:
    """Split an oversized paragraph/list/table at line, then sentence, then word boundaries."""
    lines = text.split("\n")
    header = ""
    if len(lines) > 2 and lines[0].lstrip().startswith("|") and _TABLE_RULE.match(lines[1].strip()):
        header = f"{lines[0]}\n{lines[1]}"  # repeat a table's header on each piece
        lines = lines[2:]
    pieces: list[str] = []
    current: list[str] = [header] if header else []
    size = token_count(header)
    base = size
    for line in lines:
        for part in _split_line(line, target - base):
            cost = token_count(part) + 1
            if size + cost > target and len(current) > (1 if header else 0):
                pieces.append("\n".join(current))
                current, size = ([header] if header else []), base
            current.append(part)
            size += cost
    if len(current) > (1 if header else 0):
        pieces.append("\n".join(current))
    return pieces


def _split_line(line: str, budget: int) -> list[str]:
    """Split one over-long line at sentence ends, then spaces, then inside unbroken runs."""
    budget = max(budget, 16)
    if token_count(line) <= budget:
        return [line]
    width = budget * 4  # characters
    words: list[str] = []
    for sentence in _SENTENCE_END.split(line):
        if token_count(sentence) <= budget:
            words.append(sentence)
            continue
        for word in sentence.split(" "):
            words.extend(word[i : i + width] for i in range(0, len(word), width))
    # Lengths, not strings, grow per word (token_count is len/4): linear in the line, even for
    # a line of thousands of blanks (thousands of empty words).
    parts: list[str] = []
    current: list[str] = []
    length = 0  # of " ".join(current)
    for word in words:
        if not length:
            current, length = [word], len(word)
        elif (length + 1 + len(word) + 3) // 4 > budget:  # token_count of the joined line
            parts.append(" ".join(current))
            current, length = [word], len(word)
        else:
            current.append(word)
            length += 1 + len(word)
    if length:
        parts.append(" ".join(current))
    return parts


def _pack(blocks: list[_Block], target: int, limit: int) -> list[tuple[tuple[str, ...], str, str]]:
    """Greedily merge consecutive blocks of one section up to the target (never across headings)."""
    small = max(1, target // 4)
    chunks: list[tuple[tuple[str, ...], str, str]] = []
    texts: list[str] = []
    size = 0
    path: tuple[str, ...] = ()
    anchor = ""
    last_path: tuple[str, ...] | None = None
    for index, block in enumerate(blocks):
        joined = size + block.tokens + 1
        # A small last paragraph of a section may still join the section's chunk, up to the limit.
        tail = (
            block.tokens < small
            and block.path == last_path
            and (index + 1 == len(blocks) or blocks[index + 1].path != block.path)
        )
        fits = joined <= target or ((size < small or tail) and joined <= limit)
        last_path = block.path
        opens = block.opens and size >= small
        if texts and fits and not opens and block.path == path and block.anchor == anchor:
            texts.append(block.text)
            size = joined
            continue
        if texts:
            chunks.append((path, anchor, "\n\n".join(texts)))
        texts, size = [block.text], block.tokens
        path, anchor = block.path, block.anchor
    if texts:
        chunks.append((path, anchor, "\n\n".join(texts)))
    return chunks
