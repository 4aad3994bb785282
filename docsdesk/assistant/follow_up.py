"""A follow-up question without a language model: "and where does my server receive that?" leans
on the reader's previous question for its topic, which the offline model then searches with.

A question leans on an earlier one when it points back ("it", "that", "them"), opens as a
continuation ("and ...", "what about ..."), or names at most two things of its own ("which
class?"). Its search then also holds what the previous question asked about, in the reader's
words (and the one before, when the previous one leaned on it too); a question naming the page
("this page", "here") is about the page instead (`docsdesk.assistant.offline.search_query`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from docsdesk.assistant.answer import asks_about_the_page
from docsdesk.assistant.intents import small_talk
from docsdesk.assistant.words import STOP_WORDS, question_terms
from docsdesk.core.terms import QUESTION_WORDS

_POINTS_BACK = re.compile(
    r"\b(?:it|its|it's|that|this|these|those|they|them|their|there|same|one|ones)\b", re.IGNORECASE
)
_CONTINUES = re.compile(
    r"^\W*(?:and|also|but|or|so|then|what about|how about|same for|instead)\b", re.IGNORECASE
)
# ... of which these point at something said before rather than at the page ("this one")
_POINTS_TO_EARLIER = re.compile(r"\b(?:it|its|it's|that|they|them|their|those|same)\b", re.IGNORECASE)
# "this page", "here", "above": the reader's page, not an earlier question
_NAMES_THE_PAGE = re.compile(r"\b(?:page|here|above|below|current|section)\b", re.IGNORECASE)
_OWN = frozenset({"my", "our", "your", "their"})  # "my Zorbly app": the reader's own, kept with it
MAX_OWN_TERMS = 2  # a question naming this few things of its own leans on the one before
TOPIC_LIMIT = 160  # characters of earlier questions' words added to the search


def leans_on_earlier(question: str) -> bool:
    """Whether `question` takes its topic from the reader's previous question."""
    if not question.strip() or _NAMES_THE_PAGE.search(question):
        return False
    if asks_about_the_page(question):  # no topic of its own: "what happens when it goes over?"
        return bool(_POINTS_TO_EARLIER.search(question))  # not "And this one?" (the page)
    return (
        bool(_POINTS_BACK.search(question) or _CONTINUES.search(question))
        or len(question_terms(question)) <= MAX_OWN_TERMS
    )


def _asked(question: str) -> str:
    """`question` without its opening question and stop words ("how do I", "can you"; not "my",
    which says that what follows is the reader's own) and its closing punctuation: what it asks
    about, in the reader's words (phrases such as "thumbs up" and "my Zorbly app" stay whole)."""
    words = question.split()
    while (
        words
        and (word := words[0].strip("?,.!:;").lower()) in QUESTION_WORDS | STOP_WORDS
        and word not in _OWN
    ):
        words.pop(0)
    return " ".join(words).rstrip("?!.,;: ")


def _topical(earlier: Sequence[str]) -> list[str]:
    """The earlier questions that name a topic: not small talk ("thanks!"), not a question about
    the page itself ("What is this page about?")."""
    return [text for text in earlier if small_talk(text) is None and not asks_about_the_page(text)]


def leaned_on(question: str, earlier: Sequence[str]) -> str | None:
    """The reader's previous question that `question` says it leans on, as they asked it, or
    None: what the turn records for the insights, whatever model answers it. Only a question
    that points back ("can I turn it off?") or continues ("and in code?") counts; a merely short
    one ("Is there a Windows installer?") is counted as a question of its own."""
    topical = _topical(earlier)
    if not topical or _NAMES_THE_PAGE.search(question):
        return None
    says_so = _POINTS_TO_EARLIER.search(question) or _CONTINUES.search(question)
    return topical[-1] if says_so else None


def earlier_topic(question: str, earlier: Sequence[str]) -> str:
    """What the reader's earlier questions that `question` leans on ask about ("" when it does
    not lean on them, or there are none): the previous question, and the one before while the
    previous one leaned on it too, within TOPIC_LIMIT characters. Small talk and questions about
    the page name no topic to lean on (`_topical`)."""
    earlier = _topical(earlier)
    if not earlier or not leans_on_earlier(question):
        return ""
    chosen = [earlier[-1]]
    for before in reversed(earlier[:-1]):
        if not leans_on_earlier(chosen[0]):
            break
        chosen.insert(0, before)
    topic = " ".join(part for part in map(_asked, chosen) if part)
    return topic if len(topic) <= TOPIC_LIMIT else topic[:TOPIC_LIMIT].rsplit(" ", 1)[0]
