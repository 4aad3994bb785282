"""The quotes after the first (docsdesk.assistant.further): the search's first passage is not
silenced by a lexical match elsewhere, and a later section of the first quote's page that says
how is quoted with the page's opening."""

from __future__ import annotations

import json

from docsdesk.assistant.answer import extract_answer
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
