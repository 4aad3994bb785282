"""The forms settings accept, checked when the settings are read (before anything starts), and
the one line per mistake an operator sees: the environment variable, its value (unless it is a
secret) and what is accepted.

Every check raises ValueError with the accepted form ("expected ..."); `describe_errors` turns
pydantic's errors into lines naming the variables the operator set, not the field names.
"""

from __future__ import annotations

import ipaddress
import json
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from urllib.parse import urlsplit

import annotated_types
from pydantic import SecretStr, ValidationError
from pydantic.fields import FieldInfo

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MODEL_FORMS = '"offline", "openai:<model>" or "openai-chat:<model>"'
# The embedder kinds DOCSDESK_EMBEDDINGS names (rag.embeddings.EMBEDDER_KINDS builds each), as KIND
# or KIND:MODEL.
EMBEDDER_KIND_NAMES = ("model2vec", "openai", "onnx", "sentence-transformers")
EMBEDDINGS_FORMS = (
    '"none", "model2vec[:<model>]", "openai[:<model>]", "onnx[:<model>]" or '
    '"sentence-transformers[:<name-or-path>]"'
)
# RFC 7518 section 3.2: an HS256 key is at least 256 bits (docsdesk.core.secret checks the same).
MIN_SECRET_BYTES = 32
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SHOWN_CHARS = 80


# --- the forms ----------------------------------------------------------------------------


def origin(value: str) -> str:
    """A browser origin as browsers send it: scheme://host[:port], lower case, without a
    trailing slash or the scheme's default port. "*" stays "*"."""
    value = value.strip()
    if value == "*":
        return value
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise _not_an_origin(value, "its port is not a number") from None
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname or "://" not in value:
        raise _not_an_origin(value, "no http:// or https:// scheme")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "?" in value or "#" in value:
        raise _not_an_origin(value, "an origin has no path")
    if parts.username is not None or parts.password is not None:
        raise _not_an_origin(value, "an origin has no user name")
    scheme, host = parts.scheme.lower(), parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _not_an_origin(value: str, reason: str) -> ValueError:
    return ValueError(
        f"{value!r} is not an origin ({reason}): expected comma-separated scheme://host[:port], "
        "e.g. https://docs.example.com,http://localhost:8080"
    )


def rate_limit(value: str) -> str:
    """A `limits` rate-limit string: "20/minute", "5 per second; 100/hour"."""
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError:
        raise ValueError(
            'expected N/period, e.g. "20/minute" or "5/second; 100/hour" (periods: second, minute, '
            "hour, day, month, year)"
        ) from None
    return value


def rate_limit_storage(value: str) -> str:
    """A `limits` storage URI: memory:// or a networked storage (redis://host:6379, ...)."""
    from limits.storage import SCHEMES

    scheme = value.partition("://")[0].lower()
    if "://" not in value or scheme not in SCHEMES or scheme.startswith("async+"):
        known = ", ".join(f"{s}://" for s in SCHEMES if not s.startswith("async+"))
        raise ValueError(f"expected memory:// or a storage URI such as redis://host:6379 (schemes: {known})")
    return value


def network(value: str) -> str:
    """An IP address or network (10.0.0.0/8, ::1)."""
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise ValueError(
            f"{value.strip()!r} is not an IP address or network: expected comma-separated IPs or "
            "networks, e.g. 10.0.0.0/8,127.0.0.1"
        ) from None


def log_level(value: str) -> str:
    name = value.strip().upper()
    if name not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)} (any case)")
    return name


def model_spec(value: str) -> str:
    kind, sep, name = value.strip().partition(":")
    if value.strip() == "offline" or (sep and name.strip() and kind in ("openai", "openai-chat")):
        return value.strip()
    raise ValueError(f"expected {MODEL_FORMS}")


def embeddings_spec(value: str) -> str:
    spec = value.strip()
    kind, sep, name = spec.partition(":")
    if spec.lower() == "none" or (kind in EMBEDDER_KIND_NAMES and (not sep or name.strip())):
        return spec
    raise ValueError(f"expected {EMBEDDINGS_FORMS}")


def http_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL with a host, e.g. https://docs.example.com")
    return value.strip()


def public_key_pem(value: str) -> str:
    """A PEM public key (RSA of 2048 bits or more, EC, Ed25519/Ed448); "\\n" escapes allowed."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    form = "expected a PEM public key (-----BEGIN PUBLIC KEY-----): RSA 2048+ bits, EC or Ed25519"
    try:
        key = serialization.load_pem_public_key(value.replace("\\n", "\n").strip().encode())
    except ValueError:
        raise ValueError(form) from None
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
        raise ValueError(f"{form}; this RSA key has {key.key_size} bits")
    return value


def directory(value: Path) -> Path:
    """A directory path (created when needed); an existing file is refused."""
    path = value.expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError("expected a directory path; this names a file")
    return value


_ASSISTANT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_ASSISTANTS_FORM = 'JSON such as {"partner": ["partner-docs"]}: assistant names, each with its collections'


def assistant_collections(value: object) -> dict[str, list[str]]:
    """DOCSDESK_MCP_ASSISTANTS: a JSON object of assistant name to collection names (not
    `default`, which is the configured collection; each naming at least one)."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            raise ValueError(f"expected {_ASSISTANTS_FORM}") from None
    if not isinstance(value, dict) or not all(
        isinstance(names, list) and all(isinstance(c, str) and c for c in names) for names in value.values()
    ):
        raise ValueError(f"expected {_ASSISTANTS_FORM}")
    for name, collections in value.items():
        if name == "default" or not _ASSISTANT_NAME.fullmatch(name):
            raise ValueError(
                f"{name[:64]!r} is not an assistant name (1-64 of a-z, 0-9, _ or -; not `default`)"
            )
        if not collections:
            raise ValueError(f"assistant {name!r} names no collection")
    return value


