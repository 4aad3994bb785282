"""The wheel a user installs: its top-level names, its package data, and a non-editable
install that serves and answers about docsdesk's own docs from any working directory, with
PyPI's `ratelimit` and `llm` installed beside it."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests.support import REPO, ServeProcess, new_id
from tests.support.chatkit_client import ChatKitClient, done_items

# The design card's top-level names, plus the docsdesk package: nothing else.
TOP_LEVEL = {"app.py", "chatkit_server.py", "lifespan.py", "prompts.py", "chatkit_store", "rag", "docsdesk"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from the tracked files (as a fresh clone has them)."""
    source = tmp_path_factory.mktemp("source")
    tracked = (
        subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, tracked):
        src, dst = REPO / name, source / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            dst.symlink_to(os.readlink(src))
        elif src.is_file():
            shutil.copy2(src, dst)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("docsdesk-*.whl")
    return built


def test_wheel_installs_only_the_card_names_and_docsdesk(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/", 1)[0] for name in names if ".dist-info" not in name.split("/", 1)[0]}
    assert top == TOP_LEVEL


def test_wheel_ships_migrations_own_docs_and_static_files(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "chatkit_store/migrations/env.py",
        "chatkit_store/migrations/script.py.mako",
        "chatkit_store/migrations/versions/0001_chatkit_store.py",
        "rag/migrations/0002_docs_search.py",
        "rag/migrations/0005_search_ranking.py",
        "docsdesk/own_docs/deployment.md",
        "docsdesk/static/embed.js",
        "docsdesk/static/admin.html",
        "docsdesk/__main__.py",
        "rag/models/all-MiniLM-L6-v2-static128/model.safetensors",  # the default embedder's model
        "rag/models/all-MiniLM-L6-v2-static128/tokenizer.json",
        "rag/models/all-MiniLM-L6-v2-static128/config.json",
        "rag/models/all-MiniLM-L6-v2/tokenizer.json",  # the onnx embedder's tokenizer
    } <= names
    own_docs = {n for n in names if n.startswith("docsdesk/own_docs/") and n.endswith(".md")}
    assert own_docs == {f"docsdesk/own_docs/{p.name}" for p in (REPO / "docsdesk" / "own_docs").glob("*.md")}


def running_site_dirs() -> list[str]:
    """The site-packages directories of the environment running the tests (a virtual
    environment's own, plus the user's when that is enabled): where the dependencies are."""
    dirs = [*site.getsitepackages()]
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return [d for d in dict.fromkeys(dirs) if Path(d).is_dir()]


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory) -> Path:
    """A virtual environment with the wheel (non-editable) and PyPI's `ratelimit` and `llm`
    modules; the other dependencies come from the site-packages of the environment running the
    tests (listed in a .pth file, after the new environment's own: `venv`'s
    system_site_packages would give the base interpreter's instead, which lack them when the
    tests run in a virtual environment). A .pth line that is a directory adds just that
    directory: the running environment's own .pth files (an editable docsdesk) do not apply."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(purelib) / "docsdesk-test-dependencies.pth").write_text("\n".join(running_site_dirs()) + "\n")
    # --ignore-installed: a docsdesk installed in the base environment (CI installs one) must not
    # stand in for the wheel.
    for args in (["--no-deps", "--ignore-installed", str(wheel)], ["ratelimit", "llm"]):
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *args], check=True, capture_output=True, timeout=300
        )
    return env_dir


def run_in(env_dir: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(env_dir / "bin" / args[0]), *args[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_installed_wheel_imports_beside_ratelimit_and_llm(installed: Path, tmp_path: Path) -> None:
    probe = (
        "import app, ratelimit, llm, docsdesk, sys;"
        "print(docsdesk.__file__); print(ratelimit.__file__); print(llm.__file__)"
    )
    result = run_in(installed, tmp_path, "python", "-c", probe)
    assert result.returncode == 0, result.stderr
    ours, theirs_ratelimit, theirs_llm = result.stdout.split()
    assert ours.startswith(str(installed)), ours  # the installed copy, not the checkout
    assert theirs_ratelimit.startswith(str(installed)) and theirs_llm.startswith(str(installed))
    version = run_in(installed, tmp_path, "docsdesk", "--version")
    assert version.returncode == 0 and version.stdout.startswith("docsdesk ")


async def test_installed_wheel_serves_and_answers_about_its_own_docs(
    installed: Path, tmp_path: Path, database
) -> None:
    server = ServeProcess(
        [str(installed / "bin" / "docsdesk")],
        {
            "DATABASE_URL": database.url,
            "DOCSDESK_DATA_DIR": str(tmp_path / "data"),
            "DOCSDESK_COLLECTION": new_id("empty"),  # nothing indexed: the own docs are served
        },
        cwd=tmp_path,  # any working directory: nothing is read from a checkout
    )
    async with server, ChatKitClient(server.url) as client:
        await client.login()
        _, events = await client.new_thread("How do I deploy docsdesk in production?")
        answer = done_items(events, "assistant_message")[-1]
        sources = [a["source"]["url"] for part in answer["content"] for a in part["annotations"]]
        assert sources and all(s.startswith(f"{server.url}/about/") for s in sources), sources
        url, _, anchor = sources[0].partition("#")
        page = await client.http.get(url.removeprefix(server.url))
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert not anchor or f'id="{anchor}"' in page.text  # the cited section opens at its heading
    assert "serving docsdesk's own docs" in server.output, server.output
