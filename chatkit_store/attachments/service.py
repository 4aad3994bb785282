"""AttachmentFiles: docsdesk's `AttachmentStore` (the SDK's extension point for
`attachments.create` / `attachments.delete`) and the uploads, downloads and deletions of the
bytes behind it.

- Two-phase: `create_attachment` records the metadata and a `pending` file row, and returns
  the attachment with an `upload_descriptor` pointing at a signed, short-lived, single-use
  upload URL. `upload()` verifies the signature, claims the row (pending -> uploading) and
  streams the body into storage.
- Direct: `direct_upload()` does both at once for an authenticated request.

An upload is refused (413) from its declared size and again as soon as the streamed bytes
pass the limit; the bytes must match the declared kind (415); a refused upload keeps no
bytes. Every owner-facing query is scoped to (tenant, user); a foreign id is 404.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from chatkit.store import AttachmentStore
from chatkit.types import (
    Attachment,
    AttachmentCreateParams,
    AttachmentUploadDescriptor,
    FileAttachment,
    ImageAttachment,
)
from pydantic import AnyUrl
from sqlalchemy import and_, bindparam, case, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chatkit_store.attachments.blobs import BlobStorage, BlobWriter, DiskBlobs, PostgresBlobs
from chatkit_store.attachments.kinds import KINDS, ContentMismatch, Kind, Sniffer, format_size, resolve_kind
from chatkit_store.attachments.schema import attachment_files
from chatkit_store.attachments.signing import SignatureError, UrlSigner
from chatkit_store.schema import attachments
from chatkit_store.store import PostgresStore
from docsdesk.core.context import Identity, RequestContext, identity_key
from docsdesk.core.errors import ApiError
from docsdesk.core.locks import xact_lock
from docsdesk.core.settings import Settings

MAX_NAME_CHARS = 255
_FILES = attachment_files.c


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


def _owned() -> Any:
    return and_(_FILES.tenant_id == bindparam("owner_tenant"), _FILES.user_id == bindparam("owner_user"))


def _owner(tenant_id: str, user_id: str) -> dict[str, str]:
    return {"owner_tenant": tenant_id, "owner_user": user_id}


_COLUMNS = (
    _FILES.attachment_id,
    _FILES.tenant_id,
    _FILES.user_id,
    _FILES.state,
    _FILES.kind,
    _FILES.declared_size,
    _FILES.size,
    _FILES.storage,
)
_RECORD = select(*_COLUMNS).where(_FILES.attachment_id == bindparam("id"))
_RECORD_OWNED = _RECORD.where(_owned())
_USAGE = select(
    func.coalesce(
        func.sum(
            case(
                (_FILES.state == "ready", _FILES.size),
                (_FILES.state.in_(("pending", "uploading")), _FILES.declared_size),
                else_=0,
            )
        ),
        0,
    )
).where(_owned(), _FILES.attachment_id != bindparam("exclude"))
_INSERT_ATTACHMENT = insert(attachments)
_INSERT_FILE = insert(attachment_files)
_CLAIM = (
    update(attachment_files)
    .where(_FILES.attachment_id == bindparam("id"), _FILES.state == "pending")
    .values(state="uploading", updated_at=func.now())
    .returning(_FILES.attachment_id)
)
_READY = (
    update(attachment_files)
    .where(_FILES.attachment_id == bindparam("id"), _FILES.state == "uploading")
    .values(state="ready", size=bindparam("size"), sha256=bindparam("sha256"), updated_at=func.now())
    .returning(_FILES.attachment_id)
)
_FAILED = (
    update(attachment_files)
    .where(_FILES.attachment_id == bindparam("id"))
    .values(state="failed", updated_at=func.now())
)
# Uploaded: the upload instructions are spent; the stored metadata no longer carries them.
_STRIP_DESCRIPTOR = text(
    "UPDATE attachments SET data = data - 'upload_descriptor', updated_at = now() WHERE id = :id"
)
_DELETE_ATTACHMENT = delete(attachments).where(attachments.c.id == bindparam("id"))
_DELETE_FILE_OWNED = (
    delete(attachment_files)
    .where(_FILES.attachment_id == bindparam("id"), _owned())
    .returning(_FILES.storage)
)


def clean_name(name: str) -> str:
    """A file name to show and store: its last path component, printable, at most 255 chars."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return base[:MAX_NAME_CHARS] or "attachment"


