"""The development API (``/api/v1/develop/…``): every endpoint allowed, refused by role (403),
given bad input (422 with the problem list), and asked for something that is not there (404);
uploads of the demo county's GBK CSV and GeoPackage; the report as real HTML, PDF and Excel.

The database is the demo county — its registry (:func:`tanhui.registry.seed.seed`) and its
development data (:func:`tanhui.develop.demo_seed.seed`) — seeded once per worker on SQLite and
copied for each test. One test walks the library, pooling and losses on PostgreSQL as well.
A last test fuzzes every development operation with schemathesis (no 5xx, responses as
documented).
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import schemathesis
from api_helpers import assert_problem, login, make_settings
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pwdlib.hashers.argon2 import Argon2Hasher
from python_calamine import CalamineWorkbook
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tanhui.api import create_app
from tanhui.api.routers import develop as develop_router
from tanhui.db import make_engine, upgrade
from tanhui.develop import demo_seed
from tanhui.develop.demo_seed import authorization_pdf
from tanhui.registry import identity
from tanhui.registry.seed import DEMO_PASSWORD, seed

API = "/api/v1/develop"
CHEAP = Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1)
PDF = authorization_pdf("Test scan", ["line one"])
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclass(frozen=True)
class DevWorld:
    """The seeded demo county: where its files are, and the ids the seeds created."""

    db: Path
    data: Path
    organisations: dict[str, int]
    registry_projects: dict[str, int]
    projects: dict[str, int]
    holders: dict[str, list[int]]
    authorizations: list[int]
    loss_events: list[int]

    @property
    def gbk_csv(self) -> Path:
        return self.data / "demo-county" / "xiaoban_2016.csv"

    @property
    def gpkg(self) -> Path:
        return self.data / "demo-county" / "xiaoban_2021.gpkg"


def seed_world(url: str, data: Path) -> tuple[object, object]:
    """Seed the demo county's registry and development data into a migrated database."""
    identity.use_password_hasher(CHEAP)
    engine = make_engine(url)
    try:
        registry = seed(engine, data, rows=600)
        dev = demo_seed.seed(engine, data, registry)
    finally:
        engine.dispose()
    return registry, dev


@pytest.fixture(scope="session")
def dev_template(tmp_path_factory) -> DevWorld:
    root = tmp_path_factory.mktemp("develop-api")
    path = root / "template.db"
    upgrade(f"sqlite:///{path}")
    registry, dev = seed_world(f"sqlite:///{path}", root / "data")
    return DevWorld(
        db=path,
        data=root / "data",
        organisations=dict(registry.organisations),  # type: ignore[attr-defined]
        registry_projects=dict(registry.projects),  # type: ignore[attr-defined]
        projects=dict(dev.projects),  # type: ignore[attr-defined]
        holders={k: list(v) for k, v in dev.holders.items()},  # type: ignore[attr-defined]
        authorizations=list(dev.authorizations),  # type: ignore[attr-defined]
        loss_events=list(dev.loss_events),  # type: ignore[attr-defined]
    )


@pytest.fixture
def world(dev_template) -> DevWorld:
    return dev_template


@pytest.fixture
def api(dev_template, tmp_path) -> Iterator[TestClient]:
    """A client of an app on a fresh copy of the seeded database."""
    target = tmp_path / "develop.db"
    shutil.copyfile(dev_template.db, target)
    url = f"sqlite:///{target}"
    engine = make_engine(url)
    try:
        with TestClient(create_app(make_settings(url), engine=engine)) as client:
            yield client
    finally:
        engine.dispose()


@pytest.fixture
def as_(api) -> Callable[[str], dict[str, str]]:
    """``as_("forestry")``: the Authorization header of a demo user (logged in once a test)."""
    cache: dict[str, dict[str, str]] = {}

    def headers(username: str) -> dict[str, str]:
        if username not in cache:
            cache[username] = login(api, username, DEMO_PASSWORD)
        return cache[username]

    return headers


def upload(path: Path, name: str | None = None) -> dict[str, tuple[str, bytes]]:
    return {"file": (name or path.name, path.read_bytes())}


def assert_invalid(response, *fields: str) -> dict:
    """A 422 problem whose ``errors`` (request validation) name each of ``fields``."""
    body = assert_problem(response, 422, "validation")
    located = {str(e["loc"][-1]) for e in body["errors"]}
    assert set(fields) <= located, body["errors"]
    return body


# ----------------------------------------------------------------------------- the document


def test_every_develop_operation_is_documented_and_typed(api):
    schema = api.get("/openapi.json").json()
    operations = [
        (path, method, op)
        for path, item in schema["paths"].items()
        if path.startswith(API)
        for method, op in item.items()
    ]
    assert len(operations) >= 40
    for path, method, op in operations:
        assert op["tags"] == ["develop"], path
        assert op["summary"] and "/ " in op["summary"], path  # Chinese / English
        ok = next(code for code in op["responses"] if code.startswith("2"))
        content = op["responses"][ok].get("content", {})
        assert content, (method, path)
        for code, response in op["responses"].items():
            if int(code) >= 400:
                assert list(response["content"]) == ["application/problem+json"], (path, code)
        if "application/json" in content:
            assert content["application/json"]["schema"], (method, path)
    paged = set()
    for path, _method, op in operations:
        ref = op["responses"].get("200", {}).get("content", {}).get("application/json", {})
        if "Page_" in str(ref.get("schema", {})):
            params = {p["name"] for p in op.get("parameters", [])}
            assert {"limit", "offset"} <= params, path
            paged.add(path.removeprefix(API))
    assert {
        "/projects",
        "/holders",
        "/risk-inputs",
        "/projects/{project_id}/history",
        "/projects/{project_id}/documents",
        "/projects/{project_id}/authorizations",
        "/projects/{project_id}/payouts",
        "/projects/{project_id}/loss-events",
    } == paged


