"""Loss events on SQLite and PostgreSQL: recording, the risk model's plain form, and reversal in
the registry through the ledger (buffer first), once, refused clearly when nothing is issued."""

from __future__ import annotations

import datetime as dt

import pytest
from dev_world import REGION, build, counts
from registry_world import actor, issue
from sqlalchemy import func, select

from tanhui.db.tables import Block, LossEvent
from tanhui.db.uow import UnitOfWork
from tanhui.develop.losses import Losses
from tanhui.errors import ConflictError, InputError, NotFoundError, PermissionDenied, StateError
from tanhui.registry.permissions import Role

D = dt.date


@pytest.fixture
def w(db_engine):
    return build(db_engine, buffer_rates={"SMCER": 0.1})


def record(w, p, who="farm", **kw):
    values = dict(subcompartment_id="XB-001", hazard="fire", occurred_on=D(2026, 3, 9))
    values.update(kw)
    return w.losses.record(w.a[who], p.id, **values)


# ---------------------------------------------------------------------------------- record


def test_record_by_area_or_by_share(w):
    p = w.project()  # XB-001 10 ha, XB-002 4 ha, XB-003 6 ha
    by_area = record(w, p, area_ha=2.5, tonnes_lost=31.2, note="山火")
    assert (by_area.area_ha, by_area.share_lost, by_area.tonnes_lost) == (2.5, 0.25, 31.2)
    assert by_area.actor == "farm" and by_area.reversal_status is None
    by_share = record(w, p, "forestry", subcompartment_id="XB-002", hazard="pests", share_lost=0.5)
    assert (by_share.area_ha, by_share.share_lost, by_share.tonnes_lost) == (2.0, 0.5, None)
    both = record(
        w, p, subcompartment_id="XB-003", hazard="illegal_logging", area_ha=6, share_lost=1
    )
    assert both.share_lost == 1.0
    older = record(w, p, hazard="other", occurred_on=D(2020, 8, 1), area_ha=0.1)
    events = w.losses.list_events(w.a["audit"], p.id)
    assert [e.id for e in events] == [older.id, by_area.id, by_share.id, both.id]
    assert [e.id for e in w.losses.list_events(w.a["farm"], p.id, hazard="pests")] == [by_share.id]


BAD_EVENTS = {
    "unknown hazard": dict(hazard="flood", area_ha=1),
    "neither area nor share": dict(),
    "area larger than the sub-compartment": dict(area_ha=10.5),
    "share zero": dict(share_lost=0),
    "share above one": dict(share_lost=1.2),
    "area and share disagree": dict(area_ha=5, share_lost=0.4),
    "negative tonnes": dict(area_ha=1, tonnes_lost=-3),
    "infinite tonnes": dict(area_ha=1, tonnes_lost=float("inf")),
    "not a sub-compartment of the project": dict(subcompartment_id="XB-999", area_ha=1),
    "in the future": dict(occurred_on=D(2026, 5, 11), area_ha=1),
    "a datetime": dict(occurred_on=dt.datetime(2026, 3, 9, tzinfo=dt.UTC), area_ha=1),
}


@pytest.mark.parametrize("bad", BAD_EVENTS.values(), ids=BAD_EVENTS.keys())
def test_bad_events_write_nothing(w, bad):
    p = w.project()
    before = counts(w.engine)
    with pytest.raises(InputError):
        record(w, p, **bad)
    assert counts(w.engine) == before


def test_who_records_and_reads(w):
    p = w.project()
    before = counts(w.engine)
    for who in ("village", "audit", "bank", "eco", "public"):
        with pytest.raises(PermissionDenied):
            record(w, p, who, area_ha=1)
    with pytest.raises(NotFoundError):
        w.losses.record(
            w.a["forestry"],
            99_999,
            subcompartment_id="XB-001",
            hazard="fire",
            occurred_on=D(2026, 1, 1),
            area_ha=1,
        )
    assert counts(w.engine) == before
    record(w, p, area_ha=1)
    with pytest.raises(PermissionDenied):
        w.losses.list_events(w.a["village"], p.id)
    assert len(w.losses.list_events(w.a["verifier"], p.id)) == 1


