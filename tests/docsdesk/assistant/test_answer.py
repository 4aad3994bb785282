"""The offline answer quotes what answers the question (issue #11): the answering sentence,
table rows under their header, a whole code block; and says plainly, citing nothing, when the
docs do not cover the question. Question-to-expected-phrase checks over the fixture doc set,
searched for real (PostgreSQL), answered by the offline model's answer step."""

from __future__ import annotations

import json
import re

import pytest

from docsdesk.assistant.answer import asks_about_the_page, extract_answer, page_lead, split_passage
from docsdesk.assistant.answer_eval import tool_output
from docsdesk.assistant.not_covered import OFFLINE_NOTHING_FOUND, refusal_text
from docsdesk.assistant.offline import (
    OFFLINE_INTRO,
    offline_answer,
    offline_reply,
)
from docsdesk.assistant.search_tool import TOP_PAGE_KEY, format_passages
from rag.ingest import ingest
from rag.search import DocsSearch, SearchResult
from tests.docsdesk.assistant.test_further import FEEDBACK_QUESTION, MENTIONS, SERVER
from tests.support import FIXTURE_DOCS, new_id

BASE = "https://lantern.example/"

# (question, phrases the answer must quote, phrases it must not)
CHECKS = [
    (
        "How many attempts does the default retry policy make?",
        ["five attempts"],
        ["Lantern is a small job queue"],
    ),
    (
        "what does the backoff_seconds setting do",
        [
            "| setting | default | meaning |\n| --- | --- | --- |\n",
            "| `backoff_seconds` | `2` | the first wait; it doubles after each failure |",
        ],
        ["| `attempts` |"],
    ),
    (
        "How do I add a source annotation to a report?",
        [
            "report.annotate(url, title)",
            '```python\nreport.annotate("https://example.com/data.csv", "Input data")\n```',
        ],
        [],
    ),
    (
        "What happens to running jobs on SIGTERM?",
        ["finishes the jobs it is running"],
        ["thumbs"],
    ),
    (
        "How do I handle thumbs-down feedback?",
        ["good moment to ask what went wrong"],
        ["annotate"],
    ),
    (
        "How many annotations can a report keep?",
        ["at most 50 annotations"],
        [],
    ),
    (
        "Which Python version does Lantern need?",
        ["Python 3.10 or newer"],
        [],
    ),
]

NOT_COVERED = [  # (question, whether search finds passages at all)
    ("How do I install it on Windows with conda?", True),
    ("Which message broker does the dashboard use for email alerts?", True),
    ("Does the GraphQL gateway support subscriptions?", False),
    # a product named in camel case; a name after "built-in" (no "in <the reader's setting>")
    ("How do I start the worker processes with PyInstaller?", True),
    ("Is there a built-in Redis store for jobs, so I don't need PostgreSQL?", True),
]


@pytest.fixture(scope="module")
async def lantern(database):
    collection = new_id("c")
    await ingest(database.engine, [FIXTURE_DOCS], base_url=BASE, collection=collection)
    return collection


async def answer(engine, collection, question) -> str:
    """The offline answer over the tool output the offline model gets: passages, "not_in_docs",
    the first page's further sections."""
    return offline_answer(await tool_output(DocsSearch(engine), question, collection), question)


@pytest.mark.parametrize(("question", "wanted", "unwanted"), CHECKS)
async def test_answer_quotes_what_answers(engine, lantern, question, wanted, unwanted):
    text = await answer(engine, lantern, question)
    assert text.startswith(OFFLINE_INTRO), text
    for phrase in wanted:
        assert phrase in text, (question, text)
    for phrase in unwanted:
        assert phrase not in text, (question, text)
    assert re.search(r"\[\d\]", text)


