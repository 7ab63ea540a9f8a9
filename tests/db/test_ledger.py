"""The ledger service on SQLite and PostgreSQL: workflow, block operations, locks, retirement,
no double issuance, reversals, idempotency and the event log's replay."""

from __future__ import annotations

import datetime as dt

import pytest
from registry_world import actor, build_world, issue, result_document
from sqlalchemy import text

from tanhui.errors import NotFoundError, PermissionDenied, RegistryError, StateError
from tanhui.registry.ledger import Conflict, buffer_share
from tanhui.registry.permissions import Action, Role
from tanhui.registry.serials import parse


@pytest.fixture
def world(db_engine):
    return build_world(db_engine, buffer_rates={"SMCER": 0.1})


def test_issuance_rounds_down_and_withholds_the_buffer(world):
    issued = issue(world, 1000.9)
    holder, buffer = issued["blocks"]
    # 1000.9 t rounds down to 1000; 10 % buffer = 100 t, the last 100 serials
    assert holder["quantity"] == 900 and buffer["quantity"] == 100
    assert holder["serial"].endswith("-000000001-000000900") and holder["state"] == "ACTIVE"
    assert buffer["serial"].endswith("-000000901-000001000") and buffer["state"] == "BUFFER"
    prefix = parse(holder["serial"]).prefix
    assert (prefix.scheme, prefix.region, prefix.period_start, prefix.period_end) == (
        "SMCER",
        "350428",
        2016,
        2020,
    )
    assert world.ledger.balance(world.org_id("farm")) == {
        "balance": 900,
        "available": 900,
        "ACTIVE": 900,
    }
    assert world.ledger.verify() == []


def test_each_review_step_belongs_to_one_role(world):
    a, ledger = world.actors, world.ledger
    project = ledger.register_project(
        a["farm"],
        scheme="SMCER",
        region_code="350428",
        name="p",
        methodology="smcer",
        crediting_start=dt.date(2016, 1, 1),
        crediting_end=dt.date(2040, 1, 1),
    )
    report = ledger.submit_monitoring_report(
        a["farm"],
        project_id=project["id"],
        period_start=dt.date(2016, 1, 1),
        period_end=dt.date(2020, 12, 31),
        result=result_document(50.0, ["X1"]),
    )
    request = ledger.submit_issuance(a["farm"], report_id=report["id"])
    with pytest.raises(PermissionDenied):
        ledger.review_issuance(
            a["forestry"], request_id=request["id"], action=Action.approve_issuance
        )  # not yet
    with pytest.raises(PermissionDenied):
        ledger.review_issuance(a["farm"], request_id=request["id"], action=Action.verify_issuance)
    ledger.review_issuance(a["verifier"], request_id=request["id"], action=Action.verify_issuance)
    with pytest.raises(RegistryError, match="reason"):
        ledger.review_issuance(
            a["forestry"], request_id=request["id"], action=Action.reject_issuance, reason=" "
        )
    done = ledger.review_issuance(
        a["forestry"],
        request_id=request["id"],
        action=Action.reject_issuance,
        reason="小班边界与林权证不符",
    )
    assert done["state"] == "REJECTED"
    with pytest.raises(StateError):
        ledger.review_issuance(a["eco"], request_id=request["id"], action=Action.file_issuance)
    # a rejected request frees the quantity for a new one
    again = ledger.submit_issuance(a["farm"], report_id=report["id"])
    assert again["quantity"] == 50


def test_cumulative_issuance_never_exceeds_the_report(world):
    a, ledger = world.actors, world.ledger
    issued = issue(world, 100.2)
    with pytest.raises(Conflict, match="Nothing left"):
        ledger.submit_issuance(a["farm"], report_id=issued["report"]["id"])
    project = issued["project"]
    report = ledger.submit_monitoring_report(
        a["farm"],
        project_id=project["id"],
        period_start=dt.date(2021, 1, 1),
        period_end=dt.date(2021, 12, 31),
        result=result_document(0.6, ["XB-001"]),
    )
    with pytest.raises(Conflict, match="rounds down to 0"):
        ledger.submit_issuance(a["farm"], report_id=report["id"])


