"""The offline model: answers without a language model by searching the docs and quoting
the parts of the top passages that answer the question, cited (docsdesk.assistant.answer), so a
fresh install works with no API key."""

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urldefrag

from openai.types.responses import (
    ResponseOutputItem,
)

from docsdesk.assistant.answer import (
    OfflineAnswer,
    asks_about_the_page,
    extract_answer,
    page_lead,
)
from docsdesk.assistant.follow_up import earlier_topic
from docsdesk.assistant.intents import SMALL_TALK_REPLIES, asks_for_a_person, small_talk_turn
from docsdesk.assistant.not_covered import refusal_text
from docsdesk.assistant.search_tool import TOP_PAGE_KEY
from docsdesk.assistant.stream import SynthesizedModel, function_call_item, message_item
from docsdesk.assistant.turn_input import PERSON_TOOL, REPORT_TOOL, SEARCH_TOOL, Turn, read_turn

OFFLINE_PERSON_FORM = "You can send this conversation to the support team with the form below."
OFFLINE_NO_PERSON = "There is no support channel set up here; the documentation is all I can offer."


# --- search output ---------------------------------------------------------------------------


@dataclass
class Passage:
    """One numbered result of the `search_docs` tool."""

    number: int
    title: str
    url: str
    text: str


def parse_search_output(output: str, key: str = "passages") -> list[Passage]:
    """The passages of the tool's JSON output (docsdesk.assistant.search_tool.format_passages); [] for no
    results or anything that is not that JSON. `key`: TOP_PAGE_KEY for the first page's further sections."""
    try:
        document = json.loads(output)
    except (TypeError, ValueError):
        return []
    entries = document.get(key) if isinstance(document, dict) else None
    passages: list[Passage] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        number, title, url, text = (entry.get(k) for k in ("number", "title", "url", "text"))
        if (
            isinstance(number, int)
            and not isinstance(number, bool)
            and isinstance(title, str)
            and isinstance(url, str)
            and isinstance(text, str)
        ):
            passages.append(Passage(number=number, title=title, url=url, text=text))
    return passages


def unknown_words(output: str) -> list[str]:
    """The tool output's "not_in_docs": the query's words the documentation never uses."""
    try:
        document = json.loads(output)
    except (TypeError, ValueError):
        return []
    words = document.get("not_in_docs") if isinstance(document, dict) else None
    return [w for w in words if isinstance(w, str)] if isinstance(words, list) else []


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
OFFLINE_NO_QUESTION = "Please type a question about the documentation."
OFFLINE_NO_SEARCH = "No language model is configured and documentation search is unavailable."
QUERY_LIMIT = 300
TOP_PASSAGES = 5

# The question points at the reader's page ("this page", "here", "it"): its title goes into
# the query. Otherwise the question alone is searched; the page only breaks ties (prefer_url).
_REFERS_TO_PAGE = re.compile(
    r"\b(?:this|that|these|those|here|it|its|they|them|above|below|current)\b", re.IGNORECASE
)


_ERROR_LINE = re.compile(
    r"\b(error|exception|traceback|fatal|failed|failure|panic|denied|refused|timed? ?out|"
    r"not found|cannot|can't|unable|invalid|missing)\b",
    re.IGNORECASE,
)
_LOG_PREFIX = re.compile(
    r"^\s*(\[?\d{4}-\d\d-\d\d[T ][\d:.,]+(Z|[+-]\d\d:?\d\d)?\]?\s*)?"
    r"(\[?(TRACE|DEBUG|INFO|WARN|WARNING|ERROR|CRITICAL|FATAL)\]?:?\s+)?"
)
EXCERPT_LIMIT = 160


@dataclass
class Excerpt:
    """The line of an attached file the offline model searches with."""

    attachment: str
    text: str


def attachment_excerpt(turn: Turn) -> Excerpt | None:
    """From the first attached text file: its last error-looking line (the final line of a
    traceback names the exception), else its last non-empty line; None without text files."""
    for block in turn.attachments:
        text = block.get("text")
        if not isinstance(text, str) or not text.strip():
            continue
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        errors = [
            line
            for line in lines
            if _ERROR_LINE.search(line) and not line.lower().startswith("traceback (most recent")
        ]
        chosen = (errors or lines)[-1]
        chosen = " ".join(_LOG_PREFIX.sub("", chosen).split()) or chosen
        return Excerpt(str(block.get("name") or "attachment"), clip(chosen, EXCERPT_LIMIT))
    return None


def search_query(turn: Turn) -> str:
    """The question, focused by an attached error line, the quoted selection, and the topic of
    the reader's earlier question when it leans on it (`follow_up.earlier_topic`), else the page
    title when it refers to the page (<= QUERY_LIMIT)."""
    question = " ".join(turn.question.split())
    found = attachment_excerpt(turn)
    topic = earlier_topic(question, turn.earlier)
    on_page = not topic and _REFERS_TO_PAGE.search(question)
    title = clip(" ".join(turn.page_title.split()), 80) if on_page else ""
    extras = [found.text if found else "", clip(" ".join(turn.quote.split()), 120), topic, title]
    extras = [extra for extra in extras if extra]
    budget = QUERY_LIMIT - sum(len(extra) + 1 for extra in extras)
    return " ".join(part for part in [clip(question, budget), *extras] if part)


