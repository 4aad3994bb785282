"""Docs pages -> clean chunks: headings and anchors, code fences, docs-site syntax, HTML, sizes."""

from __future__ import annotations

import re

import pytest

from rag.chunking import Chunk, chunk_document, token_count
from rag.sources import folder_page_url, media_type_of

BASE = "https://docs.example.com/"


def words(count: int, seed: str = "word") -> str:
    """A paragraph of about `count` * 2 tokens."""
    return " ".join(f"{seed}{i}" for i in range(count)) + "."


def from_file(
    path: str, raw: str, *, base_url: str = BASE, url_style: str = "mkdocs", **options
) -> list[Chunk]:
    """Chunks of `raw` as a folder source gives the file `path`: media type and URL from it."""
    url = folder_page_url(path, raw, base_url, url_style)
    return chunk_document(raw, media_type_of(path), url, anchor_style=url_style, **options)


def chunks_of(raw: str, path: str = "guide/page.md", **options) -> list[Chunk]:
    return from_file(path, raw, **options)


def one_text(raw: str, path: str = "guide/page.md") -> str:
    """All chunk text of a small page (fits one chunk at the default sizes)."""
    chunks = chunks_of(raw, path)
    assert len(chunks) == 1, [c.text for c in chunks]
    return chunks[0].text


# --------------------------------------------------------------------------- headings & anchors


def test_heading_hierarchy_paths_and_anchors() -> None:
    raw = "\n\n".join(
        [
            words(40, "lead"),
            "# Guide",
            words(40, "intro"),
            "## Install",
            words(40, "install"),
            "### From source",
            words(40, "source"),
            "## Install",  # duplicate heading
            words(40, "again"),
            "## Custom {#my-anchor}",
            words(40, "custom"),
        ]
    )
    chunks = chunks_of(raw, target_tokens=60, max_tokens=120)
    got = [(c.heading_path, c.url) for c in chunks]
    page = BASE + "guide/page/"
    assert got == [
        ((), page),
        (("Guide",), page + "#guide"),
        (("Guide", "Install"), page + "#install"),
        (("Guide", "Install", "From source"), page + "#from-source"),
        (("Guide", "Install"), page + "#install_1"),
        (("Guide", "Custom"), page + "#my-anchor"),
    ]
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert all(c.page_url == page and c.page_title == "Guide" for c in chunks)
    assert chunks[0].text == words(40, "lead")
    assert chunks[3].text.startswith("### From source\n\nsource0 ")
    assert "{#my-anchor}" not in chunks[5].text and chunks[5].text.startswith("## Custom\n")


def test_docusaurus_duplicate_anchors_and_explicit_ids() -> None:
    body = words(40)
    raw = f"# T\n\n{body}\n\n## Setup\n\n{body}\n\n## Setup\n\n{body}\n\n## Other {{#setup-2}}\n\n{body}"
    chunks = from_file("a/b.mdx", raw, base_url=BASE, url_style="docusaurus", target_tokens=60, max_tokens=99)
    assert [c.url.rsplit("#", 1)[1] for c in chunks] == ["t", "setup", "setup-1", "setup-2"]
    assert chunks[0].page_url == BASE + "a/b"


def test_setext_headings() -> None:
    raw = "Main Title\n==========\n\n" + words(40) + "\n\nSub part\n--------\n\n" + words(40)
    chunks = chunks_of(raw, target_tokens=60, max_tokens=120)
    assert [c.heading_path for c in chunks] == [("Main Title",), ("Main Title", "Sub part")]
    assert chunks[1].url.endswith("#sub-part")
    assert chunks[0].page_title == "Main Title"
    assert chunks[1].text.startswith("## Sub part\n")


def test_horizontal_rule_after_a_list_is_not_a_setext_heading() -> None:
    text = one_text("# T\n\n- item one\n---\n\nAfter the rule.")
    assert text == "# T\n\n- item one\n\nAfter the rule."


def test_heading_markup_is_plain_in_paths_and_anchors() -> None:
    [chunk] = chunks_of("# T\n\n## Advanced: `ToolContext` and [links](x.md)\n\nBody.\n")
    # A title with no text of its own leads its first section's chunk, which cites that section.
    assert chunk.heading_path == ("T", "Advanced: ToolContext and links")
    assert chunk.text.startswith("# T\n\n## Advanced: `ToolContext` and links\n")
    raw = "# T\n\n" + words(40) + "\n\n## Advanced: `ToolContext` and [links](x.md)\n\n" + words(40)
    last = chunks_of(raw, target_tokens=60, max_tokens=120)[-1]
    assert last.heading_path == ("T", "Advanced: ToolContext and links")
    assert last.url.endswith("#advanced-toolcontext-and-links")
    assert last.text.startswith("## Advanced: `ToolContext` and links\n")