@pytest.mark.parametrize(("question", "found"), NOT_COVERED)
async def test_uncovered_questions_say_so_and_cite_nothing(engine, lantern, question, found):
    assert bool(await DocsSearch(engine).search(question, collection=lantern)) is found
    text = await answer(engine, lantern, question)
    assert not re.search(r"\[\d+\]", text)
    # The decision is typed, with the evidence it rests on, and cites nothing.
    search = DocsSearch(engine)
    results = await search.search(question, k=5, collection=lantern)
    unknown = await search.unknown_words(question, collection=lantern)
    reply = offline_reply(format_passages(question, list(enumerate(results, start=1)), unknown), question)
    assert reply.outcome == "not_covered" and reply.answer.cited == ()
    assert reply.answer.reason in (("absent_terms", "unknown_product") if found else ("no_results",))
    # The reader is told what is missing: the words no page uses, named as the reader wrote them.
    assert text == refusal_text(reply.answer)
    if found:
        assert reply.answer.absent and all(f"“{word}”" in text for word in reply.answer.absent[:3])
    else:
        assert text == OFFLINE_NOTHING_FOUND


def test_table_rows_keep_their_header_and_code_stays_whole() -> None:
    passage = (
        "## Limits\n\nSome intro sentence about nothing.\n\n| name | limit |\n| --- | --- |\n"
        "| uploads | 10 MB |\n| threads | 500 per user |\n\nFor example:\n\n```python\nx = 1\n\ny = 2\n```\n"
    )
    kinds = [(p.kind, p.heading) for p in split_passage(passage, 1, 0, "Page")]
    assert kinds == [
        ("sentence", "Limits"),
        ("row", "Limits"),
        ("row", "Limits"),
        ("sentence", "Limits"),
        ("code", "Limits"),
    ]
    result = extract_answer("what is the upload limit", [(1, "Page", passage)])
    assert result.covered and result.cited == (1,)
    # The row under its header, introduced by the sentence before the table, which carries the
    # citation: no marker alone on a line after the table.
    # Each quote is shown under the name of its section.
    assert result.text == (
        "From “Limits”:\n> Some intro sentence about nothing. [1]\n\n"
        "| name | limit |\n| --- | --- |\n| uploads | 10 MB |"
    )
    code = extract_answer("example of setting x and y", [(1, "Page", passage)])
    assert code.text == "From “Limits”:\n> For example: [1]\n\n```python\nx = 1\n\ny = 2\n```"


def test_sentence_that_answers_wins_over_the_first_one() -> None:
    passage = (
        "## Identity\n\nEvery agent has a name and instructions. The name shows in traces.\n\n"
        "## Models\n\nThe default model is gpt-4.1. Set `model` to choose another one."
    )
    result = extract_answer("What is the default model?", [(3, "Agents", passage)])
    assert result.text.startswith("From “Models”:\n> The default model is gpt-4.1.") and result.text.endswith(
        "[3]"
    )
    assert "instructions" not in result.text


@pytest.mark.parametrize(
    ("question", "about_page"),
    [
        ("What is this page about?", True),
        ("And this one?", True),
        ("Summarise this page", True),
        ("What does this page say about retries?", False),
        ("How do I handle thumbs-down feedback?", False),
    ],
)
def test_questions_about_the_page_itself(question, about_page):
    assert asks_about_the_page(question) is about_page


def test_a_question_about_the_page_quotes_its_opening():
    passages = [
        (1, "Workers", "Start a worker with `lantern worker`. Each worker claims jobs.\n\nMore text."),
        (
            2,
            "Retries and backoff",
            "A job that raises an exception is retried. The default is five attempts.",
        ),
    ]
    answer = page_lead(passages[1])
    assert answer.covered and answer.cited == (2,)
    assert "A job that raises an exception is retried." in answer.text and "[2]" in answer.text


def test_words_the_docs_never_use_decide_coverage() -> None:
    passage = (
        "## Billing\n\nThe billing page lists each plan and its monthly price. Contact support about "
        "your billing page.\n\nPlans renew monthly. Seats are counted per user. Usage is shown daily."
    )
    question = "Does the billing page list invoices in euros?"
    assert extract_answer(question, [(1, "Help", passage)]).covered  # passage-local view alone
    # Two words no page uses, holding much of the question: a topic the docs do not have.
    assert not extract_answer(question, [(1, "Help", passage)], ["invoices", "euros"]).covered
    # One such word is the reader's own (their app's name): it does not count against them.
    zorbly = "How do I contact support about billing in Zorbly?"
    answer = extract_answer(zorbly, [(1, "Help", passage)], ["Zorbly"])
    assert answer.covered and "Contact support about your billing page." in answer.text