@dataclass(frozen=True)
class ReaderPage:
    """The tool output's "reader_page": the page the reader is on, and, when it was found in
    the documentation, its opening passage (number, title, text)."""

    title: str
    url: str
    passage: tuple[int, str, str] | None


def reader_page(output: str) -> ReaderPage | None:
    """The tool output's "reader_page", or None."""
    try:
        document = json.loads(output)
    except (TypeError, ValueError):
        return None
    page = document.get("reader_page") if isinstance(document, dict) else None
    if not isinstance(page, dict):
        return None
    title, url = page.get("title"), page.get("url")
    number, text, heading = page.get("number"), page.get("text"), page.get("heading")
    passage = None
    if isinstance(number, int) and not isinstance(number, bool) and isinstance(text, str) and text.strip():
        passage = (number, heading if isinstance(heading, str) else "", text)
    return ReaderPage(title if isinstance(title, str) else "", url if isinstance(url, str) else "", passage)


@dataclass(frozen=True)
class OfflineReply:
    """The offline model's reply: its text and the typed decision it renders."""

    text: str
    answer: OfflineAnswer

    @property
    def outcome(self) -> str:
        return self.answer.outcome


def _unmatched_page_note(page: ReaderPage | None) -> str:
    if page is None or not (page.title or page.url):
        return ""
    name = " ".join(page.title.split()) or page.url
    where = f" ({page.url})" if page.url and page.title else ""
    return f"You are on “{clip(name, 120)}”{where}, which I could not find in the documentation; this is what a search found."


def offline_reply(
    search_output: str, question: str, used: Excerpt | None = None, about_page: bool = False
) -> OfflineReply:
    """Quote what answers `question` in the top passages, with [n] markers; say so when
    nothing was found or nothing found answers it (then nothing is cited). With `about_page`
    (a question about the reader's page itself), quote that page's opening when the search
    found the page, else say which page the reader is on and answer from the search. Name the
    attachment whose line was searched for, if any."""
    notes = (
        [
            f"I searched with this line from your attachment “{used.attachment}”: `{used.text.replace('`', chr(39))}`"
        ]
        if used
        else []
    )
    passages = [p for p in parse_search_output(search_output) if p.text.strip()]
    top = [(p.number, p.title, p.text) for p in passages[:TOP_PASSAGES]]
    pages = [urldefrag(p.url).url for p in passages[:TOP_PASSAGES]]
    page = reader_page(search_output) if about_page else None
    if page is not None and page.passage is not None:
        answer = page_lead(page.passage)
    else:
        if about_page:
            notes.append(_unmatched_page_note(page))
        more = [(p.number, p.title, p.text) for p in parse_search_output(search_output, TOP_PAGE_KEY)]
        answer = extract_answer(question, top, unknown_words(search_output), pages, more)
    if answer.covered:
        reply = f"{OFFLINE_INTRO}\n\n{answer.text}"
    else:
        reply = refusal_text(answer)
    return OfflineReply("\n\n".join([*[n for n in notes if n], reply]), answer)


def offline_answer(
    search_output: str, question: str, used: Excerpt | None = None, about_page: bool = False
) -> str:
    """The text of `offline_reply`."""
    return offline_reply(search_output, question, used, about_page).text


class OfflineModel(SynthesizedModel):
    """A model that needs no LLM: it calls `search_docs` with the user's question, then
    answers by quoting the best passages. Deterministic, no I/O, no waiting."""

    name = "offline"

    def reply(
        self, system_instructions: str | None, input: str | list[Any], tools: Sequence[Any]
    ) -> list[ResponseOutputItem]:
        """The output items for this input: a search call, or the quoted answer."""
        turn = read_turn(input)
        if _offers(tools, PERSON_TOOL) and asks_for_a_person(turn.question):
            # The decision is typed: the tool records it; its output says whether a form follows.
            if turn.person_output is None:
                return [function_call_item(PERSON_TOOL, {})]
            return [message_item(_person_reply(turn.person_output))]
        talk = small_talk_turn(turn)
        if talk is not None and turn.search_output is None:
            return [message_item(SMALL_TALK_REPLIES[talk])]  # "thanks!", "hi": nothing to search
        if turn.search_output is not None:
            # Scored against what was searched: the question, an attached error line, the
            # quote, and the page title when the question refers to the page.
            about_page = asks_about_the_page(turn.question)
            reply = offline_reply(
                turn.search_output, search_query(turn), attachment_excerpt(turn), about_page
            )
            if not reply.answer.covered and not turn.reported and _offers(tools, REPORT_TOOL):
                # Declared through the tool (the turn's recorded outcome), then said.
                return [function_call_item(REPORT_TOOL, {"reason": str(reply.answer.reason)})]
            return [message_item(reply.text)]
        if not _offers(tools, SEARCH_TOOL):
            return [message_item(OFFLINE_NO_SEARCH)]
        query = search_query(turn)
        if not query:
            return [message_item(OFFLINE_NO_QUESTION)]
        return [function_call_item(SEARCH_TOOL, {"query": query})]


def _person_reply(output: str) -> str:
    try:
        shown = json.loads(output).get("form_shown") is True
    except (ValueError, AttributeError):
        shown = False
    return OFFLINE_PERSON_FORM if shown else OFFLINE_NO_PERSON


def _offers(tools: Sequence[Any], name: str) -> bool:
    return any(getattr(tool, "name", None) == name for tool in tools)
