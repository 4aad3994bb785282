"""The block scanner's line helpers: ATX heading text, heading attribute lists, directive titles."""

from __future__ import annotations

from rag.markdown_syntax import (
    ATTR_TOKEN_RE,
    ATX,
    atx_text,
    dedent,
    directive_title,
    heading_attrs,
    indent_of,
    tidy,
)


def test_atx_heading_text_drops_the_closing_sequence_only_after_a_blank() -> None:
    assert atx_text("Title  ## ") == "Title"
    assert atx_text("C#") == "C#"
    assert atx_text("Title\t#") == "Title"
    assert ATX.match("#####  x").group(1) == "#####"
    assert ATX.match("#hashtag") is None  # no blank after the `#`: not a heading


def test_heading_attribute_lists() -> None:
    assert heading_attrs("Install {#setup .wide}") == ("#setup .wide", len("Install"))
    # The list is found; its tokens are checked by the scanner (ATTR_TOKEN_RE).
    assert heading_attrs("Install { : #setup }  ") == (": #setup ", len("Install"))
    assert heading_attrs("Install {: #setup }") == ("#setup ", len("Install"))
    assert heading_attrs("a { b } c") is None
    assert heading_attrs("no braces") is None
    assert not ATTR_TOKEN_RE.fullmatch(":")


def test_directive_titles() -> None:
    assert directive_title("") == (True, None)
    assert directive_title("[Heads up]") == (True, "Heads up")
    assert directive_title(" Heads up {#id}") == (True, "Heads up")
    assert directive_title("[unclosed") == (False, None)
    assert directive_title("glued") == (False, None)


def test_indentation_helpers() -> None:
    assert indent_of("\t  x", "x") == 6
    assert dedent("      code", 4) == "  code"
    assert tidy("  a  \n\n    b\n") == "a\n  b"