# --------------------------------------------------------------------------- rules and costs


def test_schemes_rules_and_costs_are_public(api):
    schemes = api.get(f"{API}/schemes")
    assert schemes.status_code == 200
    names = {s["scheme"] for s in schemes.json()}
    assert {"smcer", "ccer-afforestation", "forest-management", "stop-logging"} <= names
    rules = api.get(f"{API}/schemes/smcer/rules").json()
    assert rules["scheme"] == "smcer" and rules["hash"] and rules["rules"]
    assert all(r["source"] and r["reason"] for r in rules["rules"])
    assert "registered_elsewhere" in {r["id"] for r in rules["rules"]}
    english = api.get(f"{API}/schemes/smcer/rules", headers={"Accept-Language": "en"}).json()
    assert english["title"] != rules["title"]
    assert english["rules"][0]["reason"] != rules["rules"][0]["reason"]
    body = assert_problem(api.get(f"{API}/schemes/no-such-scheme/rules"), 404, "not_found")
    assert "smcer" in body["hint"]
    assert_invalid(api.get(f"{API}/schemes/SMCER!/rules"), "scheme")
    costs = api.get(f"{API}/costs").json()
    assert costs["items"] and all(i["status"] for i in costs["items"])


# ---------------------------------------------------------------------------------- screening


def test_screen_the_demo_gbk_csv(api, as_, world):
    response = api.post(
        f"{API}/screenings",
        headers=as_("forestry"),
        files=upload(world.gbk_csv),
        data={"scheme": "smcer"},
    )
    assert response.status_code == 201, response.text
    doc = response.json()
    assert (
        doc["inventory"]["encoding"] in ("gbk", "gb18030") and doc["inventory"]["format"] == "csv"
    )
    assert doc["inventory"]["file"] == "xiaoban_2016.csv"  # its own name, not a temporary path
    assert doc["totals"]["rows"] == 600 and 0 < doc["totals"]["eligible_rows"] <= 600
    assert doc["reasons"] and all(
        {"id", "reason", "rows", "source"} <= set(r) for r in doc["reasons"]
    )
    assert doc["by_village"] and doc["by_species_group"] and doc["rows"] is None
    assert doc["provenance"]["rules"]["scheme"] == "smcer"
    assert doc["provenance"]["registered"] is not None  # the registry was checked
    links = doc["links"]
    assert links["self"].endswith(f"/screenings/{doc['id']}")

    again = api.get(f"{API}/screenings/{doc['id']}?rows=true", headers=as_("forestry")).json()
    assert len(again["rows"]) == 600 and again["totals"] == doc["totals"]
    failing = [r for r in again["rows"] if not r["eligible"]]
    assert all(r["reasons"] and r["reason_texts"] for r in failing)

    csv = api.get(links["downloads"]["csv"], headers=as_("forestry"))
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    text = csv.content.decode("utf-8")
    assert text.startswith("\ufeff小班号,") and text.count("\n") == 601
    book = api.get(links["downloads"]["xlsx"], headers=as_("forestry"))
    assert book.status_code == 200 and book.content.startswith(b"PK\x03\x04")
    sheets = CalamineWorkbook.from_filelike(io.BytesIO(book.content)).sheet_names
    assert "汇总" in sheets and "小班明细" in sheets
    english = api.get(
        links["downloads"]["xlsx"], headers={**as_("forestry"), "Accept-Language": "en"}
    )
    assert "Rows" in CalamineWorkbook.from_filelike(io.BytesIO(english.content)).sheet_names

    # kept for the uploader only: another user, or an unknown id, is "not found"
    assert_problem(api.get(f"{API}/screenings/{doc['id']}", headers=as_("village")), 404)
    assert_problem(api.get(f"{API}/screenings/{'0' * 32}", headers=as_("forestry")), 404)
    assert_invalid(api.get(f"{API}/screenings/not-an-id", headers=as_("forestry")), "screening_id")
    assert_problem(api.get(f"{API}/screenings/{doc['id']}"), 401)


def test_screen_a_geopackage_against_the_registry(api, as_, world):
    """The village's land was issued for 2016–2021: screening that period flags it."""
    response = api.post(
        f"{API}/screenings?rows=true",
        headers=as_("bank"),  # screening is open to every logged-in user
        files=upload(world.gpkg),
        data={"scheme": "smcer", "start_year": "2016", "crediting_years": "6"},
    )
    assert response.status_code == 201, response.text
    doc = response.json()
    assert doc["inventory"]["format"] == "gpkg"
    registered = next(r for r in doc["reasons"] if r["id"] == "registered_elsewhere")
    assert registered["checked"] and registered["rows"] > 0
    flagged = [r for r in doc["rows"] if "registered_elsewhere" in r["reasons"].split(",")]
    assert len(flagged) == registered["rows"]
    unchecked = api.post(
        f"{API}/screenings",
        headers=as_("bank"),
        files=upload(world.gpkg),
        data={"scheme": "smcer", "check_registry": "false"},
    ).json()
    assert "registered_elsewhere" in unchecked["unchecked"]


