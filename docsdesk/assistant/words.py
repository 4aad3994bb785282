"""The words of a question and of a passage, as the offline answerer compares them: content
terms (stop words and question words dropped, Snowball stems, identifier parts), and which of
a question's words the documentation never uses yet are not the reader's subject.

A word no page uses is evidence that the docs lack the question's topic only when it names
something: a reader's own name for their app or company ("my Zorbly app", "our Acme portal")
is context, not the subject, and so is a version, a number or a time ("v10", "8am", "30s").
A product or service the question names that no page mentions ("a Slack bot", "TOTP", "on AWS
Lambda", "with PyInstaller") is such evidence on its own (`names_a_product`): a name, unlike a
reader's everyday word ("sneak", "sidebar"), has no synonym the docs could be using instead. A
camel-case word is such a name unless it is built like the docs' own identifiers (it ends with
the part theirs end with: `BillingAgent`), has many parts, or is an error the reader quotes.
"""

from __future__ import annotations

import re

from docsdesk.core.terms import QUESTION_WORDS, identifier_terms, stem

_STOP_WORDS_TEXT = (
    "a an and the of to in on at for from by with without into onto about as or if then than so "
    "it its it's this that these those be been being is are was were am has have had having not "
    "no nor but also just only very too all any some each every other such own same more most "
    "many much less will get gets got go goes make makes one ones there their them they he she "
    "his her him i me my we our you your yours via per up out over under again further once while "
    # what is left of a contraction or a prefix once split at its apostrophe or hyphen
    # ("we're", "doesn't", "re-run"), typed with or without the apostrophe
    "re ve ll don doesn didn isn aren wasn weren won hasn haven shouldn couldn wouldn "
    "dont doesnt didnt isnt arent wasnt cant wont shouldnt couldnt wouldnt"
)
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*|[0-9]+(?:\.[0-9]+)*")
_POSSESSIVE = frozenset({"my", "our", "your", "their"})
# What a reader names after "my" or "our": their app, site, company, team, project, their users.
_OWN_THINGS_TEXT = (
    "app apps application applications site website portal company org organization organisation "
    "team project product platform startup business shop users customers employees staff"
)
_OWN_THINGS = frozenset(_OWN_THINGS_TEXT.split())
_NUMERIC = re.compile(r"^v?\d[\w.]*$", re.IGNORECASE)
# A product's or service's name as typed: an acronym ("AWS", "TOTP"), a capitalised word
# ("Slack") or a styled one (`_STYLED`: "gRPC"); not an identifier (inner capitals after a lower-case letter, digits, `_`, `.`).
_ACRONYM = re.compile(r"^[A-Z]{2,6}$")
_CAPITALISED = re.compile(r"^[A-Z][a-z]{2,}$")
# A name styled with a lower-case prefix before an acronym: "gRPC", "eBPF", "iOS", "macOS".
_STYLED = re.compile(r"^[a-z]{1,3}(?:[A-Z]{2,}[a-z]*|OS)$")
# A name in camel case ("PyInstaller", "GraphQL", "JetBrains"): its parts, capitalised words or
# acronyms. More than MAX_NAME_PARTS parts is a class or an error ("CollectionWasNotInitialized").
_CAMEL_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z][a-z]+|[A-Z]+")
_CAMEL_WORD = re.compile(
    r"\b[A-Z][A-Za-z]*[a-z][A-Z][A-Za-z]*\b"
)  # an inner capital after a lower-case letter
MAX_NAME_PARTS = 3
# how the names of exceptions end (`ImportError`, `KeyboardInterrupt`, `SystemExit`, `StopIteration`)
_ERROR_PARTS = frozenset({"error", "exception", "warning", "interrupt", "exit", "iteration"})
_ERROR_WORDS = re.compile(r"\b(?:errors?|exceptions?|raised?|raises|traceback)\b", re.IGNORECASE)
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|\n)$")
# "in CI", "in Zorbly": the reader's setting; not the end of a hyphenated word ("a built-in Redis")
_WHERE = re.compile(r"(?<![\w-])(?:in|inside|within|at|from)\s+$", re.IGNORECASE)
_STATUS_CODE = re.compile(r"\b[1-5]\d\d(?:\s+[A-Z][A-Za-z]*)*\s+$")  # "422 Unprocessable Entity"


def terms(text: str) -> set[str]:
    """The content terms of `text`: stemmed words and identifier parts, minus stop words."""
    words = _WORD.findall(text) + identifier_terms(text).split()
    return {stem(w) for w in words if w.lower() not in STOP_WORDS and len(w) > 1}


def question_terms(question: str) -> set[str]:
    """The question's content terms: its words (an identifier counts once, as its whole; its
    parts are what the passages' identifiers expand to; the words of a snake_case or dotted
    name count too), question and stop words dropped."""
    kept: set[str] = set()
    for token in re.findall(r"[A-Za-z_][\w.:]*[\w]|[A-Za-z0-9]+", question):
        if identifier_terms(token):
            kept.add(stem("".join(_WORD.findall(token)).lower()))
            if "_" in token or "." in token:  # snake_case and dotted: the words typed count too
                kept.update(
                    stem(w) for w in _WORD.findall(token) if w.lower() not in STOP_WORDS and len(w) > 1
                )
        elif token.lower() not in QUESTION_WORDS and token.lower() not in STOP_WORDS and len(token) > 1:
            kept.add(stem(token))
    return kept or terms(question)


