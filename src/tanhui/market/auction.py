"""One-way auctions (单向竞价) and the listing rule of agreement transfer (协议转让). Pure, stdlib.

Three designs from ``shared/reference/market.md`` [V]; every command takes the time ``now`` and
returns its events; :meth:`tick` closes what has expired (every other command ticks first, so a
bid that arrives after the countdown ran out is refused, never accepted late). Money is in fen,
prices fen/t, quantities t. A journal of the command records replayed through ``apply`` on a
fresh object gives the same events and state.

**(a) Single lot, ascending, with countdown** — :class:`AscendingAuction` (Guangzhou exchange;
rural property exchanges). The seller sets quantity, start price, reserve price, increment (whole
ticks), deposit and the bidding window; the lot is frozen on listing (by the service). A bidder
must have paid the deposit (:meth:`~AscendingAuction.qualify`). The first bid may equal the start
price; each next bid must exceed the best by at least the increment. Ties cannot happen: a later
bid equal to the best is refused (``equal_bid_later``), so the earlier bid keeps the lead. Each
valid bid restarts the countdown: ``ends_at = max(ends_at, now + countdown)``. When the window
ends, the last (= highest) valid bid wins if it is at least the reserve; otherwise no sale.
Losers' deposits are released at the close (the rules say "within 7 working days"; at once is
within). The winner pays within ``payment_days`` (3) working days — by the end of that day — or
forfeits the deposit.

**(b) Multi-unit, uniform price** — :class:`UniformAuction` (Guangdong/Shanghai allowance
auctions). Bids (price, quantity) are irrevocable, at least ``min_bid_t`` (1,000 t) each, and one
bidder's bids together at most ``bidder_cap_ppm`` (50 %) of the supply. At the close, bids at or
above the reserve are ranked by price, then time. If demand ≤ supply all fill, at the lowest bid
price; otherwise they fill in rank order, the marginal bid partially, and the uniform price is the
lowest winning bid. No bid below the reserve fills (the reserve is not shown to bidders, so such
bids are accepted and simply do not fill).

**(c) The listing rule of agreement transfer** — :class:`TransferListing` (Sha County exchange:
"online listing → matching → agreement → signing"). A listing is announced for at least 7 days;
qualified intended buyers register during the announcement. At its end: none → the listing lapses
(it may go to 收储); exactly one → negotiation at a price ≥ the listing price; two or more →
an ascending auction (a) among them, start and reserve = the listing price.

Decisions where the sources are silent:

* **Default of the winner (a):** the deposit is forfeited and the lot is **returned to the seller
  to be relisted** (:meth:`AscendingAuction.relisted`), not offered to the runner-up: the losers'
  deposits were released at the close, so the runner-up is no longer bound, and a price set against
  a defaulting bidder may not be a fair price. The same holds per bidder in (b): a forfeited award
  returns its tonnes to the seller (:class:`Unsold`).
* The best bidder may not outbid themselves (``already_best``).
* Payment confirmation releases the winner's deposit (:class:`DepositReleased`); the service may
  net it against the price instead.
* A bidder's deposit is one per auction (not per bid); qualification is allowed until the close.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Hashable
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

from tanhui.market.rules import (
    PPM,
    Command,
    InvalidTerms,
    MarketRules,
    Reason,
    Rejected,
    dispatch,
)

# ---------------------------------------------------------------------------------------------
# events


@dataclass(frozen=True, slots=True)
class BidderQualified:
    """The bidder's deposit is frozen (by the service); they may bid."""

    auction_id: Hashable
    bidder: Hashable
    deposit: int
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class BidAccepted:
    auction_id: Hashable
    bid_id: Hashable
    bidder: Hashable
    price: int
    quantity: int
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class AuctionExtended:
    """A valid bid restarted the countdown: bidding now ends at ``ends_at``."""

    auction_id: Hashable
    ends_at: dt.datetime
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class Won:
    """``bidder`` won ``quantity`` t at ``price``; pays ``value`` fen by the end of ``payment_due``."""

    auction_id: Hashable
    bidder: Hashable
    quantity: int
    price: int
    value: int
    payment_due: dt.date
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class AuctionFailed:
    """No sale (``no_bids`` or ``below_reserve``); the lot stays with the seller."""

    auction_id: Hashable
    reason: Reason
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class AuctionCleared:
    """The uniform-price auction cleared at ``price`` for ``sold`` t; ``unsold`` t remain."""

    auction_id: Hashable
    price: int
    sold: int
    unsold: int
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class BidFilled:
    auction_id: Hashable
    bid_id: Hashable
    bidder: Hashable
    price: int
    quantity: int
    requested: int
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class BidUnfilled:
    auction_id: Hashable
    bid_id: Hashable
    bidder: Hashable
    reason: Reason
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class Unsold:
    """``quantity`` t return to the seller (undersubscribed, or a winner's default)."""

    auction_id: Hashable
    quantity: int
    reason: Reason
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class DepositReleased:
    auction_id: Hashable
    bidder: Hashable
    amount: int
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class PaymentConfirmed:
    auction_id: Hashable
    bidder: Hashable
    amount: int
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class Forfeited:
    """The winner did not pay by the deadline: the deposit goes to the seller/exchange."""

    auction_id: Hashable
    bidder: Hashable
    deposit: int
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class IntentRegistered:
    listing_id: Hashable
    buyer: Hashable
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class ListingLapsed:
    listing_id: Hashable
    reason: Reason
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class NegotiationOpened:
    """Exactly one intended buyer: negotiate at a price of at least ``floor_price``."""

    listing_id: Hashable
    buyer: Hashable
    floor_price: int
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class NegotiatedDeal:
    listing_id: Hashable
    seller: Hashable
    buyer: Hashable
    quantity: int
    price: int
    value: int
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class AuctionCalled:
    """Two or more intended buyers: an ascending auction among them opens."""

    listing_id: Hashable
    bidders: tuple[Hashable, ...]
    opens_at: dt.datetime
    ends_at: dt.datetime
    time: dt.datetime


