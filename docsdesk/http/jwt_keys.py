"""JWT verification for docsdesk.http.auth: the signing keys (a PEM public key, a JWKS URL's
keys cached by kid) and decoding with every PyJWT failure named, as an `AuthError`."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

if TYPE_CHECKING:
    from jwt.types import Options

log = logging.getLogger("docsdesk.http.auth")

TIME_CLAIMS = ("exp", "iat", "nbf")
JWKS_REFETCH_SECONDS = 60.0  # at most one fetch per this interval after a successful fetch
JWKS_RETRY_SECONDS = 5.0  # ... and per this interval after a failed one
JWKS_MAX_AGE_SECONDS = 3_600.0  # keys older than this are refreshed (picks up revocations)
JWKS_TIMEOUT_SECONDS = 5.0

_RSA_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
_EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512", "secp256k1": "ES256K"}


class AuthError(Exception):
    """Missing or invalid credentials; the app answers `status_code` with
    ``{"error": {"code": code, "message": message}}``."""

    def __init__(self, code: str, message: str, *, status_code: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status_code = status_code or (503 if code == "jwks_unavailable" else 401)


class _JwksCache:
    """Signing keys from a JWKS URL, by kid; refetched on an unknown kid or when old,
    never more often than JWKS_REFETCH_SECONDS (JWKS_RETRY_SECONDS after a failure)."""

    def __init__(self, url: str, clock: Callable[[], float]) -> None:
        self.url = url
        self.error = ""  # why the last fetch failed; "" after a success
        self._clock = clock
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()
        self._http = httpx.AsyncClient(timeout=JWKS_TIMEOUT_SECONDS, follow_redirects=False)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def key_for(self, kid: str | None) -> jwt.PyJWK:
        """The key a token names (or the only key, for a token without kid)."""
        if self._needs_fetch(kid):
            await self.refresh(kid)
        key = self._lookup(kid)
        if key is not None:
            return key
        if self.error:
            raise AuthError("jwks_unavailable", f"cannot fetch the signing keys: {self.error}")
        if kid is None:
            raise AuthError("invalid_token", "token header has no 'kid' and the JWKS holds several keys")
        raise AuthError("invalid_token", f"no signing key with kid {kid!r}")

    async def refresh(self, kid: str | None) -> None:
        """Fetch the keys if still needed (for `kid`) and allowed; a failure is kept in `error`."""
        async with self._lock:  # concurrent requests wait for one fetch, then re-check
            if not self._needs_fetch(kid):
                return
            now = self._clock()
            if self._attempted_at is not None:
                wait = JWKS_RETRY_SECONDS if self.error else JWKS_REFETCH_SECONDS
                if now - self._attempted_at < wait:
                    return
            self._attempted_at = now
            try:
                self._keys = await self._fetch()
            except AuthError as exc:
                self.error = exc.message
                if self._keys:
                    log.warning("JWKS refresh failed, keeping the previous keys: %s", exc.message)
                return
            self._fetched_at, self.error = now, ""

    def _needs_fetch(self, kid: str | None) -> bool:
        if self._fetched_at is None or self._clock() - self._fetched_at >= JWKS_MAX_AGE_SECONDS:
            return True
        return self._lookup(kid) is None

    def _lookup(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None and None not in self._keys and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid)

    async def _fetch(self) -> dict[str | None, jwt.PyJWK]:
        try:
            response = await self._http.get(self.url, headers={"Accept": "application/json"})
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise AuthError("jwks_unavailable", f"GET {self.url} failed: {exc}") from exc
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise AuthError("jwks_unavailable", f"{self.url} is not a JWKS document (no 'keys' list)")
        keys: dict[str | None, jwt.PyJWK] = {}
        for entry in document["keys"]:
            key = _signing_jwk(entry)
            if key is not None:
                keys[key.key_id] = key
        if not keys:
            raise AuthError("jwks_unavailable", f"{self.url} holds no usable signing keys")
        return keys


def _signing_jwk(entry: object) -> jwt.PyJWK | None:
    """An asymmetric signature key from a JWKS entry, or None for anything else."""
    if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
        return None
    if entry.get("kid") is not None and not isinstance(entry["kid"], str):
        return None
    try:
        key = jwt.PyJWK(entry)
    except jwt.PyJWTError:
        return None
    if key.algorithm_name.startswith("HS") or key.algorithm_name == "none":
        return None
    return key


def _load_public_key(pem: str) -> tuple[Any, list[str]]:
    """The public key from PEM text and the only algorithms it may verify."""
    try:
        key = serialization.load_pem_public_key(pem.replace("\\n", "\n").strip().encode())
    except ValueError as exc:
        raise ValueError(f"DOCSDESK_JWT_PUBLIC_KEY is not a PEM public key: {exc}") from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise ValueError(f"DOCSDESK_JWT_PUBLIC_KEY is a {key.key_size}-bit RSA key; 2048 bits at least")
        return key, list(_RSA_ALGORITHMS)
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _EC_ALGORITHMS:
            raise ValueError(f"DOCSDESK_JWT_PUBLIC_KEY uses the unsupported curve {key.curve.name}")
        return key, [_EC_ALGORITHMS[key.curve.name]]
    if isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        return key, ["EdDSA"]
    raise ValueError(f"DOCSDESK_JWT_PUBLIC_KEY has an unsupported key type ({type(key).__name__})")


def _decode(
    token: str,
    key: Any,
    algorithms: list[str],
    *,
    audience: str | None,
    issuer: str | None,
    leeway: float,
    require: list[str],
) -> dict[str, Any]:
    """Verified claims, with every PyJWT failure turned into an AuthError that names it."""
    options: Options = {"require": require, "verify_aud": audience is not None}
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options=options,
        )
    except (TypeError, ValueError, OverflowError) as exc:  # e.g. "exp": Infinity breaks int()
        raise AuthError("invalid_token", f"token has a time claim of the wrong type: {exc}") from None
    except jwt.ExpiredSignatureError:
        raise AuthError("token_expired", "token has expired") from None
    except jwt.InvalidAudienceError:
        raise AuthError("invalid_audience", "token audience is not accepted here") from None
    except jwt.InvalidIssuerError:
        raise AuthError("invalid_issuer", "token issuer is not accepted here") from None
    except jwt.MissingRequiredClaimError as exc:
        code = {"aud": "invalid_audience", "iss": "invalid_issuer"}.get(exc.claim, "missing_claim")
        raise AuthError(code, f"token has no {exc.claim!r} claim") from None
    except jwt.ImmatureSignatureError:
        raise AuthError("invalid_token", "token is not valid yet (nbf or iat in the future)") from None
    except jwt.InvalidSignatureError:
        raise AuthError("invalid_token", "token signature is invalid") from None
    except jwt.InvalidAlgorithmError:
        allowed = ", ".join(algorithms)
        raise AuthError("invalid_token", f"token algorithm is not accepted (allowed: {allowed})") from None
    except jwt.PyJWTError as exc:
        raise AuthError("invalid_token", f"token is malformed or invalid: {exc}") from None
    for name in TIME_CLAIMS:
        if name in claims and not _is_timestamp(claims[name]):
            raise AuthError(
                "invalid_token", f"token claim {name!r} must be a number of seconds (RFC 7519 NumericDate)"
            )
    return claims


def _is_timestamp(value: object) -> bool:
    """A NumericDate: a JSON number (not a numeric string, not a boolean) that a float holds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer too large for a float
        return False


def _unverified_kid(token: str) -> str | None:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError as exc:
        raise AuthError("invalid_token", f"token is malformed: {exc}") from None
    if kid is not None and not isinstance(kid, str):
        raise AuthError("invalid_token", "token header 'kid' is not a string")
    return kid
