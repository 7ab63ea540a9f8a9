"""A small registry with a row in every table, and a snapshot of a database's contents."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from tanhui.db import UnitOfWork, make_engine
from tanhui.db.tables import (
    GENESIS_HASH,
    TABLES,
    Account,
    ApiKey,
    Block,
    Event,
    Freeze,
    FreezeBlock,
    IdempotencyKey,
    IssuanceClaim,
    IssuanceRequest,
    MonitoringReport,
    Organisation,
    Pledge,
    PledgeBlock,
    Project,
    ProjectSubcompartment,
    Retirement,
    User,
    UserRole,
)

T0 = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def org(name: str = "三明市林业局", kind: str = "regulator", **kw: Any) -> Organisation:
    return Organisation(name=name, kind=kind, region_code="350400", **({"created_at": T0} | kw))


def block_kwargs(**kw: Any) -> dict[str, Any]:
    """Valid attributes of a block (ids must be supplied for the foreign keys)."""
    base = dict(
        scheme="SMCER",
        region_code="350421",
        project_number="000001",
        period_start=date(2021, 1, 1),
        period_end=date(2025, 12, 31),
        serial_start=1,
        serial_end=100,
        quantity=100,
        state="ACTIVE",
        created_at=T0,
        updated_at=T0,
    )
    base.update(kw)
    return base


def chain(events: list[dict[str, Any]]) -> list[Event]:
    rows, prev = [], GENESIS_HASH
    for seq, doc in enumerate(events, start=1):
        body = json.dumps(doc, sort_keys=True, ensure_ascii=False)
        digest = hashlib.sha256((prev + body).encode()).hexdigest()
        rows.append(
            Event(
                sequence=seq,
                type=doc["type"],
                payload=doc,
                actor="admin",
                created_at=at(seq),
                prev_hash=prev,
                hash=digest,
            )
        )
        prev = digest
    return rows


def populate(engine: Engine) -> None:
    """Fill every table: an issuance to a holder, a split, a pledge, a freeze, a retirement."""
    with UnitOfWork(engine) as uow:
        s = uow.session
        bureau = org()
        eco = org("三明市生态环境局", "regulator", credit_code="11350400MB0000000X")
        verifier = org("福建某核证机构", "verifier")
        issuer = org("福建金森林业股份有限公司", "issuer")
        owner = org("将乐县高唐镇常口村", "holder")
        bank = org("兴业银行三明分行", "bank")
        court = org("将乐县人民法院", "court")
        person = Organisation(name="张三", kind="individual", created_at=T0)
        s.add_all([bureau, eco, verifier, issuer, owner, bank, court, person])
        s.flush()

        admin = User(
            username="admin", display_name="管理员", password_hash="$argon2id$x", active=True
        )
        clerk = User(username="clerk", organisation_id=bank.id, active=False, created_at=at(1))
        s.add_all([admin, clerk])
        s.flush()
        s.add_all(
            [
                UserRole(user_id=admin.id, role="admin", organisation_id=None, granted_at=T0),
                UserRole(user_id=clerk.id, role="bank", organisation_id=bank.id, granted_at=T0),
                ApiKey(
                    user_id=clerk.id,
                    name="核心系统",
                    prefix="th_abc",
                    key_hash="h" * 64,
                    created_at=T0,
                    expires_at=at(60 * 24 * 365),
                ),
            ]
        )
        holding = Account(
            number="A-000001", organisation_id=owner.id, kind="holding", created_at=T0
        )
        buffer = Account(number="B-000001", organisation_id=issuer.id, kind="buffer", created_at=T0)
        bank_account = Account(number="A-000002", organisation_id=bank.id, created_at=T0)
        s.add_all([holding, buffer, bank_account])

        project = Project(
            scheme="SMCER",
            region_code="350421",
            project_number="000001",
            name="常口村林业碳票项目",
            methodology="smcer-forest-management",
            crediting_start=date(2021, 1, 1),
            crediting_end=date(2040, 12, 31),
            owner_organisation_id=owner.id,
            status="REGISTERED",
            next_serial=1201,
            created_at=T0,
        )
        s.add(project)
        s.flush()
        s.add_all(
            [
                ProjectSubcompartment(
                    project_id=project.id,
                    subcompartment_id="12-03-005",
                    area_ha=12.345678901234567,
                    geometry_geojson='{"type":"Polygon","coordinates":[[[117.1,26.7],[117.2,26.7],[117.2,26.8],[117.1,26.7]]]}',
                ),
                ProjectSubcompartment(
                    project_id=project.id, subcompartment_id="12-03-006", area_ha=0.1
                ),
            ]
        )
        report = MonitoringReport(
            project_id=project.id,
            period_start=date(2021, 1, 1),
            period_end=date(2025, 12, 31),
            measured_tco2e=1200.987654321,
            verified_tco2e=1200,
            provenance={
                "method": "smcer",
                "input_hash": "ab" * 32,
                "版本": "0.1.0",
                "rows": [1, 2.5],
            },
            result=None,
            status="VERIFIED",
            submitted_at=T0,
            verified_at=at(10),
        )
        s.add(report)
        s.flush()
        issuance = IssuanceRequest(
            project_id=project.id,
            monitoring_report_id=report.id,
            quantity=1200,
            buffer_quantity=200,
            state="ISSUED",
            submitted_by=admin.id,
            submitted_at=T0,
            verified_at=at(1),
            approved_at=at(2),
            filed_at=at(3),
            issued_by=admin.id,
            issued_at=at(4),
            idempotency_key="req-1",
        )
        rejected = IssuanceRequest(
            project_id=project.id,
            monitoring_report_id=report.id,
            quantity=5,
            state="REJECTED",
            rejected_from_state="VERIFIED",
            rejection_reason="小班重复申报 / sub-compartment already claimed",
            submitted_at=T0,
            rejected_at=at(5),
        )
        s.add_all([issuance, rejected])
        s.flush()
        s.add_all(
            [
                IssuanceClaim(
                    scheme="SMCER",
                    origin="here",
                    region_code="350421",
                    project_id=project.id,
                    project_ref="000001",
                    subcompartment_id="12-03-005",
                    period_start=date(2021, 1, 1),
                    period_end=date(2025, 12, 31),
                    issuance_reference="SMCER-350421-000001-2021-2025",
                    issuance_request_id=issuance.id,
                    created_at=T0,
                ),
                IssuanceClaim(
                    scheme="VCS",
                    origin="external",
                    region_code="350421",
                    project_ref="VCS-9999",
                    subcompartment_id="12-03-099",
                    period_start=date(2015, 1, 1),
                    period_end=date(2019, 12, 31),
                    issuance_reference="9999-1-100-VCS-VCU",
                    status="cancelled",
                    created_at=T0,
                    cancelled_at=at(7),
                ),
            ]
        )
        ids = dict(issuance_request_id=issuance.id, project_id=project.id)
        live = Block(
            **block_kwargs(serial_start=1, serial_end=700, quantity=700),
            account_id=holding.id,
            **ids,
        )
        buffer_block = Block(
            **block_kwargs(serial_start=1001, serial_end=1200, quantity=200, state="BUFFER"),
            account_id=buffer.id,
            **ids,
        )
        s.add_all([live, buffer_block])
        s.flush()
        pledge = Pledge(
            holder_organisation_id=owner.id,
            bank_organisation_id=bank.id,
            state="active",
            quantity=100,
            loan_amount_fen=12_345_678_901,
            valuation_fen=None,
            contract_number="质-2026-001",
            requested_at=T0,
            activated_at=at(20),
        )
        freeze = Freeze(
            court_organisation_id=court.id,
            holder_organisation_id=owner.id,
            case_number="（2026）闽0428执123号",
            quantity=50,
            frozen_at=at(30),
            expires_on=date(2029, 3, 1),
        )
        s.add_all([pledge, freeze])
        s.flush()
        pledged = Block(
            **block_kwargs(
                serial_start=701, serial_end=800, quantity=100, state="PLEDGED", lock_kind="pledge"
            ),
            lock_ref=pledge.id,
            parent_block_id=live.id,
            account_id=holding.id,
            **ids,
        )
        frozen = Block(
            **block_kwargs(
                serial_start=801, serial_end=850, quantity=50, state="FROZEN", lock_kind="freeze"
            ),
            lock_ref=freeze.id,
            parent_block_id=live.id,
            account_id=holding.id,
            **ids,
        )
        retired = Block(
            **block_kwargs(serial_start=851, serial_end=1000, quantity=150, state="RETIRED"),
            parent_block_id=live.id,
            account_id=holding.id,
            **ids,
        )
        s.add_all([pledged, frozen, retired])
        s.flush()
        s.add_all(
            [
                PledgeBlock(pledge_id=pledge.id, block_id=pledged.id, quantity=100),
                FreezeBlock(freeze_id=freeze.id, block_id=frozen.id, quantity=50),
                Retirement(
                    block_id=retired.id,
                    project_id=project.id,
                    account_id=holding.id,
                    serial="SMCER-350421-000001-2021-2025-000000851-000001000",
                    serial_start=851,
                    serial_end=1000,
                    quantity=150,
                    beneficiary="2026 三明马拉松组委会",
                    purpose="event_neutrality",
                    note="",
                    certificate_number="TH-2026-000001",
                    retired_by=admin.id,
                    retired_at=at(40),
                ),
                IdempotencyKey(
                    actor="clerk", key="k-1", request_hash="c" * 64, response=None, created_at=T0
                ),
                IdempotencyKey(
                    actor="clerk",
                    key="k-2",
                    request_hash="d" * 64,
                    response={"ok": True, "blocks": [1, 2], "说明": "完成"},
                    status_code=201,
                    created_at=T0,
                ),
            ]
        )
        s.add_all(
            chain(
                [
                    {"type": "issued", "quantity": 1200},
                    {"type": "split", "block": 1, "at": 700},
                    {"type": "pledged", "pledge": 1, "备注": "质押"},
                ]
            )
        )
        uow.commit()


def snapshot(url_or_engine: str | Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, in id order, as Python values."""
    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        with engine.connect() as connection:
            return {
                table.name: [
                    dict(row)
                    for row in connection.execute(select(table).order_by(table.c.id)).mappings()
                ]
                for table in TABLES
            }
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()
