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
The SQL and FileRecord are in records.py, the checked byte stream in uploads.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any
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
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chatkit_store.attachments.blobs import BlobStorage, BlobWriter, DiskBlobs, PostgresBlobs
from chatkit_store.attachments.kinds import KINDS, Kind, format_size, resolve_kind
from chatkit_store.attachments.records import (
    CLAIM,
    DELETE_ATTACHMENT,
    DELETE_FILE_OWNED,
    FAILED,
    INSERT_ATTACHMENT,
    INSERT_FILE,
    READY,
    RECORD,
    RECORD_OWNED,
    STRIP_DESCRIPTOR,
    USAGE,
    FileRecord,
    clean_name,
    owner_params,
    quota_lock,
    record_of,
)
from chatkit_store.attachments.signing import SignatureError, UrlSigner
from chatkit_store.attachments.uploads import UploadedFile, shielded, stream_into
from chatkit_store.store import PostgresStore
from docsdesk.core.context import Identity, RequestContext, identity_key
from docsdesk.core.errors import ApiError
from docsdesk.core.locks import xact_lock
from docsdesk.core.settings import Settings

__all__ = ["AttachmentFiles", "FileRecord", "UploadedFile", "clean_name"]


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
        owner = {**owner_params(tenant_id, user_id), "exclude": attachment_id}
        used: int = (await conn.execute(USAGE, owner)).scalar_one()
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
            await xact_lock(conn, quota_lock(identity_key(Identity(user, tenant))))
            await self._check_quota(conn, tenant, user, attachment.id, declared_size)
            await conn.execute(
                INSERT_ATTACHMENT,
                {
                    "id": attachment.id,
                    "thread_id": None,
                    "tenant_id": tenant,
                    "user_id": user,
                    "data": attachment.model_dump(mode="json"),
                },
            )
            await conn.execute(
                INSERT_FILE,
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
        params = {"id": attachment_id, **owner_params(context.tenant_id, context.user_id)}
        async with self.engine.begin() as conn:
            storage = await conn.scalar(DELETE_FILE_OWNED, params)
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
            claimed = await conn.scalar(CLAIM, {"id": attachment_id})
        if claimed is None:
            raise ApiError(
                409, "upload_url_used", "this upload URL was already used; create a new attachment"
            )
        context = RequestContext(user_id=record.user_id, tenant_id=record.tenant_id, base_url=base_url)
        try:
            await field.open()
            await self._receive(record, field, declared=record.declared_size)
        except BaseException:
            await shielded(self._mark_failed(attachment_id))
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
            await shielded(self._discard(attachment_id))
            raise
        return await self.store.load_attachment(attachment_id, context)

    async def _receive(self, record: FileRecord, field: UploadedFile, declared: int | None = None) -> None:
        """Stream the file into storage (checked: uploads.stream_into), then mark it ready
        (within quota). On any failure nothing written is kept."""
        writer: BlobWriter = self._storage(record.storage).writer(record.attachment_id)
        size, sha256 = await stream_into(writer, field, record.kind, self.max_bytes, declared)
        try:
            await self._mark_ready(record, size, sha256)
        except BaseException:
            await shielded(writer.abort())
            raise

    async def _mark_ready(self, record: FileRecord, size: int, sha256: str) -> None:
        async with self.engine.begin() as conn:
            await xact_lock(conn, quota_lock(identity_key(Identity(record.user_id, record.tenant_id))))
            await self._check_quota(conn, record.tenant_id, record.user_id, record.attachment_id, size)
            done = await conn.scalar(READY, {"id": record.attachment_id, "size": size, "sha256": sha256})
            if done is None:
                raise ApiError(
                    404, "not_found", f"attachment {record.attachment_id} was deleted during the upload"
                )
            await conn.execute(STRIP_DESCRIPTOR, {"id": record.attachment_id})

    async def _mark_failed(self, attachment_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(FAILED, {"id": attachment_id})

    async def _discard(self, attachment_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(DELETE_ATTACHMENT, {"id": attachment_id})

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
            stmt, params = RECORD, {"id": attachment_id}
        else:
            stmt = RECORD_OWNED
            params = {"id": attachment_id, **owner_params(context.tenant_id, context.user_id)}
        async with self.engine.connect() as conn:
            row = (await conn.execute(stmt, params)).first()
        return None if row is None else record_of(row)

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
            owner = {**owner_params(context.tenant_id, context.user_id), "exclude": ""}
            used: int = (await conn.execute(USAGE, owner)).scalar_one()
        return used
