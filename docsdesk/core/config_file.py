"""The assistants of a deployment, from `docsdesk.toml` (or, without a file, from the
DOCSDESK_* settings: one assistant named `default`, as before there were config files).

Found by `--config`, DOCSDESK_CONFIG or `docsdesk.toml` in the working directory; read with
`tomllib`, validated with pydantic. Every mistake is one line naming the file, the key and
its line number (SettingsError, which the CLI prints line by line)::

    [assistants.docs]
    title = "Acme Docs"
    collections = ["guides", "api"]
    instructions = "prompts/docs.md"     # a file beside the config, or inline text
    model = "openai:gpt-4.1-mini"
    greeting = "Ask me about Acme"
    starter_prompts = ["How do I install Acme?"]
    origins = ["https://docs.acme.com"]
    rate_limit_turns = "20/minute"

Standard library and pydantic only: the CLI reads it before any SDK is imported.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from docsdesk.core import setting_checks as checks
from docsdesk.core.context import DEFAULT_ASSISTANT
from docsdesk.core.settings import Settings
from docsdesk.core.settings_error import SettingsError

CONFIG_NAME = "docsdesk.toml"
CONFIG_VARIABLE = "DOCSDESK_CONFIG"
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
MAX_INSTRUCTIONS_BYTES = 64 * 1024
MAX_STARTER_PROMPTS = 8  # ChatKit shows a handful; more is a mistake
# An instructions value that names a file (relative to the config file): one line, a
# Markdown/text suffix. Anything else is the instructions themselves.
_FILE_SUFFIXES = (".md", ".txt", ".markdown")

Line = Annotated[str, Field(min_length=1, max_length=300)]


def _name(value: str) -> str:
    if not NAME.fullmatch(value):
        raise ValueError("expected 1-63 lower-case letters, digits, _ or -, starting with a letter or digit")
    return value


class AssistantConfig(BaseModel):
    """One `[assistants.NAME]` table, as validated (instructions already read from their file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, AfterValidator(_name)]
    title: Line | None = None
    collections: tuple[Annotated[str, AfterValidator(_name)], ...] = Field(max_length=20)
    instructions: Annotated[str, Field(min_length=1, max_length=MAX_INSTRUCTIONS_BYTES)] | None = None
    instructions_file: Path | None = None  # where `instructions` came from (None: inline or built in)
    model: str | None = None  # None: DOCSDESK_MODEL / the deployment's default
    greeting: Line | None = None
    starter_prompts: tuple[Line, ...] = Field(default=(), max_length=MAX_STARTER_PROMPTS)
    origins: tuple[str, ...] = ()  # CORS and the origin check for this assistant
    rate_limit_turns: str | None = None  # None: DOCSDESK_RATE_LIMIT_TURNS
    retention_days: int | None = Field(default=None, ge=1)  # None: DOCSDESK_RETENTION_DAYS
    # `[assistants.NAME.handoff]`: the hand-off widget's table (issue 21). Accepted as data
    # here; the hand-off feature validates its own keys.
    handoff: dict[str, Any] | None = None
    follow_ups: bool = True  # suggest follow-up questions after an answer
    mcp_public: bool = False  # its MCP tools and llms.txt readable without a key

    @field_validator("model")
    @classmethod
    def _check_model(cls, value: str | None) -> str | None:
        return None if value is None else checks.model_spec(value)

    @field_validator("origins")
    @classmethod
    def _check_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        origins = tuple(dict.fromkeys(checks.origin(item) for item in value))
        return ("*",) if "*" in origins else origins

    @field_validator("rate_limit_turns")
    @classmethod
    def _check_rate(cls, value: str | None) -> str | None:
        return None if value is None else checks.rate_limit(value)

    @field_validator("collections")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError('expected at least one collection, e.g. ["guides"]')
        return tuple(dict.fromkeys(value))


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_assistant: Annotated[str, AfterValidator(_name)] | None = None
    assistants: dict[str, dict[str, Any]] = Field(min_length=1)


@dataclass(frozen=True)
class DeploymentConfig:
    """The assistants of a deployment; `default` answers POST /chatkit."""

    assistants: tuple[AssistantConfig, ...]
    default: str
    path: Path | None = None  # None: described by the environment

    def get(self, name: str) -> AssistantConfig | None:
        for assistant in self.assistants:
            if assistant.name == name:
                return assistant
        return None

    def names(self) -> list[str]:
        return [a.name for a in self.assistants]

    def users_of(self, collection: str) -> list[str]:
        """The assistants that answer from `collection`."""
        return [a.name for a in self.assistants if collection in a.collections]


def find_config(
    explicit: str | os.PathLike[str] | None = None,
    cwd: Path | None = None,
    configured: str | os.PathLike[str] | None = None,
) -> Path | None:
    """`--config`, else DOCSDESK_CONFIG (`configured`: Settings.config_file, which reads it),
    else ./docsdesk.toml if it exists; None for none. A file named explicitly must exist."""
    named = explicit or configured or os.environ.get(CONFIG_VARIABLE) or None
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            source = "--config " if explicit else f"{CONFIG_VARIABLE}="
            raise SettingsError([f"{source}{named}: no such file (the assistants' config, docsdesk.toml)"])
        return path.resolve()
    here = (cwd or Path.cwd()) / CONFIG_NAME
    return here.resolve() if here.is_file() else None


