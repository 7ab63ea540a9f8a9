"""Delivery versus payment: tonnes and cash in one transaction, or neither.

A failure injected between the cash leg and the tonnes leg (``Settler.between_legs``), or inside
the tonnes leg, must leave everything as it was: cash balances, holds, the registry's blocks and
event log, the reservations, the order book (the engine is rebuilt from its journal) — and the same
order, submitted again, then settles normally. Also the registry hooks settlement needs:
``Ledger.within`` (operations inside the caller's transaction, events appended at its commit) and
``reserve``/``unreserve``.
"""

from __future__ import annotations

import pytest
from market_world import T10, at, build_market
from registry_world import actor
from sqlalchemy import func, select

from tanhui.db.market_tables import MarketDeal, MarketOrder, TonneReservation
from tanhui.db.tables import Block, Event, Pledge
from tanhui.db.uow import UnitOfWork
from tanhui.errors import ConflictError, PermissionDenied, StateError
from tanhui.market.rules import FeeSchedule
from tanhui.registry.ledger import Ledger
from tanhui.registry.permissions import Role


class Boom(RuntimeError):
    pass


def count(engine, model) -> int:
    with UnitOfWork(engine, read_only=True) as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)


def picture(mw) -> dict:
    """Everything a settlement could change."""
    with UnitOfWork(mw.market.engine, read_only=True) as uow:
        s = uow.session
        blocks = sorted(
            tuple(r)
            for r in s.execute(
                select(Block.id, Block.account_id, Block.state, Block.quantity, Block.lock_ref)
            )
        )
        reservations = sorted(
            tuple(r)
            for r in s.execute(
                select(TonneReservation.id, TonneReservation.remaining, TonneReservation.state)
            )
        )
    return {
        "cash": {k: mw.cash(k) for k in ("farm", "buyer", "buyer2")},
        "blocks": blocks,
        "reservations": reservations,
        "events": count(mw.market.engine, Event),
        "deals": count(mw.market.engine, MarketDeal),
        "orders": count(mw.market.engine, MarketOrder),
        "book": mw.market.book("SMCER"),
    }


@pytest.fixture
def mw(db_engine):
    return build_market(db_engine)


def boom(_deal):
    raise Boom("the line to the registry went down")


def holdings(mw) -> dict:
    """Who owns what: each party's cash (available + frozen), the registry's blocks and events."""
    with UnitOfWork(mw.market.engine, read_only=True) as uow:
        blocks = sorted(
            tuple(r)
            for r in uow.session.execute(
                select(Block.id, Block.account_id, Block.state, Block.quantity, Block.lock_ref)
            )
        )
    return {
        "cash": {k: sum(mw.cash(k).values()) for k in ("farm", "buyer", "buyer2")},
        "blocks": blocks,
        "events": count(mw.market.engine, Event),
    }


def pending(mw) -> list[str]:
    with UnitOfWork(mw.market.engine, read_only=True) as uow:
        return list(uow.session.scalars(select(MarketDeal.state).order_by(MarketDeal.id)))


def test_a_failure_between_the_legs_moves_nothing(mw):
    """A listed trade is matched in one transaction and settled in the next: a failed settlement
    leaves it matched and pending — no cash, no tonne moved, both sides still reserved — and the
    next settlement completes it."""
    m, a = mw.market, mw.actors
    m.submit_order(a["farm"], scheme="SMCER", side="sell", price_fen=1500, quantity=100, now=T10)
    before = holdings(mw)
    assert mw.tonnes("farm", "RESERVED") == 100
    m.settler.between_legs = boom
    with pytest.raises(Boom):
        m.submit_order(a["buyer"], scheme="SMCER", side="buy", price_fen=1500, quantity=60, now=T10)
    assert holdings(mw) == before  # nothing moved between the parties
    assert pending(mw) == ["pending"]
    frozen = FeeSchedule(300, 500).buy_reservation(1500, 60)
    assert mw.cash("buyer") == {"available": 10_000_000 - frozen, "frozen": frozen}
    assert mw.tonnes("farm", "RESERVED") == 100 and mw.tonnes("buyer", "balance") == 0
    assert m.book("SMCER")["asks"] == [{"price": 1500, "quantity": 40, "orders": 1}]
    assert m.verify() == []  # consistent: the deal is owed, its cash and tonnes set aside
    # another trade against the same sell while the first is pending
    m.settler.between_legs = None
    done = m.submit_order(
        a["buyer2"], scheme="SMCER", side="buy", price_fen=1500, quantity=40, now=T10
    )
    assert done["status"] == "filled" and mw.tonnes("buyer2") == 40
    assert pending(mw) == ["pending", "settled"]
    assert len(m.settle_pending(a["exchange"], now=at(10, 1))["settled"]) == 1
    assert pending(mw) == ["settled", "settled"]
    assert mw.tonnes("buyer") == 60 and mw.tonnes("farm", "RESERVED") == 0
    assert mw.cash("buyer") == {"available": 10_000_000 - frozen, "frozen": 0}
    assert m.verify() == []


