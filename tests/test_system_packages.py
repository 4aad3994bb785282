"""The rule for tests that need a system package (tests/support/system.py): skip naming the
install command, or fail under DOCSDESK_REQUIRE_SYSTEM_TESTS=1."""

from __future__ import annotations

import pytest

from tests.support import system


@pytest.fixture
def absent_package(monkeypatch):
    packages = {
        **system.PACKAGES,
        "absent": system.SystemPackage(
            "the absent tool", ("absent-tool", "absent-tool-extras"), lambda: None
        ),
    }
    monkeypatch.setattr(system, "PACKAGES", packages)


def test_a_missing_package_skips_naming_the_install_command(absent_package, monkeypatch):
    monkeypatch.delenv(system.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        system.require_system("absent")
    assert "the absent tool" in str(skipped.value)
    assert "`apt-get install absent-tool absent-tool-extras`" in str(skipped.value)


def test_a_missing_package_fails_when_system_tests_are_required(absent_package, monkeypatch):
    monkeypatch.setenv(system.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception) as failed:
        system.require_system("absent")
    assert "`apt-get install absent-tool absent-tool-extras`" in str(failed.value)


def test_only_the_missing_packages_are_named(absent_package, monkeypatch):
    monkeypatch.setattr(
        system,
        "PACKAGES",
        {**system.PACKAGES, "present": system.SystemPackage("x", ("x",), lambda: "/bin/x")},
    )
    monkeypatch.delenv(system.REQUIRE_ENV, raising=False)
    system.require_system("present")  # nothing missing: returns
    with pytest.raises(pytest.skip.Exception) as skipped:
        system.require_system("present", "absent")
    assert "needs the absent tool, not installed" in str(skipped.value)
    assert "`apt-get install absent-tool absent-tool-extras`" in str(skipped.value)  # not `x`
