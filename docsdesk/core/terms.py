"""Search terms beyond what PostgreSQL's English parser makes of a text.

- Identifiers: `set_default_openai_key`, `ChatKitServer`, `Runner.run_streamed` match both
  their parts and their whole. PostgreSQL splits `snake_case` into its words but keeps a
  `camelCase` word whole and may read a dotted name as a host name; `identifier_terms` adds
  the parts, adjacent pairs of parts and the whole written without separators, so the same
  expansion of the chunk (stored in `docs_chunks.identifiers`) and of the query meet.
- Question words: "how do I ...", "what is the way to ..." say that something is asked,
  not what; `question_text` drops them from the query (the stop-word list of the 'english'
  configuration drops the rest of the small words).
- Stems: `stem` is the Snowball English stemmer, the one PostgreSQL's 'english' configuration
  applies to chunks and queries, so code that compares words in Python (the offline answerer)
  meets "retries" with "retry" exactly where search does.
"""

from __future__ import annotations

import functools
import itertools
import re

import snowballstemmer

# A word with inner capitals, underscores, dots or colons between word characters.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:(?:\.|::?)[A-Za-z_][A-Za-z0-9_]*)*")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_SEPARATORS = re.compile(r"[._:]+")
MAX_IDENTIFIER_TERMS = 4000  # per chunk: keep the stored column bounded

QUESTION_WORDS = frozenset(
    [
        "how",
        "what",
        "why",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "whose",
        "can",
        "could",
        "would",
        "should",
        "shall",
        "may",
        "might",
        "must",
        "do",
        "does",
        "did",
        "done",
        "i",
        "me",
        "my",
        "we",
        "us",
        "our",
        "you",
        "your",
        "is",
        "are",
        "am",
        "be",
        "was",
        "were",
        "there",
        "here",
        "please",
        "tell",
        "explain",
        "way",
        "ways",
        "possible",
        "want",
        "wanted",
        "need",
        "needed",
        "trying",
        "try",
        "know",
        "anyone",
        "someone",
        "something",
        "thing",
        "things",
        "able",
        "use",
        "using",
        "used",
        "happen",
        "happens",
        "happened",
        # "what does X mean": the form of the question, not its topic
        "mean",
        "means",
        # contractions typed without their apostrophe
        "whats",
        "hows",
        "wheres",
        "im",
        "ive",
        "youre",
        "dont",
        "doesnt",
        "didnt",
        "cant",
        "couldnt",
        "shouldnt",
        "wouldnt",
        "wont",
        "isnt",
        "arent",
        "wasnt",
    ]
)
PRONOUNS = frozenset(["he", "she", "it", "they", "that", "this", "let", "who", "there"])
_WORD = re.compile(r"[\w'’]+|[^\w\s]+|\s+")


_HINT = re.compile(r"[a-z][A-Z]|[A-Za-z0-9][_.:]+[A-Za-z_]")


def _is_identifier(token: str) -> bool:
    return _HINT.search(token) is not None


def _parts(token: str) -> list[str]:
    parts: list[str] = []
    for piece in _SEPARATORS.split(token):
        parts.extend(_CAMEL.findall(piece))
    return [p.lower() for p in parts if p]


def identifier_terms(text: str) -> str:
    """Extra words for the identifiers in `text`: parts, adjacent pairs, whole (deduplicated)."""
    seen: dict[str, None] = {}
    for match in _IDENTIFIER.finditer(text):
        token = match.group(0)
        if not _is_identifier(token):
            continue
        parts = _parts(token)
        if len(parts) < 2:
            continue
        words = [*parts, *(a + b for a, b in itertools.pairwise(parts)), "".join(parts)]
        for segment in _SEPARATORS.split(token):  # each dotted segment whole: run_streamed
            segment_parts = _parts(segment)
            if len(segment_parts) > 1:
                words.append("".join(segment_parts))
        for word in words:
            seen.setdefault(word)
        if len(seen) >= MAX_IDENTIFIER_TERMS:
            break
    return " ".join(seen)


# Contractions: "I'm", "don't", "what's", "you'll" are question or stop words with a clitic
# that PostgreSQL's parser would keep as a one-letter lexeme ("m", "t", "ll"); a possessive
# ("agent's") keeps its word.
_CONTRACTION = re.compile(r"(?i)^(\w+)['’](m|re|ve|ll|d|s|t)$")
_NEGATED_AUXILIARY = re.compile(r"(?i)^\w+n['’]t$")


def _question_word(token: str) -> bool:
    word = token.lower().strip("'’")
    if word in QUESTION_WORDS or _NEGATED_AUXILIARY.match(word):
        return True
    match = _CONTRACTION.match(word)
    return match is not None and (match.group(1) in QUESTION_WORDS or match.group(1) in PRONOUNS)


def _plain(token: str) -> str:
    """A possessive or other clitic form reduced to its word ("agent's" -> "agent")."""
    match = _CONTRACTION.match(token)
    return match.group(1) if match else token


def question_text(query: str) -> str:
    """The query without question words (kept whole if that would leave nothing)."""
    kept = [_plain(t) for t in _WORD.findall(query) if not _question_word(t)]
    stripped = "".join(kept).strip()
    return stripped if any(ch.isalnum() for ch in stripped) else query


def query_text(query: str) -> str:
    """What the query's lexemes are read from: its words minus question words, plus the
    identifier expansion."""
    words = question_text(query)
    extra = identifier_terms(query)
    return f"{words} {extra}" if extra else words


_ENGLISH = snowballstemmer.stemmer("english")


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The stem of `word` (lowercased) by the Snowball English stemmer, as PostgreSQL's
    `english_stem` dictionary gives it."""
    return _ENGLISH.stemWord(word.lower())