def test_screening_refusals(api, as_, world, monkeypatch):
    h = as_("forestry")
    assert_problem(api.post(f"{API}/screenings", files=upload(world.gbk_csv)), 401)
    # a file that is not an inventory: 422 with every problem (row, column, value, reason)
    bad = api.post(
        f"{API}/screenings",
        headers=h,
        files={"file": ("县小班.csv", "小班号,面积\nA,abc\n".encode())},
    )
    body = assert_problem(bad, 422, "inventory")
    assert body["problems"] and all({"row", "column", "reason"} <= set(p) for p in body["problems"])
    assert "/tmp" not in body["detail"] and "tanhui-develop-" not in str(body)
    assert body["source"] == "县小班.csv"
    # wrong kind of file, empty file, too large, a missing file, an unknown scheme
    assert_problem(
        api.post(f"{API}/screenings", headers=h, files={"file": ("x.docx", b"PK..")}), 415
    )
    assert_problem(
        api.post(f"{API}/screenings", headers=h, files={"file": ("x.shp", b"\x00" * 10)}), 415
    )
    assert_problem(api.post(f"{API}/screenings", headers=h, files={"file": ("x.csv", b"")}), 422)
    monkeypatch.setattr(develop_router, "MAX_INVENTORY_BYTES", 1000)
    assert_problem(api.post(f"{API}/screenings", headers=h, files=upload(world.gbk_csv)), 413)
    monkeypatch.undo()
    assert_invalid(api.post(f"{API}/screenings", headers=h, data={"scheme": "smcer"}), "file")
    unknown = api.post(
        f"{API}/screenings", headers=h, files=upload(world.gbk_csv), data={"scheme": "nope"}
    )
    assert "smcer" in assert_problem(unknown, 422)["detail"]
    assert_invalid(
        api.post(
            f"{API}/screenings",
            headers=h,
            files=upload(world.gbk_csv),
            data={"scheme": "smcer", "start_year": "3000", "area_unit": "acre"},
        ),
        "start_year",
        "area_unit",
    )
    rules = api.post(
        f"{API}/screenings",
        headers=h,
        files={**upload(world.gbk_csv), "rules": ("mine.toml", b"this is = not [toml")},
    )
    assert assert_problem(rules, 422)["code"] == "rule"


# ------------------------------------------------------------------------------- feasibility


def test_feasibility_of_a_library_project_and_its_reports(api, as_, world):
    h = as_("forestry")
    response = api.post(
        f"{API}/feasibility-studies",
        headers=h,
        files=upload(world.gpkg),
        data={
            "project_id": str(world.projects["village"]),
            "paths": "300",
            "seed": "7",
            "price": ["low=10", "base=30@0.02", "high=40"],
        },
    )
    assert response.status_code == 201, response.text
    doc = response.json()
    assert doc["name"].endswith("林业碳票项目")  # the library project's name
    h_ = doc["headline"]
    assert h_["sub_compartments"] > 0 and h_["tonnes_issued"] > 0 and h_["area_mu"] > 0
    assert set(doc["scenarios"]) == {"low", "base", "high"} and doc["base_scenario"] == "base"
    base = doc["scenarios"]["base"]
    assert base["inputs"]["price"]["start_price"] == 30
    assert {s["factor"] for s in base["sensitivity"]} == {"price", "growth", "cost"}
    assert base["rows"] and "net" in base["rows"][0]
    assert doc["risk"]["paths"] == 300 and doc["risk"]["seed"] == 7
    assert 0 <= doc["risk"]["probability_of_loss"] <= 1
    assert doc["selection"]["ids"] == h_["sub_compartments"]
    assert "by_owner" not in doc["screening"] or doc["screening"]["by_owner"] is None

    downloads = doc["links"]["downloads"]
    html = api.get(downloads["html"], headers=h)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "<svg" in html.text and doc["name"] in html.text and "可行性" in html.text
    assert "script-src" not in html.headers["content-security-policy"]
    pdf = api.get(downloads["pdf"], headers=h)
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and len(pdf.content) > 10_000
    assert ".pdf" in pdf.headers["content-disposition"]
    xlsx = api.get(downloads["xlsx"], headers=h)
    sheets = CalamineWorkbook.from_filelike(io.BytesIO(xlsx.content)).sheet_names
    assert {"概要", "现金流", "风险"} <= set(sheets)
    english = api.get(downloads["html"] + "?lang=en", headers=h)
    assert "Feasibility report" in english.text

    assert api.get(doc["links"]["self"], headers=h).json()["headline"] == h_
    assert_problem(api.get(downloads["pdf"], headers=as_("village")), 404)  # not the uploader
    assert_problem(api.get(f"{API}/feasibility-studies/{'a' * 32}/report.html", headers=h), 404)


def test_feasibility_of_a_whole_inventory_in_english(api, as_, world):
    response = api.post(
        f"{API}/feasibility-studies?lang=en",
        headers=as_("village"),
        files=upload(world.gbk_csv),
        data={"paths": "0", "with_map": "false", "growth_family": "none"},
    )
    assert response.status_code == 201, response.text
    doc = response.json()
    assert doc["name"] == "Candidate project" and doc["risk"] is None
    assert doc["headline"]["probability_of_loss"] is None


