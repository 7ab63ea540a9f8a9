"""Typed dependencies every router uses.

::

    @router.get("/things")
    def things(actor: ActorDep, uow: UowDep, lang: LangDep) -> ...:
        return service.list_things(uow, actor, ...)

``ActorDep``          the logged-in actor (Bearer access token or ``X-API-Key``), else 401
``OptionalActorDep``  the actor, or ``None`` for an anonymous visitor (public endpoints); bad
                      credentials are still refused with 401
``UowDep``            a fresh :class:`~tanhui.db.uow.UnitOfWork` for the request (services open
                      and commit it; routes never touch the session)
``SettingsDep``       the app's settings (its secret key already checked)
``EngineDep``         the app's engine
``LangDep``           ``"zh"`` or ``"en"`` for the request (``?lang=``, cookie, Accept-Language)

Roles are never checked here: the services call :func:`tanhui.registry.permissions.require`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy import Engine

from tanhui.api.problems import negotiate_lang
from tanhui.config import Settings
from tanhui.db.uow import UnitOfWork
from tanhui.errors import AuthenticationError
from tanhui.i18n import Lang
from tanhui.market.service import Market
from tanhui.registry import identity
from tanhui.registry.identity import Actor
from tanhui.registry.throttle import LoginThrottle

__all__ = [
    "API_KEY_HEADER",
    "TOKEN_URL",
    "ActorDep",
    "EngineDep",
    "LangDep",
    "OptionalActorDep",
    "SettingsDep",
    "UowDep",
    "current_actor",
    "get_engine",
    "get_settings",
    "get_uow",
    "optional_actor",
]

TOKEN_URL = "/api/v1/auth/token"
API_KEY_HEADER = "X-API-Key"

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    scheme_name="OAuth2Password",
    description="用户名和密码换取访问令牌 / a username and password for an access token",
    auto_error=False,
)
api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER,
    scheme_name="ApiKey",
    description="机器客户端的 API 密钥 / an API key for machine clients",
    auto_error=False,
)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_uow(request: Request) -> UnitOfWork:
    return UnitOfWork(request.app.state.sessions)


def get_market(request: Request) -> Market:
    """The process's :class:`~tanhui.market.service.Market` (made by ``create_app``)."""
    return request.app.state.market


def authenticate(request: Request, uow: UnitOfWork, username: str, password: str) -> Actor:
    """:func:`identity.authenticate` behind the app's login throttle (``app.state.login_throttle``):
    after too many failures for a username or from an address, refused with
    :class:`~tanhui.registry.throttle.TooManyAttempts` before the password is checked."""
    throttle: LoginThrottle = request.app.state.login_throttle
    address = request.client.host if request.client else None
    throttle.check(username, address)
    try:
        actor = identity.authenticate(uow, username, password)
    except AuthenticationError as exc:
        if exc.reason == "credentials":
            throttle.failed(username, address)
        raise
    throttle.succeeded(username)
    return actor


def public_base_url(request: Request) -> str:
    """Where users reach the site, without a trailing slash: the configured ``public_url``, else
    the request's own address (from its Host header)."""
    configured = request.app.state.settings.public_url
    return configured or str(request.base_url).rstrip("/")


SettingsDep = Annotated[Settings, Depends(get_settings)]
MarketDep = Annotated[Market, Depends(get_market)]
EngineDep = Annotated[Engine, Depends(get_engine)]
UowDep = Annotated[UnitOfWork, Depends(get_uow)]
LangDep = Annotated[Lang, Depends(negotiate_lang)]


def optional_actor(
    settings: SettingsDep,
    uow: UowDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Actor | None:
    """The actor behind the request's credentials; ``None`` when it has none."""
    if api_key:
        return identity.actor_from_api_key(uow, api_key)
    if token:
        return identity.actor_from_token(uow, token, settings)
    return None


OptionalActorDep = Annotated[Actor | None, Depends(optional_actor)]


def current_actor(actor: OptionalActorDep) -> Actor:
    """The logged-in actor; 401 when the request carries no credentials."""
    if actor is None:
        raise AuthenticationError(
            "需要登录：请提供访问令牌（Authorization: Bearer …）或 API 密钥（X-API-Key）。",
            "Authentication required: send an access token (Authorization: Bearer …) or an API "
            "key (X-API-Key).",
            reason="missing",
            hint_zh=f"用用户名和密码请求 POST {TOKEN_URL} 获取访问令牌。",
            hint_en=f"POST a username and password to {TOKEN_URL} for an access token.",
        )
    return actor


ActorDep = Annotated[Actor, Depends(current_actor)]