def test_a_failure_inside_the_tonnes_leg_moves_nothing(mw, monkeypatch):
    """A sell order drawing on two blocks: the second registry transfer fails."""
    m, a, ledger = mw.market, mw.actors, mw.ledger
    # split the farm's holding into two blocks so that one order draws on both
    ledger.reserve(a["farm"], block_id=mw.blocks["farm:SMCER"], quantity=30, reference=99)
    ledger.unreserve(a["farm"], block_id=_last_block(mw), reference=99)
    m.submit_order(a["farm"], scheme="SMCER", side="sell", price_fen=1500, quantity=4990, now=T10)
    assert mw.tonnes("farm", "RESERVED") == 4990
    before = holdings(mw)
    real = Ledger.transfer
    calls = []

    def flaky(self, *args, **kwargs):
        calls.append(kwargs["block_id"])
        if len(calls) == 2:
            raise Boom("second piece")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Ledger, "transfer", flaky)
    with pytest.raises(Boom):
        m.submit_order(
            a["buyer"], scheme="SMCER", side="buy", price_fen=1500, quantity=4990, now=T10
        )
    assert len(calls) == 2
    assert holdings(mw) == before and pending(mw) == ["pending"]
    monkeypatch.setattr(Ledger, "transfer", real)
    m.tick(a["exchange"], now=at(10, 5))  # the operator's clock settles what is pending
    assert mw.tonnes("buyer") == 4990 and pending(mw) == ["settled"]
    assert m.verify() == []


def test_an_order_entered_but_never_matched_is_released_after_the_grace(mw, monkeypatch):
    """The process dies between the entry and the match: the order's tonnes stay set aside until
    the operator's clock finds it abandoned, refuses it and releases them."""
    from tanhui.market.journal import Engines

    m, a = mw.market, mw.actors
    real = Engines.checkout

    def dies(self, *args, **kwargs):
        raise Boom("the process died before the match")

    monkeypatch.setattr(Engines, "checkout", dies)
    with pytest.raises(Boom):
        m.submit_order(a["farm"], scheme="SMCER", side="sell", price_fen=1500, quantity=70, now=T10)
    monkeypatch.setattr(Engines, "checkout", real)
    assert mw.tonnes("farm", "RESERVED") == 70
    assert m.orders(a["farm"])[0]["status"] == "new"
    assert m.settle_pending(a["exchange"], now=at(10, 4))["abandoned"] == []  # within the grace
    assert m.tick(a["exchange"], now=at(10, 6)) is not None
    (order,) = m.orders(a["farm"])
    assert (order["status"], order["reason"]) == ("rejected", "abandoned")
    assert mw.tonnes("farm", "RESERVED") == 0 and mw.tonnes("farm") == 5000
    assert m.book("SMCER")["asks"] == []
    assert m.verify() == []


def _last_block(mw) -> int:
    with UnitOfWork(mw.market.engine, read_only=True) as uow:
        return int(uow.session.scalar(select(func.max(Block.id))))


def test_agreement_and_auction_settlements_are_atomic_too(mw):
    m, a = mw.market, mw.actors
    p = m.propose(
        a["farm"],
        scheme="SMCER",
        side="sell",
        counterparty_organisation_id=mw.org("buyer"),
        quantity=200,
        price_fen=1450,
        expires_at=at(14),
        now=T10,
    )
    before = picture(mw)
    m.settler.between_legs = boom
    with pytest.raises(Boom):
        m.accept_proposal(a["buyer"], proposal_id=p["id"], now=at(10, 5))
    assert picture(mw) == before
    assert m.proposals(a["buyer"])[0]["state"] == "open"
    m.settler.between_legs = None
    assert m.accept_proposal(a["buyer"], proposal_id=p["id"], now=at(10, 5))["state"] == "accepted"
    assert mw.tonnes("buyer") == 200

    auction = m.create_auction(
        a["farm"],
        scheme="SMCER",
        quantity=50,
        start_price_fen=1500,
        deposit_fen=5000,
        opens_at=at(10),
        ends_at=at(11),
        now=T10,
    )["id"]
    m.qualify(a["buyer2"], auction_id=auction, now=T10)
    m.bid(a["buyer2"], auction_id=auction, price_fen=1600, now=at(10, 30))
    m.tick(a["exchange"], now=at(11, 1))
    before = picture(mw)
    m.settler.between_legs = boom
    with pytest.raises(Boom):
        m.pay(a["buyer2"], auction_id=auction, now=at(11, 5))
    assert picture(mw) == before
    assert mw.cash("buyer2")["frozen"] == 5000  # the deposit is still held
    m.settler.between_legs = None
    assert m.pay(a["buyer2"], auction_id=auction, now=at(11, 5))["state"] == "settled"
    assert mw.tonnes("buyer2") == 50
    assert m.verify() == []


