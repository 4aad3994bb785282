"""Alembic versions of the documentation-search tables (declared in `rag.schema`)."""
