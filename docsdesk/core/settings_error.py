"""The exception for settings an operator got wrong (standard library only: the CLI imports it
at module level, before any setting is read)."""

from __future__ import annotations


class SettingsError(ValueError):
    """Invalid settings: one line per mistake, each naming its variable and what it accepts."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines
