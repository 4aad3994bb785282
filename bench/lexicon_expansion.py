"""Query expansion from a meaning model's nearest words in the collection's own lexicon: does it
raise search's recall? (It did not with the shipped static model; docs/search.md has the figures.)

For each collection, the lexicon is the words of its chunks (title, headings, text), one word
per Snowball stem (its commonest spelling), with the number of chunks holding the stem; each
word is embedded once with the static model (`--model`). A query word the collection uses in at
most R chunks (`rare`) gets the N lexicon words nearest to it (cosine at least T, not a stem of
the query) as further terms, exactly as the reader-terms thesaurus adds its terms (half a query
word's weight, at most eight a query). Nothing of this is in docsdesk: the search is
`rag.search.DocsSearch` with its scope's vocabulary wrapped here.

A variant `co:S:M:N` adds instead, for each query word in 2 to 20% of the chunks, the N words
sharing most chunks with it (in at least 3 chunks and a quarter of the word's; score: the share
of the word's chunks holding it x its idf, at least S), the M best of the query's; `hd:S:M:N`
the same among the words of the collection's titles and headings only.

`--pairs` prints the model's similarity of reader phrases and the documentation's word for
them (and, with `--onnx`, the transformer's, if `onnx` embeddings are installed).

    python bench/lexicon_expansion.py --sets dev,dev-reader,dev4-reader,dev6-reader \
        --variants 0.6:0:2,0.5:0:2,0.6:3:2 [--only fts|hybrid] [--pairs [--onnx]]

Held-out sets (`heldout*`) are refused.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import math
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine  # noqa: E402

from bench._doc_sets import CORPUS, QUESTIONS, all_doc_sets, ingest_doc_sets  # noqa: E402
from docsdesk.core.database import open_database  # noqa: E402
from docsdesk.core.settings import Settings  # noqa: E402
from docsdesk.core.terms import question_text, stem  # noqa: E402
from rag.embeddings import DEFAULT_STATIC_MODEL, build_embedder  # noqa: E402
from rag.evaluate import Report, evaluate, load_questions  # noqa: E402
from rag.local_embedders import _load_static, static_model_dir  # noqa: E402
from rag.reader_vocabulary import Vocabularies  # noqa: E402
from rag.search import DocsSearch  # noqa: E402
from rag.thesaurus import MAX_EXPANSIONS  # noqa: E402

PAIRS = [  # (the reader's words, the documentation's word): misses of the dev sets
    ("time limit", "timeout"),
    ("input check", "guardrail"),
    ("safety check", "guardrail"),
    ("card", "widget"),
    ("endpoints", "routers"),
    ("kick", "revoke"),
    ("bot", "agent"),
    ("dropdown", "menu"),
    ("picture", "visualization"),
    ("time limit", "limit"),
    ("card", "cards"),
]
_WORD = re.compile(r"[a-z][a-z0-9]+")
# The query's small words (PostgreSQL's stop words drop them from the query anyway).
_SMALL = frozenset(
    [
        "a",
        "an",
        "the",
        "to",
        "of",
        "in",
        "on",
        "for",
        "and",
        "or",
        "is",
        "are",
        "be",
        "it",
        "i",
        "my",
        "me",
        "we",
        "our",
        "you",
        "your",
        "how",
        "do",
        "does",
        "can",
        "with",
        "without",
        "that",
        "this",
        "what",
        "which",
        "when",
        "while",
        "so",
        "but",
        "not",
        "no",
        "at",
        "as",
        "by",
        "from",
        "into",
        "up",
        "out",
        "if",
        "then",
        "there",
        "their",
        "they",
        "them",
        "its",
        "was",
        "were",
        "has",
        "have",
        "had",
        "just",
        "still",
        "only",
        "even",
        "any",
        "some",
        "all",
        "one",
        "same",
        "own",
        "each",
        "new",
        "get",
        "set",
        "use",
        "make",
        "very",
        "too",
        "also",
        "than",
    ]
)


@dataclass(frozen=True)
class Variant:
    similarity: float  # T: the least cosine of an added word (co-occurrence: the least score)
    rare: int  # R: a query word in at most this many chunks is expanded (co-occurrence: M, words a query)
    per_word: int  # N: lexicon words added per query word
    cooccurring: bool = False  # words that share chunks with the query word, not nearest vectors
    headings: bool = False  # co-occurring words of the titles and headings only

    @classmethod
    def parse(cls, spec: str) -> Variant:
        kind, _, rest = spec.partition(":") if spec[:3] in ("co:", "hd:") else ("", "", spec)
        t, r, n = rest.split(":")
        return cls(float(t), int(r), int(n), bool(kind), kind == "hd")


class Lexicon:
    """A scope's words, their chunk counts (by stem) and their static vectors."""

    def __init__(self, texts: list[str], model: Any, headings: list[str] | None = None) -> None:
        self.headings = {stem(w) for h in headings or [] for w in _WORD.findall(h.lower())}
        spellings: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        self.chunks: collections.Counter[str] = collections.Counter()
        self.sets: list[set[str]] = []
        for chunk in texts:
            words = _WORD.findall(chunk.lower())
            for word in words:
                spellings[stem(word)][word] += 1
            self.chunks.update({stem(w) for w in words})
            self.sets.append({stem(w) for w in words if w not in _SMALL and len(w) > 2})
        self.stems = sorted(s for s in spellings if len(s) > 2)
        self.words = [spellings[s].most_common(1)[0][0] for s in self.stems]
        self.model = model
        self.vectors = model.encode(self.words, normalize=True, use_multiprocessing=False)

    def associated(self, words: list[str], variant: Variant) -> tuple[str, ...]:
        """The words sharing most chunks with each query word (confidence x idf), best first."""
        held = {stem(w) for w in words}
        total = len(self.sets)
        scored: dict[str, float] = {}
        for q in held:
            df = self.chunks.get(q, 0)
            if df < 2 or df > total / 5:
                continue
            together = collections.Counter(t for chunk in self.sets if q in chunk for t in chunk)
            best = sorted(
                (
                    (c / df * math.log(total / self.chunks[t]), t)
                    for t, c in together.items()
                    if c >= 3
                    and c >= df / 4
                    and t not in held
                    and (not variant.headings or t in self.headings)
                ),
                reverse=True,
            )[: variant.per_word]
            for score, t in best:
                if score >= variant.similarity:
                    scored[t] = max(scored.get(t, 0.0), score)
        index = {s: i for i, s in enumerate(self.stems)}
        top = sorted(scored, key=lambda t: -scored[t])[: variant.rare]
        return tuple(self.words[index[t]] for t in top if t in index)

    def expansion(self, query: str, variant: Variant) -> tuple[str, ...]:
        words = [w for w in _WORD.findall(question_text(query).lower()) if w not in _SMALL]
        if variant.cooccurring:
            return self.associated(words, variant)
        held = {stem(w) for w in words}
        probes = [w for w in dict.fromkeys(words) if self.chunks.get(stem(w), 0) <= variant.rare]
        if not probes:
            return ()
        found: list[str] = []
        similarities = self.model.encode(probes, normalize=True, use_multiprocessing=False) @ self.vectors.T
        for row in similarities:
            added = 0
            for i in np.argsort(-row)[: variant.per_word + 8]:
                if row[i] < variant.similarity or added >= variant.per_word:
                    break
                if self.stems[i] not in held and self.words[i] not in found:
                    found.append(self.words[i])
                    added += 1
        return tuple(found)


