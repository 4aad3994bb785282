"""The acceptance path: a server over a documentation set answers with cited, annotated
sources, offline and through an OpenAI-compatible endpoint, and `docsdesk serve --docs` works.

Here over the small documentation set the tests ship (tests/fixtures/docs); the corpus tier
(tests/corpus_tier) runs the same tests over the real ChatKit docs by overriding `doc_set`."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from app import create_app
from prompts import TITLE_PROMPT
from rag.ingest import ingest
from tests.support import FIXTURE_DOCS, ServeProcess, new_id
from tests.support.chatkit_client import ChatKitClient, done_items, signed_in, user_input
from tests.support.fake_openai import FakeOpenAI, Reply, ToolCall

QUESTION = "How do I show sources under an answer?"


@dataclass(frozen=True)
class DocSet:
    path: Path
    base_url: str
    question: str = QUESTION  # answered on the annotations page, in that doc set's own words

    @property
    def annotations_page(self) -> str:  # the page that answers `question`
        return self.base_url + "guides/add-annotations/"


@pytest.fixture(scope="module")
def doc_set() -> DocSet:
    return DocSet(FIXTURE_DOCS, "https://lantern.test/")


@pytest.fixture(scope="module")
async def chatkit_docs(database, doc_set) -> str:
    collection = new_id("docs")
    await ingest(database.engine, [doc_set.path], base_url=doc_set.base_url, collection=collection)
    return collection


def annotations_of(events: list[dict]) -> list[dict]:
    answer = done_items(events, "assistant_message")[-1]
    return [a for part in answer["content"] for a in part["annotations"]]


async def test_offline_model_answers_with_the_annotations_guide(settings, chatkit_docs, doc_set):
    app = create_app(settings.model_copy(update={"collection": chatkit_docs, "model": "offline"}))
    async with signed_in(app) as client:
        _, events = await client.new_thread(doc_set.question)
    answer = done_items(events, "assistant_message")[-1]["content"][0]["text"]
    assert "No language model is configured" in answer
    assert "[1]" in answer
    urls = [a["source"]["url"] for a in annotations_of(events)]
    assert urls and urls[0].startswith(doc_set.annotations_page), urls


async def test_offline_topic_switch_on_a_page_gets_the_new_topics_sources(settings, chatkit_docs, doc_set):
    """On the annotations page, a follow-up about another topic is answered from that topic's
    page: the page context breaks ties, it does not outweigh the question (issue #11)."""
    app = create_app(settings.model_copy(update={"collection": chatkit_docs, "model": "offline"}))
    page = {
        "page": {
            "url": doc_set.annotations_page,
            "title": "Show sources under an answer",
            "path": "/guides/add-annotations/",
        }
    }
    feedback_page = doc_set.base_url + "guides/feedback/"
    async with signed_in(app) as client:
        thread_id, events = await client.new_thread("What does this page explain?", metadata=page)
        urls = [a["source"]["url"] for a in annotations_of(events)]
        assert urls and urls[0].startswith(doc_set.annotations_page), urls  # "this page" is the page

        events = await client.call(
            "threads.add_user_message",
            {"thread_id": thread_id, "input": {**user_input("And how do I handle thumbs-down feedback?")}},
            page,
        )
    answer = done_items(events, "assistant_message")[-1]["content"][0]["text"]
    urls = [a["source"]["url"] for a in annotations_of(events)]
    assert urls and urls[0].startswith(feedback_page), (urls, answer)
    assert "good moment to ask what went wrong" in answer


@pytest.mark.parametrize("model", ["openai-chat:local-llm", "openai:gpt-test"])
async def test_openai_compatible_endpoint_works_unchanged(settings, chatkit_docs, doc_set, model):
    async with FakeOpenAI() as fake:
        fake.side_replies = lambda body: Reply(text="Sources help") if TITLE_PROMPT in str(body) else None
        fake.enqueue(
            Reply(tool_calls=[ToolCall("search_docs", {"query": "show sources annotations"})]),
            "Add URL sources as annotations on the assistant message [1].",
            Reply(tool_calls=[ToolCall("search_docs", {"query": "annotations"})]),
            "Same again [1].",
        )
        app = create_app(
            settings.model_copy(
                update={
                    "collection": chatkit_docs,
                    "model": model,
                    "openai_api_key": SecretStr("sk-local"),
                    "openai_base_url": fake.base_url,
                }
            )
        )
        async with signed_in(app) as client:
            thread_id, first = await client.new_thread(doc_set.question)
            second = await client.call(
                "threads.add_user_message",
                {
                    "thread_id": thread_id,
                    "input": {
                        "content": [{"type": "input_text", "text": "Again?"}],
                        "attachments": [],
                        "inference_options": {},
                    },
                },
            )
            thread = await client.call("threads.get_by_id", {"thread_id": thread_id})
    assert annotations_of(first)[0]["source"]["url"].startswith(doc_set.annotations_page)
    assert [e["thread"]["title"] for e in first if e["type"] == "thread.updated"] == ["Sources help"]
    ids = [
        done_items(first, "assistant_message")[-1]["id"],
        done_items(second, "assistant_message")[-1]["id"],
    ]
    assert len(set(ids)) == 2 and "__fake_id__" not in ids
    kinds = [i["type"] for i in thread["items"]["data"]]
    assert kinds.count("assistant_message") == 2  # turns never overwrite each other
    path = "/v1/chat/completions" if model.startswith("openai-chat:") else "/v1/responses"
    last = json.dumps(fake.bodies(path)[-1])
    # The second turn's request carried the first answer as history, once.
    assert last.count("Add URL sources as annotations on the assistant message") == 1


async def test_cli_serve_indexes_docs_then_answers(database, tmp_path, doc_set):
    server = ServeProcess(
        [sys.executable, "-m", "docsdesk"],
        {
            "DATABASE_URL": database.url,
            "DOCSDESK_DATA_DIR": str(tmp_path),
            "DOCSDESK_COLLECTION": new_id("cli"),
        },
    ).with_args("--docs", str(doc_set.path), "--base-url", doc_set.base_url)
    async with server, ChatKitClient(server.url) as client:
        await client.login()
        _, events = await client.new_thread(doc_set.question)
        assert annotations_of(events)[0]["source"]["url"].startswith(doc_set.annotations_page)
    assert f"indexed {doc_set.path}" in server.output
    assert f"ready at {server.url}" in server.output
