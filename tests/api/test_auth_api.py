"""Logging in, tokens, roles read on every request, API keys (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from api_helpers import ADMIN, HOLDER, assert_problem, login
from pwdlib.hashers.argon2 import Argon2Hasher

from tanhui.db import UnitOfWork
from tanhui.registry import identity
from tanhui.registry.identity import Actor
from tanhui.registry.permissions import Action, Role


def test_token_flow_and_me(client, admin, holder, holder_org):
    response = client.post(
        "/api/v1/auth/token", data={"username": "LIN.WEI", "password": HOLDER[1]}
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 30 * 60
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert set(claims) >= {"sub", "iat", "exp", "jti", "iss"}
    assert "roles" not in claims  # roles are read from the database on each request

    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200, me.text
    me = me.json()
    assert me["username"] == "lin.wei"
    assert me["display_name"] == "林伟"
    assert me["roles"] == ["holder"]
    assert me["via"] == "password"
    assert me["organisation"]["name"] == holder_org.name
    assert Action.transfer in me["actions"] and Action.manage_users not in me["actions"]


def test_me_needs_credentials(client):
    body = assert_problem(client.get("/api/v1/me"), 401, "authentication")
    assert body["reason"] == "missing"


def test_wrong_password_and_unknown_user_look_the_same(client, admin, monkeypatch):
    calls: list[str] = []
    verify = Argon2Hasher.verify

    def spy(self, password, hash):
        calls.append(hash)
        return verify(self, password, hash)

    monkeypatch.setattr(Argon2Hasher, "verify", spy)
    wrong = client.post("/api/v1/auth/token", data={"username": ADMIN[0], "password": "nope1234"})
    assert len(calls) == 1
    unknown = client.post("/api/v1/auth/token", data={"username": "nobody", "password": "nope1234"})
    assert len(calls) == 2  # argon2 ran for the unknown user too (against the dummy hash)
    assert calls[0].startswith("$argon2id$") and calls[1].startswith("$argon2id$")
    assert calls[0] != calls[1]
    for response in (wrong, unknown):
        assert_problem(response, 401, "authentication")
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert wrong.json() == unknown.json()
    assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"]


def test_repeated_wrong_passwords_are_throttled(client, admin, monkeypatch):
    calls: list[str] = []
    verify = Argon2Hasher.verify
    monkeypatch.setattr(
        Argon2Hasher, "verify", lambda self, p, h: calls.append(h) or verify(self, p, h)
    )
    for _ in range(5):
        wrong = client.post("/api/v1/auth/token", data={"username": ADMIN[0], "password": "x1"})
        assert_problem(wrong, 401, "authentication")
    # the sixth try is refused before the password is checked, even the right one
    right = client.post("/api/v1/auth/token", data={"username": ADMIN[0], "password": ADMIN[1]})
    assert_problem(right, 429)
    assert len(calls) == 5
    assert 1 <= int(right.headers["retry-after"]) <= 15 * 60
    assert "15" in right.json()["detail"]
    # another user is not held back; time passing lets the admin in again
    throttle = client.app.state.login_throttle
    late = throttle.clock() + 15 * 60 + 1
    monkeypatch.setattr(throttle, "clock", lambda: late)
    again = client.post("/api/v1/auth/token", data={"username": ADMIN[0], "password": ADMIN[1]})
    assert again.status_code == 200, again.text


def test_expired_and_forged_tokens_are_refused(client, settings, uow, admin):
    actor = identity.authenticate(uow, *ADMIN)
    old = identity.issue_token(actor, settings, now=datetime.now(UTC) - timedelta(hours=2))
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {old}"})
    body = assert_problem(response, 401, "authentication")
    assert body["reason"] == "expired"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]

    now = datetime.now(UTC)
    forged = jwt.encode(
        {
            "sub": str(admin.id),
            "iss": "tanhui",
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(minutes=5)).timestamp()),
            "jti": "x",
        },
        "another-key-that-is-long-enough-for-hs256!!",
        algorithm="HS256",
    )
    for token in (forged, "not-a-jwt"):
        response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert assert_problem(response, 401)["reason"] == "invalid_token"


def test_revoked_role_and_deactivation_take_effect_on_next_request(
    client, engine, admin, admin_headers
):
    created = client.post(
        "/api/v1/admin/users",
        headers=admin_headers,
        json={"username": "deputy", "password": "deputy password", "roles": ["admin"]},
    )
    assert created.status_code == 201, created.text
    deputy_id = created.json()["id"]
    deputy = login(client, "deputy", "deputy password")
    assert client.get("/api/v1/admin/users", headers=deputy).status_code == 200

    revoked = client.delete(f"/api/v1/admin/users/{deputy_id}/roles/admin", headers=admin_headers)
    assert revoked.status_code == 200 and revoked.json()["roles"] == []
    # the same token, the next request: refused
    assert_problem(client.get("/api/v1/admin/users", headers=deputy), 403, "permission_denied")
    assert client.get("/api/v1/me", headers=deputy).json()["roles"] == []

    client.post(f"/api/v1/admin/users/{deputy_id}/deactivate", headers=admin_headers)
    body = assert_problem(client.get("/api/v1/me", headers=deputy), 401)
    assert body["reason"] == "inactive"


def test_password_change_ends_older_tokens(client, holder, holder_headers):
    wrong = client.post(
        "/api/v1/me/password",
        headers=holder_headers,
        json={"current_password": "not it at all", "new_password": "a new long password"},
    )
    assert_problem(wrong, 401)
    changed = client.post(
        "/api/v1/me/password",
        headers=holder_headers,
        json={"current_password": HOLDER[1], "new_password": "a new long password"},
    )
    assert changed.status_code == 204, changed.text
    assert_problem(client.get("/api/v1/me", headers=holder_headers), 401)
    fresh = login(client, HOLDER[0], "a new long password")
    assert client.get("/api/v1/me", headers=fresh).status_code == 200


def test_api_key_lifecycle(client, holder, holder_headers, admin_headers):
    created = client.post("/api/v1/me/api-keys", headers=holder_headers, json={"name": "ERP 对接"})
    assert created.status_code == 201, created.text
    body = created.json()
    key = body["key"]
    assert key.startswith("thk_") and body["prefix"] == key[:12] and body["active"]

    listed = client.get("/api/v1/me/api-keys", headers=holder_headers).json()
    assert [k["id"] for k in listed] == [body["id"]]
    assert "key" not in listed[0]

    as_machine = {"X-API-Key": key}
    me = client.get("/api/v1/me", headers=as_machine)
    assert me.status_code == 200, me.text
    assert me.json()["via"] == "api_key" and me.json()["username"] == "lin.wei"
    # a key cannot mint keys
    assert_problem(
        client.post("/api/v1/me/api-keys", headers=as_machine, json={}), 403, "permission_denied"
    )
    # someone else's key id is "not found", not "forbidden"
    assert_problem(
        client.delete(f"/api/v1/me/api-keys/{body['id']}", headers=_other(client)), 404, "not_found"
    )

    assert client.delete(f"/api/v1/me/api-keys/{body['id']}", headers=holder_headers).status_code
    assert_problem(client.get("/api/v1/me", headers=as_machine), 401, "authentication")
    assert_problem(client.get("/api/v1/me", headers={"X-API-Key": key[:-1] + "x"}), 401)
    assert_problem(client.get("/api/v1/me", headers={"X-API-Key": "garbage"}), 401)
    listed = client.get("/api/v1/me/api-keys", headers=holder_headers).json()
    assert listed[0]["revoked_at"] is not None and not listed[0]["active"]


def _other(client) -> dict[str, str]:
    identity.create_user(
        UnitOfWork(client.app.state.engine), Actor.system(), "other.user", "other password"
    )
    return login(client, "other.user", "other password")


def test_api_key_expiry_and_stored_hash_only(engine, uow, holder):
    actor = identity.authenticate(uow, *HOLDER)
    key, view = identity.create_api_key(
        uow, actor, "short-lived", expires_at=datetime.now(UTC) + timedelta(hours=1)
    )
    from sqlalchemy import select

    from tanhui.db.tables import ApiKey

    with engine.connect() as connection:
        stored = connection.execute(select(ApiKey.prefix, ApiKey.key_hash)).one()
    assert key not in stored and stored.prefix == view.prefix
    assert identity.actor_from_api_key(uow, key).via == "api_key"
    later = datetime.now(UTC) + timedelta(hours=2)
    with pytest.raises(identity.AuthenticationError):
        identity.actor_from_api_key(uow, key, now=later)


def test_system_actor_and_roles(uow, admin):
    assert Actor.system().roles == frozenset({Role.admin})
    assert Actor.anonymous().may(Action.public_lookup)
    assert not Actor.anonymous().may(Action.manage_users)
    assert identity.authenticate(uow, *ADMIN).ref == f"user:{admin.id}"
