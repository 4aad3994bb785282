"""PostgreSQL store for the ChatKit SDK: threads, items, attachments, feedback.

`PostgresStore` is imported on first use, so the migrations (which live in this package) can be
loaded without importing the ChatKit SDK."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatkit_store.store import MAX_PAGE_LIMIT, PostgresStore

__all__ = ["MAX_PAGE_LIMIT", "PostgresStore"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from chatkit_store import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
