"""A thread's transcript for a ticket, read from the store: each question with the answers
that followed it, the URLs those answers cite and the names of the question's attachments."""

from __future__ import annotations

from chatkit.store import Store
from chatkit.types import AssistantMessageItem, ThreadItem, URLSource, UserMessageItem

from docsdesk.core.context import RequestContext
from docsdesk.handoff.ticket import MAX_TURN_TEXT, TranscriptTurn

MAX_TURNS = 50  # the most recent questions in a ticket
PAGE = 100


async def thread_items(store: Store[RequestContext], thread_id: str, ctx: RequestContext) -> list[ThreadItem]:
    items: list[ThreadItem] = []
    after = None
    while True:
        page = await store.load_thread_items(thread_id, after, PAGE, "asc", ctx)
        items.extend(page.data)
        if not page.has_more or page.after is None:
            return items
        after = page.after


def _question(item: UserMessageItem) -> str:
    return "\n".join(part.text for part in item.content if part.type == "input_text")


def transcript_of(items: list[ThreadItem]) -> list[TranscriptTurn]:
    turns: list[TranscriptTurn] = []
    question: UserMessageItem | None = None
    answers: list[str] = []
    urls: list[str] = []

    def close() -> None:
        if question is not None:
            turns.append(
                TranscriptTurn(
                    question=_question(question)[:MAX_TURN_TEXT],
                    answer="\n\n".join(answers)[:MAX_TURN_TEXT],
                    cited_urls=list(dict.fromkeys(urls)),
                    attachments=[a.name for a in question.attachments],
                )
            )

    for item in items:
        if isinstance(item, UserMessageItem):
            close()
            question, answers, urls = item, [], []
        elif isinstance(item, AssistantMessageItem) and question is not None:
            for content in item.content:
                answers.append(content.text)
                urls += [a.source.url for a in content.annotations if isinstance(a.source, URLSource)]
    close()
    return turns[-MAX_TURNS:]
