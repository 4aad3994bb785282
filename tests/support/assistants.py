"""Swap the model (or limits) of a running app's assistant, as a deployment configures them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeVar

from docsdesk.core.context import DEFAULT_ASSISTANT

M = TypeVar("M")


def use_model(app: Any, model: M, **limits: Any) -> M:
    """Answer with `model` from now on (and these AssistantLimits fields, if given)."""
    registry = app.state.services.assistants
    current = registry.get(DEFAULT_ASSISTANT)
    registry.register(replace(current, model=model, limits=replace(current.limits, **limits)))
    return model


def use_assistant(app: Any, **fields: Any) -> None:
    """Replace fields of the running app's assistant definition (`Assistant`)."""
    registry = app.state.services.assistants
    registry.register(replace(registry.get(DEFAULT_ASSISTANT), **fields))
