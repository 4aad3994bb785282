"""Attachment throughput and memory benchmark: a 10 MiB file up and down through each storage.

For each storage (PostgreSQL chunks, then a directory on disk) the real app runs in its own
process (`uvicorn app:create_app --factory`, 1 worker, loopback, anonymous sessions) and
this process drives it over HTTP:

- **upload, direct**: `POST /attachments` (multipart `file`, bearer token), one at a time;
- **upload, two-phase**: `attachments.create`, then the signed upload URL, one at a time;
- **download**: `GET` of the signed preview URL, one at a time;
- **upload x4 / download x4**: four at once, to show that memory does not grow per request.

It prints MiB/s for each phase and the server's memory: its resident size before the phase
and its peak (VmHWM from /proc/PID/status, reset before each phase through
/proc/PID/clear_refs) — the growth must stay well under the file size (streamed, not
buffered: a buffered upload or download would add at least 10 MiB per request in flight).

The database is an embedded PostgreSQL in a temporary directory, or DATABASE_URL.

    python bench/attachments.py [--size-mib 10] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from bench.turns import UNLIMITED, BenchError, free_port, start_server  # noqa: E402
from docsdesk.core.database import open_database  # noqa: E402
from docsdesk.core.settings import Settings  # noqa: E402

MIB = 1024 * 1024
CONCURRENT = 4


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise BenchError(f"no {field} in /proc/{pid}/status")


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when not permitted."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def payload(size: int) -> bytes:
    """A PNG signature followed by incompressible bytes: accepted as an image, previewable."""
    return b"\x89PNG\r\n\x1a\n" + os.urandom(size - 8)


class Server:
    def __init__(self, data_dir: Path, database_url: str, storage: str, max_bytes: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / f"server-{storage}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCSDESK_")}
        env.pop("OPENAI_API_KEY", None)
        env.update(
            DATABASE_URL=database_url,
            DOCSDESK_DATA_DIR=str(data_dir),
            DOCSDESK_MODEL="offline",
            DOCSDESK_EMBEDDINGS="none",
            DOCSDESK_SKIP_MIGRATIONS="true",
            DOCSDESK_RATE_LIMIT_READS=UNLIMITED,
            DOCSDESK_RATE_LIMIT_SESSIONS=UNLIMITED,
            DOCSDESK_RATE_LIMIT_UPLOADS=UNLIMITED,
            DOCSDESK_MAX_ATTACHMENT_BYTES=str(max_bytes),
            DOCSDESK_ATTACHMENT_QUOTA_BYTES=str(1 << 40),
            DOCSDESK_LOG_LEVEL="WARNING",
        )
        if storage == "disk":
            env["DOCSDESK_ATTACHMENTS_DIR"] = str(data_dir / "attachments")
        self.env = env
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await start_server(self.port, self.env, self.log_path)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


class Client:
    def __init__(self, url: str) -> None:
        self.http = httpx.AsyncClient(base_url=url, timeout=120)
        self.headers: dict[str, str] = {}

    async def login(self) -> None:
        session = (await self.http.post("/session")).json()
        self.headers = {"Authorization": f"Bearer {session['token']}"}

    async def direct(self, data: bytes) -> dict:
        response = await self.http.post(
            "/attachments", files={"file": ("big.png", data, "image/png")}, headers=self.headers
        )
        if response.status_code != 200:
            raise BenchError(f"direct upload: {response.status_code} {response.text}")
        return response.json()

    async def two_phase(self, data: bytes) -> dict:
        created = await self.http.post(
            "/chatkit",
            json={
                "type": "attachments.create",
                "params": {"name": "big.png", "size": len(data), "mime_type": "image/png"},
            },
            headers=self.headers,
        )
        if created.status_code != 200:
            raise BenchError(f"attachments.create: {created.status_code} {created.text}")
        url = created.json()["upload_descriptor"]["url"]
        response = await self.http.post(url, files={"file": ("big.png", data, "image/png")})
        if response.status_code != 200:
            raise BenchError(f"two-phase upload: {response.status_code} {response.text}")
        return response.json()

    async def download(self, attachment: dict) -> int:
        size = 0
        async with self.http.stream("GET", attachment["preview_url"]) as response:
            if response.status_code != 200:
                raise BenchError(f"download: {response.status_code}")
            async for chunk in response.aiter_raw():
                size += len(chunk)
        return size

    async def aclose(self) -> None:
        await self.http.aclose()


async def phase(name: str, pid: int, size: int, jobs) -> dict:
    """Run the coroutines made by `jobs` (a list of rounds, each a list of factories that
    run together) and measure throughput and the server's memory."""
    rss_before = status_kib(pid, "VmRSS")
    reset = reset_peak(pid)
    hwm_before = status_kib(pid, "VmHWM")
    started = time.perf_counter()
    moved = 0
    results = []
    for round_ in jobs:
        out = await asyncio.gather(*(job() for job in round_))
        results.extend(out)
        moved += size * len(round_)
    seconds = time.perf_counter() - started
    peak = status_kib(pid, "VmHWM")
    return {
        "name": name,
        "mib_s": moved / MIB / seconds,
        "rss_mib": rss_before / 1024,
        "peak_mib": peak / 1024,
        "growth_mib": (peak - (rss_before if reset else hwm_before)) / 1024,
        "reset": reset,
        "results": results,
    }


