"""What the offline model reads from the reader's message alone: small talk."""

from __future__ import annotations

import pytest
from openai.types.responses import ResponseOutputMessage

from docsdesk.assistant.intents import SMALL_TALK_REPLIES, small_talk, small_talk_turn
from docsdesk.assistant.offline import OfflineModel
from docsdesk.assistant.turn_input import Turn
from tests.docsdesk.assistant.test_llm import search_stub


@pytest.mark.parametrize(
    "message, kind",
    [
        ("hi", "greeting"),
        ("Hello, can you help me?", "greeting"),
        ("thanks!", "thanks"),
        ("ok that worked, thank you so much", "thanks"),
        ("great, bye", "goodbye"),
        ("ok", "ack"),
        ("that makes sense", "ack"),
        ("👍", "ack"),
        ("thanks! and how do I retry a job?", None),  # a question too
        ("How do I get help?", None),
        ("hello world example", None),
        ("Is this good?", None),
        ("?", None),
        ("", None),
    ],
)
def test_small_talk(message, kind):
    assert small_talk(message) == kind


def test_a_quote_or_an_attachment_makes_it_a_question():
    assert small_talk_turn(Turn("thanks", "", "", None)) == "thanks"
    assert small_talk_turn(Turn("thanks", "a selected sentence", "", None)) is None
    assert small_talk_turn(Turn("ok", "", "", None, attachments=[{"name": "log.txt", "text": "x"}])) is None


def test_the_offline_model_replies_to_small_talk_without_a_tool_call():
    user = {"role": "user", "type": "message", "content": [{"type": "input_text", "text": "thanks a lot!"}]}
    [item] = OfflineModel().reply(None, [user], [search_stub("", [])])
    assert isinstance(item, ResponseOutputMessage)
    assert item.content[0].text == SMALL_TALK_REPLIES["thanks"]
