"""Headless Chromium (Debian's `chromium` + `chromium-driver`) driven with Selenium.

`.ci/run` installs both packages when absent; elsewhere a test without them is skipped, naming
the install command (tests/support/system.py). The flags keep Chromium off the network it
cannot reach here (background networking, component updates, sync)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.system import chromium_paths, require_system

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)


@contextmanager
def chromium() -> Iterator:
    """A fresh headless Chromium with an empty profile; quit at the end. Skips the test when
    Chromium is not installed (fails under DOCSDESK_REQUIRE_SYSTEM_TESTS=1)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    require_system("chromium")
    paths = chromium_paths()
    assert paths is not None
    browser, driver = paths
    profile = tempfile.mkdtemp(prefix="docsdesk-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    session = webdriver.Chrome(service=Service(driver), options=options)
    session.set_script_timeout(60)
    try:
        yield session
    finally:
        session.quit()
        shutil.rmtree(profile, ignore_errors=True)
