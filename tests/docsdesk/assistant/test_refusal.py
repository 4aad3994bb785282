"""A question asking the documentation for a figure (a count, a limit, a default, a duration, a
size, a price, a date) is answered only from a passage stating one for what it asks; otherwise
the offline answer says the docs do not cover it, citing nothing (`unstated_figure`). Passages
are excerpts of the shared corpora's pages (the Agents SDK's and FastAPI Users')."""

from __future__ import annotations

import pytest

from docsdesk.assistant.answer import extract_answer
from docsdesk.assistant.pieces import split_passage
from docsdesk.assistant.refusal import asked_figure, has_amount, none_states
from docsdesk.assistant.words import terms

TRACING = (
    "# Tracing\n\nThe Agents SDK includes built-in tracing, collecting a comprehensive record of events "
    "during an agent run: LLM generations, tool calls, handoffs, guardrails, and even custom events that "
    "occur. Using the [Traces dashboard](https://platform.openai.com/traces), you can debug, visualize, and "
    "monitor your workflows during development and in production.\n\n"
    "Tracing is enabled by default. You can disable it in three common ways:\n\n"
    "1. You can globally disable tracing by setting the env var `OPENAI_AGENTS_DISABLE_TRACING=1`\n"
    "2. You can globally disable tracing in code with `set_tracing_disabled(True)`\n"
    "3. You can disable tracing for a single run by setting `agents.run.RunConfig.tracing_disabled` to `True`\n"
)
TRACES = (
    '## Traces and spans\n\n- **Traces** represent a single end-to-end operation of a "workflow". '
    "They're composed of Spans.\n- `disabled`: If True, the trace will not be recorded.\n"
)
RUNNING = (
    "## The agent loop\n\n1. We call the LLM for the current agent, with the current input.\n"
    "2. The LLM produces its output.\n"
    "3. If we exceed the `max_turns` passed, we raise a `MaxTurnsExceeded` exception. Pass "
    "`max_turns=None` to disable this turn limit. The default is 10 turns.\n"
)
USER_MANAGER = (
    "## Attributes\n\n* `reset_password_token_secret`: Secret to encode reset password token.\n"
    "* `reset_password_token_lifetime_seconds`: Lifetime of reset password token. Defaults to 3600.\n"
    "* `verification_token_secret`: Secret to encode verification token.\n"
)


@pytest.mark.parametrize(
    ("question", "counted"),
    [
        ("how many days are traces kept in the traces dashboard before they get deleted?", {"day"}),
        ("is there a max number of handoffs I can attach to a single agent before it breaks", {"handoff"}),
        (
            "what's the default max file size for attachments if I don't configure anything?",
            {"file", "attach"},
        ),
        ("by default how many tool calls will one server run at the same time?", {"tool", "call"}),
        ("how much does each web search tool call cost me?", {"cost"}),  # what "how much" measures
        ("how long does openai keep the telemetry the chat iframe sends?", set()),  # a duration
    ],
)
def test_questions_asking_for_a_figure(question, counted):
    figure = asked_figure(question)
    assert figure is not None and figure.counted == frozenset(counted)


@pytest.mark.parametrize(
    "question",
    [
        "how many tokens did my run use?",  # a measurement of the reader's own run
        "my function tool sometimes hangs on a slow API, can I cap how long it runs?",  # a way to set one
        "I have no idea how many items there will be in total",  # not the ask
        "how do I rate limit how many messages a user can send?",
        "what is the default model?",  # a default, not a figure
        # a default or a duration named without asking its figure (covered dev questions)
        "what's the difference between running on stdio and on http, which is the default?",
        "ModelSettings timeout for a model call",
        "set a timeout on a function tool",
        "data retention: delete old threads and avoid storing PII",
    ],
)
def test_questions_not_asking_for_a_figure(question):
    assert asked_figure(question) is None


def test_when_a_release_comes_out_asks_for_a_date():
    figure = asked_figure("when is 3.0 coming out? need a date to plan the migration")
    assert figure is not None and figure.date and figure.counted == frozenset({"3.0"})


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("The default is five attempts.", True),
        ("Keep at most 50 annotations.", True),
        ("`JWTStrategy(secret=SECRET, lifetime_seconds=3600)`", True),
        ("| `max_sessions` | `10_000` | Refuses to open a session beyond that many. |", True),
        ("Pass `max_turns=None` to disable this turn limit.", True),  # a setting naming a limit
        ("1. We call the LLM for the current agent.", False),  # a list's numbering
        ("Upgrade to 1.5.0 for the new store.", False),  # a version
        ("Point the client at `http://localhost:8000/mcp`.", False),  # a port
        ("Use `gpt-4o` with the SEP-2577 handler.", False),  # digits inside names
        ("Choose two-phase uploads for cloud storage.", False),
        ("Once the hostname answers, put more than one worker behind it.", False),
    ],
)
def test_what_states_an_amount(text, amount):
    assert has_amount(text) is amount


def pieces(text: str):
    found = split_passage(text, 1, 0, "Page")
    for piece in found:
        piece.terms = terms(piece.text)
    return found


def test_a_figure_no_passage_states_is_not_covered():
    passages = [(1, "Tracing", TRACING), (2, "Tracing › Traces and spans", TRACES)]
    question = "how many days are traces kept in the traces dashboard before they get deleted?"
    # Every passage is about traces: the words alone would quote them.
    assert extract_answer("where is the traces dashboard", passages).covered
    answer = extract_answer(question, passages)
    assert not answer.covered and answer.reason == "unstated_figure" and answer.cited == ()
    figure = asked_figure(question)
    assert figure is not None and none_states(figure, [p for _, _, text in passages for p in pieces(text)])


def test_a_figure_a_passage_states_is_answered():
    passages = [(1, "Running agents › The agent loop", RUNNING), (2, "Tracing", TRACING)]
    answer = extract_answer("how many turns can a run take before MaxTurnsExceeded?", passages)
    assert answer.covered and answer.cited[0] == 1 and "max_turns" in answer.text
    # A duration stated in seconds, by the setting that holds it.
    answer = extract_answer(
        "how long is a reset password token valid?", [(1, "UserManager › Attributes", USER_MANAGER)]
    )
    assert answer.covered and "3600" in answer.text
    # The same page without the figure: the duration is not stated.
    without = USER_MANAGER.replace(" Defaults to 3600.", "").replace("_lifetime_seconds", "_audience")
    answer = extract_answer("how long is a reset password token valid?", [(1, "UserManager", without)])
    assert not answer.covered and answer.reason == "unstated_figure"


def test_a_measurement_of_the_readers_run_is_answered_with_where_to_read_it():
    usage = (
        "## Accessing usage from a run\n\nAfter `Runner.run(...)`, access usage via "
        "`result.context_wrapper.usage`.\n\n```python\nusage = result.context_wrapper.usage\n"
        'print("Total tokens:", usage.total_tokens)\n```\n'
    )
    answer = extract_answer("how many tokens did my run use?", [(1, "Usage", usage)])
    assert answer.covered and "context_wrapper.usage" in answer.text
