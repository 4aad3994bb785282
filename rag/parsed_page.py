"""What the Markdown and HTML readers produce: a page of heading sections of clean text."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ParsedPage", "Section", "Unit"]


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
