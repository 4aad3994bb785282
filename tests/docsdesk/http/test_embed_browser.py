"""The embed kit in headless Chromium, against a real docsdesk server on another origin.

The test site (a second local HTTP server, so every docsdesk request is cross-origin and goes
through CORS) serves pages built from the README's plain-HTML embedding, word for word except
for two things: the server's address, and OpenAI's CDN script, which cannot load here and is
replaced by a stand-in `openai-chatkit` element that only keeps the options given to
`setOptions`. The tests then call `options.api.fetch(url, init)` exactly as the widget does
(a POST of a JSON ChatKit request, reading the SSE stream).

The model is scripted: it answers "what is this page about" from the page block it was given,
and keeps every input it saw, so the tests can check the page reached the model on every turn.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import jwt

from app import create_app
from docsdesk.assistant.stream import message_item
from docsdesk.core.blocks import read_block
from docsdesk.core.context import PAGE_BLOCK
from docsdesk.http.auth import SESSION_AUDIENCE, SESSION_ISSUER
from prompts import TITLE_PROMPT
from rag.ingest import ingest
from tests.support import FIXTURE_DOCS, REPO, LiveServer, new_id
from tests.support.assistants import use_model
from tests.support.chatkit_client import parse_sse, user_input
from tests.support.scripted_model import ModelCall, ScriptedModel
from tests.support.static_site import StaticSite

README_HOST = "https://assistant.example.com"
CDN_SCRIPT = '<script src="https://cdn.platform.openai.com/deployments/chatkit/chatkit.js" async></script>'
STAND_IN = """customElements.define("openai-chatkit", class extends HTMLElement {
  setOptions(options) { this.options = options; }
});"""


def readme_html_embedding() -> str:
    """The README's plain-HTML embedding (the ```html block that creates the widget)."""
    blocks = re.findall(r"```html\n(.*?)```", (REPO / "README.md").read_text(), re.DOTALL)
    matching = [block for block in blocks if "<openai-chatkit" in block]
    assert matching, "README.md has no ```html block embedding <openai-chatkit>"
    return matching[0]


@dataclass
class Page:
    title: str
    description: str
    headings: list[str]


RETRIES = Page(
    "Retries and backoff — Example Queue",
    "How failed jobs are retried, and when they go to the dead-letter queue.",
    ["Retries and backoff", "Backoff schedule", "Dead letters"],
)
WORKERS = Page(
    "Running workers — Example Queue",
    "Starting, scaling and stopping queue workers.",
    ["Running workers", "Concurrency", "Graceful shutdown"],
)


def page_html(page: Page, embedding: str) -> str:
    headings = "\n".join(
        f"<h{1 if i == 0 else 2}>{text}</h{1 if i == 0 else 2}><p>Some text.</p>"
        for i, text in enumerate(page.headings)
    )
    return f"""<!doctype html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<title>{page.title}</title>
<meta name="description" content="{page.description}">
</head>
<body>
<nav><h3>Not part of the article</h3></nav>
<main>
{headings}
</main>
{embedding}
</body>
</html>
"""


class PageReader(ScriptedModel):
    """Answers from the last page block in its input; titles on the side."""

    def __init__(self) -> None:
        super().__init__([])

    def reply(self, system_instructions, input, tools):
        if system_instructions == TITLE_PROMPT:
            return [message_item("About this page")]
        self.calls.append(ModelCall(system_instructions, list(input), list(tools)))
        blocks = page_blocks(input)
        if not blocks:
            return [message_item("I cannot see which page you are on.")]
        page = read_block(PAGE_BLOCK, blocks[-1]) or {}
        return [message_item(f"This page is about {page.get('title', 'something untitled')}.")]


def page_blocks(model_input: list[Any]) -> list[str]:
    """The <page_context> blocks the model was given, in order."""
    found = []
    for item in model_input:
        content = item.get("content") if isinstance(item, dict) else None
        parts = [content] if isinstance(content, str) else content or []
        for part in parts:
            text = part if isinstance(part, str) else part.get("text", "")
            if text.startswith("<page_context>"):
                found.append(text)
    return found


