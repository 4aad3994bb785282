"""Where hand-offs go, per assistant (`HandoffConfig`). The default assistant reads the
DOCSDESK_HANDOFF_* environment variables; others are configured by name (the `[assistants.
NAME.handoff]` table of docsdesk.toml, wired through `HandoffConfigs.configure`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from docsdesk.core.context import DEFAULT_ASSISTANT

GITHUB_API_URL = "https://api.github.com"


class HandoffConfig(BaseModel):
    """One assistant's hand-off channels; a channel is on when its address is set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    smtp_url: SecretStr | None = None  # smtp://user:password@host:587 (may carry a password)
    email_from: str | None = None
    email_to: str | None = None
    github_repo: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    github_token: SecretStr | None = None
    github_api_url: str = GITHUB_API_URL
    ticket_api_url: str | None = None
    ticket_api_token: SecretStr | None = None
    # With a user, the token goes as HTTP Basic auth (user:token), which Zendesk and Freshdesk
    # API tokens need: Zendesk "agent@acme.com/token" + the API token; Freshdesk the API key
    # as the user + "X". Without one: "Authorization: Bearer <token>".
    ticket_api_user: str | None = None
    attempts: int = Field(default=3, ge=1, le=10)  # per channel, with backoff
    backoff_seconds: float = Field(default=0.5, ge=0, le=60)
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("webhook_url", "ticket_api_url", "github_api_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @property
    def enabled(self) -> bool:
        """Whether any channel is configured (no channel: no hand-off widget)."""
        return bool(self.webhook_url or self.smtp_url or self.github_repo or self.ticket_api_url)


class HandoffEnvironment(BaseSettings):
    """The default assistant's hand-off settings, DOCSDESK_HANDOFF_WEBHOOK_URL and so on."""

    model_config = SettingsConfigDict(env_prefix="DOCSDESK_HANDOFF_", extra="ignore")

    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    smtp_url: SecretStr | None = None
    email_from: str | None = None
    email_to: str | None = None
    github_repo: str | None = None
    github_token: SecretStr | None = None
    github_api_url: str = GITHUB_API_URL
    ticket_api_url: str | None = None
    ticket_api_token: SecretStr | None = None
    ticket_api_user: str | None = None


def config_from_environment() -> HandoffConfig:
    """The DOCSDESK_HANDOFF_* variables as a HandoffConfig (a bad value: one line naming it)."""
    from pydantic import ValidationError

    values = HandoffEnvironment().model_dump(exclude_none=True)
    try:
        return HandoffConfig(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = f"DOCSDESK_HANDOFF_{str(error['loc'][0]).upper()}" if error["loc"] else "DOCSDESK_HANDOFF_*"
        raise ValueError(f"{name}: {error['msg']}") from None


def config_from_table(assistant: str, table: dict[str, Any]) -> HandoffConfig:
    """An `[assistants.NAME.handoff]` table as a HandoffConfig (a bad key or value: one line
    naming `assistants.NAME.handoff.KEY`)."""
    from pydantic import ValidationError

    try:
        return HandoffConfig(**table)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"])
        raise ValueError(f"assistants.{assistant}.handoff.{key}: {error['msg']}") from None


class HandoffConfigs:
    """Hand-off configuration by assistant name. The default assistant falls back to the
    environment; an assistant with nothing configured has no channels."""

    def __init__(self, configured: dict[str, HandoffConfig] | None = None) -> None:
        self._by_assistant: dict[str, HandoffConfig] = dict(configured or {})
        self._environment = config_from_environment()  # a bad value fails at start-up

    def configure(self, assistant: str, config: HandoffConfig) -> None:
        """Set `assistant`'s hand-off (from its `[assistants.NAME.handoff]` table)."""
        self._by_assistant[assistant] = config

    def handoff_config_for(self, assistant: str) -> HandoffConfig:
        config = self._by_assistant.get(assistant)
        if config is not None:
            return config
        if assistant == DEFAULT_ASSISTANT:
            return self._environment
        return HandoffConfig()