def test_partial_transfer_moves_the_last_serials(world):
    a, ledger = world.actors, world.ledger
    block = issue(world, 100)["blocks"][0]  # 90 t active after the 10 % buffer
    moved = ledger.transfer(
        a["farm"], block_id=block["id"], quantity=30, to_account=world.account("buyer")
    )
    assert moved["serial"].endswith("-000000061-000000090") and moved["quantity"] == 30
    assert moved["account"] == world.account("buyer")
    kept, _ = ledger.holdings(a["farm"])
    assert [b["serial"][-19:] for b in map(vars, kept)] == ["000000001-000000060"]
    assert ledger.balance(world.org_id("farm"))["available"] == 60
    assert ledger.balance(world.org_id("buyer"))["available"] == 30
    with pytest.raises(Conflict):
        ledger.transfer(
            a["farm"], block_id=block["id"], quantity=61, to_account=world.account("buyer")
        )
    with pytest.raises(PermissionDenied):  # only the holder moves its blocks
        ledger.transfer(
            a["buyer"], block_id=block["id"], quantity=1, to_account=world.account("buyer")
        )
    assert ledger.verify() == []


def test_pledge_lifecycle(world):
    a, ledger = world.actors, world.ledger
    block = issue(world, 100)["blocks"][0]
    pledge = ledger.request_pledge(
        a["farm"],
        block_id=block["id"],
        quantity=40,
        bank_organisation_id=world.org_id("bank"),
        loan_amount_fen=30_000_000,
    )
    pledged_block = pledge["block"]["id"]
    assert pledge["block"]["state"] == "RESERVED"
    with pytest.raises(PermissionDenied):  # another bank cannot confirm
        ledger.confirm_pledge(a["bank2"], pledge_id=pledge["pledge_id"])
    assert ledger.confirm_pledge(a["bank"], pledge_id=pledge["pledge_id"])["state"] == "active"
    for operation in (
        lambda: ledger.transfer(
            a["farm"], block_id=pledged_block, quantity=1, to_account=world.account("buyer")
        ),
        lambda: ledger.retire(
            a["farm"], block_id=pledged_block, quantity=1, beneficiary="x", purpose="voluntary"
        ),
        lambda: ledger.request_pledge(
            a["farm"],
            block_id=pledged_block,
            quantity=1,
            bank_organisation_id=world.org_id("bank2"),
        ),
    ):
        with pytest.raises((StateError, PermissionDenied)):
            operation()
    with pytest.raises(PermissionDenied):
        ledger.release_pledge(a["farm"], pledge_id=pledge["pledge_id"])  # only the bank releases
    assert ledger.balance(world.org_id("farm")) == {
        "balance": 90,
        "available": 50,
        "ACTIVE": 50,
        "PLEDGED": 40,
    }
    ledger.enforce_pledge(a["bank"], pledge_id=pledge["pledge_id"])
    assert ledger.balance(world.org_id("bank"))["available"] == 40
    assert ledger.balance(world.org_id("farm"))["balance"] == 50
    assert ledger.verify() == []


def test_release_returns_the_tonnes(world):
    a, ledger = world.actors, world.ledger
    block = issue(world, 100)["blocks"][0]
    pledge = ledger.request_pledge(
        a["farm"], block_id=block["id"], quantity=None, bank_organisation_id=world.org_id("bank")
    )
    ledger.confirm_pledge(a["bank"], pledge_id=pledge["pledge_id"])
    ledger.release_pledge(a["bank"], pledge_id=pledge["pledge_id"])
    assert ledger.balance(world.org_id("farm")) == {"balance": 90, "available": 90, "ACTIVE": 90}


def test_judicial_freeze(world):
    a, ledger = world.actors, world.ledger
    block = issue(world, 100)["blocks"][0]
    frozen = ledger.freeze(
        a["court"], block_id=block["id"], quantity=20, case_number="(2026)闽0428民初123号"
    )
    with pytest.raises(StateError):
        ledger.transfer(
            a["farm"], block_id=frozen["block"]["id"], quantity=1, to_account=world.account("buyer")
        )
    with pytest.raises(PermissionDenied):
        ledger.unfreeze(a["court2"], freeze_id=frozen["freeze_id"])  # only the court that froze
    with pytest.raises(PermissionDenied):
        ledger.freeze(a["farm"], block_id=block["id"], quantity=1, case_number="x")
    ledger.unfreeze(a["court"], freeze_id=frozen["freeze_id"])
    ledger.transfer(
        a["farm"], block_id=frozen["block"]["id"], quantity=None, to_account=world.account("buyer")
    )
    assert ledger.verify() == []


