"""Chunking throughput: MB/s of `chunk_document` over the shared documentation corpus.

Reads every page into memory first, then times only the chunking (best of several rounds, since
the machine is shared), and prints the figure with chunk counts and size statistics.
Target: well over 10 MB/s, so that ingestion as a whole can reach 2 MB/s. A second figure covers
HTML pages: the same corpus rendered to HTML with markdown-it-py (rendering is not timed).

    python bench/chunking.py [--corpus PATH] [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rag.chunking import chunk_document  # noqa: E402
from rag.sources import folder_page_url, media_type_of  # noqa: E402
from rag.urls import DOC_SUFFIXES  # noqa: E402

TARGET_MB_S = 10.0


def load(corpus: Path) -> list[tuple[str, str, str]]:
    """(source path, text, base URL) for every doc page under each folder of the corpus."""
    pages = []
    for folder in sorted(p for p in corpus.iterdir() if p.is_dir()):
        base = f"https://example.com/{folder.name}/"
        for file in sorted(folder.rglob("*")):
            if file.suffix.lower() in DOC_SUFFIXES:
                pages.append((file.relative_to(folder).as_posix(), file.read_text(encoding="utf-8"), base))
    return pages


def throughput(pages: list[tuple[str, str, str]], rounds: int) -> tuple[float, float, float, list]:
    """(best wall s, median wall s, best CPU s, chunks of the last round) for chunking all `pages`.

    CPU time is the steadier figure on a shared machine (time spent descheduled is not counted)."""
    timings, cpu = [], []
    chunks: list = []
    for _ in range(rounds):
        started, started_cpu = time.perf_counter(), time.process_time()
        chunks = [
            chunk
            for path, text, base in pages
            for chunk in chunk_document(
                text, media_type_of(path), folder_page_url(path, text, base, "mkdocs")
            )
        ]
        timings.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return min(timings), statistics.median(timings), min(cpu), chunks


def as_html(pages: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    from markdown_it import MarkdownIt

    render = MarkdownIt("commonmark").enable("table").render
    return [
        (path.rsplit(".", 1)[0] + ".html", f"<html><body><main>{render(text)}</main></body></html>", base)
        for path, text, base in pages
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    pages = load(args.corpus)
    if not pages:
        print(f"no documentation pages under {args.corpus}", file=sys.stderr)
        return 1
    size = sum(len(text.encode("utf-8")) for _, text, _ in pages)
    best, median, cpu, chunks = throughput(pages, args.rounds)
    tokens = [chunk.token_count for chunk in chunks]
    print(f"corpus: {len(pages)} pages, {size / 1e6:.2f} MB -> {len(chunks)} chunks")
    print(f"chunk tokens: min {min(tokens)}, median {statistics.median(tokens):.0f}, max {max(tokens)}")
    print(
        f"markdown chunking: best {size / best / 1e6:.1f} MB/s ({best * 1000:.1f} ms), "
        f"median {size / median / 1e6:.1f} MB/s, CPU time {size / cpu / 1e6:.1f} MB/s "
        f"(target > {TARGET_MB_S:.0f} MB/s)"
    )
    html_pages = as_html(pages)
    html_size = sum(len(text.encode("utf-8")) for _, text, _ in html_pages)
    best, median, cpu, chunks = throughput(html_pages, args.rounds)
    print(
        f"html chunking: {html_size / 1e6:.2f} MB -> {len(chunks)} chunks; best {html_size / best / 1e6:.1f} MB/s, "
        f"median {html_size / median / 1e6:.1f} MB/s, CPU time {html_size / cpu / 1e6:.1f} MB/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
