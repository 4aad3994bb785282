"""Which files and folders under a documentation root are not documentation.

Skipped by default: the theme and template folders of the site generators (mkdocs
`overrides/`, Docusaurus `src/theme/`, `.docusaurus/`, `node_modules/`, `build/`), built sites
(`site/`) and hidden files and folders. `--exclude GLOB` adds patterns: a pattern without a
"/" matches a file or folder name anywhere (`drafts`, `*.draft.md`); one with a "/" matches
the path relative to the root (`blog/2019/*`, `api/**`; `*` may cross folders). What was
skipped, other than hidden entries, is reported so the summary can list it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase

# relative path (or folder name anywhere, without "/") -> why it is not documentation
DEFAULT_EXCLUDED = {
    "overrides": "mkdocs theme overrides",
    "src/theme": "Docusaurus theme",
    ".docusaurus": "Docusaurus build cache",
    "node_modules": "JavaScript packages",
    "build": "built site",
    "site": "built site",
}


@dataclass
class ExcludeRules:
    """The default skips plus the given glob patterns; records what matched (`skipped`)."""

    patterns: tuple[str, ...] = ()
    skipped: list[str] = field(default_factory=list)  # "path/ (reason)" lines, in walk order

    def __post_init__(self) -> None:
        cleaned = []
        for pattern in self.patterns:
            pattern = pattern.strip().replace("\\", "/").strip("/")
            if not pattern:
                raise ValueError("--exclude needs a glob pattern, e.g. 'drafts' or 'blog/2019/*'")
            cleaned.append(pattern)
        self.patterns = tuple(cleaned)

    def reason(self, relative: str, is_dir: bool) -> str | None:
        """Why the entry at `relative` (posix, from the root) is skipped, or None."""
        name = relative.rsplit("/", 1)[-1]
        if is_dir:
            for path, why in DEFAULT_EXCLUDED.items():
                if ("/" in path and relative == path) or ("/" not in path and name == path):
                    return why
        for pattern in self.patterns:
            target = relative if "/" in pattern else name
            if fnmatchcase(target, pattern) or (is_dir and fnmatchcase(relative + "/", pattern)):
                return f"--exclude {pattern}"
        return None

    def skip(self, relative: str, is_dir: bool) -> bool:
        """Whether to skip the entry; hidden ones silently, the others recorded."""
        if relative.rsplit("/", 1)[-1].startswith("."):
            if is_dir and relative.rsplit("/", 1)[-1] in DEFAULT_EXCLUDED:
                self.skipped.append(f"{relative}/ ({DEFAULT_EXCLUDED[relative.rsplit('/', 1)[-1]]})")
            return True
        why = self.reason(relative, is_dir)
        if why is not None:
            self.skipped.append(f"{relative}{'/' if is_dir else ''} ({why})")
        return why is not None
