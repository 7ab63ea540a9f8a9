"""Market statistics: volume, value and VWAP by scheme, region, channel and period; reference
prices for collateral.

Every settled deal (:class:`~tanhui.db.market_tables.MarketDeal`; a listed trade counts once its
DvP settlement is done, normally at once) counts, whatever its channel
(listed, agreement, block, auction, negotiated, storage), unless ``channels`` says otherwise. By
region, a deal counts where its tonnes come from: each delivered registry block carries the
6-digit region code of its project (a deal drawing on two counties' blocks counts in both, each
with its share of the tonnes at the deal's price).

VWAP = Σ value / Σ tonnes, in fen per tonne rounded half up (like the close). A period is a
``day``, ``week`` (ISO, Monday first), ``month``, ``quarter`` or ``year`` of the exchange's
business days (Beijing dates). Public: no actor.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from tanhui.db.market_tables import (
    BOOKS,
    CLOSES,
    DEALS,
    DELIVERIES,
    MarketBook,
    MarketClose,
    MarketDelivery,
)
from tanhui.db.uow import UnitOfWork
from tanhui.errors import InputError
from tanhui.market.rules import round_half_up

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tanhui.market.service import Market

PERIODS = ("day", "week", "month", "quarter", "year")
GROUPS = ("scheme", "region", "channel")


def period_of(day: dt.date, period: str) -> str:
    """The label of the period containing ``day``: ``2026-03-02``, ``2026-W10``, ``2026-03``,
    ``2026-Q1``, ``2026``."""
    if period == "day":
        return day.isoformat()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{day.year}-{day.month:02d}"
    if period == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if period == "year":
        return str(day.year)
    raise InputError(
        f"未知的统计周期 {period}。",
        f"Unknown period {period}.",
        field="period",
        hint_zh="可选：" + "、".join(PERIODS),
        hint_en="One of: " + ", ".join(PERIODS),
    )


def vwap(value: int, volume: int) -> int | None:
    return round_half_up(value, volume) if volume else None


def reference_price(
    session: Session,
    scheme: str,
    until: dt.date,
    days: int,
    channels: Iterable[str] | None = None,
) -> tuple[int | None, str]:
    """The VWAP of ``scheme`` over the ``days`` calendar days ending ``until`` (inclusive), and
    where it came from: ``vwap``; else the book's last close (``close``), else its opening
    reference (``initial``); ``(None, "none")`` when the scheme has no market."""
    query = select(
        func.coalesce(func.sum(DEALS.c.value_fen), 0),
        func.coalesce(func.sum(DEALS.c.quantity), 0),
    ).where(
        DEALS.c.scheme == scheme,
        DEALS.c.state == "settled",
        DEALS.c.trade_day <= until,
        DEALS.c.trade_day > until - dt.timedelta(days=days),
    )
    if channels is not None:
        query = query.where(DEALS.c.channel.in_(list(channels)))
    value, volume = session.execute(query).one()
    price = vwap(int(value), int(volume))
    if price is not None:
        return price, "vwap"
    close = session.scalar(
        select(CLOSES.c.close_fen)
        .join(MarketBook, BOOKS.c.id == CLOSES.c.book_id)
        .where(BOOKS.c.scheme == scheme, CLOSES.c.day <= until)
        .order_by(CLOSES.c.day.desc())
        .limit(1)
    )
    if close is not None:
        return int(close), "close"
    initial = session.scalar(select(BOOKS.c.initial_close_fen).where(BOOKS.c.scheme == scheme))
    if initial is not None:
        return int(initial), "initial"
    return None, "none"


class MarketStats:
    """Statistics of settled deals (``Market.stats``)."""

    def __init__(self, market: Market) -> None:
        self.market = market

    def summary(
        self,
        *,
        period: str = "day",
        by: Iterable[str] = ("scheme",),
        scheme: str | None = None,
        region: str | None = None,
        channels: Iterable[str] | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of ``period`` × the ``by`` groups (``scheme``, ``region``, ``channel``): deals,
        volume (t), value (fen), VWAP (fen/t); oldest period first. ``region`` filters by a
        6-digit code or a prefix (``35`` = Fujian, ``3504`` = Sanming)."""
        groups = tuple(by)
        for g in groups:
            if g not in GROUPS:
                raise InputError(f"未知的分组 {g}。", f"Unknown grouping {g}.", field="by")
        period_of(dt.date(2026, 1, 1), period)  # validates
        with UnitOfWork(self.market.engine, read_only=True) as uow:
            per_region = "region" in groups or region is not None
            if per_region:
                quantity = DELIVERIES.c.quantity
                value = DEALS.c.price_fen * DELIVERIES.c.quantity
                query = select(
                    DEALS.c.trade_day,
                    DEALS.c.scheme,
                    DELIVERIES.c.region_code,
                    DEALS.c.channel,
                    func.count(func.distinct(DEALS.c.id)),
                    func.sum(quantity),
                    func.sum(value),
                ).join(MarketDelivery, DELIVERIES.c.deal_id == DEALS.c.id)
                keys = (
                    DEALS.c.trade_day,
                    DEALS.c.scheme,
                    DELIVERIES.c.region_code,
                    DEALS.c.channel,
                )
            else:
                query = select(
                    DEALS.c.trade_day,
                    DEALS.c.scheme,
                    DEALS.c.channel,
                    func.count(DEALS.c.id),
                    func.sum(DEALS.c.quantity),
                    func.sum(DEALS.c.value_fen),
                )
                keys = (DEALS.c.trade_day, DEALS.c.scheme, DEALS.c.channel)
            query = query.where(DEALS.c.state == "settled")
            if scheme is not None:
                query = query.where(DEALS.c.scheme == scheme)
            if region is not None:
                query = query.where(DELIVERIES.c.region_code.like(f"{region}%"))
            if channels is not None:
                query = query.where(DEALS.c.channel.in_(list(channels)))
            if start is not None:
                query = query.where(DEALS.c.trade_day >= start)
            if end is not None:
                query = query.where(DEALS.c.trade_day <= end)
            rows = uow.session.execute(query.group_by(*keys)).all()
        totals: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0])
        for row in rows:
            if per_region:
                day, sch, reg, channel, deals, vol, val = row
            else:
                day, sch, channel, deals, vol, val = row
                reg = None
            names = {"scheme": sch, "region": reg, "channel": channel}
            key = (period_of(day, period), *(names[g] for g in groups))
            t = totals[key]
            t[0] += int(deals)
            t[1] += int(vol)
            t[2] += int(val)
        out = []
        for key in sorted(totals, key=lambda k: tuple(str(x) for x in k)):
            deals, vol, val = totals[key]
            item: dict[str, Any] = {"period": key[0]}
            item.update(zip(groups, key[1:], strict=True))
            item.update(deals=deals, volume=vol, value_fen=val, vwap_fen=vwap(val, vol))
            out.append(item)
        return out

    def vwap(
        self,
        scheme: str,
        *,
        days: int = 20,
        until: dt.date | None = None,
        channels: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """The reference price of ``scheme``: VWAP over ``days`` days ending ``until`` (default
        today), else the last close; with its ``source``."""
        day = until or self.market.now().date()
        with UnitOfWork(self.market.engine, read_only=True) as uow:
            price, source = reference_price(uow.session, scheme, day, days, channels)
        return {
            "scheme": scheme,
            "until": day.isoformat(),
            "days": days,
            "price_fen": price,
            "source": source,
        }

    def closes(
        self, scheme: str, *, start: dt.date | None = None, end: dt.date | None = None
    ) -> list[dict[str, Any]]:
        """The book's daily closes (close, volume, value), oldest first."""
        with UnitOfWork(self.market.engine, read_only=True) as uow:
            query = (
                select(MarketClose)
                .join(MarketBook, BOOKS.c.id == CLOSES.c.book_id)
                .where(BOOKS.c.scheme == scheme)
            )
            if start is not None:
                query = query.where(CLOSES.c.day >= start)
            if end is not None:
                query = query.where(CLOSES.c.day <= end)
            return [
                {
                    "day": c.day.isoformat(),
                    "close_fen": c.close_fen,
                    "previous_close_fen": c.previous_close_fen,
                    "volume": c.volume,
                    "value_fen": c.value_fen,
                }
                for c in uow.session.scalars(query.order_by(CLOSES.c.day))
            ]
