"""Administration: organisations, users and their roles (the ``admin`` role; checked in the
identity service)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from tanhui.api.deps import ActorDep, UowDep
from tanhui.api.pagination import Page, PageParamsDep
from tanhui.api.problems import problem_responses
from tanhui.api.registry_schemas import MAX_ID
from tanhui.api.schemas import OrganisationIn, OrganisationOut, PasswordResetIn, UserIn, UserOut
from tanhui.registry import identity
from tanhui.registry.permissions import Role

#: Path ids are bounded like the registry's (one past 2**63 would overflow the database driver).
UserId = Annotated[int, Path(ge=1, le=MAX_ID)]
OrganisationId = Annotated[int, Path(ge=1, le=MAX_ID)]

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])

_READ = problem_responses(401, 403, 404, 422)
_WRITE = problem_responses(401, 403, 404, 409, 422)


# --------------------------------------------------------------------------- organisations


@router.get(
    "/organisations",
    response_model=Page[OrganisationOut],
    summary="机构列表 / list organisations",
    responses=_READ,
)
def list_organisations(
    actor: ActorDep, uow: UowDep, page: PageParamsDep, request: Request
) -> Page[OrganisationOut]:
    items, total = identity.list_organisations(uow, actor, limit=page.limit, offset=page.offset)
    return Page[OrganisationOut].build(
        [OrganisationOut.model_validate(o) for o in items], total, page, request
    )


@router.post(
    "/organisations",
    response_model=OrganisationOut,
    status_code=status.HTTP_201_CREATED,
    summary="新建机构 / create an organisation",
    responses=_WRITE,
)
def create_organisation(body: OrganisationIn, actor: ActorDep, uow: UowDep) -> OrganisationOut:
    org = identity.create_organisation(
        uow,
        actor,
        body.name,
        body.kind,
        region_code=body.region_code,
        credit_code=body.credit_code,
    )
    return OrganisationOut.model_validate(org)


@router.get(
    "/organisations/{organisation_id}",
    response_model=OrganisationOut,
    summary="机构详情 / one organisation",
    responses=_READ,
)
def get_organisation(
    organisation_id: OrganisationId, actor: ActorDep, uow: UowDep
) -> OrganisationOut:
    return OrganisationOut.model_validate(identity.get_organisation(uow, actor, organisation_id))


# ----------------------------------------------------------------------------------- users


@router.get(
    "/users",
    response_model=Page[UserOut],
    summary="用户列表 / list users",
    responses=_READ,
)
def list_users(
    actor: ActorDep,
    uow: UowDep,
    page: PageParamsDep,
    request: Request,
    organisation_id: Annotated[
        int | None,
        Query(ge=1, le=MAX_ID, description="只列出该机构的用户 / only this organisation's users"),
    ] = None,
) -> Page[UserOut]:
    items, total = identity.list_users(
        uow, actor, limit=page.limit, offset=page.offset, organisation_id=organisation_id
    )
    return Page[UserOut].build([UserOut.model_validate(u) for u in items], total, page, request)


@router.post(
    "/users",
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
    summary="新建用户 / create a user",
    responses=_WRITE,
)
def create_user(body: UserIn, actor: ActorDep, uow: UowDep) -> UserOut:
    user = identity.create_user(
        uow,
        actor,
        body.username,
        body.password,
        organisation_id=body.organisation_id,
        roles=body.roles,
        display_name=body.display_name,
    )
    return UserOut.model_validate(user)


@router.get(
    "/users/{user_id}",
    response_model=UserOut,
    summary="用户详情 / one user",
    responses=_READ,
)
def get_user(user_id: UserId, actor: ActorDep, uow: UowDep) -> UserOut:
    return UserOut.model_validate(identity.get_user(uow, actor, user_id))


@router.post(
    "/users/{user_id}/deactivate",
    response_model=UserOut,
    summary="停用用户（立即生效）/ deactivate a user (at once)",
    responses=_WRITE,
)
def deactivate_user(user_id: UserId, actor: ActorDep, uow: UowDep) -> UserOut:
    return UserOut.model_validate(identity.deactivate_user(uow, actor, user_id))


@router.post(
    "/users/{user_id}/reactivate",
    response_model=UserOut,
    summary="恢复用户 / reactivate a user",
    responses=_WRITE,
)
def reactivate_user(user_id: UserId, actor: ActorDep, uow: UowDep) -> UserOut:
    return UserOut.model_validate(identity.reactivate_user(uow, actor, user_id))


@router.put(
    "/users/{user_id}/roles/{role}",
    response_model=UserOut,
    summary="授予角色 / grant a role",
    responses=_WRITE,
)
def grant_role(user_id: UserId, role: Role, actor: ActorDep, uow: UowDep) -> UserOut:
    return UserOut.model_validate(identity.grant_role(uow, actor, user_id, role))


@router.delete(
    "/users/{user_id}/roles/{role}",
    response_model=UserOut,
    summary="撤销角色（立即生效）/ revoke a role (at once)",
    responses=_WRITE,
)
def revoke_role(user_id: UserId, role: Role, actor: ActorDep, uow: UowDep) -> UserOut:
    return UserOut.model_validate(identity.revoke_role(uow, actor, user_id, role))


@router.put(
    "/users/{user_id}/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="重置用户密码 / reset a user's password",
    responses=_WRITE,
)
def reset_password(
    user_id: UserId, body: PasswordResetIn, actor: ActorDep, uow: UowDep
) -> Response:
    identity.set_password(uow, actor, user_id, body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
