"""Tables of attachment bytes (created by migration 0004).

`attachment_files` holds one row per attachment with what docsdesk knows of its bytes
(state, size, checked type, where they are); `attachment_chunks` holds the bytes themselves
when they live in PostgreSQL, in fixed-size rows. Both go with their `attachments` row
(ON DELETE CASCADE), so deleting a thread or an attachment deletes its bytes.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    func,
)

metadata = MetaData()

STATES = ("pending", "uploading", "ready", "failed")
STORAGES = ("postgres", "disk")

attachment_files = Table(
    "attachment_files",
    metadata,
    Column("attachment_id", Text, primary_key=True),  # FK attachments(id) ON DELETE CASCADE
    Column("tenant_id", Text, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("declared_size", BigInteger, nullable=False),
    Column("size", BigInteger),
    Column("sha256", Text),
    Column("storage", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("state IN ('pending', 'uploading', 'ready', 'failed')", name="ck_attachment_files_state"),
    CheckConstraint("storage IN ('postgres', 'disk')", name="ck_attachment_files_storage"),
    Index("ix_attachment_files_owner", "tenant_id", "user_id"),
)

attachment_chunks = Table(
    "attachment_chunks",
    metadata,
    Column(
        "attachment_id",
        Text,
        ForeignKey("attachment_files.attachment_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("seq", Integer, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)