# ---------------------------------------------------------------------------------------------
# commands


@dataclass(frozen=True, slots=True)
class Qualify(Command):
    method: ClassVar[str] = "qualify"
    bidder: Hashable
    now: dt.datetime


@dataclass(frozen=True, slots=True)
class PlaceBid(Command):
    """A bid of the ascending auction (the lot's whole quantity at ``price``)."""

    method: ClassVar[str] = "bid"
    bid_id: Hashable
    bidder: Hashable
    price: int
    now: dt.datetime


@dataclass(frozen=True, slots=True)
class PlaceUniformBid(Command):
    method: ClassVar[str] = "bid"
    bid_id: Hashable
    bidder: Hashable
    price: int
    quantity: int
    now: dt.datetime


@dataclass(frozen=True, slots=True)
class ConfirmPayment(Command):
    method: ClassVar[str] = "confirm_payment"
    now: dt.datetime


@dataclass(frozen=True, slots=True)
class ConfirmBidderPayment(Command):
    method: ClassVar[str] = "confirm_payment"
    bidder: Hashable
    now: dt.datetime


@dataclass(frozen=True, slots=True)
class ExpressIntent(Command):
    method: ClassVar[str] = "express_intent"
    buyer: Hashable
    now: dt.datetime


@dataclass(frozen=True, slots=True)
class Conclude(Command):
    method: ClassVar[str] = "conclude"
    buyer: Hashable
    price: int
    now: dt.datetime


@dataclass(frozen=True, slots=True)
class Abandon(Command):
    method: ClassVar[str] = "abandon"
    now: dt.datetime


# ---------------------------------------------------------------------------------------------
# shared pieces


class AuctionState(Enum):
    OPEN = "open"  # announced or bidding (bids accepted between opens_at and ends_at)
    AWARDED = "awarded"  # (a) a winner owes payment; (b) cleared, awards may be pending
    SETTLED = "settled"  # (a) the winner paid
    DEFAULTED = "defaulted"  # (a) the winner forfeited; relist
    FAILED = "failed"  # no sale


@dataclass(frozen=True, slots=True)
class Bid:
    """A recorded valid bid (``seq`` is its arrival rank)."""

    bid_id: Hashable
    bidder: Hashable
    price: int
    quantity: int
    seq: int
    time: dt.datetime


