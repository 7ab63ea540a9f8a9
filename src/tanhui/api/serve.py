"""Run the API with uvicorn (``tanhui serve``).

``serve(db_url, host, port)`` checks the settings and the database first, so a missing secret key
or an un-migrated database is reported as a :class:`~tanhui.errors.TanhuiError` (with what to
do) instead of a traceback from inside the server.

``demo=True`` is for a local trial: it turns on dev mode (``TANHUI_DEV=1``) with a random secret
key for this process, migrates the database, seeds the demo county into an empty database (its
registry and its development data, :func:`ensure_demo_registry`), and prints a warning, the logins
and where to look (:func:`demo_tour`).
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

__all__ = ["DEMO_ADMIN", "demo_tour", "ensure_demo_admin", "ensure_demo_registry", "serve"]

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
    """Seed the demo county into an empty database — its registry (parties, users, tickets,
    :func:`tanhui.registry.seed.seed`) and then its development data (the project library,
    pooled holders and their consents, a payout, a loss event, :func:`tanhui.develop.demo_seed.seed`)
    — and return the logins ({} when the database has users already)."""
    from sqlalchemy import func, select

    from tanhui.db.tables import User
    from tanhui.develop import demo_seed
    from tanhui.registry.seed import seed

    engine = make_engine(url)
    try:
        with UnitOfWork(engine) as uow:
            if uow.session.scalar(select(func.count()).select_from(User)):
                return {}
        registry = seed(engine, Path(home))
        demo_seed.seed(engine, Path(home), registry)
        return registry.logins
    finally:
        engine.dispose()


def demo_tour(base: str, home: Path) -> list[str]:
    """What a visitor of the demo can look at in the development pages (one line each)."""
    folder = Path(home) / "demo-county"
    return [
        pick(
            f"- 资源筛查 {base}/develop/screening ：上传 {folder / 'xiaoban_2016.csv'}"
            "（GBK 编码、亩），看每个小班的不合格原因和按村汇总",
            f"- Screening {base}/develop/screening : upload {folder / 'xiaoban_2016.csv'} "
            "(GBK, mu) for every reason and the totals by village",
        ),
        pick(
            f"- 可行性分析 {base}/develop/feasibility ：上传 {folder / 'xiaoban_2021.gpkg'}"
            "，看净现值、内部收益率、敏感性、风险和完整报告（HTML/PDF/Excel）",
            f"- Feasibility {base}/develop/feasibility : upload {folder / 'xiaoban_2021.gpkg'} "
            "for NPV, IRR, sensitivity, risk and the full report (HTML/PDF/Excel)",
        ),
        pick(
            f"- 项目库 {base}/develop/projects ：以 forestry 登录看全县储备与各项目阶段，"
            "以 village 或 farm 登录推进本单位的项目",
            f"- Project library {base}/develop/projects : log in as forestry for the county's "
            "reserve and every project; as village or farm to move your own projects",
        ),
        pick(
            f"- 权利人与授权 {base}/develop/holders ：以 farm 登录，统筹项目中未授权、"
            "已到期的地块，登记授权并上传扫描件",
            f"- Holders {base}/develop/holders : log in as farm to see the pooled project's "
            "missing and expired consents, and record one with its scan",
        ),
        pick(
            f"- 灾害损失 {base}/develop/losses ：以 forestry 登录，把村项目的山火损失在登记簿中注销",
            f"- Losses {base}/develop/losses : log in as forestry to reverse the village "
            "project's forest fire in the registry",
        ),
    ]


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
            print(
                pick(
                    "已写入示范县项目开发数据（项目库 3 个项目、权利人与授权、收益分配、山火损失）。可以看看：",
                    "Seeded the demo county's development data (3 library projects, holders and "
                    "their consents, a payout, a forest fire). Have a look at:",
                ),
                file=out,
            )
            for line in demo_tour(f"http://{host}:{port}", settings.home):
                print(line, file=out)
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