class ExpandingVocabularies(Vocabularies):
    """The scope's vocabulary, its expansion followed by the lexicon's nearest words."""

    def __init__(self, lexicons: dict[tuple[str, ...] | None, Lexicon], variant: Variant) -> None:
        super().__init__()
        self.lexicons = lexicons
        self.variant = variant

    async def rows_with(self, conn: AsyncConnection, query: Any, run: Any) -> Any:
        lexicon = self.lexicons[query.collections]
        extra = lexicon.expansion(query.positive, self.variant)

        async def with_lexicon(terms: tuple[str, ...]) -> Any:
            return await run((*terms, *(w for w in extra if w not in terms))[: 2 * MAX_EXPANSIONS])

        return await super().rows_with(conn, query, with_lexicon)


async def lexicons_of(engine: AsyncEngine, prefix: str, names: list[str]) -> dict[Any, Lexicon]:
    model = _load_static(str(static_model_dir(DEFAULT_STATIC_MODEL)))
    found: dict[Any, Lexicon] = {}
    async with engine.connect() as conn:
        for name in names:
            rows = await conn.execute(
                text("SELECT page_title, heading_path, text FROM docs_chunks WHERE collection = :c"),
                {"c": prefix + name},
            )
            rows = rows.all()
            texts = [f"{r.page_title} {' '.join(r.heading_path)} {r.text}" for r in rows]
            headings = [f"{r.page_title} {' '.join(r.heading_path)}" for r in rows]
            found[(prefix + name,)] = Lexicon(texts, model, headings)
    return found


