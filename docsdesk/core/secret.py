"""The server's signing secret: DOCSDESK_SECRET_KEY, or one generated once into the data dir
and shared by every process that uses that directory."""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from docsdesk.core.settings import Settings

log = logging.getLogger("docsdesk.secret")

SECRET_FILE_NAME = "secret_key"
MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key is at least 256 bits


def server_secret(settings: Settings) -> bytes:
    """DOCSDESK_SECRET_KEY, else the secret generated once into the data dir."""
    if settings.secret_key is not None:
        secret = settings.secret_key.get_secret_value()
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"DOCSDESK_SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes")
        return secret.encode()
    return _load_or_create_secret_file(Path(settings.data_dir) / SECRET_FILE_NAME)


def _load_or_create_secret_file(path: Path) -> bytes:
    """Read the server secret, generating it first if absent. The new secret is written to a
    private temp file (O_CREAT|O_EXCL, 0600) then hard-linked into place, which fails if the
    file exists: processes starting together all end up reading the one complete file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process won the race; use its secret
        finally:
            tmp.unlink(missing_ok=True)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        log.warning("%s is readable by other users; chmod 600 it", path)
    secret = path.read_text().strip()
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ValueError(
            f"{path} holds no usable secret (under {MIN_SECRET_BYTES} bytes); "
            "delete it to generate a new one, or set DOCSDESK_SECRET_KEY"
        )
    return secret.encode()
