"""Data and sessions survive a server restart on the same data dir (embedded PostgreSQL)."""

from __future__ import annotations

import stat

from app import create_app
from tests.support import LiveServer
from tests.support.chatkit_client import ChatKitClient


async def test_threads_and_sessions_survive_restart(base_settings, tmp_path):
    settings = base_settings.model_copy(
        update={"data_dir": tmp_path / "data", "database_url": None, "secret_key": None}
    )
    async with LiveServer(create_app(settings)) as live:
        async with ChatKitClient(live.url) as client:
            await client.login()
            thread_id, _ = await client.new_thread("Will this survive?")
            headers = dict(client.headers)
            before = await client.call("threads.get_by_id", {"thread_id": thread_id})

    secret = settings.data_dir / "secret_key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    pid_file = settings.data_dir / "pg" / "postmaster.pid"
    assert not pid_file.exists(), "the embedded PostgreSQL should stop with the server"

    async with LiveServer(create_app(settings)) as live:
        async with ChatKitClient(live.url, headers) as client:
            after = await client.call("threads.get_by_id", {"thread_id": thread_id})
    assert after == before
