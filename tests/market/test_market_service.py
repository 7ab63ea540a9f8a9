"""The market service: listed orders and their reservations, the close, agreements, restarts
from the journal, idempotency — each on SQLite and PostgreSQL, with ``verify()`` clean after."""

from __future__ import annotations

import pytest
from market_world import MONDAY, T10, at, build_market
from sqlalchemy import func, select

from tanhui.db.market_tables import CashHold, MarketOrder, MarketStream
from tanhui.db.tables import Event
from tanhui.db.uow import UnitOfWork
from tanhui.errors import ConflictError, NotFoundError, PermissionDenied
from tanhui.market.errors import Refused
from tanhui.market.rules import FeeSchedule, MarketRules
from tanhui.market.service import Market

FEES = FeeSchedule(300, 500)


@pytest.fixture
def mw(db_engine):
    return build_market(db_engine)


def events(engine) -> int:
    with UnitOfWork(engine, read_only=True) as uow:
        return int(uow.session.scalar(select(func.count(Event.id))))


def test_a_buy_order_freezes_value_plus_fee_and_a_cancel_releases_it(mw):
    m, a = mw.market, mw.actors
    o = m.submit_order(
        a["buyer"], scheme="SMCER", side="buy", price_fen=1490, quantity=100, now=T10
    )
    assert o["status"] == "resting" and o["remaining"] == 100
    frozen = FEES.buy_reservation(1490, 100)
    assert mw.cash("buyer") == {"available": 10_000_000 - frozen, "frozen": frozen}
    assert m.book("SMCER")["bids"] == [{"price": 1490, "quantity": 100, "orders": 1}]
    with pytest.raises(Refused) as e:
        m.cancel_order(a["buyer2"], order_id=o["id"], now=at(10, 1))
    assert e.value.code == "not_owner"
    done = m.cancel_order(a["buyer"], order_id=o["id"], now=at(10, 1))
    assert done["status"] == "cancelled" and done["reason"] == "owner_cancel"
    assert mw.cash("buyer") == {"available": 10_000_000, "frozen": 0}
    assert m.book("SMCER")["bids"] == []
    assert m.verify() == []


def test_fills_settle_at_the_makers_price_and_release_the_price_improvement(mw):
    m, a = mw.market, mw.actors
    m.submit_order(a["farm"], scheme="SMCER", side="sell", price_fen=1500, quantity=30, now=T10)
    m.submit_order(a["farm2"], scheme="SMCER", side="sell", price_fen=1510, quantity=30, now=T10)
    o = m.submit_order(a["buyer"], scheme="SMCER", side="buy", price_fen=1600, quantity=50, now=T10)
    assert o["status"] == "filled"
    assert [(f["price_fen"], f["quantity"]) for f in o["fills"]] == [(1500, 30), (1510, 20)]
    paid = sum(FEES.settle(p, q).buyer_pays for p, q in ((1500, 30), (1510, 20)))
    assert mw.cash("buyer") == {"available": 10_000_000 - paid, "frozen": 0}
    assert mw.cash("farm")["available"] == 10_000_000 + FEES.settle(1500, 30).seller_receives
    assert mw.tonnes("buyer") == 50
    assert mw.tonnes("farm2", "RESERVED") == 10
    assert m.book("SMCER")["asks"] == [{"price": 1510, "quantity": 10, "orders": 1}]
    assert m.verify() == []


