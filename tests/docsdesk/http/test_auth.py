"""Identity for every request: anonymous sessions, JWT (HS256, PEM, JWKS), trusted headers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import stat
import time
from datetime import datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.datastructures import Headers

from docsdesk.core.settings import Settings
from docsdesk.http.auth import SESSION_AUDIENCE, SESSION_ISSUER, Authenticator, AuthError, Identity

HS_SECRET = "hs256-shared-secret-for-tests-0123456789"


def make_settings(tmp_path, **overrides: Any) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", **overrides)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": "user-1", "iat": now, "exp": now + 300}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def signed_by(auth: Authenticator, secret: str) -> bool:
    """Whether `auth` signs its session tokens with `secret`."""
    token = auth.issue_session()["token"]
    return bool(jwt.decode(token, secret, algorithms=["HS256"], audience=SESSION_AUDIENCE))


def flip(text: str, index: int) -> str:
    """`text` with one base64url character replaced by a different one."""
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


async def expect_error(auth: Authenticator, headers: dict[str, str], code: str) -> AuthError:
    with pytest.raises(AuthError) as caught:
        await auth.authenticate(headers)
    assert caught.value.code == code, caught.value.message
    assert caught.value.message
    return caught.value


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def public_pem(private_key: Any) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def rsa_private() -> rsa.RSAPrivateKey:
    return rsa_key()


# --- anonymous ---------------------------------------------------------------


@pytest.fixture
def anon(tmp_path) -> Authenticator:
    return Authenticator(make_settings(tmp_path, secret_key="k" * 40, session_ttl_seconds=3600))


async def test_anonymous_round_trip(anon):
    session = anon.issue_session()
    assert session["user_id"].startswith("anon_") and len(session["user_id"]) == 5 + 32
    expires = datetime.fromisoformat(session["expires_at"].replace("Z", "+00:00"))
    assert expires.tzinfo is not None
    assert abs(expires.timestamp() - (time.time() + 3600)) < 5
    identity = await anon.authenticate(bearer(session["token"]))
    assert identity == Identity(user_id=session["user_id"], tenant_id="")
    # starlette Headers (any case) and a plain dict with a capitalised key both work
    headers = Headers(headers={"Authorization": f"bearer {session['token']}"})
    assert await anon.authenticate(headers) == identity
    assert await anon.authenticate({"Authorization": f"Bearer {session['token']}"}) == identity
    assert anon.issue_session()["user_id"] != session["user_id"]


async def test_anonymous_token_claims_are_pinned(anon):
    payload = jwt.decode(
        anon.issue_session()["token"], "k" * 40, algorithms=["HS256"], audience=SESSION_AUDIENCE
    )
    assert payload["iss"] == SESSION_ISSUER and payload["exp"] - payload["iat"] == 3600


async def test_secret_file_created_private_and_reused(tmp_path):
    settings = make_settings(tmp_path / "nested")
    first = Authenticator(settings)
    path = settings.data_dir / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_text().strip()) >= 64
    token = first.issue_session()["token"]
    second = Authenticator(settings)
    assert (await second.authenticate(bearer(token))).user_id.startswith("anon_")
    assert [p.name for p in settings.data_dir.iterdir()] == ["secret_key"]  # no temp files left


def test_processes_starting_together_agree_on_the_secret(tmp_path, monkeypatch):
    settings = make_settings(tmp_path)
    path = settings.data_dir / "secret_key"
    real_link = os.link

    def other_process_wins(src, dst):
        path.write_text("w" * 64)  # created between our exists() check and our link
        real_link(src, dst)

    monkeypatch.setattr(os, "link", other_process_wins)
    auth = Authenticator(settings)
    assert signed_by(auth, "w" * 64)
    assert [p.name for p in settings.data_dir.iterdir()] == ["secret_key"]


def test_unusable_secrets_are_refused(tmp_path):
    # Settings refuse what they can check alone (a short secret, a zero TTL) when they are read.
    with pytest.raises(ValueError, match=r"(?s)secret_key.*at least 32 bytes"):
        Authenticator(make_settings(tmp_path, secret_key="short"))
    settings = make_settings(tmp_path)
    settings.data_dir.mkdir(parents=True)
    (settings.data_dir / "secret_key").write_text("\n")
    with pytest.raises(ValueError, match="delete it"):
        Authenticator(settings)
    with pytest.raises(ValueError, match="session_ttl_seconds"):
        Authenticator(make_settings(tmp_path, secret_key="k" * 40, session_ttl_seconds=0))


async def test_tokens_from_another_secret_are_rejected(anon, tmp_path):
    other = Authenticator(make_settings(tmp_path, secret_key="o" * 40))
    await expect_error(anon, bearer(other.issue_session()["token"]), "invalid_token")


async def test_expired_session_rejected(anon):
    token = jwt.encode(
        claims(
            iss=SESSION_ISSUER, aud=SESSION_AUDIENCE, iat=int(time.time()) - 100, exp=int(time.time()) - 1
        ),
        "k" * 40,
        algorithm="HS256",
    )
    await expect_error(anon, bearer(token), "token_expired")


async def test_tampered_session_rejected(anon):
    token = anon.issue_session()["token"]
    header, payload, signature = token.split(".")
    await expect_error(anon, bearer(f"{header}.{payload}.{flip(signature, 10)}"), "invalid_token")
    await expect_error(anon, bearer(f"{header}.{flip(payload, 20)}.{signature}"), "invalid_token")
    forged = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged["sub"] = "anon_" + "0" * 32
    await expect_error(
        anon, bearer(f"{header}.{b64url(json.dumps(forged).encode())}.{signature}"), "invalid_token"
    )
    await expect_error(anon, bearer("not-a-jwt"), "invalid_token")


async def test_session_claims_enforced(anon):
    secret = "k" * 40
    session = dict(iss=SESSION_ISSUER, aud=SESSION_AUDIENCE)
    cases = [
        (claims(**{**session, "aud": "someone-else"}), "invalid_audience"),
        (claims(iss=SESSION_ISSUER), "invalid_audience"),  # a plain JWT: no session audience
        (claims(**{**session, "iss": "elsewhere"}), "invalid_issuer"),
        (claims(**session, exp=None), "missing_claim"),
        (claims(**session, sub=None), "missing_claim"),
    ]
    for payload, code in cases:
        await expect_error(anon, bearer(jwt.encode(payload, secret, algorithm="HS256")), code)


async def test_alg_none_rejected(anon):
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims(iss=SESSION_ISSUER, aud=SESSION_AUDIENCE)).encode())
    await expect_error(anon, bearer(f"{header}.{body}."), "invalid_token")


async def test_authorization_header_problems(anon):
    await expect_error(anon, {}, "missing_credentials")
    await expect_error(anon, {"authorization": "Basic dXNlcjpwdw=="}, "invalid_credentials")
    await expect_error(anon, {"authorization": "Bearer "}, "invalid_credentials")
    await expect_error(anon, {"authorization": "Bearer a b"}, "invalid_credentials")
    await expect_error(anon, bearer("x" * 9000), "invalid_token")
    token = anon.issue_session()["token"]
    doubled = Headers(raw=[(b"authorization", f"Bearer {token}".encode())] * 2)
    await expect_error(anon, doubled, "duplicate_header")


async def test_x_user_id_ignored_in_anonymous_mode(anon):
    session = anon.issue_session()
    await expect_error(anon, {"x-user-id": "admin"}, "missing_credentials")
    identity = await anon.authenticate({**bearer(session["token"]), "x-user-id": "admin", "x-tenant-id": "t"})
    assert identity == Identity(user_id=session["user_id"])


def test_issue_session_only_in_anonymous_mode(tmp_path):
    auth = Authenticator(make_settings(tmp_path, auth_mode="trusted-header"))
    with pytest.raises(RuntimeError, match="anonymous"):
        auth.issue_session()


def test_auth_error_shape():
    assert AuthError("token_expired", "token has expired").status_code == 401
    error = AuthError("jwks_unavailable", "down")
    assert error.status_code == 503


# --- jwt: shared secret and PEM keys -----------------------------------------


@pytest.fixture
def hs_auth(tmp_path) -> Authenticator:
    return Authenticator(
        make_settings(
            tmp_path,
            auth_mode="jwt",
            jwt_secret=HS_SECRET,
            jwt_audience="docs-api",
            jwt_issuer="https://idp.example",
            jwt_tenant_claim="org_id",
            jwt_leeway_seconds=30,
        )
    )


def hs_token(**overrides: Any) -> str:
    payload = claims(**{"aud": "docs-api", "iss": "https://idp.example", "org_id": "acme", **overrides})
    return jwt.encode(payload, HS_SECRET, algorithm="HS256")


async def test_jwt_hs256_valid(hs_auth):
    assert await hs_auth.authenticate(bearer(hs_token())) == Identity("user-1", "acme")
    # audience may be a list; expiry inside the leeway is still accepted
    assert (await hs_auth.authenticate(bearer(hs_token(aud=["other", "docs-api"])))).user_id == "user-1"
    assert await hs_auth.authenticate(bearer(hs_token(exp=int(time.time()) - 10)))


async def test_jwt_hs256_claims_enforced(hs_auth):
    now = int(time.time())
    cases = [
        (hs_token(exp=now - 60), "token_expired"),
        (hs_token(aud="another-api"), "invalid_audience"),
        (hs_token(aud=None), "invalid_audience"),
        (hs_token(iss="https://evil.example"), "invalid_issuer"),
        (hs_token(iss=None), "invalid_issuer"),
        (hs_token(exp=None), "missing_claim"),
        (hs_token(sub=None), "missing_claim"),
        (hs_token(org_id=None), "missing_claim"),
        (hs_token(org_id=""), "invalid_token"),
        (hs_token(org_id=42), "invalid_token"),
        (hs_token(sub=""), "invalid_token"),
        (hs_token(sub="a b"), "invalid_token"),
        (hs_token(nbf=now + 600), "invalid_token"),
        (
            jwt.encode(claims(aud="docs-api", iss="https://idp.example", org_id="acme"), "x" * 40),
            "invalid_token",
        ),
    ]
    for token, code in cases:
        await expect_error(hs_auth, bearer(token), code)


async def test_jwt_tampered_and_alg_none(hs_auth):
    header, payload, signature = hs_token().split(".")
    await expect_error(hs_auth, bearer(f"{header}.{payload}.{flip(signature, 5)}"), "invalid_token")
    await expect_error(hs_auth, bearer(f"{header}.{flip(payload, 12)}.{signature}"), "invalid_token")
    none_header = b64url(json.dumps({"alg": "none"}).encode())
    await expect_error(hs_auth, bearer(f"{none_header}.{payload}."), "invalid_token")


async def test_x_user_id_ignored_in_jwt_mode(hs_auth):
    await expect_error(hs_auth, {"x-user-id": "admin"}, "missing_credentials")
    identity = await hs_auth.authenticate({**bearer(hs_token()), "X-User-ID": "admin", "X-Tenant-ID": "root"})
    assert identity == Identity("user-1", "acme")


async def test_jwt_without_audience_or_tenant_settings(tmp_path, caplog):
    auth = Authenticator(make_settings(tmp_path, auth_mode="jwt", jwt_secret=HS_SECRET))
    with caplog.at_level(logging.WARNING, logger="docsdesk.http.auth"):
        await auth.startup()
    assert "DOCSDESK_JWT_AUDIENCE" in caplog.text
    token = jwt.encode(claims(aud="anything", org_id="ignored"), HS_SECRET)
    assert await auth.authenticate(bearer(token)) == Identity("user-1", "")


def test_jwt_configuration_errors(tmp_path, rsa_private):
    with pytest.raises(ValueError, match="needs exactly one verification key"):
        Authenticator(make_settings(tmp_path, auth_mode="jwt"))
    with pytest.raises(ValueError, match="one verification key"):
        Authenticator(
            make_settings(tmp_path, auth_mode="jwt", jwt_secret=HS_SECRET, jwks_url="https://x/jwks")
        )
    with pytest.raises(ValueError, match="at least 32 bytes"):
        Authenticator(make_settings(tmp_path, auth_mode="jwt", jwt_secret="short"))
    private_pem = rsa_private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with pytest.raises(ValueError, match="expected a PEM public key"):
        Authenticator(make_settings(tmp_path, auth_mode="jwt", jwt_public_key=private_pem))
    with pytest.raises(ValueError, match="2048"):
        Authenticator(make_settings(tmp_path, auth_mode="jwt", jwt_public_key=public_pem(rsa_key(1024))))
    with pytest.raises(ValueError, match="http"):
        Authenticator(make_settings(tmp_path, auth_mode="jwt", jwks_url="file:///etc/jwks.json"))
    with pytest.raises(ValueError, match="jwt_leeway_seconds"):
        Authenticator(make_settings(tmp_path, auth_mode="jwt", jwt_secret=HS_SECRET, jwt_leeway_seconds=-1))


async def test_jwt_rs256_public_key(tmp_path, rsa_private):
    pem = public_pem(rsa_private)
    auth = Authenticator(make_settings(tmp_path, auth_mode="jwt", jwt_public_key=pem, jwt_issuer="idp"))
    good = jwt.encode(claims(iss="idp"), rsa_private, algorithm="RS256")
    assert await auth.authenticate(bearer(good)) == Identity("user-1")
    assert await auth.authenticate(bearer(jwt.encode(claims(iss="idp"), rsa_private, algorithm="PS256")))
    await expect_error(
        auth, bearer(jwt.encode(claims(iss="idp"), rsa_key(), algorithm="RS256")), "invalid_token"
    )
    await expect_error(
        auth, bearer(jwt.encode(claims(iss="other"), rsa_private, algorithm="RS256")), "invalid_issuer"
    )
    # the classic confusion attack: HS256 keyed with the public key's PEM text
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims(iss="idp")).encode())
    mac = hmac.new(pem.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    await expect_error(auth, bearer(f"{header}.{body}.{b64url(mac)}"), "invalid_token")
    # a PEM pasted into an env var with literal "\n" escapes is accepted too
    escaped = Authenticator(make_settings(tmp_path, auth_mode="jwt", jwt_public_key=pem.replace("\n", "\\n")))
    assert await escaped.authenticate(bearer(good)) == Identity("user-1")


async def test_jwt_es256_public_key(tmp_path):
    private = ec.generate_private_key(ec.SECP256R1())
    auth = Authenticator(make_settings(tmp_path, auth_mode="jwt", jwt_public_key=public_pem(private)))
    assert await auth.authenticate(bearer(jwt.encode(claims(), private, algorithm="ES256"))) == Identity(
        "user-1"
    )
    stranger = ec.generate_private_key(ec.SECP256R1())
    await expect_error(auth, bearer(jwt.encode(claims(), stranger, algorithm="ES256")), "invalid_token")
    p384 = ec.generate_private_key(ec.SECP384R1())
    await expect_error(auth, bearer(jwt.encode(claims(), p384, algorithm="ES384")), "invalid_token")
    await expect_error(auth, bearer(jwt.encode(claims(), HS_SECRET, algorithm="HS256")), "invalid_token")


# --- jwt: JWKS from a local server -------------------------------------------


class JwksServer:
    """A tiny HTTP server on 127.0.0.1 serving a mutable JWKS document."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.status = 200
        self.requests = 0
        self.url = ""
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/.well-known/jwks.json"

    async def stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        self.requests += 1
        body = json.dumps(self.document).encode()
        head = (
            f"HTTP/1.1 {self.status} X\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode() + body)
        await writer.drain()
        writer.close()
        await writer.wait_closed()


def jwk(private_key: Any, kid: str, alg: str | None = None) -> dict[str, Any]:
    is_rsa = isinstance(private_key, rsa.RSAPrivateKey)
    algorithm = jwt.algorithms.RSAAlgorithm if is_rsa else jwt.algorithms.ECAlgorithm
    data = algorithm.to_jwk(private_key.public_key(), as_dict=True)
    data.update(kid=kid, use="sig")
    if alg:
        data["alg"] = alg
    return data


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def jwks_server():
    server = JwksServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {"a": rsa_key(), "b": rsa_key(), "c": rsa_key(), "e": ec.generate_private_key(ec.SECP256R1())}


def signed(keys: dict[str, Any], kid: str, **overrides: Any) -> str:
    key = keys[kid]
    alg = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
    return jwt.encode(claims(**{"aud": "docs", **overrides}), key, algorithm=alg, headers={"kid": kid})


async def jwks_auth(tmp_path, server: JwksServer, clock: FakeClock) -> Authenticator:
    settings = make_settings(tmp_path, auth_mode="jwt", jwks_url=server.url, jwt_audience="docs")
    auth = Authenticator(settings, clock=clock)
    await auth.startup()
    return auth


async def test_jwks_verifies_by_kid_and_rotates(tmp_path, jwks_server, keys):
    jwks_server.document = {
        "keys": [
            jwk(keys["a"], "a", "RS256"),
            jwk(keys["e"], "e"),
            {"kty": "oct", "kid": "h", "k": b64url(b"s" * 32)},
        ]
    }
    clock = FakeClock()
    auth = await jwks_auth(tmp_path, jwks_server, clock)
    try:
        assert jwks_server.requests == 1  # prefetched at startup
        assert await auth.authenticate(bearer(signed(keys, "a"))) == Identity("user-1")
        assert await auth.authenticate(bearer(signed(keys, "e"))) == Identity("user-1")
        await expect_error(auth, bearer(signed(keys, "a", aud="other")), "invalid_audience")
        # symmetric keys in a JWKS are never used
        hs = jwt.encode(claims(aud="docs"), b"s" * 32, algorithm="HS256", headers={"kid": "h"})
        await expect_error(auth, bearer(hs), "invalid_token")
        # a token naming key "a" but signed by "b"; and an RSA kid with an HS256 token
        wrong_signer = jwt.encode(claims(aud="docs"), keys["b"], "RS256", {"kid": "a"})
        await expect_error(auth, bearer(wrong_signer), "invalid_token")
        confused = jwt.encode(claims(aud="docs"), HS_SECRET, algorithm="HS256", headers={"kid": "a"})
        await expect_error(auth, bearer(confused), "invalid_token")
        # no kid, several keys: refused
        await expect_error(auth, bearer(jwt.encode(claims(aud="docs"), keys["a"], "RS256")), "invalid_token")

        # rotation: "b" is published; an unknown kid refetches, at most once per 60 s
        jwks_server.document["keys"].append(jwk(keys["b"], "b"))
        before = jwks_server.requests
        clock.now += 61
        assert await auth.authenticate(bearer(signed(keys, "b"))) == Identity("user-1")
        assert jwks_server.requests == before + 1
        await expect_error(auth, bearer(signed(keys, "c")), "invalid_token")
        assert jwks_server.requests == before + 1  # too soon to refetch for kid "c"

        # once allowed, concurrent requests with a new kid share one fetch
        jwks_server.document["keys"].append(jwk(keys["c"], "c"))
        clock.now += 61
        results = await asyncio.gather(*(auth.authenticate(bearer(signed(keys, "c"))) for _ in range(5)))
        assert results == [Identity("user-1")] * 5
        assert jwks_server.requests == before + 2
    finally:
        await auth.aclose()


async def test_jwks_refreshes_old_keys_and_drops_revoked(tmp_path, jwks_server, keys):
    jwks_server.document = {"keys": [jwk(keys["a"], "a"), jwk(keys["b"], "b")]}
    clock = FakeClock()
    auth = await jwks_auth(tmp_path, jwks_server, clock)
    try:
        assert await auth.authenticate(bearer(signed(keys, "a")))
        jwks_server.document = {"keys": [jwk(keys["b"], "b")]}
        clock.now += 3601
        await expect_error(auth, bearer(signed(keys, "a")), "invalid_token")
        assert jwks_server.requests == 2
        # a single-key JWKS accepts a token without kid
        assert await auth.authenticate(bearer(jwt.encode(claims(aud="docs"), keys["b"], "RS256")))
    finally:
        await auth.aclose()


async def test_jwks_unavailable(tmp_path, jwks_server, keys, caplog):
    jwks_server.status = 500
    clock = FakeClock()
    with caplog.at_level(logging.WARNING, logger="docsdesk.http.auth"):
        auth = await jwks_auth(tmp_path, jwks_server, clock)
    try:
        assert "could not prefetch the JWKS" in caplog.text
        error = await expect_error(auth, bearer(signed(keys, "a")), "jwks_unavailable")
        assert error.status_code == 503
        assert jwks_server.requests == 1  # retried no sooner than 5 s after a failure

        # the endpoint recovers: the next allowed attempt succeeds
        jwks_server.status, jwks_server.document = 200, {"keys": [jwk(keys["a"], "a")]}
        clock.now += 6
        assert await auth.authenticate(bearer(signed(keys, "a"))) == Identity("user-1")

        # failing again when the keys are old: the previous keys keep working
        jwks_server.status = 500
        clock.now += 3601
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="docsdesk.http.auth"):
            assert await auth.authenticate(bearer(signed(keys, "a"))) == Identity("user-1")
        assert "keeping the previous keys" in caplog.text
        await expect_error(auth, bearer(signed(keys, "b")), "jwks_unavailable")
    finally:
        await auth.aclose()

    # not a JWKS document at all, and a closed port
    jwks_server.status, jwks_server.document = 200, {"not": "keys"}
    auth = await jwks_auth(tmp_path, jwks_server, FakeClock())
    await expect_error(auth, bearer(signed(keys, "a")), "jwks_unavailable")
    await auth.aclose()
    await jwks_server.stop()
    closed = Authenticator(make_settings(tmp_path, auth_mode="jwt", jwks_url=jwks_server.url))
    await expect_error(closed, bearer(signed(keys, "a")), "jwks_unavailable")
    await closed.aclose()


