"""Hostile PDFs (issue 23, item 1): extraction runs in a killable child process with CPU,
memory, page and wall-clock limits; nothing keeps burning CPU once the turn has moved on."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from app import create_app
from docsdesk.assistant.pdf_extract import MIB, PdfExtractor, PdfFailed
from tests.support.assistants import use_model
from tests.support.chatkit_client import signed_in, user_input
from tests.support.files import pdf_bomb, pdf_bytes
from tests.test_attachments import Script, blocks_in, direct, parts_of


def child_pids() -> list[int]:
    """This process's children, over all its threads (a thread may end while they are read)."""
    pids = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            pids += [int(p) for p in (task / "children").read_text().split()]
        except FileNotFoundError:  # the thread ended since the listing: it has no children now
            continue
    return sorted(pids)


def cpu_seconds() -> float:
    """CPU time of this process, every thread included."""
    return time.process_time()


async def test_a_pdf_bomb_is_stopped_and_burns_no_cpu_afterwards(settings):
    bomb = pdf_bomb()
    assert len(bomb) < 50_000
    app = create_app(settings)
    async with signed_in(app) as client:
        bad = (await direct(client, "bomb.pdf", bomb, "application/pdf")).json()
        good = (await direct(client, "fine.pdf", pdf_bytes("Innocent text"), "application/pdf")).json()
        model = Script(["Read it."])
        use_model(app, model)
        before = child_pids()
        started = time.monotonic()
        await client.call(
            "threads.create", {"input": user_input("Explain", attachments=[bad["id"], good["id"]])}
        )
        elapsed = time.monotonic() - started
        blocks = {b["name"]: b for b in blocks_in(parts_of(model.calls[0].input))}
        assert "could not be extracted" in blocks["bomb.pdf"]["note"]
        assert blocks["fine.pdf"]["text"] == "Innocent text"
        assert elapsed < 19, elapsed
        # Once the turn is answered nothing works on the bomb any more: no thread, no child.
        assert child_pids() == before
        spent = cpu_seconds()
        await asyncio.sleep(1.5)
        assert cpu_seconds() - spent < 0.5


async def test_the_child_runs_under_its_cpu_and_memory_limits():
    extractor = PdfExtractor(cpu_seconds=1, deadline_seconds=60)
    started = time.monotonic()
    with pytest.raises(PdfFailed) as failed:
        await extractor.extract(pdf_bomb(), 1000)
    assert failed.value.reason == "killed"  # SIGXCPU after one second of CPU, not the deadline
    assert time.monotonic() - started < 30
    with pytest.raises(PdfFailed) as failed:
        await PdfExtractor(memory_bytes=16 * MIB).extract(pdf_bytes("x"), 1000)
    assert failed.value.reason == "MemoryError"
    assert (await PdfExtractor().extract(pdf_bytes("fine"), 1000)).text == "fine"


async def test_pages_past_the_cap_are_not_read_and_cancelling_kills_the_child():
    result = await PdfExtractor(max_pages=2).extract(pdf_bomb(pages=5, operators=10), 1000)
    assert result.pages == 5 and result.truncated is True
    before = child_pids()
    task = asyncio.create_task(PdfExtractor().extract(pdf_bomb(), 1000))
    await asyncio.sleep(1.0)
    assert len(child_pids()) == len(before) + 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert child_pids() == before


async def test_at_most_concurrency_children_at_once():
    extractor = PdfExtractor(concurrency=2, deadline_seconds=3)
    before = len(child_pids())
    tasks = [asyncio.create_task(extractor.extract(pdf_bomb(), 1000)) for _ in range(5)]
    peak = 0
    while not all(task.done() for task in tasks):
        peak = max(peak, len(child_pids()) - before)
        await asyncio.sleep(0.05)
    assert peak == 2
    for task in tasks:
        assert isinstance(task.exception(), PdfFailed) and task.exception().reason == "deadline"
