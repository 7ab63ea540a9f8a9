"""Cash accounts in fen: deposits and withdrawals, holds, the double-entry journal, statements.

Every participant (organisation) has one ``participant`` account, opened on first use, with an
``available`` and a ``frozen`` balance (CHECK: never negative). Money is frozen in a
:class:`~tanhui.db.market_tables.CashHold` for a purpose — a buy order's value plus fee
(:meth:`~tanhui.market.rules.FeeSchedule.buy_reservation`), a proposal, an auction deposit, a 收储
budget — and either spent from the hold or released back to ``available``.

Every movement of money between accounts is one line of the journal
(:class:`~tanhui.db.market_tables.CashEntry`): ``amount`` leaves the *debit* account and enters
the *credit* account. There is no real bank: a deposit or withdrawal is *recorded* (by the
participant or the market operator) against the ``external`` account, which stands for the banks
outside and whose balance is minus all the money inside. So at every moment

* the sum of ``available + frozen`` over every account (external included) is zero, and
* each account's ``available + frozen`` equals its credits minus its debits in the journal, and
* each account's ``frozen`` equals the ``remaining`` of its open holds.

:meth:`CashService.check` verifies the three. The exchange's own ``exchange`` account receives the
fees (and forfeited deposits when so configured).

A daily statement (:meth:`CashService.statement`) reads the journal of one business day (Beijing
date): opening, deposits, withdrawals, buys, sells, fees, other in/out, closing — with
``closing = opening + deposits − withdrawals − buys + sells − fees + other_in − other_out``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, case, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tanhui.db.market_tables import (
    ACCOUNTS,
    HOLDS,
    JOURNAL,
    CashAccount,
    CashEntry,
    CashHold,
)
from tanhui.db.tables import Organisation
from tanhui.db.uow import UnitOfWork
from tanhui.errors import ConflictError, InputError, NotFoundError, PermissionDenied
from tanhui.market.context import ActorLike, Tx, run
from tanhui.market.journal import beijing
from tanhui.registry.permissions import Action, Role, require

if TYPE_CHECKING:
    from tanhui.market.service import Market


def yuan(fen: int) -> str:
    """``12345`` → ``"123.45"`` (for messages)."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100:,}.{fen % 100:02d}"


def insufficient(what_zh: str, what_en: str, need: int, have: int) -> ConflictError:
    return ConflictError(
        f"可用资金不足：{what_zh}需要 {yuan(need)} 元，可用 {yuan(have)} 元。",
        f"Not enough available cash: {what_en} needs {yuan(need)} yuan, {yuan(have)} available.",
        hint_zh="请先入金，或撤销占用资金的委托后重试。",
        hint_en="Record a deposit first, or cancel orders that hold cash, and try again.",
    )


# ------------------------------------------------------------------------------- primitives


def open_account(tx: Tx, organisation_id: int) -> int:
    """The organisation's participant cash account (opened on first use)."""
    known = tx.market.known_account(organisation_id) or tx.new_accounts.get(organisation_id)
    if known is not None:
        return known
    session = tx.session
    found = session.scalar(
        select(ACCOUNTS.c.id).where(
            ACCOUNTS.c.organisation_id == organisation_id, ACCOUNTS.c.kind == "participant"
        )
    )
    if found is None:
        if session.get(Organisation, organisation_id) is None:
            raise NotFoundError(
                f"找不到机构 {organisation_id}。",
                f"No organisation {organisation_id}.",
                kind="organisation",
                key=organisation_id,
            )
        maker = pg_insert if tx.dialect == "postgresql" else sqlite_insert
        session.execute(
            maker(CashAccount)
            .values(
                organisation_id=organisation_id,
                kind="participant",
                available_fen=0,
                frozen_fen=0,
                created_at=tx.now,
            )
            .on_conflict_do_nothing()
        )
        found = session.scalar(
            select(ACCOUNTS.c.id).where(
                ACCOUNTS.c.organisation_id == organisation_id, ACCOUNTS.c.kind == "participant"
            )
        )
        tx.new_accounts[organisation_id] = int(found)
        return int(found)
    tx.market.remember_accounts({organisation_id: int(found)})
    return int(found)


