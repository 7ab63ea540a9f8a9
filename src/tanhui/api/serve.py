"""Run the API with uvicorn (``tanhui serve``).

``serve(db_url, host, port)`` checks the settings and the database first, so a missing secret key
or an un-migrated database is reported as a :class:`~tanhui.errors.TanhuiError` (with what to
do) instead of a traceback from inside the server.

``demo=True`` is for a local trial: it turns on dev mode (``TANHUI_DEV=1``) with a random secret
key for this process, migrates the database, creates an administrator ``admin`` with a random
password when the database has no user yet, and prints a warning and the credentials.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import TextIO

from tanhui.config import Settings
from tanhui.db.engine import display_url, make_engine
from tanhui.db.migrate import current, head, upgrade
from tanhui.db.uow import UnitOfWork
from tanhui.errors import DatabaseError
from tanhui.i18n import pick
from tanhui.registry import identity
from tanhui.registry.identity import Actor
from tanhui.registry.permissions import Role

__all__ = ["DEMO_ADMIN", "ensure_demo_admin", "serve"]

APP_FACTORY = "tanhui.api.app:create_app_from_env"
DEMO_ADMIN = "admin"


def ensure_demo_admin(url: str) -> str | None:
    """Create the administrator ``admin`` with a random password if the database has no user;
    return the password (``None`` when users exist already)."""
    from sqlalchemy import func, select

    from tanhui.db.tables import User

    engine = make_engine(url)
    try:
        with UnitOfWork(engine) as uow:
            if uow.session.scalar(select(func.count()).select_from(User)):
                return None
        password = secrets.token_urlsafe(12)
        identity.create_user(
            UnitOfWork(engine),
            Actor.system(),
            DEMO_ADMIN,
            password,
            roles=[Role.admin],
            display_name="演示管理员 / demo administrator",
        )
        return password
    finally:
        engine.dispose()


def ensure_demo_registry(url: str, home: Path) -> dict[str, str]:
    """Seed the demo county's registry (parties, users, tickets) into an empty database; return the
    logins ({} when the database has users already)."""
    from sqlalchemy import func, select

    from tanhui.db.tables import User
    from tanhui.registry.seed import seed

    engine = make_engine(url)
    try:
        with UnitOfWork(engine) as uow:
            if uow.session.scalar(select(func.count()).select_from(User)):
                return {}
        return seed(engine, Path(home)).logins
    finally:
        engine.dispose()


def _check_schema(url: str) -> None:
    revision, expected = current(url), head()
    if revision != expected:
        raise DatabaseError(
            f"数据库 {display_url(url)} 的结构版本为 {revision or '（空）'}，本程序需要 {expected}。",
            f"The database {display_url(url)} is at schema revision {revision or '(empty)'}; "
            f"this version needs {expected}.",
            hint_zh="请先运行：tanhui db upgrade（或用 tanhui serve --demo 试用）",
            hint_en="Run first: tanhui db upgrade (or try tanhui serve --demo)",
        )


def serve(
    db_url: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    demo: bool = False,
    reload: bool = False,
    *,
    log_level: str = "info",
    stream: TextIO | None = None,
) -> None:
    """Serve the API until interrupted. ``db_url`` overrides ``TANHUI_DATABASE_URL``."""
    import uvicorn

    out = stream or sys.stderr
    # The server (and its reloader's workers) build the app from the environment.
    if db_url:
        os.environ["TANHUI_DATABASE_URL"] = db_url
    if demo:
        os.environ["TANHUI_DEV"] = "1"
        settings = Settings()
        key = settings.secret_key.get_secret_value() if settings.secret_key else ""
        if identity._weak_secret(key) is not None:
            os.environ["TANHUI_SECRET_KEY"] = secrets.token_urlsafe(48)
        settings = Settings()
        print(
            pick(
                "⚠ 演示模式：使用本进程的随机签名密钥，重启后所有登录失效；切勿用于生产。",
                "⚠ Demo mode: a random signing key for this process (every login ends when it "
                "restarts); never use it in production.",
            ),
            file=out,
        )
        upgrade(settings.database_url)
        logins = ensure_demo_registry(settings.database_url, settings.home)
        if logins:
            print(
                pick(
                    "已写入示范县登记数据。登录账号（密码相同）：",
                    "Seeded the demo county's registry. Logins (same password):",
                ),
                file=out,
            )
            for username, password in logins.items():
                print(f"  {username:<10} {password}", file=out)
    else:
        settings = Settings()
        identity.api_settings(settings)
        _check_schema(settings.database_url)
    print(
        pick(
            f"API：http://{host}:{port}/docs （数据库 {display_url(settings.database_url)}）",
            f"API: http://{host}:{port}/docs (database {display_url(settings.database_url)})",
        ),
        file=out,
    )
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        reload=reload,
        reload_dirs=[str(Path(__file__).resolve().parents[1])] if reload else None,
        log_level=log_level,
    )
