"""docsdesk.toml: found, read, validated; each mistake is one line naming file, key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from docsdesk.core.config_file import find_config, load_config, read_config
from docsdesk.core.settings import Settings
from docsdesk.core.settings_error import SettingsError

GOOD = """\
default_assistant = "docs"

[assistants.docs]
title = "Acme Docs"
collections = ["guides", "api"]
instructions = "prompts/docs.md"
model = "offline"
greeting = "Ask me about Acme"
starter_prompts = ["How do I install Acme?", "How do I rotate an API key?"]
origins = ["https://docs.acme.com/"]
rate_limit_turns = "20/minute"

[assistants.api]
collections = ["api"]
instructions = \"\"\"
You answer questions about the Acme HTTP API only.
\"\"\"

[assistants.api.handoff]
url = "https://support.acme.com"
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "prompts").mkdir(exist_ok=True)
    (tmp_path / "prompts" / "docs.md").write_text("You are Acme's documentation assistant.\n")
    path = tmp_path / "docsdesk.toml"
    path.write_text(text)
    return path


def test_a_config_declares_assistants_with_every_key(tmp_path):
    config = read_config(write(tmp_path, GOOD))
    assert config.default == "docs" and config.names() == ["docs", "api"]
    docs, api = config.assistants
    assert docs.collections == ("guides", "api") and docs.title == "Acme Docs"
    assert docs.instructions == "You are Acme's documentation assistant.\n"
    assert docs.instructions_file == (tmp_path / "prompts" / "docs.md").resolve()
    assert docs.origins == ("https://docs.acme.com",)  # normalised as browsers send it
    assert docs.starter_prompts[1] == "How do I rotate an API key?"
    assert docs.rate_limit_turns == "20/minute" and docs.model == "offline"
    assert api.instructions.strip() == "You answer questions about the Acme HTTP API only."
    assert api.instructions_file is None and api.model is None
    assert api.handoff == {"url": "https://support.acme.com"}  # issue 21's table, kept as data
    assert config.users_of("api") == ["docs", "api"] and config.users_of("guides") == ["docs"]


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        (
            'rate_limit_turns = "20/minute"',
            'rate_limit_turns = "20 a fortnight"',
            ":11: assistants.docs.rate_limit_turns: ",
        ),
        ('model = "offline"', 'model = "gpt-4"', ":7: assistants.docs.model: "),
        ('title = "Acme Docs"', 'titel = "Acme Docs"', ":4: assistants.docs.titel: unknown key"),
        ('collections = ["api"]', "collections = []", ":14: assistants.api.collections: "),
        ('collections = ["api"]', 'collections = ["API docs"]', ":14: assistants.api.collections.0: "),
        (
            'origins = ["https://docs.acme.com/"]',
            'origins = ["docs.acme.com"]',
            ":10: assistants.docs.origins: 'docs.acme.com' is not an origin",
        ),
        (
            'instructions = "prompts/docs.md"',
            'instructions = "prompts/nope.md"',
            ":6: assistants.docs.instructions: cannot read",
        ),
        (
            'default_assistant = "docs"',
            'default_assistant = "support"',
            ":1: default_assistant: no assistant named 'support'",
        ),
        ("[assistants.api", "[assistants.API", ":13: assistants.API: expected 1-63 lower-case"),
    ],
)
def test_each_mistake_is_one_line_naming_file_key_and_line(tmp_path, replace, by, expected):
    assert replace in GOOD
    path = write(tmp_path, GOOD.replace(replace, by))
    with pytest.raises(SettingsError) as caught:
        read_config(path)
    assert len(caught.value.lines) == 1, caught.value.lines
    line = caught.value.lines[0]
    assert line.startswith(f"{path}{expected}"), line
    assert "\n" not in line and "pydantic" not in line and "[type=" not in line


def test_not_toml_names_the_line(tmp_path):
    path = write(tmp_path, GOOD.replace('title = "Acme Docs"', "title = Acme Docs"))
    with pytest.raises(SettingsError) as caught:
        read_config(path)
    assert caught.value.lines[0].startswith(f"{path}: not valid TOML: ")
    assert "line 4" in caught.value.lines[0]


def test_found_by_option_variable_or_working_directory(tmp_path, monkeypatch):
    path = write(tmp_path, GOOD)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.delenv("DOCSDESK_CONFIG", raising=False)
    assert find_config(cwd=elsewhere) is None
    assert find_config(cwd=tmp_path) == path.resolve()
    assert find_config(str(path), cwd=elsewhere) == path.resolve()
    monkeypatch.setenv("DOCSDESK_CONFIG", str(path))
    assert find_config(cwd=elsewhere) == path.resolve()
    monkeypatch.setenv("DOCSDESK_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(SettingsError, match=r"^DOCSDESK_CONFIG=.*missing.toml: no such file"):
        find_config(cwd=elsewhere)


def test_without_a_file_the_environment_describes_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DOCSDESK_CONFIG", raising=False)
    settings = Settings(
        _env_file=None, collection="handbook", model="offline", cors_origins="https://a.example"
    )
    config = load_config(settings)
    assert config.path is None and config.default == "default"
    (only,) = config.assistants
    assert only.name == "default" and only.collections == ("handbook",) and only.instructions is None
    assert only.origins == ("https://a.example",)
    # The settings' own field (DOCSDESK_CONFIG) finds a file too.
    path = write(tmp_path, GOOD)
    assert load_config(settings.model_copy(update={"config_file": path})).names() == ["docs", "api"]
