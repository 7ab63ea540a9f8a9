"""What the database itself refuses: CHECK constraints, foreign keys, changes to the event log."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from db_sample import T0, block_kwargs, org, populate
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlalchemy.orm.exc import StaleDataError

from tanhui.db import UnitOfWork, make_engine
from tanhui.db.tables import (
    Account,
    Block,
    Event,
    IssuanceRequest,
    MonitoringReport,
    Organisation,
    Project,
    UserRole,
)


@pytest.fixture
def filled(db_engine):
    populate(db_engine)
    return db_engine


def ids(engine):
    with engine.connect() as c:
        return {
            "issuance_request_id": c.scalar(select(IssuanceRequest.id).limit(1)),
            "project_id": c.scalar(select(Project.id).limit(1)),
            "account_id": c.scalar(select(Account.id).limit(1)),
        }


# -------------------------------------------------------------------------------- event log


def test_events_refuse_update_and_delete(filled):
    with filled.connect() as c:
        before = c.execute(select(Event).order_by(Event.id)).all()
    for stmt in (
        update(Event).values(actor="mallory"),
        update(Event).where(Event.sequence == 2).values(payload={"type": "forged"}),
        delete(Event).where(Event.sequence == 3),
        delete(Event),
    ):
        with pytest.raises(DBAPIError, match="append-only"), filled.begin() as c:
            c.execute(stmt)
    with filled.connect() as c:
        assert c.execute(select(Event).order_by(Event.id)).all() == before


def test_events_refuse_truncate_on_postgresql(migrated_postgres_url):
    engine = make_engine(migrated_postgres_url)
    try:
        populate(engine)
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as c:
            c.execute(text("TRUNCATE events CASCADE"))
        with engine.connect() as c:
            assert c.scalar(select(func.count()).select_from(Event)) == 3
    finally:
        engine.dispose()


def test_events_accept_appends(filled):
    with filled.begin() as c:
        c.execute(
            insert(Event).values(
                sequence=4, type="t", payload={}, actor="a", created_at=T0, prev_hash="p", hash="h"
            )
        )
    with filled.connect() as c:
        assert c.scalar(select(Event.sequence).order_by(Event.sequence.desc()).limit(1)) == 4


# ------------------------------------------------------------------------------------ checks

BAD_BLOCKS = {
    "negative quantity": dict(serial_start=10, serial_end=9, quantity=0),
    "negative serial": dict(serial_start=-5, serial_end=-1, quantity=5),
    "end before start": dict(serial_start=20, serial_end=10, quantity=-9),
    "count mismatch": dict(serial_start=1, serial_end=10, quantity=11),
    "serial beyond 9 digits": dict(serial_start=999_999_999, serial_end=1_000_000_000, quantity=2),
    "unknown state": dict(state="SOLD"),
    "lowercase state": dict(state="active"),
    "pledged without lock": dict(state="PLEDGED"),
    "frozen with a pledge lock": dict(state="FROZEN", lock_kind="pledge", lock_ref=1),
    "lock on an active block": dict(lock_kind="pledge", lock_ref=1),
    "lock kind without ref": dict(state="PLEDGED", lock_kind="pledge"),
    "unknown lock kind": dict(state="PENDING_OFFSET", lock_kind="hold", lock_ref=1),
    "region with letters": dict(region_code="35A421"),
    "period reversed": dict(period_start=date(2026, 1, 1), period_end=date(2025, 1, 1)),
}


@pytest.mark.parametrize("bad", BAD_BLOCKS.values(), ids=BAD_BLOCKS.keys())
def test_blocks_refuse_bad_rows(filled, bad):
    row = block_kwargs(serial_start=5000, serial_end=5009, quantity=10) | ids(filled) | bad
    with pytest.raises(IntegrityError), filled.begin() as c:
        c.execute(insert(Block).values(**row))


def test_a_valid_block_is_accepted(filled):
    row = block_kwargs(serial_start=5000, serial_end=5009, quantity=10) | ids(filled)
    with filled.begin() as c:
        c.execute(insert(Block).values(**(row | {"state": "PENDING_OFFSET"})))


def test_overlapping_block_starts_are_refused(filled):
    row = block_kwargs(serial_start=1, serial_end=1, quantity=1) | ids(filled)
    with pytest.raises(IntegrityError), filled.begin() as c:
        c.execute(insert(Block).values(**row))


BAD_REQUESTS = {
    "zero quantity": dict(quantity=0),
    "negative quantity": dict(quantity=-3),
    "negative buffer": dict(buffer_quantity=-1),
    "buffer above quantity": dict(quantity=5, buffer_quantity=6),
    "unknown state": dict(state="PAID"),
    "rejected without reason": dict(state="REJECTED"),
}


@pytest.mark.parametrize("bad", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_issuance_requests_refuse_bad_rows(filled, bad):
    with filled.connect() as c:
        report = c.scalar(select(MonitoringReport.id))
    row = (
        dict(
            project_id=ids(filled)["project_id"],
            monitoring_report_id=report,
            quantity=10,
            buffer_quantity=1,
            state="SUBMITTED",
            submitted_at=T0,
        )
        | bad
    )
    with pytest.raises(IntegrityError), filled.begin() as c:
        c.execute(insert(IssuanceRequest).values(**row))


def test_roles_and_kinds_are_checked(filled):
    with pytest.raises(IntegrityError), filled.begin() as c:
        c.execute(insert(UserRole).values(user_id=1, role="superuser", granted_at=T0))
    with pytest.raises(IntegrityError), filled.begin() as c:
        c.execute(insert(Organisation).values(name="x", kind="ngo", created_at=T0))
    with pytest.raises(IntegrityError), filled.begin() as c:
        c.execute(
            insert(Account).values(
                number="Z", organisation_id=1, kind="wallet", name="", created_at=T0
            )
        )


def test_foreign_keys_are_enforced(db_engine):
    row = block_kwargs(issuance_request_id=999, project_id=999, account_id=999)
    with pytest.raises(IntegrityError), db_engine.begin() as c:
        c.execute(insert(Block).values(**row))


# ------------------------------------------------------------------------------- timestamps


def test_timestamps_are_utc_and_naive_ones_refused(db_engine):
    beijing = timezone(timedelta(hours=8))
    with UnitOfWork(db_engine) as uow:
        uow.session.add(org(created_at=datetime(2026, 3, 1, 16, 0, tzinfo=beijing)))
        uow.commit()
    with db_engine.connect() as c:
        stored = c.scalar(select(Organisation.created_at))
    assert stored == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert stored.tzinfo == UTC

    with pytest.raises(StatementError, match="naive"), UnitOfWork(db_engine) as uow:
        uow.session.add(org("naive", created_at=datetime(2026, 3, 1, 8, 0)))
        uow.session.flush()


# --------------------------------------------------------------------------- optimistic lock


def test_block_version_refuses_a_stale_write(filled):
    # The second writer read the block before the first one changed it.
    with UnitOfWork(filled) as second:
        b = second.session.scalars(select(Block).where(Block.serial_start == 1)).one()
        second.commit()  # end the read transaction; b stays loaded at version 1
        with UnitOfWork(filled) as first:
            a = first.session.scalars(select(Block).where(Block.serial_start == 1)).one()
            a.state = "RESERVED"
            a.lock_kind, a.lock_ref = "reservation", 7
            first.commit()
            assert a.version == 2
        assert b.version == 1
        b.account_id = b.account_id + 1
        with pytest.raises(StaleDataError):
            second.commit()
