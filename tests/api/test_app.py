"""The app itself: settings that refuse default secrets, OpenAPI, health, error mapping, serve."""

from __future__ import annotations

import pytest
from api_helpers import assert_problem, make_settings
from fastapi.testclient import TestClient
from pydantic import SecretStr

from tanhui.api import create_app, serve
from tanhui.api.problems import code_for, parse_accept_language, status_for
from tanhui.db.tables import ORGANISATION_KINDS
from tanhui.errors import (
    AuthenticationError,
    ConfigError,
    DatabaseError,
    InputError,
    InventoryError,
    NotFoundError,
    PermissionDenied,
    Problem,
    RegistryError,
    SerialError,
    StateError,
    TanhuiError,
)
from tanhui.registry import identity
from tanhui.registry.identity import OrganisationKind

# ------------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        (None, "TANHUI_SECRET_KEY"),
        ("changethis", "示例值"),
        ("short-but-not-default", "太短"),
    ],
)
def test_api_refuses_weak_secret_outside_dev_mode(migrated_sqlite_url, secret, why):
    settings = make_settings(migrated_sqlite_url, secret_key=SecretStr(secret) if secret else None)
    with pytest.raises(ConfigError) as info:
        create_app(settings)
    assert why in info.value.zh
    assert "secrets.token_urlsafe" in info.value.hint_en
    assert info.value.exit_code == 2


def test_dev_mode_uses_a_random_process_key(migrated_sqlite_url):
    settings = make_settings(migrated_sqlite_url, secret_key=None, dev_mode=True)
    app = create_app(settings)
    key = app.state.settings.secret_key.get_secret_value()
    assert len(key) >= 32
    assert create_app(settings).state.settings.secret_key.get_secret_value() == key
    with pytest.raises(ConfigError):
        create_app(make_settings(migrated_sqlite_url, dev_mode=True, environment="production"))


def test_settings_read_dev_flag_from_environment(monkeypatch):
    from tanhui.config import Settings

    monkeypatch.setenv("TANHUI_DEV", "1")
    monkeypatch.setenv("TANHUI_JWT_TTL_MINUTES", "15")
    settings = Settings(_env_file=None)
    assert settings.dev_mode and settings.jwt_ttl_minutes == 15


# ------------------------------------------------------------------------ openapi, health


@pytest.fixture
def sqlite_client(migrated_sqlite_url):
    with TestClient(create_app(make_settings(migrated_sqlite_url))) as client:
        yield client


def test_openapi_lists_the_routes(sqlite_client):
    response = sqlite_client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    paths = spec["paths"]
    for path, method in [
        ("/healthz", "get"),
        ("/api/v1/auth/token", "post"),
        ("/api/v1/me", "get"),
        ("/api/v1/me/api-keys", "post"),
        ("/api/v1/me/api-keys/{key_id}", "delete"),
        ("/api/v1/admin/organisations", "get"),
        ("/api/v1/admin/organisations", "post"),
        ("/api/v1/admin/users", "get"),
        ("/api/v1/admin/users", "post"),
        ("/api/v1/admin/users/{user_id}/deactivate", "post"),
        ("/api/v1/admin/users/{user_id}/roles/{role}", "put"),
        ("/api/v1/admin/users/{user_id}/roles/{role}", "delete"),
    ]:
        assert method in paths[path], (path, method)
    schemes = spec["components"]["securitySchemes"]
    assert schemes["OAuth2Password"]["flows"]["password"]["tokenUrl"] == "/api/v1/auth/token"
    assert schemes["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": schemes["ApiKey"]["description"],
    }
    forbidden = paths["/api/v1/admin/users"]["get"]["responses"]["403"]["content"]
    assert list(forbidden) == ["application/problem+json"]
    assert "ProblemDetails" in spec["components"]["schemas"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_healthz(sqlite_client, sqlite_url):
    body = sqlite_client.get("/healthz").json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["schema_revision"]
    with TestClient(create_app(make_settings(sqlite_url))) as empty:  # never migrated
        problem = assert_problem(empty.get("/healthz"), 503, "database")
        assert "tanhui db upgrade" in problem["hint"]


# ------------------------------------------------------------------------ error mapping


class IdempotencyMismatch(RegistryError):
    """A class another room might add: mapped by its name before it is registered."""


class LedgerNotFound(RegistryError):
    pass


def test_status_for_error_classes():
    def err(cls, **kw):
        return cls("中", "en", **kw)

    assert status_for(err(AuthenticationError)) == 401
    assert status_for(err(PermissionDenied, action="x")) == 403
    assert status_for(err(NotFoundError)) == 404
    assert status_for(err(StateError, state="RETIRED", action="retire")) == 409
    assert status_for(err(IdempotencyMismatch)) == 409
    assert status_for(err(LedgerNotFound)) == 404
    assert status_for(err(InputError)) == 422
    assert status_for(err(SerialError, field="start")) == 422
    assert status_for(InventoryError("a.csv", [])) == 422
    assert status_for(err(DatabaseError)) == 503
    assert status_for(err(TanhuiError)) == 400
    assert status_for(ValueError()) == 500
    assert code_for(PermissionDenied) == "permission_denied"
    assert code_for(NotFoundError) == "not_found"
    assert code_for(IdempotencyMismatch) == "idempotency_mismatch"


def test_inventory_error_lists_its_problems(sqlite_client):
    app = sqlite_client.app

    @app.get("/boom")
    def boom():
        raise InventoryError(
            "县.csv",
            [Problem("bad_area", "面积为负", "negative area", row=3, column="面积", value=-1)],
        )

    body = assert_problem(sqlite_client.get("/boom"), 422, "inventory")
    assert body["problems"] == [
        {"row": 3, "column": "面积", "value": -1, "code": "bad_area", "reason": "面积为负"}
    ]
    en = sqlite_client.get("/boom", headers={"Accept-Language": "en"}).json()
    assert en["problems"][0]["reason"] == "negative area"
    assert sqlite_client.get("/boom?lang=en").json()["title"] == "Unprocessable content"


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, "zh"),
        ("", "zh"),
        ("fr-FR,fr;q=0.9", "zh"),
        ("en", "en"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en;q=0.5,zh;q=0.7", "zh"),
        ("zh;q=0,en", "en"),
        ("*", "zh"),
    ],
)
def test_accept_language(header, lang):
    assert parse_accept_language(header) == lang


