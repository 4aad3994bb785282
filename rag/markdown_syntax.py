"""The line patterns of the Markdown block scanner (rag.markdown) and the small helpers that
read them. Every pattern runs in time linear in its line (issue 23, item 3: possessive
quantifiers, and trailing parts stripped in Python rather than by competing `[ \t]*`)."""

from __future__ import annotations

import re

from rag.inline import ATTR_TOKEN

# Possessive and greedy, the info string's trailing blanks stripped in Python: runs of blanks
# after an opener or a `#` cannot be split between two `[ \t]*` in every way (issue 23, item 3).
FENCE = re.compile(r"(`{3,}+|~{3,}+)[ \t]*+([^`]*+)$")
FENCE_TITLE = re.compile(r"""\btitle=(?:"([^"]*)"|'([^']*)'|(\S+))""")
# mkdocs-material code annotation markers `# (1)!` (the whole line when it holds nothing else).
CODE_ANNOTATION = re.compile(
    r"^[ \t]*(?:#|//)[ \t]*\(\d+\)![ \t]*(?:\n|$)|[ \t]*(?:#|//)[ \t]*\(\d+\)![ \t]*$", re.M
)
ATX = re.compile(r"(#{1,6}+)(?:[ \t]++(.*+))?$")
_HEADING_ATTRS = re.compile(r"\{:?[ \t]*+([^{}]*+)\}[ \t]*+")
ATTR_TOKEN_RE = re.compile(ATTR_TOKEN)
SETEXT = re.compile(r" {0,3}(?:=+|-+)[ \t]*$")
HRULE = re.compile(r"([-*_])(?:[ \t]*+\1){2,}+[ \t]*+$")
ADMONITION = re.compile(
    r"(?:!!!|\?\?\?\+?)[ \t]*+([A-Za-z][\w-]*+)?((?:[ \t]++[\w-]++)*+)[ \t]*+(?:\"(.*?)\")?[ \t]*+$"
)
TAB = re.compile(r"===\+?[ \t]+\"(.*?)\"[ \t]*$")
DOCUSAURUS = re.compile(r"(:{3,}+)([A-Za-z][\w-]*+)(.*+)$")  # the rest: see directive_title
DOCUSAURUS_SPACED = re.compile(r"(:{3,}+)[ \t]++([A-Za-z][\w-]*+)(?:[ \t]++(.*+))?$")
DOCUSAURUS_TYPES = frozenset(
    ["note", "tip", "info", "warning", "danger", "caution", "important", "success", "secondary", "details"]
)
API_STUB = re.compile(r":::[ \t]+[\w.:-]+[ \t]*$")
REF_DEF = re.compile(r"\[(?!\^)[^\]]+\]:[ \t]*\S+(?:[ \t]+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?[ \t]*$")
ABBREVIATION = re.compile(r"\*\[[^\]]+\]:")
ESM = re.compile(r"(?:import|export)\b")
LIST_OR_QUOTE = re.compile(r"(?:[-+*>|]|\d+[.)])(?:[ \t]|$)")
SPECIAL_START = frozenset("`~#!?=:<-*_[")
MAX_NESTING = 24


def atx_text(rest: str) -> str:
    """An ATX heading's text: trailing blanks and a closing `#` sequence (after a blank) removed."""
    body = rest.rstrip(" \t")
    trimmed = body.rstrip("#")
    if trimmed != body and trimmed[-1:] in (" ", "\t"):
        body = trimmed.rstrip(" \t")
    return body


def heading_attrs(raw: str) -> tuple[str, int] | None:
    """A trailing attribute list `{#id .class}` of a heading: (its tokens, where it starts)."""
    start = raw.rfind("{")
    found = _HEADING_ATTRS.fullmatch(raw, start) if start >= 0 else None
    if found is None:
        return None
    return found.group(1), len(raw[:start].rstrip(" \t"))


def directive_title(rest: str) -> tuple[bool, str | None]:
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


def indent_of(line: str, stripped: str) -> int:
    lead = line[: len(line) - len(stripped)]
    return len(lead.expandtabs(4)) if "\t" in lead else len(lead)


def dedent(line: str, width: int) -> str:
    """Remove `width` columns of leading whitespace (tabs count as 4)."""
    head = line[:width]
    if len(head) == width and head.isspace() and "\t" not in head:
        return line[width:]
    stripped = line.lstrip()
    if not stripped:
        return ""
    return line[: len(line) - len(stripped)].expandtabs(4)[width:] + stripped


def tidy(text: str) -> str:
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