def test_a_section_naming_the_questions_identifier_answers_it() -> None:
    # Most passages hold the identifier (the search found them by it), so it weighs little
    # among them; the reader's other words are each in one passage or in none, so no passage
    # holds much of the question's weight. A passage naming what the question names answers it.
    passages = [
        (1, "Exceptions", "`MaxTurnsExceeded` is raised when the run exceeds `max_turns`."),
        (2, "Long runs", "A long run is fine. `MaxTurnsExceeded` may end it."),
        (3, "Queues", "Each task is queued. `MaxTurnsExceeded` is not retried."),
        (4, "State", "Keep the state small. See `MaxTurnsExceeded`."),
        (5, "Errors", "A tool can fail without ending the run."),
    ]
    question = "long research task keeps failing overnight quietly somehow with MaxTurnsExceeded"
    answer = extract_answer(question, passages)
    assert answer.covered and answer.cited == (1,), answer
    assert "`MaxTurnsExceeded` is raised when the run exceeds `max_turns`." in answer.text
    # Without the identifier, the same words match no passage well enough: not covered.
    plain = extract_answer("long research task keeps failing overnight quietly somehow", passages)
    assert not plain.covered and plain.reason == "no_matching_section" and not plain.cited


def test_question_forms_and_the_readers_own_words_are_not_absent_topics() -> None:
    passage = (
        "# Entities\n\nEntities are structured pieces of information. They represent meaningful "
        "objects in your app's domain."
    )
    # "mean" asks for a definition: only "recognition" is a word no page uses.
    answer = extract_answer(
        "what does chatkit mean by entities? is that named entity recognition?",
        [(1, "Entities", passage)],
        ["mean", "recognition"],
    )
    assert answer.covered and "meaningful objects" in answer.text
    billing = "## Billing\n\nThe billing page lists each plan and its monthly price."
    # A capitalised name after "our" is the reader's context; a version is not a topic.
    assert extract_answer(
        "Where is the billing page for plans in our Acme Portal v10?",
        [(1, "Help", billing)],
        ["Acme", "Portal", "v10"],
    ).covered
    # Lowercase words after "our" are topics the docs lack.
    refused = extract_answer(
        "Does the billing page match our brand colours?", [(1, "Help", billing)], ["brand", "colours"]
    )
    assert not refused.covered and refused.reason == "absent_terms" and not refused.cited


def test_a_product_no_page_mentions_is_not_covered() -> None:
    bots = (
        "## Bots\n\nAn agent can answer in channels of your chat app. Hook it up with a webhook "
        "that forwards each message to the agent."
    )
    question = "how do I hook an agent up as a Slack bot that answers in channels"
    # Every other word is in the docs: the passage-local view alone would answer.
    assert extract_answer(question, [(1, "Chat apps", bots)]).covered
    refused = extract_answer(question, [(1, "Chat apps", bots)], ["Slack"])
    assert not refused.covered and refused.reason == "unknown_product" and not refused.cited
    assert refused.absent == ("Slack",)
    # The same kind of name where the reader's work happens, or their own, is context.
    for asked, unknown in [
        ("how do I hook an agent up to answer in channels in CI", "CI"),
        ("how do I hook an agent up to answer in channels of my Zorbly app", "Zorbly"),
    ]:
        assert extract_answer(asked, [(1, "Chat apps", bots)], [unknown]).covered, asked


def test_the_first_quote_is_the_one_whose_whole_holds_the_question() -> None:
    # The item naming the topic scores first as a piece; the list that answers holds more of
    # the question (tables, LaTeX) with the sentence that opens it.
    passages = [
        (
            1,
            "Threads › Assistant messages",
            "Assistant messages are what the model says. Their content can include:\n\n"
            "- Markdown-rendered text\n- Widgets\n",
        ),
        (
            2,
            "Threads › Assistant messages › Markdown support",
            "Assistant messages support:\n\n- GitHub-flavored Markdown\n- LaTeX math rendered inline\n"
            "- Tables with automatic sizing\n",
        ),
    ]
    answer = extract_answer("does assistant text render markdown tables and latex equations?", passages)
    assert answer.covered and answer.cited[0] == 2, answer
    assert "- LaTeX math rendered inline" in answer.text and "- Tables with automatic sizing" in answer.text


