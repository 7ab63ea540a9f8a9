"""Pledge loans (碳票质押贷款): credit lines against pledged tickets, daily re-marking, margin calls,
release on repayment, enforcement by auction on default; Guizhou-style statistics.

Life of a loan (amounts in fen; LTV in basis points of the collateral's value)::

    apply (borrower) ─► requested ─ approve (bank) ─► active ⇄ margin_call
         pledge requested   │        pledge confirmed    │  re-mark: LTV > threshold → call;
                            └ decline (bank): closed     │  cured by repaying (or prices)
                                                          ├─ repay all ─► repaid (pledge released)
                                                          └─ default ─► defaulted ─ enforce ─► enforced
                                                              (call not cured in time,   pledge enforced,
                                                               or past maturity)         lot auctioned
                                                                                         ─► closed

* **Collateral value** = pledged tonnes × reference price, the scheme's VWAP over ``vwap_days``
  days (:func:`tanhui.market.stats.reference_price`; the last close when nothing traded).
* **Credit line** (授信) ≤ ``ltv_bp`` × value when applied for; the bank **disburses** (放款)
  draws up to the line, each keeping principal + interest ≤ ``ltv_bp`` × the value that day. Money
  moves from the bank's cash account to the borrower's (journal ``loan_disbursement``).
* **Interest** accrues daily on the principal, simple, actual/365, exact to the fen (the fraction
  of a fen is carried, so accruing in pieces equals accruing at once; rounded down); a repayment pays interest first (``loan_interest``), then principal
  (``loan_repayment``). Paying everything releases the pledge (the loan contract lets the service
  act for the bank).
* **Re-marking** (:meth:`LoanService.remark`, daily): a mark per loan and day; LTV above
  ``margin_call_bp`` → margin call, to be cured within ``cure_days`` working days; back under →
  cured. A call not cured in time, or principal outstanding after maturity, is a **default**.
* **Enforcement** (处置): the bank takes the pledged tonnes (registry ``enforce_pledge``) and lists
  them at once in an ascending auction (start: the reference price × ``start_bp``). When the
  winner pays, the proceeds (net of the seller's fee) repay the loan; a surplus goes to the
  borrower (``collateral_surplus``), a shortfall stays recorded (``shortfall_fen``) as an
  unsecured claim. An auction without a sale leaves the tonnes with the bank (it may list again).

Defaults (:class:`LoanPolicy`): LTV 70 % (the first CCER pledge loan, 2014: 70 % of the average
price), margin call at 85 %, 5 working days to cure, VWAP over 20 days — all to confirm with the
lending banks and configurable per loan.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, update

from tanhui.db.market_tables import (
    JOURNAL,
    LOANS,
    MARKS,
    Loan,
    LoanMark,
)
from tanhui.db.tables import Block, PledgeBlock
from tanhui.db.uow import UnitOfWork
from tanhui.errors import ConflictError, InputError, PermissionDenied, StateError
from tanhui.market import cash, stats
from tanhui.market.auction import AscendingTerms
from tanhui.market.context import ActorLike, ServiceActor, Tx, run
from tanhui.market.errors import not_found
from tanhui.market.journal import beijing
from tanhui.registry.permissions import Action, Role, require

if TYPE_CHECKING:
    from tanhui.market.service import Market

BP = 10_000


@dataclass(frozen=True)
class LoanPolicy:
    """Default terms (each overridable per loan). To confirm with the lending banks."""

    vwap_days: int = 20
    ltv_bp: int = 7000
    margin_call_bp: int = 8500
    cure_days: int = 5
    rate_bp: int = 450
    #: Enforcement auction: start (and reserve) price as a share of the reference price.
    start_bp: int = 9000


def interest(principal: int, rate_bp: int, days: int) -> int:
    """Simple interest, actual/365, rounded down (fen)."""
    if principal <= 0 or days <= 0:
        return 0
    return principal * rate_bp * days // (BP * 365)


def _state_error(loan: Any, action: str, needed: tuple[str, ...]) -> StateError:
    return StateError(
        f"贷款 {loan.id} 的状态为 {loan.state}，不能{action}（需要 {'、'.join(needed)}）。",
        f"Loan {loan.id} is {loan.state}; “{action}” needs {' or '.join(needed)}.",
        state=loan.state,
        action=action,
        allowed_from=needed,
    )


class LoanService:
    """Pledge loans (``Market.loans``)."""

    def __init__(self, market: Market, policy: LoanPolicy | None = None) -> None:
        self.market = market
        self.policy = policy or LoanPolicy()

    # ---------------------------------------------------------------------------- helpers

    def _loan(self, tx: Tx, loan_id: int) -> Any:
        loan = tx.session.execute(
            tx.lock(
                select(Loan).execution_options(populate_existing=True).where(LOANS.c.id == loan_id)
            )
        ).scalar_one_or_none()
        if loan is None:
            raise not_found("贷款", "loan", loan_id)
        return loan

    @staticmethod
    def _bank_of(actor: ActorLike, loan: Any) -> None:
        if actor.organisation_id != loan.bank_organisation_id:
            raise PermissionDenied(
                "只有放贷银行可以处理该笔贷款。",
                "Only the lending bank acts on this loan.",
                action=Action.manage_loans.value,
                roles=tuple(str(r) for r in actor.roles),
                allowed=("bank",),
            )

    def _price(self, tx: Tx, loan: Any) -> int:
        price, _source = stats.reference_price(tx.session, loan.scheme, tx.day, loan.vwap_days)
        if price is None:
            raise ConflictError(
                f"{loan.scheme} 没有参考价格。", f"There is no reference price for {loan.scheme}."
            )
        return price

    @staticmethod
    def _accrue(tx: Tx, loan: Any) -> None:
        """Interest from ``accrued_to`` to today, carrying the fraction of a fen (exact)."""
        days = (tx.day - loan.accrued_to).days
        if days > 0:
            numerator = loan.principal_fen * loan.rate_bp * days + loan.interest_remainder
            loan.interest_fen += numerator // (BP * 365)
            loan.interest_remainder = numerator % (BP * 365)
            loan.accrued_to = tx.day

    @staticmethod
    def _ltv(loan: Any, price: int) -> int:
        value = loan.quantity * price
        outstanding = loan.principal_fen + loan.interest_fen
        return outstanding * BP // value if value else BP * 100

    def _answer(self, loan: Any) -> dict[str, Any]:
        return _loan_dict(loan)

    # ---------------------------------------------------------------------------- borrower

    def apply(
        self,
        actor: ActorLike,
        *,
        bank_organisation_id: int,
        block_id: int,
        credit_line_fen: int,
        term_days: int,
        quantity: int | None = None,
        rate_bp: int | None = None,
        ltv_bp: int | None = None,
        margin_call_bp: int | None = None,
        vwap_days: int | None = None,
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Apply for a credit line of ``credit_line_fen`` against ``quantity`` t (default: all) of
        one's block: the tonnes are reserved for the bank (a pledge request). Refused when the
        line exceeds LTV × the collateral's value at the reference price."""
        require(actor.roles, Action.request_loan)
        org = self.market._org(actor)
        p = self.policy
        ltv = p.ltv_bp if ltv_bp is None else ltv_bp
        call = p.margin_call_bp if margin_call_bp is None else margin_call_bp
        days = p.vwap_days if vwap_days is None else vwap_days
        rate = p.rate_bp if rate_bp is None else rate_bp
        if type(credit_line_fen) is not int or credit_line_fen <= 0:
            raise InputError(
                "授信额度须为正整数（分）。",
                "The credit line must be positive fen.",
                field="credit_line_fen",
            )
        if type(term_days) is not int or term_days <= 0:
            raise InputError(
                "期限须为正整数天。",
                "The term must be a positive number of days.",
                field="term_days",
            )
        if not (0 < ltv <= BP and call >= ltv and rate >= 0 and days > 0):
            raise InputError(
                "贷款条件无效。",
                "Invalid loan terms (LTV, margin call, rate, days).",
                field="ltv_bp",
            )

        def work(tx: Tx) -> dict[str, Any]:
            block = tx.session.get(Block, block_id)
            if block is None:
                raise not_found("序号段", "block", block_id)
            tonnes = block.quantity if quantity is None else quantity
            price, _src = stats.reference_price(tx.session, block.scheme, tx.day, days)
            if price is None:
                raise ConflictError(
                    f"{block.scheme} 没有参考价格，无法估值。",
                    f"There is no reference price for {block.scheme}; the collateral cannot be valued.",
                )
            cap = tonnes * price * ltv // BP
            if credit_line_fen > cap:
                raise ConflictError(
                    f"授信额度 {cash.yuan(credit_line_fen)} 元超过质押率上限 {cash.yuan(cap)} 元"
                    f"（{tonnes} 吨 × {cash.yuan(price)} 元 × {ltv / 100:g}%）。",
                    f"The credit line {cash.yuan(credit_line_fen)} yuan exceeds the LTV cap "
                    f"{cash.yuan(cap)} yuan ({tonnes} t × {cash.yuan(price)} yuan × {ltv / 100:g} %).",
                )
            pledge = tx.ledger.request_pledge(
                actor,
                block_id=block_id,
                quantity=tonnes,
                bank_organisation_id=bank_organisation_id,
                loan_amount_fen=credit_line_fen,
            )
            loan_id = tx.session.execute(
                insert(LOANS)
                .values(
                    bank_organisation_id=bank_organisation_id,
                    borrower_organisation_id=org,
                    pledge_id=pledge["pledge_id"],
                    scheme=block.scheme,
                    region_code=block.region_code,
                    quantity=tonnes,
                    reference_price_fen=price,
                    vwap_days=days,
                    ltv_bp=ltv,
                    margin_call_bp=call,
                    rate_bp=rate,
                    credit_line_fen=credit_line_fen,
                    disbursed_fen=0,
                    principal_fen=0,
                    interest_fen=0,
                    interest_remainder=0,
                    repaid_fen=0,
                    shortfall_fen=0,
                    start_day=tx.day,
                    maturity_day=tx.day + dt.timedelta(days=term_days),
                    accrued_to=tx.day,
                    state="requested",
                    created_at=tx.now,
                    updated_at=tx.now,
                )
                .returning(LOANS.c.id)
            ).scalar_one()
            return self._answer(self._loan(tx, loan_id))

        request = {
            "bank": bank_organisation_id,
            "block_id": block_id,
            "quantity": quantity,
            "line": credit_line_fen,
            "term_days": term_days,
            "rate": rate,
            "ltv": ltv,
            "call": call,
            "days": days,
            "org": org,
        }
        return self.market._run(actor, "loan_apply", request, idempotency_key, work, now)

    def repay(
        self,
        actor: ActorLike,
        *,
        loan_id: int,
        amount_fen: int | None = None,
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Repay ``amount_fen`` (default: everything owed): interest first, then principal, from
        available cash to the bank. Paying everything releases the pledge; a margin call is cured
        when the LTV is back under the threshold."""
        require(actor.roles, Action.request_loan)
        org = self.market._org(actor)

        def work(tx: Tx) -> dict[str, Any]:
            loan = self._loan(tx, loan_id)
            if loan.borrower_organisation_id != org:
                raise PermissionDenied(
                    "只能偿还本机构的贷款。",
                    "Only your own organisation's loans.",
                    action=Action.request_loan.value,
                    roles=tuple(str(r) for r in actor.roles),
                )
            if loan.state not in ("active", "margin_call", "defaulted"):
                raise _state_error(loan, "repay", ("active", "margin_call", "defaulted"))
            self._accrue(tx, loan)
            owed = loan.principal_fen + loan.interest_fen
            pay = owed if amount_fen is None else min(amount_fen, owed)
            if type(pay) is not int or pay < 0:
                raise InputError(
                    "还款金额须为正整数（分）。",
                    "The amount must be positive fen.",
                    field="amount_fen",
                )
            to_interest = min(pay, loan.interest_fen)
            to_principal = pay - to_interest
            borrower = cash.open_account(tx, org)
            bank = cash.open_account(tx, loan.bank_organisation_id)
            cash.post(
                tx,
                [
                    (borrower, bank, to_interest, "loan_interest", f"loan:{loan.id}"),
                    (borrower, bank, to_principal, "loan_repayment", f"loan:{loan.id}"),
                ],
            )
            loan.interest_fen -= to_interest
            loan.principal_fen -= to_principal
            loan.repaid_fen += pay
            if loan.principal_fen == 0 and loan.interest_fen == 0:
                loan.interest_remainder = 0  # less than a fen: forgiven
                tx.ledger.release_pledge(
                    ServiceActor(loan.bank_organisation_id, frozenset({Role.bank})),
                    pledge_id=loan.pledge_id,
                )
                loan.state = "repaid"
                loan.margin_call_due = None
            elif (
                loan.state == "margin_call"
                and self._ltv(loan, self._price(tx, loan)) <= loan.margin_call_bp
            ):
                loan.state, loan.margin_call_due = "active", None
            loan.updated_at = tx.now
            out = self._answer(loan)
            out["paid_fen"] = pay
            return out

        return self.market._run(
            actor,
            "loan_repay",
            {"loan_id": loan_id, "amount": amount_fen},
            idempotency_key,
            work,
            now,
        )

    # -------------------------------------------------------------------------------- bank

    def approve(
        self,
        actor: ActorLike,
        *,
        loan_id: int,
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """The bank grants the credit line (授信): the pledge is confirmed (PLEDGED)."""
        require(actor.roles, Action.manage_loans)

        def work(tx: Tx) -> dict[str, Any]:
            loan = self._loan(tx, loan_id)
            self._bank_of(actor, loan)
            if loan.state != "requested":
                raise _state_error(loan, "approve", ("requested",))
            tx.ledger.confirm_pledge(actor, pledge_id=loan.pledge_id)
            term = loan.maturity_day - loan.start_day
            loan.state, loan.start_day, loan.accrued_to = "active", tx.day, tx.day
            loan.maturity_day = tx.day + term
            loan.updated_at = tx.now
            return self._answer(loan)

        return self.market._run(
            actor, "loan_approve", {"loan_id": loan_id}, idempotency_key, work, now
        )

    def decline(
        self,
        actor: ActorLike,
        *,
        loan_id: int,
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """The bank declines the application: the pledge request is lifted, the loan closed."""
        require(actor.roles, Action.manage_loans)

        def work(tx: Tx) -> dict[str, Any]:
            loan = self._loan(tx, loan_id)
            self._bank_of(actor, loan)
            if loan.state != "requested":
                raise _state_error(loan, "decline", ("requested",))
            for (block_id,) in tx.session.execute(
                select(PledgeBlock.block_id).where(PledgeBlock.pledge_id == loan.pledge_id)
            ):
                tx.ledger.unreserve(actor, block_id=block_id, reference=loan.pledge_id)
            loan.state, loan.credit_line_fen, loan.updated_at = "closed", 0, tx.now
            return self._answer(loan)

        return self.market._run(
            actor, "loan_decline", {"loan_id": loan_id}, idempotency_key, work, now
        )

    def disburse(
        self,
        actor: ActorLike,
        *,
        loan_id: int,
        amount_fen: int,
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """A draw (放款) on the credit line, from the bank's available cash to the borrower's;
        principal + interest after it must stay within LTV × today's collateral value."""
        require(actor.roles, Action.manage_loans)
        if type(amount_fen) is not int or amount_fen <= 0:
            raise InputError(
                "放款金额须为正整数（分）。", "The amount must be positive fen.", field="amount_fen"
            )

        def work(tx: Tx) -> dict[str, Any]:
            loan = self._loan(tx, loan_id)
            self._bank_of(actor, loan)
            if loan.state != "active":
                raise _state_error(loan, "disburse", ("active",))
            if tx.day > loan.maturity_day:
                raise ConflictError("贷款已到期。", "The loan has matured.")
            self._accrue(tx, loan)
            if loan.disbursed_fen + amount_fen > loan.credit_line_fen:
                raise ConflictError(
                    f"超过授信额度：已放款 {cash.yuan(loan.disbursed_fen)} 元，额度 {cash.yuan(loan.credit_line_fen)} 元。",
                    f"Over the credit line: {cash.yuan(loan.disbursed_fen)} yuan drawn of {cash.yuan(loan.credit_line_fen)} yuan.",
                )
            price = self._price(tx, loan)
            cap = loan.quantity * price * loan.ltv_bp // BP
            if loan.principal_fen + loan.interest_fen + amount_fen > cap:
                raise ConflictError(
                    f"放款后将超过质押率上限 {cash.yuan(cap)} 元（参考价 {cash.yuan(price)} 元/吨）。",
                    f"The draw would exceed the LTV cap of {cash.yuan(cap)} yuan (reference price {cash.yuan(price)} yuan/t).",
                )
            cash.post(
                tx,
                [
                    (
                        cash.open_account(tx, loan.bank_organisation_id),
                        cash.open_account(tx, loan.borrower_organisation_id),
                        amount_fen,
                        "loan_disbursement",
                        f"loan:{loan.id}",
                    )
                ],
            )
            loan.disbursed_fen += amount_fen
            loan.principal_fen += amount_fen
            loan.updated_at = tx.now
            return self._answer(loan)

        return self.market._run(
            actor,
            "loan_disburse",
            {"loan_id": loan_id, "amount": amount_fen},
            idempotency_key,
            work,
            now,
        )

    def remark(self, actor: ActorLike, *, now: dt.datetime | None = None) -> list[dict[str, Any]]:
        """The daily re-marking of every live loan (the operator: all; a bank: its own): accrue
        interest, value the collateral, record the day's mark, call margins, cure them, and flag
        defaults (a call not cured by its due day, or principal owed after maturity)."""
        if Role.market_operator in actor.roles:
            require(actor.roles, Action.operate_market)
            bank = None
        else:
            require(actor.roles, Action.manage_loans)
            bank = actor.organisation_id
        when = self.market.now(now)
        self.market.ids()
        with UnitOfWork(self.market.engine, read_only=True) as uow:
            query = select(LOANS.c.id).where(LOANS.c.state.in_(("active", "margin_call")))
            if bank is not None:
                query = query.where(LOANS.c.bank_organisation_id == bank)
            ids = list(uow.session.scalars(query.order_by(LOANS.c.id)))
        out = []
        for loan_id in ids:

            def work(tx: Tx, loan_id: int = loan_id) -> dict[str, Any]:
                loan = self._loan(tx, loan_id)
                if loan.state not in ("active", "margin_call"):
                    return self._answer(loan)
                self._accrue(tx, loan)
                price = self._price(tx, loan)
                ltv = self._ltv(loan, price)
                note = ""
                if ltv > loan.margin_call_bp and loan.state == "active":
                    loan.state = "margin_call"
                    loan.margin_call_due = self.market.rules.add_working_days(
                        tx.day, self.policy.cure_days
                    )
                    note = "margin_call"
                elif ltv <= loan.margin_call_bp and loan.state == "margin_call":
                    loan.state, loan.margin_call_due = "active", None
                    note = "cured"
                if (
                    loan.state == "margin_call"
                    and loan.margin_call_due is not None
                    and tx.day > loan.margin_call_due
                ):
                    loan.state, note = "defaulted", "default: margin call not cured"
                elif tx.day > loan.maturity_day and loan.principal_fen + loan.interest_fen > 0:
                    loan.state, note = "defaulted", "default: past maturity"
                known = tx.session.scalar(
                    select(MARKS.c.id).where(MARKS.c.loan_id == loan.id, MARKS.c.day == tx.day)
                )
                values = {
                    "reference_price_fen": price,
                    "collateral_fen": loan.quantity * price,
                    "outstanding_fen": loan.principal_fen + loan.interest_fen,
                    "ltv_bp": min(ltv, 2**31 - 1),
                    "margin_call": loan.state == "margin_call",
                    "note": note,
                    "marked_at": tx.now,
                }
                if known is None:
                    tx.session.execute(insert(MARKS).values(loan_id=loan.id, day=tx.day, **values))
                else:
                    tx.session.execute(update(MARKS).where(MARKS.c.id == known).values(**values))
                loan.updated_at = tx.now
                return {
                    **self._answer(loan),
                    "mark": {"day": tx.day.isoformat(), **values, "marked_at": None},
                }

            out.append(run(self.market, actor, "loan_remark", {}, None, work, now=when))
        return out

    def declare_default(
        self,
        actor: ActorLike,
        *,
        loan_id: int,
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """The bank declares a default: a margin call past its due day, or money owed after
        maturity."""
        require(actor.roles, Action.manage_loans)

        def work(tx: Tx) -> dict[str, Any]:
            loan = self._loan(tx, loan_id)
            self._bank_of(actor, loan)
            self._accrue(tx, loan)
            called = (
                loan.state == "margin_call"
                and loan.margin_call_due is not None
                and tx.day > loan.margin_call_due
            )
            matured = (
                loan.state in ("active", "margin_call")
                and tx.day > loan.maturity_day
                and (loan.principal_fen + loan.interest_fen > 0)
            )
            if not (called or matured):
                raise ConflictError(
                    "尚未违约：追加保证金未逾期，贷款也未到期。",
                    "No default yet: no overdue margin call and the loan has not matured.",
                )
            loan.state, loan.updated_at = "defaulted", tx.now
            return self._answer(loan)

        return self.market._run(
            actor, "loan_default", {"loan_id": loan_id}, idempotency_key, work, now
        )

    def enforce(
        self,
        actor: ActorLike,
        *,
        loan_id: int,
        opens_at: dt.datetime,
        ends_at: dt.datetime,
        start_price_fen: int | None = None,
        deposit_fen: int = 0,
        increment_ticks: int = 1,
        countdown: dt.timedelta = dt.timedelta(minutes=5),
        payment_days: int = 3,
        now: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Enforcement (处置) of a defaulted loan: the pledged tonnes move to the bank and are
        listed in an ascending auction (start = reserve = ``start_price_fen``, default the
        reference price × ``start_bp``). Its proceeds repay the loan when the winner pays."""
        require(actor.roles, Action.manage_loans)
        require(actor.roles, Action.list_for_sale)

        def work(tx: Tx) -> dict[str, Any]:
            loan = self._loan(tx, loan_id)
            self._bank_of(actor, loan)
            if loan.state != "defaulted":
                raise _state_error(loan, "enforce", ("defaulted",))
            self._accrue(tx, loan)
            blocks = [
                b
                for (b,) in tx.session.execute(
                    select(PledgeBlock.block_id).where(PledgeBlock.pledge_id == loan.pledge_id)
                )
            ]
            tx.ledger.enforce_pledge(actor, pledge_id=loan.pledge_id)
            start = start_price_fen or max(1, self._price(tx, loan) * self.policy.start_bp // BP)
            opens, ends = self.market.now(opens_at), self.market.now(ends_at)

            def terms_for(auction_id: int) -> AscendingTerms:
                return AscendingTerms(
                    auction_id,
                    loan.bank_organisation_id,
                    loan.quantity,
                    start,
                    start,
                    increment_ticks,
                    deposit_fen,
                    opens,
                    ends,
                    countdown,
                    payment_days,
                )

            terms_for(0).validate(self.market.rules)
            auction = self.market._create_auction(
                tx,
                actor,
                loan.bank_organisation_id,
                loan.scheme,
                "ascending",
                loan.quantity,
                start,
                deposit_fen,
                opens,
                ends,
                terms_for,
                blocks[0] if len(blocks) == 1 else None,
                False,
                loan.id,
            )
            loan.state, loan.updated_at = "enforced", tx.now
            return {**self._answer(loan), "auction": auction}

        request = {
            "loan_id": loan_id,
            "opens_at": opens_at,
            "ends_at": ends_at,
            "start": start_price_fen,
            "deposit": deposit_fen,
            "increment": increment_ticks,
            "countdown": countdown.total_seconds(),
            "payment_days": payment_days,
        }
        return self.market._run(actor, "loan_enforce", request, idempotency_key, work, now)

    def apply_proceeds(self, tx: Tx, loan_id: int, net_fen: int, deal_id: int) -> None:
        """Inside the enforcement auction's settlement: the bank (the seller) received ``net_fen``;
        it repays the loan, a surplus goes to the borrower, a shortfall is recorded."""
        loan = self._loan(tx, loan_id)
        if loan.state != "enforced":
            return
        self._accrue(tx, loan)
        owed = loan.principal_fen + loan.interest_fen
        recovered = min(net_fen, owed)
        loan.repaid_fen += recovered
        loan.shortfall_fen = owed - recovered
        loan.principal_fen = loan.interest_fen = loan.interest_remainder = 0
        surplus = net_fen - recovered
        if surplus:
            cash.post(
                tx,
                [
                    (
                        cash.open_account(tx, loan.bank_organisation_id),
                        cash.open_account(tx, loan.borrower_organisation_id),
                        surplus,
                        "collateral_surplus",
                        f"loan:{loan.id}",
                    )
                ],
            )
        loan.state, loan.updated_at = "closed", tx.now

    # --------------------------------------------------------------------------- reading

    def loans(self, actor: ActorLike, *, state: str | None = None) -> list[dict[str, Any]]:
        """Loans the actor's organisation borrowed or lent (regulators, the operator and auditors
        with ``view_finance_stats``: all), newest first."""
        org = actor.organisation_id
        everyone = Role.bank not in actor.roles and Role.holder not in actor.roles
        if everyone:
            require(actor.roles, Action.view_finance_stats)
        elif Role.bank in actor.roles:
            require(actor.roles, Action.manage_loans)
        else:
            require(actor.roles, Action.request_loan)
        with UnitOfWork(self.market.engine, read_only=True) as uow:
            query = select(Loan).execution_options(populate_existing=True)
            if not everyone:
                query = query.where(
                    (LOANS.c.borrower_organisation_id == org)
                    | (LOANS.c.bank_organisation_id == org)
                )
            if state is not None:
                query = query.where(LOANS.c.state == state)
            return [_loan_dict(x) for x in uow.session.scalars(query.order_by(LOANS.c.id.desc()))]

    def marks(self, actor: ActorLike, loan_id: int) -> list[dict[str, Any]]:
        """A loan's daily marks, oldest first (its bank, its borrower, or finance viewers)."""
        with UnitOfWork(self.market.engine, read_only=True) as uow:
            loan = uow.session.get(Loan, loan_id)
            if loan is None:
                raise not_found("贷款", "loan", loan_id)
            if actor.organisation_id not in (
                loan.bank_organisation_id,
                loan.borrower_organisation_id,
            ):
                require(actor.roles, Action.view_finance_stats)
            return [
                {
                    "day": m.day.isoformat(),
                    "reference_price_fen": m.reference_price_fen,
                    "collateral_fen": m.collateral_fen,
                    "outstanding_fen": m.outstanding_fen,
                    "ltv_bp": m.ltv_bp,
                    "margin_call": m.margin_call,
                    "note": m.note,
                }
                for m in uow.session.scalars(
                    select(LoanMark).where(MARKS.c.loan_id == loan_id).order_by(MARKS.c.day)
                )
            ]

    def statistics(
        self,
        actor: ActorLike,
        *,
        start: dt.date | None = None,
        end: dt.date | None = None,
        region: str | None = None,
    ) -> dict[str, Any]:
        """Carbon-ticket finance as Guizhou reports it: credit lines granted (授信), money
        disbursed (放款) in the period, principal outstanding now, pledged tonnes; in total and by
        bank. A bank sees its own figures; regulators, the operator and auditors see all."""
        require(actor.roles, Action.view_finance_stats)
        own_bank = (
            actor.organisation_id
            if Role.bank in actor.roles
            and not (
                {Role.forestry_regulator, Role.eco_regulator, Role.market_operator, Role.auditor}
                & set(actor.roles)
            )
            else None
        )
        with UnitOfWork(self.market.engine, read_only=True) as uow:
            s = uow.session
            query = (
                select(Loan)
                .execution_options(populate_existing=True)
                .where(LOANS.c.state != "requested", LOANS.c.credit_line_fen > 0)
            )
            if own_bank is not None:
                query = query.where(LOANS.c.bank_organisation_id == own_bank)
            if region is not None:
                query = query.where(LOANS.c.region_code.like(f"{region}%"))
            loans = list(s.scalars(query))
            disbursed = dict(
                s.execute(
                    select(JOURNAL.c.reference, func.sum(JOURNAL.c.amount_fen))
                    .where(
                        JOURNAL.c.kind == "loan_disbursement",
                        *(() if start is None else (JOURNAL.c.business_day >= start,)),
                        *(() if end is None else (JOURNAL.c.business_day <= end,)),
                    )
                    .group_by(JOURNAL.c.reference)
                ).all()
            )
            by_bank: dict[int, dict[str, int]] = {}
            for loan in loans:
                granted = (start is None or loan.start_day >= start) and (
                    end is None or loan.start_day <= end
                )
                row = by_bank.setdefault(
                    loan.bank_organisation_id,
                    {
                        "loans": 0,
                        "credit_lines_fen": 0,
                        "disbursed_fen": 0,
                        "outstanding_fen": 0,
                        "pledged_t": 0,
                    },
                )
                if granted:
                    row["loans"] += 1
                    row["credit_lines_fen"] += loan.credit_line_fen
                row["disbursed_fen"] += int(disbursed.get(f"loan:{loan.id}", 0))
                if loan.state in ("active", "margin_call", "defaulted", "enforced"):
                    row["outstanding_fen"] += loan.principal_fen
                    row["pledged_t"] += loan.quantity
        total = {
            k: sum(r[k] for r in by_bank.values())
            for k in ("loans", "credit_lines_fen", "disbursed_fen", "outstanding_fen", "pledged_t")
        }
        return {
            "start": start.isoformat() if start else None,
            "end": end.isoformat() if end else None,
            "total": total,
            "by_bank": [{"bank": b, **r} for b, r in sorted(by_bank.items())],
        }


def _loan_dict(loan: Any) -> dict[str, Any]:
    return {
        "id": loan.id,
        "state": loan.state,
        "bank": loan.bank_organisation_id,
        "borrower": loan.borrower_organisation_id,
        "pledge_id": loan.pledge_id,
        "scheme": loan.scheme,
        "quantity": loan.quantity,
        "reference_price_fen": loan.reference_price_fen,
        "ltv_bp": loan.ltv_bp,
        "margin_call_bp": loan.margin_call_bp,
        "rate_bp": loan.rate_bp,
        "credit_line_fen": loan.credit_line_fen,
        "disbursed_fen": loan.disbursed_fen,
        "principal_fen": loan.principal_fen,
        "interest_fen": loan.interest_fen,
        "repaid_fen": loan.repaid_fen,
        "shortfall_fen": loan.shortfall_fen,
        "start_day": loan.start_day.isoformat(),
        "maturity_day": loan.maturity_day.isoformat(),
        "margin_call_due": loan.margin_call_due.isoformat() if loan.margin_call_due else None,
        "updated_at": beijing(loan.updated_at).isoformat() if loan.updated_at else None,
    }
