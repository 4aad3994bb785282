"""Inline Markdown, MDX and HTML reduced to readable text: links to their text, images to
their alt text, comments and JSX dropped, attribute lists removed; and plain heading text (the
text anchor generators slug)."""

from __future__ import annotations

import html
import re

__all__ = ["clean_inline", "plain_heading"]

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
ATTR_TOKEN = r"(?>[#.][\w-]++|[\w-]++=(?>\"[^\"]*+\"|'[^']*+'|[^\s}]++))"
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
    + ATTR_TOKEN
    + r"|[ \t]*+[#.][\w-]++)(?>[ \t]++"
    + ATTR_TOKEN
    + r")*+[ \t]*+\})"
    r"|:(?P<icon>(?:material|fontawesome|octicons|simple)-[\w-]+:)"
    r"|&(?P<entity>(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);)",
    re.S,
)
_ICON = re.compile(r":(?:material|fontawesome|octicons|simple)-")
_DOUBLE_SPACE = re.compile(r"(?<=\S)[ \t]{2,}(?=\S)")
_GAP_BEFORE_PUNCTUATION = re.compile(r"(?<=\w)[ \t]+(?=[.,;:!?](?:\s|$))")
_LABEL_ATTR = re.compile(r"\blabel=(?:\"([^\"]*)\"|'([^']*)'|\{[\"']([^\"']*)[\"']\})")
SKIP_WITH_CONTENT = ("script", "style")


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