def _quota_lock(owner: str) -> str:
    """The advisory lock serialising one owner's quota checks (two uploads at once cannot both
    pass a check that only one of them fits)."""
    return f"docsdesk.attachments.quota:{owner}"


class UploadedFile(Protocol):
    """A file arriving in a request body (the HTTP layer parses it; see docsdesk.http.multipart)."""

    filename: str
    content_type: str

    async def open(self) -> None:
        """Read up to the file's bytes; sets `filename` and `content_type`."""

    def chunks(self) -> AsyncIterator[bytes]:
        """The file's bytes, as they arrive."""
        ...


async def _shielded(coro: Awaitable[None]) -> None:
    """Clean-up that must run to the end even when the request is being cancelled."""
    await asyncio.shield(asyncio.ensure_future(coro))


class AttachmentFiles(AttachmentStore[RequestContext]):
    """Attachment metadata (through the store) and bytes (through a BlobStorage)."""

    def __init__(
        self,
        engine: AsyncEngine,
        store: PostgresStore,
        settings: Settings,
        server_secret: bytes,
        default_base_url: str,
    ) -> None:
        self.engine = engine
        self.store = store
        self.settings = settings
        self.signer = UrlSigner(server_secret)
        self.default_base_url = default_base_url
        self.max_bytes = settings.max_attachment_bytes
        self.allowed = {name: KINDS[name] for name in settings.attachment_types}
        self.postgres = PostgresBlobs(engine)
        self.disk = DiskBlobs(settings.attachments_dir) if settings.attachments_dir else None
        self.storage: BlobStorage = self.disk or self.postgres  # where new uploads go
        # The store tells us what it deleted (so files on disk go too), and refreshes
        # the expiring preview URLs of the attachments it returns.
        store.on_attachments_deleted = self.forget
        store.attachment_view = self.present

    async def startup(self) -> None:
        if self.disk is not None:
            await asyncio.to_thread(self.disk.prepare)

    # --- URLs ------------------------------------------------------------------------

    def base_url(self, context: RequestContext) -> str:
        return self.settings.public_url or context.base_url or self.default_base_url

    def _url(self, purpose: str, attachment_id: str, context: RequestContext) -> str:
        ttl = (
            self.settings.attachment_upload_url_seconds
            if purpose == "upload"
            else self.settings.attachment_preview_url_seconds
        )
        return self.signer.url(
            self.base_url(context), purpose, attachment_id, context.tenant_id, context.user_id, ttl
        )

    def present(self, attachment: Attachment, context: RequestContext) -> Attachment:
        """The attachment with a fresh signed preview URL (ours expire)."""
        if isinstance(attachment, ImageAttachment):
            path = urlsplit(str(attachment.preview_url)).path
            if path.endswith(f"/attachments/{attachment.id}/preview"):
                url = self._url("preview", attachment.id, context)
                return attachment.model_copy(update={"preview_url": AnyUrl(url)})
        return attachment

    def _build(
        self, attachment_id: str, name: str, kind: Kind, context: RequestContext, upload: bool
    ) -> Attachment:
        descriptor = None
        if upload:
            descriptor = AttachmentUploadDescriptor(
                url=self._url("upload", attachment_id, context), method="POST"
            )
        fields: dict[str, Any] = {
            "id": attachment_id,
            "name": name,
            "mime_type": kind.mime,
            "upload_descriptor": descriptor,
        }
        if kind.image:
            return ImageAttachment(preview_url=self._url("preview", attachment_id, context), **fields)
        return FileAttachment(**fields)

    # --- admission ---------------------------------------------------------------------

    def _kind(self, mime_type: str, name: str) -> Kind:
        kind = resolve_kind(mime_type, name)
        if kind is None or kind.name not in self.allowed:
            allowed = ", ".join(k.label for k in self.allowed.values())
            shown = mime_type.split(";", 1)[0].strip()[:100] or "no type"
            raise ApiError(
                415,
                "unsupported_attachment_type",
                f"{name!r} ({shown}) is not an accepted attachment type; accepted: {allowed}",
            )
        return kind

    def _check_size(self, size: int) -> None:
        if size < 0:
            raise ApiError(400, "invalid_request", "size must be >= 0")
        if size > self.max_bytes:
            raise ApiError(
                413,
                "attachment_too_large",
                f"the file is {format_size(size)}; the limit is {format_size(self.max_bytes)}",
            )

    async def _check_quota(
        self, conn: AsyncConnection, tenant_id: str, user_id: str, attachment_id: str, size: int
    ) -> None:
        """Under the owner's lock (held by the caller's transaction)."""
        owner = {**_owner(tenant_id, user_id), "exclude": attachment_id}
        used: int = (await conn.execute(_USAGE, owner)).scalar_one()
        quota = self.settings.attachment_quota_bytes
        if used + size > quota:
            raise ApiError(
                413,
                "attachment_quota_exceeded",
                f"your attachments would take {format_size(used + size)}; the limit is {format_size(quota)} "
                "(delete conversations or attachments to free space)",
            )

    async def _insert(
        self, attachment: Attachment, kind: Kind, declared_size: int, context: RequestContext, state: str
    ) -> FileRecord:
        """The attachment's metadata row and its file row, in one transaction, within quota."""
        tenant, user = context.tenant_id, context.user_id
        async with self.engine.begin() as conn:
            await xact_lock(conn, _quota_lock(identity_key(Identity(user, tenant))))
            await self._check_quota(conn, tenant, user, attachment.id, declared_size)
            await conn.execute(
                _INSERT_ATTACHMENT,
                {
                    "id": attachment.id,
                    "thread_id": None,
                    "tenant_id": tenant,
                    "user_id": user,
                    "data": attachment.model_dump(mode="json"),
                },
            )
            await conn.execute(
                _INSERT_FILE,
                {
                    "attachment_id": attachment.id,
                    "tenant_id": tenant,
                    "user_id": user,
                    "state": state,
                    "kind": kind.name,
                    "declared_size": declared_size,
                    "storage": self.storage.name,
                },
            )
        return FileRecord(attachment.id, tenant, user, state, kind, declared_size, None, self.storage.name)

    # --- AttachmentStore -----------------------------------------------------------------

    async def create_attachment(self, input: AttachmentCreateParams, context: RequestContext) -> Attachment:
        """Two-phase, step one: metadata now, bytes later through the signed upload URL."""
        name = clean_name(input.name)
        self._check_size(input.size)
        kind = self._kind(input.mime_type, name)
        attachment_id = self.store.generate_attachment_id(kind.mime, context)
        attachment = self._build(attachment_id, name, kind, context, upload=True)
        await self._insert(attachment, kind, input.size, context, "pending")
        return attachment

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        """The bytes (the SDK then deletes the metadata through the store). NotFoundError for
        an attachment that is not the caller's."""
        params = {"id": attachment_id, **_owner(context.tenant_id, context.user_id)}
        async with self.engine.begin() as conn:
            storage = await conn.scalar(_DELETE_FILE_OWNED, params)
        if storage is None:
            await self.store.load_attachment(attachment_id, context)  # 404 unless the caller's
        elif storage == "disk" and self.disk is not None:
            await self.disk.delete([attachment_id])

    async def forget(self, attachment_ids: Iterable[str]) -> None:
        """After the store deleted these attachments (their rows and PostgreSQL bytes went by
        cascade): remove their files on disk."""
        ids = list(attachment_ids)
        if ids and self.disk is not None:
            await self.disk.delete(ids)

    # --- uploads -------------------------------------------------------------------------

    async def _signed_record(
        self, purpose: str, attachment_id: str, expires: str | None, signature: str | None
    ) -> FileRecord:
        """The attachment behind a signed URL for `purpose`: 404 if missing, 403 if the
        signature is wrong or expired."""
        record = await self._record(attachment_id)
        if record is None:
            raise ApiError(404, "not_found", f"attachment {attachment_id} not found")
        try:
            self.signer.verify(purpose, attachment_id, record.tenant_id, record.user_id, expires, signature)
        except SignatureError as exc:
            raise ApiError(403, exc.code, exc.message) from None
        return record

    async def upload(
        self,
        attachment_id: str,
        expires: str | None,
        signature: str | None,
        open_field: Callable[[int], UploadedFile],
        base_url: str,
    ) -> Attachment:
        """Two-phase, step two: the bytes, through the signed URL (no bearer token).
        `open_field(max_bytes)` reads the file from the request (the HTTP layer's parser)."""
        record = await self._signed_record("upload", attachment_id, expires, signature)
        field = open_field(self.max_bytes)  # refuses a wrong content type or an oversized body first
        async with self.engine.begin() as conn:
            claimed = await conn.scalar(_CLAIM, {"id": attachment_id})
        if claimed is None:
            raise ApiError(
                409, "upload_url_used", "this upload URL was already used; create a new attachment"
            )
        context = RequestContext(user_id=record.user_id, tenant_id=record.tenant_id, base_url=base_url)
        try:
            await field.open()
            await self._receive(record, field, declared=record.declared_size)
        except BaseException:
            await _shielded(self._mark_failed(attachment_id))
            raise
        return await self.store.load_attachment(attachment_id, context)

    async def direct_upload(
        self, open_field: Callable[[int], UploadedFile], declared_length: int | None, context: RequestContext
    ) -> Attachment:
        """Direct upload: an authenticated request creates the attachment with its bytes."""
        field = open_field(self.max_bytes)
        await field.open()
        name = clean_name(field.filename)
        kind = self._kind(field.content_type, name)
        estimate = min(declared_length, self.max_bytes) if declared_length else 0
        attachment_id = self.store.generate_attachment_id(kind.mime, context)
        attachment = self._build(attachment_id, name, kind, context, upload=False)
        record = await self._insert(attachment, kind, estimate, context, "uploading")
        try:
            await self._receive(record, field)
        except BaseException:
            await _shielded(self._discard(attachment_id))
            raise
        return await self.store.load_attachment(attachment_id, context)

    async def _receive(self, record: FileRecord, field: UploadedFile, declared: int | None = None) -> None:
        """Stream the file into storage, checking size (the limit, and the size declared by
        attachments.create: binding) and content; then mark it ready (within quota). On any
        failure nothing written is kept."""
        storage = self._storage(record.storage)
        writer: BlobWriter = storage.writer(record.attachment_id)
        sniffer = Sniffer(record.kind)
        digest = hashlib.sha256()
        size = 0
        try:
            async for data in field.chunks():
                size += len(data)
                if size > self.max_bytes:
                    raise ApiError(
                        413,
                        "attachment_too_large",
                        f"the file is over the {format_size(self.max_bytes)} limit",
                    )
                if declared is not None and size > declared:
                    raise ApiError(
                        413,
                        "attachment_larger_than_declared",
                        f"the file is larger than the {format_size(declared)} declared by attachments.create",
                    )
                sniffer.feed(data)
                digest.update(data)
                await writer.write(data)
            if size == 0:
                raise ApiError(400, "empty_file", "the file is empty")
            sniffer.finish()
            await writer.finish()
            await self._mark_ready(record, size, digest.hexdigest())
        except ContentMismatch as exc:
            await _shielded(writer.abort())
            raise ApiError(415, "attachment_content_mismatch", str(exc)) from None
        except BaseException:
            await _shielded(writer.abort())
            raise

    async def _mark_ready(self, record: FileRecord, size: int, sha256: str) -> None:
        async with self.engine.begin() as conn:
            await xact_lock(conn, _quota_lock(identity_key(Identity(record.user_id, record.tenant_id))))
            await self._check_quota(conn, record.tenant_id, record.user_id, record.attachment_id, size)
            done = await conn.scalar(_READY, {"id": record.attachment_id, "size": size, "sha256": sha256})
            if done is None:
                raise ApiError(
                    404, "not_found", f"attachment {record.attachment_id} was deleted during the upload"
                )
            await conn.execute(_STRIP_DESCRIPTOR, {"id": record.attachment_id})

    async def _mark_failed(self, attachment_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(_FAILED, {"id": attachment_id})

    async def _discard(self, attachment_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(_DELETE_ATTACHMENT, {"id": attachment_id})

    # --- reading -------------------------------------------------------------------------

    def _storage(self, name: str) -> BlobStorage:
        if name == "disk":
            if self.disk is None:
                raise ApiError(
                    503,
                    "attachment_storage_unavailable",
                    "this attachment is stored on disk but DOCSDESK_ATTACHMENTS_DIR is not set",
                    {"Retry-After": "60"},
                )
            return self.disk
        return self.postgres

    async def _record(self, attachment_id: str, context: RequestContext | None = None) -> FileRecord | None:
        if context is None:
            stmt, params = _RECORD, {"id": attachment_id}
        else:
            stmt = _RECORD_OWNED
            params = {"id": attachment_id, **_owner(context.tenant_id, context.user_id)}
        async with self.engine.connect() as conn:
            row = (await conn.execute(stmt, params)).first()
        if row is None:
            return None
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

    async def ready_record(self, attachment_id: str, context: RequestContext) -> FileRecord | None:
        """The caller's uploaded file, or None (missing, foreign or not uploaded)."""
        record = await self._record(attachment_id, context)
        return record if record is not None and record.state == "ready" else None

    def read(self, record: FileRecord, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        return self._storage(record.storage).read(record.attachment_id, start, end)

    async def read_bytes(self, record: FileRecord, start: int = 0, end: int | None = None) -> bytes:
        parts = [piece async for piece in self.read(record, start, end)]
        return b"".join(parts)

    async def check_sendable(
        self, attachment_ids: list[str], thread_id: str | None, context: RequestContext
    ) -> None:
        """Before a message with these attachments is saved: each must be the caller's
        (else NotFoundError), uploaded, and not already part of another thread."""
        for attachment_id in attachment_ids:
            attachment = await self.store.load_attachment(attachment_id, context)
            if attachment.thread_id is not None and attachment.thread_id != thread_id:
                raise ApiError(
                    400,
                    "attachment_in_use",
                    f"attachment {attachment_id} is already part of another conversation",
                )
            record = await self._record(attachment_id, context)
            if record is not None and record.state != "ready":
                raise ApiError(
                    400,
                    "attachment_not_uploaded",
                    f"attachment {attachment_id} has not been uploaded ({record.state})",
                )

    async def preview(self, attachment_id: str, expires: str | None, signature: str | None) -> FileRecord:
        """The image behind a signed preview URL (ApiError otherwise)."""
        record = await self._signed_record("preview", attachment_id, expires, signature)
        if record.state != "ready" or not record.kind.image:
            raise ApiError(404, "not_found", f"attachment {attachment_id} has no preview")
        return record

    async def usage(self, context: RequestContext) -> int:
        async with self.engine.connect() as conn:
            owner = {**_owner(context.tenant_id, context.user_id), "exclude": ""}
            used: int = (await conn.execute(_USAGE, owner)).scalar_one()
        return used
