"""Page-level evidence for a search (`rag.search`): the answer a reader wants is a page, and a
reader's words are often spread over a page's sections (one in the title, one in a heading,
one in the text of another section) rather than gathered in the one section that ranks first.

After the full-text and nearest lists are fused, the pages of the best chunks (at most
MAX_PAGES) are scored as whole pages, BM25-style: for each of the query's scored lexemes, the
number of the page's sections holding it is its term frequency (saturating, k1), weighed by
the lexeme's idf (the same as the full-text score's), with a length norm (b) over the page's
number of sections against the average of those pages, so a long overview page that mentions
everything does not win by size alone. A chunk's fused score becomes (score + PAGE_WEIGHT x its
page's score relative to the best page's) / (1 + PAGE_WEIGHT): still in [0, 1], a chunk still
outranks another on its own merit unless the pages' evidence differs.

When the query says the reader changed versions, the pages about versions among them gain
`rag.version_notes.VERSION_NOTES_BONUS` too; for any other query, their chunks count
`rag.version_notes.OTHER_QUESTIONS_FACTOR` times as much (release notes mention everything).

A section of those pages whose heading is the title of another page of the collection is a
signpost: an overview's short summary of a page that says more ("Redis" under "Strategies" on
the authentication overview, for the page "Redis"). Holding the page's key words in few
others, it often outranks the page itself; its score is multiplied by SIGNPOST_FACTOR, so the
page it points at comes first when that page matches too, and the signpost still counts when
nothing else does. (Below the page title only: a page's own title section is no signpost.)

One statement over the chunks of those pages only (by collection and page, indexed), whatever
the size of the collection.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from rag.ranking import FullTextPlan
from rag.version_notes import VERSION_NOTES_BONUS, VERSIONED_HEADING, for_other_questions, versioned

PAGE_WEIGHT = 0.3  # a page's evidence, relative to the best page's, added to its chunks' fused score
MAX_PAGES = 10  # the pages of the best chunks that are scored as pages
K1 = 1.2  # BM25 term-frequency saturation (sections holding the lexeme)
B = 0.75  # BM25 length normalisation (the page's sections against the average of the pages)
SIGNPOST_FACTOR = 0.7  # a section headed with another page's title yields to that page
SIGNPOST_CHECKED = 20  # the best chunks checked for being signposts (the top of the list)


def page_evidence_sql(terms: int, *, signposts: bool = False) -> str:
    """Per page of the chunks `:ids` (the best chunk of each page): its number of sections,
    for each of `terms` scored lexemes (`:term0`...) how many of its sections hold it, how
    many of its sections' headings name a version (`versioned`, `rag.version_notes`); with
    `signposts`, which of the chunks `:checked` are its
    signpost sections (`signposts`: headed with the title of another page of the collection,
    found by migration 0016's index; else NULL).

    Each section's lexemes are read once (`strip`, in a subquery kept apart by OFFSET 0): the
    stored tsvector is compressed, and testing it once per term would decompress it each time."""
    counts = "".join(
        f", count(*) FILTER (WHERE s.lexemes @@ CAST(:term{i} AS tsquery)) AS t{i}" for i in range(terms)
    )
    version = f"count(*) FILTER (WHERE s.heading_text ~* '{VERSIONED_HEADING}')"
    signpost = (
        """CASE WHEN c.id = ANY(:checked) AND cardinality(c.heading_path) > 1 THEN EXISTS (
                       SELECT 1 FROM docs_documents d
                       WHERE d.collection = c.collection
                         AND lower(d.title) = lower(c.heading_path[cardinality(c.heading_path)])
                         AND d.page_url <> c.page_url
                   ) ELSE false END"""
        if signposts
        else "false"
    )
    return f"""
        SELECT s.page_url, count(*) AS sections{counts}, {version} AS versioned,
               array_agg(s.id) FILTER (WHERE s.signpost) AS signposts
        FROM (
            SELECT c.id, c.page_url, c.heading_text, strip(c.tsv) AS lexemes, {signpost} AS signpost
            FROM docs_chunks c
            JOIN (SELECT DISTINCT collection, page_url FROM docs_chunks WHERE id = ANY(:ids)) AS p
              ON p.collection = c.collection AND p.page_url = c.page_url
            OFFSET 0
        ) AS s
        GROUP BY s.page_url
    """


def page_scores(rows: Sequence[Any], idf: Sequence[float]) -> dict[str, float]:
    """BM25-style page scores from `page_evidence_sql` rows: (page_url, sections, t0, t1, ...)."""
    if not rows:
        return {}
    average = sum(row[1] for row in rows) / len(rows)
    scores: dict[str, float] = {}
    for page_url, sections, *counts in rows:
        held = counts[: len(idf)]  # the versioned sections and the signposts follow
        norm = K1 * (1 - B + B * sections / average)
        scores[page_url] = sum(w * tf * (K1 + 1) / (tf + norm) for w, tf in zip(idf, held, strict=True) if tf)
    return scores


def best_pages(scores: dict[int, float], pages: dict[int, str], limit: int = MAX_PAGES) -> dict[str, int]:
    """The `limit` pages of the best-scored chunks: page URL -> its best chunk."""
    best: dict[str, int] = {}
    for chunk_id in sorted(scores, key=lambda cid: (-scores[cid], pages[cid], cid)):
        best.setdefault(pages[chunk_id], chunk_id)
        if len(best) >= limit:
            break
    return best


def with_page_scores(
    scores: dict[int, float],
    pages: dict[int, str],
    page_score: dict[str, float],
    weight: float = PAGE_WEIGHT,
    favoured: Collection[str] = (),
) -> dict[int, float]:
    """`scores` with each chunk's page evidence (relative to the best page's) added, and
    VERSION_NOTES_BONUS for the `favoured` pages' chunks, rescaled to [0, 1]; unchanged when
    no page has any evidence and none is favoured."""
    top = max(page_score.values(), default=0.0)
    bonus = VERSION_NOTES_BONUS if favoured else 0.0
    if top <= 0 and not bonus:
        return scores

    def evidence(page: str) -> float:
        relative = page_score.get(page, 0.0) / top if top > 0 else 0.0
        return weight * relative + (bonus if page in favoured else 0.0)

    return {cid: (s + evidence(pages[cid])) / (1 + weight + bonus) for cid, s in scores.items()}


def signposted(
    scores: dict[int, float], rows: Sequence[Any], factor: float = SIGNPOST_FACTOR
) -> dict[int, float]:
    """`scores` with the signpost sections' (`page_evidence_sql`'s `signposts`) multiplied by `factor`."""
    signposts = {cid for row in rows for cid in row.signposts or ()}
    return {cid: s * factor if cid in signposts else s for cid, s in scores.items()}


def version_notes(rows: Sequence[Any]) -> set[str]:
    """The pages about versions among `page_evidence_sql` rows (`rag.version_notes`)."""
    return {row.page_url for row in rows if versioned(row.sections, row.versioned)}


async def add_page_evidence(
    conn: AsyncConnection, scores: dict[int, float], pages: dict[int, str], plan: FullTextPlan
) -> dict[int, float]:
    """`scores` (fused chunk scores) with the evidence of the best chunks' pages added (and,
    for a question about a version change, the bonus of the pages about versions)."""
    if not plan.terms or not scores:
        return scores
    best = best_pages(scores, pages)
    checked = sorted(scores, key=lambda cid: (-scores[cid], pages[cid], cid))[:SIGNPOST_CHECKED]
    values = {
        "ids": list(best.values()),
        "checked": checked,
        **{f"term{i}": t for i, t in enumerate(plan.terms)},
    }
    sql = page_evidence_sql(len(plan.terms), signposts=True)
    rows = (await conn.execute(text(sql), values)).all()
    about_versions = version_notes(rows)
    favoured = about_versions if plan.version_change else set()
    scores = with_page_scores(scores, pages, page_scores(rows, plan.idf), PAGE_WEIGHT, favoured)
    if not plan.version_change:
        scores = for_other_questions(scores, pages, about_versions)
    return signposted(scores, rows, SIGNPOST_FACTOR)
