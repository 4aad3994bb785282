"""The widgets docsdesk shows, built with the SDK's widget types: the hand-off form, its
confirmation, and follow-up suggestions. The SDK marks its named widget classes deprecated in
favour of .widget templates; these widgets are built in code, so that warning is silenced here."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chatkit.actions import ActionConfig
from chatkit.widgets import Button, Card, Form, Input, ListView, ListViewItem, Text, Textarea, WidgetRoot

HANDOFF_ACTION = "docsdesk.handoff.send"
FOLLOW_UP_ACTION = "docsdesk.follow_up"
MAX_NOTE_CHARS = 2_000
MAX_EMAIL_CHARS = 254


@contextmanager
def _built_in_code() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def handoff_form(needs_email: bool, problem: str | None = None) -> Card:
    """The "Send to support" card: email (unless the identity has one), an optional note."""
    with _built_in_code():
        fields: list[Any] = [Text(value="Not what you needed? Send this conversation to our support team.")]
        if problem:
            fields.append(Text(value=problem, color="danger"))
        if needs_email:
            fields.append(
                Input(name="email", inputType="email", required=True, placeholder="Your email address")
            )
        fields.append(
            Textarea(name="note", placeholder="Anything to add? (optional)", rows=3, required=False)
        )
        fields.append(Button(label="Send to support", submit=True, style="primary"))
        form = Form(
            onSubmitAction=ActionConfig(type=HANDOFF_ACTION, payload={}),
            children=fields,
            direction="col",
            gap=2,
        )
        return Card(children=[form], size="md")


def handoff_sent(email: str) -> Card:
    with _built_in_code():
        return Card(
            children=[
                Text(value="Sent to support. We will reply to " + email + "."),
            ],
            size="md",
        )


def follow_ups(questions: list[str]) -> ListView:
    """One button per question; clicking it asks the question."""
    with _built_in_code():
        return ListView(
            children=[
                ListViewItem(
                    children=[Text(value=question)],
                    onClickAction=ActionConfig(type=FOLLOW_UP_ACTION, payload={"question": question}),
                )
                for question in questions
            ]
        )


def offered_actions(widget: WidgetRoot) -> list[ActionConfig]:
    """Every action the widget offers (to check a submitted action against)."""
    found: list[ActionConfig] = []

    def walk(node: Any) -> None:
        for name in ("onClickAction", "onSubmitAction"):
            action = getattr(node, name, None)
            if isinstance(action, ActionConfig):
                found.append(action)
        for child in getattr(node, "children", None) or []:
            walk(child)

    walk(widget)
    return found
