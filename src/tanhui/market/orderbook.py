"""The listed-agreement (挂牌协议) continuous order book. Pure, stdlib only, deterministic.

Rules (``shared/reference/market.md`` [V national CEA]): limit orders in whole ticks (0.01 yuan)
and lots (1 t), each under 100,000 t; price band ±10 % of the previous close; sessions 9:30–11:30
and 13:00–15:00 on working days; price-then-time priority; a taker picks among the best five
opposite price levels and trades at the counterparty's (maker's) price; unfilled orders cancel at
the close; the close is the volume-weighted average of the day's trades (previous close if none).
Numbers and rounding live in :mod:`tanhui.market.rules`.

Commands — each returns the list of events it produced, and a journal of :class:`Submit`,
:class:`Cancel` and :class:`CloseDay` records replayed through :meth:`ListedBook.apply` on a fresh
book gives the same events and the same state:

* :meth:`ListedBook.submit` — :class:`OrderAccepted`, then for each fill a :class:`Trade` (and
  :class:`OrderFilled` when a maker is done), then the taker's outcome: :class:`OrderFilled`,
  :class:`OrderRested` or :class:`OrderCancelled`; or a single :class:`~tanhui.market.rules.Rejected`.
* :meth:`ListedBook.cancel` — :class:`OrderCancelled` or ``Rejected``.
* :meth:`ListedBook.close_day` — :class:`OrderExpired` for every resting order (in arrival order)
  and :class:`DayClosed` with the close.

Pre-trade checks, in this order (the first failing one is the reason): time not before the current
trading day (``stale_time``); order id unused (``duplicate_id``); in a session of a working day
(``outside_session``); the day not closed yet (``market_closed``); quantity a positive whole
number of lots (``bad_quantity``) and under the block threshold (``over_size_limit``); price positive
(``bad_price``) on a whole tick (``bad_tick``) and within the band (``outside_band``); no self-trade
(``self_trade``).

Decisions where the rules are silent:

* **Five levels.** Matching sweeps at most :attr:`MarketRules.levels` (5) opposite price levels.
  If a remainder is left and the book beyond those levels still crosses its limit, the remainder is
  **cancelled** (reason ``beyond_levels``, like the exchanges' "best five, rest cancelled" order),
  since resting it would leave a crossed book; otherwise the remainder rests at its limit price.
* **Self-trade prevention rejects the taker** (the whole order, before any fill) when any resting
  order it would trade against — simulating the same sweep — belongs to the same ``owner``. Resting
  orders are never touched by someone else's action, and a rejection needs no partial unwinding.
* **Day roll.** Any command dated after the current trading day first closes that day (its events
  come first in the command's result), so orders never survive their day even if the operator's
  15:00 :meth:`ListedBook.close_day` was missed. A closed day accepts no more orders. Cancels are
  accepted outside sessions (they only lower risk).
* **Time priority is arrival order** (a sequence number), not ``now``, so equal timestamps are fine.
* **Fees are per fill** (:class:`~tanhui.market.rules.FeeSchedule`, rounded down to a fen), carried
  on each :class:`Trade`.

Settlement hook: the service reserves the buyer's cash (:meth:`FeeSchedule.buy_reservation` at the
limit price) or the seller's tonnes **before** calling :meth:`ListedBook.submit` and passes the
reservation's id; :class:`OrderAccepted` carries it back. Each :class:`Trade` draws from the two
reservations (DvP: the service moves tonnes and cash of a trade in one transaction); when an order
ends — :class:`OrderFilled`, :class:`OrderCancelled`, :class:`OrderExpired` — what is left of its
reservation is released; a ``Rejected`` order's reservation is released at once. The core never
knows money balances.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

from tanhui.market.rules import (
    Command,
    FeeSchedule,
    MarketRules,
    PriceBand,
    Reason,
    Rejected,
    Side,
    dispatch,
    vwap_close,
)

BUY, SELL = Side.BUY, Side.SELL


class OrderStatus(Enum):
    RESTING = "resting"
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


# ---------------------------------------------------------------------------------------------
# events


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    order_id: Hashable
    side: Side
    price: int
    quantity: int
    owner: Hashable
    account: Hashable
    reservation: Hashable
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class Trade:
    """One fill between a buy and a sell order, at the maker's price; fees in fen."""

    trade_id: int
    time: dt.datetime
    price: int
    quantity: int
    buy_order_id: Hashable
    sell_order_id: Hashable
    buyer: Hashable
    seller: Hashable
    buyer_account: Hashable
    seller_account: Hashable
    taker_side: Side
    buyer_fee: int
    seller_fee: int

    @property
    def value(self) -> int:
        return self.price * self.quantity

    @property
    def maker_order_id(self) -> Hashable:
        return self.sell_order_id if self.taker_side is BUY else self.buy_order_id


