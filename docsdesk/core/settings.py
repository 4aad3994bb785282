"""Runtime settings: every knob docsdesk reads, from the environment (prefix DOCSDESK_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

AuthMode = Literal["anonymous", "jwt", "trusted-header"]
# The attachment kinds docsdesk knows (chatkit_store/attachments/kinds.py defines each).
ATTACHMENT_KINDS = ("png", "jpeg", "webp", "gif", "text", "markdown", "json", "yaml", "csv", "log", "pdf")


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
    rate_limit_sessions: str = "60/minute"
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

    # --- embed kit: readers who come back (issue #9) ----------------------------
    # An anonymous session token that expired at most this long ago can still be renewed for
    # the same reader (POST /session with it); older ones start a new anonymous reader.
    session_renew_grace_seconds: int = Field(default=30 * 24 * 3600, ge=0)

    # --- attachments (issue 13: uploads, storage, limits) ---------------------
    # Where attachment bytes live: unset = PostgreSQL; a directory = files on this node.
    attachments_dir: Path | None = None
    max_attachment_bytes: int = 10 * 1024 * 1024
    # Allowed kinds: png, jpeg, webp, gif, pdf, text, markdown, json, yaml, csv, log.
    attachment_types: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(ATTACHMENT_KINDS))
    attachment_quota_bytes: int = 100 * 1024 * 1024  # per user (and tenant), all attachments
    rate_limit_uploads: str = "30/minute"
    attachment_upload_url_seconds: int = 600
    attachment_preview_url_seconds: int = 3600
    attachment_text_chars: int = 20_000  # per text/PDF attachment shown to the model
    model_accepts_images: bool = True  # images go to the model as image inputs

    @field_validator("attachment_types", mode="before")
    @classmethod
    def _check_attachment_types(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip().startswith("["):
            value = [part.strip().lower() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            unknown = [name for name in value if name not in ATTACHMENT_KINDS]
            if unknown:
                raise ValueError(
                    f"DOCSDESK_ATTACHMENT_TYPES: unknown {', '.join(map(str, unknown))} (known: {', '.join(ATTACHMENT_KINDS)})"
                )
        return value

    @field_validator(
        "max_attachment_bytes",
        "attachment_quota_bytes",
        "attachment_upload_url_seconds",
        "attachment_preview_url_seconds",
        "attachment_text_chars",
    )
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("must be > 0")
        return value

    # --- slow clients (harden-b): deadlines for a request's headers and for its body --------
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    body_timeout_seconds: float = Field(default=30.0, gt=0)

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
