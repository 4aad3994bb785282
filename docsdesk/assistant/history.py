"""The model's input for a turn: thread items converted by `DocsConverter`, newest first
until the history budget (tokens) is spent, returned oldest first."""

from __future__ import annotations

from typing import Any

from agents.items import TResponseInputItem
from chatkit.agents import ThreadItemConverter
from chatkit.types import (
    AssistantMessageItem,
    Attachment,
    HiddenContextItem,
    Page,
    ThreadItem,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTagContent,
    WidgetItem,
)
from openai.types.responses import EasyInputMessageParam, ResponseInputTextParam
from openai.types.responses.response_input_item_param import Message

from chatkit_store import PostgresStore
from docsdesk.assistant.attachment_input import EARLIER, AttachmentInput, reference
from docsdesk.core.blocks import QUOTE_BLOCK, QUOTE_INTRO, data_block
from docsdesk.core.context import PageContext, RequestContext

HISTORY_PAGE = 50
IMAGE_TOKENS = 1_000  # what an image input costs, roughly, whatever its data URL's length


class DocsConverter(ThreadItemConverter):
    """Thread items -> model input. Page-context items become a delimited data block.

    Attachments: those of the message being answered (`expand`) go in whole (images as
    image inputs, text as data blocks, see docsdesk/assistant/attachment_input.py); earlier
    ones by name only, so a large file is not re-sent on every turn. The page of this turn
    (`current_page`: its hidden item's id and the page) is rendered from the value the route
    parsed, not read back from the stored item. One converter per turn."""

    def __init__(
        self,
        attachments: AttachmentInput | None = None,
        context: RequestContext | None = None,
        expand: frozenset[str] = frozenset(),
        current_page: tuple[str, PageContext] | None = None,
    ) -> None:
        self.attachments = attachments
        self.context = context
        self.expand = expand
        self.current_page = current_page

    async def hidden_context_to_input(self, item: HiddenContextItem):
        if self.current_page is not None and item.id == self.current_page[0]:
            return user_text(self.current_page[1].render())
        if isinstance(item.content, dict) and "page" in item.content:
            # An earlier turn's page, as the thread stored it.
            return user_text(PageContext.model_validate(item.content["page"]).render())
        return await super().hidden_context_to_input(item)

    async def widget_to_input(self, item: WidgetItem) -> None:
        """docsdesk's widgets (the hand-off form, follow-up suggestions) are for the reader
        only: the model does not see them (the SDK would send their JSON as a user message)."""
        return None

    async def user_message_to_input(self, item: UserMessageItem, is_last_message: bool = True):
        """The SDK's conversion, with the quoted selection (when shown) as a delimited data
        block instead of the SDK's undelimited "The user is referring to this" text."""
        converted = await super().user_message_to_input(
            item.model_copy(update={"quoted_text": None}), is_last_message
        )
        items = [] if converted is None else converted if isinstance(converted, list) else [converted]
        if item.quoted_text and is_last_message:
            items.insert(1, user_text(f"{QUOTE_INTRO}\n{data_block(QUOTE_BLOCK, item.quoted_text)}"))
        return items

    async def assistant_message_to_input(self, item: AssistantMessageItem):
        # Plain string content: the SDK's default (output_text parts) is rejected by the
        # Agents SDK's Chat Completions converter, and the Responses API takes either.
        text = "".join(part.text for part in item.content)
        return EasyInputMessageParam(type="message", role="assistant", content=text)

    async def tag_to_message_content(self, tag: UserMessageTagContent):
        return ResponseInputTextParam(type="input_text", text=f"@{tag.text}")

    async def attachment_to_message_content(self, attachment: Attachment):
        if self.attachments is not None and self.context is not None and attachment.id in self.expand:
            return await self.attachments.content(attachment, self.context)
        return reference(attachment, EARLIER)


def user_text(text: str) -> Message:
    return Message(role="user", type="message", content=[{"type": "input_text", "text": text}])


def input_tokens(items: list[TResponseInputItem]) -> int:
    """A rough token count of model input: ~4 characters a token, IMAGE_TOKENS an image."""
    images = 0
    chars = 0
    for item in items:
        content: Any = item.get("content") if isinstance(item, dict) else None
        if isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") == "input_image":
                    images += 1
                else:
                    chars += len(repr(part))
        else:
            chars += len(repr(item))
    return max(1, chars // 4 + images * IMAGE_TOKENS)


async def history_window(
    store: PostgresStore,
    thread: ThreadMetadata,
    converter: DocsConverter,
    context: RequestContext,
    budget: int,
) -> tuple[list[TResponseInputItem], Page[ThreadItem]]:
    """The newest items that fit `budget` tokens, oldest dropped first, in order; and the
    first page read (the thread's newest items, newest first).

    The SDK stored the current user message before respond(), so it is already here."""
    kept: list[list[TResponseInputItem]] = []
    newest_user_seen = False
    after = None
    first: Page[ThreadItem] | None = None
    while True:
        page = await store.load_thread_items(thread.id, after, HISTORY_PAGE, "desc", context)
        first = first or page
        for item in page.data:
            is_current = isinstance(item, UserMessageItem) and not newest_user_seen
            newest_user_seen = newest_user_seen or isinstance(item, UserMessageItem)
            converted = await _convert(converter, item, is_current)
            cost = input_tokens(converted) if converted else 0
            if cost > budget and not is_current and kept:
                return [entry for chunk in reversed(kept) for entry in chunk], first
            budget -= cost
            if converted:
                kept.append(converted)
        if not page.has_more:
            break
        after = page.after
    return [entry for chunk in reversed(kept) for entry in chunk], first


async def _convert(converter: DocsConverter, item: ThreadItem, is_current: bool) -> list[TResponseInputItem]:
    """One item through the SDK's public `to_agent_input`. The quoted selection of a user
    message is shown only for the message being answered: earlier ones go without it."""
    if isinstance(item, UserMessageItem) and item.quoted_text and not is_current:
        item = item.model_copy(update={"quoted_text": None})
    return await converter.to_agent_input(item)
