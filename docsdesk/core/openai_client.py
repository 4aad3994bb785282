"""The one way docsdesk builds an OpenAI client (for the assistant's model and for
embeddings), with one key rule: OPENAI_API_KEY, or, for a local OpenAI-compatible server named
by OPENAI_BASE_URL, no key at all. One client per configuration, shared by the process."""

from __future__ import annotations

from openai import AsyncOpenAI

from docsdesk.core.settings import Settings

NO_KEY = "unused"  # what a local server without authentication is sent

_clients: dict[tuple[str, str | None, int | None, float | None], AsyncOpenAI] = {}


def openai_client(
    settings: Settings, *, max_retries: int | None = None, timeout: float | None = None
) -> AsyncOpenAI:
    """The shared client for these settings; ValueError naming OPENAI_API_KEY when there is
    neither a key nor a base URL."""
    secret = settings.openai_api_key.get_secret_value().strip() if settings.openai_api_key else ""
    base_url = settings.openai_base_url or None
    if not secret and base_url is None:
        raise ValueError(
            "OPENAI_API_KEY is not set (for a local OpenAI-compatible server, set OPENAI_BASE_URL instead)"
        )
    key = (secret or NO_KEY, base_url, max_retries, timeout)
    client = _clients.get(key)
    if client is None:
        options: dict[str, object] = {}
        if max_retries is not None:
            options["max_retries"] = max_retries
        if timeout is not None:
            options["timeout"] = timeout
        client = _clients[key] = AsyncOpenAI(api_key=key[0], base_url=base_url, **options)  # type: ignore[arg-type]
    return client
