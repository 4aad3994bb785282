"""The assistants of a deployment built from its config (docsdesk.core.config_file): one
`Assistant` per `[assistants.NAME]` table, or the assistant `default` the DOCSDESK_*
variables describe when there is no file."""

from __future__ import annotations

from agents import Model
from sqlalchemy.ext.asyncio import AsyncEngine

from docsdesk.assistant.definition import Assistant, AssistantRegistry, default_assistant
from docsdesk.assistant.models import build_model
from docsdesk.core.config_file import AssistantConfig, DeploymentConfig
from docsdesk.core.settings import Settings
from rag.collections import ServingCollection


def build_registry(
    settings: Settings,
    config: DeploymentConfig,
    engine: AsyncEngine,
    instructions: str,
    title_instructions: str | None = None,
) -> AssistantRegistry:
    """Every assistant of `config` (ValueError naming a model that cannot be built)."""
    return AssistantRegistry(
        assistants_of(settings, config, engine, instructions, title_instructions), config.default
    )


def assistants_of(
    settings: Settings,
    config: DeploymentConfig,
    engine: AsyncEngine,
    instructions: str,
    title_instructions: str | None = None,
) -> list[Assistant]:
    models: dict[str, Model] = {}  # one client per model spec, shared by the assistants using it
    built = []
    for entry in config.assistants:
        spec = entry.model or settings.resolved_model
        if spec not in models:
            models[spec] = build_model(settings, spec)
        built.append(
            _assistant(settings, config, entry, engine, models[spec], instructions, title_instructions)
        )
    return built


def _assistant(
    settings: Settings,
    config: DeploymentConfig,
    entry: AssistantConfig,
    engine: AsyncEngine,
    model: Model,
    instructions: str,
    title_instructions: str | None,
) -> Assistant:
    # The environment's assistant keeps today's demo: docsdesk's own docs while its collection is empty.
    collection = ServingCollection(engine, entry.collections, demo_fallback=config.path is None)
    base = default_assistant(settings, collection, instructions, title_instructions, model)
    return Assistant(
        name=entry.name,
        instructions=entry.instructions or instructions,
        model=model,
        model_name=entry.model or settings.resolved_model,
        collection=collection,
        limits=base.limits,
        model_settings=base.model_settings,
        title_instructions=title_instructions,
        title=entry.title,
        greeting=entry.greeting,
        starter_prompts=entry.starter_prompts,
        origins=entry.origins,
        rate_limit_turns=entry.rate_limit_turns,
        retention_days=entry.retention_days if entry.retention_days is not None else settings.retention_days,
        handoff=entry.handoff,
        follow_ups=entry.follow_ups,
        mcp_public=entry.mcp_public,
    )
