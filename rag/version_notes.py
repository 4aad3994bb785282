"""Questions about a version change, answered by the pages about version changes.

A reader who upgraded ("after upgrading, FileAttachment has no upload_url anymore", "we bumped
openai-chatkit from 1.4 to 1.5 and now ...") asks what changed between two releases. The answer
is on a changelog, release-notes or migration page, whose own words (a version number, "breaking
change") the reader rarely uses: their words are the symptom's, which the guide to the feature
matches as well or better. So when a query says that the version changed (`version_change`),
the pages among the best ones that are about versions (`VERSIONED_HEADING`: at least half of
their sections' headings, with the page title, name a version, such as `1.5.0`, `0.8.x ➡️ 1.x.x`
or `v2`) gain VERSION_NOTES_BONUS in their page evidence (`rag.page_evidence`).

The other way round, release notes and migration guides name nearly every feature in a line or
two, so for a question that does not say the version changed, they give way to the pages about
the feature: their chunks count OTHER_QUESTIONS_FACTOR times as much.

Both sides are read from structure, not from a list of page names: the query's verbs of a
version change and a version range ("from v9 to v10"), the pages' versioned headings.
"""

from __future__ import annotations

import re
from collections.abc import Collection

VERSION_NOTES_BONUS = 0.3  # added to a versioned page's evidence (the best page's evidence counts 0.3)
OTHER_QUESTIONS_FACTOR = 0.8  # a versioned page's chunks, for a question about something else

# "upgraded", "bumped", "downgrading", "after updating the sdk", "the new minor version",
# "what changed", "X was removed", "no longer exists", "renamed", "deprecated", "from 1.4 to 1.5".
_VERSION_CHANGE = re.compile(
    r"\b(?:upgrad\w*|downgrad\w*|bump(?:ed|ing|s)?"
    r"|updat(?:ed|ing)\s+(?:the\s+|our\s+|my\s+)?(?:sdk|package|library|lib|dependenc\w+|version)"
    r"|new(?:er)?\s+(?:minor\s+|major\s+)?version|what\s+changed"
    r"|(?:was|were|got|been)\s+(?:removed|renamed|dropped)|renamed|deprecated"
    r"|no\s+longer\s+(?:exists?|available|there|supported))\b"
    r"|\bfrom\s+v?\d+(?:\.[\dx]+)*\s+to\s+v?\d+",
    re.IGNORECASE,
)

# A version in a heading (PostgreSQL's regular expressions, case-insensitive): dotted numbers,
# `x` standing for any ("1.5.0", "0.8.x", "9.x.x"), not inside a longer token; or "v2", "V10".
VERSIONED_HEADING = r"(?<![[:alnum:]_.])v?[0-9]+(\.([0-9]+|x))+(?![[:alnum:]_.])|\mv[0-9]+\M"


def version_change(query: str) -> bool:
    """Whether `query` says the reader changed the version of what the docs describe."""
    return _VERSION_CHANGE.search(query) is not None


def versioned(sections: int, versioned_sections: int) -> bool:
    """Whether a page is about versions: at least half of its sections' headings name one."""
    return sections > 0 and 2 * versioned_sections >= sections


def for_other_questions(
    scores: dict[int, float], pages: dict[int, str], about_versions: Collection[str]
) -> dict[int, float]:
    """`scores` with the chunks of the pages `about_versions` multiplied by OTHER_QUESTIONS_FACTOR
    (for a question that does not say the version changed)."""
    if not about_versions:
        return scores
    return {
        cid: s * OTHER_QUESTIONS_FACTOR if pages[cid] in about_versions else s for cid, s in scores.items()
    }