async def run_config(engine: AsyncEngine, name: str, args: argparse.Namespace, settings: Settings) -> None:
    embedder = build_embedder(f"model2vec:{DEFAULT_STATIC_MODEL}", settings) if name == "hybrid" else None
    prefix = f"lexicon-{name}-"
    await ingest_doc_sets(engine, prefix, embedder, args.corpus)
    lexicons = await lexicons_of(engine, prefix, list(all_doc_sets(args.corpus)))
    for spec in ["none", *args.variants.split(",")]:
        search = DocsSearch(engine, embedder)
        if spec != "none":
            search.vocabularies = ExpandingVocabularies(lexicons, Variant.parse(spec))
        for set_name in args.sets.split(","):
            report = Report()
            for collection in all_doc_sets(args.corpus):
                path = QUESTIONS / f"{set_name}-{collection}.tsv"
                if path.exists():
                    part = await evaluate(search, load_questions(path), prefix + collection)
                    report.outcomes.extend(part.outcomes)
            print(
                f"{name:<7} {spec:<10} {set_name:<12} {len(report.outcomes):>4} "
                f"{report.recall_at_1:.3f} / {report.recall_at_k:.3f} / {report.mrr:.3f}",
                flush=True,
            )


def print_pairs(onnx: bool) -> None:
    model = _load_static(str(static_model_dir(DEFAULT_STATIC_MODEL)))
    encoders = {"static": lambda texts: model.encode(texts, normalize=True, use_multiprocessing=False)}
    if onnx:
        from rag.local_embedders import _onnx_encode

        encoders["onnx"] = lambda texts: np.array(_onnx_encode("all-MiniLM-L6-v2", texts))
    print("reader words | docs word | " + " | ".join(encoders))
    for reader, docs in PAIRS:
        sims = [float(encode([reader])[0] @ encode([docs])[0]) for encode in encoders.values()]
        print(f"{reader} | {docs} | " + " | ".join(f"{s:.2f}" for s in sims))


async def main(args: argparse.Namespace) -> None:
    if any(s.startswith("heldout") for s in args.sets.split(",")):
        raise SystemExit("held-out sets are never run here")
    if args.pairs:
        print_pairs(args.onnx)
        return
    with tempfile.TemporaryDirectory(prefix="docsdesk-lexicon-") as data_dir:
        settings = Settings(_env_file=None, data_dir=Path(data_dir))
        database = await open_database(settings)
        try:
            for name in ["fts", "hybrid"] if args.only is None else [args.only]:
                await run_config(database.engine, name, args, settings)
        finally:
            await database.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="dev,dev-reader,dev4-reader,dev6-reader")
    parser.add_argument("--variants", default="0.6:0:2,0.5:0:2,0.7:0:2,0.6:3:2,0.5:3:3")
    parser.add_argument("--only", choices=["fts", "hybrid"])
    parser.add_argument("--pairs", action="store_true", help="print the pairs' similarities and stop")
    parser.add_argument("--onnx", action="store_true", help="with --pairs: the transformer's too")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
