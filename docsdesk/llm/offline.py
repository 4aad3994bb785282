"""The offline model: answers without a language model by searching the docs and quoting
the parts of the top passages that answer the question, cited (docsdesk.llm.answer), so a
fresh install works with no API key."""


import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from openai.types.responses import (
    ResponseOutputItem,
)

from docsdesk.llm.answer import extract_answer
from docsdesk.llm.stream import SynthesizedModel, as_dict, function_call_item, message_item

SEARCH_TOOL = "search_docs"

# --- reading Responses input ----------------------------------------------------------------

QUOTE_PREFIX = "The user is referring to this in particular:"
PAGE_CONTEXT_PREFIX = "<page_context>"


def _content_text(content: Any) -> str:
    """The text of a message's content (a string or a list of text parts)."""
    if isinstance(content, str):
        return content
    texts = []
    for part in content or []:
        part = as_dict(part)
        if isinstance(part.get("text"), str):
            texts.append(part["text"])
    return "\n".join(texts)


def _is_user_message(item: dict[str, Any]) -> bool:
    return item.get("role") == "user" and item.get("type", "message") == "message"


@dataclass
class Turn:
    """What the current turn (everything after the last user message block) holds."""

    question: str
    quote: str
    page_title: str
    search_output: str | None


def read_turn(input: str | list[Any]) -> Turn:
    """Extract the question, its quoted selection / page title and this turn's search output."""
    if isinstance(input, str):
        return Turn(question=input.strip(), quote="", page_title="", search_output=None)
    items = [as_dict(item) for item in input]
    user_indexes = [i for i, item in enumerate(items) if _is_user_message(item)]
    if not user_indexes:
        return Turn(question="", quote="", page_title="", search_output=None)
    last_user = user_indexes[-1]
    block_start = last_user
    while block_start > 0 and _is_user_message(items[block_start - 1]):
        block_start -= 1

    question = quote = page_title = ""
    for item in items[block_start : last_user + 1]:
        text = _content_text(item.get("content"))
        stripped = text.lstrip()
        if stripped.startswith(QUOTE_PREFIX):
            quote = stripped[len(QUOTE_PREFIX) :].strip()
        elif stripped.startswith(PAGE_CONTEXT_PREFIX):
            page_title = _page_title(stripped)
        elif text.strip():
            question = text.strip()

    search_calls = {
        item.get("call_id")
        for item in items[last_user + 1 :]
        if item.get("type") == "function_call" and item.get("name") == SEARCH_TOOL
    }
    search_output = None
    for item in items[last_user + 1 :]:
        if item.get("type") == "function_call_output" and item.get("call_id") in search_calls:
            search_output = _content_text(item.get("output"))
    return Turn(question=question, quote=quote, page_title=page_title, search_output=search_output)


def _page_title(page_context: str) -> str:
    match = re.search(r"^\s*title:\s*(.+?)\s*$", page_context, re.MULTILINE)
    return match.group(1) if match else ""


# --- search output ---------------------------------------------------------------------------


@dataclass
class Passage:
    """One numbered result of the `search_docs` tool."""

    number: int
    title: str
    url: str
    text: str


