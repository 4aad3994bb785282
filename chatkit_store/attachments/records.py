"""What docsdesk knows of an attachment's bytes (`FileRecord`), the SQL the attachment service
runs on `attachment_files` (every owner-facing statement scoped to tenant and user), and the
small rules around them: stored file names, the per-owner quota lock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, func, insert, select, text, update

from chatkit_store.attachments.kinds import KINDS, Kind
from chatkit_store.attachments.schema import attachment_files
from chatkit_store.schema import attachments

MAX_NAME_CHARS = 255
FILES = attachment_files.c


@dataclass(frozen=True)
class FileRecord:
    """What docsdesk knows of an attachment's bytes."""

    attachment_id: str
    tenant_id: str
    user_id: str
    state: str
    kind: Kind
    declared_size: int
    size: int | None
    storage: str


def owned() -> Any:
    return and_(FILES.tenant_id == bindparam("owner_tenant"), FILES.user_id == bindparam("owner_user"))


def owner_params(tenant_id: str, user_id: str) -> dict[str, str]:
    return {"owner_tenant": tenant_id, "owner_user": user_id}


COLUMNS = (
    FILES.attachment_id,
    FILES.tenant_id,
    FILES.user_id,
    FILES.state,
    FILES.kind,
    FILES.declared_size,
    FILES.size,
    FILES.storage,
)
RECORD = select(*COLUMNS).where(FILES.attachment_id == bindparam("id"))
RECORD_OWNED = RECORD.where(owned())
USAGE = select(
    func.coalesce(
        func.sum(
            case(
                (FILES.state == "ready", FILES.size),
                (FILES.state.in_(("pending", "uploading")), FILES.declared_size),
                else_=0,
            )
        ),
        0,
    )
).where(owned(), FILES.attachment_id != bindparam("exclude"))
INSERT_ATTACHMENT = insert(attachments)
INSERT_FILE = insert(attachment_files)
CLAIM = (
    update(attachment_files)
    .where(FILES.attachment_id == bindparam("id"), FILES.state == "pending")
    .values(state="uploading", updated_at=func.now())
    .returning(FILES.attachment_id)
)
READY = (
    update(attachment_files)
    .where(FILES.attachment_id == bindparam("id"), FILES.state == "uploading")
    .values(state="ready", size=bindparam("size"), sha256=bindparam("sha256"), updated_at=func.now())
    .returning(FILES.attachment_id)
)
FAILED = (
    update(attachment_files)
    .where(FILES.attachment_id == bindparam("id"))
    .values(state="failed", updated_at=func.now())
)
# Uploaded: the upload instructions are spent; the stored metadata no longer carries them.
STRIP_DESCRIPTOR = text(
    "UPDATE attachments SET data = data - 'upload_descriptor', updated_at = now() WHERE id = :id"
)
DELETE_ATTACHMENT = delete(attachments).where(attachments.c.id == bindparam("id"))
DELETE_FILE_OWNED = (
    delete(attachment_files).where(FILES.attachment_id == bindparam("id"), owned()).returning(FILES.storage)
)


def clean_name(name: str) -> str:
    """A file name to show and store: its last path component, printable, at most 255 chars."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return base[:MAX_NAME_CHARS] or "attachment"


def quota_lock(owner: str) -> str:
    """The advisory lock serialising one owner's quota checks (two uploads at once cannot both
    pass a check that only one of them fits)."""
    return f"docsdesk.attachments.quota:{owner}"


def record_of(row: Any) -> FileRecord:
    """The FileRecord of a row selected with COLUMNS."""
    return FileRecord(
        row.attachment_id,
        row.tenant_id,
        row.user_id,
        row.state,
        KINDS[row.kind],
        row.declared_size,
        row.size,
        row.storage,
    )