def test_feasibility_refusals(api, as_, world):
    h = as_("village")
    files = upload(world.gpkg)

    def study(headers=h, **data):
        return api.post(f"{API}/feasibility-studies", headers=headers, files=files, data=data)

    assert_problem(study(headers={}, paths="0"), 401)
    # the farm's own project is not the village's to study (403); a project that is not there (404)
    assert_problem(study(project_id=str(world.projects["farm"]), paths="0"), 403)
    assert_problem(study(project_id="999999", paths="0"), 404)
    assert_problem(study(price="base=abc", paths="0"), 422)
    assert_problem(study(village="没有这个村", paths="0"), 422)
    assert_invalid(study(paths="1000001", discount_rate="2", buffer_share="-1"), "paths")
    costs = api.post(
        f"{API}/feasibility-studies",
        headers=h,
        files={**files, "costs": ("costs.csv", b"key,amount\nno_such_item,1\n")},
        data={"paths": "0"},
    )
    assert assert_problem(costs, 422)["code"] in ("cost_table", "parameter")


# --------------------------------------------------------------------------- project library


def test_project_library_create_read_update_list(api, as_, world):
    v = as_("village")
    body = {
        "name": "溪口村二期碳汇项目",
        "scheme": "SMCER",
        "methodology": "smcer",
        "region_code": "350499",
        "county": "示范县",
        "subcompartments": [{"id": "350499-01-01-001-01", "area_ha": 7.72}],
        "crediting_start": "2026-01-01",
        "crediting_end": "2045-12-31",
    }
    created = api.post(f"{API}/projects", headers=v, json=body)
    assert created.status_code == 201, created.text
    project = created.json()
    assert project["stage"] == "candidate" and project["stage_label"] == "候选"
    assert project["owner_organisation_id"] == world.organisations["village"]
    assert project["next_stages"] == ["feasibility", "withdrawn"]
    pid = project["id"]

    changed = api.patch(
        f"{API}/projects/{pid}",
        headers=v,
        json={"name": "溪口村二期", "crediting_end": None, "subcompartments": []},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "溪口村二期" and changed.json()["crediting_end"] is None
    assert (
        changed.json()["subcompartments"] == []
        and changed.json()["crediting_start"] == "2026-01-01"
    )

    listed = api.get(f"{API}/projects?limit=1", headers=as_("forestry")).json()
    assert listed["total"] == 4 and len(listed["items"]) == 1 and listed["next"]
    assert "subcompartment_count" in listed["items"][0]
    candidates = api.get(f"{API}/projects?stage=candidate", headers=as_("forestry")).json()
    assert {p["stage"] for p in candidates["items"]} == {"candidate"}
    own = api.get(f"{API}/projects", headers=v).json()  # a holder sees its own
    assert {p["owner_organisation_id"] for p in own["items"]} == {world.organisations["village"]}
    assert api.get(f"{API}/projects?region_code=35", headers=as_("eco")).json()["total"] == 4

    history = api.get(f"{API}/projects/{pid}/history", headers=v).json()
    assert [h["to_stage"] for h in history["items"]] == ["candidate"]

    # refused: another holder, a role without the action, a project that is not there
    assert_problem(api.get(f"{API}/projects/{pid}", headers=as_("farm")), 403)
    assert_problem(api.patch(f"{API}/projects/{pid}", headers=as_("eco"), json={"name": "x"}), 403)
    assert_problem(api.post(f"{API}/projects", headers=as_("bank"), json=body), 403)
    assert_problem(api.get(f"{API}/projects/999999", headers=v), 404)
    assert_problem(api.get(f"{API}/projects", headers=as_("court")), 403)
    # invalid: duplicate sub-compartments, a region that is no code, a null name, a bad stage
    dup = {**body, "subcompartments": body["subcompartments"] * 2}
    assert (
        "listed twice"
        in assert_problem(api.post(f"{API}/projects", headers=v, json=dup), 422)["detail"]
    )
    assert_invalid(
        api.post(f"{API}/projects", headers=v, json={**body, "region_code": "35"}), "region_code"
    )
    assert_problem(api.patch(f"{API}/projects/{pid}", headers=v, json={"name": None}), 422)
    assert_invalid(api.get(f"{API}/projects?stage=done", headers=v), "stage")
    assert_invalid(api.get(f"{API}/projects/0", headers=v), "project_id")


def test_lifecycle_advance_move_withdraw(api, as_, world):
    farm, forestry = as_("farm"), as_("forestry")
    pid = world.projects["farm"]  # at design
    step = api.post(f"{API}/projects/{pid}/advance", headers=farm, json={"note": "送审"})
    assert step.status_code == 200 and step.json()["stage"] == "validation"
    refused = api.post(f"{API}/projects/{pid}/advance", headers=farm)  # registration: regulator
    assert "林业主管部门" in assert_problem(refused, 403, "permission_denied")["detail"]
    revise = api.post(f"{API}/projects/{pid}/move", headers=farm, json={"to": "design"})
    assert revise.json()["stage"] == "design"
    wrong = api.post(f"{API}/projects/{pid}/move", headers=farm, json={"to": "issued"})
    assert assert_problem(wrong, 409, "state")["allowed_from"] == ["monitoring"]
    assert_invalid(api.post(f"{API}/projects/{pid}/move", headers=farm, json={"to": "x"}), "to")
    assert_invalid(
        api.post(f"{API}/projects/{pid}/withdraw", headers=farm, json={"reason": " "}), "reason"
    )
    gone = api.post(f"{API}/projects/{pid}/withdraw", headers=farm, json={"reason": "林场改制"})
    assert gone.json()["stage"] == "withdrawn" and gone.json()["next_stages"] == []
    assert_problem(api.post(f"{API}/projects/{pid}/advance", headers=forestry), 409)
    assert_problem(api.post(f"{API}/projects/{pid}/advance", headers=as_("village")), 403)
    assert_problem(api.post(f"{API}/projects/999999/advance", headers=forestry), 404)
    history = api.get(f"{API}/projects/{pid}/history", headers=farm).json()["items"]
    assert [h["to_stage"] for h in history] == [
        "candidate",
        "feasibility",
        "design",
        "validation",
        "design",
        "withdrawn",
    ]
    assert history[-1]["note"] == "林场改制" and history[-1]["to_stage_label"] == "已撤销"

    village = world.projects["village"]  # issued: the next monitoring period is the owner's
    again = api.post(
        f"{API}/projects/{village}/move", headers=as_("village"), json={"to": "monitoring"}
    )
    assert again.status_code == 200 and again.json()["stage"] == "monitoring"


def test_registry_link(api, as_, world):
    forestry = as_("forestry")
    linked = world.projects["village"]
    same = api.post(
        f"{API}/projects/{linked}/registry-link",
        headers=forestry,
        json={"registry_project_id": world.registry_projects["village"]},
    )
    assert (
        same.status_code == 200
        and same.json()["registry_project_id"] == world.registry_projects["village"]
    )
    early = api.post(
        f"{API}/projects/{world.projects['pooled']}/registry-link",
        headers=forestry,
        json={"registry_project_id": world.registry_projects["village"]},
    )
    assert_problem(early, 409, "state")
    assert_invalid(
        api.post(f"{API}/projects/{linked}/registry-link", headers=forestry, json={}),
        "registry_project_id",
    )


def test_documents_upload_and_download(api, as_, world, monkeypatch):
    farm = as_("farm")
    pid = world.projects["pooled"]
    done = api.post(
        f"{API}/projects/{pid}/documents",
        headers=farm,
        files={"file": ("设计文件.pdf", PDF, "application/pdf")},
        data={"kind": "design", "note": "初稿"},
    )
    assert done.status_code == 201, done.text
    doc = done.json()
    assert doc["kind"] == "design" and doc["media_type"] == "application/pdf"
    assert doc["size_bytes"] == len(PDF) and doc["filename"] == "设计文件.pdf"
    got = api.get(doc["download_url"], headers=as_("forestry"))
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    assert "filename*=UTF-8''" in got.headers["content-disposition"]
    listed = api.get(f"{API}/projects/{pid}/documents", headers=farm).json()
    assert {d["kind"] for d in listed["items"]} == {"authorization", "design"}
    # the verifier reads the library but not rights holders: the consent scan stays hidden
    verifier = as_("verifier")
    seen = api.get(f"{API}/projects/{pid}/documents", headers=verifier).json()["items"]
    assert [d["kind"] for d in seen] == ["design"]
    scan = next(d for d in listed["items"] if d["kind"] == "authorization")
    assert_problem(api.get(scan["download_url"], headers=verifier), 403)

    png = api.post(
        f"{API}/projects/{pid}/documents",
        headers=farm,
        files={"file": ("map.png", PNG, "image/png")},
    )
    assert png.status_code == 201 and png.json()["media_type"] == "image/png"
    assert_problem(
        api.post(
            f"{API}/projects/{pid}/documents", headers=farm, files={"file": ("a.pdf", b"hello")}
        ),
        422,
    )
    assert_problem(
        api.post(
            f"{API}/projects/{pid}/documents",
            headers=as_("village"),
            files={"file": ("a.pdf", PDF, "application/pdf")},
        ),
        403,
    )
    assert_invalid(
        api.post(
            f"{API}/projects/{pid}/documents",
            headers=farm,
            files={"file": ("a.pdf", PDF)},
            data={"kind": "poem"},
        ),
        "kind",
    )
    monkeypatch.setattr("tanhui.develop.library.DOCUMENT_MAX_BYTES", 100)
    big = api.post(f"{API}/projects/{pid}/documents", headers=farm, files={"file": ("a.pdf", PDF)})
    assert_problem(big, 413)
    monkeypatch.undo()
    assert_problem(api.get(f"{API}/documents/999999", headers=farm), 404)
    assert_problem(
        api.post(f"{API}/projects/999999/documents", headers=farm, files={"file": ("a.pdf", PDF)}),
        404,
    )


def test_county_and_province_statistics(api, as_, world):
    forestry = as_("forestry")
    county = api.get(f"{API}/stats/counties/350499", headers=forestry).json()
    assert county["projects"] == 3 and county["reserve"] == 2 and county["reserve_min"] == 2
    assert county["below_reserve"] is False and county["by_stage"]["issued"]["count"] == 1
    province = api.get(f"{API}/stats/provinces/35?counties=350421", headers=forestry).json()
    assert {c["region_code"] for c in province["counties"]} == {"350421", "350499"}
    assert [c["region_code"] for c in province["below_reserve"]] == ["350421"]
    outside = api.get(f"{API}/stats/provinces/35?counties=110101", headers=forestry)
    assert_problem(outside, 422)
    assert_problem(api.get(f"{API}/stats/counties/350499", headers=as_("village")), 403)
    assert_invalid(api.get(f"{API}/stats/counties/35049", headers=forestry), "region_code")
    assert_invalid(api.get(f"{API}/stats/provinces/3504", headers=forestry), "province")
    assert api.get(f"{API}/stats/counties/110101", headers=as_("eco")).json()["projects"] == 0


# ------------------------------------------------------------------------------------- pooling


def test_holders_and_parcels(api, as_, world):
    farm = as_("farm")
    holder = api.post(
        f"{API}/holders",
        headers=farm,
        json={
            "kind": "household",
            "name": "林木生",
            "village": "石岭村",
            "region_code": "350499",
            "id_number": "11010519491231002X",
        },
    )
    assert holder.status_code == 201, holder.text
    h = holder.json()
    assert h["id_number"] == "110***********002X" and h["kind_label"] == "农户"
    assert h["pooled_by_organisation_id"] == world.organisations["farm"]
    parcel = api.post(
        f"{API}/holders/{h['id']}/parcels",
        headers=farm,
        json={"region_code": "350499", "subcompartment_id": "350499-09-09-009-09", "area_ha": 1.5},
    )
    assert parcel.status_code == 201 and parcel.json()["area_ha"] == 1.5
    again = api.post(
        f"{API}/holders/{h['id']}/parcels",
        headers=farm,
        json={"region_code": "350499", "subcompartment_id": "350499-09-09-009-09", "area_ha": 1},
    )
    assert_problem(again, 409)
    fetched = api.get(f"{API}/holders/{h['id']}", headers=farm).json()
    assert fetched["area_ha"] == 1.5 and len(fetched["parcels"]) == 1
    village = api.get(f"{API}/holders?village=石岭村&kind=household", headers=farm).json()
    assert h["id"] in {x["id"] for x in village["items"]}
    assert all(x["kind"] == "household" for x in village["items"])

    assert_problem(api.get(f"{API}/holders/{h['id']}", headers=as_("village")), 403)
    assert_problem(api.get(f"{API}/holders", headers=as_("verifier")), 403)
    assert_problem(api.get(f"{API}/holders/999999", headers=farm), 404)
    bad_id = {"kind": "household", "name": "x", "id_number": "110105194912310021"}
    assert (
        assert_problem(api.post(f"{API}/holders", headers=farm, json=bad_id), 422)["field"]
        == "id_number"
    )
    twice = {"kind": "household", "name": "林木生", "id_number": "11010519491231002X"}
    assert_problem(api.post(f"{API}/holders", headers=farm, json=twice), 409)
    assert_invalid(
        api.post(f"{API}/holders", headers=farm, json={"kind": "alien", "name": "x"}), "kind"
    )
    assert_invalid(
        api.post(
            f"{API}/holders/{h['id']}/parcels",
            headers=farm,
            json={"region_code": "350499", "subcompartment_id": "a", "area_ha": -1},
        ),
        "area_ha",
    )


def test_authorizations_with_a_scan_and_the_consent_gap(api, as_, world):
    farm = as_("farm")
    pid = world.projects["pooled"]
    gap = api.get(f"{API}/projects/{pid}/consent-gap", headers=farm).json()
    assert not gap["complete"] and gap["counts"]["missing"] >= 1
    missing = next(p for p in gap["parcels"] if p["reason"] == "missing")
    assert missing["reason_label"] == "未授权"

    recorded = api.post(
        f"{API}/projects/{pid}/authorizations",
        headers=farm,
        data={
            "holder_id": str(missing["holder_id"]),
            "signatory": missing["holder_name"],
            "signed_on": "2026-01-05",
            "term_years": "20",
            "share_bp": "500",
        },
        files={"document": ("授权书-扫描.pdf", PDF, "application/pdf")},
    )
    assert recorded.status_code == 201, recorded.text
    consent = recorded.json()
    assert consent["status"] == "valid" and consent["expires_on"] == "2046-01-05"
    assert consent["share_bp"] == 500 and len(consent["documents"]) == 1
    assert consent["documents"][0]["kind"] == "authorization"
    scan = api.get(consent["documents"][0]["download_url"], headers=farm)
    assert scan.content == PDF

    after = api.get(f"{API}/projects/{pid}/consent-gap", headers=farm).json()
    assert missing["parcel_id"] not in {p["parcel_id"] for p in after["parcels"]}
    assert after["area_covered_ha"] > gap["area_covered_ha"]
    listed = api.get(f"{API}/projects/{pid}/authorizations?on=2026-02-01", headers=farm).json()
    assert consent["id"] in {a["id"] for a in listed["items"]}

    revoked = api.post(
        f"{API}/authorizations/{consent['id']}/revoke",
        headers=farm,
        json={"revoked_on": "2026-03-01", "reason": "农户收回林地"},
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_on"] == "2026-03-01"
    twice = api.post(
        f"{API}/authorizations/{consent['id']}/revoke",
        headers=farm,
        json={"revoked_on": "2026-03-02", "reason": "again"},
    )
    assert_problem(twice, 409)
    assert_problem(
        api.post(
            f"{API}/authorizations/999999/revoke",
            headers=farm,
            json={"revoked_on": "2026-03-01", "reason": "x"},
        ),
        404,
    )

    def record(headers=farm, **data):
        fields = {
            "holder_id": str(missing["holder_id"]),
            "signatory": "x",
            "signed_on": "2026-03-01",  # from the revocation on (an overlap is refused first)
        }
        return api.post(
            f"{API}/projects/{pid}/authorizations", headers=headers, data={**fields, **data}
        )

    assert_problem(record(headers=as_("village")), 403)
    assert_problem(record(term_years="5", expires_on="2030-01-01"), 422)
    assert_invalid(record(signed_on="1800-01-01"), "signed_on")
    assert_invalid(record(share_bp="10001"), "share_bp")
    not_a_scan = api.post(
        f"{API}/projects/{pid}/authorizations",
        headers=farm,
        data={"holder_id": str(missing["holder_id"]), "signatory": "x", "signed_on": "2026-03-01"},
        files={"document": ("scan.pdf", b"not a pdf", "application/pdf")},
    )
    assert_problem(not_a_scan, 422)
    assert_problem(api.get(f"{API}/projects/{pid}/consent-gap", headers=as_("verifier")), 403)
    assert_problem(api.get(f"{API}/projects/999999/consent-gap", headers=farm), 404)


def test_sharing_rule_and_payouts(api, as_, world):
    village = as_("village")
    pid = world.projects["village"]
    rule = api.get(f"{API}/projects/{pid}/sharing-rule", headers=village).json()
    assert rule["method"] in ("fixed_split", "by_area") and rule["method_label"]
    payouts = api.get(f"{API}/projects/{pid}/payouts", headers=village).json()
    assert payouts["total"] == 1
    first = payouts["items"][0]
    assert sum(line["amount_fen"] for line in first["lines"]) == first["revenue_fen"]

    by_area = api.put(
        f"{API}/projects/{pid}/sharing-rule", headers=village, json={"method": "by_area"}
    )
    assert by_area.status_code == 200 and by_area.json()["method"] == "by_area"
    uneven = {
        "method": "fixed_split",
        "holders_bp": 5000,
        "collective_bp": 1000,
        "developer_bp": 1000,
    }
    assert_problem(api.put(f"{API}/projects/{pid}/sharing-rule", headers=village, json=uneven), 422)
    paid = api.post(
        f"{API}/projects/{pid}/payouts",
        headers=village,
        json={
            "revenue_fen": 1_000_001,
            "sold_on": "2026-06-01",
            "reference": "XY-TEST-1",
            "tonnes": 70,
        },
    )
    assert paid.status_code == 201, paid.text
    assert sum(line["amount_fen"] for line in paid.json()["lines"]) == 1_000_001
    twice = api.post(
        f"{API}/projects/{pid}/payouts",
        headers=village,
        json={"revenue_fen": 5, "sold_on": "2026-06-01", "reference": "XY-TEST-1"},
    )
    assert_problem(twice, 409)
    assert_invalid(
        api.post(
            f"{API}/projects/{pid}/payouts",
            headers=village,
            json={"revenue_fen": 0, "sold_on": "2026-06-01"},
        ),
        "revenue_fen",
    )
    assert_problem(api.get(f"{API}/projects/{pid}/payouts", headers=as_("verifier")), 403)
    assert_problem(
        api.put(
            f"{API}/projects/{pid}/sharing-rule", headers=as_("farm"), json={"method": "by_area"}
        ),
        403,
    )
    assert_problem(api.get(f"{API}/projects/999999/sharing-rule", headers=village), 404)


# -------------------------------------------------------------------------------------- losses


def test_loss_events_and_their_reversal_in_the_registry(api, as_, world):
    forestry = as_("forestry")
    pid = world.projects["village"]
    project = api.get(f"{API}/projects/{pid}", headers=forestry).json()
    sub = project["subcompartments"][0]
    recorded = api.post(
        f"{API}/projects/{pid}/loss-events",
        headers=forestry,
        json={
            "subcompartment_id": sub["subcompartment_id"],
            "hazard": "pests",
            "occurred_on": "2026-04-01",
            "share_lost": 0.5,
            "tonnes_lost": 12.2,
            "note": "松材线虫",
        },
    )
    assert recorded.status_code == 201, recorded.text
    event = recorded.json()
    assert event["hazard_label"] == "病虫害" and event["area_ha"] == pytest.approx(
        sub["area_ha"] / 2
    )
    events = api.get(f"{API}/projects/{pid}/loss-events", headers=as_("village")).json()
    assert events["total"] == 2
    pests = api.get(f"{API}/projects/{pid}/loss-events?hazard=pests", headers=forestry).json()
    assert [e["id"] for e in pests["items"]] == [event["id"]]
    inputs = api.get(f"{API}/risk-inputs?project_id={pid}", headers=forestry).json()
    assert inputs["total"] == 2 and {i["hazard"] for i in inputs["items"]} == {"fire", "pests"}

    fire = world.loss_events[0]
    reversed_ = api.post(f"{API}/loss-events/{fire}/reversal", headers=forestry, json={})
    assert reversed_.status_code == 200, reversed_.text
    assert (
        reversed_.json()["reversed_quantity"] == 25
        and reversed_.json()["reversal_status"] == "done"
    )
    assert_problem(api.post(f"{API}/loss-events/{fire}/reversal", headers=forestry), 409)
    assert_problem(
        api.post(f"{API}/loss-events/{event['id']}/reversal", headers=as_("village")), 403
    )
    assert_problem(api.post(f"{API}/loss-events/999999/reversal", headers=forestry), 404)

    def record(headers=forestry, **changes):
        body = {
            "subcompartment_id": sub["subcompartment_id"],
            "hazard": "fire",
            "occurred_on": "2026-04-01",
            "area_ha": 0.1,
            **changes,
        }
        return api.post(f"{API}/projects/{pid}/loss-events", headers=headers, json=body)

    assert_problem(record(headers=as_("farm")), 403)
    assert_problem(record(subcompartment_id="350499-99-99-999-99"), 422)
    assert_problem(record(occurred_on="2199-01-01"), 422)  # in the future
    assert_invalid(record(hazard="flood", share_lost=2), "hazard", "share_lost")
    assert_problem(
        api.post(
            f"{API}/projects/999999/loss-events",
            headers=forestry,
            json={
                "subcompartment_id": "a",
                "hazard": "fire",
                "occurred_on": "2026-01-01",
                "area_ha": 1,
            },
        ),
        404,
    )
    assert_problem(api.get(f"{API}/projects/{pid}/loss-events", headers=as_("bank")), 403)


# ------------------------------------------------------------------------------ on PostgreSQL


def test_library_pooling_and_losses_on_both_databases(migrated_url, tmp_path):
    """The same calls on SQLite and PostgreSQL (the seeds and the services, through the API)."""
    _, dev = seed_world(migrated_url, tmp_path / "data")
    engine = make_engine(migrated_url)
    try:
        with TestClient(create_app(make_settings(migrated_url), engine=engine)) as client:
            forestry = login(client, "forestry", DEMO_PASSWORD)
            farm = login(client, "farm", DEMO_PASSWORD)
            listed = client.get(f"{API}/projects", headers=forestry).json()
            assert listed["total"] == 3
            pooled = dev.projects["pooled"]  # type: ignore[attr-defined]
            gap = client.get(f"{API}/projects/{pooled}/consent-gap", headers=farm).json()
            assert not gap["complete"]
            step = client.post(
                f"{API}/projects/{pooled}/advance", headers=farm, json={"note": "可研"}
            )
            assert step.json()["stage"] == "feasibility"
            fire = dev.loss_events[0]  # type: ignore[attr-defined]
            done = client.post(f"{API}/loss-events/{fire}/reversal", headers=forestry)
            assert done.status_code == 200 and done.json()["reversed_quantity"] == 25
            stats = client.get(f"{API}/stats/counties/350499", headers=forestry).json()
            assert stats["reserve"] == 2
            too_long = client.post(
                f"{API}/projects",
                headers=farm,
                json={
                    "name": "x" * 301,
                    "scheme": "SMCER",
                    "methodology": "m",
                    "region_code": "350499",
                },
            )
            assert_invalid(too_long, "name")
    finally:
        engine.dispose()


# -------------------------------------------------------------------------------- schemathesis

FUZZ_EXAMPLES = int(os.environ.get("TANHUI_FUZZ_EXAMPLES", "8"))
FUZZ_CALLERS = ("forestry", "farm", "village", "verifier", "bank", None)


def _develop_operations() -> list[str]:
    app = create_app(make_settings("sqlite://"))
    return sorted(
        f"{method.upper()} {path}"
        for path, item in app.openapi()["paths"].items()
        if path.startswith(API)
        for method in item
    )


@pytest.fixture(scope="session")
def fuzzed(tmp_path_factory) -> Iterator[tuple[object, dict[str | None, dict[str, str]]]]:
    folder = tmp_path_factory.mktemp("develop-fuzz")
    url = f"sqlite:///{folder / 'develop.db'}"
    upgrade(url)
    seed_world(url, folder / "data")
    engine = make_engine(url)
    app = create_app(make_settings(url), engine=engine)
    with TestClient(app) as client:
        headers: dict[str | None, dict[str, str]] = {None: {}}
        for who in FUZZ_CALLERS:
            if who is not None:
                headers[who] = login(client, who, DEMO_PASSWORD)
        yield schemathesis.openapi.from_asgi("/openapi.json", app), headers
    engine.dispose()


@pytest.mark.parametrize("operation", _develop_operations())
def test_develop_operation_conforms_to_its_schema(fuzzed, operation):
    schema, headers = fuzzed
    method, path = operation.split(" ", 1)
    endpoint = schema[path][method]  # type: ignore[index]
    cases = st.one_of(
        endpoint.as_strategy(generation_mode=GenerationMode.POSITIVE),
        endpoint.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )
    checks = [
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
        content_type_conformance,
    ]

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        derandomize="TANHUI_FUZZ_EXAMPLES" not in os.environ,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, who=st.sampled_from(FUZZ_CALLERS))
    def run(case, who) -> None:
        if who is not None and case.headers:
            for name in [h for h in case.headers if h.lower() in ("authorization", "x-api-key")]:
                del case.headers[name]
        case.call_and_validate(headers=headers[who], checks=checks)

    run()
