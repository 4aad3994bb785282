"""Settings for tests that take the database away under a running server."""

from __future__ import annotations

UNLIMITED = "100000/minute"


def outage_settings(base_settings, database_url: str):
    """Settings for a server whose database is about to go away: short pool and connect
    timeouts, JSON logs to read back, no rate limits in the way."""
    return base_settings.model_copy(
        update={
            "database_url": database_url,
            "log_format": "json",
            "db_pool_timeout_seconds": 2.0,
            "db_connect_timeout_seconds": 2.0,
            "rate_limit_turns": UNLIMITED,
            "rate_limit_reads": UNLIMITED,
            "rate_limit_sessions": UNLIMITED,
            "max_concurrent_streams_per_user": 0,
        }
    )
