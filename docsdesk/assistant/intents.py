"""What is decided from the reader's message alone, never from an answer: whether it asks to
reach a person (the offline model; a language model decides it through the `request_person` tool,
docsdesk.assistant.report), and whether it is small talk ("hi", "thanks!"), which the offline
model answers without searching and every turn records as such (`run.run_agent`)."""

from __future__ import annotations

import re

from docsdesk.assistant.turn_input import Turn
from docsdesk.core.terms import stem

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
PERSON_WORDS = frozenset(
    {"human", "person", "someone", "somebody", "support", "agent", "staff", "representative", "operator"}
)
REACH_WORDS = frozenset(
    {"talk", "speak", "contact", "reach", "connect", "chat", "escalate", "ticket", "need", "want", "get"}
)
_PERSON = frozenset(stem(w) for w in PERSON_WORDS)
_REACH = frozenset(stem(w) for w in REACH_WORDS)


def asks_for_a_person(question: str) -> bool:
    """Whether `question` asks to reach a person ("talk to support", "can I speak to a
    human?"): a word naming a person or support and a word asking to reach one."""
    stems = {stem(w.lower()) for w in _WORD.findall(question)}
    return bool(stems & _PERSON) and bool(stems & _REACH)


def _listed(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Small talk: a message made only of these words (and punctuation or emoji) is a greeting, thanks,
# a goodbye or an acknowledgement, not a question about the documentation. The offline model
# answers it in a sentence, without searching (a language model answers it in its own words).
_GREETING = _listed("hi hello hey hiya howdy greetings morning afternoon evening")
_THANKS = _listed("thanks thank thx ty cheers appreciated appreciate")
_GOODBYE = _listed("bye goodbye cya later")
_ACK = _listed(
    "ok okay k kk great cool perfect awesome nice got understood works worked helpful helped yes yep "
    "yeah sure excellent brilliant lovely amazing fixed solved sorted fine clear makes sense done"
)
_FILLER = _listed(
    "you u so much very a lot again there that it this all for the help me can could good oh ah wow now "
    "just really and guys man team bot assistant everyone folks is was has have i to of your"
)
_SOCIAL = _GREETING | _THANKS | _GOODBYE | _ACK | _FILLER
SMALL_TALK_REPLIES = {
    "greeting": "Hello! Ask me anything about the documentation: I search it and quote what answers, "
    "with links to the pages.",
    "thanks": "You're welcome! Ask again whenever something else comes up.",
    "goodbye": "Goodbye! Come back with any question about the documentation.",
    "ack": "Glad that helps. Anything else about the documentation?",
}


def small_talk(message: str) -> str | None:
    """The kind of small talk `message` is ("greeting", "thanks", "goodbye", "ack"), or None
    when it holds any other word: "thanks! and how do I retry?" is a question. A short message
    without words or a question mark ("👍") is an acknowledgement."""
    words = [w.lower() for w in _WORD.findall(message)]
    if not words:
        short = 0 < len(message.strip()) <= 8 and "?" not in message
        return "ack" if short else None
    if len(words) > 12 or not _SOCIAL.issuperset(words):
        return None
    for kind, vocabulary in (
        ("thanks", _THANKS),
        ("goodbye", _GOODBYE),
        ("greeting", _GREETING),
        ("ack", _ACK),
    ):
        if vocabulary.intersection(words):
            return kind
    return "greeting" if "help" in words else None


def small_talk_turn(turn: Turn) -> str | None:
    """The kind of small talk the turn's message is (`small_talk`), or None; a message with a
    quoted selection or an attached file is about them."""
    return None if turn.quote or turn.attachments else small_talk(turn.question)
