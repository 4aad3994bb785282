"""HTML pages into sections: the <article> (else <main>) wins, permalinks give headings their
anchors, code keeps its language and line breaks, lists are numbered, tables read as rows."""

from __future__ import annotations

from rag.html_page import parse_html


def units(page, index: int) -> list[tuple[str, bool]]:
    return [(unit.text, unit.code) for unit in page.sections[index].units]


def test_article_headings_permalinks_lists_tables_and_code() -> None:
    page = parse_html(
        "<html><head><title> The  Guide </title></head><body>"
        "<nav>Home Docs</nav><header>Site header</header>"
        "<article>"
        "<h1>Guide</h1><p>Intro <code>cfg</code> text.</p>"
        "<h2>Steps<a class='headerlink' href='#steps-1'>¶</a></h2>"
        "<ol start='3'><li><p>first</p></li><li>second</li></ol>"
        "<pre><code class='language-py'>a = 1<br>b = 2</code></pre>"
        "<table><tr><th>k</th><td>v</td></tr><tr><td>x</td><td>y</td></tr></table>"
        "<dl><dt>term</dt><dd>meaning</dd></dl>"
        "</article>"
        "<footer><p>outside the article</p></footer></body></html>"
    )
    assert page.html_title == "The Guide"
    assert [(s.level, s.title, s.explicit_id) for s in page.sections] == [
        (0, "", None),
        (1, "Guide", None),
        (2, "Steps", "steps-1"),
    ]
    assert units(page, 1) == [("Intro `cfg` text.", False)]
    text = "\n".join(unit.text for unit in page.sections[2].units)
    assert "3. first\n4. second" in text
    assert "```py\na = 1\nb = 2\n```" in text
    assert "| k | v |\n| x | y |" in text
    assert "- term" not in text and "term\nmeaning" in text
    assert "Home" not in text and "outside" not in text and "Site header" not in text


def test_main_is_read_when_there_is_no_article_and_ids_stay_real() -> None:
    page = parse_html(
        "<body><p>chrome</p><main><h2 id='real-id'>Title <code>x</code></h2>"
        "<ul><li>a</li><li>b</li></ul><script>alert(1)</script></main></body>"
    )
    assert [(s.title, s.explicit_id, s.heading) for s in page.sections[1:]] == [
        ("Title x", "real-id", "## Title `x`")
    ]
    assert units(page, 1) == [("- a\n- b", False)]
    assert "chrome" not in str(page.sections) and "alert" not in str(page.sections)


def test_unclosed_tails_and_raw_text_elements_stay_out_of_the_text() -> None:
    page = parse_html("<p>kept</p><script>never closed" + "</" * 50)
    assert units(page, 0) == [("kept", False)]
    page = parse_html("<p>before</p><!-- open comment <p>hidden</p>")
    assert units(page, 0) == [("before", False)]