def test_organisation_kinds_match_the_table():
    assert tuple(OrganisationKind) == ORGANISATION_KINDS


# --------------------------------------------------------------------------------- serve


def test_serve_checks_before_starting(monkeypatch, sqlite_url, migrated_sqlite_url, capsys):
    runs = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **kw: runs.append((a, kw)))
    for name in ("TANHUI_DEV", "TANHUI_SECRET_KEY", "TANHUI_DATABASE_URL"):
        monkeypatch.setenv(name, "")  # serve() writes them; monkeypatch restores them
    with pytest.raises(ConfigError):
        serve(migrated_sqlite_url, port=8123)
    monkeypatch.setenv("TANHUI_SECRET_KEY", "k" * 40)
    with pytest.raises(DatabaseError) as info:
        serve(sqlite_url, port=8123)  # not migrated
    assert "tanhui db upgrade" in info.value.hint_zh
    assert runs == []

    serve(migrated_sqlite_url, port=8123)
    assert runs[-1][1]["factory"] is True and runs[-1][1]["port"] == 8123


def test_serve_demo_migrates_and_seeds_the_demo_county(monkeypatch, sqlite_url, capsys, tmp_path):
    runs = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **kw: runs.append((a, kw)))
    for name in ("TANHUI_DEV", "TANHUI_SECRET_KEY", "TANHUI_DATABASE_URL", "TANHUI_LANG"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("TANHUI_LANG", "en")
    monkeypatch.setenv("TANHUI_HOME", str(tmp_path / "home"))
    serve(sqlite_url, demo=True)
    err = capsys.readouterr().err
    assert "Demo mode" in err and "Seeded the demo county" in err
    logins = dict(line.split() for line in err.splitlines() if line.startswith("  "))
    assert {
        "admin",
        "forestry",
        "eco",
        "verifier",
        "issuer",
        "village",
        "buyer",
        "bank",
        "court",
    } <= set(logins)
    import os

    assert os.environ["TANHUI_DEV"] == "1" and len(os.environ["TANHUI_SECRET_KEY"]) >= 32
    from tanhui.api.app import create_app_from_env

    with TestClient(create_app_from_env()) as client:
        token = client.post(
            "/api/v1/auth/token", data={"username": "admin", "password": logins["admin"]}
        )
        assert token.status_code == 200
        me = client.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
        )
        assert "admin" in me.json()["roles"]
    serve(sqlite_url, demo=True)  # again: users exist, nothing is seeded twice
    assert "Seeded" not in capsys.readouterr().err
    assert len(runs) == 2
    assert identity.PASSWORD_MIN_LENGTH == 8