def test_a_long_reader_question_is_answered_by_the_section_its_words_are_in() -> None:
    # No one sentence holds much of a long, natural question (the old refusal rule: 45% of its
    # weight); the section, with its heading, answers it, and nothing says the docs lack its
    # topic (the reader's "portal" is the only word no page uses): answered, not refused.
    passages = [
        (
            1,
            "Feedback › Store ratings",
            "Readers can rate an answer. Implement `add_feedback` on your server to keep each one.",
        ),
        (2, "Widgets", "Widgets render cards in the chat window."),
        (3, "Actions", "A click on a button sends an action to your backend."),
    ]
    question = (
        "When a reader clicks thumbs up or thumbs down under an answer in the chat window of our "
        "help portal, where on the backend does that rating arrive so I can store it?"
    )
    answer = extract_answer(question, passages, ["portal"])
    assert answer.covered and answer.cited[0] == 1, answer
    assert "`add_feedback`" in answer.text


def test_parts_of_an_unknown_word_the_passages_use_are_not_absent() -> None:
    # "app.ourcompany.com" is a word no page uses; "app" and "com" are not topics the docs lack.
    passage = (
        "## Domain keys\n\nThe iframe verifies the domain key on load. If the key is missing, the "
        "iframe will refuse to load on your app.\n\nIn production, register each hostname (such as "
        "`support.example.com`) in the domain allowlist."
    )
    question = "works on localhost but in production the chat iframe refuses to load on app.ourcompany.com"
    answer = extract_answer(question, [(1, "Production › Domain keys", passage)], ["app.ourcompany.com"])
    assert answer.covered, answer
    assert "domain allowlist" in answer.text and "refuse to load" in answer.text


def test_a_phrasal_verb_matches_the_word_the_docs_write() -> None:
    # "logs out" is "logout": without it, each passage holds one word of the question.
    passages = [
        (1, "Logs", "Logs are written to standard output."),
        (
            2,
            "Sessions › Logout",
            "On logout, a token stays valid until it expires: it cannot be invalidated.",
        ),
    ]
    answer = extract_answer("a user logs out but the token still works", passages)
    assert answer.covered and answer.cited[0] == 2, answer
    assert "cannot be invalidated" in answer.text


def test_a_name_offered_with_an_alternative_the_docs_use_is_not_evidence() -> None:
    passage = "## Tool outputs\n\nA function tool can return text, an image (`ToolOutputImage`) or a file."
    question = "can a function tool return an image or a PDF instead of text?"
    answer = extract_answer(question, [(1, "Tools", passage)], ["PDF"])
    assert answer.covered and "`ToolOutputImage`" in answer.text
    # Only names the docs never use, offered together: still a product the docs lack.
    both = extract_answer(
        "use Claude or Gemini as the model of a tool", [(1, "Tools", passage)], ["Claude", "Gemini"]
    )
    assert not both.covered and not both.cited and both.absent == ("Claude", "Gemini")


def test_a_product_named_in_camel_case_is_not_covered_unless_built_like_the_docs_names() -> None:
    passage = (
        "## Packaging\n\nPackage your server as a single executable and run it with `mcp run`. "
        "The `ServerSession` holds the connection."
    )
    question = "package my server as a single executable with PyInstaller"
    assert extract_answer(question, [(1, "Deploy", passage)]).covered  # the passage alone answers
    refused = extract_answer(question, [(1, "Deploy", passage)], ["PyInstaller"])
    assert not refused.covered and refused.reason == "unknown_product" and not refused.cited
    assert refused.absent == ("PyInstaller",)
    # The reader's own class, named like the docs' `ServerSession`, is their code, not a product.
    own = extract_answer(
        "package my server as a single executable with a BillingSession",
        [(1, "Deploy", passage)],
        ["BillingSession"],
    )
    assert own.covered and "single executable" in own.text