def available(tx: Tx, account_id: int) -> int:
    if account_id in tx.credits:
        flush(tx, only=account_id)
    return int(
        tx.session.scalar(select(ACCOUNTS.c.available_fen).where(ACCOUNTS.c.id == account_id)) or 0
    )


def freeze(
    tx: Tx, account_id: int, amount: int, purpose: str, reference: str, *, what: tuple[str, str]
) -> int:
    """Move ``amount`` from available to frozen under a new hold; returns the hold's id."""
    if amount < 0:
        raise ValueError("a hold cannot be negative")
    if account_id in tx.credits:
        flush(tx, only=account_id)
    if amount:
        done = tx.session.execute(
            update(ACCOUNTS)
            .where(ACCOUNTS.c.id == account_id, ACCOUNTS.c.available_fen >= amount)
            .values(
                available_fen=ACCOUNTS.c.available_fen - amount,
                frozen_fen=ACCOUNTS.c.frozen_fen + amount,
            )
        )
        if done.rowcount != 1:
            raise insufficient(what[0], what[1], amount, available(tx, account_id))
    return int(
        tx.session.execute(
            insert(HOLDS)
            .values(
                account_id=account_id,
                purpose=purpose,
                reference=reference,
                amount_fen=amount,
                remaining_fen=amount,
                state="open",
                created_at=tx.now,
            )
            .returning(HOLDS.c.id)
        ).scalar_one()
    )


def _hold(tx: Tx, hold_id: int) -> Any:
    return tx.session.execute(
        select(HOLDS.c.account_id, HOLDS.c.remaining_fen, HOLDS.c.state).where(
            HOLDS.c.id == hold_id
        )
    ).one()


def release(tx: Tx, hold_id: int) -> int:
    """Close a hold: what is left of it goes back to available. Returns that amount."""
    hold = _hold(tx, hold_id)
    if hold.state != "open":
        return 0
    left = int(hold.remaining_fen)
    tx.session.execute(
        update(HOLDS)
        .where(HOLDS.c.id == hold_id)
        .values(remaining_fen=0, state="closed", closed_at=tx.now)
    )
    if left:
        tx.session.execute(
            update(ACCOUNTS)
            .where(ACCOUNTS.c.id == hold.account_id)
            .values(
                available_fen=ACCOUNTS.c.available_fen + left,
                frozen_fen=ACCOUNTS.c.frozen_fen - left,
            )
        )
    return left


def release_many(tx: Tx, hold_ids: Iterable[int]) -> int:
    """:func:`release` for many holds at once (an auction's losing deposits). Returns the total."""
    ids = sorted(set(hold_ids))
    if not ids:
        return 0
    rows = tx.session.execute(
        select(HOLDS.c.id, HOLDS.c.account_id, HOLDS.c.remaining_fen).where(
            HOLDS.c.id.in_(ids), HOLDS.c.state == "open"
        )
    ).all()
    if not rows:
        return 0
    tx.session.execute(
        update(HOLDS)
        .where(HOLDS.c.id.in_([r.id for r in rows]))
        .values(remaining_fen=0, state="closed", closed_at=tx.now),
        execution_options={"synchronize_session": False},
    )
    per_account: dict[int, int] = defaultdict(int)
    for r in rows:
        per_account[r.account_id] += int(r.remaining_fen)
    params = [{"a": a, "x": x} for a, x in sorted(per_account.items()) if x]
    if params:
        tx.session.execute(
            update(ACCOUNTS)
            .where(ACCOUNTS.c.id == bindparam("a"))
            .values(
                available_fen=ACCOUNTS.c.available_fen + bindparam("x"),
                frozen_fen=ACCOUNTS.c.frozen_fen - bindparam("x"),
            ),
            params,
            execution_options={"synchronize_session": False},
        )
    return sum(per_account.values())


