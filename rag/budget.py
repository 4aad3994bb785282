"""A per-file time budget for parsing and chunking (issue 23, item 3).

Every scanner is linear, so a file's cost follows its size; the budget is the backstop for
whatever hostile input still costs too much, so one file never stalls an ingest or a
`serve --docs` start. The parsing loops call `check()` (per line, per HTML event, per
block); past the deadline it raises OverBudget and the ingest skips the file and lists it.
The deadline is per thread: ingestion chunks each file in a worker thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_local = threading.local()


class OverBudget(Exception):
    """The file took longer than its budget to parse."""


@contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Within the block, `check()` raises OverBudget once `seconds` have passed."""
    previous = getattr(_local, "deadline", None)
    _local.deadline = time.monotonic() + seconds
    try:
        yield
    finally:
        _local.deadline = previous


def check() -> None:
    deadline = getattr(_local, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise OverBudget