_HEADER = re.compile(r"^\[(\d+)\][ \t]+(\S.*?)\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def parse_search_output(output: str) -> list[Passage]:
    """Parse the tool's `[n] title / URL: ... / text` blocks; [] for no results or junk.

    A header counts only at the start or after a blank line, with a number not seen
    yet, and either a "URL:" line right after it or no open code fence (so a passage cut
    off mid-fence cannot swallow the next one, and passage text that happens to contain
    "[2] ..." stays text).
    """
    passages: list[Passage] = []
    body: list[str] = []
    in_fence = False
    lines = output.splitlines()
    for i, line in enumerate(lines):
        match = _HEADER.match(line)
        is_header = (
            match is not None
            and (i == 0 or not lines[i - 1].strip())
            and int(match[1]) not in {p.number for p in passages}
            and (not in_fence or (i + 1 < len(lines) and lines[i + 1].startswith("URL:")))
        )
        if is_header:
            if passages:
                passages[-1].text = "\n".join(body).strip()
            passages.append(Passage(number=int(match[1]), title=match[2], url="", text=""))
            body, in_fence = [], False
            continue
        if not passages:
            continue
        if not body and not passages[-1].url and line.startswith("URL:"):
            passages[-1].url = line[4:].strip()
            continue
        body.append(line)
        if _FENCE.match(line):
            in_fence = not in_fence
    if passages:
        passages[-1].text = "\n".join(body).strip()
    return passages


def clip(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters (with an ellipsis)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:-") + "…"


# --- the offline model --------------------------------------------------------------------

OFFLINE_INTRO = "No language model is configured; this is what the documentation says:"
OFFLINE_NOTHING_FOUND = "I couldn't find anything relevant to your question in the documentation."
OFFLINE_NOT_COVERED = (
    "The documentation does not seem to cover this question: none of the passages the search "
    "found answers it. Try other words, or ask about a topic of these docs."
)
OFFLINE_NO_QUESTION = "Please type a question about the documentation."
OFFLINE_NO_SEARCH = "No language model is configured and documentation search is unavailable."
QUERY_LIMIT = 300
TOP_PASSAGES = 5

# The question points at the reader's page ("this page", "here", "it"): its title goes into
# the query. Otherwise the question alone is searched; the page only breaks ties (prefer_url).
_REFERS_TO_PAGE = re.compile(
    r"\b(?:this|that|these|those|here|it|its|they|them|above|below|current)\b", re.IGNORECASE
)


def search_query(turn: Turn) -> str:
    """The question, focused by the quoted selection, and by the page title when the question
    refers to the page (<= QUERY_LIMIT)."""
    question = " ".join(turn.question.split())
    title = clip(" ".join(turn.page_title.split()), 80) if _REFERS_TO_PAGE.search(question) else ""
    extras = [clip(" ".join(turn.quote.split()), 120), title]
    extras = [extra for extra in extras if extra]
    budget = QUERY_LIMIT - sum(len(extra) + 1 for extra in extras)
    return " ".join(part for part in [clip(question, budget), *extras] if part)


def offline_answer(search_output: str, question: str) -> str:
    """Quote what answers `question` in the top passages, with [n] markers; say so when
    nothing was found or nothing found answers it (then nothing is cited)."""
    passages = [p for p in parse_search_output(search_output) if p.text.strip()]
    if not passages:
        return OFFLINE_NOTHING_FOUND
    answer = extract_answer(question, [(p.number, p.title, p.text) for p in passages[:TOP_PASSAGES]])
    if not answer.covered:
        return OFFLINE_NOT_COVERED
    return f"{OFFLINE_INTRO}\n\n{answer.text}"


class OfflineModel(SynthesizedModel):
    """A model that needs no LLM: it calls `search_docs` with the user's question, then
    answers by quoting the best passages. Deterministic, no I/O, no waiting."""

    name = "offline"

    def reply(
        self, system_instructions: str | None, input: str | list[Any], tools: Sequence[Any]
    ) -> list[ResponseOutputItem]:
        """The output items for this input: a search call, or the quoted answer."""
        turn = read_turn(input)
        if turn.search_output is not None:
            # Scored against what was searched: the question, the quote, and the page title
            # when the question refers to the page.
            return [message_item(offline_answer(turn.search_output, search_query(turn)))]
        if not any(getattr(tool, "name", None) == SEARCH_TOOL for tool in tools):
            return [message_item(OFFLINE_NO_SEARCH)]
        query = search_query(turn)
        if not query:
            return [message_item(OFFLINE_NO_QUESTION)]
        return [function_call_item(SEARCH_TOOL, {"query": query})]