def test_retirement_is_final_and_public(world):
    a, ledger = world.actors, world.ledger
    block = issue(world, 100)["blocks"][0]
    retired = ledger.retire(
        a["farm"],
        block_id=block["id"],
        quantity=12,
        beneficiary="第十届林博会",
        purpose="carbon_neutral_event",
        note="会议碳中和",
    )
    assert retired["quantity"] == 12 and retired["certificate_number"].startswith("TH-")
    [serial] = retired["serials"]
    found = ledger.lookup(serial)
    assert found["blocks"][0]["state"] == "RETIRED"
    assert found["blocks"][0]["retirement"]["beneficiary"] == "第十届林博会"
    cert = ledger.lookup(retired["certificate_number"])
    assert cert["serial"] == serial and cert["quantity"] == 12
    retired_block = found["blocks"][0]
    with pytest.raises(NotFoundError):
        ledger.lookup("SMCER-350428-000999-20162020-000000001")
    # the retired block never moves again
    holdings, _ = ledger.holdings(a["farm"], states=["RETIRED"])
    [rb] = holdings
    assert rb.serial == retired_block["serial"]
    for operation in (
        lambda: ledger.retire(
            a["farm"], block_id=rb.id, quantity=None, beneficiary="x", purpose="voluntary"
        ),
        lambda: ledger.transfer(
            a["farm"], block_id=rb.id, quantity=None, to_account=world.account("buyer")
        ),
        lambda: ledger.freeze(a["court"], block_id=rb.id, quantity=None, case_number="c"),
    ):
        with pytest.raises(StateError):
            operation()
    with pytest.raises(RegistryError, match="purpose"):
        ledger.retire(a["farm"], block_id=block["id"], quantity=1, beneficiary="x", purpose="fun")
    assert ledger.verify() == []


def test_no_double_issuance_across_schemes(world):
    a, ledger = world.actors, world.ledger
    issue(world, 100, subcompartments=["XB-001", "XB-002"], period=(2016, 2020))
    with pytest.raises(Conflict) as info:  # same land, overlapping period, another scheme
        issue(world, 50, subcompartments=["XB-002", "XB-009"], period=(2019, 2022), scheme="FFCER")
    message = info.value.message("en")
    assert "XB-002" in message and "SMCER" in message
    issue(world, 50, subcompartments=["XB-002"], period=(2021, 2025))  # a later period is fine
    ledger.record_external_issuance(
        a["forestry"],
        scheme="CCER",
        region_code="350428",
        project_ref="CCER-1234",
        reference="CCER-1234-V1",
        subcompartments=["XB-777"],
        period_start=dt.date(2018, 1, 1),
        period_end=dt.date(2022, 12, 31),
    )
    with pytest.raises(Conflict, match="CCER"):
        issue(world, 10, subcompartments=["XB-777"], period=(2020, 2020))
    assert ledger.verify() == []


def test_reversal_cancels_the_buffer_first(world):
    a, ledger = world.actors, world.ledger
    issued = issue(world, 100)  # 90 active, 10 buffer
    project_id = issued["project"]["id"]
    done = ledger.cancel_reversal(
        a["forestry"], project_id=project_id, quantity=15, reason="2024 年山火"
    )
    assert done["cancelled"] == {"buffer": 10, "owner": 5}
    assert ledger.balance(world.org_id("farm"))["available"] == 85
    with pytest.raises(Conflict, match="nothing was changed"):
        ledger.cancel_reversal(a["forestry"], project_id=project_id, quantity=1000, reason="x")
    assert ledger.balance(world.org_id("farm"))["available"] == 85
    with pytest.raises(PermissionDenied):
        ledger.cancel_reversal(a["farm"], project_id=project_id, quantity=1, reason="x")
    assert ledger.verify() == []


def test_export_then_import(world):
    a, ledger = world.actors, world.ledger
    block = issue(world, 100)["blocks"][0]
    out = ledger.export_blocks(
        a["farm"], block_id=block["id"], quantity=10, destination="海峡股权交易中心"
    )
    assert out["state"] == "EXPORTED"
    assert ledger.balance(world.org_id("farm"))["balance"] == 80  # not live here
    back = ledger.import_blocks(
        a["issuer"], serial=out["serial"], to_account=world.account("farm"), source="海峡"
    )
    assert back["state"] == "ACTIVE" and ledger.balance(world.org_id("farm"))["balance"] == 90
    with pytest.raises(NotFoundError):
        ledger.import_blocks(
            a["issuer"], serial=out["serial"], to_account=world.account("farm"), source="again"
        )


