"""YAML front matter: plain string values, anything else ignored, bounded in size."""

from __future__ import annotations

import time

from rag.front_matter import MAX_FRONT_MATTER_CHARS, parse_front_matter


def test_front_matter_parsing() -> None:
    meta, body = parse_front_matter(
        "---\ntitle: 'It''s'\ndescription: >\n  two\n  lines\nnested:\n  a: 1\n---\nBody"
    )
    assert meta == {"title": "It's", "description": "two lines"}  # nested values are dropped
    assert body == "Body"
    assert parse_front_matter("---\nno closing line\n") == ({}, "---\nno closing line\n")
    assert parse_front_matter("---\ndraft: true\nweight: 3\ndate: 2024-05-01\n---") == (
        {"draft": "true", "weight": "3", "date": "2024-05-01"},
        "",
    )


def test_front_matter_that_is_not_a_mapping_or_not_yaml_is_ignored() -> None:
    assert parse_front_matter("---\n- a\n- b\n---\nBody") == ({}, "Body")
    assert parse_front_matter("---\ntitle: [unclosed\n---\nBody") == ({}, "Body")
    assert parse_front_matter("---\n!!python/object:os.system ls\n---\nBody") == ({}, "Body")


def test_front_matter_is_bounded() -> None:
    huge = "---\n" + "key: [a, b]\n" * (MAX_FRONT_MATTER_CHARS // 12 + 10) + "---\nBody"
    assert parse_front_matter(huge) == ({}, huge)  # too long to be front matter: left as text
    started = time.perf_counter()
    fits = "---\n" + "key: [a, b]\n" * (MAX_FRONT_MATTER_CHARS // 12 - 10) + "title: T\n---\nBody"
    assert parse_front_matter(fits) == ({"title": "T"}, "Body")  # lists are dropped
    assert time.perf_counter() - started < 1.0