@dataclass(frozen=True, slots=True)
class OrderRested:
    """The taker's unfilled remainder now rests in the book at its limit price."""

    order_id: Hashable
    price: int
    remaining: int
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class OrderFilled:
    """The order is completely filled."""

    order_id: Hashable
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    """The order ended with ``remaining`` t unfilled (``owner_cancel`` or ``beyond_levels``)."""

    order_id: Hashable
    remaining: int
    reason: Reason
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class OrderExpired:
    """The order was still resting at the close and is cancelled with ``remaining`` t unfilled."""

    order_id: Hashable
    remaining: int
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class DayClosed:
    """The trading day ``day`` closed: the close is the VWAP of its trades (fen/t)."""

    day: dt.date
    close_price: int
    previous_close: int
    volume: int
    value: int
    time: dt.datetime


Event = OrderAccepted | Trade | OrderRested | OrderFilled | OrderCancelled | OrderExpired
BookEvent = Event | DayClosed | Rejected


# ---------------------------------------------------------------------------------------------
# commands


@dataclass(frozen=True, slots=True)
class Submit(Command):
    method: ClassVar[str] = "submit"
    order_id: Hashable
    side: Side
    price: int
    quantity: int
    owner: Hashable
    account: Hashable
    now: dt.datetime
    reservation: Hashable = None


@dataclass(frozen=True, slots=True)
class Cancel(Command):
    method: ClassVar[str] = "cancel"
    order_id: Hashable
    owner: Hashable
    now: dt.datetime


@dataclass(frozen=True, slots=True)
class CloseDay(Command):
    method: ClassVar[str] = "close_day"
    now: dt.datetime


# ---------------------------------------------------------------------------------------------
# views


@dataclass(frozen=True, slots=True)
class OrderState:
    """A read-only view of one order."""

    order_id: Hashable
    side: Side
    price: int
    quantity: int
    filled: int
    remaining: int
    status: OrderStatus
    owner: Hashable
    account: Hashable
    reservation: Hashable
    seq: int
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class Level:
    """One price level of the depth: total quantity and number of orders."""

    price: int
    quantity: int
    orders: int


@dataclass(frozen=True, slots=True)
class Depth:
    """The best levels of each side, best first."""

    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


# ---------------------------------------------------------------------------------------------
# internals


class _Order:
    __slots__ = (
        "account",
        "order_id",
        "owner",
        "price",
        "quantity",
        "remaining",
        "reservation",
        "seq",
        "side",
        "status",
        "time",
    )

    def __init__(self, order_id, side, price, quantity, owner, account, reservation, seq, time):
        self.order_id = order_id
        self.side = side
        self.price = price
        self.quantity = quantity
        self.remaining = quantity
        self.owner = owner
        self.account = account
        self.reservation = reservation
        self.seq = seq
        self.time = time
        self.status = OrderStatus.RESTING

    def view(self) -> OrderState:
        return OrderState(
            self.order_id,
            self.side,
            self.price,
            self.quantity,
            self.quantity - self.remaining,
            self.remaining,
            self.status,
            self.owner,
            self.account,
            self.reservation,
            self.seq,
            self.time,
        )


class _Level:
    """A FIFO queue of orders at one price. Cancelled orders stay in the deque (lazy deletion)
    and are skipped; ``quantity`` and ``count`` cover live orders only."""

    __slots__ = ("count", "orders", "price", "quantity")

    def __init__(self, price: int) -> None:
        self.price = price
        self.orders: deque[_Order] = deque()
        self.quantity = 0
        self.count = 0


_RESTING = OrderStatus.RESTING


