"""What the offline model tells the reader when the documentation does not cover the
question: what is missing, from the evidence the answerer refused on (`OfflineAnswer.reason`
and `absent`), never guessed, and citing nothing."""

from __future__ import annotations

import re

from docsdesk.assistant.answer import OfflineAnswer
from docsdesk.core.turn import NotCoveredReason

OFFLINE_NOTHING_FOUND = "I couldn't find anything relevant to your question in the documentation."
OFFLINE_TRY_OTHER_WORDS = "Try other words, or ask about a topic of these docs."
OFFLINE_NOT_COVERED = (
    "The documentation does not seem to cover this question: none of the passages the search "
    f"found answers it. {OFFLINE_TRY_OTHER_WORDS}"
)


def refusal_text(answer: OfflineAnswer) -> str:
    """What the reader is told when `answer` is not covered: what is missing, from the
    evidence the answerer refused on (the words no page uses, or the figure no passage states),
    never guessed. The reader's words are shown as plain words, without markup."""
    words = [w for w in (_plain_word(w) for w in answer.absent[:3]) if w]
    named = ", ".join(f"“{w}”" for w in words)
    if answer.reason == NotCoveredReason.NO_RESULTS:
        return OFFLINE_NOTHING_FOUND
    if answer.reason == NotCoveredReason.UNKNOWN_PRODUCT and words:
        return f"The documentation does not mention {named}, so it does not cover this question. {OFFLINE_TRY_OTHER_WORDS}"
    if answer.reason == NotCoveredReason.ABSENT_TERMS and words:
        return (
            f"No page of the documentation uses {'the word' if len(words) == 1 else 'the words'} "
            f"{named}: it does not seem to cover this question. {OFFLINE_TRY_OTHER_WORDS}"
        )
    if answer.reason == NotCoveredReason.UNSTATED_FIGURE:
        return (
            "The documentation does not seem to state the figure you ask for: none of the passages "
            f"the search found gives it. {OFFLINE_TRY_OTHER_WORDS}"
        )
    return OFFLINE_NOT_COVERED


def _plain_word(word: str) -> str:
    return re.sub(r"[^\w.+#/-]", "", word)[:40]
