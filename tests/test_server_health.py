"""The server extension, in a real jupyter_server started by pytest-jupyter."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

import ratchet_jupyter


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"ratchet_jupyter": True}}}


async def test_health_answers_ok_and_the_version(jp_fetch):
    response = await jp_fetch("ratchet", "api", "v1", "health")

    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert json.loads(response.body) == {"status": "ok", "version": ratchet_jupyter.__version__}


async def test_health_refuses_a_request_without_the_token(jp_fetch):
    # Given a request that carries no Authorization header (jp_fetch adds the token by default)
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch("ratchet", "api", "v1", "health", headers={"Authorization": ""}, follow_redirects=False)

    # Then the server refuses it rather than answering the health
    assert refused.value.code in (401, 403, 302)
