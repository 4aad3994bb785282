"""The documentation-search tables (created by migration 0002, `identifiers` by 0005) and the vector DDL done at run time.

Embeddings live in `docs_embeddings` (only when pgvector is installed) in a `vector` column
without a fixed dimension; each dimension in use gets its own partial HNSW index on an
expression cast to that dimension, created on demand by `ensure_vector_index`. Queries must
repeat the exact expression and predicate (`vector_expr`, `WHERE dims = N`) to use it.
"""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    Table,
    Text,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from docsdesk.core.locks import xact_lock

metadata = MetaData()

collections = Table(
    "docs_collections",
    metadata,
    Column("name", Text, primary_key=True),
    Column("embedder", Text),
    Column("dimensions", Integer),
)

documents = Table(
    "docs_documents",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("collection", Text, nullable=False),
    Column("root", Text, nullable=False),
    Column("source_path", Text, nullable=False),
    Column("page_url", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("content_hash", Text, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("chunk_count", Integer, nullable=False),
    Column("embedder", Text),
    Column("updated_at", DateTime(timezone=True)),
)

chunks = Table(
    "docs_chunks",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("document_id", BigInteger, nullable=False),
    Column("collection", Text, nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("url", Text, nullable=False),
    Column("page_url", Text, nullable=False),
    Column("page_title", Text, nullable=False),
    Column("heading_path", ARRAY(Text), nullable=False),
    Column("heading_text", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("identifiers", Text, nullable=False, server_default=""),  # docsdesk.core.terms.identifier_terms
    Column("token_count", Integer, nullable=False),
    Column("content_hash", Text, nullable=False),
)

# pgvector's HNSW indexes `vector` up to 2,000 dimensions and `halfvec` up to 4,000.
MAX_VECTOR_INDEX_DIMS = 2000
MAX_HALFVEC_INDEX_DIMS = 4000


def vector_expr(dims: int) -> tuple[str, str]:
    """(expression, operator class) indexing and querying vectors of `dims` dimensions."""
    dims = int(dims)
    if dims <= MAX_VECTOR_INDEX_DIMS:
        return f"(embedding::vector({dims}))", "vector_cosine_ops"
    return f"(embedding::halfvec({dims}))", "halfvec_cosine_ops"


def query_cast(dims: int) -> str:
    """The SQL type a query vector is cast to so it compares with `vector_expr(dims)`."""
    dims = int(dims)
    return f"vector({dims})" if dims <= MAX_VECTOR_INDEX_DIMS else f"halfvec({dims})"


def vector_literal(values: list[float]) -> str:
    """pgvector's text form of a vector, bound as text and cast in SQL (so it does not
    depend on a vector codec being registered on the connection, or not)."""
    return "[" + ",".join(repr(float(v)) for v in values) + "]"


# The one declaration of the embeddings table: migration 0002 creates it when pgvector is there,
# `ensure_vector_schema` when the extension arrives later.
EMBEDDINGS_TABLE = """
    CREATE TABLE IF NOT EXISTS docs_embeddings (
        chunk_id   bigint PRIMARY KEY REFERENCES docs_chunks (id) ON DELETE CASCADE,
        collection text NOT NULL,
        dims       integer NOT NULL,
        embedding  vector NOT NULL,
        CHECK (vector_dims(embedding) = dims)
    )
"""


async def vector_installed(conn: AsyncConnection) -> bool:
    """Whether pgvector is installed in this database (and so the embeddings table may exist)."""
    return bool(
        await conn.scalar(text("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector')"))
    )


async def ensure_vector_schema(conn: AsyncConnection) -> bool:
    """Create the embeddings table if pgvector is installed and the table is missing (the
    extension was added after migration 0002). Returns whether vectors can be stored."""
    if not await vector_installed(conn):
        return False
    await conn.execute(text(EMBEDDINGS_TABLE))
    return True


async def ensure_vector_index(conn: AsyncConnection, dims: int) -> None:
    """Create the partial HNSW (cosine) index for vectors of `dims` dimensions if missing."""
    dims = int(dims)
    if dims > MAX_HALFVEC_INDEX_DIMS:
        return  # pgvector cannot index this many dimensions; searches scan exactly
    expr, opclass = vector_expr(dims)
    # Two ingests creating the same index at once would collide on its name.
    await xact_lock(conn, "docsdesk.vector_index")
    await conn.execute(
        text(
            f"CREATE INDEX IF NOT EXISTS docs_embeddings_hnsw_{dims} ON docs_embeddings "
            f"USING hnsw ({expr} {opclass}) WHERE dims = {dims}"
        )
    )


async def compact_lexeme_counts(conn: AsyncConnection, collection: str) -> None:
    """Fold the change rows of `collection` in `docs_lexemes` (migration 0006) into one row per
    lexeme, dropping those that sum to nothing. Rows other transactions append meanwhile are
    not among those deleted and keep counting, so this needs no lock."""
    await conn.execute(
        text(
            "WITH gone AS (DELETE FROM docs_lexemes WHERE collection = :c RETURNING lexeme, chunks)"
            " INSERT INTO docs_lexemes (collection, lexeme, chunks)"
            " SELECT :c, lexeme, sum(chunks) FROM gone GROUP BY lexeme HAVING sum(chunks) <> 0"
        ),
        {"c": collection},
    )
