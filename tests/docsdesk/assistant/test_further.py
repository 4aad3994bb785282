"""The quotes after the first (docsdesk.assistant.further): the search's first passage is not
silenced by a lexical match elsewhere, and a later section of the first quote's page that says
how is quoted with the page's opening."""

from __future__ import annotations

import json

from docsdesk.assistant.answer import extract_answer
from docsdesk.assistant.further import MAX_FURTHER_CODE_CHARS
from docsdesk.assistant.offline import offline_reply

TOAST_QUESTION = "pop a toast in the frontend from python without waiting for anything back"
EFFECTS = (
    "## Trigger client-side effects\n\n"
    "Send `ClientEffectEvent` to trigger fire-and-forget UI work, such as showing a toast, "
    "without pausing the model stream."
)
CHOICES = (
    "## Read model choices on the server\n\n"
    "If the user does not pick anything explicit, `inference_options` may be `None`; fall back to "
    "your defaults."
)


def test_the_search_first_passage_is_quoted_when_a_lexical_match_elsewhere_wins():
    answer = extract_answer(
        TOAST_QUESTION,
        [(1, "Update the client › Trigger client-side effects", EFFECTS), (2, "Pick models", CHOICES)],
    )
    assert answer.covered
    assert answer.cited == (2, 1), answer.text  # the lexical match first, then the search's first
    assert "`ClientEffectEvent`" in answer.text


def test_the_first_passage_is_not_quoted_when_its_best_piece_scores_far_below():
    weak = "## Effects\n\nEffects are ephemeral and never stored in the thread history."
    answer = extract_answer(TOAST_QUESTION, [(1, "Effects", weak), (2, "Pick models", CHOICES)])
    assert answer.covered and answer.cited == (2,), answer.text


FEEDBACK_QUESTION = "thumbs up / thumbs down clicks — where do they arrive on the backend so I can store them"
CLIENT = (
    "# Handle feedback\n\n## Enable feedback actions on the client\n\n"
    "Collect thumbs up/down feedback. Enable the message actions by setting `threadItemActions.feedback`; "
    "ChatKit.js renders the controls and sends a request when a user clicks them."
)
MENTIONS = "### Handle clicks\n\nClicks on tagged entities call your `onClick` handler in the client."
SERVER = (
    "## Implement add_feedback on your server\n\n"
    "Override the `add_feedback` method on your backend to persist the signal."
)
PASSAGES = [
    (1, "Handle feedback › Enable feedback actions on the client", CLIENT),
    (2, "Accept rich input › Handle clicks", MENTIONS),
    (3, "Handle feedback › Implement add_feedback on your server", SERVER),
]
PAGES = ["https://docs.example/feedback/", "https://docs.example/input/", "https://docs.example/feedback/"]


def test_a_further_section_of_the_first_quotes_page_is_quoted():
    answer = extract_answer(FEEDBACK_QUESTION, PASSAGES, pages=PAGES)
    assert answer.covered and answer.cited[0] == 1, answer.text
    assert 3 in answer.cited and "`add_feedback`" in answer.text, answer.text
    # Without knowing the pages, the section about the server is not quoted: one word of the
    # question more is not enough for a further quote.
    alone = extract_answer(FEEDBACK_QUESTION, PASSAGES)
    assert "`add_feedback`" not in alone.text


def test_a_section_of_the_page_adding_none_of_the_question_is_not_quoted():
    same = "## Feedback kinds\n\nThe kind is positive or negative."
    passages = [PASSAGES[0], PASSAGES[1], (3, "Handle feedback › Feedback kinds", same)]
    answer = extract_answer(FEEDBACK_QUESTION, passages, pages=PAGES)
    assert answer.covered and 3 not in answer.cited, answer.text


def test_the_offline_reply_knows_each_passages_page_from_its_url():
    urls = [
        "https://docs.example/feedback/#enable-feedback-actions-on-the-client",
        "https://docs.example/input/#handle-clicks",
        "https://docs.example/feedback/#implement-add_feedback-on-your-server",
    ]
    output = json.dumps(
        {
            "query": FEEDBACK_QUESTION,
            "passages": [
                {"number": n, "title": title, "url": url, "text": text}
                for (n, title, text), url in zip(PASSAGES, urls, strict=True)
            ],
        }
    )
    reply = offline_reply(output, FEEDBACK_QUESTION)
    assert reply.outcome == "answered"
    assert reply.answer.cited[0] == 1 and 3 in reply.answer.cited
    assert "`add_feedback`" in reply.text