def _check_common(rules: MarketRules, problems: list[str], **prices: int) -> None:
    for name, price in prices.items():
        if rules.price_problem(price) is not None:
            problems.append(f"{name} must be a positive whole number of ticks")


# ---------------------------------------------------------------------------------------------
# (a) single lot, ascending


@dataclass(frozen=True)
class AscendingTerms:
    """Terms of a single-lot ascending auction (amounts in fen, prices fen/t)."""

    auction_id: Hashable
    seller: Hashable
    quantity: int
    start_price: int
    reserve_price: int
    increment_ticks: int
    deposit: int
    opens_at: dt.datetime
    ends_at: dt.datetime
    countdown: dt.timedelta
    payment_days: int = 3

    def validate(self, rules: MarketRules) -> None:
        problems: list[str] = []
        if not rules.quantity_ok(self.quantity):
            problems.append("quantity must be a positive whole number of lots")
        _check_common(rules, problems, start_price=self.start_price, reserve=self.reserve_price)
        if self.increment_ticks < 1:
            problems.append("the increment must be at least one tick")
        if self.deposit < 0:
            problems.append("the deposit must not be negative")
        if not self.opens_at < self.ends_at:
            problems.append("bidding must open before it ends")
        if self.countdown <= dt.timedelta(0):
            problems.append("the countdown must be positive")
        if self.payment_days < 0:
            problems.append("payment_days must not be negative")
        if problems:
            raise InvalidTerms(f"auction {self.auction_id}", problems)


