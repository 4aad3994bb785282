"""Signed JWTs whose time claims have the wrong type are 401, over HTTP (they were 500s:
PyJWT accepts `exp` as a numeric string, and an integer too large for a float broke the
verified-token cache)."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from pydantic import SecretStr

from app import create_app
from tests.support import LiveServer
from tests.support.chatkit_client import ChatKitClient

SECRET = "hs256-shared-secret-for-claim-tests-0123456789"


@pytest.fixture
async def jwt_client(settings):
    app = create_app(settings.model_copy(update={"auth_mode": "jwt", "jwt_secret": SecretStr(SECRET)}))
    async with LiveServer(app) as live, ChatKitClient(live.url) as client:
        yield client


def token(**claims) -> str:
    now = int(time.time())
    return jwt.encode(
        {"sub": "claims-user", "iat": now, "exp": now + 300, **claims}, SECRET, algorithm="HS256"
    )


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": str(int(time.time()) + 300)},  # a numeric string
        {"exp": 10**400},  # an integer too large for a float
        {"exp": 2**1030},
        {"exp": True},
        {"exp": 1.5e308 * 10},  # inf is not JSON; PyJWT writes Infinity
        {"iat": str(int(time.time()))},
        {"iat": 10**400},
        {"nbf": "0"},
        {"nbf": 10**400},
    ],
    ids=[
        "exp-str",
        "exp-huge",
        "exp-2^1030",
        "exp-bool",
        "exp-inf",
        "iat-str",
        "iat-huge",
        "nbf-str",
        "nbf-huge",
    ],
)
async def test_time_claims_of_the_wrong_type_are_401(jwt_client, claims):
    headers = {"Authorization": f"Bearer {token(**claims)}"}
    response = await jwt_client.raw(json.dumps({"type": "threads.list", "params": {}}), headers=headers)
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    # PyJWT's own checks answer some (True is 1: expired; a huge iat/nbf is in the future).
    assert error["code"] in ("invalid_token", "token_expired") and error["message"]


async def test_well_typed_claims_still_pass(jwt_client):
    headers = {"Authorization": f"Bearer {token()}"}
    response = await jwt_client.raw(json.dumps({"type": "threads.list", "params": {}}), headers=headers)
    assert response.status_code == 200, response.text
