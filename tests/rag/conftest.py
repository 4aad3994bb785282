"""Fixtures of the rag tests."""

from tests.support.mkdocs_site import mkdocs_site  # noqa: F401 - the test docs site, built once
