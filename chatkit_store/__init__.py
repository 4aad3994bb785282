"""The PostgreSQL-backed ChatKit store."""

from chatkit_store.store import MAX_PAGE_LIMIT, PostgresStore

__all__ = ["MAX_PAGE_LIMIT", "PostgresStore"]
