from chatkit.types import AssistantMessageContent

from docsdesk.assistant.citations import annotate
from rag.search import SearchResult


def result(n: int) -> SearchResult:
    return SearchResult(
        title=f"Page {n}",
        heading_path=[f"Page {n}", f"Section {n}"],
        url=f"https://docs.example/p{n}/#s{n}",
        snippet="",
        score=1.0,
        text=f"text {n}",
        source_path=f"p{n}.md",
        collection="c",
        chunk_id=n,
    )


SOURCES = [result(1), result(2), result(3)]


def run(text: str) -> AssistantMessageContent:
    return annotate([AssistantMessageContent(text=text)], SOURCES)[0]


def test_cited_sources_become_annotations_in_citation_order():
    out = run("Use widgets [3]. Then stream [1]. Again [3].")
    assert out.text == "Use widgets [1]. Then stream [2]. Again [1]."
    assert [a.source.url for a in out.annotations] == [SOURCES[2].url, SOURCES[0].url]
    # Each annotation points just after its first marker.
    assert out.text[: out.annotations[0].index].endswith("[1]")
    assert out.text[: out.annotations[1].index].endswith("[2]")
    assert out.annotations[0].source.title == "Page 3 › Section 3"


def test_uncited_sources_are_not_annotated_and_dangling_markers_removed():
    out = run("Answer [2] and nonsense [7] and [0].")
    assert out.text == "Answer [1] and nonsense and."
    assert [a.source.url for a in out.annotations] == [SOURCES[1].url]


def test_grouped_markers_and_code_left_alone():
    out = run("See [1, 2].\n\n```python\nx = items[3]\n```\nand `a[2]` [2]")
    assert out.text == "See [1][2].\n\n```python\nx = items[3]\n```\nand `a[2]` [2]"
    assert len(out.annotations) == 2


def test_links_are_not_markers():
    out = run("A [1](https://x.example) link [2].")
    assert out.text == "A [1](https://x.example) link [1]."
    assert [a.source.url for a in out.annotations] == [SOURCES[1].url]


def test_no_sources_strips_all_markers():
    out = annotate([AssistantMessageContent(text="Nothing [1].")], [])[0]
    assert out.text == "Nothing." and out.annotations == []
