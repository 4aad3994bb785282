"""The embed kit's server side: `GET /embed.js` and renewing sessions at `POST /session`."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import jwt
from pydantic import SecretStr

from app import create_app
from docsdesk.http.auth import SESSION_AUDIENCE, SESSION_ISSUER
from docsdesk.http.embed import IMMUTABLE, REVALIDATE, load_embed_script
from tests.support import REPO, LiveServer

SCRIPT = REPO / "docsdesk" / "static" / "embed.js"
# `/embed.js?v=VERSION` is cached by browsers for a year: a changed script needs a new VERSION.
# When you change embed.js, bump its VERSION and record the new digest here.
RELEASED = {
    "1.0.0": "f696d15a1c022e14834084be9e254edffad94466e039ec4d1357f63a18eae98f",
    "1.1.0": "126c92a582d17ff626db6a22ed166f5eceeb34fe001268add2d5ec802fcf1a1c",
    "1.1.1": "0f5df89c5faafa1552bff0712cf74f7f6b65ea0fd7242412882f82a616f8a3f4",
}


@asynccontextmanager
async def served(settings, **overrides) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update=overrides))
    async with LiveServer(app) as live, httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        yield http


def error_code(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


# --- /embed.js ----------------------------------------------------------------------------


def test_the_script_declares_its_version_and_each_version_has_one_content():
    script = load_embed_script()
    assert re.fullmatch(r"\d+\.\d+\.\d+", script.version)
    assert f"embed.js {script.version} |" in SCRIPT.read_text().splitlines()[0]
    digest = hashlib.sha256(SCRIPT.read_bytes()).hexdigest()
    assert RELEASED.get(script.version) == digest, (
        f"embed.js changed: bump its VERSION and set RELEASED[{script.version!r}] = {digest!r} here"
    )


async def test_embed_js_is_served_with_caching_headers(settings):
    script = load_embed_script()
    identity = {"Accept-Encoding": "identity"}
    async with served(settings) as http:
        plain = await http.get("/embed.js", headers=identity)
        assert plain.status_code == 200
        assert plain.headers["content-type"] == "text/javascript; charset=utf-8"
        assert "content-encoding" not in plain.headers
        assert plain.content == SCRIPT.read_bytes()
        assert plain.headers["etag"] == script.etag
        assert plain.headers["cache-control"] == REVALIDATE
        assert plain.headers["vary"].startswith("Accept-Encoding")
        assert plain.headers["x-docsdesk-embed-version"] == script.version
        assert plain.headers["access-control-allow-origin"] == "*"

        pinned = await http.get("/embed.js", params={"v": script.version}, headers=identity)
        assert pinned.headers["cache-control"] == IMMUTABLE and pinned.content == plain.content
        # A page still pinned to an older version gets today's script, revalidated, not a 404.
        old = await http.get("/embed.js", params={"v": "0.0.1"}, headers=identity)
        assert old.status_code == 200 and old.headers["cache-control"] == REVALIDATE

        again = await http.get("/embed.js", headers={**identity, "If-None-Match": f'W/"x", {script.etag}'})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == script.etag
        changed = await http.get("/embed.js", headers={**identity, "If-None-Match": '"something-else"'})
        assert changed.status_code == 200 and changed.content == plain.content

        head = await http.head("/embed.js", headers=identity)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(plain.content))
        assert (await http.post("/embed.js")).status_code == 405


async def test_embed_js_is_sent_compressed_to_browsers_that_take_gzip(settings):
    script = load_embed_script()
    async with served(settings) as http:
        packed = await http.get("/embed.js", headers={"Accept-Encoding": "gzip, deflate, br"})
        assert packed.headers["content-encoding"] == "gzip"
        assert packed.content == SCRIPT.read_bytes()  # httpx decoded it
        assert int(packed.headers["content-length"]) < len(script.body) / 2
        assert packed.headers["etag"] != script.etag  # another representation, another tag
        again = await http.get(
            "/embed.js", headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["etag"]}
        )
        assert again.status_code == 304
        refused = await http.get("/embed.js", headers={"Accept-Encoding": "gzip;q=0"})
        assert "content-encoding" not in refused.headers


def test_the_docs_load_the_current_version():
    version = load_embed_script().version
    for doc in (REPO / "README.md", REPO / "docsdesk" / "own_docs" / "embedding.md"):
        pinned = set(re.findall(r"embed\.js\?v=([0-9.]+)", doc.read_text()))
        assert pinned == {version}, f"{doc.name} loads embed.js?v={pinned}; the script is {version}"


# --- POST /session renewals ----------------------------------------------------------------


async def test_a_session_renews_for_the_same_reader(settings):
    async with served(settings) as http:
        first = (await http.post("/session")).json()
        assert first["expires_in"] == settings.session_ttl_seconds
        renewed = await http.post("/session", headers={"Authorization": f"Bearer {first['token']}"})
        assert renewed.status_code == 200, renewed.text
        assert renewed.headers["cache-control"] == "no-store"
        body = renewed.json()
        assert body["user_id"] == first["user_id"]
        assert body["expires_at"] >= first["expires_at"]
        answer = await http.post(
            "/chatkit",
            content=b'{"type":"threads.list","params":{"limit":5}}',
            headers={"Authorization": f"Bearer {body['token']}", "Content-Type": "application/json"},
        )
        assert answer.status_code == 200


async def test_an_expired_session_renews_within_the_grace_period(settings):
    secret = settings.secret_key.get_secret_value()
    now = int(time.time())

    def token(expired_seconds_ago: int) -> str:
        claims = {
            "iss": SESSION_ISSUER,
            "aud": SESSION_AUDIENCE,
            "sub": "anon_" + "cd" * 16,
            "iat": now - 10_000 - expired_seconds_ago,
            "exp": now - expired_seconds_ago,
        }
        return jwt.encode(claims, secret, algorithm="HS256")

    async with served(settings, session_renew_grace_seconds=3600) as http:
        expired = token(600)
        refused = await http.post(
            "/chatkit",
            content=b'{"type":"threads.list","params":{}}',
            headers={"Authorization": f"Bearer {expired}"},
        )
        assert refused.status_code == 401 and error_code(refused) == "token_expired"
        renewed = await http.post("/session", headers={"Authorization": f"Bearer {expired}"})
        assert renewed.status_code == 200 and renewed.json()["user_id"] == "anon_" + "cd" * 16

        too_old = await http.post("/session", headers={"Authorization": f"Bearer {token(3700)}"})
        assert too_old.status_code == 401 and error_code(too_old) == "session_expired"
        assert too_old.headers["www-authenticate"] == "Bearer"
        garbage = await http.post("/session", headers={"Authorization": "Bearer nonsense"})
        assert garbage.status_code == 401 and error_code(garbage) == "invalid_token"


async def test_renewals_do_not_use_the_per_ip_budget_for_new_sessions(settings):
    async with served(settings, rate_limit_sessions="1/minute", rate_limit_reads="3/minute") as http:
        token = (await http.post("/session")).json()["token"]
        refused = await http.post("/session")
        assert refused.status_code == 429 and error_code(refused) == "rate_limited"
        for _ in range(3):  # counted per reader instead, against the read limit
            renewed = await http.post("/session", headers={"Authorization": f"Bearer {token}"})
            assert renewed.status_code == 200, renewed.text
        limited = await http.post("/session", headers={"Authorization": f"Bearer {token}"})
        assert limited.status_code == 429 and "Retry-After" in limited.headers


def test_the_default_session_limit_fits_readers_behind_one_address():
    from docsdesk.core.settings import Settings

    assert Settings(_env_file=None).rate_limit_sessions == "60/minute"


async def test_sessions_are_not_issued_or_renewed_in_jwt_mode(settings):
    async with served(settings, auth_mode="jwt", jwt_secret=SecretStr("j" * 40)) as http:
        for headers in ({}, {"Authorization": "Bearer x"}):
            response = await http.post("/session", headers=headers)
            assert response.status_code == 404 and error_code(response) == "not_found"
