"""Turn the model's [n] markers into ChatKit URL annotations.

Markers are renumbered in citation order (the first source cited becomes [1]); markers that
cite nothing the search returned are removed; markers inside code are left alone."""

from __future__ import annotations

import re
from collections.abc import Sequence

from chatkit.types import Annotation, AssistantMessageContent, URLSource

from rag.search import SearchResult

# [1]  [1, 2]  [1][2] (two markers) — but not a Markdown link text "[1](...)" or "[1]:" definition.
_MARKER = re.compile(r" ?\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\](?![(:])")
# Fenced code blocks and inline code spans are copied verbatim.
_CODE = re.compile(r"(```.*?(?:```|$)|~~~.*?(?:~~~|$)|`[^`\n]+`)", re.DOTALL)


def _source(result: SearchResult) -> URLSource:
    path = [h for h in result.heading_path if h != result.title]
    title = " › ".join([result.title, *path[-1:]]) if path else result.title
    return URLSource(url=result.url, title=title, group=result.collection or None)


def annotate(
    contents: Sequence[AssistantMessageContent], sources: Sequence[SearchResult]
) -> list[AssistantMessageContent]:
    """Rewrite each content part's markers and attach one annotation per cited source, in
    citation order, at the position of its first marker."""
    order: dict[int, int] = {}  # source number the model used -> number shown to the reader
    out: list[AssistantMessageContent] = []
    for content in contents:
        annotations: list[Annotation] = list(content.annotations)
        pieces: list[str] = []
        length = 0

        def emit(text: str) -> None:
            nonlocal length
            pieces.append(text)
            length += len(text)

        def rewrite_prose(text: str) -> None:
            last = 0
            for match in _MARKER.finditer(text):
                emit(text[last : match.start()])
                last = match.end()
                cited = [int(n) for n in re.split(r"\s*,\s*", match.group(1))]
                valid = [n for n in dict.fromkeys(cited) if 1 <= n <= len(sources)]
                if not valid:
                    continue
                leading = " " if match.group(0).startswith(" ") else ""
                emit(leading)
                for n in valid:
                    first = n not in order
                    if first:
                        order[n] = len(order) + 1
                    emit(f"[{order[n]}]")
                    if first:
                        annotations.append(Annotation(source=_source(sources[n - 1]), index=length))
            emit(text[last:])

        last = 0
        for code in _CODE.finditer(content.text):
            rewrite_prose(content.text[last : code.start()])
            emit(code.group(0))
            last = code.end()
        rewrite_prose(content.text[last:])
        out.append(content.model_copy(update={"text": "".join(pieces), "annotations": annotations}))
    return out
