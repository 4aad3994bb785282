"""Who is asking: the identity behind every request, in one of three modes.

- ``anonymous`` (default): the server hands out signed session tokens (`issue_session`) that
  name a fresh random user; requests carry them as ``Authorization: Bearer <token>``.
- ``jwt``: requests carry a JWT from the site's identity provider, verified with a shared
  secret (HS256), a PEM public key (algorithm family pinned from the key type) or a JWKS URL.
- ``trusted-header``: a gateway in front of us sets ``X-User-ID`` / ``X-Tenant-ID``.

`X-User-ID` is read only in trusted-header mode. Any missing or invalid credential raises
`AuthError`; there is never a fallback to another mode.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import urlsplit

import jwt

from docsdesk.core.context import Identity
from docsdesk.core.secret import MIN_SECRET_BYTES, server_secret
from docsdesk.core.settings import Settings
from docsdesk.http.jwt_keys import (
    AuthError as AuthError,
)
from docsdesk.http.jwt_keys import (
    _decode,
    _JwksCache,
    _load_public_key,
    _unverified_kid,
)

VERIFIED_TOKEN_TTL_SECONDS = 60.0
VERIFIED_TOKEN_CACHE_SIZE = 10_000

log = logging.getLogger("docsdesk.http.auth")

SESSION_ISSUER = "docsdesk"
SESSION_AUDIENCE = "docsdesk:anonymous-session"
MAX_IDENTIFIER_CHARS = 256
MAX_TOKEN_CHARS = 8_192


class Authenticator:
    """Turns request headers into an `Identity` according to ``settings.auth_mode``."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        """Validate the mode's settings (ValueError naming what is wrong or missing) and load
        the keys. Anonymous mode may create ``data_dir/secret_key`` (small blocking file I/O,
        done once at startup). `clock` times the JWKS cache."""
        self.mode = settings.auth_mode
        self._settings = settings
        self._clock = clock
        self._verified: dict[str, tuple[Identity, float, float]] = {}
        self._session_secret = b""
        self._jwt_key: Any = None
        self._jwt_algorithms: list[str] = []
        self._jwks: _JwksCache | None = None
        if settings.jwt_leeway_seconds < 0:
            raise ValueError("DOCSDESK_JWT_LEEWAY_SECONDS must be >= 0")
        if self.mode == "anonymous":
            if settings.session_ttl_seconds <= 0:
                raise ValueError("DOCSDESK_SESSION_TTL_SECONDS must be > 0")
            self._session_secret = server_secret(settings)
        elif self.mode == "jwt":
            self._configure_jwt(settings)

    def _configure_jwt(self, settings: Settings) -> None:
        sources = [
            name
            for name, value in (
                ("DOCSDESK_JWT_SECRET", settings.jwt_secret),
                ("DOCSDESK_JWT_PUBLIC_KEY", settings.jwt_public_key),
                ("DOCSDESK_JWKS_URL", settings.jwks_url),
            )
            if value
        ]
        if not sources:
            raise ValueError(
                "DOCSDESK_AUTH_MODE=jwt needs a verification key: set DOCSDESK_JWT_SECRET (HS256), "
                "DOCSDESK_JWT_PUBLIC_KEY (PEM) or DOCSDESK_JWKS_URL"
            )
        if len(sources) > 1:
            raise ValueError(f"DOCSDESK_AUTH_MODE=jwt takes one verification key; got {', '.join(sources)}")
        if settings.jwt_secret is not None:
            secret = settings.jwt_secret.get_secret_value().encode()
            if len(secret) < MIN_SECRET_BYTES:
                raise ValueError(f"DOCSDESK_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes for HS256")
            self._jwt_key, self._jwt_algorithms = secret, ["HS256"]
        elif settings.jwt_public_key:
            self._jwt_key, self._jwt_algorithms = _load_public_key(settings.jwt_public_key)
        else:
            url = urlsplit(settings.jwks_url or "")
            if url.scheme not in ("http", "https") or not url.hostname:
                raise ValueError("DOCSDESK_JWKS_URL must be an http(s):// URL")
            self._jwks = _JwksCache(settings.jwks_url or "", self._clock)

    async def startup(self) -> None:
        """Log what the operator must know about the mode; prefetch the JWKS."""
        settings = self._settings
        if self.mode == "trusted-header":
            log.warning(
                "trusted-header mode: X-User-ID is believed without verification; "
                "only run behind a gateway that sets it"
            )
        if self.mode != "jwt":
            return
        if not settings.jwt_audience:
            log.warning("jwt mode without DOCSDESK_JWT_AUDIENCE: tokens for any audience are accepted")
        if self._jwks is not None:
            url = urlsplit(self._jwks.url)
            if url.scheme == "http" and url.hostname not in ("localhost", "127.0.0.1", "::1"):
                log.warning("DOCSDESK_JWKS_URL uses plain http; keys can be tampered with in transit")
            await self._jwks.refresh(kid=None)
            if self._jwks.error:
                log.warning("could not prefetch the JWKS (%s); will retry on demand", self._jwks.error)

    async def aclose(self) -> None:
        """Release the JWKS HTTP client."""
        if self._jwks is not None:
            await self._jwks.aclose()

    async def authenticate(self, headers: Mapping[str, str]) -> Identity:
        """The caller's identity from the request headers (case-insensitive); raises AuthError."""
        if self.mode == "trusted-header":
            return _trusted_identity(headers)
        token = _bearer_token(headers)
        cached = self._verified.get(token)
        if cached is not None:
            identity, expires_at, verified_at = cached
            if time.time() < expires_at and self._clock() - verified_at < VERIFIED_TOKEN_TTL_SECONDS:
                return identity
            del self._verified[token]
        if self.mode == "anonymous":
            claims = _decode(
                token,
                self._session_secret,
                ["HS256"],
                audience=SESSION_AUDIENCE,
                issuer=SESSION_ISSUER,
                leeway=0,
                require=["exp", "iat", "sub"],
            )
            identity, expires_at = Identity(user_id=_claim_identifier(claims, "sub")), claims["exp"]
        else:
            identity, claims = await self._jwt_identity(token)
            expires_at = claims["exp"] + self._settings.jwt_leeway_seconds
        # The widget sends the same token with every request: remember it was good, briefly
        # (never past its expiry; a key rotation is seen within VERIFIED_TOKEN_TTL_SECONDS).
        if len(self._verified) >= VERIFIED_TOKEN_CACHE_SIZE:
            self._verified.pop(next(iter(self._verified)))
        self._verified[token] = (identity, float(expires_at), self._clock())
        return identity

    async def _jwt_identity(self, token: str) -> tuple[Identity, dict[str, Any]]:
        settings = self._settings
        key, algorithms = self._jwt_key, self._jwt_algorithms
        if self._jwks is not None:
            key = await self._jwks.key_for(_unverified_kid(token))
            algorithms = [key.algorithm_name]
        claims = _decode(
            token,
            key,
            algorithms,
            audience=settings.jwt_audience or None,
            issuer=settings.jwt_issuer or None,
            leeway=settings.jwt_leeway_seconds,
            require=["exp", "sub"],
        )
        tenant_id = ""
        if settings.jwt_tenant_claim:
            tenant_id = _claim_identifier(claims, settings.jwt_tenant_claim)
        email = claims.get("email")
        email = email if isinstance(email, str) and "@" in email and len(email) <= 254 else None
        assistants = None
        if settings.jwt_assistants_claim and settings.jwt_assistants_claim in claims:
            assistants = _claim_names(claims, settings.jwt_assistants_claim)
        user_id = _claim_identifier(claims, "sub")
        identity = Identity(user_id=user_id, tenant_id=tenant_id, email=email, assistants=assistants)
        return identity, claims

    def issue_session(self, user_id: str | None = None) -> dict[str, Any]:
        """A signed session token for a new anonymous user (or for `user_id`, when renewing)."""
        if self.mode != "anonymous":
            raise RuntimeError(f"sessions are issued only in anonymous mode (auth mode is {self.mode!r})")
        user_id = user_id or "anon_" + secrets.token_hex(16)
        now = int(time.time())
        ttl = self._settings.session_ttl_seconds
        claims = {
            "iss": SESSION_ISSUER,
            "aud": SESSION_AUDIENCE,
            "sub": user_id,
            "iat": now,
            "exp": now + ttl,
        }
        token = jwt.encode(claims, self._session_secret, algorithm="HS256")
        expires_at = datetime.fromtimestamp(now + ttl, UTC).isoformat().replace("+00:00", "Z")
        return {"token": token, "user_id": user_id, "expires_at": expires_at, "expires_in": ttl}

    def renew_session(self, headers: Mapping[str, str]) -> dict[str, Any]:
        """A new token for the same anonymous user, from the request's current session token.

        The token must be one this server signed; it may have expired, but not longer ago than
        ``session_renew_grace_seconds`` (a token older than that is refused with
        ``session_expired``, and the reader starts a new session). Raises AuthError."""
        if self.mode != "anonymous":
            raise RuntimeError(f"sessions are renewed only in anonymous mode (auth mode is {self.mode!r})")
        grace = self._settings.session_renew_grace_seconds
        try:
            claims = _decode(
                _bearer_token(headers),
                self._session_secret,
                ["HS256"],
                audience=SESSION_AUDIENCE,
                issuer=SESSION_ISSUER,
                leeway=grace,  # PyJWT applies it to `exp`: accepted until exp + grace
                require=["exp", "iat", "sub"],
            )
        except AuthError as exc:
            if exc.code != "token_expired":
                raise
            raise AuthError(
                "session_expired",
                f"the session expired more than {grace} s ago and cannot be renewed; start a new one",
            ) from None
        return self.issue_session(_claim_identifier(claims, "sub"))


