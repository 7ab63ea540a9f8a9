"""Logging in and one's own account: access tokens, ``/me``, password, API keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from tanhui.api.deps import ActorDep, SettingsDep, UowDep, authenticate
from tanhui.api.problems import problem_responses
from tanhui.api.schemas import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyOut,
    MeOut,
    OrganisationOut,
    PasswordChangeIn,
    TokenOut,
    UserOut,
)
from tanhui.registry import identity
from tanhui.registry.identity import ApiKeyView
from tanhui.registry.permissions import Action

router = APIRouter(prefix="/api/v1", tags=["auth"])


def _key_out(view: ApiKeyView) -> ApiKeyOut:
    return ApiKeyOut.model_validate(view)


@router.post(
    "/auth/token",
    response_model=TokenOut,
    summary="登录，获取访问令牌 / log in for an access token",
    responses=problem_responses(401, 422, 429),
)
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    uow: UowDep,
    settings: SettingsDep,
    request: Request,
    response: Response,
) -> TokenOut:
    """OAuth2 password flow: form fields ``username`` and ``password``. The same 401 answers an
    unknown user and a wrong password; after five failures for a username within 15 minutes
    (or 100 from one address), 429 with ``Retry-After``."""
    actor = authenticate(request, uow, form.username, form.password)
    response.headers["Cache-Control"] = "no-store"
    return TokenOut(
        access_token=identity.issue_token(actor, settings),
        expires_in=settings.jwt_ttl_minutes * 60,
    )


@router.get(
    "/me",
    response_model=MeOut,
    summary="当前账户 / the current account",
    responses=problem_responses(401),
)
def me(actor: ActorDep, uow: UowDep) -> MeOut:
    assert actor.user_id is not None
    user = identity.get_user(uow, actor, actor.user_id)
    org = (
        identity.get_organisation(uow, actor, actor.organisation_id)
        if actor.organisation_id is not None
        else None
    )
    return MeOut(
        **UserOut.model_validate(user).model_dump(),
        via="api_key" if actor.via == "api_key" else "password",
        organisation=OrganisationOut.model_validate(org) if org else None,
        actions=[a for a in Action if actor.may(a)],
    )


@router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="修改密码 / change the password",
    responses=problem_responses(401, 422),
)
def change_password(body: PasswordChangeIn, actor: ActorDep, uow: UowDep) -> Response:
    """Access tokens issued before the change stop working; log in again."""
    assert actor.user_id is not None
    identity.set_password(
        uow, actor, actor.user_id, body.new_password, current_password=body.current_password
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/me/api-keys",
    response_model=list[ApiKeyOut],
    summary="我的 API 密钥 / my API keys",
    responses=problem_responses(401),
)
def list_api_keys(actor: ActorDep, uow: UowDep) -> list[ApiKeyOut]:
    return [_key_out(k) for k in identity.list_api_keys(uow, actor)]


@router.post(
    "/me/api-keys",
    response_model=ApiKeyCreated,
    status_code=status.HTTP_201_CREATED,
    summary="创建 API 密钥（只显示一次）/ create an API key (shown once)",
    responses=problem_responses(401, 403, 422),
)
def create_api_key(
    body: ApiKeyIn, actor: ActorDep, uow: UowDep, response: Response
) -> ApiKeyCreated:
    expires_at = (
        datetime.now(UTC) + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    )
    key, view = identity.create_api_key(uow, actor, body.name, expires_at=expires_at)
    response.headers["Cache-Control"] = "no-store"
    return ApiKeyCreated(**_key_out(view).model_dump(), key=key)


@router.delete(
    "/me/api-keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="吊销 API 密钥 / revoke an API key",
    responses=problem_responses(401, 404),
)
def revoke_api_key(key_id: int, actor: ActorDep, uow: UowDep) -> Response:
    identity.revoke_api_key(uow, actor, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
