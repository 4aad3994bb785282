"""System packages some tests drive for real (Chromium, Redis, nginx, PostgreSQL 15, npm), and
one rule for all of them: a test whose package is missing is skipped with the command that
installs it, or fails when DOCSDESK_REQUIRE_SYSTEM_TESTS=1 (`.ci/run` sets it, so CI never skips
one silently). `.ci/run` installs them all; tests/test_topology.py also installs its own (as
root, from Debian's archive) before falling back to this rule."""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REQUIRE_ENV = "DOCSDESK_REQUIRE_SYSTEM_TESTS"


def postgres_bin() -> Path | None:
    """The newest Debian PostgreSQL server's bin directory (initdb, postgres), if installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def nginx_bin() -> str | None:
    return shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def chromium_paths() -> tuple[str, str] | None:
    """(browser, driver) paths, or None when either is not installed."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@dataclass(frozen=True)
class SystemPackage:
    what: str  # for the reader
    debian: tuple[str, ...]  # the Debian packages that provide it
    present: Callable[[], object]  # truthy when installed


PACKAGES = {
    "chromium": SystemPackage("Chromium and its WebDriver", ("chromium", "chromium-driver"), chromium_paths),
    "redis": SystemPackage("redis-server", ("redis-server",), lambda: shutil.which("redis-server")),
    "nginx": SystemPackage("nginx", ("nginx",), nginx_bin),
    "postgresql": SystemPackage("the PostgreSQL 15 server", ("postgresql",), postgres_bin),
    "npm": SystemPackage("Node.js and npm", ("nodejs", "npm"), lambda: shutil.which("npm")),
}


def missing(*names: str) -> list[str]:
    """The names among `names` whose package is not installed."""
    return [name for name in names if not PACKAGES[name].present()]


def install_command(names: list[str]) -> str:
    debian = [package for name in names for package in PACKAGES[name].debian]
    return f"apt-get install {' '.join(debian)}"


def require_system(*names: str) -> None:
    """Skip the calling test (or fixture's tests) unless every named package is installed,
    saying which command installs them; with DOCSDESK_REQUIRE_SYSTEM_TESTS=1, fail instead."""
    absent = missing(*names)
    if not absent:
        return
    what = " and ".join(PACKAGES[name].what for name in absent)
    reason = f"needs {what}, not installed here: `{install_command(absent)}` installs it"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: a missing system package is a failure)", pytrace=False)
    pytest.skip(reason)
