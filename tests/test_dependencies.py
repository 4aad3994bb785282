"""Every third-party distribution the shipped code imports is declared in pyproject.toml: in
`dependencies`, or (for an import made only when a feature is chosen) in an optional extra."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

from tests.support import REPO

OWN = {"docsdesk", "chatkit_store", "rag", "app", "chatkit_server", "lifespan", "prompts"}
# Optional extras a shipped module may import (lazily, when the feature is chosen); not "dev".
SHIPPED_EXTRAS = ("local-embeddings", "onnx-embeddings")


def shipped_files():
    for name in ("app.py", "chatkit_server.py", "lifespan.py", "prompts.py"):
        yield REPO / name
    for package in ("docsdesk", "chatkit_store", "rag"):
        yield from sorted((REPO / package).rglob("*.py"))


def imported_modules() -> dict[str, set[str]]:
    """Top-level module names imported by the shipped code -> the files importing them."""
    found: dict[str, set[str]] = {}
    for path in shipped_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(REPO)))
    return found


def requirement_name(requirement: str) -> str:
    name = re.match(r"[A-Za-z0-9._-]+", requirement.strip())
    assert name, requirement
    return re.sub(r"[-_.]+", "-", name.group(0)).lower()


def declared() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in SHIPPED_EXTRAS:
        requirements += project["optional-dependencies"][extra]
    return {requirement_name(r) for r in requirements}


def test_every_imported_distribution_is_declared():
    distributions = packages_distributions()
    names = declared()
    missing = {}
    for module, where in sorted(imported_modules().items()):
        if module in OWN or module in sys.stdlib_module_names or module == "__future__":
            continue
        # Not installed (an optional extra): its distribution is named like the module.
        provided = {requirement_name(d) for d in distributions.get(module, [module])}
        if not provided & names:
            missing[module] = f"from {sorted(provided)}, imported by {sorted(where)}"
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"