def _take(tx: Tx, hold_id: int, account_id: int, amount: int) -> None:
    """Spend ``amount`` of a hold (it leaves ``frozen``; a journal line says where it goes)."""
    done = tx.session.execute(
        update(HOLDS)
        .where(
            HOLDS.c.id == hold_id,
            HOLDS.c.account_id == account_id,
            HOLDS.c.state == "open",
            HOLDS.c.remaining_fen >= amount,
        )
        .values(remaining_fen=HOLDS.c.remaining_fen - amount)
    )
    if done.rowcount != 1:
        raise ConflictError(
            f"冻结资金 {hold_id} 不足以支付 {yuan(amount)} 元；未作任何更改。",
            f"Hold {hold_id} does not cover {yuan(amount)} yuan; nothing was changed.",
        )
    # the account's frozen balance drops at the end of the transaction, with its credits
    tx.unfrozen[account_id] = tx.unfrozen.get(account_id, 0) + amount


def post(
    tx: Tx,
    lines: Iterable[tuple[int, int, int, str, str]],
    *,
    hold: int | None = None,
    from_frozen: int = 0,
    check_available: bool = True,
) -> None:
    """Journal lines ``(debit, credit, amount, kind, reference)`` and their balance changes.

    ``from_frozen`` fen of the first line's debit account come out of ``hold`` (already frozen);
    every other debit comes out of ``available`` (refused when short, unless the debit account is
    the external one: ``check_available=False``).
    """
    lines = [line for line in lines if line[2] > 0]
    if not lines:
        return
    net: dict[int, int] = defaultdict(int)
    for debit, credit, amount, _kind, _ref in lines:
        net[debit] -= amount
        net[credit] += amount
    if hold is not None and from_frozen:
        payer = lines[0][0]
        _take(tx, hold, payer, from_frozen)
        net[payer] += from_frozen  # that part left frozen, not available
    external = tx.market.ids(tx).external_account
    # debits now, guarded (an account short of money fails the transaction); credits are added
    # up and written once at the end of the transaction (:func:`flush`), so that hot accounts —
    # the exchange's fee account — stay locked only for the commit
    for account_id, change in sorted(net.items()):
        if change < 0:
            if account_id in tx.credits:
                flush(tx, only=account_id)
            stmt = update(ACCOUNTS).where(ACCOUNTS.c.id == account_id)
            if check_available and account_id != external:
                stmt = stmt.where(ACCOUNTS.c.available_fen >= -change)
            done = tx.session.execute(stmt.values(available_fen=ACCOUNTS.c.available_fen + change))
            if done.rowcount != 1:
                raise insufficient("本次支付", "this payment", -change, available(tx, account_id))
        elif change > 0:
            tx.credits[account_id] = tx.credits.get(account_id, 0) + change
    tx.journal.extend(
        {
            "debit_account_id": debit,
            "credit_account_id": credit,
            "amount_fen": amount,
            "kind": kind,
            "reference": reference,
            "business_day": tx.day,
            "actor": tx.who,
            "created_at": tx.now,
        }
        for debit, credit, amount, kind, reference in lines
    )


def flush(tx: Tx, only: int | None = None) -> None:
    """Write the transaction's pending balance changes — credits to ``available``, spent holds
    leaving ``frozen`` — in one statement (accounts in id order: concurrent transactions take
    these rows in one order, and only for their last moments), and its journal lines in one."""
    if only is not None:
        accounts = {only} & (tx.credits.keys() | tx.unfrozen.keys())
    else:
        accounts = tx.credits.keys() | tx.unfrozen.keys()
    changes = [
        {"a": a, "x": tx.credits.pop(a, 0), "f": -tx.unfrozen.pop(a, 0)} for a in sorted(accounts)
    ]
    if changes:
        tx.session.execute(
            update(ACCOUNTS)
            .where(ACCOUNTS.c.id == bindparam("a"))
            .values(
                available_fen=ACCOUNTS.c.available_fen + bindparam("x"),
                frozen_fen=ACCOUNTS.c.frozen_fen + bindparam("f"),
            ),
            changes,
            execution_options={"synchronize_session": False},
        )
    if only is None and tx.journal:
        lines, tx.journal = tx.journal, []
        tx.session.execute(insert(JOURNAL), lines)


