"""The FastAPI application: :func:`create_app` builds it from settings.

::

    from tanhui.api import create_app
    app = create_app(settings)          # raises ConfigError without a real secret key

The app refuses to start with a missing or default ``TANHUI_SECRET_KEY`` unless
``TANHUI_DEV=1`` (see :func:`tanhui.registry.identity.api_settings`). Its state holds the
checked settings, the engine and a session factory (``app.state.settings``, ``.engine``,
``.sessions``); the dependencies in :mod:`tanhui.api.deps` read them.

Every error is RFC 9457 problem+json (:mod:`tanhui.api.problems`); the OpenAPI document is at
``/openapi.json`` and interactive docs at ``/docs``. Rooms add their routers in
:data:`ROUTERS`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from tanhui._version import __version__
from tanhui.api.deps import EngineDep
from tanhui.api.problems import install_problem_handlers, problem_responses
from tanhui.api.routers import admin, auth, develop, registry
from tanhui.api.schemas import HealthOut
from tanhui.config import Settings, get_settings
from tanhui.db.engine import display_url, make_engine, session_factory
from tanhui.db.migrate import current_revision, head
from tanhui.errors import DatabaseError
from tanhui.market.service import Market
from tanhui.registry import identity
from tanhui.registry.ledger import Ledger
from tanhui.registry.throttle import LoginThrottle
from tanhui.web.routes import mount as mount_web

__all__ = ["ROUTERS", "create_app", "create_app_from_env"]

#: The routers of the API, in the order they appear in the OpenAPI document.
ROUTERS: tuple[APIRouter, ...] = (auth.router, admin.router, registry.router, develop.router)

DESCRIPTION = """\
碳汇（tanhui）开放平台 API：从森林资源清查到林业碳票的签发、登记、交易与使用。

* 登录：`POST /api/v1/auth/token`（OAuth2 密码模式）得到访问令牌，之后每个请求带
  `Authorization: Bearer <令牌>`；机器客户端用 `X-API-Key: <密钥>`。
* 错误均为 RFC 9457 `application/problem+json`，语言随 `Accept-Language`（默认中文）。
* 列表分页：`?limit=&offset=`，响应含 `items`、`total`、`next`。

The tanhui (carbon sink) platform API: from forest inventories to issuing, registering, trading
and using forestry carbon tickets. Log in with `POST /api/v1/auth/token` (OAuth2 password flow)
and send `Authorization: Bearer <token>`; machine clients send `X-API-Key`. Errors are RFC 9457
problem+json in the language of `Accept-Language` (Chinese by default). Lists take
`?limit=&offset=` and answer `items`, `total`, `next`.
"""

health_router = APIRouter(tags=["health"])


@health_router.get(
    "/healthz",
    response_model=HealthOut,
    summary="健康检查 / health check",
    responses=problem_responses(503),
)
def healthz(engine: EngineDep, request: Request) -> HealthOut:
    """200 when the database answers and its schema is at this version's newest revision."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            revision = current_revision(connection)
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", exc)).strip().splitlines()
        raise DatabaseError(
            f"数据库 {display_url(engine.url)} 无法访问：{detail[0] if detail else ''}",
            f"The database {display_url(engine.url)} cannot be reached: "
            f"{detail[0] if detail else ''}",
            hint_zh="检查 TANHUI_DATABASE_URL 以及数据库服务是否在运行。",
            hint_en="Check TANHUI_DATABASE_URL and that the database server is running.",
        ) from None
    expected = head()
    if revision != expected:
        raise DatabaseError(
            f"数据库结构版本为 {revision or '（空）'}，本程序需要 {expected}。",
            f"The database schema is at {revision or '(empty)'}; this version needs {expected}.",
            hint_zh="请运行：tanhui db upgrade",
            hint_en="Run: tanhui db upgrade",
        )
    return HealthOut(status="ok", version=__version__, database="ok", schema_revision=revision)


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """The API application for ``settings`` (default: from the environment).

    ``engine`` lets a caller (tests, an embedding program) share its engine; otherwise one is
    made from ``settings.database_url`` and disposed when the app shuts down.
    """
    settings = identity.api_settings(settings if settings is not None else get_settings())
    own_engine = engine is None
    if engine is None:
        engine = make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if own_engine:
            engine.dispose()

    app = FastAPI(
        title="tanhui 碳汇 API",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    install_problem_handlers(app)
    app.state.ledger = Ledger(engine)
    app.state.login_throttle = LoginThrottle()
    # one market per process: it caches the exchange's ids and its books' rows (thread-safe)
    app.state.market = Market(engine, ledger=app.state.ledger)
    app.include_router(health_router)
    for router in ROUTERS:
        app.include_router(router)
    mount_web(app)
    identity.warm_up()
    return app


def create_app_from_env() -> FastAPI:
    """:func:`create_app` with settings read from the environment now (uvicorn's factory)."""
    return create_app(Settings())