# --- trusted-header ----------------------------------------------------------


@pytest.fixture
def trusted(tmp_path) -> Authenticator:
    return Authenticator(make_settings(tmp_path, auth_mode="trusted-header"))


async def test_trusted_header_identity(trusted):
    assert await trusted.authenticate({"x-user-id": "alice"}) == Identity("alice", "")
    assert await trusted.authenticate({"x-user-id": "alice", "x-tenant-id": "acme"}) == Identity(
        "alice", "acme"
    )
    headers = Headers(headers={"X-User-ID": "bob@example.com", "X-Tenant-Id": "t-1"})
    assert await trusted.authenticate(headers) == Identity("bob@example.com", "t-1")
    assert await trusted.authenticate({"X-User-ID": "carol", "authorization": "Bearer junk"}) == Identity(
        "carol"
    )


async def test_trusted_header_bad_values(trusted):
    await expect_error(trusted, {}, "missing_user_header")
    await expect_error(trusted, {"authorization": "Bearer x"}, "missing_user_header")
    for bad in ["", "a b", "a\tb", "tab\t", "nul\x00", "del\x7f", "x" * 257, "line\nbreak"]:
        await expect_error(trusted, {"x-user-id": bad}, "invalid_user_header")
        await expect_error(trusted, {"x-user-id": "ok", "x-tenant-id": bad}, "invalid_tenant_header")
    assert await trusted.authenticate({"x-user-id": "x" * 256}) == Identity("x" * 256)
    doubled = Headers(raw=[(b"x-user-id", b"gateway-user"), (b"x-user-id", b"client-user")])
    await expect_error(trusted, doubled, "duplicate_header")


