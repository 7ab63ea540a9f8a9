"""Fixtures for the web UI tests: a registry seeded with the demo county, an app on it, helpers.

``seeded_template``  a SQLite file migrated and seeded once per session (per xdist worker) with
                     :func:`tanhui.registry.seed.seed`; never opened by the tests, only copied
``seeded``           what the seed created (logins, organisations, accounts, certificates)
``seeded_url``       a copy of the template for one test
``settings``, ``app``, ``client``
                     the API application (with the pages) on that copy, and a TestClient
``login``            ``login(client, "village")`` logs in through the login form

Passwords are hashed with cheap argon2 parameters (the same code path, much faster).
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pwdlib.hashers.argon2 import Argon2Hasher
from pydantic import SecretStr
from web_helpers import csrf_of

from tanhui.api import create_app
from tanhui.config import Settings
from tanhui.db import make_engine, upgrade
from tanhui.registry import identity
from tanhui.registry.seed import DEMO_PASSWORD, seed

CHEAP_ARGON2 = Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1)


@dataclass(frozen=True)
class SeededWorld:
    path: Path
    password: str
    organisations: dict[str, int]
    accounts: dict[str, str]
    certificates: list[str]


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory) -> SeededWorld:
    """The demo registry, seeded once per session (per worker)."""
    root = tmp_path_factory.mktemp("web-seed")
    path = root / "seeded.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    identity.use_password_hasher(CHEAP_ARGON2)
    engine = make_engine(url)
    try:
        out = seed(engine, root / "data", rows=600)
    finally:
        engine.dispose()
        identity.use_password_hasher(None)
    return SeededWorld(
        path=path,
        password=DEMO_PASSWORD,
        organisations=dict(out.organisations),
        accounts=dict(out.accounts),
        certificates=list(out.certificates),
    )


@pytest.fixture(autouse=True)
def cheap_argon2() -> Iterator[None]:
    identity.use_password_hasher(CHEAP_ARGON2)
    yield
    identity.use_password_hasher(None)


@pytest.fixture
def seeded(seeded_template) -> SeededWorld:
    return seeded_template


@pytest.fixture
def seeded_url(seeded_template, tmp_path) -> str:
    target = tmp_path / "registry.db"
    shutil.copyfile(seeded_template.path, target)
    return f"sqlite:///{target}"


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


@pytest.fixture
def settings(seeded_url) -> Settings:
    return make_settings(seeded_url)


@pytest.fixture
def app(settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def login(seeded) -> Callable[..., str]:
    """``login(client, username)`` logs in through the form; returns the CSRF token to use next."""

    def do(client: TestClient, username: str, password: str | None = None) -> str:
        page = client.get("/login")
        assert page.status_code == 200, page.text
        response = client.post(
            "/login",
            data={
                "username": username,
                "password": password or seeded.password,
                "csrf_token": csrf_of(page.text),
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        landing = client.get(response.headers["location"])
        assert landing.status_code == 200, landing.text
        return csrf_of(landing.text)

    return do
