"""One stemmer for search and the offline answerer: `docsdesk.core.terms.stem` gives what
PostgreSQL's 'english' configuration gives the chunks and the queries."""

from __future__ import annotations

from sqlalchemy import text

from docsdesk.assistant.answer import question_terms, terms
from docsdesk.core.terms import question_text, stem

WORDS = [
    "retries", "retry", "retried", "retrying", "handling", "handle", "handled", "handles",
    "configuration", "configure", "configured", "streaming", "streams", "generously", "agents",
    "agent", "running", "runs", "embeddings", "embedding", "policies", "policy", "indexes",
    "indices", "caching", "cached", "timeouts", "authentication", "authenticating", "usable",
    "uses", "useful", "databases", "quickly", "installation", "installing", "gizmos", "argument",
    "arguments", "tokenizer", "tokenization", "Deploying", "UPGRADES", "ran", "dying", "skies",
]  # fmt: skip


async def test_stems_are_postgresql_english_stems(engine):
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT w, (ts_lexize('english_stem', lower(w)))[1] FROM unnest(CAST(:w AS text[])) AS w"),
            {"w": WORDS},
        )
        postgres = dict(rows.all())
    assert {word: stem(word) for word in WORDS} == postgres


def test_the_answerer_stems_like_search():
    # Its own light stemmer kept "configuration" apart from "configure" and "installation"
    # from "install", which search's stemmer joins; now the answerer joins them too.
    assert terms("configuration installation") == terms("configure install") == {"configur", "instal"}
    assert terms("Handling retries") == {"handl", "retri"} == terms("handles retried")
    assert question_terms("how are retries handled?") >= {"retri", "handl"}


def test_question_forms_are_not_the_topic():
    # "What does X mean" asks for a definition; "mean" is not what is asked about. Contractions
    # typed without their apostrophe are question words as their spelled-out forms are.
    assert question_text("what does chatkit mean by entities").split() == ["chatkit", "by", "entities"]
    assert question_text("whats the difference, it doesnt work").split() == [
        "the",
        "difference,",
        "it",
        "work",
    ]
    assert question_terms("what does chatkit mean by entities? whats that, it doesnt load") == {
        "chatkit",
        "entiti",
        "load",
    }