async def test_trusted_header_startup_warning(trusted, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="docsdesk.http.auth"):
        await trusted.startup()
    assert "trusted-header mode: X-User-ID is believed without verification" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="docsdesk.http.auth"):
        await Authenticator(make_settings(tmp_path, secret_key="k" * 40)).startup()
    assert "trusted-header" not in caplog.text
    await trusted.aclose()


def test_secret_file_permissions_warning(tmp_path, caplog):
    settings = make_settings(tmp_path)
    settings.data_dir.mkdir(parents=True)
    path = settings.data_dir / "secret_key"
    path.write_text("s" * 64)
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING, logger="docsdesk.http.auth"):
        auth = Authenticator(settings)
    assert signed_by(auth, "s" * 64)
    assert "readable by other users" in caplog.text


async def test_verified_tokens_are_cached_but_never_past_expiry(tmp_path, monkeypatch):
    from docsdesk.http import auth as auth_module

    clock = [0.0]
    auth = Authenticator(
        make_settings(tmp_path, auth_mode="jwt", jwt_secret=HS_SECRET, jwt_leeway_seconds=0),
        clock=lambda: clock[0],
    )
    token = jwt.encode(claims(exp=int(time.time()) + 100), HS_SECRET, algorithm="HS256")
    decodes = []
    real_decode = auth_module._decode
    monkeypatch.setattr(auth_module, "_decode", lambda *a, **k: decodes.append(1) or real_decode(*a, **k))

    first = await auth.authenticate(bearer(token))
    assert await auth.authenticate(bearer(token)) == first
    assert len(decodes) == 1  # the second request reused the verification
    clock[0] += auth_module.VERIFIED_TOKEN_TTL_SECONDS
    await auth.authenticate(bearer(token))
    assert len(decodes) == 2  # re-verified once the cache entry aged out
    # Past the token's own expiry the cached entry is not trusted: it is verified again
    # (and PyJWT, on its own clock, is what refuses a really expired token).
    monkeypatch.setattr(auth_module.time, "time", lambda: time.time_ns() / 1e9 + 101)
    await auth.authenticate(bearer(token))
    assert len(decodes) == 3


