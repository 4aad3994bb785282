"""What the reader is told when the docs do not cover the question: what is missing, from
the answerer's own evidence, as plain text citing nothing."""

from __future__ import annotations

import re

from docsdesk.assistant.answer import OfflineAnswer
from docsdesk.assistant.not_covered import OFFLINE_NOT_COVERED, OFFLINE_NOTHING_FOUND, refusal_text
from docsdesk.core.turn import NotCoveredReason as Reason


def test_each_reason_says_what_is_missing():
    product = refusal_text(OfflineAnswer.not_covered(Reason.UNKNOWN_PRODUCT, ["Pinecone"]))
    assert product.startswith("The documentation does not mention “Pinecone”")
    words = refusal_text(OfflineAnswer.not_covered(Reason.ABSENT_TERMS, ["conda", "Windows"]))
    assert words.startswith("No page of the documentation uses the words “conda”, “Windows”")
    one = refusal_text(OfflineAnswer.not_covered(Reason.ABSENT_TERMS, ["helm"]))
    assert "uses the word “helm”:" in one
    figure = refusal_text(OfflineAnswer.not_covered(Reason.UNSTATED_FIGURE))
    assert "does not seem to state the figure you ask for" in figure
    assert refusal_text(OfflineAnswer.not_covered(Reason.NO_MATCHING_SECTION)) == OFFLINE_NOT_COVERED
    assert refusal_text(OfflineAnswer.not_covered(Reason.NO_RESULTS, ["x"])) == OFFLINE_NOTHING_FOUND
    # Without the words to name, the general sentence.
    assert refusal_text(OfflineAnswer.not_covered(Reason.ABSENT_TERMS)) == OFFLINE_NOT_COVERED


def test_the_readers_words_are_shown_as_plain_words_and_at_most_three():
    text = refusal_text(
        OfflineAnswer.not_covered(Reason.ABSENT_TERMS, ["[click](https://evil.test)", "<b>x</b>", "c", "d"])
    )
    assert not re.search(r"[\[\]()<>]", text) and "“d”" not in text
    assert refusal_text(OfflineAnswer.not_covered(Reason.UNKNOWN_PRODUCT, ["a" * 500])).count("a" * 41) == 0
