"""The identity service on its own (as the CLI calls it), on SQLite."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tanhui.api import create_app
from tanhui.db import UnitOfWork, make_engine
from tanhui.errors import (
    AuthenticationError,
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDenied,
)
from tanhui.registry import identity
from tanhui.registry.identity import Actor
from tanhui.registry.permissions import Role

SYSTEM = Actor.system()


@pytest.fixture
def uow(migrated_sqlite_url):
    engine = make_engine(migrated_sqlite_url)
    yield UnitOfWork(engine)
    engine.dispose()


def test_input_is_checked_in_both_languages(uow):
    with pytest.raises(InputError) as info:
        identity.create_user(uow, SYSTEM, "ab", "long enough pw")
    assert info.value.field == "username" and "用户名" in info.value.zh
    with pytest.raises(InputError) as info:
        identity.create_user(uow, SYSTEM, "valid.name", "short")
    assert info.value.field == "password" and "at least 8" in info.value.en
    with pytest.raises(InputError):
        identity.create_user(uow, SYSTEM, "valid.name", "Valid.Name")  # password = username
    with pytest.raises(InputError):
        identity.create_user(uow, SYSTEM, "valid.name", "long enough", roles=["king"])
    with pytest.raises(InputError) as info:
        identity.create_organisation(uow, SYSTEM, "某县林业局", "regulator", region_code="3504")
    assert info.value.field == "region_code"
    with pytest.raises(InputError):
        identity.create_organisation(uow, SYSTEM, "某县林业局", "regulator", credit_code="I" * 18)
    with pytest.raises(InputError):
        identity.create_organisation(uow, SYSTEM, "某县林业局", "church")
    with pytest.raises(NotFoundError):
        identity.create_user(uow, SYSTEM, "valid.name", "long enough", organisation_id=404)


def test_users_and_roles(uow):
    org = identity.create_organisation(
        uow,
        SYSTEM,
        "三明市林业局",
        "regulator",
        region_code="350400",
        credit_code="11350400mb0123456x",
    )
    assert org.credit_code == "11350400MB0123456X"
    with pytest.raises(ConflictError):
        identity.create_organisation(
            uow, SYSTEM, "另一个名称", "regulator", credit_code="11350400MB0123456X"
        )
    reviewer = identity.create_user(
        uow,
        SYSTEM,
        "reviewer",
        "reviewer password",
        organisation_id=org.id,
        roles=[Role.forestry_regulator, "forestry_regulator"],
    )
    assert reviewer.roles == (Role.forestry_regulator,)
    with pytest.raises(ConflictError):
        identity.create_user(uow, SYSTEM, "Reviewer", "another password")

    actor = identity.authenticate(uow, "reviewer", "reviewer password")
    assert actor.roles == frozenset({Role.forestry_regulator})
    assert actor.organisation_id == org.id and actor.via == "password"
    # the reviewer is no administrator, but may read its own user and organisation
    with pytest.raises(PermissionDenied):
        identity.list_users(uow, actor)
    with pytest.raises(PermissionDenied):
        identity.grant_role(uow, actor, reviewer.id, Role.admin)
    assert identity.get_user(uow, actor, reviewer.id).username == "reviewer"
    assert identity.get_organisation(uow, actor, org.id).name == "三明市林业局"

    identity.set_password(uow, SYSTEM, reviewer.id, "set by the system")
    with pytest.raises(AuthenticationError):
        identity.authenticate(uow, "reviewer", "reviewer password")
    identity.authenticate(uow, "reviewer", "set by the system")

    users, total = identity.list_users(uow, SYSTEM, organisation_id=org.id)
    assert total == 1 and users[0].roles == (Role.forestry_regulator,)


def test_machine_user_cannot_log_in_with_a_password(uow):
    machine = identity.create_user(uow, SYSTEM, "erp.client", None, roles=[Role.holder])
    assert not machine.has_password
    with pytest.raises(AuthenticationError) as info:
        identity.authenticate(uow, "erp.client", "")
    assert info.value.reason == "credentials"


def test_deactivated_user_told_only_after_the_right_password(uow):
    user = identity.create_user(uow, SYSTEM, "leaver", "leaver password")
    identity.deactivate_user(uow, SYSTEM, user.id)
    with pytest.raises(AuthenticationError) as wrong:
        identity.authenticate(uow, "leaver", "wrong password")
    assert wrong.value.reason == "credentials"
    with pytest.raises(AuthenticationError) as right:
        identity.authenticate(uow, "leaver", "leaver password")
    assert right.value.reason == "inactive"


def test_unexpected_errors_are_problems_without_details(migrated_sqlite_url):
    from api_helpers import assert_problem, make_settings

    app = create_app(make_settings(migrated_sqlite_url))

    @app.get("/crash")
    def crash():
        raise RuntimeError("internal detail that must not leak")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/crash", headers={"Accept-Language": "en"})
    body = assert_problem(response, 500, "internal")
    assert "must not leak" not in response.text and body["title"] == "Internal server error"
