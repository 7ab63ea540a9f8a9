"""A small registry with a row in every table, and a snapshot of a database's contents."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from tanhui.db import UnitOfWork, make_engine
from tanhui.db.market_tables import (
    CashAccount,
    CashEntry,
    CashHold,
    Loan,
    LoanMark,
    MarketAuction,
    MarketBid,
    MarketBidder,
    MarketBook,
    MarketClose,
    MarketCommand,
    MarketDeal,
    MarketDelivery,
    MarketOrder,
    MarketProposal,
    MarketStream,
    StorageOffer,
    TonneReservation,
)
from tanhui.db.tables import (
    GENESIS_HASH,
    TABLES,
    Account,
    ApiKey,
    Authorization,
    Block,
    DevDocument,
    DevPayout,
    DevPayoutLine,
    DevProject,
    DevProjectSubcompartment,
    DevStageChange,
    Event,
    Freeze,
    FreezeBlock,
    IdempotencyKey,
    IssuanceClaim,
    IssuanceRequest,
    LossEvent,
    MonitoringReport,
    Organisation,
    Parcel,
    Pledge,
    PledgeBlock,
    Project,
    ProjectSubcompartment,
    Retirement,
    RightsHolder,
    SharingRuleRow,
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
        populate_develop(s, owner=owner, admin=admin, project=project)
        populate_market(
            s, exchange=bureau, seller=owner, bank=bank, project=project, block=live, pledge=pledge
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


def populate_develop(s: Any, *, owner: Organisation, admin: User, project: Project) -> None:
    """The development tables: a library project with its history, a document, pooled holders
    with parcels and an authorization, a sharing rule, a payout and a loss event."""
    dev = DevProject(
        name="常口村碳汇资源统筹项目",
        scheme="SMCER",
        methodology="smcer",
        region_code="350421",
        county="将乐县",
        owner_organisation_id=owner.id,
        stage="registered",
        crediting_start=date(2021, 1, 1),
        crediting_end=date(2040, 12, 31),
        registry_project_id=project.id,
        notes="储备项目 / reserve",
        created_by=admin.id,
        created_at=T0,
        updated_at=at(50),
    )
    household = RightsHolder(
        kind="household",
        name="张三",
        id_number="35042119800101001X",
        village="常口村",
        region_code="350421",
        pooled_by_organisation_id=owner.id,
        created_at=T0,
    )
    collective = RightsHolder(kind="collective", name="常口村村民委员会", created_at=T0)
    s.add_all([dev, household, collective])
    s.flush()
    parcel = Parcel(
        holder_id=household.id,
        region_code="350421",
        subcompartment_id="12-03-005",
        area_ha=2.345,
        tenure_certificate="闽(2019)将乐县不动产权第0001号",
        created_at=T0,
    )
    s.add_all(
        [
            parcel,
            DevProjectSubcompartment(
                dev_project_id=dev.id, subcompartment_id="12-03-005", area_ha=12.345678901234567
            ),
            DevStageChange(
                dev_project_id=dev.id, to_stage="candidate", actor="admin#1", changed_at=T0
            ),
            DevStageChange(
                dev_project_id=dev.id,
                from_stage="validation",
                to_stage="registered",
                note="登记完成",
                actor="admin#1",
                user_id=admin.id,
                changed_at=at(45),
            ),
            SharingRuleRow(
                dev_project_id=dev.id,
                method="fixed_split",
                holders_bp=6000,
                collective_bp=2500,
                developer_bp=1500,
                actor="admin#1",
                updated_at=T0,
            ),
        ]
    )
    s.flush()
    consent = Authorization(
        holder_id=household.id,
        dev_project_id=dev.id,
        parcel_id=parcel.id,
        signatory="张三",
        signed_on=date(2020, 12, 1),
        valid_from=date(2021, 1, 1),
        expires_on=date(2040, 12, 31),
        share_bp=3333,
        revoked_on=None,
        note="",
        actor="admin#1",
        recorded_by=admin.id,
        created_at=T0,
    )
    payout = DevPayout(
        dev_project_id=dev.id,
        sold_on=date(2026, 2, 1),
        revenue_fen=1_000_001,
        tonnes=100,
        reference="HT-2026-001",
        method="by_area",
        rule={"method": "by_area", "holders_bp": 10000},
        actor="admin#1",
        created_at=T0,
    )
    s.add_all([consent, payout])
    s.flush()
    s.add_all(
        [
            DevDocument(
                dev_project_id=dev.id,
                authorization_id=consent.id,
                kind="authorization",
                filename="授权书.pdf",
                media_type="application/pdf",
                size_bytes=9,
                sha256=hashlib.sha256(b"%PDF-1.7\n").hexdigest(),
                content_base64="JVBERi0xLjcK",
                actor="admin#1",
                uploaded_at=T0,
            ),
            DevPayoutLine(
                payout_id=payout.id,
                pool="holders",
                holder_id=household.id,
                weight="469/200",
                amount_fen=1_000_001,
            ),
            DevPayoutLine(
                payout_id=payout.id,
                pool="developer",
                organisation_id=owner.id,
                weight="0",
                amount_fen=0,
            ),
            LossEvent(
                dev_project_id=dev.id,
                subcompartment_id="12-03-005",
                hazard="fire",
                occurred_on=date(2025, 3, 9),
                area_ha=1.5,
                share_lost=0.12150000000000001,
                tonnes_lost=None,
                actor="admin#1",
                recorded_at=at(60),
                reversed_quantity=12,
                reversed_at=at(61),
                reversal={"cancelled": {"buffer": 12, "owner": 0}, "说明": "火灾"},
            ),
        ]
    )


def populate_market(
    s: Any,
    *,
    exchange: Organisation,
    seller: Organisation,
    bank: Organisation,
    project: Project,
    block: Block,
    pledge: Pledge,
) -> None:
    """The market tables: cash accounts, a hold and journal lines, a book with its streams and
    journal, a close, a reservation, orders, a deal and its delivery, a proposal, an auction with a
    bidder and a bid, a 收储 offer, a loan and its mark."""
    external = CashAccount(
        organisation_id=None, kind="external", available_fen=-3_000_000, created_at=T0
    )
    fees = CashAccount(
        organisation_id=exchange.id, kind="exchange", available_fen=45, created_at=T0
    )
    buyer = CashAccount(
        organisation_id=bank.id, available_fen=2_909_955, frozen_fen=0, created_at=T0
    )
    farm = CashAccount(
        organisation_id=seller.id, available_fen=40_000, frozen_fen=50_000, created_at=T0
    )
    s.add_all([external, fees, buyer, farm])
    s.flush()
    hold = CashHold(
        account_id=farm.id,
        purpose="order",
        reference="order:2",
        amount_fen=50_000,
        remaining_fen=50_000,
        created_at=T0,
    )
    book_stream = MarketStream(
        kind="book", config={"previous_close": 1500}, last_seq=2, created_at=T0
    )
    desk_stream = MarketStream(
        kind="desk", config={"previous_close": 1500}, last_seq=0, created_at=T0
    )
    auction_stream = MarketStream(
        kind="ascending",
        config={"auction_id": 1, "countdown": 300.0, "说明": "拍卖"},
        created_at=T0,
    )
    s.add_all([hold, book_stream, desk_stream, auction_stream])
    s.flush()
    book = MarketBook(
        scheme="SMCER",
        stream_id=book_stream.id,
        desk_stream_id=desk_stream.id,
        initial_close_fen=1500,
        buyer_fee_ppm=300,
        seller_fee_ppm=500,
        created_at=T0,
    )
    reservation = TonneReservation(
        organisation_id=seller.id,
        scheme="SMCER",
        quantity=100,
        remaining=40,
        reference="order:1",
        created_at=T0,
    )
    loan = Loan(
        bank_organisation_id=bank.id,
        borrower_organisation_id=seller.id,
        pledge_id=pledge.id,
        scheme="SMCER",
        region_code="350421",
        quantity=100,
        reference_price_fen=1500,
        vwap_days=20,
        ltv_bp=7000,
        margin_call_bp=8500,
        rate_bp=450,
        credit_line_fen=100_000,
        disbursed_fen=80_000,
        principal_fen=60_000,
        interest_fen=123,
        interest_remainder=1_234_567,
        repaid_fen=20_000,
        start_day=date(2026, 3, 2),
        maturity_day=date(2027, 3, 2),
        accrued_to=date(2026, 3, 9),
        state="active",
        created_at=T0,
        updated_at=at(1),
    )
    s.add_all([book, reservation, loan])
    s.flush()
    s.add_all(
        [
            MarketCommand(
                stream_id=book_stream.id,
                seq=1,
                command={"c": "CloseDay", "now": "2026-03-02T15:00:00+08:00"},
                created_at=T0,
            ),
            MarketCommand(
                stream_id=book_stream.id,
                seq=2,
                command={"c": "Tick", "now": "2026-03-03T09:30:00+08:00"},
                created_at=T0,
            ),
            MarketClose(
                book_id=book.id,
                day=date(2026, 3, 2),
                close_fen=1500,
                previous_close_fen=1490,
                volume=60,
                value_fen=90_000,
                closed_at=at(2),
            ),
            CashEntry(
                debit_account_id=external.id,
                credit_account_id=buyer.id,
                amount_fen=3_000_000,
                kind="deposit",
                reference="入金单 1",
                business_day=date(2026, 3, 2),
                actor="clerk",
                created_at=T0,
            ),
            CashEntry(
                debit_account_id=buyer.id,
                credit_account_id=farm.id,
                amount_fen=90_000,
                kind="trade",
                reference="deal:1",
                business_day=date(2026, 3, 2),
                created_at=at(1),
            ),
        ]
    )
    sell = MarketOrder(
        book_id=book.id,
        organisation_id=seller.id,
        side="sell",
        price_fen=1500,
        quantity=100,
        filled=60,
        status="resting",
        reservation_id=reservation.id,
        actor="farm#1",
        created_at=T0,
        updated_at=at(1),
    )
    buy = MarketOrder(
        book_id=book.id,
        organisation_id=bank.id,
        side="buy",
        price_fen=1510,
        quantity=60,
        filled=60,
        status="filled",
        reason=None,
        cash_hold_id=hold.id,
        created_at=at(1),
        updated_at=at(1),
    )
    auction = MarketAuction(
        kind="ascending",
        scheme="SMCER",
        seller_organisation_id=seller.id,
        stream_id=auction_stream.id,
        quantity=10,
        price_fen=1600,
        deposit_fen=1000,
        opens_at=at(10),
        ends_at=at(70),
        state="awarded",
        loan_id=loan.id,
        created_at=T0,
        updated_at=at(70),
    )
    offer = StorageOffer(
        storer_organisation_id=bank.id,
        price_fen=1000,
        budget_fen=50_000,
        spent_fen=0,
        schemes="GZCT,SMCER",
        created_at=T0,
    )
    s.add_all([sell, buy, auction, offer])
    s.flush()
    deal = MarketDeal(
        channel="listed",
        scheme="SMCER",
        source="order:2/1",
        buyer_organisation_id=bank.id,
        seller_organisation_id=seller.id,
        price_fen=1500,
        quantity=60,
        value_fen=90_000,
        buyer_fee_fen=27,
        seller_fee_fen=45,
        buy_order_id=buy.id,
        sell_order_id=sell.id,
        buyer_hold_id=hold.id,
        seller_reservation_id=reservation.id,
        state="settled",
        trade_day=date(2026, 3, 2),
        traded_at=at(1),
        settled_at=at(2),
    )
    s.add_all(
        [
            deal,
            MarketProposal(
                book_id=book.id,
                proposer_organisation_id=seller.id,
                seller_organisation_id=seller.id,
                buyer_organisation_id=bank.id,
                quantity=100_000,
                price_fen=1450,
                block=True,
                state="open",
                expires_at=at(600),
                created_at=T0,
                updated_at=T0,
            ),
            MarketBidder(
                auction_id=auction.id,
                organisation_id=bank.id,
                status="won",
                won_quantity=10,
                won_price_fen=1700,
                won_value_fen=17_000,
                payment_due=date(2026, 3, 5),
                created_at=at(11),
                updated_at=at(70),
            ),
            MarketBid(
                auction_id=auction.id,
                organisation_id=bank.id,
                price_fen=1700,
                quantity=10,
                created_at=at(12),
            ),
            LoanMark(
                loan_id=loan.id,
                day=date(2026, 3, 9),
                reference_price_fen=1480,
                collateral_fen=148_000,
                outstanding_fen=60_123,
                ltv_bp=4062,
                margin_call=False,
                note="",
                marked_at=at(3),
            ),
        ]
    )
    s.flush()
    s.add(
        MarketDelivery(
            deal_id=deal.id,
            block_id=block.id,
            project_id=project.id,
            region_code="350421",
            quantity=60,
        )
    )


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
