"""The Markdown block scanner, and the public names callers import from rag.markdown."""

from __future__ import annotations

import rag.markdown
from rag import front_matter, html_page, inline, parsed_page
from rag.markdown import parse_markdown


def test_public_names_stay_importable_from_rag_markdown() -> None:
    assert rag.markdown.parse_front_matter is front_matter.parse_front_matter
    assert rag.markdown.MAX_FRONT_MATTER_CHARS == front_matter.MAX_FRONT_MATTER_CHARS
    assert rag.markdown.parse_html is html_page.parse_html
    assert rag.markdown.clean_inline is inline.clean_inline
    assert rag.markdown.plain_heading is inline.plain_heading
    assert rag.markdown.ParsedPage is parsed_page.ParsedPage
    assert set(rag.markdown.__all__) <= set(dir(rag.markdown))


def test_sections_units_and_containers() -> None:
    page = parse_markdown(
        "---\ntitle: T\n---\nLead.\n\n# One {#first}\n\nText *em*.\n\n"
        '```py title="x.py"\nprint(1)\n```\n\n!!! note "Careful"\n    Inside.\n\n## Two\n\n- a\n- b\n'
    )
    assert page.front_matter == {"title": "T"}
    assert [(s.level, s.title, s.explicit_id) for s in page.sections] == [
        (0, "", None),
        (1, "One", "first"),
        (2, "Two", None),
    ]
    assert page.sections[0].units[0].text == "Lead."
    one = page.sections[1].units
    assert one[0].text == "Text *em*." or one[0].text == "Text em."
    assert any(unit.code and "print(1)" in unit.text for unit in one)
    assert any("Careful" in unit.text and "Inside." in unit.text for unit in one)
