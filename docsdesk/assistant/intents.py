"""What the offline model decides from the reader's question alone, beyond searching: whether
it asks to reach a person. A language model decides the same through the `request_person`
tool (docsdesk.assistant.report). Read from the question, never from an answer."""

from __future__ import annotations

import re

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
