"""Schema migrations, run programmatically (no ``alembic.ini`` needed).

The Alembic environment and the revisions ship inside the package (``tanhui/db/migrations``), so
``tanhui db upgrade`` works from an installed wheel. Each command runs in one transaction: on
PostgreSQL and on SQLite (whose DDL is transactional under tanhui's ``BEGIN IMMEDIATE``) a failed
migration leaves the schema as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, OperationalError

from tanhui.db.engine import display_url, make_engine, normalize_url
from tanhui.errors import DatabaseError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision shipped with this version of tanhui."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


def revisions() -> list[str]:
    """All shipped revisions, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [s.revision for s in reversed(list(script.walk_revisions()))]


@contextmanager
def connect(url: str | URL | Engine, *, begin: bool = False) -> Iterator[Connection]:
    """A connection (in a transaction when ``begin``), with clear errors when the database
    cannot be opened or is busy. An engine passed in is left open; one made here is disposed."""
    engine = url if isinstance(url, Engine) else make_engine(url)
    try:
        try:
            connection = engine.connect()
        except OperationalError as exc:
            raise unreachable(engine.url, exc) from None
        with connection:
            if not begin:
                yield connection
                return
            try:
                transaction = connection.begin()
            except OperationalError as exc:
                raise DatabaseError(
                    f"数据库 {display_url(engine.url)} 正忙，无法开始事务：{error_detail(exc)}",
                    f"The database {display_url(engine.url)} is busy; no transaction could start: {error_detail(exc)}",
                    hint_zh="稍后重试；如果持续出现，检查是否有其他进程长时间占用数据库。",
                    hint_en="Try again later; if it persists, look for another process holding the database.",
                ) from None
            with transaction:
                yield connection
    finally:
        if not isinstance(url, Engine):
            engine.dispose()


def error_detail(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def unreachable(url: str | URL, exc: BaseException) -> DatabaseError:
    """The error for a database that cannot be opened."""
    detail = error_detail(exc)
    return DatabaseError(
        f"无法连接数据库 {display_url(url)}：{detail}",
        f"Cannot open the database {display_url(url)}: {detail}",
        hint_zh="检查 --db 或 TANHUI_DATABASE_URL 中的地址、用户和密码，以及数据库服务是否在运行。",
        hint_en="Check the address, user and password in --db or TANHUI_DATABASE_URL, and that the database server is running.",
    )


def _run(url: str | URL | Engine, action: str, revision: str) -> None:
    with connect(url, begin=True) as connection:
        config = alembic_config(connection)
        try:
            getattr(command, action)(config, revision)
        except CommandError as exc:
            raise DatabaseError(
                f"无法{'升级' if action == 'upgrade' else '降级'}到版本 {revision}：{exc}",
                f"Cannot {action} to revision {revision}: {exc}",
                hint_zh=f"可用版本：{', '.join(revisions())}（以及 head、base）。",
                hint_en=f"Known revisions: {', '.join(revisions())} (and head, base).",
            ) from None
        except DBAPIError as exc:
            raise DatabaseError(
                f"迁移失败，数据库未改变：{error_detail(exc)}",
                f"The migration failed and the database was left unchanged: {error_detail(exc)}",
            ) from None


def upgrade(url: str | URL | Engine, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` (default: the newest)."""
    _run(url, "upgrade", revision)


def downgrade(url: str | URL | Engine, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``base`` drops every table)."""
    _run(url, "downgrade", revision)


def current(url: str | URL | Engine) -> str | None:
    """The database's schema revision, or ``None`` when it has never been migrated.

    A SQLite file that does not exist is reported as ``None`` and not created.
    """
    if not isinstance(url, Engine) and _missing_sqlite_file(url):
        return None
    with connect(url) as connection:
        return current_revision(connection)


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _missing_sqlite_file(url: str | URL) -> bool:
    parsed = normalize_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return False
    return not database.startswith("file:") and not Path(database).expanduser().exists()
