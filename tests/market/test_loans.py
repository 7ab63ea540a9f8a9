"""Pledge loans: the LTV cap on the credit line and on each draw, daily re-marking with margin
calls and cures, release on repayment, default → enforcement → auction → proceeds, and the
Guizhou-style statistics of credit lines, disbursements and outstanding loans."""

from __future__ import annotations

import datetime as dt

import pytest
from market_world import at, build_market

from tanhui.errors import ConflictError, PermissionDenied, StateError
from tanhui.market.loans import interest
from tanhui.market.rules import FeeSchedule

FEES = FeeSchedule(300, 500)


@pytest.fixture
def mw(db_engine):
    return build_market(db_engine)


def trade_at(mw, price: int, days: int, quantity: int = 10) -> None:
    """A listed trade at ``price`` on Monday + ``days``, then the close."""
    m, a = mw.market, mw.actors
    m.submit_order(
        a["farm"],
        scheme="SMCER",
        side="sell",
        price_fen=price,
        quantity=quantity,
        now=at(10, days=days),
    )
    m.submit_order(
        a["buyer"],
        scheme="SMCER",
        side="buy",
        price_fen=price,
        quantity=quantity,
        now=at(10, days=days),
    )
    m.close_day(a["exchange"], scheme="SMCER", now=at(15, days=days))


def apply(mw, line: int, *, quantity: int = 1000, **kw):
    return mw.market.loans.apply(
        mw.actors["farm2"],
        bank_organisation_id=mw.org("bank"),
        block_id=mw.blocks["farm2:SMCER"],
        quantity=quantity,
        credit_line_fen=line,
        term_days=kw.pop("term_days", 365),
        now=kw.pop("now", at(16)),
        **kw,
    )


def test_credit_line_and_draws_are_capped_by_ltv(mw):
    m, a = mw.market, mw.actors
    trade_at(mw, 1500, 0)  # the reference price: VWAP 15.00 yuan
    with pytest.raises(ConflictError) as e:
        apply(mw, 1_050_001)  # 1,000 t × 15.00 × 70 % = 10,500.00 yuan
    assert "10,500.00" in e.value.en
    loan = apply(mw, 1_000_000)
    assert loan["state"] == "requested" and loan["reference_price_fen"] == 1500
    assert mw.tonnes("farm2", "RESERVED") == 1000  # offered to the bank
    with pytest.raises(PermissionDenied):
        m.loans.approve(a["bank2"], loan_id=loan["id"], now=at(16))
    with pytest.raises(StateError):
        m.loans.disburse(a["bank"], loan_id=loan["id"], amount_fen=1, now=at(16))
    m.loans.approve(a["bank"], loan_id=loan["id"], now=at(16))
    assert mw.tonnes("farm2", "PLEDGED") == 1000
    m.loans.disburse(a["bank"], loan_id=loan["id"], amount_fen=600_000, now=at(16))
    assert mw.cash("farm2")["available"] == 10_600_000
    assert mw.cash("bank")["available"] == 9_400_000
    with pytest.raises(ConflictError):
        m.loans.disburse(a["bank"], loan_id=loan["id"], amount_fen=400_001, now=at(16))
    # prices fall: a draw within the line may still breach LTV × today's value
    trade_at(mw, 1350, 1)
    m.loans.disburse(a["bank"], loan_id=loan["id"], amount_fen=300_000, now=at(16, days=1))
    with pytest.raises(ConflictError) as e:  # 20-day VWAP 14.25: cap 1,000 × 14.25 × 70 %
        m.loans.disburse(a["bank"], loan_id=loan["id"], amount_fen=100_000, now=at(16, days=1))
    assert "9,975.00" in e.value.en
    assert m.verify() == []


