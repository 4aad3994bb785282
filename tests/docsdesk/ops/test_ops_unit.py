"""Operations building blocks without a server: client IPs behind proxies, log formats and
user hashing, rate-limit windows and stream slots, the metrics directory."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
import time

import pytest
from starlette.requests import Request

from docsdesk.core.context import Identity, RequestTelemetry
from docsdesk.core.errors import ApiError
from docsdesk.core.settings import Settings
from docsdesk.ops.metrics import MULTIPROC_ENV, multiprocess_metrics
from docsdesk.ops.observability import ClientAddress, LineFormatter, hash_user, log_salt
from docsdesk.ops.ratelimit import ProcessMemoryStorage, RateLimits, identity_key


def make_settings(**overrides) -> Settings:
    return Settings(_env_file=None, secret_key="unit-secret-key-0123456789abcdef0123", **overrides)


# --- client address -----------------------------------------------------------------------


def test_client_ip_is_the_socket_peer_without_trusted_proxies():
    resolver = ClientAddress([])
    assert resolver.resolve("203.0.113.9", ["198.51.100.1"]) == "203.0.113.9"


def test_client_ip_ignores_forwarded_for_from_an_untrusted_peer():
    resolver = ClientAddress(["10.0.0.0/8"])
    assert resolver.resolve("203.0.113.9", ["198.51.100.1"]) == "203.0.113.9"


def test_client_ip_is_the_rightmost_untrusted_forwarded_address():
    resolver = ClientAddress(["10.0.0.0/8", "192.0.2.7"])
    # spoofed-by-client, real client, inner proxy (trusted), peer = load balancer (trusted)
    assert resolver.resolve("10.1.2.3", ["1.1.1.1, 198.51.100.23", "192.0.2.7"]) == "198.51.100.23"
    assert resolver.resolve("10.1.2.3", ["2001:db8::5"]) == "2001:db8::5"
    assert resolver.resolve("10.1.2.3", ["198.51.100.23:4711"]) == "198.51.100.23"
    # nothing forwarded, or only proxies: the peer; garbage next to the proxy: the peer
    assert resolver.resolve("10.1.2.3", []) == "10.1.2.3"
    assert resolver.resolve("10.1.2.3", ["10.9.9.9"]) == "10.1.2.3"
    assert resolver.resolve("10.1.2.3", ["198.51.100.23, not-an-ip"]) == "10.1.2.3"


def test_bad_trusted_proxy_setting_is_a_clear_error():
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        ClientAddress(["10.0.0.0/33"])


# --- logs ---------------------------------------------------------------------------------


def _record(**extra) -> logging.LogRecord:
    record = logging.makeLogRecord(
        {
            "name": "docsdesk.access",
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": "POST %s %d",
            "args": ("/chatkit", 200),
        }
    )
    record.__dict__.update(extra)
    return record


def test_json_log_line_has_message_request_id_and_fields():
    line = LineFormatter("json").format(
        _record(request_id="req-1", fields={"status": 200, "thread_id": "thr_1"})
    )
    assert "\n" not in line
    data = json.loads(line)
    assert data["message"] == "POST /chatkit 200"
    assert data["level"] == "info" and data["logger"] == "docsdesk.access"
    assert data["request_id"] == "req-1"
    assert data["status"] == 200 and data["thread_id"] == "thr_1"
    assert data["pid"] == os.getpid()


def test_text_log_line_has_key_values():
    line = LineFormatter("text").format(_record(request_id="req-1", fields={"status": 200, "note": "a b"}))
    assert "INFO docsdesk.access: POST /chatkit 200" in line
    assert "request_id=req-1" in line and "status=200" in line and 'note="a b"' in line


def test_user_hash_is_salted_short_and_stable():
    salt = log_salt(make_settings())
    assert log_salt(make_settings()) == salt  # same secret key, same salt: hashes correlate
    digest = hash_user(salt, "anon_alice")
    assert len(digest) == 16 and "alice" not in digest
    assert digest == hash_user(salt, "anon_alice") != hash_user(salt, "anon_bob")
    other = log_salt(Settings(_env_file=None, secret_key="another-secret-key-0123456789abcdef"))
    assert hash_user(other, "anon_alice") != digest


# --- rate limits --------------------------------------------------------------------------


def _Req(ip: str = "198.51.100.1") -> Request:
    """A Starlette request from `ip`, with its telemetry as RequestObserver sets it."""
    telemetry = RequestTelemetry(request_id="r", client_ip=ip)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/session",
        "headers": [],
        "state": {"telemetry": telemetry},
    }
    return Request(scope)


async def test_limits_refuse_with_retry_after_and_keep_identities_apart():
    limits = RateLimits(make_settings(rate_limit_reads="3/minute"))
    alice, bob = Identity("alice", "t1"), Identity("bob", "t1")
    for _ in range(3):
        await limits.admit_request(alice)
    with pytest.raises(ApiError) as refused:
        await limits.admit_request(alice)
    assert refused.value.status == 429 and refused.value.code == "rate_limited"
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 60
    await limits.admit_request(bob)  # another user: own budget
    await limits.admit_chatkit(_Req(), alice, "threads.create")  # turns: a separate budget


async def test_session_limit_is_per_client_ip():
    limits = RateLimits(make_settings(rate_limit_sessions="2/minute"))
    for _ in range(2):
        await limits.check_session(_Req("198.51.100.1"))
    with pytest.raises(ApiError) as refused:
        await limits.check_session(_Req("198.51.100.1"))
    assert refused.value.status == 429 and "Retry-After" in refused.value.headers
    await limits.check_session(_Req("198.51.100.2"))


def test_identity_keys_do_not_collide():
    assert identity_key(Identity("b:c", "a")) != identity_key(Identity("c", "a:b"))


async def test_stream_slots_are_taken_and_given_back():
    limits = RateLimits(make_settings(max_concurrent_streams_per_user=2))
    identity = Identity("alice", "")
    requests = [_Req(), _Req()]
    for request in requests:
        await limits.admit_chatkit(request, identity, "threads.add_user_message")
    with pytest.raises(ApiError) as refused:
        await limits.admit_chatkit(_Req(), identity, "threads.create")
    assert refused.value.status == 429 and refused.value.code == "too_many_streams"
    await limits.admit_chatkit(_Req(), Identity("bob", ""), "threads.create")  # per user
    # The middleware runs the end-of-response callbacks; do it by hand here.
    for callback in requests[0].scope["state"]["docsdesk.on_end"]:
        await callback()
    await limits.admit_chatkit(_Req(), identity, "threads.create")


async def test_memory_limits_do_not_start_a_thread_per_request(monkeypatch):
    started = []

    class CountingTimer(threading.Timer):
        def start(self) -> None:
            started.append(self)
            super().start()

    limits = RateLimits(make_settings(rate_limit_reads="1000/minute"))
    monkeypatch.setattr(threading, "Timer", CountingTimer)
    for _ in range(15):  # spaced wider than limits' own 10 ms expiry timer
        await limits.admit_request(Identity("alice", ""))
        await asyncio.sleep(0.015)
    assert len(started) <= 1


def test_invalid_limit_settings_are_rejected():
    # Refused when the settings are read (docsdesk serve: one line naming the variable).
    with pytest.raises(ValueError, match=r"(?s)rate_limit_turns.*N/period"):
        RateLimits(make_settings(rate_limit_turns="lots per day"))


async def test_unreachable_storage_falls_back_to_process_limits():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    limits = RateLimits(
        make_settings(rate_limit_storage=f"redis://127.0.0.1:{port}", rate_limit_reads="2/minute")
    )
    identity = Identity("alice", "")
    started = time.monotonic()
    for _ in range(2):
        await limits.admit_request(identity)
    with pytest.raises(ApiError):
        await limits.admit_request(identity)
    assert time.monotonic() - started < 5


# --- metrics directory --------------------------------------------------------------------


def test_multiprocess_dir_is_created_for_workers_and_removed(monkeypatch):
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    with multiprocess_metrics(1) as path:
        assert path is None and MULTIPROC_ENV not in os.environ
    with multiprocess_metrics(2) as path:
        assert path is not None and path.is_dir() and os.environ[MULTIPROC_ENV] == str(path)
        (path / "counter_1.db").write_bytes(b"x")
    assert not path.exists() and MULTIPROC_ENV not in os.environ


def test_chosen_multiprocess_dir_is_emptied(monkeypatch, tmp_path):
    (tmp_path / "counter_99.db").write_bytes(b"stale")
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    with multiprocess_metrics(2) as path:
        assert path == tmp_path and not list(tmp_path.glob("*.db"))
    assert tmp_path.is_dir()


def test_process_memory_storage_counts_fixed_windows_and_forgets_expired_ones():
    """docsdesk's in-process storage, built on limits' public Storage interface."""
    from limits.storage import storage_from_string

    storage = storage_from_string("docsdesk+memory://")
    assert isinstance(storage, ProcessMemoryStorage)
    assert storage.incr("k", 0.2) == 1 and storage.incr("k", 0.2) == 2 and storage.get("k") == 2
    assert time.time() < storage.get_expiry("k") <= time.time() + 0.2
    storage.incr("gone", 0.05)
    time.sleep(0.25)
    assert storage.get("k") == 0 and storage.incr("k", 0.2) == 1  # a new window
    storage._next_sweep = 0.0  # the next write sweeps
    storage.incr("other", 10)
    assert "gone" not in storage._counts  # swept, though never read again
    storage.clear("k")
    assert storage.get("k") == 0 and storage.reset() == 1 and storage.get("other") == 0