# --------------------------------------------------------------------------- code fences


def test_code_fences_are_intact_and_hide_headings() -> None:
    code = 'def f():\n    # Not a heading\n    return "## nor this"\n\n\n    # blank lines kept'
    raw = f"# T\n\nIntro.\n\n```python\n{code}\n```\n\n## Real\n\nBody.\n"
    chunks = chunks_of(raw)
    assert [c.heading_path for c in chunks] == [("T",), ("T", "Real")]
    assert f"```python\n{code}\n```" in chunks[0].text
    raw_two = raw.replace("Intro.", words(40)).replace("Body.", words(40))
    paths = [c.heading_path for c in chunks_of(raw_two, target_tokens=60, max_tokens=120)]
    assert ("T", "Not a heading") not in paths and ("T", "Real") in paths


def test_tilde_and_longer_fences_nest() -> None:
    inner = "```python\nprint(1)\n```"
    text = one_text(f"# T\n\n````markdown\n{inner}\n# still code\n````\n\n~~~\n```\n~~~\n")
    assert f"````markdown\n{inner}\n# still code\n````" in text
    assert "~~~\n```\n~~~" in text


def test_a_code_block_is_never_split() -> None:
    code = "\n".join(f"line_{i} = compute({i})  # some padding text here" for i in range(200))
    raw = "# T\n\n" + words(60) + "\n\n```python\n" + code + "\n```\n\n" + words(60, "after")
    chunks = chunks_of(raw, target_tokens=100, max_tokens=200)
    holding = [c for c in chunks if "line_0 =" in c.text]
    assert len(holding) == 1
    assert f"```python\n{code}\n```" in holding[0].text
    assert holding[0].token_count > 200  # larger than max, yet whole and on its own
    assert "word0" not in holding[0].text and "after0" not in holding[0].text
    assert all(c.token_count <= 200 for c in chunks if c is not holding[0])


def test_fence_title_is_mentioned_and_code_annotations_dropped() -> None:
    raw = '# T\n\n```python title="app.py" linenums="1"\nx = 1  # (1)!\n# (2)!\ny = 2\n```\n'
    assert one_text(raw) == "# T\n\napp.py:\n```python\nx = 1\ny = 2\n```"


def test_fence_inside_a_list_item_is_dedented_code() -> None:
    raw = "# T\n\n1. Step one:\n\n    ```\n    Write a poem in {{poem_style}}\n    ```\n\n2. Step two.\n"
    text = one_text(raw)
    assert "```\nWrite a poem in {{poem_style}}\n```" in text


# --------------------------------------------------------------------------- docs-site syntax


def test_mkdocs_admonitions() -> None:
    raw = (
        '# T\n\n!!! note "Read this"\n\n    Body of the note\n    continues.\n\n'
        "    ```python\n    x = 1\n    ```\n\n??? tip\n    Collapsed tip.\n\n"
        '!!!warning ""\n    No title.\n\nOutside again.\n'
    )
    text = one_text(raw)
    assert "Note: Read this\nBody of the note\ncontinues.\n\n```python\nx = 1\n```" in text
    assert "Tip:\nCollapsed tip." in text
    assert "Warning:\nNo title." in text
    assert text.endswith("\n\nOutside again.")
    assert "!!!" not in text and "???" not in text and "\n    " not in text


def test_nested_admonition_in_tabs() -> None:
    raw = (
        '# T\n\n=== "Python"\n\n    ```python\n    print("hi")\n    ```\n\n'
        '    !!! note\n        Nested note.\n\n=== "TypeScript"\n\n    ```ts\n    console.log("hi")\n    ```\n'
    )
    text = one_text(raw)
    assert 'Python:\n```python\nprint("hi")\n```\n\nNote:\nNested note.' in text
    assert 'TypeScript:\n```ts\nconsole.log("hi")\n```' in text
    assert "===" not in text


def test_docusaurus_admonitions() -> None:
    raw = (
        "# T\n\n:::note Remember this\n\nSome **bold** body.\n\n```md\n:::\n```\n\n:::\n\n"
        ":::tip[Custom title]\nTip body.\n:::\n\n::::info\nOuter.\n:::danger\nInner.\n:::\n::::\n\nAfter.\n"
    )
    text = one_text(raw, "a/page.mdx")
    assert "Note: Remember this\nSome **bold** body.\n\n```md\n:::\n```" in text
    assert "Tip: Custom title\nTip body." in text
    assert "Info:\nOuter.\n\nDanger:\nInner." in text
    assert text.endswith("\n\nAfter.")