MAX_CLAIMED_ASSISTANTS = 100


def _claim_names(claims: Mapping[str, Any], name: str) -> frozenset[str]:
    """The assistants a token allows: a list of names (or one name, or a space-separated
    string, as OAuth scopes are written). An absent claim allows every assistant; a present
    but empty one allows none."""
    value = claims[name]
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AuthError("invalid_token", f"token claim {name!r} must be a list of assistant names")
    if len(value) > MAX_CLAIMED_ASSISTANTS or any(len(v) > MAX_IDENTIFIER_CHARS for v in value):
        raise AuthError("invalid_token", f"token claim {name!r} is too long")
    return frozenset(value)


def _claim_identifier(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if value is None:
        raise AuthError("missing_claim", f"token has no {name!r} claim")
    problem = _identifier_problem(value)
    if problem:
        raise AuthError("invalid_token", f"token claim {name!r} {problem}")
    return cast(str, value)  # _identifier_problem: a string


def _identifier_problem(value: object) -> str:
    """Why `value` cannot be a user or tenant id, or "" when it can."""
    if not isinstance(value, str):
        return "must be a string"
    if not value:
        return "must not be empty"
    if len(value) > MAX_IDENTIFIER_CHARS:
        return f"is longer than {MAX_IDENTIFIER_CHARS} characters"
    if not value.isprintable() or any(ch.isspace() for ch in value):
        return "contains whitespace or control characters"
    return ""


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """One header by lower-case name, from starlette Headers or any mapping; duplicates are
    refused, since a client-sent copy next to a gateway-set one must not be guessed between."""
    getlist = getattr(headers, "getlist", None)
    if callable(getlist):
        values = list(getlist(name))
    else:
        values = [value for key, value in headers.items() if key.lower() == name]
    if len(values) > 1:
        raise AuthError("duplicate_header", f"the {name} header appears more than once")
    return values[0] if values else None


def _bearer_token(headers: Mapping[str, str]) -> str:
    value = _header(headers, "authorization")
    if value is None:
        raise AuthError("missing_credentials", "missing Authorization header (expected 'Bearer <token>')")
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise AuthError("invalid_credentials", "Authorization header is not a Bearer token")
    token = token.strip()
    if len(token) > MAX_TOKEN_CHARS:
        raise AuthError("invalid_token", f"token is longer than {MAX_TOKEN_CHARS} characters")
    if len(token.split()) != 1:  # empty, or several words
        raise AuthError("invalid_credentials", "Authorization header has no single Bearer token")
    return token


def _trusted_identity(headers: Mapping[str, str]) -> Identity:
    user_id = _header(headers, "x-user-id")
    if user_id is None:
        raise AuthError("missing_user_header", "missing X-User-ID header (set by the gateway)")
    problem = _identifier_problem(user_id)
    if problem:
        raise AuthError("invalid_user_header", f"X-User-ID {problem}")
    tenant_id = _header(headers, "x-tenant-id")
    if tenant_id is None:
        return Identity(user_id=user_id)
    problem = _identifier_problem(tenant_id)
    if problem:
        raise AuthError("invalid_tenant_header", f"X-Tenant-ID {problem}")
    return Identity(user_id=user_id, tenant_id=tenant_id)