def test_risk_inputs(w):
    p = w.project()
    other = w.project(
        "forestry",
        owner_organisation_id=w.org("village"),
        region_code="350421",
        subcompartments=[("M-1", 8.0)],
    )
    record(w, p, area_ha=2.5, occurred_on=D(2024, 7, 1))
    record(
        w, p, subcompartment_id="XB-002", hazard="pests", share_lost=0.5, occurred_on=D(2023, 5, 1)
    )
    w.losses.record(
        w.a["forestry"],
        other.id,
        subcompartment_id="M-1",
        hazard="illegal_logging",
        occurred_on=D(2025, 1, 2),
        area_ha=2.0,
        tonnes_lost=40.0,
    )
    rows = w.losses.risk_inputs(w.a["forestry"])
    assert rows == [
        {
            "subcompartment_id": "XB-002",
            "year": 2023,
            "hazard": "pests",
            "share_lost": 0.5,
            "area_ha": 2.0,
        },
        {
            "subcompartment_id": "XB-001",
            "year": 2024,
            "hazard": "fire",
            "share_lost": 0.25,
            "area_ha": 2.5,
        },
        {
            "subcompartment_id": "M-1",
            "year": 2025,
            "hazard": "illegal_logging",
            "share_lost": 0.25,
            "area_ha": 2.0,
        },
    ]
    assert [
        r["subcompartment_id"] for r in w.losses.risk_inputs(w.a["audit"], region_code=REGION)
    ] == [
        "XB-002",
        "XB-001",
    ]
    assert len(w.losses.risk_inputs(w.a["forestry"], project_id=other.id)) == 1
    assert [r["subcompartment_id"] for r in w.losses.risk_inputs(w.a["village"])] == ["M-1"]
    assert w.losses.risk_inputs(w.a["farm"], region_code="350421") == []
    with pytest.raises(PermissionDenied):
        w.losses.risk_inputs(w.a["village"], project_id=p.id)
    with pytest.raises(PermissionDenied):
        w.losses.risk_inputs(w.a["public"])


# -------------------------------------------------------------------------------- reversal


def linked(w, tonnes: float = 100.0):
    """A library project linked to the farm's registry project with ``tonnes`` issued (10 %
    buffer), and a fire on it."""
    issued = issue(w.world, tonnes)
    p = w.project()
    w.move_to(p.id, "registered")
    w.library.link_registry_project(w.a["forestry"], p.id, issued["project"]["id"])
    event = record(w, p, area_ha=2.5, tonnes_lost=12.3)
    return p, issued, event


def cancelled(w, registry_project_id: int) -> dict[str, int]:
    with UnitOfWork(w.engine, read_only=True) as uow:
        rows = uow.session.execute(
            select(Block.state, func.sum(Block.quantity))
            .where(Block.project_id == registry_project_id)
            .group_by(Block.state)
        ).all()
    return {state: int(total) for state, total in rows}


def test_reversal_cancels_the_buffer_first_once(w):
    p, issued, event = linked(w)
    registry_id = issued["project"]["id"]
    assert cancelled(w, registry_id) == {"ACTIVE": 90, "BUFFER": 10}
    done = w.losses.reverse_in_registry(w.a["forestry"], event.id, reason="县林业局核定")
    assert done.reversed_quantity == 13 and done.reversal_status == "done"  # 12.3 t rounded up
    assert done.reversed_at is not None
    assert cancelled(w, registry_id) == {"ACTIVE": 87, "CANCELLED": 13}
    with UnitOfWork(w.engine, read_only=True) as uow:
        stored = uow.session.get(LossEvent, event.id).reversal
    assert stored["ledger"]["cancelled"] == {"buffer": 10, "owner": 3}
    assert "火灾" in stored["ledger"]["reason"] and "县林业局核定" in stored["ledger"]["reason"]
    assert w.world.ledger.verify() == []
    with pytest.raises(ConflictError, match="already reversed"):
        w.losses.reverse_in_registry(w.a["forestry"], event.id)
    assert cancelled(w, registry_id) == {"ACTIVE": 87, "CANCELLED": 13}
    # a second event on the same project, with an explicit quantity
    second = record(w, p, hazard="illegal_logging", subcompartment_id="XB-002", area_ha=1)
    assert (
        w.losses.reverse_in_registry(w.a["forestry"], second.id, quantity=7).reversed_quantity == 7
    )
    assert cancelled(w, registry_id) == {"ACTIVE": 80, "CANCELLED": 20}
    assert w.world.ledger.verify() == []


