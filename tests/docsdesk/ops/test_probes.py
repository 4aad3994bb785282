"""A source whose syncs keep failing shows on /readyz's detail (the server stays ready) and in
/metrics; a sync that succeeds clears it."""

from __future__ import annotations

import httpx
import pytest

from rag.ingest import IngestError
from rag.source_sync import create_source, sync_source
from tests.support import free_port, new_id
from tests.support.docs_site import DocsSite, generated_site


def failing_row(readiness: dict, name: str) -> dict | None:
    rows = readiness["components"]["sources"].get("failing", [])
    return next((row for row in rows if row["source"] == name), None)


async def test_a_source_that_keeps_failing_is_on_readyz_and_in_metrics(live_app, engine, tmp_path):
    url, _ = live_app
    name = new_id("s")
    down = f"http://127.0.0.1:{free_port()}/sitemap.xml"  # nothing listens there
    await create_source(engine, name, new_id("c"), "site", {"sitemap": down})
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for attempt in range(1, 4):
            with pytest.raises(IngestError):
                await sync_source(engine, name, cache_dir=tmp_path)
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text  # still serving
            row = failing_row(ready.json(), name)
            assert (row is not None) == (attempt >= 3), ready.json()
        assert row["failed_in_a_row"] == 3 and row["error"]
        assert ready.json()["components"]["sources"]["status"] == "failing"
        metrics = (await http.get("/metrics")).text
        assert f'docsdesk_source_failing_syncs{{source="{name}"}} 3.0' in metrics

        with DocsSite(generated_site(1)) as site:
            from sqlalchemy import text

            async with engine.begin() as conn:
                await conn.execute(
                    text("UPDATE docs_sources SET settings = CAST(:s AS jsonb) WHERE name = :n"),
                    {"n": name, "s": f'{{"sitemap": "{site.origin}/sitemap.xml"}}'},
                )
            await sync_source(engine, name, cache_dir=tmp_path)
        assert failing_row((await http.get("/readyz")).json(), name) is None
        assert f'docsdesk_source_failing_syncs{{source="{name}"}} 0.0' in (await http.get("/metrics")).text
