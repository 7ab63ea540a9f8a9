"""Agreement transfers (协议转让) and block agreements (大宗协议) as proposals. Pure, stdlib only.

One party proposes (seller, buyer, quantity, price); the counterparty accepts or declines; the
proposer may withdraw; an open proposal expires at ``expires_at``. Accepting is the trade.

Rules (``shared/reference/market.md``): a block agreement is ≥ 100,000 t, traded 13:00–15:00, with
a band of ±30 % of the previous close [V national CEA]; a smaller agreement uses the listed band
±10 % and the listed sessions (9:30–11:30, 13:00–15:00) [V national CEA, Sha County exchange]. The
numbers are in :class:`~tanhui.market.rules.MarketRules`.

Decisions where the rules are silent:

* Band and session are checked **when proposed and again when accepted** (the acceptance is the
  trade; the previous close may have changed overnight — :meth:`AgreementDesk.set_previous_close`).
  A proposal that has left the band stays open: it can still be withdrawn, declined or expire.
* Agreement trades do not enter the close (the close is the VWAP of *listed* trades only).
* Fees are charged on the agreed value like a listed fill (:class:`~tanhui.market.rules.FeeSchedule`).
* Expiry is inclusive: at ``now >= expires_at`` the proposal is expired (by any command's tick).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

from tanhui.market.rules import (
    Command,
    FeeSchedule,
    MarketRules,
    Reason,
    Rejected,
    dispatch,
)


class ProposalState(Enum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


# ---------------------------------------------------------------------------------------------
# events


@dataclass(frozen=True, slots=True)
class ProposalMade:
    proposal_id: Hashable
    proposer: Hashable
    seller: Hashable
    buyer: Hashable
    quantity: int
    price: int
    block: bool
    expires_at: dt.datetime
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class AgreementConcluded:
    """The counterparty accepted: a trade of ``quantity`` t at ``price`` (fees in fen)."""

    proposal_id: Hashable
    seller: Hashable
    buyer: Hashable
    quantity: int
    price: int
    value: int
    block: bool
    buyer_fee: int
    seller_fee: int
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class ProposalDeclined:
    proposal_id: Hashable
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class ProposalWithdrawn:
    proposal_id: Hashable
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class ProposalExpired:
    proposal_id: Hashable
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class PreviousCloseSet:
    previous_close: int
    time: dt.datetime


# ---------------------------------------------------------------------------------------------
# commands


@dataclass(frozen=True, slots=True)
class Propose(Command):
    method: ClassVar[str] = "propose"
    proposal_id: Hashable
    proposer: Hashable
    seller: Hashable
    buyer: Hashable
    quantity: int
    price: int
    expires_at: dt.datetime
    now: dt.datetime


@dataclass(frozen=True, slots=True)
class Accept(Command):
    method: ClassVar[str] = "accept"
    proposal_id: Hashable
    by: Hashable
    now: dt.datetime


@dataclass(frozen=True, slots=True)
class Decline(Command):
    method: ClassVar[str] = "decline"
    proposal_id: Hashable
    by: Hashable
    now: dt.datetime


@dataclass(frozen=True, slots=True)
class Withdraw(Command):
    method: ClassVar[str] = "withdraw"
    proposal_id: Hashable
    by: Hashable
    now: dt.datetime


@dataclass(frozen=True, slots=True)
class SetPreviousClose(Command):
    method: ClassVar[str] = "set_previous_close"
    price: int
    now: dt.datetime


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Proposal:
    """A read-only view of a proposal."""

    proposal_id: Hashable
    proposer: Hashable
    seller: Hashable
    buyer: Hashable
    quantity: int
    price: int
    block: bool
    expires_at: dt.datetime
    state: ProposalState

    @property
    def counterparty(self) -> Hashable:
        return self.buyer if self.proposer == self.seller else self.seller


class AgreementDesk:
    """Proposals between two named parties, checked against the band of the previous close."""

    COMMANDS = frozenset({"propose", "accept", "decline", "withdraw", "set_previous_close", "tick"})

    def __init__(
        self,
        previous_close: int,
        rules: MarketRules | None = None,
        fees: FeeSchedule | None = None,
    ) -> None:
        self.rules = rules or MarketRules()
        self.fees = fees or FeeSchedule()
        self.rules.band(previous_close)  # validates
        self.previous_close = previous_close
        self.proposals: dict[Hashable, Proposal] = {}
        self._open: dict[Hashable, None] = {}  # open proposal ids in creation order

    def apply(self, command: Command) -> list[Any]:
        """Run a recorded command (:class:`Propose`, :class:`Accept`, :class:`Decline`,
        :class:`Withdraw`, :class:`SetPreviousClose`, :class:`~tanhui.market.rules.Tick`)."""
        return dispatch(self, command, self.COMMANDS)

    def _market_problem(self, quantity: int, price: int, now: dt.datetime) -> Reason | None:
        block = quantity >= self.rules.block_min_t
        if not self.rules.in_session(now, block=block):
            return Reason.OUTSIDE_SESSION
        reason = self.rules.price_problem(price)
        if reason is None and price not in self.rules.band(self.previous_close, block=block):
            reason = Reason.OUTSIDE_BAND
        return reason

    def propose(
        self,
        proposal_id: Hashable,
        proposer: Hashable,
        seller: Hashable,
        buyer: Hashable,
        quantity: int,
        price: int,
        expires_at: dt.datetime,
        now: dt.datetime,
    ) -> list[Any]:
        """Propose a trade to the counterparty (the proposer is the seller or the buyer)."""
        events = self.tick(now)
        reason: Reason | None
        if proposal_id in self.proposals:
            reason = Reason.DUPLICATE_ID
        elif seller == buyer:
            reason = Reason.SAME_PARTY
        elif proposer not in (seller, buyer):
            reason = Reason.NOT_PARTY
        elif not self.rules.quantity_ok(quantity):
            reason = Reason.BAD_QUANTITY
        elif expires_at <= now:
            reason = Reason.BAD_EXPIRY
        else:
            reason = self._market_problem(quantity, price, now)
        if reason is not None:
            events.append(Rejected(proposal_id, reason, now))
            return events
        block = quantity >= self.rules.block_min_t
        p = Proposal(
            proposal_id,
            proposer,
            seller,
            buyer,
            quantity,
            price,
            block,
            expires_at,
            ProposalState.OPEN,
        )
        self.proposals[proposal_id] = p
        self._open[proposal_id] = None
        events.append(
            ProposalMade(
                proposal_id, proposer, seller, buyer, quantity, price, block, expires_at, now
            )
        )
        return events

    def _get_open(self, proposal_id: Hashable) -> tuple[Proposal | None, Reason | None]:
        p = self.proposals.get(proposal_id)
        if p is None:
            return None, Reason.UNKNOWN_PROPOSAL
        if p.state is not ProposalState.OPEN:
            return p, Reason.PROPOSAL_CLOSED
        return p, None

    def _end(self, p: Proposal, state: ProposalState) -> None:
        self.proposals[p.proposal_id] = Proposal(
            p.proposal_id,
            p.proposer,
            p.seller,
            p.buyer,
            p.quantity,
            p.price,
            p.block,
            p.expires_at,
            state,
        )
        del self._open[p.proposal_id]

    def accept(self, proposal_id: Hashable, by: Hashable, now: dt.datetime) -> list[Any]:
        """The counterparty accepts: the agreement is concluded (the trade)."""
        events = self.tick(now)
        p, reason = self._get_open(proposal_id)
        if p is not None and reason is None:
            if by != p.counterparty:
                reason = Reason.NOT_COUNTERPARTY
            else:
                reason = self._market_problem(p.quantity, p.price, now)
        if p is None or reason is not None:
            events.append(Rejected(proposal_id, reason or Reason.UNKNOWN_PROPOSAL, now))
            return events
        self._end(p, ProposalState.ACCEPTED)
        money = self.fees.settle(p.price, p.quantity)
        events.append(
            AgreementConcluded(
                proposal_id,
                p.seller,
                p.buyer,
                p.quantity,
                p.price,
                money.value,
                p.block,
                money.buyer_fee,
                money.seller_fee,
                now,
            )
        )
        return events

    def decline(self, proposal_id: Hashable, by: Hashable, now: dt.datetime) -> list[Any]:
        """The counterparty declines."""
        events = self.tick(now)
        p, reason = self._get_open(proposal_id)
        if p is not None and reason is None and by != p.counterparty:
            reason = Reason.NOT_COUNTERPARTY
        if p is None or reason is not None:
            events.append(Rejected(proposal_id, reason or Reason.UNKNOWN_PROPOSAL, now))
            return events
        self._end(p, ProposalState.DECLINED)
        events.append(ProposalDeclined(proposal_id, now))
        return events

    def withdraw(self, proposal_id: Hashable, by: Hashable, now: dt.datetime) -> list[Any]:
        """The proposer withdraws an open proposal."""
        events = self.tick(now)
        p, reason = self._get_open(proposal_id)
        if p is not None and reason is None and by != p.proposer:
            reason = Reason.NOT_PROPOSER
        if p is None or reason is not None:
            events.append(Rejected(proposal_id, reason or Reason.UNKNOWN_PROPOSAL, now))
            return events
        self._end(p, ProposalState.WITHDRAWN)
        events.append(ProposalWithdrawn(proposal_id, now))
        return events

    def set_previous_close(self, price: int, now: dt.datetime) -> list[Any]:
        """Take the listed market's new close (from :class:`~tanhui.market.orderbook.DayClosed`)."""
        events = self.tick(now)
        reason = self.rules.price_problem(price)
        if reason is not None:
            events.append(Rejected("previous_close", reason, now))
            return events
        self.previous_close = price
        events.append(PreviousCloseSet(price, now))
        return events

    def tick(self, now: dt.datetime) -> list[Any]:
        """Expire open proposals whose ``expires_at`` has come, in creation order."""
        events: list[Any] = []
        for pid in [pid for pid in self._open if self.proposals[pid].expires_at <= now]:
            self._end(self.proposals[pid], ProposalState.EXPIRED)
            events.append(ProposalExpired(pid, now))
        return events