def test_reversal_refusals_change_nothing(w):
    p = w.project()
    w.move_to(p.id, "validation")
    event = record(w, p, area_ha=1, tonnes_lost=5)
    f = w.a["forestry"]
    with pytest.raises(StateError, match="not linked"):
        w.losses.reverse_in_registry(f, event.id)
    # linked, but nothing issued yet
    project = w.world.ledger.register_project(
        w.a["farm"],
        scheme="SMCER",
        region_code=REGION,
        name="未签发项目",
        methodology="smcer",
        crediting_start=D(2026, 1, 1),
        crediting_end=D(2045, 12, 31),
    )
    w.library.link_registry_project(f, p.id, project["id"])
    with pytest.raises(ConflictError, match="issued nothing") as e:
        w.losses.reverse_in_registry(f, event.id)
    assert e.value.hint_en
    # the holder may record losses but not cancel tonnes; others may do neither
    before = counts(w.engine)
    for who in ("farm", "village", "audit", "bank"):
        with pytest.raises(PermissionDenied):
            w.losses.reverse_in_registry(w.a[who], event.id)
    with pytest.raises(NotFoundError):
        w.losses.reverse_in_registry(f, 99_999)
    assert counts(w.engine) == before
    assert w.losses.list_events(f, p.id)[0].reversal_status is None
    assert cancelled(w, project["id"]) == {}


def test_quantities_the_registry_cannot_cover(w):
    p, issued, event = linked(w)
    f, registry_id = w.a["forestry"], issued["project"]["id"]
    with pytest.raises(ConflictError, match="ever issued"):
        w.losses.reverse_in_registry(f, event.id, quantity=101)
    with pytest.raises(InputError):
        w.losses.reverse_in_registry(f, event.id, quantity=0)
    # the owner retires 50 t: the buffer (10) and its active tonnes (40) cover 50, not 80
    block = issued["blocks"][0]["id"]
    w.world.ledger.retire(
        w.a["farm"], block_id=block, quantity=50, beneficiary="x", purpose="voluntary"
    )
    with pytest.raises(ConflictError, match="nothing was changed"):
        w.losses.reverse_in_registry(f, event.id, quantity=80)
    view = w.losses.list_events(f, p.id)[0]
    assert view.reversal_status is None and view.reversed_quantity is None  # the claim is released
    assert cancelled(w, registry_id) == {"ACTIVE": 40, "BUFFER": 10, "RETIRED": 50}
    small = record(w, p, area_ha=0.1, tonnes_lost=0.4)
    assert w.losses.reverse_in_registry(f, small.id).reversed_quantity == 1  # rounded up
    no_estimate = record(w, p, area_ha=0.1)
    with pytest.raises(InputError, match="quantity"):
        w.losses.reverse_in_registry(f, no_estimate.id)
    assert w.losses.reverse_in_registry(f, event.id, quantity=49).reversed_quantity == 49
    assert cancelled(w, registry_id) == {"CANCELLED": 50, "RETIRED": 50}
    assert w.world.ledger.verify() == []


class CrashAfterTheLedger:
    """A ledger whose answer is lost: the cancellation commits, then the caller sees an error."""

    def __init__(self, ledger) -> None:
        self.ledger = ledger

    def cancel_reversal(self, *args, **kwargs):
        self.ledger.cancel_reversal(*args, **kwargs)
        raise ConnectionError("the connection dropped after the commit")


def test_a_reversal_interrupted_after_the_ledger_completes_once(w):
    p, issued, event = linked(w)
    f, registry_id = w.a["forestry"], issued["project"]["id"]
    crashing = Losses(w.engine, ledger=CrashAfterTheLedger(w.world.ledger))
    with pytest.raises(ConnectionError):
        crashing.reverse_in_registry(f, event.id)
    assert w.losses.list_events(f, p.id)[0].reversal_status == "pending"
    assert cancelled(w, registry_id) == {"ACTIVE": 87, "CANCELLED": 13}
    # someone else may not start another reversal of the same event meanwhile
    colleague = actor("forestry-2", w.org("forestry"), Role.forestry_regulator)
    with pytest.raises(ConflictError, match="under way"):
        w.losses.reverse_in_registry(colleague, event.id)
    # the same user's retry completes it: the ledger replays its first answer (no second cut)
    done = w.losses.reverse_in_registry(f, event.id, quantity=5, reason="重试")
    assert done.reversed_quantity == 13 and done.reversal_status == "done"
    assert cancelled(w, registry_id) == {"ACTIVE": 87, "CANCELLED": 13}
    assert w.world.ledger.verify() == []