def test_mkdocstrings_stubs_snippets_and_refs_are_dropped() -> None:
    raw = (
        "# API\n\nSee below.\n\n::: agents.Agent\n    options:\n      members: true\n\n"
        '--8<-- "includes/abbreviations.md"\n\n[ref]: https://example.com\n*[HTML]: Hyper Text\n\nEnd.\n'
    )
    assert one_text(raw) == "# API\n\nSee below.\n\nEnd."


def test_inline_markup_is_reduced_to_text() -> None:
    raw = (
        '# T\n\nRead [the guide](../guide.md "Guide") and [`Session`][agents.memory.Session], see\n'
        "<https://example.com/x>. ![diagram](img/d.png) Keep `[not](a link)` and `<Tag>` in code.\n"
        "Text {: .lead } with :material-check: icons, a footnote[^1] &amp; entities.\n"
        '<div class="grid" markdown="1">\n\nInside div.\n\n</div>\n\n<!-- hidden\ncomment -->\n\n'
        "[![badge](b.svg)](https://ci)\n\n<details>\n<summary>More info</summary>\nHidden text.\n</details>\n"
    )
    text = one_text(raw)
    prose = re.sub(r"`[^`]+`", "", text)
    assert "Read the guide and `Session`, see\nhttps://example.com/x." in text
    assert "Keep `[not](a link)` and `<Tag>` in code." in text
    assert "Text with icons, a footnote & entities." in text
    assert "Inside div." in text
    assert "More info:\nHidden text." in text
    for leftover in ("](", "![", "<div", "</div>", "hidden", "{:", ":material", "[^1]", "badge", "<details"):
        assert leftover not in prose


def test_html_comment_in_code_is_kept() -> None:
    text = one_text("# T\n\n```html\n<!-- keep me -->\n<div>x</div>\n```\n")
    assert "```html\n<!-- keep me -->\n<div>x</div>\n```" in text


def test_front_matter_title_and_slug() -> None:
    raw = '---\ntitle: "Getting: started"\nslug: /start\nsidebar_label: Start\ntags: [a, b]\n---\n\n## Install\n\nBody.\n'
    chunks = from_file("docs/intro.md", raw, base_url=BASE, url_style="docusaurus")
    assert len(chunks) == 1
    assert chunks[0].page_title == "Getting: started"
    assert chunks[0].page_url == BASE + "start"
    assert chunks[0].url == BASE + "start#install"
    assert chunks[0].heading_path == ("Install",)
    assert "slug" not in chunks[0].text and "sidebar_label" not in chunks[0].text


def test_page_title_fallbacks() -> None:
    assert chunks_of("Just text.", "guides/add-annotations.md")[0].page_title == "Add annotations"
    assert chunks_of("Just text.", "guides/index.md")[0].page_title == "guides".capitalize()
    assert chunks_of("Just text.", "index.md")[0].page_title == "Home"
    assert chunks_of("---\nsidebar_label: Label\n---\nText.", "x.md")[0].page_title == "Label"


def test_mdx_imports_exports_and_jsx() -> None:
    raw = (
        "import Tabs from '@theme/Tabs';\nimport TabItem from '@theme/TabItem';\n\n"
        "export const meta = {\n  a: 1,\n};\n\n# Title\n\n{/* an MDX comment */}\n\n"
        '<Tabs groupId="lang">\n<TabItem value="py" label="Python">\n\nRun the **Python** client.\n\n'
        '</TabItem>\n</Tabs>\n\n<Highlight color="#25c2a0">Docusaurus green</Highlight> text. <Card\n'
        '  title={"x"}\n  onClick={() => go({a: 1})}\n/>\nDone.\n'
    )
    text = one_text(raw, "docs/page.mdx")
    assert text == "# Title\n\nPython:\n\nRun the **Python** client.\n\nDocusaurus green text.\nDone."


def test_unknown_tags_stay_text_in_markdown() -> None:
    assert "The <ARTICLE_TAG> block." in one_text("# T\n\nThe <ARTICLE_TAG> block.")


# --------------------------------------------------------------------------- HTML pages

