"""The registry REST API end to end over HTTP (SQLite and PostgreSQL): the issuance workflow with
the right role at each step, block moves with balances, idempotent replays, the public lookup and
certificates without a token, problem+json errors and pagination."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from dataclasses import dataclass, field

import pytest
from api_helpers import assert_problem, login
from fastapi.testclient import TestClient

from tanhui.db import UnitOfWork
from tanhui.registry import identity
from tanhui.registry.identity import Actor
from tanhui.registry.ledger import Ledger, SystemActor
from tanhui.registry.permissions import Role

API = "/api/v1"
PASSWORD = "a long test password"

PARTIES = {
    "forestry": ("将乐县林业局", "regulator", Role.forestry_regulator),
    "eco": ("将乐县生态环境局", "regulator", Role.eco_regulator),
    "verifier": ("福建某核证机构", "verifier", Role.verifier),
    "issuer": ("将乐县国有林场制发中心", "issuer", Role.issuer),
    "farm": ("将乐县常口村", "holder", Role.holder),
    "buyer": ("某会展公司", "holder", Role.holder),
    "bank": ("兴业银行将乐支行", "bank", Role.bank),
    "court": ("将乐县人民法院", "court", Role.court),
    "auditor": ("将乐县审计局", "regulator", Role.auditor),
}


@dataclass
class World:
    client: TestClient
    orgs: dict[str, int] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def get(self, who: str | None, path: str, **kwargs):
        return self.client.get(API + path, headers=self.headers.get(who or "", {}), **kwargs)

    def post(self, who: str | None, path: str, *, headers=None, **kwargs):
        merged = {**self.headers.get(who or "", {}), **(headers or {})}
        return self.client.post(API + path, headers=merged, **kwargs)

    def ok(self, response, status: int = 200) -> dict:
        assert response.status_code == status, response.text
        return response.json()

    def balance(self, who: str) -> dict:
        return self.ok(self.get(who, "/balance"))


@pytest.fixture
def world(client, engine) -> World:
    """Every party of the chain with one user each, logged in."""
    ledger = Ledger(engine)
    w = World(client)
    for key, (name, kind, role) in PARTIES.items():
        org = ledger.create_organisation(SystemActor(), name=name, kind=kind, region_code="350428")
        w.orgs[key], w.accounts[key] = org["id"], org["account"]
        identity.create_user(
            UnitOfWork(engine),
            Actor.system(),
            key,
            PASSWORD,
            organisation_id=org["id"],
            roles=[role],
        )
        w.headers[key] = login(client, key, PASSWORD)
    return w


def result_document(total: float, subcompartments: list[str], tag: str = "a") -> dict:
    """The parts of `tanhui measure --format json` the registry reads."""
    share = total / len(subcompartments)
    return {
        "method": "smcer",
        "total_tco2e": total,
        "provenance": {
            "method": {"name": "smcer", "version": "1"},
            "inputs": {"current": {"content_hash": tag}},
        },
        "rows": [{"id": s, "tco2e": share, "reasons": ""} for s in subcompartments],
    }


def register(w: World, subs: list[str], *, who: str = "farm") -> dict:
    body = {
        "scheme": "SMCER",
        "region_code": "350428",
        "name": "常口村林业碳票项目",
        "methodology": "smcer",
        "crediting_start": "2016-01-01",
        "crediting_end": "2045-12-31",
        "subcompartments": [{"id": s, "area_ha": 12.5} for s in subs],
    }
    return w.ok(w.post(who, "/projects", json=body), 201)


def report(w: World, project_id: int, total: float, subs: list[str], years=(2016, 2020)) -> dict:
    return w.ok(
        w.post(
            "farm",
            f"/projects/{project_id}/reports",
            json=result_document(total, subs),
            params={"period_start": f"{years[0]}-01-01", "period_end": f"{years[1]}-12-31"},
        ),
        201,
    )


def issue(w: World, total: float = 1000.9, subs: list[str] | None = None) -> dict:
    """Register, report and run the workflow over HTTP; the issued block of the farm."""
    subs = subs or ["XB-001", "XB-002", "XB-003"]
    project = register(w, subs)
    rep = report(w, project["id"], total, subs)
    req = w.ok(w.post("farm", f"/reports/{rep['id']}/issuance"), 201)
    for who, step in (
        ("verifier", "verify"),
        ("forestry", "approve"),
        ("eco", "file"),
        ("issuer", "issue"),
    ):
        done = w.ok(w.post(who, f"/issuance/{req['id']}/{step}"))
    return {"project": project, "report": rep, "request": req, "block": done["blocks"][0]}


# --------------------------------------------------------------------------------- workflow


def test_issuance_workflow_with_the_right_role_at_each_step(world):
    w = world
    subs = ["XB-001", "XB-002", "XB-003"]
    project = register(w, subs)
    assert project["project_number"] == "000001" and project["subcompartments"] == 3
    assert project["owner_organisation_id"] == w.orgs["farm"]
    assert w.ok(w.get("verifier", f"/projects/{project['id']}")) == project

    rep = report(w, project["id"], 12723.8, subs)
    assert rep["issuable_tco2e"] == 12723 and rep["subcompartments"] == 3
    req = w.ok(w.post("farm", f"/reports/{rep['id']}/issuance"), 201)
    assert req["state"] == "SUBMITTED" and req["quantity"] == 12723

    # the holder cannot verify its own request: 403 in Chinese by default, English on request
    zh = assert_problem(w.post("farm", f"/issuance/{req['id']}/verify"), 403, "permission_denied")
    assert zh["title"] == "无权操作" and "持有人" in zh["detail"]
    assert zh["allowed"] == ["verifier"]
    en = assert_problem(
        w.post("farm", f"/issuance/{req['id']}/verify", headers={"Accept-Language": "en"}),
        403,
        "permission_denied",
    )
    assert en["title"] == "Forbidden" and "may not verify an issuance" in en["detail"]

    queue = w.ok(w.get("verifier", "/issuance/queue"))
    assert [i["id"] for i in queue["items"]] == [req["id"]] and queue["total"] == 1
    assert w.ok(w.get("forestry", "/issuance/queue"))["total"] == 0

    steps = [("verifier", "verify"), ("forestry", "approve"), ("eco", "file")]
    for (who, step), state in zip(steps, ["VERIFIED", "APPROVED", "FILED"], strict=True):
        # a step out of turn is refused: the issuer cannot issue before filing
        assert_problem(w.post("issuer", f"/issuance/{req['id']}/issue"), 403)
        done = w.ok(w.post(who, f"/issuance/{req['id']}/{step}"))
        assert done == {"id": req["id"], "state": state, "blocks": []}
    issued = w.ok(w.post("issuer", f"/issuance/{req['id']}/issue"))
    assert issued["state"] == "ISSUED"
    [block] = issued["blocks"]
    assert block["quantity"] == 12723 and block["state"] == "ACTIVE"
    assert block["serial"] == "SMCER-350428-000001-20162020-000000001-000012723"
    assert block["account"] == w.accounts["farm"]

    detail = w.ok(w.get("farm", f"/issuance/{req['id']}"))
    assert detail["state"] == "ISSUED" and detail["issued_at"] and detail["verified_at"]
    assert_problem(w.get("buyer", f"/issuance/{req['id']}"), 403, "permission_denied")
    assert w.ok(w.get("auditor", f"/issuance/{req['id']}"))["id"] == req["id"]
    # done is done: a second issue is a state conflict
    assert_problem(w.post("issuer", f"/issuance/{req['id']}/issue"), 409, "state")

    assert w.balance("farm") == {
        "organisation_id": w.orgs["farm"],
        "balance": 12723,
        "available": 12723,
        "by_state": {"ACTIVE": 12723},
    }
    assert w.ok(w.post("auditor", "/registry/verify")) == {"ok": True, "problems": []}


def test_a_rejection_needs_a_reason_and_frees_the_quantity(world):
    w = world
    subs = ["XB-101"]
    project = register(w, subs)
    rep = report(w, project["id"], 500.0, subs)
    req = w.ok(w.post("farm", f"/reports/{rep['id']}/issuance", json={"quantity": 200}), 201)
    assert req["quantity"] == 200
    assert_problem(w.post("farm", f"/reports/{rep['id']}/issuance", json={"quantity": 301}), 409)

    assert_problem(w.post("verifier", f"/issuance/{req['id']}/reject", json={}), 422, "validation")
    blank = w.post("verifier", f"/issuance/{req['id']}/reject", json={"reason": "   "})
    assert_problem(blank, 422, "validation")
    rejected = w.ok(
        w.post("verifier", f"/issuance/{req['id']}/reject", json={"reason": "样地复测数据不全"})
    )
    assert rejected["state"] == "REJECTED"
    detail = w.ok(w.get("farm", f"/issuance/{req['id']}"))
    assert detail["rejection_reason"] == "样地复测数据不全"
    assert detail["rejected_from_state"] == "SUBMITTED"
    again = w.ok(w.post("farm", f"/reports/{rep['id']}/issuance"), 201)
    assert again["quantity"] == 500


# ------------------------------------------------------------------------------ block moves


def test_transfer_pledge_freeze_and_retire_with_balances(world):
    w = world
    block = issue(w, 1000.4)["block"]
    assert block["quantity"] == 1000

    sold = w.ok(
        w.post(
            "farm",
            f"/blocks/{block['id']}/transfer",
            json={"quantity": 100, "to_account": w.accounts["buyer"]},
        )
    )
    assert sold["quantity"] == 100 and sold["account"] == w.accounts["buyer"]
    assert sold["serial"].endswith("-000000901-000001000")  # the last serials move
    assert w.balance("farm")["available"] == 900
    assert w.balance("buyer")["available"] == 100
    # the buyer cannot move the farm's tonnes
    assert_problem(
        w.post(
            "buyer",
            f"/blocks/{block['id']}/transfer",
            json={"quantity": 1, "to_account": w.accounts["buyer"]},
        ),
        403,
    )

    pledge = w.ok(
        w.post(
            "farm",
            f"/blocks/{block['id']}/pledge",
            json={
                "quantity": 300,
                "bank_organisation_id": w.orgs["bank"],
                "loan_amount_fen": 50_000_000,
                "contract_number": "XY-2026-0088",
            },
        ),
        201,
    )
    assert pledge["state"] == "requested" and pledge["block"]["state"] == "RESERVED"
    pid = pledge["pledge_id"]
    assert_problem(w.post("farm", f"/pledges/{pid}/confirm"), 403)  # only the bank
    assert w.ok(w.post("bank", f"/pledges/{pid}/confirm"))["state"] == "active"
    farm = w.balance("farm")
    assert farm["balance"] == 900 and farm["available"] == 600
    assert farm["by_state"] == {"ACTIVE": 600, "PLEDGED": 300}
    pledged_id = pledge["block"]["id"]
    refused = w.post(
        "farm",
        f"/blocks/{pledged_id}/transfer",
        json={"quantity": 10, "to_account": w.accounts["buyer"]},
    )
    assert_problem(refused, 409, "state")
    assert w.ok(w.post("bank", f"/pledges/{pid}/release"))["state"] == "released"
    assert w.balance("farm")["available"] == 900

    frozen = w.ok(
        w.post(
            "court",
            f"/blocks/{block['id']}/freeze",
            json={"quantity": 5, "case_number": "(2026)闽0428民初66号", "reason": "财产保全"},
        ),
        201,
    )
    assert frozen["block"]["state"] == "FROZEN" and frozen["block"]["quantity"] == 5
    assert w.balance("farm")["by_state"]["FROZEN"] == 5
    assert_problem(w.post("farm", f"/freezes/{frozen['freeze_id']}/unfreeze"), 403)
    unfrozen = w.ok(w.post("court", f"/freezes/{frozen['freeze_id']}/unfreeze"))
    assert unfrozen == {"freeze_id": frozen["freeze_id"], "state": "released"}

    retired = w.ok(
        w.post(
            "buyer",
            f"/blocks/{sold['id']}/retire",
            json={
                "quantity": 40,
                "beneficiary": "2026 海峡林业博览会",
                "purpose": "carbon_neutral_event",
                "note": "展会碳中和",
            },
        ),
        201,
    )
    number = retired["certificate_number"]
    assert number.startswith("TH-") and retired["quantity"] == 40
    assert retired["certificate_url"].endswith(f"{API}/public/certificates/{number}")
    assert retired["pdf_url"].endswith(f"/public/certificates/{number}.pdf")
    assert retired["verification_url"] == f"http://testserver/verify/{number}"
    buyer = w.balance("buyer")
    assert buyer["balance"] == 60 and buyer["by_state"] == {"ACTIVE": 60, "RETIRED": 40}
    retired_blocks = w.ok(w.get("buyer", "/holdings", params={"state": "RETIRED"}))
    assert [b["quantity"] for b in retired_blocks["items"]] == [40]
    # a retired block never changes again
    gone = retired_blocks["items"][0]["id"]
    again = w.post(
        "buyer",
        f"/blocks/{gone}/retire",
        json={"quantity": 40, "beneficiary": "x", "purpose": "voluntary"},
    )
    assert_problem(again, 409, "state")

    assert w.ok(w.post("auditor", "/registry/verify"))["ok"] is True


def test_export_import_and_reversal(world):
    w = world
    issued = issue(w, 300.0)
    block = issued["block"]
    exported = w.ok(
        w.post(
            "farm",
            f"/blocks/{block['id']}/export",
            json={"quantity": 50, "destination": "CCER 注册登记系统"},
        )
    )
    assert exported["state"] == "EXPORTED" and exported["quantity"] == 50
    assert w.balance("farm")["balance"] == 250
    back = w.ok(
        w.post(
            "issuer",
            "/imports",
            json={
                "serial": exported["serial"],
                "to_account": w.accounts["farm"],
                "source": "CCER",
            },
        )
    )
    assert back["state"] == "ACTIVE" and back["id"] == exported["id"]
    assert w.balance("farm")["balance"] == 300

    assert_problem(
        w.post(
            "farm",
            f"/projects/{issued['project']['id']}/reversals",
            json={"quantity": 1, "reason": "山火"},
        ),
        403,
    )
    cancelled = w.ok(
        w.post(
            "forestry",
            f"/projects/{issued['project']['id']}/reversals",
            json={"quantity": 20, "reason": "2026 年 3 月山火"},
        )
    )
    assert cancelled["cancelled"] == {"buffer": 0, "owner": 20}
    assert w.balance("farm")["by_state"] == {"ACTIVE": 280, "CANCELLED": 20}

    claim = {
        "scheme": "CCER",
        "region_code": "350428",
        "project_ref": "CCER-14-2026-001",
        "reference": "CCER-ISS-1",
        "subcompartments": ["XB-900", "XB-901"],
        "period_start": "2016-01-01",
        "period_end": "2020-12-31",
    }
    assert w.ok(w.post("eco", "/external-issuances", json=claim), 201) == {
        "claims": 2,
        "reference": "CCER-ISS-1",
    }
    assert_problem(w.post("eco", "/external-issuances", json=claim), 409)  # issued already
    backwards = {**claim, "period_start": "2021-01-01"}
    assert_problem(w.post("eco", "/external-issuances", json=backwards), 422, "validation")


def test_idempotency_key_replays_the_answer_with_one_effect(world):
    w = world
    block = issue(w, 100.0)["block"]
    body = {"quantity": 10, "to_account": w.accounts["buyer"]}
    key = {"Idempotency-Key": "transfer-0001"}
    first = w.post("farm", f"/blocks/{block['id']}/transfer", json=body, headers=key)
    second = w.post("farm", f"/blocks/{block['id']}/transfer", json=body, headers=key)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert w.balance("buyer")["available"] == 10
    assert w.balance("farm")["available"] == 90

    # the same key for another request is refused, and changes nothing
    other = w.post(
        "farm", f"/blocks/{block['id']}/transfer", json={**body, "quantity": 11}, headers=key
    )
    assert_problem(other, 409, "conflict")
    assert w.balance("buyer")["available"] == 10

    # a retirement replays the same certificate
    retire = {"quantity": 3, "beneficiary": "某单位", "purpose": "voluntary"}
    key = {"Idempotency-Key": "retire-0001"}
    one = w.ok(
        w.post("buyer", f"/blocks/{first.json()['id']}/retire", json=retire, headers=key), 201
    )
    two = w.ok(
        w.post("buyer", f"/blocks/{first.json()['id']}/retire", json=retire, headers=key), 201
    )
    assert one == two
    assert w.balance("buyer")["by_state"] == {"ACTIVE": 7, "RETIRED": 3}

    bad_key = w.post(
        "farm", f"/blocks/{block['id']}/transfer", json=body, headers={"Idempotency-Key": "x" * 129}
    )
    assert_problem(bad_key, 422, "validation")


# ----------------------------------------------------------------------------------- errors


def test_problem_bodies_for_401_404_409_422(world):
    w = world
    block = issue(w, 10.0)["block"]
    assert_problem(w.get(None, "/holdings"), 401, "authentication")
    assert_problem(w.get("farm", "/projects/999999"), 404, "not_found")
    assert_problem(w.get("farm", "/issuance/999999"), 404, "not_found")
    missing = w.post(
        "farm", "/blocks/999999/transfer", json={"quantity": 1, "to_account": w.accounts["buyer"]}
    )
    assert_problem(missing, 404, "not_found")
    nowhere = w.post(
        "farm", f"/blocks/{block['id']}/transfer", json={"quantity": 1, "to_account": "H99999999"}
    )
    assert_problem(nowhere, 404, "not_found")
    too_many = w.post(
        "farm",
        f"/blocks/{block['id']}/transfer",
        json={"quantity": 11, "to_account": w.accounts["buyer"]},
    )
    body = assert_problem(too_many, 409, "conflict")
    assert "10" in body["detail"]
    for bad in (
        {"quantity": 0, "to_account": w.accounts["buyer"]},
        {"quantity": 1},
        {"quantity": 1, "to_account": w.accounts["buyer"], "extra": True},
        {"quantity": "many", "to_account": w.accounts["buyer"]},
    ):
        problem = assert_problem(
            w.post("farm", f"/blocks/{block['id']}/transfer", json=bad), 422, "validation"
        )
        assert problem["errors"]
    assert_problem(w.get("farm", "/projects/0"), 422, "validation")
    assert_problem(w.get("farm", "/projects/99999999999"), 422, "validation")
    assert_problem(w.get("farm", "/holdings", params={"offset": 2**70}), 422, "validation")
    bad_purpose = w.post(
        "farm",
        f"/blocks/{block['id']}/retire",
        json={"quantity": 1, "beneficiary": "x", "purpose": "fun"},
    )
    assert_problem(bad_purpose, 422, "validation")
    no_bank = w.post(
        "farm",
        f"/blocks/{block['id']}/pledge",
        json={"quantity": 1, "bank_organisation_id": w.orgs["buyer"]},
    )
    assert_problem(no_bank, 404, "not_found")
    unknown_owner = w.post(
        "forestry",
        "/projects",
        json={
            "scheme": "SMCER",
            "region_code": "350428",
            "name": "某项目",
            "methodology": "smcer",
            "crediting_start": "2016-01-01",
            "crediting_end": "2045-12-31",
            "owner_organisation_id": 999999,
        },
    )
    assert_problem(unknown_owner, 409)
    backwards = w.post(
        "farm",
        "/projects",
        json={
            "scheme": "SMCER",
            "region_code": "350428",
            "name": "某项目",
            "methodology": "smcer",
            "crediting_start": "2045-01-01",
            "crediting_end": "2016-12-31",
        },
    )
    assert_problem(backwards, 422, "validation")
    period = w.post(
        "farm",
        "/projects/1/reports",
        json=result_document(10.0, ["XB-001"]),
        params={"period_start": "2021-01-01", "period_end": "2020-12-31"},
    )
    assert_problem(period, 422, "input")
    not_a_result = w.post(
        "farm",
        "/projects/1/reports",
        json={"total": 3},
        params={"period_start": "2020-01-01", "period_end": "2020-12-31"},
    )
    assert_problem(not_a_result, 422, "validation")
    assert_problem(w.get(None, "/public/lookup", params={"q": "not a serial"}), 422)
    assert_problem(w.get(None, "/public/certificates/TH-2026-999999"), 404, "not_found")
    assert_problem(w.get(None, "/public/certificates/nope"), 422, "validation")


# ------------------------------------------------------------------------------- pagination


def test_pagination_of_holdings_and_events(world):
    w = world
    block = issue(w, 100.0)["block"]
    for _ in range(5):
        w.ok(
            w.post(
                "farm",
                f"/blocks/{block['id']}/transfer",
                json={"quantity": 3, "to_account": w.accounts["buyer"]},
            )
        )
    first = w.ok(w.get("buyer", "/holdings", params={"limit": 2}))
    assert first["total"] == 5 and len(first["items"]) == 2 and first["previous"] is None
    seen = [b["id"] for b in first["items"]]
    page = first
    while page["next"]:
        page = w.ok(w.client.get(page["next"], headers=w.headers["buyer"]))
        seen += [b["id"] for b in page["items"]]
    assert len(seen) == len(set(seen)) == 5
    assert page["offset"] == 4 and page["previous"] is not None
    serials = [b["serial"] for b in w.ok(w.get("buyer", "/holdings"))["items"]]
    assert serials == sorted(serials)

    # another organisation's holdings: only for roles that view all holdings
    assert_problem(w.get("buyer", "/holdings", params={"organisation_id": w.orgs["farm"]}), 403)
    assert_problem(w.get("buyer", "/balance", params={"organisation_id": w.orgs["farm"]}), 403)
    farm = w.ok(w.get("auditor", "/holdings", params={"organisation_id": w.orgs["farm"]}))
    assert farm["total"] == 1 and farm["items"][0]["quantity"] == 85
    assert (
        w.ok(w.get("court", "/balance", params={"organisation_id": w.orgs["farm"]}))["available"]
        == 85
    )

    assert_problem(w.get("farm", "/events"), 403, "permission_denied")
    events = w.ok(w.get("auditor", "/events", params={"limit": 4}))
    total = events["total"]
    assert total >= 5 + 6 + len(PARTIES)  # transfers, workflow, accounts opened
    sequences = [e["sequence"] for e in events["items"]]
    assert sequences == sorted(sequences) and len(sequences) == 4
    last = w.ok(w.get("auditor", "/events", params={"limit": 4, "offset": total - 2}))
    assert len(last["items"]) == 2 and last["next"] is None
    assert last["items"][-1]["type"] == "transferred"
    transfers = w.ok(w.get("auditor", "/events", params={"type": "transferred"}))
    assert transfers["total"] == 5
    chain = w.ok(w.get("auditor", "/events", params={"limit": 500}))["items"]
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(chain))

    projects = w.ok(w.get("buyer", "/projects", params={"limit": 1}))
    assert projects["total"] == 1 and projects["items"][0]["name"] == "常口村林业碳票项目"
    assert_problem(w.get("buyer", "/issuance/queue"), 403, "permission_denied")

    assert_problem(w.post("farm", "/registry/verify"), 403, "permission_denied")
    assert w.ok(w.post("auditor", "/registry/verify"))["ok"] is True


# ----------------------------------------------------------------------- public, no token


@pytest.mark.parametrize("migrated_url", ["sqlite"], indirect=True)
def test_public_lookup_and_certificates_without_a_token(client, engine, tmp_path):
    from tanhui.registry.seed import seed

    seeded = seed(engine, tmp_path, rows=500)
    [number] = seeded.certificates
    anonymous = client  # no Authorization header anywhere below

    found = anonymous.get(f"{API}/public/lookup", params={"q": number})
    assert found.status_code == 200, found.text
    doc = found.json()
    assert doc["kind"] == "certificate" and doc["certificate_number"] == number
    assert doc["beneficiary"] == "2026 海峡林业博览会" and doc["purpose"] == "carbon_neutral_event"

    by_serial = anonymous.get(f"{API}/public/lookup", params={"q": doc["serial"]}).json()
    assert by_serial["kind"] == "serial"
    [retired] = by_serial["blocks"]
    assert retired["state"] == "RETIRED" and retired["retirement"]["certificate_number"] == number
    whole = doc["serial"].rsplit("-", 2)[0] + "-000000001-000000100"
    many = anonymous.get(f"{API}/public/lookup", params={"q": whole}).json()
    assert {b["state"] for b in many["blocks"]} >= {"ACTIVE"}

    cert = anonymous.get(f"{API}/public/certificates/{number}")
    assert cert.status_code == 200, cert.text
    body = cert.json()
    assert body["quantity"] == doc["quantity"] and body["monitoring_period"] == "2016–2021"
    assert body["verification_url"] == f"http://testserver/verify/{number}"
    assert anonymous.get(f"{API}/public/certificates/{number.lower()}").json() == body
    # a forged Host header cannot put another site into the links (and so into the QR code)
    # once the public address is configured
    forged = {"Host": "evil.example.com"}
    assert (
        anonymous.get(f"{API}/public/certificates/{number}", headers=forged).json()[
            "verification_url"
        ]
        == f"http://evil.example.com/verify/{number}"
    )
    app = anonymous.app
    app.state.settings = app.state.settings.model_copy(
        update={"public_url": "https://tanpiao.example.gov.cn"}
    )
    links = anonymous.get(f"{API}/public/certificates/{number}", headers=forged).json()
    assert links["verification_url"] == f"https://tanpiao.example.gov.cn/verify/{number}"
    assert links["pdf_url"].startswith("https://tanpiao.example.gov.cn/api/v1/")

    html = anonymous.get(body["html_url"])
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert number in html.text and "2026 海峡林业博览会" in html.text
    english = anonymous.get(body["html_url"], params={"lang": "en"})
    assert english.status_code == 200 and 'lang="en"' in english.text

    pdf = anonymous.get(body["pdf_url"])
    assert pdf.status_code == 200, pdf.text[:500]
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and len(pdf.content) > 5_000
    if shutil.which("pdftotext"):
        path = tmp_path / "cert.pdf"
        path.write_bytes(pdf.content)
        text = subprocess.run(
            ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert number in text
    missing = anonymous.get(f"{API}/public/certificates/TH-2026-999999.pdf")
    assert_problem(missing, 404, "not_found")

    # the seeded parties see their own state over HTTP
    village = login(client, "village", seeded.logins["village"])
    states = client.get(f"{API}/balance", headers=village).json()["by_state"]
    assert set(states) >= {"ACTIVE", "PLEDGED", "FROZEN"}
    queue = client.get(f"{API}/issuance/queue", headers=login(client, "verifier", "tanhui-demo"))
    assert queue.json()["total"] == 1


# ------------------------------------------------------------ multipart: recompute the report


@pytest.mark.parametrize("migrated_url", ["sqlite"], indirect=True)
def test_a_report_with_its_files_is_recomputed(world, tmp_path):
    from tanhui.demo import build_demo
    from tanhui.measure.methods.base import MethodOptions
    from tanhui.measure.service import measure_files

    w = world
    build_demo(tmp_path, n=500)
    later, earlier = tmp_path / "xiaoban_2021.csv", tmp_path / "xiaoban_2016.csv"
    measured = measure_files(
        later, baseline=earlier, method="smcer", options=MethodOptions(year_from=2016, year_to=2021)
    )
    document = json.loads(json.dumps(measured.to_dict()))
    ids = [r["id"] for r in document["rows"]]
    project = register(w, ids)
    form = {"period_start": "2016-01-01", "period_end": "2021-12-31"}

    def files(doc: dict) -> dict:
        return {
            "result": ("result.json", json.dumps(doc).encode(), "application/json"),
            "current": ("xiaoban_2021.csv", later.read_bytes(), "text/csv"),
            "baseline": ("xiaoban_2016.csv", earlier.read_bytes(), "text/csv"),
        }

    url = f"/projects/{project['id']}/reports/recompute"
    tampered = json.loads(json.dumps(document))
    tampered["provenance"]["result"]["total_tco2e"] += 100
    refused = w.post("farm", url, data=form, files=files(tampered))
    body = assert_problem(refused, 409, "provenance_mismatch")
    assert any("total_tco2e" in d for d in body["differences"])

    accepted = w.ok(w.post("farm", url, data=form, files=files(document)), 201)
    assert accepted["issuable_tco2e"] == int(document["total_tco2e"])

    not_json = {**files(document), "result": ("result.json", b"\xff\x00", "application/json")}
    assert_problem(w.post("farm", url, data=form, files=not_json), 422, "input")
    exe = {**files(document), "current": ("inventory.exe", b"MZ", "application/octet-stream")}
    assert_problem(w.post("farm", url, data=form, files=exe), 422, "input")
    garbage = {**files(document), "current": ("inventory.csv", b"\x00\x01garbage", "text/csv")}
    assert w.post("farm", url, data=form, files=garbage).status_code == 422
