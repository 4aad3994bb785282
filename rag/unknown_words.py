"""The words of a query that no chunk in its scope holds: what the documentation never
mentions (`DocsSearch.unknown_words`, which also leaves out the words of the scope's own
reader phrases)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from docsdesk.core.terms import question_text

if TYPE_CHECKING:
    from rag.search import SearchQuery

MAX_UNKNOWN_WORDS = 32  # words of a query checked against the documentation's vocabulary
_WORD = re.compile(r"[^\W_][\w.@'’-]*[^\W_]|[^\W_]")  # an e-mail address is one word


async def words_no_chunk_holds(conn: AsyncConnection, scoped: SearchQuery, query: str) -> list[str]:
    """The words of `query` (question and stop words aside) that no chunk in the scope of
    `scoped` holds, in the query's order."""
    words = list(dict.fromkeys(_WORD.findall(question_text(query))))[:MAX_UNKNOWN_WORDS]
    if not words:
        return []
    statement = scoped.statement(f"""
        SELECT w.word FROM unnest(CAST(:words AS text[])) WITH ORDINALITY AS w(word, n)
        CROSS JOIN LATERAL (SELECT tsvector_to_array(to_tsvector('english', w.word)) AS lexemes) AS t
        WHERE cardinality(t.lexemes) > 0 AND coalesce((
            SELECT sum(l.chunks) FROM docs_lexemes l
            WHERE l.lexeme = ANY(t.lexemes) {scoped.scope("l.collection")}
        ), 0) <= 0 ORDER BY w.n
    """)
    rows = await conn.execute(statement, {"words": words, **scoped.binds})
    return [row.word for row in rows]
