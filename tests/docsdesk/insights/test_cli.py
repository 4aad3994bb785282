"""`docsdesk report` and `docsdesk export` as real processes: against the database, and
against a running server's admin API."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import sys

from docsdesk.core.turn import NotCoveredReason
from tests.docsdesk.insights.conftest import ADMIN_TOKEN
from tests.docsdesk.insights.seed import seed, seed_thread, turn
from tests.support import REPO


async def docsdesk(*args: str, **env: str) -> tuple[int, str, str]:
    """Run the command without blocking the loop (a live server may be serving it)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "docsdesk",
        *args,
        cwd=REPO,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, out.decode(), err.decode()


async def seeded(engine, collection: str) -> None:
    thread = await seed_thread(engine)
    await seed(
        engine,
        [
            turn(
                thread,
                "Can Lantern run on Windows?",
                collection,
                outcome="not_covered",
                not_in_docs=["Windows"],
                reason=NotCoveredReason.ABSENT_TERMS,
            ),
            turn(thread, "can lantern run on windows", collection, outcome="not_covered"),
            turn(
                thread,
                "How do I set [bold]retries[/bold]?",
                collection,
                cited=["https://docs.example.com/concepts/retries/"],
            ),
            turn(thread, "and [red]on macOS[/red]?", collection, follows="Can Lantern run on Windows?"),
        ],
    )


async def test_report_and_export_read_the_database(database, engine, collection, tmp_path):
    await seeded(engine, collection)
    env = {
        "DATABASE_URL": database.url,
        "DOCSDESK_DATA_DIR": str(tmp_path),
        "DOCSDESK_COLLECTION": collection,
        "COLUMNS": "160",
    }
    code, out, err = await docsdesk("report", "--json", "--days", "7", **env)
    assert code == 0, err
    report = json.loads(out)
    assert report["totals"]["not_covered"] == 2
    assert report["coverage_gaps"][0]["count"] == 2

    code, out, err = await docsdesk("report", **env)
    assert code == 0, err
    assert "Coverage gaps" in out and "Can Lantern run on Windows?" in out
    assert "[bold]retries[/bold]" in out  # reader text printed literally, not as markup
    assert "after “Can Lantern run on Windows?”:" in out and "and [red]on macOS[/red]?" in out
    assert "Words readers looked for that no page uses" in out and "windows" in out
    assert "Why not covered" in out and NotCoveredReason.ABSENT_TERMS.label in out

    target = tmp_path / "turns.csv"
    code, out, err = await docsdesk("export", "--format", "csv", "-o", str(target), **env)
    assert code == 0, err
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert len(rows) == 4 and "exported 4 turns" in err
    assert [r["not_covered_reason"] for r in rows] == ["absent_terms", "", "", ""]
    assert [r["follows"] for r in rows] == ["", "", "", "Can Lantern run on Windows?"]
    code, out, err = await docsdesk("export", "--format", "jsonl", **env)
    assert [json.loads(line)["outcome"] for line in out.splitlines()] == [
        "not_covered",
        "not_covered",
        "answered",
        "answered",
    ]

    code, out, err = await docsdesk("report", "--days", "zero", **env)
    assert code == 1 and "Traceback" not in err and "--days: days must be a whole number" in err


async def test_report_and_export_through_the_admin_api(admin_app, engine, collection, tmp_path):
    url, _ = admin_app
    await seeded(engine, collection)
    env = {"DOCSDESK_ADMIN_TOKEN": ADMIN_TOKEN, "DOCSDESK_DATA_DIR": str(tmp_path)}
    code, out, err = await docsdesk("report", "--url", url, "--json", **env)
    assert code == 0, err
    assert json.loads(out)["totals"]["turns"] == 4
    code, out, err = await docsdesk("export", "--url", url, "--format", "md", **env)
    assert code == 0, err
    assert out.count("**Question**") == 4 and "- follows: Can Lantern run on Windows?" in out
    code, out, err = await docsdesk("report", "--url", url, "--token", "wrong-token-0123456789", **env)
    assert code == 1 and "401" in err and "Traceback" not in err


ESCAPES = (
    "\x1b[2J\x1b[H\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07\x1b]0;owned\x07\x9b31m\x08\x7f\u202e"
)


async def test_report_and_export_strip_terminal_escapes_from_reader_text(
    database, engine, collection, tmp_path
):
    thread = await seed_thread(engine)
    await seed(
        engine, [turn(thread, f"Why{ESCAPES} is it\tslow?\nsecond line", collection, outcome="not_covered")]
    )
    env = {
        "DATABASE_URL": database.url,
        "DOCSDESK_DATA_DIR": str(tmp_path),
        "DOCSDESK_COLLECTION": collection,
    }
    outputs = []
    for args in (
        ("report",),
        ("report", "--json"),
        *(("export", "--format", f) for f in ("md", "csv", "jsonl")),
    ):
        code, out, err = await docsdesk(*args, **env)
        assert code == 0, err
        outputs.append(out)
        for char in "\x1b\x07\x08\x7f\x9b\u202e":
            assert char not in out, (args, char)
    assert (
        "Why[2J[H]8;;https://evil.example/click]8;;]0;owned31m is it\tslow?" in outputs[3]
    )  # csv: text kept
    target = tmp_path / "raw.csv"  # a file is data, written as recorded
    code, _, err = await docsdesk("export", "--format", "csv", "-o", str(target), **env)
    assert code == 0, err
    assert ESCAPES in target.read_text(encoding="utf-8")
