"""Helpers for the API tests (imported by the tests and their conftest)."""

from __future__ import annotations

import secrets

from fastapi.testclient import TestClient
from pydantic import SecretStr

from tanhui.config import Settings

ADMIN = ("root.admin", "correct horse battery")
HOLDER = ("lin.wei", "forest owner pw 1")


def make_settings(url: str, **overrides) -> Settings:
    values = {
        "database_url": url,
        "secret_key": SecretStr(secrets.token_urlsafe(48)),
        "dev_mode": False,
        "environment": "dev",
        "jwt_ttl_minutes": 30,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def login(client: TestClient, username: str, password: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def assert_problem(response, status: int, code: str | None = None) -> dict:
    """``response`` is an RFC 9457 problem with tanhui's members."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    for member in ("type", "title", "status", "detail", "code", "hint"):
        assert member in body, member
    assert body["status"] == status
    assert body["type"] == f"urn:tanhui:problem:{body['code']}"
    if code is not None:
        assert body["code"] == code, body
    return body