# ------------------------------------------------------------------- the registry's hooks


def test_within_runs_in_the_callers_transaction_and_appends_events_at_commit(mw):
    ledger, a = mw.ledger, mw.actors
    block = mw.blocks["farm:SMCER"]
    events = count(mw.market.engine, Event)
    with UnitOfWork(mw.market.engine) as uow:
        inside = ledger.within(uow)
        inside.transfer(a["farm"], block_id=block, quantity=5, to_organisation_id=mw.org("buyer"))
        inside.transfer(
            a["farm"], block_id=block, quantity=7, to_account=mw.registry.account("buyer2")
        )
        assert count(mw.market.engine, Event) == events  # nothing committed, nothing appended
        uow.rollback()
    assert mw.tonnes("buyer") == 0 and count(mw.market.engine, Event) == events
    with UnitOfWork(mw.market.engine) as uow:
        inside = ledger.within(uow)
        inside.transfer(
            a["farm"],
            block_id=block,
            quantity=5,
            to_organisation_id=mw.org("buyer"),
            idempotency_key="t-1",
        )
        again = inside.transfer(
            a["farm"],
            block_id=block,
            quantity=5,
            to_organisation_id=mw.org("buyer"),
            idempotency_key="t-1",
        )
        inside.retire(a["farm"], block_id=block, quantity=2, beneficiary="x", purpose="voluntary")
        uow.commit()
    assert again["quantity"] == 5
    assert mw.tonnes("buyer") == 5
    with UnitOfWork(mw.market.engine, read_only=True) as uow:
        last = list(
            uow.session.scalars(select(Event.type).order_by(Event.sequence.desc()).limit(2))
        )
    assert last[::-1] == ["transferred", "retired"]
    assert ledger.verify() == []


def test_reserve_and_unreserve(mw):
    ledger, a = mw.ledger, mw.actors
    exchange = mw.org("exchange")
    market = actor("market", exchange, Role.market_operator)
    block = mw.blocks["farm:SMCER"]
    piece = ledger.reserve(
        a["farm"], block_id=block, quantity=10, reference=7, for_organisation_id=exchange
    )
    assert piece["state"] == "RESERVED" and piece["quantity"] == 10
    assert piece["lock_kind"] == "reservation" and piece["lock_ref"] == 7
    with pytest.raises(PermissionDenied):  # the holder no longer moves it
        ledger.transfer(
            a["farm"], block_id=piece["id"], quantity=1, to_organisation_id=mw.org("buyer")
        )
    with pytest.raises(PermissionDenied):  # nor lifts the exchange's reservation
        ledger.unreserve(a["farm"], block_id=piece["id"])
    with pytest.raises(ConflictError):  # another reservation's reference
        ledger.unreserve(market, block_id=piece["id"], reference=8)
    ledger.transfer(market, block_id=piece["id"], quantity=4, to_organisation_id=mw.org("buyer"))
    back = ledger.unreserve(market, block_id=piece["id"], quantity=2, reference=7)
    assert back["state"] == "ACTIVE" and back["quantity"] == 2
    ledger.unreserve(market, block_id=piece["id"], reference=7)
    with pytest.raises(StateError):
        ledger.unreserve(market, block_id=piece["id"], reference=7)
    assert mw.tonnes("buyer") == 4 and mw.tonnes("farm", "RESERVED") == 0
    # a bank declines a pledge request by lifting its reservation
    pledge = ledger.request_pledge(
        a["farm"], block_id=block, quantity=3, bank_organisation_id=mw.org("bank")
    )
    with pytest.raises(ConflictError):
        ledger.unreserve(a["bank"], block_id=pledge["block"]["id"], quantity=1)
    ledger.unreserve(a["bank"], block_id=pledge["block"]["id"])
    with UnitOfWork(mw.market.engine, read_only=True) as uow:
        assert uow.session.get(Pledge, pledge["pledge_id"]).state == "rejected"
    assert ledger.verify() == []