async def bench_storage(
    storage: str, data_dir: Path, database_url: str, size: int, rounds: int
) -> list[dict]:
    server = Server(data_dir, database_url, storage, size + MIB)
    await server.start()
    client = Client(server.url)
    try:
        await client.login()
        data = payload(size)
        warm = await client.direct(data)  # first-use allocations out of the way
        await client.download(warm)
        pid = server.process.pid
        rows = []
        rows.append(await phase("upload, direct", pid, size, [[lambda: client.direct(data)]] * rounds))
        rows.append(await phase("upload, two-phase", pid, size, [[lambda: client.two_phase(data)]] * rounds))
        uploaded = rows[0]["results"]
        download_jobs = [[lambda a=a: client.download(a)] for a in uploaded]
        rows.append(await phase("download", pid, size, download_jobs))
        concurrent = [[lambda: client.direct(data)] * CONCURRENT] * max(1, rounds // 2)
        rows.append(await phase(f"upload x{CONCURRENT} at once", pid, size, concurrent))
        batch = rows[-1]["results"][:CONCURRENT]
        rows.append(
            await phase(
                f"download x{CONCURRENT} at once",
                pid,
                size,
                [[lambda a=a: client.download(a) for a in batch]] * max(1, rounds // 2),
            )
        )
        for row in rows:
            if row["name"].startswith("download"):
                assert all(n == size for n in row["results"]), "short download"
        return rows
    finally:
        await client.aclose()
        await server.stop()


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    size = int(args.size_mib * MIB)
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} core(s)")
    with tempfile.TemporaryDirectory(prefix="docsdesk-bench-attachments-") as tmp:
        data_dir = Path(tmp)
        settings = Settings(_env_file=None, data_dir=data_dir, database_url=os.environ.get("DATABASE_URL"))
        db = await open_database(settings)
        try:
            print(
                f"file: {size / MIB:.1f} MiB, {args.rounds} rounds per phase; server: 1 uvicorn worker, loopback"
            )
            header = f"{'storage':<9} {'phase':<22} {'MiB/s':>8} {'RSS before':>11} {'peak':>8} {'growth':>8}"
            print(header)
            print("-" * len(header))
            for storage in ("postgres", "disk"):
                for row in await bench_storage(storage, data_dir, db.url, size, args.rounds):
                    print(
                        f"{storage:<9} {row['name']:<22} {row['mib_s']:>8.1f} {row['rss_mib']:>9.1f} M"
                        f" {row['peak_mib']:>6.1f} M {row['growth_mib']:>6.1f} M"
                        + ("" if row["reset"] else "  (peak not resettable: since start)")
                    )
        finally:
            await db.close()
    print(
        f"\nflat = growth well under the file size ({size / MIB:.0f} MiB) per request in flight; "
        "buffering would add >= 1x the file per upload or download at once."
    )


if __name__ == "__main__":
    asyncio.run(main())
