"""A quote is a coherent whole around the piece that answers (docsdesk.assistant.quotes): a list
item under the sentence that opens its list, a sentence with the code block or table it
introduces, a sentence that refers back ("This ...", "They ...") with what it refers to, a code
block with the sentence that explains it; never across a heading."""

from __future__ import annotations

import re

from docsdesk.assistant.answer import extract_answer
from docsdesk.assistant.pieces import CLIPPED, clip_passage, render, split_passage
from docsdesk.assistant.quotes import (
    MAX_LIST_ITEMS,
    MAX_PARAGRAPH_CHARS,
    SHORT_QUOTE_CHARS,
    continued,
    dangles,
    pointers,
    quote_for,
    trimmed,
)
from docsdesk.assistant.words import terms


def pieces_of(text: str):
    return split_passage(text, 1, 0, "Page")


def quoted(text: str, containing: str) -> str:
    """The rendered quote around the piece of `text` that contains `containing`."""
    pieces = pieces_of(text)
    piece = next(p for p in pieces if containing in p.text)
    return render([quote_for(piece, pieces)])


def test_a_list_item_comes_with_the_sentence_that_opens_its_list():
    text = (
        "## Markdown\n\nSome other sentence.\n\nAssistant messages support:\n\n"
        "- Tables with scrolling\n- LaTeX math\n- Code blocks\n\nA closing sentence."
    )
    assert quoted(text, "LaTeX") == (
        "From “Markdown”:\n> Assistant messages support:\n> - Tables with scrolling\n"
        "> - LaTeX math\n> - Code blocks [1]"
    )


def test_a_long_list_gives_its_opening_sentence_and_the_item():
    items = "\n".join(f"- option number {i}" for i in range(MAX_LIST_ITEMS + 2))
    text = f"## Options\n\nThe options are:\n\n{items}\n"
    assert quoted(text, "number 5") == "From “Options”:\n> The options are:\n> - option number 5 [1]"


def test_a_sentence_right_before_a_code_block_introduces_it():
    text = "## Streaming\n\nThis prints the text token by token.\n\n```python\nprint(delta)\n```\n"
    assert quoted(text, "token by token") == (
        "From “Streaming”:\n> This prints the text token by token. [1]\n\n```python\nprint(delta)\n```"
    )


def test_a_sentence_that_refers_back_comes_with_what_it_refers_to():
    text = (
        "## Results\n\nThe first sentence is elsewhere. `last_agent` contains the last agent that ran.\n"
        "This is often the best agent for the next turn.\n"
    )
    assert quoted(text, "next turn") == (
        "From “Results”:\n> `last_agent` contains the last agent that ran. "
        "This is often the best agent for the next turn. [1]"
    )
    # ... and a sentence the next one goes on about comes with that one.
    entities = "# Entities\n\nEntities are structured pieces of data. They represent meaningful objects.\n"
    assert quoted(entities, "structured pieces") == (
        "From “Entities”:\n> Entities are structured pieces of data. They represent meaningful objects. [1]"
    )


def test_a_code_block_comes_with_the_sentence_that_explains_it():
    text = "## Example usage\n\n```python\ndraw_graph(agent)\n```\n\nThis generates a graph of the agents.\n"
    assert quoted(text, "draw_graph") == (
        "From “Example usage” [1]:\n\n```python\ndraw_graph(agent)\n```\n\n> This generates a graph of the agents."
    )


def test_quotes_never_cross_a_heading():
    text = "## One\n\nIntro of one.\n\n## Two\n\n```python\nx = 2\n```\n\n## Three\n\nThis is three.\n"
    assert quoted(text, "x = 2") == "From “Two” [1]:\n\n```python\nx = 2\n```"
    assert quoted(text, "three") == "From “Three”:\n> This is three. [1]"


