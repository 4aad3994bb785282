"""Start-up figures of the `docsdesk` command, median of several runs each.

    python bench/startup.py [--runs 5]

- `docsdesk --help` (target < 0.5 s)
- `docsdesk search` beside a running server (target < 1.0 s)
- a second `docsdesk serve` on an existing data dir, until /readyz answers 200 (target < 3 s)
- a first `docsdesk serve` on a fresh data dir (initdb), until /readyz answers 200 (target < 10 s)

Everything runs as real processes (`python -m docsdesk`) on the embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TARGETS = {"--help": 0.5, "search": 1.0, "second serve": 3.0, "first serve": 10.0}


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "docsdesk", *args]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def serve_until_ready(data_dir: Path, env: dict[str, str]) -> tuple[float, subprocess.Popen]:
    """Start `docsdesk serve`; seconds until /readyz is 200, and the running process."""
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        command("serve", "--port", str(port)),
        env={**env, "DOCSDESK_DATA_DIR": str(data_dir)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = started + 120
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"serve exited with {process.returncode}: {process.stderr.read().decode()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
                if response.status == 200:
                    return time.perf_counter() - started, process
        except OSError:
            pass
        time.sleep(0.01)
    process.kill()
    raise SystemExit("serve did not become ready within 120 s")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "OPENAI_API_KEY")}
    env["DOCSDESK_LOG_LEVEL"] = "WARNING"
    root = Path(tempfile.mkdtemp(prefix="docsdesk-startup-"))
    figures: dict[str, list[float]] = {name: [] for name in TARGETS}
    try:
        for _ in range(args.runs):
            figures["--help"].append(timed(command("--help"), env))
        for run in range(args.runs):
            seconds, process = serve_until_ready(root / f"fresh-{run}", env)
            figures["first serve"].append(seconds)
            stop(process)
        data_dir = root / "fresh-0"
        for _ in range(args.runs):
            seconds, process = serve_until_ready(data_dir, env)
            figures["second serve"].append(seconds)
            stop(process)
        _, process = serve_until_ready(data_dir, env)
        try:
            search_env = {**env, "DOCSDESK_DATA_DIR": str(data_dir)}
            for _ in range(args.runs):
                figures["search"].append(
                    timed(command("search", "deploy behind a load balancer"), search_env)
                )
        finally:
            stop(process)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    load = os.getloadavg()[0]
    print(f"docsdesk start-up, median of {args.runs} runs (load average {load:.1f}, {os.cpu_count()} cores)")
    print(f"{'':<16}{'median':>9}{'min':>9}{'max':>9}{'target':>9}")
    failed = False
    for name, values in figures.items():
        median = statistics.median(values)
        ok = median < TARGETS[name]
        failed |= not ok
        print(
            f"{name:<16}{median:>8.2f}s{min(values):>8.2f}s{max(values):>8.2f}s{TARGETS[name]:>8.1f}s {'ok' if ok else 'MISSED'}"
        )
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