def test_refused_orders_reserve_nothing(mw):
    m, a = mw.market, mw.actors
    before = events(m.engine)
    out = m.submit_order(
        a["farm"], scheme="SMCER", side="sell", price_fen=2000, quantity=10, now=T10
    )
    assert (out["status"], out["reason"]) == ("rejected", "outside_band")
    out = m.submit_order(
        a["farm"], scheme="SMCER", side="sell", price_fen=1500, quantity=10, now=at(12)
    )
    assert (out["status"], out["reason"]) == ("rejected", "outside_session")
    out = m.submit_order(
        a["buyer"], scheme="SMCER", side="buy", price_fen=1500, quantity=0, now=T10
    )
    assert (out["status"], out["reason"]) == ("rejected", "bad_quantity")
    assert events(m.engine) == before  # no reservation, no registry event
    assert mw.cash("buyer")["frozen"] == 0
    m.submit_order(a["farm"], scheme="SMCER", side="sell", price_fen=1500, quantity=10, now=T10)
    out = m.submit_order(
        a["farm"], scheme="SMCER", side="buy", price_fen=1500, quantity=10, now=T10
    )
    assert (out["status"], out["reason"]) == ("rejected", "self_trade")
    assert mw.cash("farm")["frozen"] == 0
    with UnitOfWork(m.engine, read_only=True) as uow:
        # (a self-trade is known only in the book: the buy's cash was set aside, then released)
        assert (
            uow.session.scalar(select(func.count(CashHold.id)).where(CashHold.state == "open")) == 0
        )
    assert m.verify() == []


def test_orders_beyond_ones_means_are_refused_and_leave_no_trace(mw):
    m, a = mw.market, mw.actors
    with pytest.raises(ConflictError) as e:
        m.submit_order(
            a["buyer"], scheme="SMCER", side="buy", price_fen=1500, quantity=9000, now=T10
        )
    assert "可用资金不足" in e.value.zh
    with pytest.raises(ConflictError) as e:
        m.submit_order(a["buyer"], scheme="SMCER", side="sell", price_fen=1500, quantity=1, now=T10)
    assert "0 t" in e.value.en
    with pytest.raises(ConflictError):
        m.submit_order(
            a["farm"],
            scheme="SMCER",
            side="sell",
            price_fen=1500,
            quantity=10,
            block_id=mw.blocks["farm2:SMCER"],
            now=T10,
        )
    with pytest.raises(NotFoundError):
        m.submit_order(a["farm"], scheme="GZCT", side="sell", price_fen=1500, quantity=1, now=T10)
    with pytest.raises(PermissionDenied):
        m.submit_order(a["court"], scheme="SMCER", side="buy", price_fen=1500, quantity=1, now=T10)
    with UnitOfWork(m.engine, read_only=True) as uow:
        assert uow.session.scalar(select(func.count(MarketOrder.id))) == 0


def test_the_close_expires_orders_and_sets_the_next_band(mw):
    m, a = mw.market, mw.actors
    m.submit_order(a["farm"], scheme="SMCER", side="sell", price_fen=1600, quantity=100, now=T10)
    m.submit_order(a["buyer"], scheme="SMCER", side="buy", price_fen=1600, quantity=40, now=T10)
    m.submit_order(a["buyer"], scheme="SMCER", side="buy", price_fen=1400, quantity=10, now=T10)
    assert m.tick(a["exchange"], now=at(14, 59))["books"] == []
    done = m.tick(a["exchange"], now=at(15, 0))
    assert done["books"][0]["close_fen"] == 1600 and done["books"][0]["volume"] == 40
    assert mw.tonnes("farm", "RESERVED") == 0 and mw.tonnes("farm") == 5000 - 40
    assert mw.cash("buyer")["frozen"] == 0
    statuses = sorted(o["status"] for o in m.orders(a["buyer"]))
    assert statuses == ["expired", "filled"]
    book = m.book("SMCER")
    assert (book["open"], book["previous_close_fen"], book["band_fen"]) == (
        False,
        1600,
        [1440, 1760],
    )
    out = m.submit_order(
        a["buyer"], scheme="SMCER", side="buy", price_fen=1600, quantity=1, now=at(15, 30)
    )
    assert out["reason"] in ("outside_session", "market_closed")
    # the next trading day runs on a fresh journal stream
    tuesday = at(10, days=1)
    out = m.submit_order(
        a["farm"], scheme="SMCER", side="sell", price_fen=1750, quantity=5, now=tuesday
    )
    assert out["status"] == "resting"
    with UnitOfWork(m.engine, read_only=True) as uow:
        assert (
            uow.session.scalar(
                select(func.count(MarketStream.id)).where(MarketStream.kind == "book")
            )
            == 2
        )
    assert m.stats.closes("SMCER")[0]["close_fen"] == 1600
    assert m.verify() == []


