"""Administration endpoints: role-gated, paginated, problem+json errors (SQLite and PostgreSQL)."""

from __future__ import annotations

from api_helpers import assert_problem


def test_admin_endpoints_refused_for_non_admins(client, holder_headers):
    zh = assert_problem(
        client.get("/api/v1/admin/users", headers=holder_headers), 403, "permission_denied"
    )
    assert zh["title"] == "无权操作"
    assert "持有人" in zh["detail"] and "系统管理员" in zh["detail"]
    assert zh["allowed"] == ["admin"] and zh["action"] == "manage_users"

    response = client.post(
        "/api/v1/admin/organisations",
        headers={**holder_headers, "Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"},
        json={"name": "Bank", "kind": "bank"},
    )
    en = assert_problem(response, 403, "permission_denied")
    assert response.headers["content-language"] == "en"
    assert en["title"] == "Forbidden"
    assert "may not manage organisations" in en["detail"]
    assert en["hint"].startswith("Act from an account")


def test_admin_manages_organisations_and_users(client, admin, admin_headers):
    org = client.post(
        "/api/v1/admin/organisations",
        headers=admin_headers,
        json={"name": "兴业银行三明分行", "kind": "bank", "region_code": "350400"},
    )
    assert org.status_code == 201, org.text
    org_id = org.json()["id"]
    again = client.post(
        "/api/v1/admin/organisations",
        headers=admin_headers,
        json={"name": "兴业银行三明分行", "kind": "bank"},
    )
    assert_problem(again, 409, "conflict")

    user = client.post(
        "/api/v1/admin/users",
        headers=admin_headers,
        json={
            "username": "Zhang.San",
            "password": "bank clerk pass",
            "organisation_id": org_id,
            "roles": ["bank"],
            "display_name": "张三",
        },
    )
    assert user.status_code == 201, user.text
    uid = user.json()["id"]
    assert user.json()["username"] == "zhang.san" and user.json()["roles"] == ["bank"]

    granted = client.put(f"/api/v1/admin/users/{uid}/roles/auditor", headers=admin_headers)
    assert granted.json()["roles"] == ["bank", "auditor"]
    assert client.put(f"/api/v1/admin/users/{uid}/roles/auditor", headers=admin_headers).json()[
        "roles"
    ] == ["bank", "auditor"]
    of_org = client.get(
        "/api/v1/admin/users", headers=admin_headers, params={"organisation_id": org_id}
    ).json()
    assert [u["username"] for u in of_org["items"]] == ["zhang.san"]

    reset = client.put(
        f"/api/v1/admin/users/{uid}/password",
        headers=admin_headers,
        json={"new_password": "reset by admin"},
    )
    assert reset.status_code == 204
    assert client.post(
        "/api/v1/auth/token", data={"username": "zhang.san", "password": "reset by admin"}
    ).is_success

    deactivated = client.post(f"/api/v1/admin/users/{uid}/deactivate", headers=admin_headers)
    assert deactivated.json()["active"] is False
    assert client.post(f"/api/v1/admin/users/{uid}/reactivate", headers=admin_headers).json()[
        "active"
    ]

    # the last administrator stays
    body = assert_problem(
        client.post(f"/api/v1/admin/users/{admin.id}/deactivate", headers=admin_headers), 409
    )
    assert "最后一位" in body["detail"]
    assert_problem(
        client.delete(f"/api/v1/admin/users/{admin.id}/roles/admin", headers=admin_headers), 409
    )


def test_pagination(client, admin_headers):
    for i in range(5):
        r = client.post(
            "/api/v1/admin/organisations",
            headers=admin_headers,
            json={"name": f"林场 {i}", "kind": "holder"},
        )
        assert r.status_code == 201
    first = client.get("/api/v1/admin/organisations?limit=2", headers=admin_headers).json()
    assert first["total"] == 5 and first["limit"] == 2 and first["offset"] == 0
    assert len(first["items"]) == 2 and first["previous"] is None
    assert first["next"] == "/api/v1/admin/organisations?limit=2&offset=2"

    names, url = [], "/api/v1/admin/organisations?limit=2"
    while url:
        page = client.get(url, headers=admin_headers).json()
        names += [o["name"] for o in page["items"]]
        url = page["next"]
    assert names == [f"林场 {i}" for i in range(5)]

    past = client.get("/api/v1/admin/organisations?offset=10", headers=admin_headers).json()
    assert past["items"] == [] and past["total"] == 5 and past["next"] is None
    assert_problem(
        client.get("/api/v1/admin/organisations?limit=0", headers=admin_headers), 422, "validation"
    )


def test_problem_shapes(client, admin_headers):
    missing = assert_problem(
        client.get("/api/v1/admin/users/99999", headers=admin_headers), 404, "not_found"
    )
    assert missing["instance"] == "/api/v1/admin/users/99999"
    assert missing["kind"] == "user" and "不存在" in missing["detail"]

    nowhere = assert_problem(client.get("/api/v1/nowhere"), 404, "not_found")
    assert "/api/v1/nowhere" in nowhere["detail"]

    short = client.post(
        "/api/v1/admin/users",
        headers=admin_headers,
        json={"username": "x y", "password": "secret-pw-7"[:5]},
    )
    body = assert_problem(short, 422, "validation")
    fields = {tuple(e["loc"]) for e in body["errors"]}
    assert ("body", "password") in fields and ("body", "username") in fields
    assert "secre" not in short.text  # the input is never echoed

    public_role = client.post(
        "/api/v1/admin/users",
        headers=admin_headers,
        json={"username": "someone", "password": "long enough", "roles": ["public"]},
    )
    assert assert_problem(public_role, 422, "input")["field"] == "roles"
    assert_problem(
        client.put("/api/v1/admin/users/1/roles/emperor", headers=admin_headers), 422, "validation"
    )
    wrong_method = client.patch("/api/v1/me")
    assert_problem(wrong_method, 405, "method_not_allowed")