class AscendingAuction:
    """Single-lot ascending auction with a countdown that restarts on every valid bid."""

    COMMANDS = frozenset({"qualify", "bid", "tick", "confirm_payment"})

    def __init__(self, terms: AscendingTerms, rules: MarketRules | None = None) -> None:
        self.rules = rules or MarketRules()
        terms.validate(self.rules)
        self.terms = terms
        self.state = AuctionState.OPEN
        self.ends_at = terms.ends_at
        self.bids: list[Bid] = []
        self.qualified: list[Hashable] = []  # in qualification order
        self.payment_due: dt.date | None = None
        self._qualified: set[Hashable] = set()
        self._bid_ids: set[Hashable] = set()

    @property
    def best(self) -> Bid | None:
        """The current best (= last valid) bid."""
        return self.bids[-1] if self.bids else None

    @property
    def winner(self) -> Hashable:
        if self.state in (AuctionState.AWARDED, AuctionState.SETTLED, AuctionState.DEFAULTED):
            return self.bids[-1].bidder
        return None

    @property
    def min_next_price(self) -> int:
        """The lowest price a new bid may have now."""
        best = self.best
        if best is None:
            return self.terms.start_price
        return best.price + self.terms.increment_ticks * self.rules.tick_fen

    def apply(self, command: Command) -> list[Any]:
        """Run a recorded command (:class:`Qualify`, :class:`PlaceBid`, :class:`Tick`,
        :class:`ConfirmPayment`)."""
        return dispatch(self, command, self.COMMANDS)

    def qualify(self, bidder: Hashable, now: dt.datetime) -> list[Any]:
        """Record that ``bidder`` has paid the deposit (the service froze it)."""
        events = self.tick(now)
        t = self.terms
        if self.state is not AuctionState.OPEN:
            reason: Reason | None = Reason.AUCTION_CLOSED
        elif bidder == t.seller:
            reason = Reason.SELLER_CANNOT_BID
        elif bidder in self._qualified:
            reason = Reason.ALREADY_QUALIFIED
        else:
            reason = None
        if reason is not None:
            events.append(Rejected(bidder, reason, now))
            return events
        self._qualified.add(bidder)
        self.qualified.append(bidder)
        events.append(BidderQualified(t.auction_id, bidder, t.deposit, now))
        return events

    def bid(self, bid_id: Hashable, bidder: Hashable, price: int, now: dt.datetime) -> list[Any]:
        """Bid ``price`` fen/t for the whole lot."""
        events = self.tick(now)
        t = self.terms
        best = self.best
        reason: Reason | None
        if self.state is not AuctionState.OPEN:
            reason = Reason.AUCTION_CLOSED
        elif now < t.opens_at:
            reason = Reason.NOT_OPEN
        elif bid_id in self._bid_ids:
            reason = Reason.DUPLICATE_ID
        elif bidder not in self._qualified:
            reason = Reason.NOT_QUALIFIED
        else:
            reason = self.rules.price_problem(price)
        if reason is None:
            if best is None:
                if price < t.start_price:
                    reason = Reason.BELOW_START
            elif bidder == best.bidder:
                reason = Reason.ALREADY_BEST
            elif price < best.price:
                reason = Reason.BID_TOO_LOW
            elif price == best.price:
                reason = Reason.EQUAL_BID_LATER
            elif price < self.min_next_price:
                reason = Reason.BELOW_INCREMENT
        if reason is not None:
            events.append(Rejected(bid_id, reason, now))
            return events
        self._bid_ids.add(bid_id)
        self.bids.append(Bid(bid_id, bidder, price, t.quantity, len(self.bids) + 1, now))
        events.append(BidAccepted(t.auction_id, bid_id, bidder, price, t.quantity, now))
        if now + t.countdown > self.ends_at:
            self.ends_at = now + t.countdown
            events.append(AuctionExtended(t.auction_id, self.ends_at, now))
        return events

    def tick(self, now: dt.datetime) -> list[Any]:
        """Close the bidding if the countdown ran out; forfeit an award unpaid past its due day."""
        events: list[Any] = []
        t = self.terms
        if self.state is AuctionState.OPEN and now >= self.ends_at:
            best = self.best
            if best is None or best.price < t.reserve_price:
                self.state = AuctionState.FAILED
                reason = Reason.NO_BIDS if best is None else Reason.BELOW_RESERVE
                events.append(AuctionFailed(t.auction_id, reason, now))
                release = self.qualified
            else:
                self.state = AuctionState.AWARDED
                self.payment_due = self.rules.add_working_days(self.ends_at.date(), t.payment_days)
                value = best.price * t.quantity
                events.append(
                    Won(
                        t.auction_id,
                        best.bidder,
                        t.quantity,
                        best.price,
                        value,
                        self.payment_due,
                        now,
                    )
                )
                release = [b for b in self.qualified if b != best.bidder]
            events.extend(DepositReleased(t.auction_id, b, t.deposit, now) for b in release)
        if (
            self.state is AuctionState.AWARDED
            and self.payment_due is not None
            and now.date() > self.payment_due
        ):
            self.state = AuctionState.DEFAULTED
            events.append(Forfeited(t.auction_id, self.bids[-1].bidder, t.deposit, now))
            events.append(Unsold(t.auction_id, t.quantity, Reason.PAYMENT_OVERDUE, now))
        return events

    def confirm_payment(self, now: dt.datetime) -> list[Any]:
        """The service received the winner's payment in time: settle, release the deposit."""
        events = self.tick(now)
        t = self.terms
        if self.state is not AuctionState.AWARDED:
            reason = (
                Reason.PAYMENT_OVERDUE
                if self.state is AuctionState.DEFAULTED
                else Reason.NOT_AWARDED
            )
            events.append(Rejected(t.auction_id, reason, now))
            return events
        best = self.bids[-1]
        self.state = AuctionState.SETTLED
        events.append(PaymentConfirmed(t.auction_id, best.bidder, best.price * t.quantity, now))
        events.append(DepositReleased(t.auction_id, best.bidder, t.deposit, now))
        return events

    def relisted(
        self, auction_id: Hashable, opens_at: dt.datetime, ends_at: dt.datetime
    ) -> AscendingAuction:
        """A new auction of the same lot and terms after no sale or a default."""
        if self.state not in (AuctionState.FAILED, AuctionState.DEFAULTED):
            raise InvalidTerms(f"auction {self.terms.auction_id}", ["only an unsold lot relists"])
        terms = dataclasses.replace(
            self.terms, auction_id=auction_id, opens_at=opens_at, ends_at=ends_at
        )
        return AscendingAuction(terms, self.rules)


# ---------------------------------------------------------------------------------------------
# (b) multi-unit, uniform price