def test_remark_calls_a_margin_a_repayment_cures_it_full_repayment_releases(mw):
    m, a = mw.market, mw.actors
    trade_at(mw, 1500, 0)
    loan = apply(mw, 1_050_000, vwap_days=1)["id"]
    m.loans.approve(a["bank"], loan_id=loan, now=at(16))
    m.loans.disburse(a["bank"], loan_id=loan, amount_fen=1_000_000, now=at(16))
    marks = m.loans.remark(a["exchange"], now=at(17))
    assert marks[0]["state"] == "active" and marks[0]["mark"]["ltv_bp"] == 6666
    for day, price in ((1, 1350), (2, 1215), (3, 1094)):
        trade_at(mw, price, day)
        out = m.loans.remark(a["bank"], now=at(17, days=day))[0]
    # 1,000,000 + interest over 1,094,000 of collateral: above the 85 % threshold
    assert out["state"] == "margin_call" and out["mark"]["ltv_bp"] > 8500
    assert out["margin_call_due"] == "2026-03-12"  # 5 working days after Thursday
    owed = 1_000_000 + interest(1_000_000, 450, 3)
    assert out["interest_fen"] == owed - 1_000_000
    paid = m.loans.repay(a["farm2"], loan_id=loan, amount_fen=200_000, now=at(9, days=4))
    assert paid["state"] == "active" and paid["interest_fen"] == 0  # interest first
    assert paid["principal_fen"] == 1_000_000 - (200_000 - interest(1_000_000, 450, 4))
    assert [x["note"] for x in m.loans.marks(a["farm2"], loan)] == ["", "", "", "margin_call"]
    with pytest.raises(PermissionDenied):
        m.loans.repay(a["farm"], loan_id=loan, now=at(10, days=4))
    done = m.loans.repay(a["farm2"], loan_id=loan, now=at(10, days=4))
    assert done["state"] == "repaid" and done["principal_fen"] == 0
    assert mw.tonnes("farm2", "PLEDGED") == 0 and mw.tonnes("farm2") == 3000
    total_paid = done["repaid_fen"]
    assert mw.cash("bank")["available"] == 10_000_000 - 1_000_000 + total_paid
    assert m.verify() == []


def test_default_enforcement_auction_and_proceeds(mw):
    m, a = mw.market, mw.actors
    trade_at(mw, 1500, 0)
    loan = apply(mw, 600_000, quantity=500, vwap_days=1, term_days=10, ltv_bp=8000)["id"]
    m.loans.approve(a["bank"], loan_id=loan, now=at(16))
    m.loans.disburse(a["bank"], loan_id=loan, amount_fen=600_000, now=at(16))
    trade_at(mw, 1350, 1)
    out = m.loans.remark(a["exchange"], now=at(17, days=1))[0]
    assert out["state"] == "margin_call"  # 600,000 / 675,000 > 85 %
    with pytest.raises(ConflictError):  # not overdue yet
        m.loans.declare_default(a["bank"], loan_id=loan, now=at(9, days=2))
    out = m.loans.remark(a["exchange"], now=at(17, days=9))[0]  # due day (Tue 10th) has passed
    assert out["state"] == "defaulted"
    with pytest.raises(PermissionDenied):
        m.loans.enforce(
            a["bank2"],
            loan_id=loan,
            opens_at=at(10, days=10),
            ends_at=at(11, days=10),
            now=at(9, days=10),
        )
    enforced = m.loans.enforce(
        a["bank"],
        loan_id=loan,
        opens_at=at(10, days=10),
        ends_at=at(11, days=10),
        deposit_fen=10_000,
        now=at(9, days=10),
    )
    auction = enforced["auction"]
    assert enforced["state"] == "enforced"
    assert auction["seller"] == mw.org("bank") and auction["loan_id"] == loan
    assert auction["price_fen"] == 1350 * 9000 // 10_000  # 90 % of the reference price
    assert mw.tonnes("bank", "RESERVED") == 500 and mw.tonnes("farm2") == 2500
    m.qualify(a["buyer2"], auction_id=auction["id"], now=at(9, 30, days=10))
    m.bid(a["buyer2"], auction_id=auction["id"], price_fen=1600, now=at(10, 30, days=10))
    m.tick(a["exchange"], now=at(11, days=10))
    borrower_before = mw.cash("farm2")["available"]
    m.pay(a["buyer2"], auction_id=auction["id"], now=at(14, days=10))
    closed = next(x for x in m.loans.loans(a["bank"]) if x["id"] == loan)
    owed = closed["repaid_fen"]
    net = FEES.settle(1600, 500).seller_receives  # 799,600 fen
    assert closed["state"] == "closed" and closed["shortfall_fen"] == 0
    assert owed == 600_000 + interest(600_000, 450, 10)
    assert mw.cash("farm2")["available"] == borrower_before + net - owed  # the surplus
    assert mw.tonnes("buyer2") == 500
    assert m.verify() == []