def settle_cash(
    tx: Tx,
    *,
    buyer: int,
    seller: int,
    value: int,
    buyer_fee: int,
    seller_fee: int,
    reference: str,
    hold: int | None,
) -> None:
    """The cash leg of a deal: the buyer pays ``value + buyer_fee`` (from ``hold``, else from
    available), the seller receives ``value − seller_fee``, the exchange both fees."""
    exchange = tx.market.ids(tx).exchange_account
    post(
        tx,
        [
            (buyer, seller, value, "trade", reference),
            (buyer, exchange, buyer_fee, "fee", reference),
            (seller, exchange, seller_fee, "fee", reference),
        ],
        hold=hold,
        from_frozen=value + buyer_fee if hold is not None else 0,
    )


# ------------------------------------------------------------------------------ the service


class CashService:
    """Deposits, withdrawals, balances, journals and daily statements (``Market.cash``)."""

    def __init__(self, market: Market) -> None:
        self.market = market

    def _org(self, actor: ActorLike, organisation_id: int | None, action: Action) -> int:
        require(actor.roles, action)
        org = organisation_id if organisation_id is not None else actor.organisation_id
        if org is None:
            raise InputError("请指定机构。", "Name the organisation.", field="organisation_id")
        if org != actor.organisation_id:
            anyone = {Role.market_operator} | (
                {Role.auditor} if action is Action.view_cash else set()
            )
            if not anyone & set(actor.roles):
                raise PermissionDenied(
                    "只能操作或查看本机构的资金账户。",
                    "Only your own organisation's cash account.",
                    action=action.value,
                    roles=tuple(str(r) for r in actor.roles),
                    allowed=("market_operator",),
                )
        return org

    def _account(self, uow: UnitOfWork, org: int) -> int | None:
        """The organisation's cash account (the exchange's: its fee account)."""
        kind = "exchange" if org == self.market.ids().exchange_org else "participant"
        return uow.session.scalar(
            select(ACCOUNTS.c.id).where(ACCOUNTS.c.organisation_id == org, ACCOUNTS.c.kind == kind)
        )

    def deposit(
        self,
        actor: ActorLike,
        *,
        amount_fen: int,
        organisation_id: int | None = None,
        reference: str = "",
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Record money paid in from a bank (入金): external → the organisation's available."""
        return self._record(
            "deposit", actor, amount_fen, organisation_id, reference, now, idempotency_key
        )

    def withdraw(
        self,
        actor: ActorLike,
        *,
        amount_fen: int,
        organisation_id: int | None = None,
        reference: str = "",
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Record money paid out to a bank (出金), from available cash only."""
        return self._record(
            "withdrawal", actor, amount_fen, organisation_id, reference, now, idempotency_key
        )

    def _record(
        self,
        kind: str,
        actor: ActorLike,
        amount_fen: int,
        organisation_id: int | None,
        reference: str,
        now: dt.datetime | None,
        idempotency_key: str | None,
    ) -> dict[str, Any]:
        org = self._org(actor, organisation_id, Action.record_cash)
        if type(amount_fen) is not int or amount_fen <= 0:
            raise InputError(
                "金额须为正整数（单位：分）。",
                "The amount must be a positive whole number of fen.",
                field="amount_fen",
            )

        def work(tx: Tx) -> dict[str, Any]:
            account = open_account(tx, org)
            external = tx.market.ids(tx).external_account
            ref = reference or f"{kind}"
            if kind == "deposit":
                post(tx, [(external, account, amount_fen, kind, ref)], check_available=False)
            else:
                post(tx, [(account, external, amount_fen, kind, ref)])
            flush(tx)
            return {
                "organisation_id": org,
                "kind": kind,
                "amount_fen": amount_fen,
                **_balance(tx.uow, account),
            }

        request = {"org": org, "amount_fen": amount_fen, "reference": reference}
        return run(
            self.market, actor, kind, request, idempotency_key, work, now=self.market.now(now)
        )

    def balance(self, actor: ActorLike, organisation_id: int | None = None) -> dict[str, Any]:
        """Available, frozen and total cash, and the open holds (what the money is frozen for)."""
        org = self._org(actor, organisation_id, Action.view_cash)
        with UnitOfWork(self.market.engine, read_only=True) as uow:
            account = self._account(uow, org)
            if account is None:
                return {
                    "organisation_id": org,
                    "available_fen": 0,
                    "frozen_fen": 0,
                    "total_fen": 0,
                    "holds": [],
                }
            holds = [
                {
                    "id": h.id,
                    "purpose": h.purpose,
                    "reference": h.reference,
                    "amount_fen": h.amount_fen,
                    "remaining_fen": h.remaining_fen,
                }
                for h in uow.session.scalars(
                    select(CashHold)
                    .where(HOLDS.c.account_id == account, HOLDS.c.state == "open")
                    .order_by(HOLDS.c.id)
                )
            ]
            return {"organisation_id": org, **_balance(uow, account), "holds": holds}

    def statement(
        self, actor: ActorLike, day: dt.date, organisation_id: int | None = None
    ) -> dict[str, Any]:
        """The day's statement (日结单) of an organisation's cash account."""
        org = self._org(actor, organisation_id, Action.view_cash)
        with UnitOfWork(self.market.engine, read_only=True) as uow:
            account = self._account(uow, org)
            out = statement(uow, account, day) if account is not None else _empty_statement(day)
            return {"organisation_id": org, **out}

    def journal(
        self,
        actor: ActorLike,
        organisation_id: int | None = None,
        *,
        start: dt.date | None = None,
        end: dt.date | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """The journal lines of an organisation's account (newest first), signed for it."""
        org = self._org(actor, organisation_id, Action.view_cash)
        with UnitOfWork(self.market.engine, read_only=True) as uow:
            account = self._account(uow, org)
            if account is None:
                return []
            query = select(CashEntry).where(
                (JOURNAL.c.debit_account_id == account) | (JOURNAL.c.credit_account_id == account)
            )
            if start is not None:
                query = query.where(JOURNAL.c.business_day >= start)
            if end is not None:
                query = query.where(JOURNAL.c.business_day <= end)
            rows = uow.session.scalars(
                query.order_by(JOURNAL.c.id.desc()).limit(limit).offset(offset)
            )
            return [
                {
                    "id": e.id,
                    "day": e.business_day.isoformat(),
                    "kind": e.kind,
                    "reference": e.reference,
                    "amount_fen": e.amount_fen if e.credit_account_id == account else -e.amount_fen,
                    "at": beijing(e.created_at).isoformat(),
                }
                for e in rows
            ]

    def check(self) -> list[str]:
        """Conservation of cash: the three identities of the module docstring. Empty: consistent."""
        problems: list[str] = []
        with UnitOfWork(self.market.engine, read_only=True) as uow:
            s = uow.session
            total = s.scalar(
                select(func.coalesce(func.sum(ACCOUNTS.c.available_fen + ACCOUNTS.c.frozen_fen), 0))
            )
            if total:
                problems.append(f"cash is not conserved: accounts sum to {total} fen, not 0")
            credits = dict(
                s.execute(
                    select(JOURNAL.c.credit_account_id, func.sum(JOURNAL.c.amount_fen)).group_by(
                        JOURNAL.c.credit_account_id
                    )
                ).all()
            )
            debits = dict(
                s.execute(
                    select(JOURNAL.c.debit_account_id, func.sum(JOURNAL.c.amount_fen)).group_by(
                        JOURNAL.c.debit_account_id
                    )
                ).all()
            )
            held = dict(
                s.execute(
                    select(HOLDS.c.account_id, func.sum(HOLDS.c.remaining_fen))
                    .where(HOLDS.c.state == "open")
                    .group_by(HOLDS.c.account_id)
                ).all()
            )
            for a in s.scalars(select(CashAccount)):
                journal = int(credits.get(a.id, 0)) - int(debits.get(a.id, 0))
                if a.available_fen + a.frozen_fen != journal:
                    problems.append(
                        f"cash account {a.id}: balance {a.available_fen + a.frozen_fen} fen, "
                        f"journal {journal} fen"
                    )
                if a.frozen_fen != int(held.get(a.id, 0)):
                    problems.append(
                        f"cash account {a.id}: frozen {a.frozen_fen} fen, open holds {held.get(a.id, 0)} fen"
                    )
        return problems


def _balance(uow: UnitOfWork, account_id: int) -> dict[str, int]:
    row = uow.session.execute(
        select(ACCOUNTS.c.available_fen, ACCOUNTS.c.frozen_fen).where(ACCOUNTS.c.id == account_id)
    ).one()
    return {
        "available_fen": int(row.available_fen),
        "frozen_fen": int(row.frozen_fen),
        "total_fen": int(row.available_fen + row.frozen_fen),
    }


def _empty_statement(day: dt.date) -> dict[str, Any]:
    keys = (
        "opening",
        "deposits",
        "withdrawals",
        "buys",
        "sells",
        "fees",
        "other_in",
        "other_out",
        "closing",
    )
    return {"day": day.isoformat(), **{f"{k}_fen": 0 for k in keys}}


def statement(uow: UnitOfWork, account_id: int, day: dt.date) -> dict[str, Any]:
    """The statement of one account for one business day (see the module docstring)."""
    s = uow.session
    signed = case(
        (JOURNAL.c.credit_account_id == account_id, JOURNAL.c.amount_fen),
        else_=-JOURNAL.c.amount_fen,
    )
    mine = (JOURNAL.c.debit_account_id == account_id) | (JOURNAL.c.credit_account_id == account_id)
    opening = int(
        s.scalar(
            select(func.coalesce(func.sum(signed), 0)).where(mine, JOURNAL.c.business_day < day)
        )
        or 0
    )
    out = dict.fromkeys(
        ("deposits", "withdrawals", "buys", "sells", "fees", "other_in", "other_out"), 0
    )
    rows = s.execute(
        select(JOURNAL.c.kind, JOURNAL.c.credit_account_id, func.sum(JOURNAL.c.amount_fen))
        .where(mine, JOURNAL.c.business_day == day)
        .group_by(JOURNAL.c.kind, JOURNAL.c.credit_account_id)
    ).all()
    for kind, credit, amount in rows:
        incoming = credit == account_id
        amount = int(amount)
        if kind == "deposit":
            out["deposits"] += amount if incoming else -amount
        elif kind == "withdrawal":
            out["withdrawals"] += -amount if incoming else amount
        elif kind == "trade":
            out["sells" if incoming else "buys"] += amount
        elif kind == "fee":
            out["fees"] += -amount if incoming else amount
        else:
            out["other_in" if incoming else "other_out"] += amount
    closing = (
        opening
        + out["deposits"]
        - out["withdrawals"]
        - out["buys"]
        + out["sells"]
        - out["fees"]
        + out["other_in"]
        - out["other_out"]
    )
    return {
        "day": day.isoformat(),
        "opening_fen": opening,
        **{f"{k}_fen": v for k, v in out.items()},
        "closing_fen": closing,
    }
