"""Database fixtures for SQLite and PostgreSQL, shared by every test that needs a database.

Fixtures (each test gets its own database, so tests never collide, also under pytest-xdist):

``sqlite_url``      an empty SQLite file in the test's tmp directory
``postgres_url``    an empty PostgreSQL database ``tanhui_test_<pid>_<random>``, dropped after
``db_url``          parametrized over ``sqlite`` and ``postgresql``: an empty database
``migrated_url``    parametrized likewise: a database already at the newest schema revision
                    (a copy of a template migrated once per session: a file copy for SQLite,
                    ``CREATE DATABASE … TEMPLATE …`` for PostgreSQL)
``db_engine``       an engine on ``migrated_url`` (disposed after the test)

PostgreSQL: the server is ``TANHUI_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``, the maintenance connection used to create
and drop the test databases). When it cannot be reached the PostgreSQL tests are skipped with the
reason, unless the environment variable ``CI`` is set: then they fail.

Tests anywhere below ``tests/db/`` see these fixtures; a room's database tests can live there
(e.g. ``tests/db/registry/``) or the root conftest can import them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

from tanhui.db import make_engine, upgrade

ADMIN_URL = os.environ.get(
    "TANHUI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PREFIX = "tanhui_test_"
BACKENDS = ("sqlite", "postgresql")
_FIXTURE = {"sqlite": "sqlite", "postgresql": "postgres"}


# ------------------------------------------------------------------------------------- SQLite


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """An empty SQLite database file (created on first connection)."""
    return f"sqlite:///{tmp_path / 'empty.db'}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file migrated once per session: copy it (``shutil.copyfile``), never open it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")  # the engine is disposed afterwards: no WAL file is left
    return path


@pytest.fixture
def migrated_sqlite_url(sqlite_template, tmp_path) -> str:
    """A SQLite file at the newest schema revision."""
    target = tmp_path / "migrated.db"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite:///{target}"


# --------------------------------------------------------------------------------- PostgreSQL


class PostgresServer:
    """Creates and drops uniquely named databases on the test server."""

    def __init__(self, admin_url: str) -> None:
        self.url = make_url(admin_url).set(drivername="postgresql+psycopg")
        self.engine = create_engine(
            self.url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )

    def url_for(self, name: str) -> URL:
        return self.url.set(database=name)

    def create(self, template: str | None = None) -> str:
        name = f"{PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
        sql = f'CREATE DATABASE "{name}"'
        if template:
            sql += f' TEMPLATE "{template}"'
        with self.engine.connect() as connection:
            connection.execute(text(sql))
        return name

    def drop(self, name: str) -> None:
        with self.engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def drop_stale(self) -> None:
        """Drop test databases left by runs that died (only for a server on this machine)."""
        if self.url.host not in (None, "", "127.0.0.1", "localhost", "::1"):
            return
        with self.engine.connect() as connection:
            names = connection.scalars(
                text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                {"p": PREFIX.replace("_", r"\_") + "%"},
            ).all()
        for name in names:
            pid = name[len(PREFIX) :].split("_", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                with contextlib.suppress(Exception):
                    self.drop(name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL test server; skips (or fails when ``CI`` is set) if unreachable."""
    server = PostgresServer(ADMIN_URL)
    try:
        with server.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        server.engine.dispose()
        reason = (
            f"PostgreSQL is not reachable at {server.url.render_as_string(hide_password=True)} "
            f"({type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}); "
            "start it (pg_ctlcluster <version> main start) or set TANHUI_TEST_POSTGRES_URL"
        )
        if os.environ.get("CI"):
            pytest.fail(reason + " — CI is set, so PostgreSQL tests must run", pytrace=False)
        pytest.skip(reason)
    server.drop_stale()
    yield server
    server.engine.dispose()


@pytest.fixture
def postgres_url(postgres_server) -> Iterator[str]:
    """An empty PostgreSQL database of its own, dropped after the test."""
    name = postgres_server.create()
    try:
        yield postgres_server.url_for(name).render_as_string(hide_password=False)
    finally:
        postgres_server.drop(name)


@pytest.fixture(scope="session")
def _postgres_template(postgres_server) -> Iterator[str]:
    name = postgres_server.create()
    try:
        engine = make_engine(postgres_server.url_for(name))
        try:
            upgrade(engine)
        finally:
            engine.dispose()  # a template must have no open connections
        yield name
    finally:
        postgres_server.drop(name)


@pytest.fixture
def migrated_postgres_url(postgres_server, _postgres_template) -> Iterator[str]:
    """A PostgreSQL database of its own at the newest schema revision, dropped after."""
    name = postgres_server.create(template=_postgres_template)
    try:
        yield postgres_server.url_for(name).render_as_string(hide_password=False)
    finally:
        postgres_server.drop(name)


# ----------------------------------------------------------------------------------- both


@pytest.fixture(params=BACKENDS)
def db_url(request) -> str:
    """An empty database, once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{_FIXTURE[request.param]}_url")


@pytest.fixture(params=BACKENDS)
def migrated_url(request) -> str:
    """A database at the newest schema revision, once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"migrated_{_FIXTURE[request.param]}_url")


@pytest.fixture
def db_engine(migrated_url) -> Iterator[Engine]:
    """An engine on a migrated database (SQLite and PostgreSQL)."""
    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()