def test_a_restart_rebuilds_the_books_from_their_journals(mw):
    m, a = mw.market, mw.actors
    m.submit_order(a["farm"], scheme="SMCER", side="sell", price_fen=1500, quantity=100, now=T10)
    m.submit_order(a["farm2"], scheme="SMCER", side="sell", price_fen=1520, quantity=50, now=T10)
    m.submit_order(a["buyer"], scheme="SMCER", side="buy", price_fen=1500, quantity=30, now=T10)
    m.submit_order(a["buyer2"], scheme="SMCER", side="buy", price_fen=1480, quantity=20, now=T10)
    before = m.book("SMCER")
    fresh = Market(m.engine, ledger=mw.ledger, operator_organisation_id=mw.org("exchange"))
    assert fresh.book("SMCER") == before
    # both instances keep working on the same journal (as two processes would)
    fresh.submit_order(
        a["buyer"], scheme="SMCER", side="buy", price_fen=1520, quantity=100, now=at(10, 1)
    )
    assert m.book("SMCER") == fresh.book("SMCER")
    assert m.book("SMCER")["asks"] == [{"price": 1520, "quantity": 20, "orders": 1}]
    m.submit_order(
        a["buyer2"], scheme="SMCER", side="buy", price_fen=1520, quantity=20, now=at(10, 2)
    )
    assert fresh.book("SMCER")["asks"] == []
    assert fresh.verify() == []


def test_idempotency_keys_give_one_order(mw):
    m, a = mw.market, mw.actors
    first = m.submit_order(
        a["buyer"],
        scheme="SMCER",
        side="buy",
        price_fen=1500,
        quantity=10,
        now=T10,
        idempotency_key="ord-1",
    )
    again = m.submit_order(
        a["buyer"],
        scheme="SMCER",
        side="buy",
        price_fen=1500,
        quantity=10,
        now=T10,
        idempotency_key="ord-1",
    )
    assert first == again
    assert len(m.orders(a["buyer"])) == 1
    with pytest.raises(ConflictError):
        m.submit_order(
            a["buyer"],
            scheme="SMCER",
            side="buy",
            price_fen=1501,
            quantity=10,
            now=T10,
            idempotency_key="ord-1",
        )
    # the key is the actor's: another party may use the same text
    m.submit_order(
        a["buyer2"],
        scheme="SMCER",
        side="buy",
        price_fen=1500,
        quantity=10,
        now=T10,
        idempotency_key="ord-1",
    )


# ------------------------------------------------------------------------------ agreements


