"""Runtime settings: every knob docsdesk reads, from the environment (prefix DOCSDESK_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from docsdesk.core import setting_checks as checks
from docsdesk.core.settings_error import SettingsError

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
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    db_pool_timeout_seconds: float = Field(default=10.0, gt=0)
    db_statement_timeout_ms: int = Field(default=15_000, ge=0)
    db_connect_timeout_seconds: float = Field(default=10.0, gt=0)

    # --- identity -------------------------------------------------------------
    auth_mode: AuthMode = "anonymous"
    secret_key: SecretStr | None = None
    session_ttl_seconds: int = Field(default=7 * 24 * 3600, gt=0)
    jwt_secret: SecretStr | None = None
    jwt_public_key: str | None = None
    jwks_url: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_tenant_claim: str | None = None
    # A claim listing the assistants (docsdesk.toml) the user may use; others answer 404.
    # Unset, or absent from a token: every assistant.
    jwt_assistants_claim: str | None = None
    jwt_leeway_seconds: int = Field(default=30, ge=0)

    # --- HTTP limits ----------------------------------------------------------
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    max_message_chars: int = Field(default=8_000, ge=1)
    max_page_context_bytes: int = Field(default=8_192, ge=0)
    max_concurrent_streams_per_user: int = Field(default=3, ge=0)  # 0 = no cap

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
    default_openai_model: str = Field(default="gpt-4.1-mini", min_length=1)
    temperature: float | None = Field(default=0.2, ge=0, le=2)
    max_output_tokens: int | None = Field(default=1024, ge=1)
    turn_timeout_seconds: float = Field(default=120.0, gt=0)
    history_tokens: int = Field(default=6_000, ge=1)
    search_results: int = Field(default=5, ge=1, le=50)

    # The assistants' config file (docsdesk.core.config_file); unset: ./docsdesk.toml if present,
    # else one assistant, `default`, described by these variables.
    config_file: Path | None = Field(default=None, validation_alias=AliasChoices("DOCSDESK_CONFIG"))

    # --- documentation search -------------------------------------------------
    # Hybrid search by default: a static model shipped with docsdesk (rag.embeddings.DEFAULT_EMBEDDINGS).
    embeddings: str = "model2vec:all-MiniLM-L6-v2-static128"
    collection: str = Field(default="default", min_length=1)

    # --- operations -----------------------------------------------------------
    rate_limit_turns: str = "20/minute"
    rate_limit_reads: str = "120/minute"
    rate_limit_sessions: str = "60/minute"
    rate_limit_storage: str = "memory://"
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    metrics_token: SecretStr | None = None
    log_format: Literal["json", "text"] = "text"
    log_level: Annotated[str, AfterValidator(checks.log_level)] = "INFO"
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    # Where readers reach this server; links to docsdesk's own docs use it. Unset: the
    # address `docsdesk serve` binds (0.0.0.0 shown as 127.0.0.1).
    public_url: str | None = None
    # Migrations already applied by the process that started the workers (`docsdesk serve`).
    skip_migrations: bool = False
    # Slow clients: idle keep-alive connections close after this long; request headers over
    # this size are refused. Longer than a proxy's idle timeout (nginx upstream keepalive_timeout
    # 60 s, AWS ALB 60 s), so the proxy, never this server, closes an idle connection: see
    # docs/deployment.md, "Keep-alive behind a proxy".
    http_keep_alive_seconds: int = Field(default=75, ge=1)
    http_max_header_bytes: int = Field(default=16 * 1024, ge=1024)
    # The interactive API docs (/docs, /redoc, /openapi.json; their assets come from a CDN).
    api_docs: bool = False

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
                    f"unknown {', '.join(map(str, unknown))}: expected a comma-separated subset of "
                    f"{', '.join(ATTACHMENT_KINDS)}"
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
            raise ValueError("expected a whole number > 0")
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

    # --- sources as jobs (issue 20; docsdesk/jobs) -------------------------------------
    # Run the sync jobs and the sources' schedules inside the server (`serve --no-worker` = off,
    # for serving-only instances when `docsdesk worker` runs elsewhere).
    worker: bool = True

    # --- MCP server and llms.txt (issue 22; docsdesk/mcp) -------------------------------
    # Anonymous read access to the default assistant's /mcp and llms.txt (public docs).
    mcp_public: bool = False
    # Per API key (per client address when anonymous): every /mcp request counts.
    rate_limit_mcp: str = "120/minute"
    # Named assistants for MCP keys and llms.txt besides those the server answers as, until
    # assistants are configured in their own right: JSON {"name": ["collection", ...]}.
    mcp_assistants: Annotated[
        dict[str, list[str]], NoDecode, BeforeValidator(checks.assistant_collections)
    ] = Field(default_factory=dict)

    @field_validator("admin_token")
    @classmethod
    def _check_admin_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value()) < 16:
            raise ValueError("expected at least 16 characters (e.g. `openssl rand -hex 16`)")
        return value

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+asyncpg://" + value[len(prefix) :]
        raise ValueError("expected postgresql://user:password@host:5432/database")

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL, e.g. https://docs.example.com")
        return checks.http_url(value).rstrip("/")

    @field_validator("trusted_proxies", "cors_origins", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        # Accept "a,b" as well as the JSON list pydantic-settings expects.
        if isinstance(value, str) and not value.strip().startswith("["):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator(
        "rate_limit_turns", "rate_limit_reads", "rate_limit_sessions", "rate_limit_uploads", "rate_limit_mcp"
    )
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        return checks.rate_limit(value)

    @field_validator("rate_limit_storage")
    @classmethod
    def _check_rate_limit_storage(cls, value: str) -> str:
        return checks.rate_limit_storage(value)

    @field_validator("trusted_proxies")
    @classmethod
    def _check_trusted_proxies(cls, value: list[str]) -> list[str]:
        return [checks.network(item) for item in value]

    @field_validator("cors_origins")
    @classmethod
    def _check_cors_origins(cls, value: list[str]) -> list[str]:
        origins = list(dict.fromkeys(checks.origin(item) for item in value))
        return ["*"] if "*" in origins else origins

    @field_validator("model", "jwks_url", "openai_base_url", "jwt_public_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("model")
    @classmethod
    def _check_model(cls, value: str | None) -> str | None:
        return None if value is None else checks.model_spec(value)

    @field_validator("embeddings")
    @classmethod
    def _check_embeddings(cls, value: str) -> str:
        return checks.embeddings_spec(value)

    @field_validator("jwks_url", "openai_base_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        return None if value is None else checks.http_url(value)

    @field_validator("jwt_public_key")
    @classmethod
    def _check_public_key(cls, value: str | None) -> str | None:
        return None if value is None else checks.public_key_pem(value)

    @field_validator("data_dir", "attachments_dir")
    @classmethod
    def _check_directory(cls, value: Path | None) -> Path | None:
        return None if value is None else checks.directory(value)

    @field_validator("secret_key", "jwt_secret")
    @classmethod
    def _check_signing_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value().encode()) < checks.MIN_SECRET_BYTES:
            raise ValueError(
                f"expected at least {checks.MIN_SECRET_BYTES} bytes (e.g. `openssl rand -hex 32`)"
            )
        return value

    @model_validator(mode="after")
    def _check_together(self) -> Settings:
        problems = checks.cross_field_problems(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def resolved_model(self) -> str:
        if self.model:
            return self.model
        if self.openai_api_key is not None:
            return f"openai:{self.default_openai_model}"
        return "offline"


def load_settings() -> Settings:
    """The settings from the environment; SettingsError (one line per mistake, naming its
    variable and what it accepts) when any is invalid."""
    try:
        return Settings()
    except ValidationError as exc:
        prefix = Settings.model_config.get("env_prefix", "")
        raise SettingsError(checks.describe_errors(exc, Settings.model_fields, prefix)) from None


@lru_cache
def get_settings() -> Settings:
    return load_settings()
