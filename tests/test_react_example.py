"""The README's React embedding is examples/react/src/DocsAssistant.tsx, and it type-checks with
`tsc --strict` against the published @openai/chatkit-react types (npm ci from the lock file).

Fails, does not skip, when npm is there but the install or the check fails; without npm it is
skipped, naming the install command (a failure under DOCSDESK_REQUIRE_SYSTEM_TESTS=1)."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests.support import REPO
from tests.support.system import require_system

EXAMPLE = REPO / "examples" / "react"
COMPONENT = EXAMPLE / "src" / "DocsAssistant.tsx"


def test_the_readmes_first_tsx_block_is_the_example_component():
    blocks = re.findall(r"```tsx\n(.*?)```", (REPO / "README.md").read_text(), re.DOTALL)
    assert blocks, "README.md has no ```tsx block"
    assert blocks[0] == COMPONENT.read_text(), (
        "README.md's first ```tsx block and examples/react/src/DocsAssistant.tsx differ: keep them identical"
    )


def test_the_example_is_strict_and_pinned():
    import json

    config = json.loads((EXAMPLE / "tsconfig.json").read_text())
    assert config["compilerOptions"]["strict"] is True
    package = json.loads((EXAMPLE / "package.json").read_text())
    for name, version in {**package["dependencies"], **package["devDependencies"]}.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is not pinned: {version}"
    assert (EXAMPLE / "package-lock.json").is_file()


def npm(*args: str, timeout: float) -> None:
    env = {
        **os.environ,
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
    }
    try:
        done = subprocess.run(
            ["npm", *args], cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"npm {' '.join(args)} did not finish in {timeout:.0f} s:\n{exc.stdout}\n{exc.stderr}")
    if done.returncode != 0:
        pytest.fail(f"npm {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def test_the_react_example_type_checks_against_the_published_types():
    require_system("npm")
    npm("ci", "--prefer-offline", "--no-audit", "--no-fund", timeout=240)
    npm("run", "typecheck", timeout=180)