def test_agreement_proposals_reserve_settle_and_release(mw):
    m, a = mw.market, mw.actors
    p = m.propose(
        a["buyer"],
        scheme="SMCER",
        side="buy",
        counterparty_organisation_id=mw.org("farm"),
        quantity=300,
        price_fen=1550,
        expires_at=at(14),
        now=T10,
    )
    assert p["state"] == "open" and p["block"] is False
    frozen = FEES.buy_reservation(1550, 300)
    assert mw.cash("buyer")["frozen"] == frozen
    with pytest.raises(Refused) as e:
        m.accept_proposal(a["buyer2"], proposal_id=p["id"], now=at(10, 1))
    assert e.value.code == "not_counterparty"
    done = m.accept_proposal(a["farm"], proposal_id=p["id"], now=at(10, 1))
    assert done["state"] == "accepted"
    assert mw.tonnes("buyer") == 300 and mw.cash("buyer") == {
        "available": 10_000_000 - frozen,
        "frozen": 0,
    }
    assert m.deals(organisation_id=mw.org("buyer"))[0]["channel"] == "agreement"
    # declined, withdrawn, expired: the proposer's side comes back
    q1 = m.propose(
        a["farm"],
        scheme="SMCER",
        side="sell",
        counterparty_organisation_id=mw.org("buyer2"),
        quantity=100,
        price_fen=1500,
        expires_at=at(14),
        now=T10,
    )
    q2 = m.propose(
        a["farm"],
        scheme="SMCER",
        side="sell",
        counterparty_organisation_id=mw.org("buyer2"),
        quantity=100,
        price_fen=1500,
        expires_at=at(14),
        now=T10,
    )
    q3 = m.propose(
        a["farm"],
        scheme="SMCER",
        side="sell",
        counterparty_organisation_id=mw.org("buyer2"),
        quantity=100,
        price_fen=1500,
        expires_at=at(11),
        now=T10,
    )
    assert mw.tonnes("farm", "RESERVED") == 300
    assert (
        m.decline_proposal(a["buyer2"], proposal_id=q1["id"], now=at(10, 2))["state"] == "declined"
    )
    with pytest.raises(Refused):
        m.withdraw_proposal(a["buyer2"], proposal_id=q2["id"], now=at(10, 2))
    assert (
        m.withdraw_proposal(a["farm"], proposal_id=q2["id"], now=at(10, 2))["state"] == "withdrawn"
    )
    assert m.tick(a["exchange"], now=at(11))["desks"] == [q3["id"]]
    assert mw.tonnes("farm", "RESERVED") == 0
    with pytest.raises(Refused) as e:
        m.accept_proposal(a["buyer2"], proposal_id=q3["id"], now=at(11, 1))
    assert e.value.code == "proposal_closed"
    with pytest.raises(Refused) as e:
        m.propose(
            a["farm"],
            scheme="SMCER",
            side="sell",
            counterparty_organisation_id=mw.org("buyer2"),
            quantity=100,
            price_fen=1800,
            expires_at=at(14),
            now=T10,
        )
    assert e.value.code == "outside_band"
    assert m.verify() == []


def test_a_block_agreement_uses_the_wider_band_and_the_afternoon(db_engine):
    mw = build_market(db_engine, rules=MarketRules(block_min_t=1000))
    m, a = mw.market, mw.actors
    with pytest.raises(Refused) as e:
        m.propose(
            a["farm"],
            scheme="SMCER",
            side="sell",
            counterparty_organisation_id=mw.org("buyer"),
            quantity=2000,
            price_fen=1150,
            expires_at=at(15),
            now=T10,
        )
    assert e.value.code == "outside_session"  # 13:00–15:00 only
    p = m.propose(
        a["farm"],
        scheme="SMCER",
        side="sell",
        counterparty_organisation_id=mw.org("buyer"),
        quantity=2000,
        price_fen=1100,
        expires_at=at(15),
        now=at(13, 30),
    )
    assert p["block"] is True  # -26.7 %: inside ±30 %, outside ±10 %
    assert m.accept_proposal(a["buyer"], proposal_id=p["id"], now=at(13, 40))["state"] == "accepted"
    assert m.deals()[0]["channel"] == "block"
    assert mw.tonnes("buyer") == 2000
    assert m.verify() == []


def test_the_desk_follows_the_books_close(mw):
    m, a = mw.market, mw.actors
    m.submit_order(a["farm"], scheme="SMCER", side="sell", price_fen=1650, quantity=10, now=T10)
    m.submit_order(a["buyer"], scheme="SMCER", side="buy", price_fen=1650, quantity=10, now=T10)
    m.close_day(a["exchange"], scheme="SMCER", now=at(15))
    tuesday = at(10, days=1)
    # 1800 is outside 1500 ± 10 % but inside 1650 ± 10 %
    p = m.propose(
        a["farm"],
        scheme="SMCER",
        side="sell",
        counterparty_organisation_id=mw.org("buyer"),
        quantity=10,
        price_fen=1800,
        expires_at=at(14, days=1),
        now=tuesday,
    )
    assert p["state"] == "open"
    assert m.cash.statement(a["buyer"], MONDAY)["buys_fen"] == 16_500