@dataclass(frozen=True)
class UniformTerms:
    """Terms of a multi-unit uniform-price auction."""

    auction_id: Hashable
    seller: Hashable
    supply: int
    reserve_price: int
    deposit: int
    opens_at: dt.datetime
    closes_at: dt.datetime
    min_bid_t: int = 1000
    bidder_cap_ppm: int = 500_000
    payment_days: int = 3

    @property
    def bidder_cap_t(self) -> int:
        """The most one bidder may bid for in total (rounded down to a tonne)."""
        return self.supply * self.bidder_cap_ppm // PPM

    def validate(self, rules: MarketRules) -> None:
        problems: list[str] = []
        if not rules.quantity_ok(self.supply):
            problems.append("supply must be a positive whole number of lots")
        _check_common(rules, problems, reserve=self.reserve_price)
        if self.deposit < 0:
            problems.append("the deposit must not be negative")
        if not self.opens_at < self.closes_at:
            problems.append("bidding must open before it closes")
        if self.min_bid_t < 1:
            problems.append("the minimum bid must be at least 1 t")
        if not 0 < self.bidder_cap_ppm <= PPM:
            problems.append("the bidder cap must be in (0, 100 %]")
        elif self.bidder_cap_t < self.min_bid_t:
            problems.append("the bidder cap is below the minimum bid: nobody could bid")
        if self.payment_days < 0:
            problems.append("payment_days must not be negative")
        if problems:
            raise InvalidTerms(f"auction {self.auction_id}", problems)


@dataclass(frozen=True, slots=True)
class Allocation:
    """The result of a uniform-price clearing: price, fills per bid id (rank order), unsold."""

    price: int | None
    fills: tuple[tuple[Hashable, int], ...]
    unsold: int


def clear_uniform(bids: list[Bid], supply: int, reserve_price: int) -> Allocation:
    """Clear a uniform-price auction: rank by price then time, fill up to ``supply``.

    Bids below the reserve never fill. If the eligible demand is at most the supply every eligible
    bid fills completely; otherwise bids fill in rank order and the marginal bid partially. The
    price is the lowest price among the bids that fill (``None`` when nothing fills).
    """
    ranked = sorted((b for b in bids if b.price >= reserve_price), key=lambda b: (-b.price, b.seq))
    left = supply
    fills: list[tuple[Hashable, int]] = []
    price = None
    for b in ranked:
        if left == 0:
            break
        q = b.quantity if b.quantity < left else left
        left -= q
        fills.append((b.bid_id, q))
        price = b.price
    return Allocation(price, tuple(fills), left)


