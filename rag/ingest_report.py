"""What an ingest run reports: its summary, and a progress bar while it runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

MAX_SKIPPED_SHOWN = 8  # skipped folders and files named in the summary line


@dataclass
class IngestSummary:
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks: int = 0  # chunks written by this run
    seconds: float = 0.0
    bytes: int = 0  # bytes read from disk
    reembedded: int = 0  # unchanged documents given vectors from a new embedder
    embedder_change: tuple[str, str] | None = None  # (before, now) for a collection that had documents
    skipped: list[str] = field(default_factory=list)  # folders and files excluded, with why

    def describe(self) -> str:
        """One line for people: what changed, and how long it took."""
        parts = [
            f"{self.added} files added",
            f"{self.changed} changed",
            f"{self.removed} removed",
            f"{self.unchanged} unchanged",
        ]
        if self.embedder_change:
            before, now = self.embedder_change
            done = f"{self.reembedded} re-embedded" if now != "none" else "vectors dropped"
            parts.append(f"embedder {before} -> {now}: {done}")
        elif self.reembedded:
            parts.append(f"{self.reembedded} re-embedded")
        line = f"{', '.join(parts)}; {self.chunks} chunks written in {self.seconds:.1f} s"
        if self.skipped:
            shown = ", ".join(self.skipped[:MAX_SKIPPED_SHOWN])
            more = len(self.skipped) - MAX_SKIPPED_SHOWN
            line += f"; skipped {shown}" + (f" and {more} more" if more > 0 else "")
        return line

    @property
    def mb_per_second(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0


class ProgressBar:
    """A Rich progress bar on stderr when asked for, and/or `report(done, total)` called as the
    run advances (a job's progress); otherwise a no-op `advance`."""

    def __init__(
        self, enabled: bool, total: int | None, report: Callable[[int, int | None], None] | None = None
    ) -> None:
        self._progress = None
        self._total, self._report, self._done = total, report, 0
        if enabled:
            from rich.console import Console  # imported only when showing progress
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("ingesting"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._task = self._progress.add_task("documents", total=total)

    def __enter__(self) -> Callable[[int], None]:
        if self._progress is not None:
            self._progress.start()
        if self._report is not None:
            self._report(0, self._total)
        return self._advance

    def _advance(self, files: int) -> None:
        self._done += files
        if self._progress is not None:
            self._progress.advance(self._task, files)
        if self._report is not None:
            self._report(self._done, self._total)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()