def load_config(settings: Settings, explicit: str | os.PathLike[str] | None = None) -> DeploymentConfig:
    """The deployment's assistants: from the config file if there is one, else the settings."""
    path = find_config(explicit, configured=settings.config_file)
    if path is None:
        return from_settings(settings)
    return read_config(path)


def from_settings(settings: Settings) -> DeploymentConfig:
    """No file: one assistant, `default`, described by the DOCSDESK_* variables."""
    assistant = AssistantConfig(
        name=DEFAULT_ASSISTANT,
        collections=(settings.collection,),
        model=settings.model,
        origins=tuple(settings.cors_origins),
    )
    return DeploymentConfig((assistant,), DEFAULT_ASSISTANT, None)


def read_config(path: Path) -> DeploymentConfig:
    """Read and validate `path`; SettingsError with one line per mistake."""
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError([f"{path}: cannot read: {exc}"]) from None
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError([f"{path}: not valid TOML: {exc}"]) from None
    lines = _KeyLines(source)
    try:
        top = _File.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(_describe(path, lines, (), exc)) from None
    problems: list[str] = []
    assistants = []
    for name, table in top.assistants.items():
        try:
            assistants.append(_assistant(path, name, table))
        except ValidationError as exc:
            problems += _describe(path, lines, ("assistants", name), exc)
        except _KeyProblem as exc:
            key = ("assistants", name, exc.key)
            problems.append(f"{path}:{lines.line(key)}: {'.'.join(key)}: {exc.message}")
    default = top.default_assistant or (DEFAULT_ASSISTANT if DEFAULT_ASSISTANT in top.assistants else "")
    default = default or next(iter(top.assistants))
    if not problems and default not in top.assistants:
        problems.append(
            f"{path}:{lines.line(('default_assistant',))}: default_assistant: no assistant named {default!r} "
            f"(declared: {', '.join(top.assistants)})"
        )
    if problems:
        raise SettingsError(problems)
    return DeploymentConfig(tuple(assistants), default, path)


class _KeyProblem(ValueError):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key, self.message = key, message


def _assistant(path: Path, name: str, table: Mapping[str, Any]) -> AssistantConfig:
    fields = dict(table)
    if "name" in fields:
        raise _KeyProblem("name", "the name is the table's: [assistants.NAME]")
    instructions = fields.get("instructions")
    if isinstance(instructions, str) and _names_a_file(instructions):
        file = (path.parent / instructions.strip()).resolve()
        try:
            if file.stat().st_size > MAX_INSTRUCTIONS_BYTES:
                raise _KeyProblem("instructions", f"{file} is over {MAX_INSTRUCTIONS_BYTES} bytes")
            fields["instructions"] = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise _KeyProblem("instructions", f"cannot read {file}: {exc}") from None
        fields["instructions_file"] = file
    if "instructions_file" in table:
        raise _KeyProblem("instructions_file", "not a key: give the file's path as `instructions`")
    return AssistantConfig.model_validate({"name": name, **fields})


def _names_a_file(value: str) -> bool:
    text = value.strip()
    return "\n" not in text and text.lower().endswith(_FILE_SUFFIXES)


def _describe(path: Path, lines: _KeyLines, prefix: tuple[str, ...], exc: ValidationError) -> list[str]:
    out = []
    for error in exc.errors():
        loc = tuple(str(part) for part in error["loc"])
        if prefix and loc[:1] == ("name",):
            loc = ()  # the table's own name
        key = prefix + loc
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        elif error["type"] == "missing":
            message = "required"
        shown = ".".join(key) or "(top level)"
        out.append(f"{path}:{lines.line(key)}: {shown}: {message}")
    return out


_TABLE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*([A-Za-z0-9_.\-"' ]+?)\s*=""")


class _KeyLines:
    """Where each key of a TOML document is written (tomllib keeps no positions): table
    headers and `key =` lines, so an error can name its line. A key not found (an array
    item, an inline table) is reported at the closest enclosing key found."""

    def __init__(self, source: str) -> None:
        self._lines: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        in_string = False
        for number, line in enumerate(source.splitlines(), start=1):
            if not in_string:
                header = _TABLE.match(line)
                key = _KEY.match(line)
                if header:
                    table = _dotted(header.group(1))
                    self._lines.setdefault(table, number)
                elif key:
                    self._lines.setdefault(table + _dotted(key.group(1)), number)
            if line.count('"""') % 2 or line.count("'''") % 2:
                in_string = not in_string

    def line(self, key: tuple[str, ...]) -> int:
        for end in range(len(key), 0, -1):
            found = self._lines.get(key[:end])
            if found is not None:
                return found
        return 1


def _dotted(key: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in key.split("."))