def cross_field_problems(settings: Any) -> list[str]:
    """Mistakes across settings, each naming its variables."""
    problems = []
    has_key = settings.openai_api_key is not None and bool(settings.openai_api_key.get_secret_value())
    model = settings.resolved_model
    if model.startswith(("openai:", "openai-chat:")) and not has_key:
        problems.append(
            f"DOCSDESK_MODEL={model} needs OPENAI_API_KEY (any non-empty value works for a local "
            "OpenAI-compatible server named by OPENAI_BASE_URL); or set DOCSDESK_MODEL=offline"
        )
    if settings.embeddings.partition(":")[0] == "openai" and not has_key and settings.openai_base_url is None:
        problems.append(
            f"DOCSDESK_EMBEDDINGS={settings.embeddings} needs OPENAI_API_KEY (or OPENAI_BASE_URL for a "
            "local server)"
        )
    if settings.auth_mode == "jwt":
        keys = [
            name
            for name, value in (
                ("DOCSDESK_JWT_SECRET", settings.jwt_secret),
                ("DOCSDESK_JWT_PUBLIC_KEY", settings.jwt_public_key),
                ("DOCSDESK_JWKS_URL", settings.jwks_url),
            )
            if value
        ]
        if len(keys) != 1:
            problems.append(
                "DOCSDESK_AUTH_MODE=jwt needs exactly one verification key: DOCSDESK_JWT_SECRET (HS256), "
                "DOCSDESK_JWT_PUBLIC_KEY (PEM) or DOCSDESK_JWKS_URL"
                + (f" (got {', '.join(keys)})" if keys else "")
            )
    return problems


# --- one line per mistake ---------------------------------------------------------------


def describe_errors(exc: ValidationError, fields: dict[str, FieldInfo], env_prefix: str) -> list[str]:
    """One line per invalid setting: `VAR='value' is not valid: expected ...`."""
    lines = []
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        message = _message(error)
        if not loc:  # checks across settings: each line names its variables
            lines.extend(message.splitlines())
            continue
        field_name = str(loc[0])
        field = fields.get(field_name)
        variable = env_prefix + field_name.upper() if field is not None else field_name
        secret = field is None or _is_secret(field) or field_name in ("database_url", "openai_base_url")
        shown = "" if secret else f"={_shown(error.get('input'))}"
        if field is not None and error["type"] not in ("value_error", "assertion_error"):
            message = f"expected {accepted_form(field)}"
        lines.append(f"{variable}{shown} is not valid: {message}")
    return lines


def _message(error: Any) -> str:
    original = (error.get("ctx") or {}).get("error")
    if isinstance(original, ValueError):
        return str(original)
    return str(error["msg"]).removeprefix("Value error, ")


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > _SHOWN_CHARS:
        text = text[:_SHOWN_CHARS] + "..."
    return repr(text)


def _is_secret(field: FieldInfo) -> bool:
    return SecretStr in _members(field.annotation)


def _members(annotation: Any) -> tuple[Any, ...]:
    if get_origin(annotation) in (typing.Union, types.UnionType):
        return tuple(arg for arg in get_args(annotation) if arg is not type(None))
    return (annotation,)


def accepted_form(field: FieldInfo) -> str:
    """What a field accepts, in words: "a whole number >= 1", "one of json, text"."""
    members = _members(field.annotation)
    kind = members[0] if len(members) == 1 else None
    if get_origin(kind) is Literal:
        form = "one of " + ", ".join(map(str, get_args(kind)))
    elif kind is bool:
        form = "true or false (1 or 0)"
    elif kind is int:
        form = "a whole number"
    elif kind is float:
        form = "a number"
    elif kind is Path:
        form = "a directory path"
    else:
        form = "text"
    bounds = [_bound(item) for item in field.metadata]
    return " ".join([form, *(b for b in bounds if b)])


_BOUNDS = (
    (annotated_types.Ge, "ge", ">="),
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Le, "le", "and <="),
    (annotated_types.Lt, "lt", "and <"),
)


def _bound(item: object) -> str:
    if isinstance(item, annotated_types.MinLen):
        return f"of at least {item.min_length} character{'s' if item.min_length != 1 else ''}"
    for kind, name, sign in _BOUNDS:
        if isinstance(item, kind):
            return f"{sign} {getattr(item, name)}"
    return ""