class UniformAuction:
    """Multi-unit sealed bids cleared at one uniform price (the lowest winning bid)."""

    COMMANDS = frozenset({"qualify", "bid", "cancel_bid", "tick", "confirm_payment"})

    def __init__(self, terms: UniformTerms, rules: MarketRules | None = None) -> None:
        self.rules = rules or MarketRules()
        terms.validate(self.rules)
        self.terms = terms
        self.state = AuctionState.OPEN
        self.bids: list[Bid] = []
        self.qualified: list[Hashable] = []
        self.allocation: Allocation | None = None
        self.payment_due: dt.date | None = None
        #: bidder → (quantity, value) still awaiting payment
        self.pending: dict[Hashable, tuple[int, int]] = {}
        self._qualified: set[Hashable] = set()
        self._bid_ids: set[Hashable] = set()
        self._bidder_total: dict[Hashable, int] = {}

    def apply(self, command: Command) -> list[Any]:
        """Run a recorded command (:class:`Qualify`, :class:`PlaceUniformBid`, :class:`Tick`,
        :class:`ConfirmBidderPayment`)."""
        return dispatch(self, command, self.COMMANDS)

    def qualify(self, bidder: Hashable, now: dt.datetime) -> list[Any]:
        """Record that ``bidder`` has paid the deposit (the service froze it)."""
        events = self.tick(now)
        t = self.terms
        if self.state is not AuctionState.OPEN:
            reason: Reason | None = Reason.AUCTION_CLOSED
        elif bidder == t.seller:
            reason = Reason.SELLER_CANNOT_BID
        elif bidder in self._qualified:
            reason = Reason.ALREADY_QUALIFIED
        else:
            reason = None
        if reason is not None:
            events.append(Rejected(bidder, reason, now))
            return events
        self._qualified.add(bidder)
        self.qualified.append(bidder)
        events.append(BidderQualified(t.auction_id, bidder, t.deposit, now))
        return events

    def bid(
        self, bid_id: Hashable, bidder: Hashable, price: int, quantity: int, now: dt.datetime
    ) -> list[Any]:
        """An irrevocable bid for ``quantity`` t at up to ``price`` fen/t."""
        events = self.tick(now)
        t = self.terms
        reason: Reason | None
        if self.state is not AuctionState.OPEN:
            reason = Reason.AUCTION_CLOSED
        elif now < t.opens_at:
            reason = Reason.NOT_OPEN
        elif bid_id in self._bid_ids:
            reason = Reason.DUPLICATE_ID
        elif bidder not in self._qualified:
            reason = Reason.NOT_QUALIFIED
        else:
            reason = self.rules.price_problem(price)
        if reason is None:
            if not self.rules.quantity_ok(quantity):
                reason = Reason.BAD_QUANTITY
            elif quantity < t.min_bid_t:
                reason = Reason.BELOW_MIN_SIZE
            elif self._bidder_total.get(bidder, 0) + quantity > t.bidder_cap_t:
                reason = Reason.OVER_BIDDER_CAP
        if reason is not None:
            events.append(Rejected(bid_id, reason, now))
            return events
        self._bid_ids.add(bid_id)
        self._bidder_total[bidder] = self._bidder_total.get(bidder, 0) + quantity
        self.bids.append(Bid(bid_id, bidder, price, quantity, len(self.bids) + 1, now))
        events.append(BidAccepted(t.auction_id, bid_id, bidder, price, quantity, now))
        return events

    def cancel_bid(self, bid_id: Hashable, bidder: Hashable, now: dt.datetime) -> list[Any]:
        """Always refused: bids are irrevocable."""
        events = self.tick(now)
        events.append(Rejected(bid_id, Reason.IRREVOCABLE, now))
        return events

    def tick(self, now: dt.datetime) -> list[Any]:
        """Clear at ``closes_at``; forfeit awards unpaid past their due day."""
        events: list[Any] = []
        t = self.terms
        if self.state is AuctionState.OPEN and now >= t.closes_at:
            self._clear(now, events)
        if self.pending and self.payment_due is not None and now.date() > self.payment_due:
            for bidder, (quantity, _value) in self.pending.items():
                events.append(Forfeited(t.auction_id, bidder, t.deposit, now))
                events.append(Unsold(t.auction_id, quantity, Reason.PAYMENT_OVERDUE, now))
            self.pending.clear()
        return events

    def _clear(self, now: dt.datetime, events: list[Any]) -> None:
        t = self.terms
        alloc = clear_uniform(self.bids, t.supply, t.reserve_price)
        self.allocation = alloc
        if alloc.price is None:
            self.state = AuctionState.FAILED
            reason = Reason.NO_BIDS if not self.bids else Reason.BELOW_RESERVE
            events.append(AuctionFailed(t.auction_id, reason, now))
            events.extend(
                BidUnfilled(t.auction_id, b.bid_id, b.bidder, Reason.BELOW_RESERVE, now)
                for b in self.bids
            )
            events.extend(DepositReleased(t.auction_id, b, t.deposit, now) for b in self.qualified)
            return
        self.state = AuctionState.AWARDED
        price = alloc.price
        sold = t.supply - alloc.unsold
        events.append(AuctionCleared(t.auction_id, price, sold, alloc.unsold, now))
        filled = dict(alloc.fills)
        won: dict[Hashable, int] = {}
        for b in sorted(self.bids, key=lambda b: (-b.price, b.seq)):
            q = filled.get(b.bid_id, 0)
            if q:
                won[b.bidder] = won.get(b.bidder, 0) + q
                events.append(
                    BidFilled(t.auction_id, b.bid_id, b.bidder, price, q, b.quantity, now)
                )
            else:
                why = Reason.BELOW_RESERVE if b.price < t.reserve_price else Reason.OUTBID
                events.append(BidUnfilled(t.auction_id, b.bid_id, b.bidder, why, now))
        if alloc.unsold:
            events.append(Unsold(t.auction_id, alloc.unsold, Reason.UNDERSUBSCRIBED, now))
        self.payment_due = self.rules.add_working_days(t.closes_at.date(), t.payment_days)
        for bidder in self.qualified:
            q = won.get(bidder, 0)
            if q:
                self.pending[bidder] = (q, q * price)
                events.append(Won(t.auction_id, bidder, q, price, q * price, self.payment_due, now))
            else:
                events.append(DepositReleased(t.auction_id, bidder, t.deposit, now))

    def confirm_payment(self, bidder: Hashable, now: dt.datetime) -> list[Any]:
        """The service received ``bidder``'s payment in time: release their deposit."""
        events = self.tick(now)
        t = self.terms
        if bidder not in self.pending:
            events.append(Rejected(bidder, Reason.NOT_AWARDED, now))
            return events
        _quantity, value = self.pending.pop(bidder)
        events.append(PaymentConfirmed(t.auction_id, bidder, value, now))
        events.append(DepositReleased(t.auction_id, bidder, t.deposit, now))
        return events


