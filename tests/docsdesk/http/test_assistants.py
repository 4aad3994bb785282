"""Several assistants in one server, from docsdesk.toml: each answers from its own
collections, threads belong to their assistant, a reload swaps definitions under a running
stream, and a JWT claim limits which assistants a user may use."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import replace
from pathlib import Path

import jwt
import pytest
from pydantic import SecretStr

from app import create_app
from docsdesk.assistant.stream import message_item, model_response, usage_for
from rag.ingest import ingest
from tests.support import LiveServer, new_id
from tests.support.chatkit_client import ChatKitClient, done_items, user_input
from tests.support.scripted_model import ScriptedModel

ADMIN_TOKEN = "admin-token-0123456789abcdef"
JWT_SECRET = "jwt-secret-0123456789abcdef0123456789abcdef"

GUIDES = {
    "install.md": "# Installing Acme\n\n## On a laptop\n\nRun `acme-setup --fast` to install Acme "
    "on a laptop. The installer asks for your licence number and downloads the Acme runtime.\n",
}
API = {
    "keys.md": "# API keys\n\n## Rotating a key\n\nRotate an API key with `POST /v1/keys/rotate`: "
    "the old key keeps working for 24 hours, then the rotated key replaces it.\n",
}


def config_text(guides: str, api: str, docs_instructions: str = "You answer about Acme.") -> str:
    return f'''
default_assistant = "docs"

[assistants.docs]
title = "Acme Docs"
collections = ["{guides}"]
instructions = """{docs_instructions}"""
greeting = "Ask me about installing Acme"
starter_prompts = ["How do I install Acme?"]

[assistants.api]
title = "Acme API"
collections = ["{api}"]
instructions = "You answer about the Acme HTTP API."
origins = ["https://api-site.test"]
rate_limit_turns = "3/minute"
'''


async def index(engine, tmp_path: Path, name: str, pages: dict[str, str], base_url: str) -> str:
    folder = tmp_path / name
    folder.mkdir()
    for file, text in pages.items():
        (folder / file).write_text(text)
    collection = new_id(name)
    await ingest(
        engine, [folder], base_url=base_url, collection=collection, url_style="mkdocs", embedder=None
    )
    return collection


@pytest.fixture
async def two(settings, engine, tmp_path):
    """(url, app, config path, guides collection, api collection): a server with two assistants."""
    guides = await index(engine, tmp_path, "guides", GUIDES, "https://guides.acme.test/")
    api = await index(engine, tmp_path, "api", API, "https://api.acme.test/")
    path = tmp_path / "docsdesk.toml"
    path.write_text(config_text(guides, api))
    app = create_app(settings.model_copy(update={"config_file": path, "admin_token": SecretStr(ADMIN_TOKEN)}))
    async with LiveServer(app) as live:
        yield live.url, app, path, guides, api


def cited(events: list[dict]) -> list[str]:
    return [
        a["source"]["url"]
        for item in done_items(events, "assistant_message")
        for part in item["content"]
        for a in part["annotations"]
    ]


async def test_each_assistant_answers_only_from_its_own_collections(two):
    url, app, _, guides, api = two
    async with ChatKitClient(url) as docs, ChatKitClient(url, path="/a/api/chatkit") as api_client:
        await docs.login()
        api_client.headers = docs.headers  # the same reader, two assistants
        _, events = await docs.new_thread("How do I install Acme on a laptop?")
        assert cited(events) and all(u.startswith("https://guides.acme.test/") for u in cited(events))
        _, events = await api_client.new_thread("How do I rotate an API key?")
        assert cited(events) and all(u.startswith("https://api.acme.test/") for u in cited(events))
        # Asked about the other's subject, neither cites the other's collection.
        _, events = await docs.new_thread("How do I rotate an API key?")
        assert not any(u.startswith("https://api.acme.test/") for u in cited(events))
        _, events = await api_client.new_thread("How do I install Acme on a laptop?")
        assert not any(u.startswith("https://guides.acme.test/") for u in cited(events))
    await app.state.services.recorder.flush()
    async with engine_of(app).connect() as conn:
        rows = (
            await conn.exec_driver_sql(
                "SELECT assistant, collection FROM turns WHERE collection IN ($1, $2) ORDER BY id",
                (guides, api),
            )
        ).all()
    assert [tuple(r) for r in rows] == [("docs", guides), ("api", api), ("docs", guides), ("api", api)]


def engine_of(app):
    return app.state.services.database.engine


async def test_a_thread_of_one_assistant_is_404_through_another(two):
    url, *_ = two
    async with ChatKitClient(url) as docs, ChatKitClient(url, path="/a/api/chatkit") as other:
        await docs.login()
        other.headers = docs.headers
        thread_id, events = await docs.new_thread("How do I install Acme?")
        question = done_items(events, "user_message")[0]["id"]
        for type_, params in [
            ("threads.get_by_id", {"thread_id": thread_id}),
            ("items.list", {"thread_id": thread_id}),
            ("threads.add_user_message", {"thread_id": thread_id, "input": user_input("and?")}),
            ("threads.retry_after_item", {"thread_id": thread_id, "item_id": question}),
            ("threads.update", {"thread_id": thread_id, "title": "mine"}),
            ("threads.delete", {"thread_id": thread_id}),
        ]:
            response = await other.request(type_, params)
            assert response.status_code == 404, (type_, response.text)
            assert response.json()["error"]["code"] == "not_found"
        listed = await other.call("threads.list", {"limit": 50})
        assert thread_id not in [t["id"] for t in listed["data"]]
        # Still the first assistant's, untouched.
        thread = await docs.call("threads.get_by_id", {"thread_id": thread_id})
        assert thread["id"] == thread_id and thread["title"] != "mine"
        assert thread_id in [t["id"] for t in (await docs.call("threads.list", {"limit": 50}))["data"]]
        # An unknown assistant is a 404 in the documented error shape.
        response = await docs.http.post(
            "/a/nosuch/chatkit", json={"type": "threads.list", "params": {}}, headers=docs.headers
        )
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


class HeldScript(ScriptedModel):
    """A scripted model whose streamed answers wait for `gate` (a turn held open); titles
    (non-streamed calls) come at once, without taking a step."""

    def __init__(self, steps, held: bool = True):
        super().__init__(steps)
        self.gate = asyncio.Event()
        self.started = asyncio.Event()
        if not held:
            self.gate.set()

    async def get_response(self, *args, **kwargs):
        output = [message_item("A title")]
        return model_response(output, usage_for("title", output))

    async def stream_response(self, *args, **kwargs):
        self.started.set()
        await self.gate.wait()
        async for event in super().stream_response(*args, **kwargs):
            yield event


async def test_reload_under_a_running_stream(two):
    url, app, path, guides, api = two
    registry = app.state.services.assistants
    held = HeldScript(["The old answer."])
    registry.register(replace(registry.get("docs"), model=held))
    async with ChatKitClient(url) as docs, admin(url) as http:
        await docs.login()
        turn = asyncio.create_task(docs.new_thread("How do I install Acme?"))
        await asyncio.wait_for(held.started.wait(), 30)
        # A bad file is refused with its line; the running definition stays.
        path.write_text(config_text(guides, api) + "\n[assistants.docs.extra]\nkey = 1\n")
        refused = await http.post("/admin/api/config/reload")
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_config"
        assert f"{path}:" in refused.json()["error"]["message"]
        assert registry.get("docs").model is held
        path.write_text(config_text(guides, api, "New instructions: answer in one sentence."))
        reloaded = await http.post("/admin/api/config/reload")
        assert reloaded.status_code == 200 and reloaded.json()["assistants"] == ["docs", "api"]
        assert registry.get("docs").instructions.startswith("New instructions")
        held.gate.set()
        thread_id, events = await asyncio.wait_for(turn, 30)
        answer = done_items(events, "assistant_message")[0]["content"][0]["text"]
        assert answer == "The old answer."  # finished on the old definition
        assert held.calls[0].system_instructions == "You answer about Acme."
        # The next turn uses the new instructions.
        recorder = HeldScript(["The new answer."], held=False)
        registry.register(replace(registry.get("docs"), model=recorder))
        events = await docs.call(
            "threads.add_user_message", {"thread_id": thread_id, "input": user_input("And on a server?")}
        )
        assert recorder.calls[0].system_instructions == "New instructions: answer in one sentence."


async def test_sighup_rereads_the_file(two):
    url, app, path, guides, api = two
    registry = app.state.services.assistants
    path.write_text(config_text(guides, api, "Read again on SIGHUP."))
    os.kill(os.getpid(), signal.SIGHUP)
    deadline = time.monotonic() + 20
    while registry.get("docs").instructions != "Read again on SIGHUP.":
        assert time.monotonic() < deadline, "SIGHUP did not reload the config"
        await asyncio.sleep(0.05)


def admin(url: str):
    import httpx

    return httpx.AsyncClient(base_url=url, timeout=60, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})


@pytest.fixture
async def jwt_two(settings, engine, tmp_path):
    guides = await index(engine, tmp_path, "guides", GUIDES, "https://guides.acme.test/")
    api = await index(engine, tmp_path, "api", API, "https://api.acme.test/")
    path = tmp_path / "docsdesk.toml"
    path.write_text(config_text(guides, api))
    app = create_app(
        settings.model_copy(
            update={
                "config_file": path,
                "auth_mode": "jwt",
                "jwt_secret": SecretStr(JWT_SECRET),
                "jwt_assistants_claim": "docsdesk_assistants",
            }
        )
    )
    async with LiveServer(app) as live:
        yield live.url


def token(**claims) -> str:
    return jwt.encode({"sub": new_id("user"), "exp": int(time.time()) + 600, **claims}, JWT_SECRET)


async def test_a_token_claim_limits_the_assistants(jwt_two):
    url = jwt_two
    limited = {"Authorization": f"Bearer {token(docsdesk_assistants=['api'])}"}
    anyone = {"Authorization": f"Bearer {token()}"}
    none = {"Authorization": f"Bearer {token(docsdesk_assistants=[])}"}
    async with ChatKitClient(url, limited) as default, ChatKitClient(url, limited, "/a/api/chatkit") as api:
        response = await default.request("threads.list", {"limit": 5})
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
        assert (await api.request("threads.list", {"limit": 5})).status_code == 200
        thread_id, _ = await api.new_thread("How do I rotate an API key?")
        assert thread_id
    async with ChatKitClient(url, anyone) as default, ChatKitClient(url, none, "/a/api/chatkit") as api:
        assert (await default.request("threads.list", {"limit": 5})).status_code == 200
        assert (await api.request("threads.list", {"limit": 5})).status_code == 404
    bad = {"Authorization": f"Bearer {token(docsdesk_assistants=7)}"}
    async with ChatKitClient(url, bad) as client:
        response = await client.request("threads.list", {"limit": 5})
        assert response.status_code == 401 and "docsdesk_assistants" in response.json()["error"]["message"]


async def test_start_screen_and_origins_per_assistant(two):
    import httpx

    url, *_ = two
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        main = await http.get("/start-screen")
        assert main.status_code == 200 and main.headers["access-control-allow-origin"] == "*"
        assert main.json() == {
            "assistant": "docs",
            "title": "Acme Docs",
            "greeting": "Ask me about installing Acme",
            "prompts": [{"label": "How do I install Acme?", "prompt": "How do I install Acme?"}],
        }
        assert (await http.get("/a/api/start-screen")).json()["title"] == "Acme API"
        assert (await http.get("/a/nosuch/start-screen")).status_code == 404
        site = {"Origin": "https://api-site.test"}
        preflight = {
            **site,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        }
        allowed = await http.options("/a/api/chatkit", headers=preflight)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://api-site.test"
        assert (await http.post("/a/api/chatkit", headers=site, content=b"{}")).status_code == 401
        assert (await http.post("/session", headers=site)).status_code == 200  # shared by the assistants
        refused = await http.post("/chatkit", headers=site, content=b"{}")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "origin_not_allowed"
        assert (await http.options("/chatkit", headers=preflight)).status_code == 403


async def test_an_assistants_own_turn_limit(two):
    url, *_ = two
    async with ChatKitClient(url, path="/a/api/chatkit") as api, ChatKitClient(url) as docs:
        await api.login()
        docs.headers = api.headers
        for _ in range(3):
            await api.new_thread("How do I rotate an API key?")
        limited = await api.request("threads.create", {"input": user_input("And again?")})
        assert limited.status_code == 429 and "3 per 1 minute" in limited.json()["error"]["message"]
        await docs.new_thread("How do I install Acme?")  # the other assistant: the deployment's limit


async def test_docsdesk_config_reload_against_a_running_server(two):
    import subprocess
    import sys

    url, app, path, guides, api = two
    registry = app.state.services.assistants

    def reload() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "docsdesk", "config", "reload", "--url", url],
            capture_output=True,
            text=True,
            env={**os.environ, "DOCSDESK_ADMIN_TOKEN": ADMIN_TOKEN},
            timeout=60,
        )

    path.write_text(config_text(guides, api, "Reloaded from the command line."))
    done = await asyncio.to_thread(reload)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == f"docsdesk: reloaded {path}: docs, api"
    assert registry.get("docs").instructions == "Reloaded from the command line."
    path.write_text(config_text(guides, "no-such-collection"))
    refused = await asyncio.to_thread(reload)
    assert refused.returncode == 1
    (line,) = refused.stderr.strip().splitlines()
    assert "no documents in collection 'no-such-collection'" in line and line.startswith("docsdesk: error: ")
    assert registry.get("api").collections == (api,)  # the running assistants stay
