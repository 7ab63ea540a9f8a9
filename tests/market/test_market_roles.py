"""The market's actions in the one role × action table, through the services: for each action
and each role, an actor holding only that role, in the organisation that has the right to act, is
refused exactly when ``ALLOWED`` says so — and a refusal changes nothing."""

from __future__ import annotations

import pytest
from market_world import T10, at, build_market
from registry_world import actor
from sqlalchemy import func, select

from tanhui.db.market_tables import CashEntry, MarketOrder
from tanhui.db.uow import UnitOfWork
from tanhui.errors import PermissionDenied
from tanhui.registry.permissions import ALLOWED, Action, Role

A = Action
MARKET_ACTIONS = (
    A.trade,
    A.list_for_sale,
    A.offer_storage,
    A.record_cash,
    A.view_cash,
    A.operate_market,
    A.request_loan,
    A.manage_loans,
    A.view_finance_stats,
)


@pytest.fixture(scope="module")
def mw(tmp_path_factory, sqlite_template_module):
    from tanhui.db import make_engine

    engine = make_engine(sqlite_template_module)
    yield build_market(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def sqlite_template_module(tmp_path_factory):
    from tanhui.db import upgrade

    path = tmp_path_factory.mktemp("market-roles") / "roles.db"
    upgrade(f"sqlite:///{path}")
    return f"sqlite:///{path}"


def changes(mw) -> tuple[int, int]:
    with UnitOfWork(mw.market.engine, read_only=True) as uow:
        return (
            int(uow.session.scalar(select(func.count(MarketOrder.id)))),
            int(uow.session.scalar(select(func.count(CashEntry.id)))),
        )


def call(mw, action: Action, role: Role):
    m = mw.market
    who = lambda key: actor(f"{role}-only", mw.org(key), role)  # noqa: E731
    if action is A.trade:
        return lambda: m.submit_order(
            who("buyer"), scheme="SMCER", side="buy", price_fen=1500, quantity=1, now=T10
        )
    if action is A.list_for_sale:
        return lambda: m.create_listing(
            who("farm"), scheme="SMCER", quantity=1, listing_price_fen=1500, now=T10
        )
    if action is A.offer_storage:
        return lambda: m.storage.create_offer(
            who("storer"), price_fen=900, budget_fen=1, schemes=["SMCER"], now=T10
        )
    if action is A.record_cash:
        return lambda: m.cash.deposit(who("buyer"), amount_fen=1, now=T10)
    if action is A.view_cash:
        return lambda: m.cash.statement(who("buyer"), T10.date())
    if action is A.operate_market:
        return lambda: m.tick(who("exchange"), now=at(9))
    if action is A.request_loan:
        return lambda: m.loans.apply(
            who("farm2"),
            bank_organisation_id=mw.org("bank"),
            block_id=mw.blocks["farm2:SMCER"],
            quantity=1,
            credit_line_fen=100,
            term_days=30,
            now=T10,
        )
    if action is A.manage_loans:
        loan = m.loans.apply(
            mw.actors["farm2"],
            bank_organisation_id=mw.org("bank"),
            block_id=mw.blocks["farm2:SMCER"],
            quantity=1,
            credit_line_fen=100,
            term_days=30,
            now=T10,
        )["id"]
        return lambda: m.loans.approve(who("bank"), loan_id=loan, now=T10)
    if action is A.view_finance_stats:
        return lambda: m.loans.statistics(who("bank"))
    raise AssertionError(action)


@pytest.mark.parametrize("action", MARKET_ACTIONS, ids=str)
def test_market_role_action_matrix(mw, action):
    wrong = []
    for role in Role:
        task = call(mw, action, role)
        before = changes(mw)
        try:
            task()
        except PermissionDenied as exc:
            if action in ALLOWED[role]:
                wrong.append(f"{role}: refused, but ALLOWED permits it ({exc})")
            elif changes(mw) != before:
                wrong.append(f"{role}: refused after changing something")
        except Exception as exc:
            wrong.append(f"{role}: {type(exc).__name__} {exc}")
        else:
            if action not in ALLOWED[role]:
                wrong.append(f"{role}: allowed, but ALLOWED refuses it")
    assert wrong == []
    assert mw.market.verify() == []


def test_parties_act_only_for_their_own_organisation(mw):
    m, a = mw.market, mw.actors
    order = m.submit_order(
        a["buyer"], scheme="SMCER", side="buy", price_fen=1400, quantity=1, now=T10
    )
    with pytest.raises(Exception) as e:
        m.cancel_order(a["buyer2"], order_id=order["id"], now=T10)
    assert "owner" in str(e.value)
    with pytest.raises(PermissionDenied):
        m.cash.statement(a["buyer2"], T10.date(), organisation_id=mw.org("buyer"))
    loan = m.loans.apply(
        a["farm2"],
        bank_organisation_id=mw.org("bank"),
        block_id=mw.blocks["farm2:SMCER"],
        quantity=1,
        credit_line_fen=100,
        term_days=30,
        now=T10,
    )["id"]
    with pytest.raises(PermissionDenied):
        m.loans.approve(a["bank2"], loan_id=loan, now=T10)
    with pytest.raises(PermissionDenied):
        m.loans.marks(a["buyer"], loan)