HTML_PAGE = """<!doctype html><html><head><title>Install - Site</title>
<style>h2 { color: red }</style><script>document.write("<h2>Not content</h2>")</script></head>
<body><header><a href="/">Site</a></header><nav><a href="/a">Nav link</a></nav>
<main><article>
<h1 id="install">Install<a class="headerlink" href="#install">¶</a></h1>
<p>Use <code>pip</code>   to
install.<br>Then &amp; more.</p>
<h2 id="from-source">From <em>source</em></h2>
<ul><li><p>Clone it</p></li><li>Build <b>it</b></li></ul>
<pre><code class="language-bash">git clone x
cd x &amp;&amp; make
    indented &lt;kept&gt;
</code></pre>
<table><tr><th>A</th><th>B</th></tr><tr><td>1</td><td>2</td></tr></table>
<img src="x.png" alt="a picture"><ol start="x"><li>One</li><li><p>Two</p></li></ol>
</article></main><footer>Copyright</footer></body></html>"""


def test_html_page() -> None:
    chunks = from_file("guide/install.html", HTML_PAGE, base_url=BASE, url_style="plain")
    assert [c.url for c in chunks] == [
        BASE + "guide/install.html#install",
        BASE + "guide/install.html#from-source",
    ]
    assert chunks[0].page_title == "Install"
    assert chunks[0].text == "# Install\n\nUse `pip` to install.\nThen & more."
    assert chunks[1].text == (
        "## From source\n\n- Clone it\n- Build it\n\n"
        "```bash\ngit clone x\ncd x && make\n    indented <kept>\n```\n\n| A | B |\n| 1 | 2 |\n\n1. One\n2. Two"
    )
    small = from_file(
        "guide/install.html", HTML_PAGE, base_url=BASE, url_style="plain", target_tokens=20, max_tokens=40
    )
    assert [(c.heading_path, c.url.rsplit("#", 1)[-1]) for c in small][-1] == (
        ("Install", "From source"),
        "from-source",
    )


def test_html_without_article_uses_body_and_title_tag() -> None:
    raw = "<html><head><title>Plain Page</title></head><body><h2>Part</h2><p>Text.</p><script>x()</script></body></html>"
    chunks = from_file("p.htm", raw, base_url=BASE, url_style="mkdocs")
    assert chunks[0].page_title == "Plain Page"
    assert chunks[0].text == "## Part\n\nText."
    assert chunks[0].url == BASE + "p.htm"  # heading without an id: no anchor to link to


# --------------------------------------------------------------------------- sizes & packing


def test_long_section_splits_at_paragraph_boundaries() -> None:
    paragraphs = [words(30, f"p{n}x") for n in range(12)]
    raw = "# T\n\n## Long\n\n" + "\n\n".join(paragraphs)
    chunks = chunks_of(raw, target_tokens=150, max_tokens=250)
    assert len(chunks) > 2
    assert all(c.token_count <= 250 for c in chunks)
    assert all(c.heading_path == ("T", "Long") for c in chunks[1:])
    pieces = [p for c in chunks for p in c.text.split("\n\n")]
    assert [p for p in pieces if not p.startswith("#")] == paragraphs  # whole paragraphs, in order


def test_giant_paragraph_and_table_are_split_within_bounds() -> None:
    table = "| Name | Value |\n| --- | --- |\n" + "\n".join(
        f"| row{i} | {words(8, f'v{i}x')} |" for i in range(60)
    )
    raw = "# T\n\n" + words(500, "giant") + "\n\n" + "Q" * 5000 + "\n\n" + table
    chunks = chunks_of(raw, target_tokens=150, max_tokens=250)
    assert all(c.token_count <= 250 for c in chunks)
    table_chunks = [c for c in chunks if "| row" in c.text]
    assert len(table_chunks) > 1
    assert all(c.text.startswith("| Name | Value |\n| --- | --- |\n") for c in table_chunks)
    assert sum(c.text.count("| row") for c in table_chunks) == 60
    assert sum(c.text.count("Q") for c in chunks) == 5000  # an unbroken run is cut, nothing lost


def test_small_sibling_sections_keep_their_own_anchor() -> None:
    """Issue #11: small sibling sections used to be merged into one chunk citing the first
    heading (the Models section was cited as #identity)."""
    raw = "# T\n\n" + words(300) + "\n\n" + "\n\n".join(f"## Part {n}\n\nShort text {n}." for n in range(5))
    chunks = chunks_of(raw, target_tokens=400, max_tokens=600)
    for n in range(5):
        [chunk] = [c for c in chunks if f"Short text {n}." in c.text]
        assert chunk.heading_path == ("T", f"Part {n}") and chunk.url.endswith(f"#part-{n}")
        assert chunk.text == f"## Part {n}\n\nShort text {n}."
    agent = (
        "# Agents\n\n## Identity\n\nName and instructions.\n\n## Models\n\nThe default model is gpt-4.1.\n"
    )
    [models] = [c for c in chunks_of(agent) if "default model" in c.text]
    assert models.url.endswith("#models") and "Name and instructions" not in models.text


