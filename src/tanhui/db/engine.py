"""Engines for the two supported databases: an embedded SQLite file and PostgreSQL.

SQLite connections get ``foreign_keys=ON``, write-ahead logging, a busy timeout and
``synchronous=NORMAL``, and every transaction starts with ``BEGIN IMMEDIATE`` (read-only work, see :func:`read_only`,
starts a plain deferred ``BEGIN``): a writer takes the
write lock when it begins instead of failing with "database is locked" when a reader upgrades to a
writer half-way through. Concurrent writers therefore wait for each other (up to the busy
timeout) and run one after the other. This is SQLAlchemy's documented pysqlite recipe
(``isolation_level=None`` on the DBAPI connection + a ``begin`` event that emits the BEGIN).

PostgreSQL goes through psycopg 3 (``postgresql+psycopg://``; a plain ``postgresql://`` or
``postgres://`` URL is rewritten) with ``pool_pre_ping``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from tanhui.errors import DatabaseError

#: How long (milliseconds) a SQLite connection waits for another writer before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000

#: Execution option marking read-only work (see :func:`read_only`).
READ_ONLY = "tanhui_read_only"


def normalize_url(url: str | URL) -> URL:
    """Parse ``url`` and pick tanhui's driver: psycopg 3 for PostgreSQL, pysqlite for SQLite."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        raise DatabaseError(
            f"无法识别的数据库地址：{url}",
            f"Not a database URL: {url}",
            hint_zh="示例：sqlite:///tanhui.db 或 postgresql://user:password@host:5432/tanhui",
            hint_en="Examples: sqlite:///tanhui.db or postgresql://user:password@host:5432/tanhui",
        ) from None
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
            parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend != "sqlite":
        raise DatabaseError(
            f"不支持的数据库 {backend}：tanhui 支持 SQLite 与 PostgreSQL。",
            f"Unsupported database {backend}: tanhui supports SQLite and PostgreSQL.",
            hint_zh="请使用 sqlite:///文件路径 或 postgresql://… 地址。",
            hint_en="Use a sqlite:///path or postgresql://… URL.",
        )
    return parsed


def display_url(url: str | URL) -> str:
    """The URL with its password hidden, for messages."""
    try:
        return normalize_url(url).render_as_string(hide_password=True)
    except DatabaseError:
        return str(url)


def is_sqlite(url_or_engine: str | URL | Engine) -> bool:
    url = url_or_engine.url if isinstance(url_or_engine, Engine) else normalize_url(url_or_engine)
    return url.get_backend_name() == "sqlite"


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for ``url`` with tanhui's connection settings (see the module docstring).

    For a SQLite file the parent directory is created if missing. Extra keyword arguments go to
    :func:`sqlalchemy.create_engine`.
    """
    parsed = normalize_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed, **kwargs)
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(parsed, **kwargs)
    except (ModuleNotFoundError, NoSuchModuleError) as exc:
        raise DatabaseError(
            f"缺少数据库驱动（{exc}）。",
            f"The database driver is missing ({exc}).",
            hint_zh="PostgreSQL 需要：pip install 'tanhui[postgres]'",
            hint_en="PostgreSQL needs: pip install 'tanhui[postgres]'",
        ) from None


def _sqlite_engine(url: URL, **kwargs: Any) -> Engine:
    database = url.database or ""
    memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if memory:
        # One shared connection, or every session would see its own empty database.
        kwargs.setdefault("poolclass", StaticPool)
        kwargs.setdefault("connect_args", {"check_same_thread": False})
    else:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module; the "begin" hook emits BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if not memory:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A read-only transaction begins DEFERRED: under WAL it reads one consistent snapshot
        # without taking the write lock, so readers never wait for (or block) writers.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def read_only(engine: Engine) -> Engine:
    """The same engine (and pool) for read-only work: SQLite begins a DEFERRED transaction (a
    snapshot that does not block writers) and PostgreSQL a READ ONLY one. Do not write through it.
    """
    options: dict[str, Any] = {READ_ONLY: True}
    if engine.dialect.name == "postgresql":
        options["postgresql_readonly"] = True
    return engine.execution_options(**options)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)