@dataclass
class Embedded:
    site: StaticSite
    url: str  # the docsdesk server
    app: Any
    model: PageReader
    new_users: list[str]
    browser: Any

    def page(self, name: str, page: Page) -> str:
        embedding = (
            readme_html_embedding()
            .replace(README_HOST, self.url)
            .replace(CDN_SCRIPT, '<script src="/chatkit-stand-in.js" async></script>')
        )
        assert CDN_SCRIPT not in embedding and self.url in embedding
        return self.site.write(name, page_html(page, embedding))

    async def open(self, url: str) -> None:
        await asyncio.to_thread(self.browser.get, url)

    async def widget_fetch(self, body: dict, frames: list[str | None] | None = None) -> dict:
        """POST `body` through the widget's api.fetch, as ChatKit does; the whole answer. With
        `frames`, the same request from each of those documents (None: the page) at once."""
        results = await asyncio.to_thread(
            self.browser.execute_async_script, WIDGET_FETCH, body, frames or [None]
        )
        for result in results:
            assert "error" not in result, result.get("error")
        return results if frames else results[0]

    async def turn(self, body: dict) -> list[dict]:
        result = await self.widget_fetch(body)
        assert result["status"] == 200, result
        assert result["type"].startswith("text/event-stream")
        return parse_sse("".join(result["chunks"]))

    async def call(self, body: dict) -> dict:
        result = await self.widget_fetch(body)
        assert result["status"] == 200, result
        return json.loads("".join(result["chunks"]))

    async def stored_session(self) -> dict:
        raw = await asyncio.to_thread(
            self.browser.execute_script,
            "return localStorage.getItem(arguments[0]);",
            f"docsdesk.session:{self.url}/session",
        )
        assert raw, "no session in localStorage"
        return json.loads(raw)

    async def store_session(self, session: dict) -> None:
        await asyncio.to_thread(
            self.browser.execute_script,
            "localStorage.setItem(arguments[0], arguments[1]);",
            f"docsdesk.session:{self.url}/session",
            json.dumps(session),
        )


# The widget's side of a request: find the element's options and call api.fetch(url, init).
WIDGET_FETCH = """
const [body, frames, done] = arguments;
async function widgetFetch(frame) {
  const win = frame ? document.getElementById(frame).contentWindow : window;
  await win.customElements.whenDefined("openai-chatkit");
  const chatkit = win.document.getElementById("docs-assistant");
  while (!chatkit.options) await new Promise((r) => setTimeout(r, 10));
  const { url, fetch } = chatkit.options.api;
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const chunks = [];
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(decoder.decode(value, { stream: true }));
  }
  return { status: response.status, type: response.headers.get("content-type"), chunks };
}
async function ready(frame) {  // every document loaded and its widget configured
  const win = frame ? document.getElementById(frame).contentWindow : window;
  while (!win.document.getElementById("docs-assistant") || !win.document.getElementById("docs-assistant").options) {
    await new Promise((r) => setTimeout(r, 10));
  }
}
Promise.all(frames.map(ready))
  .then(() => Promise.all(frames.map((frame) => widgetFetch(frame).catch(
    (error) => ({ error: String((error && error.stack) || error) })))))
  .then(done, (error) => done([{ error: String((error && error.stack) || error) }]));
"""


@asynccontextmanager
async def embedded(
    settings, tmp_path, browser, *, scripted: bool = True, **overrides
) -> AsyncIterator[Embedded]:
    with StaticSite(tmp_path / "site") as site:
        site.write("chatkit-stand-in.js", STAND_IN)
        app = create_app(settings.model_copy(update={"cors_origins": [site.origin], **overrides}))
        async with LiveServer(app) as live:
            model = PageReader()
            if scripted:
                use_model(app, model)
            authenticator = app.state.services.authenticator
            issue, new_users = authenticator.issue_session, []

            def counting_issue(user_id: str | None = None) -> dict:
                session = issue(user_id)
                if user_id is None:
                    new_users.append(session["user_id"])
                return session

            authenticator.issue_session = counting_issue
            yield Embedded(site, live.url, app, model, new_users, browser)


def create_thread(text: str) -> dict:
    return {"type": "threads.create", "params": {"input": user_input(text)}}