# ---------------------------------------------------------------------------------------------
# (c) agreement-transfer listing


class ListingState(Enum):
    ANNOUNCING = "announcing"
    NEGOTIATING = "negotiating"
    AUCTION = "auction"
    AGREED = "agreed"
    LAPSED = "lapsed"


@dataclass(frozen=True)
class ListingTerms:
    """A 协议转让 listing, and the terms of the auction held if two or more buyers come."""

    listing_id: Hashable
    seller: Hashable
    quantity: int
    listing_price: int
    announced_at: dt.datetime
    deposit: int
    increment_ticks: int
    auction_duration: dt.timedelta
    countdown: dt.timedelta
    announce_days: int = 7
    payment_days: int = 3

    @property
    def announcement_ends(self) -> dt.datetime:
        return self.announced_at + dt.timedelta(days=self.announce_days)

    def validate(self, rules: MarketRules) -> None:
        problems: list[str] = []
        if not rules.quantity_ok(self.quantity):
            problems.append("quantity must be a positive whole number of lots")
        _check_common(rules, problems, listing_price=self.listing_price)
        if self.announce_days < 7:
            problems.append("a listing is announced for at least 7 days")
        if self.increment_ticks < 1 or self.deposit < 0:
            problems.append("the increment must be ≥ 1 tick and the deposit ≥ 0")
        if self.auction_duration <= dt.timedelta(0) or self.countdown <= dt.timedelta(0):
            problems.append("the auction duration and countdown must be positive")
        if problems:
            raise InvalidTerms(f"listing {self.listing_id}", problems)