def test_merging_never_crosses_the_hierarchy() -> None:
    raw = "# T\n\nIntro.\n\n## A\n\n" + words(100) + "\n\n### A1\n\nShort A1.\n\n## B\n\nShort B.\n"
    chunks = chunks_of(raw, target_tokens=150, max_tokens=300)
    a1 = next(c for c in chunks if "### A1" in c.text)
    assert a1.heading_path == ("T", "A", "A1")
    assert "## B" not in a1.text  # the subsection's chunk does not absorb the next section
    assert chunks[-1].heading_path == ("T", "B") and chunks[-1].text == "## B\n\nShort B."


def test_a_split_section_starts_its_own_chunk() -> None:
    raw = "# T\n\n## A\n\n" + words(60, "a") + "\n\n## B\n\n" + words(25, "b") + "\n\n" + words(200, "c")
    chunks = chunks_of(raw, target_tokens=150, max_tokens=300)
    b = next(c for c in chunks if "## B" in c.text)
    assert b.text.startswith("## B\n") and b.heading_path == ("T", "B") and b.url.endswith("#b")


def test_lead_in_stays_with_its_code() -> None:
    raw = "# T\n\n" + words(150) + "\n\nFor example:\n\n```python\n" + "x = 1\n" * 60 + "```\n"
    chunks = chunks_of(raw, target_tokens=200, max_tokens=400)
    assert any(c.text.startswith("For example:\n\n```python") for c in chunks)


# --------------------------------------------------------------------------- identity & errors


def test_content_hash_is_stable_and_sensitive() -> None:
    raw = "# T\n\n## A\n\nAlpha text.\n"
    first = chunks_of(raw)[0]
    assert first.content_hash == chunks_of(raw)[0].content_hash
    assert re.fullmatch(r"[0-9a-f]{64}", first.content_hash)
    assert chunks_of(raw.replace("Alpha", "Alpha!"))[0].content_hash != first.content_hash
    assert chunks_of(raw, collection="other")[0].content_hash != first.content_hash
    moved = from_file("other/page.md", raw, base_url=BASE)[0]
    assert moved.content_hash != first.content_hash


def test_token_count_is_approximate_chars_over_four() -> None:
    assert token_count("") == 0
    assert token_count("abcd") == 1
    assert token_count("abcde") == 2


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unsupported document type"):
        chunks_of("text", "notes.txt")
    with pytest.raises(ValueError, match="url_style"):
        chunks_of("text", url_style="jekyll")
    with pytest.raises(ValueError, match="target_tokens"):
        chunks_of("text", target_tokens=500, max_tokens=100)
    with pytest.raises(TypeError, match="decoded text"):
        chunks_of(b"# bytes")  # type: ignore[arg-type]


def test_pathological_nesting_does_not_crash() -> None:
    raw = "# T\n\n" + "".join("    " * i + "!!! note\n" for i in range(100)) + "    " * 100 + "deep text\n"
    assert "deep text" in chunks_of(raw)[-1].text


def test_chunking_takes_text_media_type_and_url() -> None:
    """No file path: the page's URL is given (a crawled page, a git blob), and so is its type."""
    url = "https://site.test/docs/v2/setup?lang=en"
    chunks = chunk_document("# Set up\n\n## Keys\n\nText.\n", "text/markdown", url, anchor_style="docusaurus")
    assert [(c.page_url, c.url, c.page_title) for c in chunks] == [(url, url + "#keys", "Set up")]
    html = chunk_document("<h2 id='k'>Keys</h2><p>Text.</p>", "text/html", "https://site.test/a/keys.html")
    assert html[0].url == "https://site.test/a/keys.html#k" and html[0].page_title == "Keys"
    assert chunk_document("Text.", "text/markdown", "https://site.test/")[0].page_title == "Home"
    assert chunk_document("Text.", "text/mdx", "https://site.test/a/b/")[0].page_title == "B"
    with pytest.raises(ValueError, match="unsupported media type"):
        chunk_document("Text.", "text/plain", url)


def test_empty_documents_have_no_chunks() -> None:
    assert chunks_of("") == []
    assert chunks_of("---\ntitle: x\n---\n\n<!-- nothing -->\n") == []
    assert from_file("e.html", "<html><body><script>x</script></body></html>", base_url=BASE) == []
