"""SQLAlchemy Core tables of the ChatKit store (created by migration 0001, used for queries).

Every row carries its owner (`tenant_id`, `user_id`). Page cursors use monotonic sequence
columns (`items.seq`, `threads.activity_seq`), never timestamps, so they cannot tie.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    MetaData,
    Sequence,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

#: Feeds `threads.activity_seq`: taken afresh whenever a thread is saved or one of its
#: items is added or saved, so "most recently active" is an unambiguous order.
THREAD_ACTIVITY_SEQ = Sequence("thread_activity_seq", metadata=metadata)

FEEDBACK_KINDS = ("positive", "negative")

threads = Table(
    "threads",
    metadata,
    Column("id", Text, primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("user_id", Text, nullable=False),
    Column(
        "activity_seq",
        BigInteger,
        nullable=False,
        server_default=THREAD_ACTIVITY_SEQ.next_value(),
    ),
    Column("data", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The assistant the thread was started with (migration 0007): only it can see the thread.
    Column("assistant", Text, nullable=False, server_default="default"),
    Index("ix_threads_owner_activity", "tenant_id", "user_id", "assistant", "activity_seq"),
)

items = Table(
    "items",
    metadata,
    Column("id", Text, primary_key=True),
    Column("thread_id", Text, ForeignKey("threads.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", Text, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("seq", BigInteger, Identity(always=True), nullable=False),
    Column("data", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Serves the page query (every condition an index condition, ordered by seq) and the
    # ON DELETE CASCADE from threads (leading thread_id).
    Index("ix_items_thread_owner_seq", "thread_id", "tenant_id", "user_id", "seq"),
)

attachments = Table(
    "attachments",
    metadata,
    Column("id", Text, primary_key=True),
    Column("thread_id", Text, ForeignKey("threads.id", ondelete="CASCADE"), nullable=True),
    Column("tenant_id", Text, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("data", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_attachments_thread", "thread_id"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("item_id", Text, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("thread_id", Text, ForeignKey("threads.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", Text, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("kind IN ('positive', 'negative')", name="ck_feedback_kind"),
    Index("ix_feedback_thread", "thread_id"),
)

#: One record per assistant turn (migration 0003), written by `docsdesk.insights.turns`.
TURN_OUTCOMES = ("answered", "not_covered", "error", "cancelled", "small_talk")  # 0019: small_talk