TRACING_QUESTION = "I don't want the server emitting any tracing spans at all, how do I rip that out"
TRACING = (
    "# OpenTelemetry\n\nThe server emits a span for every request it handles, and propagates "
    "the trace context it receives."
)
TURNING_OFF = (
    "## Turning it off\n\nRemove `OpenTelemetryMiddleware` from the middleware list: nothing is "
    "recorded then."
)
OTEL_PAGE = "https://docs.example/otel/"


def test_a_short_answer_gets_the_first_pages_best_further_section_without_a_new_word():
    # The further section says how ("Turning it off") in none of the question's words: a short
    # answer (the topic stated) quotes it all the same; a long one does not.
    passages = [(1, "OpenTelemetry", TRACING)]
    more = [(2, "OpenTelemetry › Turning it off", TURNING_OFF)]
    answer = extract_answer(TRACING_QUESTION, passages, pages=[OTEL_PAGE], more=more)
    assert answer.covered and answer.cited == (1, 2), answer.text
    assert "`OpenTelemetryMiddleware`" in answer.text
    # ... only the first of them, the search's best for the question on that page.
    other = (3, "OpenTelemetry › Exporters", "## Exporters\n\nPick an exporter for your backend.")
    answer = extract_answer(TRACING_QUESTION, passages, pages=[OTEL_PAGE], more=[other, more[0]])
    assert answer.cited == (1, 3), answer.text
    answer = extract_answer(
        TRACING_QUESTION, [(1, "OpenTelemetry", long_code(10))], pages=[OTEL_PAGE], more=more
    )
    assert answer.covered and 500 < len(answer.text) < 900 and 2 not in answer.cited, answer.text


def long_code(lines: int) -> str:
    """A section whose first quote is a sentence and a code block of `lines` lines."""
    code = "\n".join(f"span_{i} = tracer.start_span('request {i}')  # one tracing span" for i in range(lines))
    return f"# OpenTelemetry\n\nThe server emits tracing spans for every request it handles:\n\n```python\n{code}\n```\n"


def test_no_further_section_of_the_page_once_the_answer_is_long():
    # The same section about the server as in the test above, after a first quote of more than
    # MAX_PAGE_ANSWER_CHARS: the answer shows enough of the page already.
    feedback = "## Enable feedback actions on the client\n\nEnable thumbs up/down feedback in the client:\n\n"
    code = "\n".join(
        f"thumbs_{i} = chatkit.feedback('up', 'down')  # thumbs up/down control {i}" for i in range(14)
    )
    passages = [(1, PASSAGES[0][1], f"{feedback}```ts\n{code}\n```\n"), PASSAGES[1], PASSAGES[2]]
    answer = extract_answer(FEEDBACK_QUESTION, passages, pages=PAGES)
    assert answer.covered and answer.cited == (1,) and len(answer.text) > 900, answer.text
    shorter = [(1, PASSAGES[0][1], f"{feedback}```ts\n{code[:300]}\n```\n"), PASSAGES[1], PASSAGES[2]]
    assert extract_answer(FEEDBACK_QUESTION, shorter, pages=PAGES).cited == (1, 3)


def test_a_further_quote_holds_no_long_code_block():
    def turning_off(lines: int) -> tuple[int, str, str]:
        code = "\n".join(f"app.middleware.remove(OpenTelemetryMiddleware)  # step {i}" for i in range(lines))
        return (
            2,
            "OpenTelemetry › Turning it off",
            f"## Turning it off\n\nRemove the middleware:\n\n```python\n{code}\n```\n",
        )

    passages = [(1, "OpenTelemetry", TRACING)]
    short = extract_answer(TRACING_QUESTION, passages, pages=[OTEL_PAGE], more=[turning_off(3)])
    assert short.cited == (1, 2) and "OpenTelemetryMiddleware" in short.text, short.text
    assert len(turning_off(14)[2]) > MAX_FURTHER_CODE_CHARS
    long = extract_answer(TRACING_QUESTION, passages, pages=[OTEL_PAGE], more=[turning_off(14)])
    assert long.covered and long.cited == (1,), long.text
