"""Run by `pdf_extract.py` as a child process: extract a PDF's text under hard limits.

Started as `python -I pdf_child.py LIMIT MAX_PAGES CPU_SECONDS MEMORY_BYTES` with the PDF
on stdin; prints one JSON object on stdout: {"text", "pages", "truncated"} or {"error"}.
It limits itself before reading anything: CPU time (SIGXCPU kills it), address space
(a MemoryError or a kill), and a lower scheduling priority so readers' requests come first.
It imports nothing of docsdesk, only pypdf.
"""

from __future__ import annotations

import io
import json
import os
import resource
import sys


def limit_self(cpu_seconds: int, memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.nice(19)


def extract(data: bytes, limit: int, max_pages: int) -> dict:
    """The text of the first pages up to `limit` chars, the page count, whether truncated."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        reader.decrypt("")
    pages = len(reader.pages)
    parts: list[str] = []
    total = 0
    for number, page in enumerate(reader.pages):
        if number >= max_pages or total > limit:
            break
        text = (page.extract_text() or "").strip()
        parts.append(text)
        total += len(text) + 2
    text = "\n\n".join(part for part in parts if part)
    truncated = len(text) > limit or len(parts) < pages
    return {"text": text[:limit], "pages": pages, "truncated": truncated}


def main(argv: list[str]) -> int:
    limit, max_pages, cpu_seconds, memory_bytes = (int(value) for value in argv[1:5])
    limit_self(cpu_seconds, memory_bytes)
    data = sys.stdin.buffer.read()
    try:
        result = extract(data, limit, max_pages)
    except MemoryError:
        result = {"error": "MemoryError"}
    except Exception as exc:  # noqa: BLE001 - pypdf raises many types on broken files
        result = {"error": type(exc).__name__}
    sys.stdout.write(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