class ListedBook:
    """The continuous book of one instrument (one scheme's tickets) under listed agreement.

    ``previous_close`` (fen/t) sets the first day's band; each close sets the next day's.
    """

    COMMANDS = frozenset({"submit", "cancel", "close_day"})

    def __init__(
        self,
        previous_close: int,
        rules: MarketRules | None = None,
        fees: FeeSchedule | None = None,
    ) -> None:
        self.rules = rules or MarketRules()
        self.fees = fees or FeeSchedule()
        self.previous_close = previous_close
        self.rules.band(previous_close)  # validates the close
        self.trades: list[Trade] = []
        self.closes: list[DayClosed] = []
        self._orders: dict[Hashable, _Order] = {}
        # Per side: price → level, and the level keys sorted ascending with the best last
        # (bids key = price, asks key = −price) so the best level is keys[-1] and pops are O(1).
        self._bids: dict[int, _Level] = {}
        self._asks: dict[int, _Level] = {}
        self._bid_keys: list[int] = []
        self._ask_keys: list[int] = []
        self._seq = 0
        self._trade_seq = 0
        self._day: dt.date | None = None
        self._open = False
        self._band = self.rules.band(previous_close)
        self._day_value = 0
        self._day_volume = 0

    def _side(self, side: Side) -> tuple[dict[int, _Level], list[int]]:
        # (Enum hashing is slow; an identity test is not.)
        if side is BUY:
            return self._bids, self._bid_keys
        return self._asks, self._ask_keys

    # -- queries

    @property
    def band(self) -> PriceBand:
        """The current day's price band."""
        return self._band

    @property
    def day(self) -> dt.date | None:
        """The current (or last) trading day."""
        return self._day

    @property
    def is_open(self) -> bool:
        """Whether the current trading day is in progress (not closed yet)."""
        return self._open

    def order(self, order_id: Hashable) -> OrderState | None:
        """The current state of an accepted order (``None`` if it was never accepted)."""
        o = self._orders.get(order_id)
        return o.view() if o is not None else None

    def orders(self) -> list[OrderState]:
        """Every accepted order, in arrival order."""
        return [o.view() for o in self._orders.values()]

    def best(self, side: Side) -> int | None:
        """The best price of one side (highest bid, lowest ask), or ``None`` if it is empty."""
        keys = self._side(side)[1]
        if not keys:
            return None
        return keys[-1] if side is BUY else -keys[-1]

    def depth(self, levels: int | None = None) -> Depth:
        """The best ``levels`` (default 5) price levels of each side, best first."""
        n = self.rules.levels if levels is None else levels

        def side(s: Side) -> tuple[Level, ...]:
            book, keys = self._side(s)
            out = []
            for k in reversed(keys[-n:] if n else []):
                lv = book[k if s is BUY else -k]
                out.append(Level(lv.price, lv.quantity, lv.count))
            return tuple(out)

        return Depth(side(BUY), side(SELL))

    def resting(self, side: Side) -> list[OrderState]:
        """Resting orders of one side in priority order (best price first, then arrival)."""
        out = []
        book, keys = self._side(side)
        for k in reversed(keys):
            lv = book[k if side is BUY else -k]
            out.extend(o.view() for o in lv.orders if o.status is _RESTING)
        return out

    def snapshot(self) -> dict[str, Any]:
        """A plain, comparable picture of the whole state (for replay and reference tests)."""

        def side(s: Side) -> list[tuple[int, tuple[tuple[Hashable, int], ...]]]:
            book, keys = self._side(s)
            return [
                (
                    book[k if s is BUY else -k].price,
                    tuple(
                        (o.order_id, o.remaining)
                        for o in book[k if s is BUY else -k].orders
                        if o.status is _RESTING
                    ),
                )
                for k in reversed(keys)
            ]

        return {
            "day": self._day,
            "open": self._open,
            "previous_close": self.previous_close,
            "band": (self._band.low, self._band.high),
            "bids": side(BUY),
            "asks": side(SELL),
            "orders": {
                o.order_id: (o.status.value, o.quantity - o.remaining, o.remaining)
                for o in self._orders.values()
            },
            "trades": len(self.trades),
        }

    # -- commands

    def apply(self, command: Command) -> list[BookEvent]:
        """Run a recorded command (:class:`Submit`, :class:`Cancel`, :class:`CloseDay`)."""
        return dispatch(self, command, self.COMMANDS)

    def submit(
        self,
        order_id: Hashable,
        side: Side,
        price: int,
        quantity: int,
        owner: Hashable,
        account: Hashable,
        now: dt.datetime,
        reservation: Hashable = None,
    ) -> list[BookEvent]:
        """Enter a limit order; it trades at once as far as it can, the rest rests or cancels."""
        side = Side(side)  # "buy"/"sell" from a form or a journal become the enum
        events: list[BookEvent] = []
        reason = self._roll(now, events)
        rules = self.rules
        if reason is None:
            if order_id in self._orders:
                reason = Reason.DUPLICATE_ID
            elif not rules.in_session(now):
                reason = Reason.OUTSIDE_SESSION
            elif not self._open or self._day != now.date():
                reason = Reason.MARKET_CLOSED
            elif not rules.quantity_ok(quantity):
                reason = Reason.BAD_QUANTITY
            elif quantity >= rules.block_min_t:
                reason = Reason.OVER_SIZE_LIMIT
            else:
                reason = rules.price_problem(price)
                if reason is None:
                    if not self._band.low <= price <= self._band.high:
                        reason = Reason.OUTSIDE_BAND
                    elif self._would_self_trade(side, price, quantity, owner):
                        reason = Reason.SELF_TRADE
        if reason is not None:
            events.append(Rejected(order_id, reason, now))
            return events

        self._seq += 1
        order = _Order(order_id, side, price, quantity, owner, account, reservation, self._seq, now)
        self._orders[order_id] = order
        events.append(
            OrderAccepted(order_id, side, price, quantity, owner, account, reservation, now)
        )
        self._match(order, now, events)
        if order.remaining == 0:
            order.status = OrderStatus.FILLED
            events.append(OrderFilled(order_id, now))
        elif self._crosses_opposite(order):
            order.status = OrderStatus.CANCELLED
            events.append(OrderCancelled(order_id, order.remaining, Reason.BEYOND_LEVELS, now))
        else:
            self._rest(order)
            events.append(OrderRested(order_id, price, order.remaining, now))
        return events

    def cancel(self, order_id: Hashable, owner: Hashable, now: dt.datetime) -> list[BookEvent]:
        """Cancel the unfilled remainder of one's own resting order."""
        events: list[BookEvent] = []
        reason = self._roll(now, events)
        order = self._orders.get(order_id)
        if reason is None:
            if order is None:
                reason = Reason.UNKNOWN_ORDER
            elif order.owner != owner:
                reason = Reason.NOT_OWNER
            elif order.status is not _RESTING:
                reason = Reason.NOT_ACTIVE
        if reason is not None or order is None:
            events.append(Rejected(order_id, reason or Reason.UNKNOWN_ORDER, now))
            return events
        self._unlink(order)
        order.status = OrderStatus.CANCELLED
        events.append(OrderCancelled(order_id, order.remaining, Reason.OWNER_CANCEL, now))
        return events

    def close_day(self, now: dt.datetime) -> list[BookEvent]:
        """The close: expire every resting order and fix the close price for the next day."""
        events: list[BookEvent] = []
        reason = self._roll(now, events)
        if reason is None:
            if self._day != now.date():
                reason = Reason.NOT_TRADING_DAY
            elif not self._open:
                reason = Reason.MARKET_CLOSED
        if reason is not None:
            events.append(Rejected(now.date(), reason, now))
            return events
        self._close(now, events)
        return events

    # -- internals

    def _roll(self, now: dt.datetime, events: list[BookEvent]) -> Reason | None:
        """Close a past trading day still open and open ``now``'s day if it is a working day."""
        d = now.date()
        if self._day is not None:
            if d < self._day:
                return Reason.STALE_TIME
            if d > self._day and self._open:
                self._close(now, events)
        if d != self._day and self.rules.is_working_day(d):
            self._day = d
            self._open = True
            self._day_value = self._day_volume = 0
        return None

    def _close(self, now: dt.datetime, events: list[BookEvent]) -> None:
        live = [
            o
            for book in (self._bids, self._asks)
            for lv in book.values()
            for o in lv.orders
            if o.status is _RESTING
        ]
        live.sort(key=lambda o: o.seq)
        for o in live:
            o.status = OrderStatus.EXPIRED
            events.append(OrderExpired(o.order_id, o.remaining, now))
        for container in (self._bids, self._asks, self._bid_keys, self._ask_keys):
            container.clear()
        previous = self.previous_close
        close = vwap_close(self._day_value, self._day_volume, previous, self.rules.tick_fen)
        assert self._day is not None
        closed = DayClosed(self._day, close, previous, self._day_volume, self._day_value, now)
        events.append(closed)
        self.closes.append(closed)
        self.previous_close = close
        self._band = self.rules.band(close)
        self._open = False

    def _would_self_trade(self, side: Side, price: int, quantity: int, owner: Hashable) -> bool:
        """Simulate the sweep: does any order it would trade against belong to ``owner``?"""
        opp = SELL if side is BUY else BUY
        book, keys = self._side(opp)
        bound = -price if side is BUY else price
        need = quantity
        for i in range(1, min(len(keys), self.rules.levels) + 1):
            k = keys[-i]
            if k < bound:
                break
            for o in book[k if opp is BUY else -k].orders:
                if o.status is not _RESTING:
                    continue
                if o.owner == owner:
                    return True
                need -= o.remaining
                if need <= 0:
                    return False
        return False

    def _crosses_opposite(self, order: _Order) -> bool:
        keys = self._ask_keys if order.side is BUY else self._bid_keys
        if not keys:
            return False
        return keys[-1] >= (-order.price if order.side is BUY else order.price)

    def _match(self, taker: _Order, now: dt.datetime, events: list[BookEvent]) -> None:
        side = taker.side
        opp = SELL if side is BUY else BUY
        book, keys = self._side(opp)
        bound = -taker.price if side is BUY else taker.price
        levels_left = self.rules.levels
        fees = self.fees
        while taker.remaining and keys and levels_left and keys[-1] >= bound:
            levels_left -= 1
            level = book[keys[-1] if opp is BUY else -keys[-1]]
            queue = level.orders
            while taker.remaining and queue:
                maker = queue[0]
                if maker.status is not _RESTING:
                    queue.popleft()
                    continue
                q = min(taker.remaining, maker.remaining)
                taker.remaining -= q
                maker.remaining -= q
                level.quantity -= q
                price = maker.price
                money = fees.settle(price, q)
                buy, sell = (taker, maker) if side is BUY else (maker, taker)
                self._trade_seq += 1
                trade = Trade(
                    self._trade_seq,
                    now,
                    price,
                    q,
                    buy.order_id,
                    sell.order_id,
                    buy.owner,
                    sell.owner,
                    buy.account,
                    sell.account,
                    side,
                    money.buyer_fee,
                    money.seller_fee,
                )
                self.trades.append(trade)
                events.append(trade)
                self._day_value += money.value
                self._day_volume += q
                if maker.remaining == 0:
                    maker.status = OrderStatus.FILLED
                    queue.popleft()
                    level.count -= 1
                    events.append(OrderFilled(maker.order_id, now))
            if level.count == 0:
                del book[level.price]
                keys.pop()

    def _rest(self, order: _Order) -> None:
        side = order.side
        book, keys = self._side(side)
        level = book.get(order.price)
        if level is None:
            level = book[order.price] = _Level(order.price)
            insort(keys, order.price if side is BUY else -order.price)
        level.orders.append(order)
        level.quantity += order.remaining
        level.count += 1

    def _unlink(self, order: _Order) -> None:
        side = order.side
        book, keys = self._side(side)
        level = book[order.price]
        level.quantity -= order.remaining
        level.count -= 1
        if level.count == 0:
            del book[order.price]
            del keys[bisect_left(keys, order.price if side is BUY else -order.price)]


def replay(book: ListedBook, journal: Iterable[Command]) -> list[BookEvent]:
    """Apply every command of ``journal`` to ``book``; return all events in order."""
    events: list[BookEvent] = []
    for command in journal:
        events.extend(book.apply(command))
    return events
