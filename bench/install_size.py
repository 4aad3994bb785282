"""What one of docsdesk's dependencies adds to a fresh `pip install docsdesk`, from the
installed environment: the distributions only it brings (its dependency closure minus the
closure of docsdesk's other dependencies), sized by their installed files, plus the files
docsdesk itself ships for it (`--ours DIR`).

    python bench/install_size.py model2vec --ours rag/models
"""

from __future__ import annotations

import argparse
import os
import re
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parent.parent


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(names: list[str]) -> set[str]:
    """The installed distributions `names` need, themselves included (no extras)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = canonical(todo.pop())
        if name in seen:
            continue
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:
            continue
        seen.add(name)
        for line in requires:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def installed_bytes(name: str) -> int:
    dist = distribution(name)
    total = 0
    for file in dist.files or []:
        path = Path(str(dist.locate_file(file)))
        if path.is_file():
            total += path.stat().st_size
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dependency")
    parser.add_argument("--ours", type=Path, help="files docsdesk ships for it (a folder)")
    args = parser.parse_args()
    direct = [Requirement(r).name for r in distribution("docsdesk").requires or [] if "extra" not in r]
    others = closure([d for d in direct if canonical(d) != canonical(args.dependency)])
    only = sorted(closure([args.dependency]) - others)
    sizes = {name: installed_bytes(name) for name in only}
    for name, size in sorted(sizes.items(), key=lambda item: -item[1]):
        print(f"{name:<24} {size / 1e6:>7.1f} MB")
    total = sum(sizes.values())
    if args.ours:
        ours = sum(p.stat().st_size for p in (REPO / args.ours).rglob("*") if p.is_file())
        ours -= sum(p.stat().st_size for p in (REPO / args.ours).rglob("__pycache__/*") if p.is_file())
        print(f"{'(shipped: ' + str(args.ours) + ')':<24} {ours / 1e6:>7.1f} MB")
        total += ours
    print(f"{'total':<24} {total / 1e6:>7.1f} MB ({os.path.basename(os.environ.get('VIRTUAL_ENV', ''))})")


if __name__ == "__main__":
    main()
