"""The size limits of issue 17, kept by a test: no module over 400 lines and no function over
60 lines in the card files, `chatkit_store/`, `rag/` and `docsdesk/` (migrations aside)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CARD_FILES = ("app.py", "chatkit_server.py", "lifespan.py", "prompts.py")
PACKAGES = ("chatkit_store", "rag", "docsdesk")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def checked_modules() -> list[Path]:
    modules = [ROOT / name for name in CARD_FILES]
    for package in PACKAGES:
        modules += [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]
    return sorted(modules)


def test_modules_are_at_most_400_lines() -> None:
    too_long = [
        f"{path.relative_to(ROOT)}: {lines} lines"
        for path in checked_modules()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    ]
    assert not too_long, "split these modules:\n" + "\n".join(too_long)


def test_functions_are_at_most_60_lines() -> None:
    too_long = []
    for path in checked_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {lines} lines")
    assert not too_long, "split these functions:\n" + "\n".join(too_long)