def test_a_sentence_comes_with_the_rest_of_its_short_paragraph():
    # The problem, then its way out: one paragraph, quoted whole around the sentence chosen.
    text = (
        "## Sync actions\n\nNormally, widget actions are blocked while a thread is streaming. "
        "To get around this, set `streaming: false`, which delivers the action to `sync_action`.\n\n"
        "Another paragraph."
    )
    assert quoted(text, "blocked while") == (
        "From “Sync actions”:\n> Normally, widget actions are blocked while a thread is streaming. "
        "To get around this, set `streaming: false`, which delivers the action to `sync_action`. [1]"
    )
    # A long paragraph gives the sentence and what follows while it fits.
    long = "## Long\n\nThe first sentence. " + " ".join(
        f"Filler sentence number {i} goes on for a while." for i in range(MAX_PARAGRAPH_CHARS // 20)
    )
    rendered = quoted(long, "first sentence")
    assert rendered.startswith("From “Long”:\n> The first sentence. Filler sentence number 0")
    assert len(rendered) < MAX_PARAGRAPH_CHARS + 40 and rendered.endswith(". [1]")


def test_a_paragraph_ending_with_a_colon_comes_with_its_list():
    text = (
        "## Docstrings\n\nWe parse the docstring to extract descriptions. Some notes on that:\n\n"
        "1. Signatures are read with `inspect`.\n2. We use `griffe` to parse docstrings.\n"
    )
    assert quoted(text, "extract descriptions") == (
        "From “Docstrings”:\n> We parse the docstring to extract descriptions.\n> Some notes on that:\n"
        "> - Signatures are read with `inspect`.\n> - We use `griffe` to parse docstrings. [1]"
    )


def test_a_quote_goes_on_into_the_next_sentence_that_holds_more_of_the_question():
    text = (
        "## Domain keys\n\nThe iframe verifies the domain key on load, with an outbound request to the "
        "platform that checks the key against the hostnames registered for your organization. If the "
        "key is missing or invalid, the iframe will refuse to load, preventing unauthorized hostnames "
        "from embedding your experience.\n\nIn production, register every hostname in the domain "
        "allowlist.\n\nKeys can be rotated at any time."
    )
    pieces = pieces_of(text)
    quote = quote_for(next(p for p in pieces if "verifies" in p.text), pieces)
    assert sum(len(p.text) for p in quote.pieces) >= SHORT_QUOTE_CHARS
    wanted = terms("in production the iframe refuses to load")
    rendered = render([continued(quote, pieces, wanted)])
    assert "register every hostname in the domain allowlist. [1]" in rendered
    assert "rotated" not in rendered  # holds nothing more of the question
    # Nothing new of the question in the next paragraph: the quote stays as it was.
    assert continued(quote, pieces, terms("iframe load")) is quote


def test_a_short_quote_goes_on_into_the_next_sentence_that_says_what_to_do():
    text = (
        "# Prompts\n\nA prompt is a message template the user picks from a menu in their client.\n\n"
        "You declare one by putting `@mcp.prompt()` on a function that returns the text. The "
        "function's parameters become the prompt's arguments, which the client asks the user to fill "
        "in before it renders the messages into the conversation as if they had typed them.\n\n"
        "Prompts are listed with `prompts/list`."
    )
    pieces = pieces_of(text)
    quote = quote_for(next(p for p in pieces if "template" in p.text), pieces)
    assert len(quote.pieces) == 1  # one short sentence stating the topic
    rendered = render([continued(quote, pieces, terms("message templates users pick from a menu"))])
    assert "You declare one by putting `@mcp.prompt()`" in rendered
    assert "arguments" in rendered  # that sentence's paragraph goes on while the quote is short
    assert "prompts/list" not in rendered  # long enough by then, and nothing more of the question


def test_a_quote_goes_on_into_the_list_of_ways_out_its_next_sentence_opens():
    text = (
        "## Convert generated images to model input\n\nIf the image URL is not publicly reachable by the "
        "model runtime (for example, a private intranet URL or a localhost URL that requires cookies), "
        "image understanding and image-to-image flows may fail for every later turn of the thread "
        "that refers back to it.\n\n"
        "Two common fixes:\n\n- Convert the stored image back into a base64 data URL\n"
        "- Generate a temporary public (signed) URL for the run\n\nUnrelated closing words."
    )
    pieces = pieces_of(text)
    quote = quote_for(pieces[0], pieces)
    assert sum(len(p.text) for p in quote.pieces) >= SHORT_QUOTE_CHARS
    rendered = render([continued(quote, pieces, terms("image url on localhost fails, how to fix"))])
    assert rendered.endswith(
        "> Two common fixes:\n> - Convert the stored image back into a base64 data URL\n"
        "> - Generate a temporary public (signed) URL for the run [1]"
    )
    # The list holds nothing more of the question: the quote stays as it was.
    assert continued(quote, pieces, terms("image understanding fails on localhost")) is quote


def test_a_short_quote_does_not_go_on_into_a_label():
    text = (
        "## on_after_register\n\nPerform logic after a successful registration.\n\n"
        "**Arguments**\n\n* `user`: the registered user.\n"
    )
    pieces = pieces_of(text)
    quote = quote_for(pieces[0], pieces)
    assert continued(quote, pieces, terms("after registration")) is quote


def test_lists_pointing_elsewhere_are_pointers():
    text = (
        "# Images\n\nStream images to the client. This guide covers:\n\n- Storing images as URLs\n"
        "- Partial images\n\nAn unrelated closing sentence.\n\n## Where to go next\n\n"
        "- Concepts: manifests and capabilities.\n\n## Storing\n\n- Write the bytes to object storage.\n"
    )
    pieces = pieces_of(text)
    found = {pieces[i].text for i in pointers(pieces)}
    assert found == {
        "This guide covers:",
        "- Storing images as URLs",
        "- Partial images",
        "- Concepts: manifests and capabilities.",
    }
    # "Next: add features" sends the reader on too; a heading that only starts with the word
    # does not ("Next-turn agent").
    on = pieces_of("## Next: add features\n\n- Let users pick tools and models\n")
    assert pointers(on) == {0}
    assert pointers(pieces_of("## Next-turn agent\n\n- The agent that answers the next turn\n")) == set()


def test_a_guides_table_of_contents_loses_to_the_section_it_names():
    question = "generated images get stored as giant base64 strings"
    overview = (
        "# Stream generated images\n\nStream generated images to the client. This guide covers:\n\n"
        "- Adding an image generation tool\n- Converting streamed base64 images into URLs so your "
        "datastore does not store raw base64 strings\n- Streaming partial images\n"
    )
    section = (
        "## Avoid storing raw base64\n\nBy default, ChatKit stores generated images as a data URL by "
        "using `base64_image_to_url`. Override it to write the bytes to object storage."
    )
    answer = extract_answer(
        question, [(1, "Stream generated images", overview), (2, "Avoid storing", section)]
    )
    assert answer.covered and answer.cited[0] == 2, answer.text
    assert "`base64_image_to_url`" in answer.text


def test_a_sentence_opening_what_the_passage_lost_is_not_the_end_of_a_quote():
    # The tool output clipped the passage after the sentence that introduces the command.
    text = (
        "# Installation\n\nYou can add the library in a few easy steps. First of all, install the dependency:"
    )
    pieces = pieces_of(text)
    rendered = render([quote_for(pieces[0], pieces)])
    assert rendered == "From “Installation”:\n> You can add the library in a few easy steps. [1]"
    alone = quote_for(pieces[1], pieces)
    assert dangles(alone, pieces)  # scored down as a first quote, never an extra one
    # A sentence before its code block is no dangling end: it carries the block's marker.
    with_code = pieces_of("## Setup\n\nInstall it:\n\n```sh\npip install lib\n```")
    assert not dangles(quote_for(with_code[0], with_code), with_code)


def test_a_code_block_clipped_inside_is_never_quoted():
    code = "```python\n" + "\n".join(f"step_{i}()  # run step {i} of the job" for i in range(80)) + "\n```"
    text = "## Jobs\nEach job runs its steps in order:\n" + code  # no block boundary to cut at
    clipped = clip_passage(text, 600)
    assert clipped.endswith(CLIPPED) and clipped.count("```") == 1  # cut inside the block
    pieces = pieces_of(clipped)
    block = next(p for p in pieces if p.kind == "code")
    assert block.clipped
    answer = extract_answer("how are the steps of a job run", [(1, "Jobs", clipped)])
    assert answer.covered and CLIPPED not in answer.text and "step_0" not in answer.text


def test_answers_never_cut_a_sentence_nor_leave_a_marker_alone():
    # Whole sentences, list items, rows and code blocks; each [n] on a prose line.
    text = (
        "## Retries\n\nA failed job is retried. The default is five attempts, e.g. after a "
        "timeout. Each wait doubles.\n\n| setting | default |\n| --- | --- |\n| `attempts` | `5` |\n\n"
        "Set the policy in code:\n\n```python\nqueue.retry(attempts=3)\n```\n\n- Jobs that fail "
        "five times go to the dead-letter list.\n- Dead jobs can be replayed.\n"
    )
    sentences = [p.text for p in pieces_of(text) if p.kind == "sentence"]
    for question in [
        "how many attempts by default",
        "set the retry policy in code",
        "what happens to jobs that fail five times, can they be replayed",
        "attempts setting default",
    ]:
        answer = extract_answer(question, [(1, "Retries", text)])
        assert answer.covered, question
        lines = answer.text.splitlines()
        assert not any(re.fullmatch(r"\s*(?:>\s*)?\[\d+\]\s*", line) for line in lines), answer.text
        for line in lines:
            if re.search(r"\[\d+\]", line):
                assert line.startswith(("> ", "From “")), answer.text
        quoted_text = " ".join(line.lstrip("> ") for line in lines)
        for sentence in sentences:
            head = sentence[:25]
            if head in quoted_text:  # a sentence quoted is quoted whole
                assert sentence in quoted_text, (question, sentence, answer.text)


def test_a_short_table_is_quoted_whole_and_a_long_one_by_its_row():
    # "stdio or http, which is the default?": the rows side by side answer it, not one row.
    text = (
        "## Pick a transport\n\n| Transport | When |\n|---|---|\n"
        "| `stdio` | Local servers. The default. |\n| `streamable-http` | Anything you deploy. |\n"
        "| `sse` | You don't. |\n"
    )
    assert quoted(text, "The default") == (
        "From “Pick a transport” [1]:\n\n| Transport | When |\n|---|---|\n"
        "| `stdio` | Local servers. The default. |\n| `streamable-http` | Anything you deploy. |\n"
        "| `sse` | You don't. |"
    )
    rows = "\n".join(f"| `option{i}` | value {i} |" for i in range(6))
    long = f"## Options\n\n| Name | Value |\n|---|---|\n{rows}\n"
    assert (
        quoted(long, "value 3")
        == "From “Options” [1]:\n\n| Name | Value |\n|---|---|\n| `option3` | value 3 |"
    )


def test_trimmed_leaves_out_the_bullet_items_and_rows_that_hold_nothing_of_the_question():
    text = (
        "## Custom endpoints\n\nThe transport configuration lets you customize the default:\n\n"
        "- `url`: Override the WebSocket endpoint\n- `headers`: Provide explicit headers\n"
        "- `api_key`: Pass an API key directly or via callback\n"
    )
    pieces = pieces_of(text)
    for piece in pieces:
        piece.terms = terms(piece.text)
    quote = quote_for(next(p for p in pieces if "headers" in p.text), pieces)
    assert len(quote.pieces) == 4  # the short list whole, under its opening sentence
    kept = trimmed(quote, terms("which headers does the websocket send"))
    assert render([kept]) == (
        "From “Custom endpoints”:\n> The transport configuration lets you customize the default:\n"
        "> - `url`: Override the WebSocket endpoint\n> - `headers`: Provide explicit headers\n> - … [1]"
    )
    assert trimmed(quote, terms("unrelated words only")) is quote  # no item holds any: whole
    assert trimmed(quote, terms("websocket headers api key")) is quote  # every item holds some

    table = "## Limits\n\n| name | limit |\n| --- | --- |\n| uploads | 10 MB |\n| threads | 500 per user |\n"
    rows = pieces_of(table)
    for piece in rows:
        piece.terms = terms(piece.text)
    whole = quote_for(rows[0], rows)
    assert render([trimmed(whole, terms("upload size limit"))]) == (
        "From “Limits” [1]:\n\n| name | limit |\n| --- | --- |\n| uploads | 10 MB |"
    )  # a row is a record that stands alone: no marker


def test_the_steps_of_a_numbered_list_stay_whole():
    text = "## Install\n\nTo install:\n\n1. Download the package\n2. Unpack it\n3. Run the installer\n"
    pieces = pieces_of(text)
    for piece in pieces:
        piece.terms = terms(piece.text)
    quote = quote_for(next(p for p in pieces if "Unpack" in p.text), pieces)
    assert trimmed(quote, terms("how do I unpack it")) is quote


def test_a_sentence_opening_with_a_connective_comes_with_the_one_it_goes_on_from():
    # "Indeed, ..." explains the sentence before it, which says what the reader asked.
    text = (
        "## Logout\n\nSome other paragraph about login.\n\n"
        "On logout, this strategy **won't do anything**. "
        "Indeed, a JWT can't be invalidated on the server-side: it's valid until it expires.\n"
    )
    assert quoted(text, "Indeed") == (
        "From “Logout”:\n> On logout, this strategy **won't do anything**. "
        "Indeed, a JWT can't be invalidated on the server-side: it's valid until it expires. [1]"
    )
    fix = (
        "## Streaming\n\nSome providers stream tool-call deltas in unreliable chunks. "
        "In that case, enable buffering so tool calls come whole.\n"
    )
    assert quoted(fix, "unreliable") == (
        "From “Streaming”:\n> Some providers stream tool-call deltas in unreliable chunks. "
        "In that case, enable buffering so tool calls come whole. [1]"
    )


def test_a_numbered_list_right_after_a_code_block_annotates_it():
    text = (
        "## Input filters\n\nSome patterns are implemented for you in `handoff_filters`:\n\n"
        "```python\nhandoff(agent=agent, input_filter=handoff_filters.remove_all_tools)  # (1)\n```\n\n"
        "1. This will automatically remove all tool-related items from the history.\n"
    )
    assert quoted(text, "tool-related items") == (
        "From “Input filters”:\n> Some patterns are implemented for you in `handoff_filters`: [1]\n\n"
        "```python\nhandoff(agent=agent, input_filter=handoff_filters.remove_all_tools)  # (1)\n```\n\n"
        "> 1. This will automatically remove all tool-related items from the history."
    )
    # A list a sentence opens is still quoted under that sentence.
    opened = "## Steps\n\n```sh\npip install x\n```\n\nThen:\n\n1. Run it\n2. Check it\n"
    assert quoted(opened, "Check it") == "From “Steps”:\n> Then:\n> - Run it\n> - Check it [1]"