# --- renewing anonymous sessions (the embed script keeps a reader across page loads) --------


def session_token(secret: str, **overrides: Any) -> str:
    payload = claims(iss=SESSION_ISSUER, aud=SESSION_AUDIENCE, sub="anon_" + "ab" * 16, **overrides)
    return jwt.encode(payload, secret, algorithm="HS256")


def renewing(tmp_path, grace: int = 3600) -> Authenticator:
    return Authenticator(
        make_settings(
            tmp_path, secret_key="k" * 40, session_ttl_seconds=3600, session_renew_grace_seconds=grace
        )
    )


async def test_renewal_keeps_the_reader_and_extends_the_session(tmp_path):
    auth = renewing(tmp_path)
    old = session_token("k" * 40, iat=int(time.time()) - 3000, exp=int(time.time()) + 600)
    renewed = auth.renew_session(bearer(old))
    assert renewed["user_id"] == "anon_" + "ab" * 16
    assert renewed["token"] != old and renewed["expires_in"] == 3600
    assert (await auth.authenticate(bearer(renewed["token"]))).user_id == renewed["user_id"]


def test_an_expired_session_renews_within_the_grace_period_only(tmp_path):
    auth = renewing(tmp_path, grace=3600)
    now = int(time.time())
    recent = session_token("k" * 40, iat=now - 7200, exp=now - 3000)
    assert auth.renew_session(bearer(recent))["user_id"] == "anon_" + "ab" * 16
    stale = session_token("k" * 40, iat=now - 9000, exp=now - 3700)
    with pytest.raises(AuthError) as caught:
        auth.renew_session(bearer(stale))
    assert caught.value.code == "session_expired" and caught.value.status_code == 401
    no_grace = renewing(tmp_path, grace=0)
    with pytest.raises(AuthError, match="session_expired"):
        no_grace.renew_session(bearer(recent))


@pytest.mark.parametrize(
    "token, code",
    [
        (session_token("z" * 40), "invalid_token"),  # another server's secret
        (
            jwt.encode(claims(iss=SESSION_ISSUER, aud="other"), "k" * 40, algorithm="HS256"),
            "invalid_audience",
        ),
        (jwt.encode(claims(aud=SESSION_AUDIENCE), "k" * 40, algorithm="HS256"), "invalid_issuer"),
        ("not-a-token", "invalid_token"),
    ],
)
def test_renewal_needs_a_session_token_this_server_signed(tmp_path, token, code):
    with pytest.raises(AuthError) as caught:
        renewing(tmp_path).renew_session(bearer(token))
    assert caught.value.code == code


def test_renewal_grace_must_not_be_negative(tmp_path):
    with pytest.raises(ValueError, match="session_renew_grace_seconds"):
        make_settings(tmp_path, session_renew_grace_seconds=-1)