# --- the first page's further sections (the search's `top_page`) ----------------------------

CLIENT = (
    "## Enable feedback actions on the client\n\n"
    "Collect thumbs up/down feedback. Enable the message actions by setting `threadItemActions.feedback`; "
    "ChatKit.js renders the controls and sends a request when a user clicks them."
)
FEEDBACK_PAGE, INPUT_PAGE = "https://docs.example/feedback/", "https://docs.example/input/"
SERVER_SECTION = (6, "Handle feedback › Implement add_feedback on your server", SERVER)


def test_a_further_section_of_the_first_page_is_quoted_after_the_passages():
    passages = [
        (1, "Handle feedback › Enable feedback actions on the client", CLIENT),
        (2, "Input", MENTIONS),
    ]
    pages = [FEEDBACK_PAGE, INPUT_PAGE]
    answer = extract_answer(FEEDBACK_QUESTION, passages, pages=pages, more=[SERVER_SECTION])
    assert answer.covered and answer.cited[0] == 1, answer.text
    assert 6 in answer.cited and "`add_feedback` method on your backend" in answer.text, answer.text
    assert "`add_feedback`" not in extract_answer(FEEDBACK_QUESTION, passages, pages=pages).text


def test_further_sections_are_quoted_only_after_a_first_quote_from_their_page():
    # The first quote is from the feedback page; the further sections are the input page's.
    passages = [
        (1, "Input", MENTIONS),
        (2, "Handle feedback › Enable feedback actions on the client", CLIENT),
    ]
    answer = extract_answer(
        FEEDBACK_QUESTION, passages, pages=[INPUT_PAGE, FEEDBACK_PAGE], more=[SERVER_SECTION]
    )
    assert answer.covered and answer.cited[0] == 2, answer.text
    assert 6 not in answer.cited, answer.text
    # Nor without knowing the pages.
    assert 6 not in extract_answer(FEEDBACK_QUESTION, [passages[1]], more=[SERVER_SECTION]).cited


def test_a_further_section_is_never_the_first_quote():
    question = "where do I override add_feedback on the backend for thumbs clicks"
    passages = [(1, "Handle feedback › Enable feedback actions on the client", CLIENT)]
    answer = extract_answer(question, passages, pages=[FEEDBACK_PAGE], more=[SERVER_SECTION])
    assert answer.covered and answer.cited == (1, 6), answer.text


def test_the_offline_reply_reads_the_further_sections_from_the_tool_output():
    output = format_passages(
        FEEDBACK_QUESTION,
        [
            (1, result(FEEDBACK_PAGE + "#enable", "Enable feedback", CLIENT)),
            (2, result(INPUT_PAGE, "Input", MENTIONS)),
        ],
        more=[(3, result(FEEDBACK_PAGE + "#server", "Implement add_feedback on your server", SERVER))],
    )
    assert [p["number"] for p in json.loads(output)[TOP_PAGE_KEY]] == [3]
    reply = offline_reply(output, FEEDBACK_QUESTION)
    assert reply.answer.cited[0] == 1 and 3 in reply.answer.cited, reply.text


def result(url: str, heading: str, text: str) -> SearchResult:
    return SearchResult(
        title="Handle feedback",
        heading_path=["Handle feedback", heading],
        url=url,
        snippet="",
        score=1.0,
        text=text,
        source_path="feedback.md",
        collection="c",
        chunk_id=1,
    )


def test_an_answer_leaves_out_the_bullet_items_that_hold_nothing_of_the_question() -> None:
    passage = (
        "## Custom endpoints\n\nThe transport configuration lets you customize the default behavior:\n\n"
        "- `url`: Override the WebSocket endpoint\n- `headers`: Provide explicit headers such as auth headers\n"
        "- `api_key`: Pass an API key directly or via callback\n- `call_id`: Attach to an existing call\n"
    )
    answer = extract_answer("how do I override the websocket endpoint url", [(1, "Realtime", passage)])
    assert answer.covered
    assert answer.text == (
        "From “Custom endpoints”:\n> The transport configuration lets you customize the default behavior:\n"
        "> - `url`: Override the WebSocket endpoint\n> - … [1]"
    )
