"""Which files a documentation source may read (issue 23, item 2).

One rule for every source (a folder walk today; uploaded archives and git trees later):
only a regular file whose resolved path is inside the resolved source root is read. A
symlink is followed only when its target is inside the root; a link out of it (`leak.md ->
../secret.txt`, `env.md -> /proc/self/environ`), a dangling link, a FIFO, a socket or a
device is skipped, and the caller lists it in its summary with the reason given here.
`open_regular` opens a checked file without following a link or blocking on a FIFO, so a file
swapped between the check and the read is refused rather than read.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO


def inside_root(root: Path, path: Path) -> str | None:
    """None when `path` may be read; otherwise the reason it must be skipped."""
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):  # dangling link, a loop, a permission error
        return "a broken or looping link"
    if not resolved.is_relative_to(root.resolve()):
        return "a link to a file outside the source root"
    try:
        mode = os.stat(resolved).st_mode
    except OSError:
        return "cannot be read"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    return None


def open_regular(resolved: Path) -> BinaryIO:
    """Open `resolved` (a path without links) for reading, refusing a link or anything but a
    regular file (OSError) without blocking on a FIFO."""
    fd = os.open(resolved, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
