"""The end-to-end tests of tests/test_end_to_end.py over the real ChatKit Python docs."""

from __future__ import annotations

import pytest

from tests.corpus_tier.conftest import CHATKIT
from tests.test_end_to_end import (  # noqa: F401 - the tests run here with this module's doc_set
    DocSet,
    chatkit_docs,
    test_cli_serve_indexes_docs_then_answers,
    test_offline_model_answers_with_the_annotations_guide,
    test_openai_compatible_endpoint_works_unchanged,
)


@pytest.fixture(scope="module")
def doc_set() -> DocSet:
    # The offline model quotes only what holds the question's words (issue #11): the ChatKit
    # docs say "attach sources", not "show sources under an answer".
    return DocSet(
        CHATKIT,
        "https://openai.github.io/chatkit-python/",
        "How do I attach sources to an assistant message?",
    )
