"""Runtime settings: every knob docsdesk reads, from the environment (prefix DOCSDESK_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

AuthMode = Literal["anonymous", "jwt", "trusted-header"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCSDESK_", extra="ignore", populate_by_name=True)

    # --- database -------------------------------------------------------------
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "DOCSDESK_DATABASE_URL")
    )
    data_dir: Path = Path(".docsdesk")
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_pool_timeout_seconds: float = 10.0
    db_statement_timeout_ms: int = 15_000
    db_connect_timeout_seconds: float = 10.0

    # --- identity -------------------------------------------------------------
    auth_mode: AuthMode = "anonymous"
    secret_key: SecretStr | None = None
    session_ttl_seconds: int = 7 * 24 * 3600
    jwt_secret: SecretStr | None = None
    jwt_public_key: str | None = None
    jwks_url: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_tenant_claim: str | None = None
    jwt_leeway_seconds: int = 30

    # --- HTTP limits ----------------------------------------------------------
    max_body_bytes: int = 1024 * 1024
    max_message_chars: int = 8_000
    max_page_context_bytes: int = 8_192
    max_concurrent_streams_per_user: int = 3

    # --- assistant ------------------------------------------------------------
    # "offline", "openai:<model>" or "openai-chat:<model>"; unset = openai default
    # when an API key is present, otherwise the offline model.
    model: str | None = None
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "DOCSDESK_OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "DOCSDESK_OPENAI_BASE_URL")
    )
    default_openai_model: str = "gpt-4.1-mini"
    temperature: float | None = 0.2
    max_output_tokens: int | None = 1024
    turn_timeout_seconds: float = 120.0
    history_tokens: int = 6_000
    search_results: int = 5

    # --- documentation search -------------------------------------------------
    embeddings: str = "none"
    collection: str = "default"

    # --- operations -----------------------------------------------------------
    rate_limit_turns: str = "20/minute"
    rate_limit_reads: str = "120/minute"
    rate_limit_sessions: str = "10/minute"
    rate_limit_storage: str = "memory://"
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    metrics_token: SecretStr | None = None
    log_format: Literal["json", "text"] = "text"
    log_level: str = "INFO"
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    shutdown_grace_seconds: float = 30.0
    # Where readers reach this server; links to docsdesk's own docs use it. Unset: the
    # address `docsdesk serve` binds (0.0.0.0 shown as 127.0.0.1).
    public_url: str | None = None
    # Migrations already applied by the process that started the workers (`docsdesk serve`).
    skip_migrations: bool = False
    # Slow clients: idle keep-alive connections close after this long; request headers over
    # this size are refused.
    http_keep_alive_seconds: int = 5
    http_max_header_bytes: int = 16 * 1024

    # --- insights (docs-team reports, admin API and console) ---------------------------
    # Bearer token for /admin and /admin/api/*; unset = the admin API and console are off (404).
    admin_token: SecretStr | None = None
    # Record every turn (question, searches, sources, outcome) for the insights.
    record_turns: bool = True
    # Delete conversations, feedback and turn records older than this many days (unset = keep).
    retention_days: int | None = Field(default=None, ge=1)

    @field_validator("admin_token")
    @classmethod
    def _check_admin_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value()) < 16:
            raise ValueError("DOCSDESK_ADMIN_TOKEN must be at least 16 characters")
        return value

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+asyncpg://" + value[len(prefix) :]
        raise ValueError("DATABASE_URL must start with postgresql:// or postgresql+asyncpg://")

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("DOCSDESK_PUBLIC_URL must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("trusted_proxies", "cors_origins", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        # Accept "a,b" as well as the JSON list pydantic-settings expects.
        if isinstance(value, str) and not value.strip().startswith("["):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def resolved_model(self) -> str:
        if self.model:
            return self.model
        if self.openai_api_key is not None:
            return f"openai:{self.default_openai_model}"
        return "offline"


@lru_cache
def get_settings() -> Settings:
    return Settings()
