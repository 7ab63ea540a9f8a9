"""Cash accounts in fen: recorded deposits and withdrawals, holds, the double-entry journal,
daily statements, who may do what, idempotency — on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from market_world import MONDAY, T10, at, build_market
from registry_world import actor

from tanhui.errors import ConflictError, InputError, PermissionDenied
from tanhui.registry.permissions import Role


@pytest.fixture
def mw(db_engine):
    return build_market(db_engine, deposit=1_000_000)


def test_deposits_and_withdrawals_move_against_the_external_account(mw):
    m, a = mw.market, mw.actors
    assert mw.total_cash() == 0  # the external account holds minus everything inside
    m.cash.deposit(a["buyer"], amount_fen=250_050, reference="BANK-SLIP-1", now=T10)
    assert mw.cash("buyer") == {"available": 1_250_050, "frozen": 0}
    m.cash.withdraw(a["buyer"], amount_fen=50, now=T10)
    assert mw.cash("buyer") == {"available": 1_250_000, "frozen": 0}
    with pytest.raises(ConflictError) as e:
        m.cash.withdraw(a["buyer"], amount_fen=1_250_001, now=T10)
    assert "12,500.00" in e.value.zh and "available" in e.value.en
    assert mw.cash("buyer")["available"] == 1_250_000  # nothing changed
    assert mw.total_cash() == 0
    assert m.cash.check() == []
    lines = m.cash.journal(a["buyer"])
    assert [(x["kind"], x["amount_fen"]) for x in lines[:2]] == [
        ("withdrawal", -50),
        ("deposit", 250_050),
    ]


@pytest.mark.parametrize("amount", [0, -1, 1.5, "100"])
def test_amounts_are_positive_whole_fen(mw, amount):
    with pytest.raises(InputError):
        mw.market.cash.deposit(mw.actors["buyer"], amount_fen=amount)


def test_only_the_operator_records_for_others_and_auditors_read(mw):
    m, a = mw.market, mw.actors
    with pytest.raises(PermissionDenied):
        m.cash.deposit(a["buyer"], organisation_id=mw.org("farm"), amount_fen=1)
    with pytest.raises(PermissionDenied):
        m.cash.balance(a["buyer"], mw.org("farm"))
    with pytest.raises(PermissionDenied):  # a court has no cash business here
        m.cash.deposit(a["court"], amount_fen=1)
    m.cash.deposit(a["exchange"], organisation_id=mw.org("farm"), amount_fen=1, now=T10)
    assert m.cash.balance(a["auditor"], mw.org("farm"))["available_fen"] == 1_000_001
    with pytest.raises(PermissionDenied):  # auditors read, never record
        m.cash.deposit(a["auditor"], organisation_id=mw.org("farm"), amount_fen=1)
    bank_clerk = actor("clerk", mw.org("bank"), Role.bank)
    m.cash.withdraw(bank_clerk, amount_fen=1, now=T10)


def test_a_repeated_idempotency_key_records_once(mw):
    m, a = mw.market, mw.actors
    first = m.cash.deposit(a["buyer"], amount_fen=7, idempotency_key="slip-9", now=T10)
    again = m.cash.deposit(a["buyer"], amount_fen=7, idempotency_key="slip-9", now=T10)
    assert first == again
    assert mw.cash("buyer")["available"] == 1_000_007
    with pytest.raises(ConflictError):
        m.cash.deposit(a["buyer"], amount_fen=8, idempotency_key="slip-9", now=T10)


def test_daily_statement_adds_up(mw):
    m, a = mw.market, mw.actors
    # Monday: a sale and a purchase; Tuesday: a withdrawal
    m.submit_order(a["farm"], scheme="SMCER", side="sell", price_fen=1500, quantity=100, now=T10)
    m.submit_order(a["buyer"], scheme="SMCER", side="buy", price_fen=1500, quantity=40, now=T10)
    m.submit_order(a["farm"], scheme="SMCER", side="buy", price_fen=1400, quantity=10, now=T10)
    m.cash.withdraw(a["farm"], amount_fen=1000, now=at(10, days=1))
    monday = m.cash.statement(a["farm"], MONDAY)
    assert monday["opening_fen"] == 0 and monday["deposits_fen"] == 1_000_000
    assert monday["sells_fen"] == 60_000 and monday["buys_fen"] == 0
    assert monday["fees_fen"] == 60_000 * 500 // 1_000_000
    assert monday["closing_fen"] == 1_000_000 + 60_000 - 30
    # the resting buy order's money is frozen, still the farm's: the statement counts totals
    assert mw.cash("farm") == {"available": monday["closing_fen"] - 1000 - 14_004, "frozen": 14_004}
    tuesday = m.cash.statement(a["farm"], at(10, days=1).date())
    assert tuesday["opening_fen"] == monday["closing_fen"]
    assert tuesday["withdrawals_fen"] == 1000
    assert tuesday["closing_fen"] == monday["closing_fen"] - 1000
    buyer = m.cash.statement(a["buyer"], MONDAY)
    assert buyer["buys_fen"] == 60_000 and buyer["fees_fen"] == 18
    exchange = m.cash.statement(a["exchange"], MONDAY)
    assert exchange["fees_fen"] == -(30 + 18)  # fees received
    assert m.cash.check() == []
    assert mw.total_cash() == 0
