"""What the offline model reads of a turn's Responses input: the reader's question (besides
the quoted selection, the page context block and attachment data), this turn's tool outputs,
and the reader's earlier questions in the conversation (a follow-up leans on them:
`docsdesk.assistant.follow_up`)."""

from dataclasses import dataclass, field
from typing import Any

from docsdesk.assistant.stream import as_dict
from docsdesk.core.blocks import QUOTE_BLOCK, QUOTE_INTRO, parse_attachment_block, read_block
from docsdesk.core.context import PAGE_BLOCK

SEARCH_TOOL = "search_docs"
REPORT_TOOL = "report_not_covered"  # docsdesk.assistant.report: the docs do not cover it
PERSON_TOOL = "request_person"  # docsdesk.assistant.report: the reader asks for a person

QUOTE_PREFIX = QUOTE_INTRO
PAGE_CONTEXT_PREFIX = f"<{PAGE_BLOCK}>"
EARLIER_QUESTIONS = 2  # the reader's questions before this one that a follow-up may lean on


def _content_text(content: Any, attachments: list[dict[str, Any]] | None = None) -> str:
    """The text of a message's content (a string or a list of text parts). Attachment data
    blocks are not part of it: they go to `attachments` when given."""
    if isinstance(content, str):
        return content
    texts = []
    for part in content or []:
        part = as_dict(part)
        if isinstance(part.get("text"), str):
            block = parse_attachment_block(part["text"])
            if block is None:
                texts.append(part["text"])
            elif attachments is not None:
                attachments.append(block)
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
    attachments: list[dict[str, Any]] = field(default_factory=list)
    reported: bool = False  # this turn already called REPORT_TOOL
    person_output: str | None = None  # PERSON_TOOL's output, once called this turn
    earlier: tuple[str, ...] = ()  # the reader's previous questions in this conversation, oldest first


@dataclass
class _Block:
    """One block of user messages: the question, the quoted selection, the page title and the
    attached files' data."""

    question: str = ""
    quote: str = ""
    page_title: str = ""
    attachments: list[dict[str, Any]] = field(default_factory=list)


def _block_start(items: list[dict[str, Any]], last: int) -> int:
    """Where the block of user messages ending at `last` starts."""
    start = last
    while start > 0 and _is_user_message(items[start - 1]):
        start -= 1
    return start


def _read_block(messages: list[dict[str, Any]]) -> _Block:
    block = _Block()
    for item in messages:
        text = _content_text(item.get("content"), block.attachments)
        stripped = text.lstrip()
        if stripped.startswith(QUOTE_PREFIX):
            value = read_block(QUOTE_BLOCK, stripped[len(QUOTE_PREFIX) :])
            block.quote = value if isinstance(value, str) else ""
        elif stripped.startswith(PAGE_CONTEXT_PREFIX):
            block.page_title = _page_title(stripped)
        elif text.strip():
            block.question = text.strip()
    return block


def _earlier_questions(items: list[dict[str, Any]], before: int) -> tuple[str, ...]:
    """The questions of the (at most EARLIER_QUESTIONS) user blocks before index `before`,
    oldest first."""
    found: list[str] = []
    end = before - 1
    while end >= 0 and len(found) < EARLIER_QUESTIONS:
        if not _is_user_message(items[end]):
            end -= 1
            continue
        start = _block_start(items, end)
        question = _read_block(items[start : end + 1]).question
        if question:
            found.append(question)
        end = start - 1
    return tuple(reversed(found))


def _outputs(items: list[dict[str, Any]], name: str) -> str | None:
    """The output of this turn's last call of tool `name` (items after the user block)."""
    calls = {
        item.get("call_id")
        for item in items
        if item.get("type") == "function_call" and item.get("name") == name
    }
    output = None
    for item in items:
        if item.get("type") == "function_call_output" and item.get("call_id") in calls:
            output = _content_text(item.get("output"))
    return output


def read_turn(input: str | list[Any]) -> Turn:
    """Extract the question, its quoted selection / page title, this turn's search output and
    the reader's earlier questions."""
    if isinstance(input, str):
        return Turn(question=input.strip(), quote="", page_title="", search_output=None)
    items = [as_dict(item) for item in input]
    user_indexes = [i for i, item in enumerate(items) if _is_user_message(item)]
    if not user_indexes:
        return Turn(question="", quote="", page_title="", search_output=None)
    last_user = user_indexes[-1]
    start = _block_start(items, last_user)
    block = _read_block(items[start : last_user + 1])
    after = items[last_user + 1 :]
    return Turn(
        question=block.question,
        quote=block.quote,
        page_title=block.page_title,
        search_output=_outputs(after, SEARCH_TOOL),
        attachments=block.attachments,
        person_output=_outputs(after, PERSON_TOOL),
        reported=any(
            item.get("type") == "function_call" and item.get("name") == REPORT_TOOL for item in after
        ),
        earlier=_earlier_questions(items, start),
    )


def _page_title(page_context: str) -> str:
    page = read_block(PAGE_BLOCK, page_context)
    title = page.get("title") if isinstance(page, dict) else None
    return title if isinstance(title, str) else ""