class TransferListing:
    """Listing → (no buyer: lapse | one buyer: negotiation | two or more: ascending auction)."""

    COMMANDS = frozenset(
        {"express_intent", "tick", "conclude", "abandon", "bid", "confirm_payment"}
    )

    def __init__(self, terms: ListingTerms, rules: MarketRules | None = None) -> None:
        self.rules = rules or MarketRules()
        terms.validate(self.rules)
        self.terms = terms
        self.state = ListingState.ANNOUNCING
        self.buyers: list[Hashable] = []
        self.auction: AscendingAuction | None = None
        self.deal: NegotiatedDeal | None = None

    def apply(self, command: Command) -> list[Any]:
        """Run a recorded command (:class:`ExpressIntent`, :class:`Tick`, :class:`Conclude`,
        :class:`Abandon`, :class:`PlaceBid`, :class:`ConfirmPayment`)."""
        return dispatch(self, command, self.COMMANDS)

    def express_intent(self, buyer: Hashable, now: dt.datetime) -> list[Any]:
        """A qualified intended buyer (deposit paid) registers during the announcement."""
        events = self.tick(now)
        t = self.terms
        if self.state is not ListingState.ANNOUNCING or now < t.announced_at:
            reason: Reason | None = Reason.NOT_ANNOUNCING
        elif buyer == t.seller:
            reason = Reason.SELLER_CANNOT_BID
        elif buyer in self.buyers:
            reason = Reason.ALREADY_QUALIFIED
        else:
            reason = None
        if reason is not None:
            events.append(Rejected(buyer, reason, now))
            return events
        self.buyers.append(buyer)
        events.append(IntentRegistered(t.listing_id, buyer, now))
        return events

    def tick(self, now: dt.datetime) -> list[Any]:
        """End the announcement when due (lapse, negotiation or auction); tick the auction."""
        events: list[Any] = []
        t = self.terms
        if self.state is ListingState.ANNOUNCING and now >= t.announcement_ends:
            if not self.buyers:
                self.state = ListingState.LAPSED
                events.append(ListingLapsed(t.listing_id, Reason.NO_INTENDED_BUYER, now))
            elif len(self.buyers) == 1:
                self.state = ListingState.NEGOTIATING
                events.append(NegotiationOpened(t.listing_id, self.buyers[0], t.listing_price, now))
            else:
                self.state = ListingState.AUCTION
                terms = AscendingTerms(
                    auction_id=t.listing_id,
                    seller=t.seller,
                    quantity=t.quantity,
                    start_price=t.listing_price,
                    reserve_price=t.listing_price,
                    increment_ticks=t.increment_ticks,
                    deposit=t.deposit,
                    opens_at=now,
                    ends_at=now + t.auction_duration,
                    countdown=t.countdown,
                    payment_days=t.payment_days,
                )
                self.auction = AscendingAuction(terms, self.rules)
                events.append(
                    AuctionCalled(t.listing_id, tuple(self.buyers), now, terms.ends_at, now)
                )
                for buyer in self.buyers:
                    events.extend(self.auction.qualify(buyer, now))
        if self.auction is not None:
            events.extend(self.auction.tick(now))
        return events

    def conclude(self, buyer: Hashable, price: int, now: dt.datetime) -> list[Any]:
        """Record the negotiated agreement with the one intended buyer (price ≥ listing price)."""
        events = self.tick(now)
        t = self.terms
        if self.state is not ListingState.NEGOTIATING:
            reason = Reason.WRONG_STATE
        elif buyer != self.buyers[0]:
            reason = Reason.NOT_INTENDED_BUYER
        else:
            reason = self.rules.price_problem(price)
            if reason is None and price < t.listing_price:
                reason = Reason.BELOW_LISTING_PRICE
        if reason is not None:
            events.append(Rejected(t.listing_id, reason, now))
            return events
        self.state = ListingState.AGREED
        self.deal = NegotiatedDeal(
            t.listing_id, t.seller, buyer, t.quantity, price, price * t.quantity, now
        )
        events.append(self.deal)
        events.append(DepositReleased(t.listing_id, buyer, t.deposit, now))
        return events

    def abandon(self, now: dt.datetime) -> list[Any]:
        """The negotiation failed: the listing lapses and the buyer's deposit is released."""
        events = self.tick(now)
        t = self.terms
        if self.state is not ListingState.NEGOTIATING:
            events.append(Rejected(t.listing_id, Reason.WRONG_STATE, now))
            return events
        self.state = ListingState.LAPSED
        events.append(ListingLapsed(t.listing_id, Reason.NEGOTIATION_FAILED, now))
        events.append(DepositReleased(t.listing_id, self.buyers[0], t.deposit, now))
        return events

    def bid(self, bid_id: Hashable, bidder: Hashable, price: int, now: dt.datetime) -> list[Any]:
        """A bid in the auction among the intended buyers."""
        events = self.tick(now)
        if self.auction is None:
            events.append(Rejected(bid_id, Reason.WRONG_STATE, now))
            return events
        events.extend(self.auction.bid(bid_id, bidder, price, now))
        return events

    def confirm_payment(self, now: dt.datetime) -> list[Any]:
        """The auction winner paid (see :meth:`AscendingAuction.confirm_payment`)."""
        events = self.tick(now)
        if self.auction is None:
            events.append(Rejected(self.terms.listing_id, Reason.WRONG_STATE, now))
            return events
        events.extend(self.auction.confirm_payment(now))
        return events
