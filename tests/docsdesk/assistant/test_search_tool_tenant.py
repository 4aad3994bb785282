"""The search tool searches as the reader's tenant: over real HTTP (trusted-header auth, the
tenant from X-Tenant-ID), a tenant's own reader terms reach its readers' searches only."""

from __future__ import annotations

import json

from app import create_app
from docsdesk.assistant.stream import message_item
from prompts import TITLE_PROMPT
from rag.reader_terms import add_term, checked_term
from tests.support import LiveServer, ingested_pages
from tests.support.assistants import use_model
from tests.support.chatkit_client import ChatKitClient
from tests.support.scripted_model import Call, ScriptedModel

BASE = "https://docs.example.test/"
PAGES = {
    "endorsements.md": "# Endorsements\n\nA member endorses another member's answer from its menu.\n",
    "members.md": "# Members\n\nA member has a profile and a list of answers.\n",
}


class Titled(ScriptedModel):
    """Answers title requests on the side, so the script stays in order."""

    def reply(self, system_instructions, input, tools):
        if system_instructions == TITLE_PROMPT:
            return [message_item("Kudos")]
        return super().reply(system_instructions, input, tools)


async def passages_for(url: str, app, tenant: str | None) -> list[str]:
    """The URLs the search tool gave the model for 'kudos', asked by a reader of `tenant`."""
    seen: list[str] = []

    def answer(system_instructions, input, tools):
        seen.extend(str(item.get("output")) for item in input if isinstance(item, dict) and "output" in item)
        return "Done."

    use_model(app, Titled([Call("search_docs", {"query": "give kudos"}), answer]))
    headers = {"X-User-ID": "reader-1", **({"X-Tenant-ID": tenant} if tenant else {})}
    async with ChatKitClient(url, headers=headers) as client:
        await client.new_thread("How do I give kudos?")
    return [p["url"] for p in json.loads(seen[-1])["passages"]]


async def test_the_readers_tenant_reaches_the_search(settings, engine, tmp_path):
    collection = await ingested_pages(engine, tmp_path, PAGES, BASE)
    await add_term(engine, collection, checked_term("kudos", "endorse"), tenant="acme")
    app = create_app(settings.model_copy(update={"collection": collection, "auth_mode": "trusted-header"}))
    async with LiveServer(app) as live:
        assert (await passages_for(live.url, app, "acme"))[0].startswith(BASE + "endorsements/")
        assert not any(
            u.startswith(BASE + "endorsements/") for u in await passages_for(live.url, app, "globex")
        )
        assert not any(u.startswith(BASE + "endorsements/") for u in await passages_for(live.url, app, None))