def test_idempotency_key_has_exactly_one_effect(world):
    a, ledger = world.actors, world.ledger
    block = issue(world, 100)["blocks"][0]
    first = ledger.transfer(
        a["farm"],
        block_id=block["id"],
        quantity=10,
        to_account=world.account("buyer"),
        idempotency_key="t-1",
    )
    again = ledger.transfer(
        a["farm"],
        block_id=block["id"],
        quantity=10,
        to_account=world.account("buyer"),
        idempotency_key="t-1",
    )
    assert again == first
    assert ledger.balance(world.org_id("buyer"))["available"] == 10
    with pytest.raises(Conflict, match="different request"):
        ledger.transfer(
            a["farm"],
            block_id=block["id"],
            quantity=11,
            to_account=world.account("buyer"),
            idempotency_key="t-1",
        )
    # keys are per actor
    other = actor("other-farm-user", world.org_id("farm"), Role.holder)
    ledger.transfer(
        other,
        block_id=block["id"],
        quantity=10,
        to_account=world.account("buyer"),
        idempotency_key="t-1",
    )
    assert ledger.balance(world.org_id("buyer"))["available"] == 20


def test_failed_operation_changes_nothing(world, db_engine):
    a, ledger = world.actors, world.ledger
    block = issue(world, 100)["blocks"][0]
    with db_engine.connect() as connection:
        before = connection.execute(text("SELECT count(*) FROM events")).scalar()
    with pytest.raises(Conflict):
        ledger.transfer(
            a["farm"], block_id=block["id"], quantity=500, to_account=world.account("buyer")
        )
    with db_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM events")).scalar() == before
    assert ledger.verify() == []


def test_verify_detects_a_tampered_table_and_the_log_refuses_edits(world, db_engine):
    issue(world, 100)
    assert world.ledger.verify() == []
    with db_engine.begin() as connection:
        connection.execute(
            text("UPDATE blocks SET account_id = (SELECT min(id) FROM accounts) WHERE id = 1")
        )
    problems = world.ledger.verify()
    assert any(p.startswith("blocks: replay differs") for p in problems)
    with pytest.raises(Exception, match="append-only"), db_engine.begin() as connection:
        connection.execute(text("UPDATE events SET actor = 'mallory' WHERE sequence = 1"))


def test_buffer_share_is_deterministic():
    assert buffer_share(1000, 0.1) == 100
    assert buffer_share(15, 0.1) == 2  # 1.5 rounds half up
    assert buffer_share(14, 0.1) == 1
    assert buffer_share(7, 0.0) == 0
    assert buffer_share(3, 1 / 3) == 1


def test_claimed_subcompartments_lists_land_issued_for_an_overlapping_period(world):
    a, ledger = world.actors, world.ledger
    issue(world, 100, subcompartments=["XB-001", "XB-002"], period=(2016, 2020))
    ledger.record_external_issuance(
        a["forestry"],
        scheme="CCER",
        region_code="350428",
        project_ref="CCER-1234",
        reference="CCER-1234-V1",
        subcompartments=["XB-777"],
        period_start=dt.date(2018, 1, 1),
        period_end=dt.date(2022, 12, 31),
    )
    claimed = ledger.claimed_subcompartments(dt.date(2020, 12, 31), dt.date(2030, 12, 31))
    assert sorted(claimed) == ["XB-001", "XB-002", "XB-777"]
    assert claimed["XB-777"] == ["CCER CCER-1234 2018-01-01–2022-12-31"]
    # a period starting after both ends: nothing is claimed; another county: nothing either
    assert ledger.claimed_subcompartments(dt.date(2023, 1, 1), dt.date(2030, 1, 1)) == {}
    assert sorted(ledger.claimed_subcompartments(dt.date(2021, 1, 1), dt.date(2021, 1, 1))) == [
        "XB-777"
    ]
    assert (
        ledger.claimed_subcompartments(
            dt.date(2016, 1, 1), dt.date(2030, 1, 1), region_code="520100"
        )
        == {}
    )
