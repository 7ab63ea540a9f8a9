"""A deliberately naive reference model of the order book and of the uniform-price auction.

Written from the rule text (``shared/reference/market.md`` and the module docstrings of
:mod:`tanhui.market.orderbook` and :mod:`tanhui.market.auction`), not from the fast code: plain
lists, a full scan and re-sort of every live order on every command, exact fractions for the band,
the close and the fees, and the uniform-price auction cleared one tonne at a time. It is slow on
purpose. The tests drive it and the fast cores with the same commands and require the same events,
the same books, the same trades and the same positions.

It shares only the vocabulary with the cores: the event and command classes, :class:`Reason`, and
the configured numbers of :class:`MarketRules` (tick, lot, limits, bands, sessions, calendar).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Hashable
from fractions import Fraction
from typing import Any

from tanhui.market.auction import Allocation
from tanhui.market.orderbook import (
    DayClosed,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRested,
    Trade,
)
from tanhui.market.rules import Command, FeeSchedule, MarketRules, Reason, Rejected, Side


class _RefOrder:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


class ReferenceBook:
    """The listed-agreement book, naively. Same commands and events as ``ListedBook``."""

    def __init__(
        self,
        previous_close: int,
        rules: MarketRules | None = None,
        fees: FeeSchedule | None = None,
    ) -> None:
        self.rules = rules or MarketRules()
        self.fees = fees or FeeSchedule()
        self.previous_close = previous_close
        self.orders: dict[Hashable, _RefOrder] = {}  # every accepted order, arrival order
        self.resting: list[_RefOrder] = []  # the live ones, arrival order
        self.trades: list[Trade] = []
        self.day: dt.date | None = None
        self.open = False
        self.today: list[Trade] = []
        self._bands: dict[int, tuple[int, int]] = {}  # previous close → band (a memo only)

    # -- rule arithmetic, from the text

    def band(self) -> tuple[int, int]:
        if self.previous_close not in self._bands:
            self._bands[self.previous_close] = self._band()
        return self._bands[self.previous_close]

    def _band(self) -> tuple[int, int]:
        r = self.rules
        share = Fraction(r.listed_band_bp, 10000)
        low_ticks = math.ceil(self.previous_close * (1 - share) / r.tick_fen)
        high_ticks = math.floor(self.previous_close * (1 + share) / r.tick_fen)
        return max(low_ticks, 1) * r.tick_fen, high_ticks * r.tick_fen

    def in_session(self, now: dt.datetime) -> bool:
        if not self.rules.is_working_day(now.date()):
            return False

        def secs(t: dt.time) -> int:  # microseconds since midnight
            return ((t.hour * 60 + t.minute) * 60 + t.second) * 10**6 + t.microsecond

        x = secs(now.time())
        return any(secs(a) <= x < secs(b) for a, b in self.rules.listed_sessions)

    def fee(self, value: int, ppm: int) -> int:
        return math.floor(Fraction(value * ppm, 10**6))

    def close_price(self) -> int:
        volume = sum(t.quantity for t in self.today)
        if volume == 0:
            return self.previous_close
        vwap = Fraction(sum(t.price * t.quantity for t in self.today), volume)
        ticks = math.floor(vwap / self.rules.tick_fen + Fraction(1, 2))
        return ticks * self.rules.tick_fen

    # -- commands

    def apply(self, command: Command) -> list[Any]:
        return getattr(self, command.method)(**command.arguments())

    def _roll(self, now: dt.datetime, events: list[Any]) -> Reason | None:
        today = now.date()
        if self.day is not None and today < self.day:
            return Reason.STALE_TIME
        if self.day is not None and today > self.day and self.open:
            self._close(now, events)
        if self.day != today and self.rules.is_working_day(today):
            self.day, self.open, self.today = today, True, []
        return None

    def _close(self, now: dt.datetime, events: list[Any]) -> None:
        for o in self.resting:
            o.status = "expired"
            events.append(OrderExpired(o.order_id, o.remaining, now))
        self.resting = []
        close = self.close_price()
        volume = sum(t.quantity for t in self.today)
        value = sum(t.price * t.quantity for t in self.today)
        assert self.day is not None
        events.append(DayClosed(self.day, close, self.previous_close, volume, value, now))
        self.previous_close = close
        self.open = False

    def _reachable(self, side: Side, limit: int) -> list[_RefOrder]:
        """Opposite resting orders the order may trade with: crossing, best 5 prices, FIFO."""
        opposite = [o for o in self.resting if o.side != side]
        if side is Side.BUY:
            crossing = [o for o in opposite if o.price <= limit]
            crossing.sort(key=lambda o: (o.price, o.seq))
        else:
            crossing = [o for o in opposite if o.price >= limit]
            crossing.sort(key=lambda o: (-o.price, o.seq))
        prices: list[int] = []
        for o in crossing:
            if o.price not in prices:
                prices.append(o.price)
        allowed = prices[: self.rules.levels]
        return [o for o in crossing if o.price in allowed]

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
    ) -> list[Any]:
        side = Side(side)
        events: list[Any] = []
        reason = self._roll(now, events)
        r = self.rules
        if reason is None:
            low, high = self.band()
            if order_id in self.orders:
                reason = Reason.DUPLICATE_ID
            elif not self.in_session(now):
                reason = Reason.OUTSIDE_SESSION
            elif not (self.open and self.day == now.date()):
                reason = Reason.MARKET_CLOSED
            elif not isinstance(quantity, int) or quantity <= 0 or quantity % r.lot_t != 0:
                reason = Reason.BAD_QUANTITY
            elif quantity >= r.block_min_t:
                reason = Reason.OVER_SIZE_LIMIT
            elif not isinstance(price, int):
                reason = Reason.BAD_TICK
            elif price <= 0:
                reason = Reason.BAD_PRICE
            elif price % r.tick_fen != 0:
                reason = Reason.BAD_TICK
            elif price < low or price > high:
                reason = Reason.OUTSIDE_BAND
            else:
                need = quantity
                for o in self._reachable(side, price):
                    if need <= 0:
                        break
                    if o.owner == owner:
                        reason = Reason.SELF_TRADE
                        break
                    need -= o.remaining
        if reason is not None:
            events.append(Rejected(order_id, reason, now))
            return events

        me = _RefOrder(
            order_id=order_id,
            side=side,
            price=price,
            quantity=quantity,
            remaining=quantity,
            owner=owner,
            account=account,
            seq=len(self.orders) + 1,
            status="resting",
        )
        events.append(
            OrderAccepted(order_id, side, price, quantity, owner, account, reservation, now)
        )
        for maker in self._reachable(side, price):
            if me.remaining == 0:
                break
            q = min(me.remaining, maker.remaining)
            me.remaining -= q
            maker.remaining -= q
            buy, sell = (me, maker) if side is Side.BUY else (maker, me)
            value = maker.price * q
            trade = Trade(
                len(self.trades) + 1,
                now,
                maker.price,
                q,
                buy.order_id,
                sell.order_id,
                buy.owner,
                sell.owner,
                buy.account,
                sell.account,
                side,
                self.fee(value, self.fees.buyer_ppm),
                self.fee(value, self.fees.seller_ppm),
            )
            self.trades.append(trade)
            self.today.append(trade)
            events.append(trade)
            if maker.remaining == 0:
                maker.status = "filled"
                events.append(OrderFilled(maker.order_id, now))
        self.orders[order_id] = me
        self.resting = [o for o in self.resting if o.status == "resting"]
        if me.remaining == 0:
            me.status = "filled"
            events.append(OrderFilled(order_id, now))
        else:
            still_crossing = [
                o
                for o in self.resting
                if o.side != side and (o.price <= price if side is Side.BUY else o.price >= price)
            ]
            if still_crossing:
                me.status = "cancelled"
                events.append(OrderCancelled(order_id, me.remaining, Reason.BEYOND_LEVELS, now))
            else:
                self.resting.append(me)
                events.append(OrderRested(order_id, price, me.remaining, now))
        return events

    def cancel(self, order_id: Hashable, owner: Hashable, now: dt.datetime) -> list[Any]:
        events: list[Any] = []
        reason = self._roll(now, events)
        found = [self.orders[order_id]] if order_id in self.orders else []
        if reason is None:
            if not found:
                reason = Reason.UNKNOWN_ORDER
            elif found[0].owner != owner:
                reason = Reason.NOT_OWNER
            elif found[0].status != "resting":
                reason = Reason.NOT_ACTIVE
        if reason is not None:
            events.append(Rejected(order_id, reason, now))
            return events
        found[0].status = "cancelled"
        self.resting = [o for o in self.resting if o.status == "resting"]
        events.append(OrderCancelled(order_id, found[0].remaining, Reason.OWNER_CANCEL, now))
        return events

    def close_day(self, now: dt.datetime) -> list[Any]:
        events: list[Any] = []
        reason = self._roll(now, events)
        if reason is None:
            if self.day != now.date():
                reason = Reason.NOT_TRADING_DAY
            elif not self.open:
                reason = Reason.MARKET_CLOSED
        if reason is not None:
            events.append(Rejected(now.date(), reason, now))
            return events
        self._close(now, events)
        return events

    # -- the same picture as ListedBook.snapshot()

    def snapshot(self) -> dict[str, Any]:
        def side(s: Side) -> list[tuple[int, tuple[tuple[Hashable, int], ...]]]:
            live = [o for o in self.resting if o.side is s]
            prices = sorted({o.price for o in live}, reverse=s is Side.BUY)
            return [
                (p, tuple((o.order_id, o.remaining) for o in live if o.price == p)) for p in prices
            ]

        return {
            "day": self.day,
            "open": self.open,
            "previous_close": self.previous_close,
            "band": self.band(),
            "bids": side(Side.BUY),
            "asks": side(Side.SELL),
            "orders": {
                o.order_id: (o.status, o.quantity - o.remaining, o.remaining)
                for o in self.orders.values()
            },
            "trades": len(self.trades),
        }


def reference_uniform(
    bids: list[tuple[Hashable, int, int]], supply: int, reserve_price: int
) -> Allocation:
    """Clear a uniform-price auction one tonne at a time.

    ``bids`` are ``(bid_id, price, quantity)`` in arrival order. Every tonne of every bid at or
    above the reserve becomes one unit; the units are sorted by price (high first), then arrival;
    the first ``supply`` units are sold; the price is the lowest price among them.
    """
    units = []
    for arrival, (bid_id, price, quantity) in enumerate(bids):
        if price >= reserve_price:
            units.extend([(-price, arrival, bid_id)] * quantity)
    units.sort(key=lambda u: (u[0], u[1]))
    sold = units[:supply]
    fills: dict[Hashable, int] = {}
    for _neg_price, _arrival, bid_id in sold:
        fills[bid_id] = fills.get(bid_id, 0) + 1
    price = min(-u[0] for u in sold) if sold else None
    return Allocation(price, tuple(fills.items()), supply - len(sold))