def answer_of(events: list[dict]) -> str:
    done = [
        e["item"]
        for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"
    ]
    assert len(done) == 1, events
    return "".join(part["text"] for part in done[0]["content"])


def sources_of(events: list[dict]) -> list[str]:
    """The URLs the assistant's answer cites, in order."""
    return [
        annotation["source"]["url"]
        for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"
        for part in e["item"]["content"]
        for annotation in part.get("annotations", [])
    ]


def thread_id_of(events: list[dict]) -> str:
    return next(e["thread"]["id"] for e in events if e["type"] == "thread.created")


async def test_the_answer_streams_and_comes_from_the_page_the_reader_is_on(settings, tmp_path, browser):
    async with embedded(settings, tmp_path, browser) as kit:
        retries = kit.page("retries.html", RETRIES)
        workers = kit.page("workers.html", WORKERS)
        await kit.open(retries + "?ref=newsletter&token=secret#backoff-schedule")

        events = await kit.turn(create_thread("What is this page about?"))
        deltas = [
            i
            for i, e in enumerate(events)
            if e["type"] == "thread.item.updated"
            and e["update"]["type"] == "assistant_message.content_part.text_delta"
        ]
        done_at = next(
            i
            for i, e in enumerate(events)
            if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"
        )
        assert deltas and max(deltas) < done_at  # the text streamed in before the message ended
        assert answer_of(events) == f"This page is about {RETRIES.title}."

        block = page_blocks(kit.model.calls[-1].input)[-1]
        assert "secret" not in block
        assert read_block(PAGE_BLOCK, block) == {
            "title": RETRIES.title,
            "url": f"{retries}#backoff-schedule",  # the query string is not sent
            "path": "/retries.html",
            "language": "en-GB",
            "description": RETRIES.description,
            "headings": RETRIES.headings,  # <main>'s, not the nav's
        }

        # The reader moves on and asks again in the same thread: this turn sees the new page.
        thread_id = thread_id_of(events)
        await kit.open(workers)
        events = await kit.turn(
            {
                "type": "threads.add_user_message",
                "params": {"thread_id": thread_id, "input": user_input("And this one?")},
            }
        )
        assert answer_of(events) == f"This page is about {WORKERS.title}."
        blocks = page_blocks(kit.model.calls[-1].input)
        titles = [read_block(PAGE_BLOCK, b)["title"] for b in blocks]
        assert titles[0] == RETRIES.title and titles[-1] == WORKERS.title
        assert len(kit.new_users) == 1


async def test_the_reader_keeps_their_threads_across_page_loads(settings, tmp_path, browser):
    async with embedded(settings, tmp_path, browser) as kit:
        url = kit.page("retries.html", RETRIES)
        await kit.open(url)
        thread_id = thread_id_of(await kit.turn(create_thread("What is this page about?")))
        session = await kit.stored_session()

        await asyncio.to_thread(browser.refresh)
        listed = await kit.call({"type": "threads.list", "params": {"limit": 10}})
        assert [thread["id"] for thread in listed["data"]] == [thread_id]
        await kit.open(kit.page("workers.html", WORKERS))
        listed = await kit.call({"type": "threads.list", "params": {"limit": 10}})
        assert [thread["id"] for thread in listed["data"]] == [thread_id]
        assert (await kit.stored_session())["userId"] == session["userId"]
        assert kit.new_users == [session["userId"]]  # one anonymous reader, not one per page view