def named_terms(question: str) -> set[str]:
    """The terms of the identifiers the question names (`MaxTurnsExceeded`, `set_default_openai_key`),
    each as its whole: a passage holding one is about what the reader asks."""
    return {
        stem("".join(_WORD.findall(token)).lower())
        for token in re.findall(r"[A-Za-z_][\w.:]*[\w]", question)
        if identifier_terms(token)
    }


def readers_own(question: str, word: str) -> bool:
    """Whether `word` (one the documentation never uses) is the reader's context rather than
    their subject: a capitalised name after "my", "our", "your" or "their" that names their app,
    site, company, team or project ("my Zorbly app", "our Acme Portal": `_OWN_THINGS`), or a
    version, number or time. A name after "my" that names something else is a product the reader
    uses ("my Pinecone index", "my GraphQL API"), and may be what they ask about."""
    if _NUMERIC.match(word):
        return True
    if not (word[:1].isupper() or _STYLED.match(word)):  # "our brand" is a topic; "our Zorbly portal" a name
        return False
    tokens = [token.strip(".,;:!?") for token in re.findall(r"[\w'’.-]+", question)]
    for at, token in enumerate(tokens):
        if token != word:
            continue
        before = at - 1
        while before >= 0 and tokens[before][:1].isupper():  # the name's earlier words
            before -= 1
        after = at + 1
        while after < len(tokens) and tokens[after][:1].isupper():  # the name's later words
            after += 1
        named = {token.casefold() for token in tokens[before + 1 : after + 1]}
        if before >= 0 and tokens[before].casefold() in _POSSESSIVE and named & _OWN_THINGS:
            return True
    return False


def camel_parts(word: str) -> list[str]:
    """The parts of a camel-case word ("PyInstaller": Py, Installer; "GraphQL": Graph, QL); []
    for a word that is not one (one part, lower-case start, digits, `_`)."""
    if not _CAMEL_WORD.fullmatch(word):
        return []
    parts = _CAMEL_PARTS.findall(word)
    return parts if "".join(parts) == word and len(parts) > 1 else []


def identifier_kinds(text: str) -> frozenset[str]:
    """The last parts of the camel-case identifiers `text` uses ("RunContextWrapper": wrapper,
    "ModelBehaviorError": error), lower-cased: the kinds of thing the docs' own names end with."""
    return frozenset(parts[-1].lower() for word in _CAMEL_WORD.findall(text) if (parts := camel_parts(word)))


def _camel_name(question: str, word: str, kinds: frozenset[str]) -> bool:
    """Whether camel-case `word` is a product's name ("with PyInstaller", "JetBrains") rather
    than an identifier of the reader's code, built like the docs' own (`BillingAgent` where the
    docs name `Agent`s: its last part is one of `kinds`), or an error they quote."""
    parts = camel_parts(word)
    if not parts or len(parts) > MAX_NAME_PARTS:
        return False
    last = parts[-1].lower()
    return last not in _ERROR_PARTS and last not in kinds and not _ERROR_WORDS.search(question)


def names_a_product(question: str, word: str, kinds: frozenset[str] = frozenset()) -> bool:
    """Whether `word` (one the documentation never uses) names a product or service that is the
    subject of `question` ("as a Slack bot", "deploy on AWS Lambda", "an authenticator app
    (TOTP)", "package it with PyInstaller"): an acronym, a capitalised word or a camel-case name
    (`_camel_name`; `kinds`: the last parts of the passages' identifiers) that does not start a
    sentence, is not the reader's own name (`readers_own`) nor where their work happens ("my
    tests in CI", "billing in Zorbly"), and is not part of an HTTP status quoted after its code
    ("422 Unprocessable Entity")."""
    if readers_own(question, word):
        return False
    if not (
        _ACRONYM.match(word)
        or _CAPITALISED.match(word)
        or _STYLED.match(word)
        or _camel_name(question, word, kinds)
    ):
        return False
    for match in re.finditer(rf"(?<![\w.-]){re.escape(word)}(?![\w-])", question):
        before = question[: match.start()]
        if not any(rule.search(before) for rule in (_SENTENCE_START, _STATUS_CODE, _WHERE)):
            return True
    return False


_ARTICLE = r"(?:(?:a|an|the|some)\s+)?"


def alternatives(question: str, word: str) -> list[str]:
    """The words `word` is offered as an alternative to or listed with ("an image or a PDF",
    "PDF/PNG", "Claude and Gemini"): the word right before or after it across "or", "and" or
    "/" (an article skipped)."""
    found = []
    name = re.escape(word)
    for pattern in (
        rf"([A-Za-z][\w-]*)\s*(?:\bor\b|\band\b|/)\s*{_ARTICLE}{name}(?![\w-])",
        rf"(?<![\w-]){name}\s*(?:\bor\b|\band\b|/)\s*{_ARTICLE}([A-Za-z][\w-]*)",
    ):
        found += [m.group(1) for m in re.finditer(pattern, question, re.IGNORECASE)]
    return [w for w in found if w.lower() not in STOP_WORDS]
