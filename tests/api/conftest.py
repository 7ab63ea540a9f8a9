"""Fixtures for the API tests: an app on a migrated SQLite file and on PostgreSQL.

The database fixtures come from ``tests/db/conftest.py`` (loaded here under another module name,
since a conftest only serves its own directory): ``migrated_url`` runs each test once on SQLite
and once on PostgreSQL (skipped when the server is unreachable, failing when ``CI`` is set).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import ADMIN, HOLDER, login, make_settings
from fastapi.testclient import TestClient
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import Engine

from tanhui.api import create_app
from tanhui.config import Settings
from tanhui.db import UnitOfWork, make_engine
from tanhui.registry import identity
from tanhui.registry.identity import Actor
from tanhui.registry.permissions import Role


def _load_db_fixtures():
    name = "tanhui_tests_db_conftest"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).parents[1] / "db" / "conftest.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# Every fixture of tests/db/conftest.py (sqlite_url, migrated_url, postgres_server, …).
_db = _load_db_fixtures()
for _name, _value in vars(_db).items():
    if hasattr(_value, "_fixture_function_marker") or hasattr(_value, "_pytestfixturefunction"):
        globals()[_name] = _value


@pytest.fixture(autouse=True)
def cheap_argon2() -> Iterator[None]:
    """argon2id with small parameters: the same code path, a hundred times faster."""
    identity.use_password_hasher(Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    identity.use_password_hasher(None)


@pytest.fixture
def settings(migrated_url) -> Settings:
    return make_settings(migrated_url)


@pytest.fixture
def engine(migrated_url) -> Iterator[Engine]:
    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def uow(engine) -> UnitOfWork:
    return UnitOfWork(engine)


@pytest.fixture
def client(settings, engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine=engine)) as client:
        yield client


@pytest.fixture
def admin(engine) -> identity.UserView:
    """An administrator (created by the system actor, as the CLI would)."""
    return identity.create_user(
        UnitOfWork(engine), Actor.system(), ADMIN[0], ADMIN[1], roles=[Role.admin]
    )


@pytest.fixture
def holder_org(engine) -> identity.OrganisationView:
    return identity.create_organisation(
        UnitOfWork(engine), Actor.system(), "沙县区高桥镇官庄村", "holder", region_code="350427"
    )


@pytest.fixture
def holder(engine, holder_org) -> identity.UserView:
    return identity.create_user(
        UnitOfWork(engine),
        Actor.system(),
        HOLDER[0],
        HOLDER[1],
        organisation_id=holder_org.id,
        roles=[Role.holder],
        display_name="林伟",
    )


@pytest.fixture
def admin_headers(client, admin) -> dict[str, str]:
    return login(client, *ADMIN)


@pytest.fixture
def holder_headers(client, holder) -> dict[str, str]:
    return login(client, *HOLDER)