def test_a_loan_past_maturity_defaults_and_a_declined_application_frees_the_tonnes(mw):
    m, a = mw.market, mw.actors
    trade_at(mw, 1500, 0)
    loan = apply(mw, 100_000, quantity=100, term_days=3)["id"]
    m.loans.approve(a["bank"], loan_id=loan, now=at(16))
    m.loans.disburse(a["bank"], loan_id=loan, amount_fen=100_000, now=at(16))
    m.loans.declare_default(a["bank"], loan_id=loan, now=at(9, days=4))
    assert m.loans.loans(a["farm2"])[0]["state"] == "defaulted"
    other = apply(mw, 100_000, quantity=100, now=at(10, days=4))["id"]
    m.loans.decline(a["bank"], loan_id=other, now=at(11, days=4))
    assert [x["state"] for x in m.loans.loans(a["farm2"])] == ["closed", "defaulted"]
    assert mw.tonnes("farm2", "RESERVED") == 0 and mw.tonnes("farm2", "PLEDGED") == 100
    assert m.verify() == []


def test_finance_statistics_like_guizhou_reports_them(mw):
    m, a = mw.market, mw.actors
    trade_at(mw, 1500, 0)
    one = apply(mw, 500_000, quantity=1000)["id"]
    two = m.loans.apply(
        a["farm"],
        bank_organisation_id=mw.org("bank2"),
        block_id=mw.blocks["farm:SMCER"],
        quantity=1000,
        credit_line_fen=800_000,
        term_days=180,
        now=at(16),
    )["id"]
    m.loans.approve(a["bank"], loan_id=one, now=at(16))
    m.loans.approve(a["bank2"], loan_id=two, now=at(16))
    m.cash.deposit(a["exchange"], organisation_id=mw.org("bank2"), amount_fen=1_000_000, now=at(16))
    m.loans.disburse(a["bank"], loan_id=one, amount_fen=300_000, now=at(16))
    m.loans.disburse(a["bank2"], loan_id=two, amount_fen=800_000, now=at(16, days=1))
    m.loans.repay(a["farm2"], loan_id=one, amount_fen=100_000, now=at(16, days=1))
    stats = m.loans.statistics(a["forestry"])
    assert stats["total"] == {
        "loans": 2,
        "credit_lines_fen": 1_300_000,
        "disbursed_fen": 1_100_000,
        "outstanding_fen": 1_000_000 + interest(300_000, 450, 1),
        "pledged_t": 2000,
    }
    monday = m.loans.statistics(a["auditor"], start=at(0).date(), end=at(0).date())
    assert monday["total"]["disbursed_fen"] == 300_000
    own = m.loans.statistics(a["bank2"])
    assert [r["bank"] for r in own["by_bank"]] == [mw.org("bank2")]
    with pytest.raises(PermissionDenied):
        m.loans.statistics(a["farm"])
    assert dt.date.fromisoformat(m.loans.loans(a["farm"])[0]["maturity_day"]) == at(
        0
    ).date() + dt.timedelta(days=180)