async def test_an_expired_session_is_renewed_without_losing_the_thread(settings, tmp_path, browser):
    secret = settings.secret_key.get_secret_value()
    async with embedded(settings, tmp_path, browser) as kit:
        await kit.open(kit.page("retries.html", RETRIES))
        thread_id = thread_id_of(await kit.turn(create_thread("What is this page about?")))
        session = await kit.stored_session()
        now = int(time.time())
        expired = jwt.encode(
            {
                "iss": SESSION_ISSUER,
                "aud": SESSION_AUDIENCE,
                "sub": session["userId"],
                "iat": now - 8 * 24 * 3600,
                "exp": now - 24 * 3600,
            },
            secret,
            algorithm="HS256",
        )
        now_ms = now * 1000

        # 1. The browser knows its session expired: it renews it before sending.
        await kit.store_session(
            {**session, "token": expired, "expiresAt": now_ms - 1000, "renewAt": now_ms - 2000}
        )
        await asyncio.to_thread(browser.refresh)
        listed = await kit.call({"type": "threads.list", "params": {"limit": 10}})
        assert [thread["id"] for thread in listed["data"]] == [thread_id]
        renewed = await kit.stored_session()
        assert renewed["userId"] == session["userId"] and renewed["token"] != expired
        assert renewed["expiresAt"] > now_ms

        # 2. It believes its session is good, the server says 401: renewed once, request retried.
        far = now_ms + 3600 * 1000
        await kit.store_session({**session, "token": expired, "expiresAt": far + 3600 * 1000, "renewAt": far})
        events = await kit.turn(
            {
                "type": "threads.add_user_message",
                "params": {"thread_id": thread_id, "input": user_input("Still there?")},
            }
        )
        assert answer_of(events) == f"This page is about {RETRIES.title}."
        assert (await kit.stored_session())["token"] != expired
        assert kit.new_users == [session["userId"]]


async def test_two_concurrent_first_requests_create_one_reader(settings, tmp_path, browser):
    async with embedded(settings, tmp_path, browser) as kit:
        kit.page("retries.html", RETRIES)
        frames = kit.site.write(
            "frames.html",
            '<!doctype html><iframe id="a" src="retries.html"></iframe><iframe id="b" src="retries.html"></iframe>',
        )
        await kit.open(frames)
        body = {"type": "threads.list", "params": {"limit": 5}}
        # Two requests in each of two documents at once (two copies of embed.js, like two tabs).
        results = await kit.widget_fetch(body, ["a", "b", "a", "b"])
        assert [result["status"] for result in results] == [200, 200, 200, 200]
        assert len(kit.new_users) == 1
        assert (await kit.stored_session())["userId"] == kit.new_users[0]


async def test_the_script_also_loads_as_an_es_module_from_another_origin(settings, tmp_path, browser):
    async with embedded(settings, tmp_path, browser) as kit:
        url = kit.site.write(
            "module.html",
            f'<!doctype html><script type="module">import "{kit.url}/embed.js?v=1.1.1";'
            "window.loaded = [docsdesk.version, typeof docsdesk.createFetch];</script>",
        )
        await kit.open(url)
        loaded = await asyncio.to_thread(
            browser.execute_async_script,
            "const done = arguments[0]; (function wait() { window.loaded ? done(window.loaded) : setTimeout(wait, 10); })();",
        )
        assert loaded == ["1.1.1", "function"]


async def test_the_offline_model_answers_from_the_docs_of_the_page_the_reader_is_on(
    settings, database, tmp_path, browser
):
    """No scripted model: the offline model (no API key) over the fixture doc set, published at
    the test site's origin, so the page the browser is on is one of the indexed pages."""
    collection = new_id("embed")
    async with embedded(settings, tmp_path, browser, scripted=False, collection=collection) as kit:
        await ingest(database.engine, [FIXTURE_DOCS], base_url=kit.site.origin + "/", collection=collection)
        (kit.site.root / "concepts" / "retries").mkdir(parents=True)
        (kit.site.root / "concepts" / "workers").mkdir(parents=True)
        retries = kit.page("concepts/retries/index.html", RETRIES)
        workers = kit.page("concepts/workers/index.html", WORKERS)

        await kit.open(retries.removesuffix("index.html"))
        events = await kit.turn(create_thread("What is this page about?"))
        thread_id = thread_id_of(events)
        answer = answer_of(events)
        assert "A job that raises an exception is retried" in answer, answer
        assert sources_of(events)[0].startswith(f"{kit.site.origin}/concepts/retries/")

        await kit.open(workers.removesuffix("index.html"))
        events = await kit.turn(
            {
                "type": "threads.add_user_message",
                "params": {"thread_id": thread_id, "input": user_input("And this one?")},
            }
        )
        answer = answer_of(events)
        assert "Start a worker with" in answer, answer
        # The page the reader is on now comes first.
        assert sources_of(events)[0].startswith(f"{kit.site.origin}/concepts/workers/"), answer
