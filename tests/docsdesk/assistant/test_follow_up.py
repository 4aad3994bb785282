"""A follow-up question without a language model: which questions lean on the reader's earlier
one, the topic they take from it, and how the offline model reads the conversation and searches."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai.types.responses import ResponseFunctionToolCall

from docsdesk.assistant.follow_up import TOPIC_LIMIT, earlier_topic, leaned_on, leans_on_earlier
from docsdesk.assistant.offline import OfflineModel, search_query
from docsdesk.assistant.turn_input import read_turn
from docsdesk.core.context import PageContext
from tests.docsdesk.assistant.test_llm import PASSAGES, search_stub


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "type": "message", "content": [{"type": "input_text", "text": text}]}


def answered(call: str) -> list[dict[str, Any]]:
    """A finished turn's items after its question: the search call, its output, the answer."""
    return [
        {"type": "function_call", "call_id": call, "name": "search_docs", "arguments": "{}"},
        {"type": "function_call_output", "call_id": call, "output": PASSAGES},
        {
            "role": "assistant",
            "type": "message",
            "content": [{"type": "output_text", "text": "An answer [1]."}],
        },
    ]


@pytest.mark.parametrize(
    "question, leans",
    [
        ("and where does my python server receive that?", True),  # points back
        ("can I turn it off?", True),
        ("What about the client?", True),  # a continuation
        ("in code?", True),  # names too little of its own
        ("which class?", True),
        ("How do I configure retries for failed jobs?", False),  # a question of its own
        ("What is this page about?", False),  # the page, not an earlier question
        ("And this one?", False),  # asked on another page: that page
        ("does the section above apply here?", False),
        ("", False),
    ],
)
def test_which_questions_lean_on_the_earlier_one(question, leans):
    assert leans_on_earlier(question) is leans


def test_the_topic_comes_from_the_previous_question_and_the_one_it_leaned_on():
    earlier = ("How do users rate answers with thumbs up?", "where does my server get that?")
    # The previous question leaned on the first: both give the topic, without their opening
    # question words ("How do", "where does") and closing marks; phrases stay whole.
    assert (
        earlier_topic("and can I turn it off?", earlier)
        == "users rate answers with thumbs up my server get that"
    )
    # "my" stays with what the reader owns ("my Zorbly app" is no product the docs lack).
    assert earlier_topic("and on windows?", ("my Zorbly app crashes, why?",)) == "my Zorbly app crashes, why"
    # A question of its own, or none before it: no topic.
    assert earlier_topic("How do I configure retries for failed jobs?", earlier) == ""
    assert earlier_topic("can I turn it off?", ()) == ""
    # A question about the page names no topic to lean on.
    assert earlier_topic("and in code?", ("What is this page about?",)) == ""
    # Small talk in between asked nothing: the question before it gives the topic.
    assert (
        earlier_topic("and on windows?", ("How do I install docsdesk?", "ok thanks!")) == "install docsdesk"
    )
    # A long earlier question is cut at a word, within TOPIC_LIMIT characters.
    topic = earlier_topic("and that?", ("retries backoff " * 40,))
    assert (
        len(topic) <= TOPIC_LIMIT and not topic.endswith(" ") and topic.split()[-1] in ("retries", "backoff")
    )


def test_the_turn_records_the_question_a_follow_up_says_it_leans_on():
    earlier = ("How do I set up webhooks?", "thanks!")
    # Small talk in between is skipped: the reader's question, as they asked it.
    assert leaned_on("can I turn it off?", earlier) == "How do I set up webhooks?"
    assert leaned_on("and in code?", earlier) == "How do I set up webhooks?"
    # Short is not enough for the record: a question of its own counts as itself.
    assert leans_on_earlier("Is there a Windows installer?")
    assert leaned_on("Is there a Windows installer?", earlier) is None
    # The page, a question about the page, or nothing before: no earlier question.
    assert leaned_on("does it apply on this page?", earlier) is None
    assert leaned_on("and in code?", ("What is this page about?",)) is None
    assert leaned_on("can I turn it off?", ()) is None


def test_read_turn_keeps_the_earlier_questions_without_their_context_blocks():
    page = user(PageContext(title="Retries", url="https://x/retries").render())
    items = [
        page,
        user("How are failed jobs retried?"),
        *answered("c1"),
        user("and how long does it wait?"),
        *answered("c2"),
        page,
        user("can I change that?"),
    ]
    turn = read_turn(items)
    assert turn.question == "can I change that?" and turn.page_title == "Retries"
    assert turn.earlier == ("How are failed jobs retried?", "and how long does it wait?")
    assert turn.search_output is None  # this turn has not searched yet
    assert read_turn([user("first?")]).earlier == ()


def test_a_follow_up_searches_with_the_earlier_topic_and_not_the_page_title():
    page = user(PageContext(title="Configuration guide", url="https://x/config").render())
    history = [page, user("How do users rate answers with thumbs up?"), *answered("c1"), page]
    follow_up = read_turn([*history, user("where does my server get that?")])
    assert search_query(follow_up) == "where does my server get that? users rate answers with thumbs up"
    # A question of its own is searched as it is, even in a conversation.
    own = read_turn([*history, user("How do I configure retries for failed jobs?")])
    assert search_query(own) == "How do I configure retries for failed jobs?"
    # "this page" is still the page, and a first question pointing at "this" too.
    about_page = read_turn([*history, user("What does this page say about it?")])
    assert search_query(about_page) == "What does this page say about it? Configuration guide"
    assert (
        search_query(read_turn([page, user("What does this mean?")]))
        == "What does this mean? Configuration guide"
    )


def test_the_offline_model_calls_search_with_the_follow_ups_topic():
    items = [user("How do I install docsdesk?"), *answered("c1"), user("and on windows?")]
    [call] = OfflineModel().reply(None, items, [search_stub("", [])])
    assert isinstance(call, ResponseFunctionToolCall)
    assert json.loads(call.arguments) == {"query": "and on windows? install docsdesk"}
