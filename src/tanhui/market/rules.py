"""Exchange rules as integer arithmetic: ticks, lots, price bands, sessions, the close, fees.

Pure, stdlib only. Prices are integer **fen per tonne** (分/吨), quantities integer **tonnes**,
money integer **fen**; times are values passed in (Beijing exchange time, naive or aware — only
``.date()`` and ``.time()`` are read), never the clock.

Rules and their source (``shared/reference/market.md``, tags [V national CEA] unless noted):

==========================  ===================================================================
rule                        value here (all configurable in :class:`MarketRules`)
==========================  ===================================================================
tick                        0.01 yuan = 1 fen (``tick_fen``)
lot                         1 t (``lot_t``)
single listed order         < 100,000 t (``block_min_t``); ≥ 100,000 t is a block agreement
band, listed agreement      ±10 % of the previous close (``listed_band_bp`` = 1000 basis points)
band, block agreement       ±30 % of the previous close (``block_band_bp`` = 3000)
sessions, listed            9:30–11:30 and 13:00–15:00 on working days
sessions, block             13:00–15:00 on working days
close                       volume-weighted average of the day's listed trades, else previous close
fees                        both sides, on trade value, rates configurable (not published)
==========================  ===================================================================

Decisions where the sources are silent:

* **Band limits are rounded inward** to whole ticks: ``low = ceil(prev × (1 − b) / tick) × tick``,
  ``high = floor(prev × (1 + b) / tick) × tick`` (exact integer arithmetic, no floats), and ``low``
  is at least one tick. A previous close of 10.01 yuan gives a ±10 % band of 9.01–11.01 yuan.
* **Sessions are half-open** ``[start, end)``: an order at 9:30:00 is in, one at 11:30:00 is out.
  Which days are working days is a predicate injected in :class:`MarketRules` (default Monday to
  Friday; pass the exchange's holiday calendar).
* **The close is rounded half up to a whole tick** (四舍五入): VWAP 12.345 yuan → 12.35 yuan.
* **Fees are charged per fill and rounded down to a whole fen** (truncation, in the payer's
  favour). Rates are integer parts per million of the trade value (1 bp = 100 ppm). Rounding down is
  chosen because it is superadditive: the fees of the fills of one order never exceed the fee of
  the order's value at its limit price, so a buyer's reservation of
  :meth:`FeeSchedule.buy_reservation` always covers every fill. Money is conserved exactly:
  ``buyer pays = value + buyer fee``, ``seller receives = value − seller fee``,
  ``exchange gets = buyer fee + seller fee``, and ``buyer pays = seller receives + exchange gets``.

Every refusal is a :class:`Rejected` event carrying a :class:`Reason` (a stable code plus Chinese
and English text), never an exception; :class:`InvalidTerms` is raised only for a market object
built with impossible terms (a programming or configuration error, not a participant's).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any, ClassVar

from tanhui.errors import TanhuiError
from tanhui.i18n import Lang, pick

#: 0.01 yuan in fen.
TICK_FEN = 1
#: Quantity step in tonnes.
LOT_T = 1
#: A listed order must be smaller than this; a block agreement at least this (tonnes).
BLOCK_MIN_T = 100_000
#: Basis points in one (100 %).
BP = 10_000
#: Parts per million in one (100 %).
PPM = 1_000_000
#: The number of best price levels a taker may trade against and the depth shown.
LEVELS = 5

LISTED_SESSIONS: tuple[tuple[dt.time, dt.time], ...] = (
    (dt.time(9, 30), dt.time(11, 30)),
    (dt.time(13, 0), dt.time(15, 0)),
)
BLOCK_SESSIONS: tuple[tuple[dt.time, dt.time], ...] = ((dt.time(13, 0), dt.time(15, 0)),)


def weekdays(day: dt.date) -> bool:
    """The default working-day predicate: Monday to Friday (inject a real holiday calendar)."""
    return day.weekday() < 5


class Side(Enum):
    """Side of an order."""

    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class Reason(Enum):
    """Why a command was refused or an order ended; ``value`` is the stable code."""

    zh: str
    en: str

    def __new__(cls, code: str, zh: str, en: str) -> Reason:
        obj = object.__new__(cls)
        obj._value_ = code
        obj.zh = zh
        obj.en = en
        return obj

    def text(self, lang: Lang | None = None) -> str:
        """The reason in the requested (or current) language."""
        return pick(self.zh, self.en, lang)

    # -- time and state
    OUTSIDE_SESSION = (
        "outside_session",
        "不在交易时段内（交易日 9:30–11:30、13:00–15:00）",
        "outside the trading sessions (working days 9:30–11:30, 13:00–15:00)",
    )
    MARKET_CLOSED = "market_closed", "今日已收盘", "the market has closed for the day"
    NOT_TRADING_DAY = "not_trading_day", "今日不是交易日", "today is not a trading day"
    STALE_TIME = (
        "stale_time",
        "指令时间早于当前交易日",
        "the command's time is before the current trading day",
    )
    DUPLICATE_ID = "duplicate_id", "编号已被使用", "the id is already in use"
    # -- price and quantity
    BAD_QUANTITY = (
        "bad_quantity",
        "数量须为正整数吨（最小变动单位 1 吨）",
        "quantity must be a positive whole number of lots (1 t)",
    )
    OVER_SIZE_LIMIT = (
        "over_size_limit",
        "单笔挂牌申报须小于 10 万吨；10 万吨及以上请走大宗协议",
        "a listed order must be under 100,000 t; use a block agreement for larger trades",
    )
    BAD_PRICE = "bad_price", "价格须为正数", "price must be positive"
    BAD_TICK = (
        "bad_tick",
        "价格须为最小变动价位（0.01 元）的整数倍",
        "price must be a whole number of ticks (0.01 yuan)",
    )
    OUTSIDE_BAND = (
        "outside_band",
        "价格超出涨跌幅限制（前收盘价 ±10%，大宗协议 ±30%）",
        "price is outside the band (±10 % of the previous close, ±30 % for block agreements)",
    )
    SELF_TRADE = (
        "self_trade",
        "该申报会与本人的反向申报成交（自成交），已拒绝",
        "the order would trade against the same owner's opposite order (self-trade)",
    )
    # -- order lifecycle
    UNKNOWN_ORDER = "unknown_order", "没有该申报", "no such order"
    NOT_OWNER = "not_owner", "只能撤销本人的申报", "only the owner may cancel an order"
    NOT_ACTIVE = (
        "not_active",
        "该申报已成交、撤销或过期",
        "the order is filled, cancelled or expired",
    )
    OWNER_CANCEL = "owner_cancel", "本人撤单", "cancelled by its owner"
    BEYOND_LEVELS = (
        "beyond_levels",
        "已成交最优五档，剩余数量若挂出会与对手方交叉，已撤销",
        "filled against the best five levels; the remainder would cross the book and was cancelled",
    )
    DAY_END = "day_end", "收盘未成交，自动撤销", "unfilled at the close, cancelled"
    # -- auctions
    NOT_OPEN = "not_open", "竞价尚未开始", "bidding has not opened"
    AUCTION_CLOSED = "auction_closed", "竞价已结束", "bidding has closed"
    NOT_QUALIFIED = (
        "not_qualified",
        "未交纳保证金或未取得竞买资格",
        "no deposit paid (not a qualified bidder)",
    )
    ALREADY_QUALIFIED = "already_qualified", "已取得竞买资格", "already a qualified bidder"
    SELLER_CANNOT_BID = "seller_cannot_bid", "转让方不得竞买", "the seller may not bid"
    BELOW_START = "below_start", "出价低于起始价", "bid is below the start price"
    BID_TOO_LOW = "bid_too_low", "出价低于当前最高价", "bid is below the current best bid"
    EQUAL_BID_LATER = (
        "equal_bid_later",
        "已有相同出价在先，后到的相同出价无效",
        "an equal bid was made earlier; a later equal bid is refused",
    )
    BELOW_INCREMENT = (
        "below_increment",
        "加价幅度不足（须不少于规定的加价幅度）",
        "bid does not exceed the best bid by the increment",
    )
    ALREADY_BEST = (
        "already_best",
        "您已是当前最高出价人",
        "you already hold the best bid",
    )
    BELOW_MIN_SIZE = "below_min_size", "申报数量低于最小申报量", "bid quantity is below the minimum"
    OVER_BIDDER_CAP = (
        "over_bidder_cap",
        "单一竞买人申报总量超过本次拍卖量的上限（50%）",
        "one bidder's total exceeds the cap (50 % of supply)",
    )
    IRREVOCABLE = "irrevocable", "申报一经提交不可撤销", "bids are irrevocable"
    NO_BIDS = "no_bids", "无有效出价，流拍", "no valid bid: the lot is unsold"
    BELOW_RESERVE = (
        "below_reserve",
        "最高出价未达保留价，不成交",
        "below the reserve price: no sale",
    )
    UNDERSUBSCRIBED = (
        "undersubscribed",
        "有效申报总量不足，剩余数量未成交",
        "demand was below supply: the rest is unsold",
    )
    NO_INTENDED_BUYER = (
        "no_intended_buyer",
        "公告期内无意向受让方",
        "no intended buyer came during the announcement",
    )
    NEGOTIATION_FAILED = "negotiation_failed", "协商未成", "the negotiation failed"
    OUTBID = "outbid", "出价未进入成交范围", "outbid: the bid did not fill"
    NOT_AWARDED = "not_awarded", "没有待付款的成交", "there is no award awaiting payment"
    PAYMENT_OVERDUE = (
        "payment_overdue",
        "未在规定期限内付款，保证金不予退还",
        "not paid within the deadline: the deposit is forfeited",
    )
    # -- agreement transfer listing
    NOT_ANNOUNCING = (
        "not_announcing",
        "挂牌公告期已结束或未开始",
        "the listing is not in its announcement period",
    )
    ANNOUNCEMENT_RUNNING = (
        "announcement_running",
        "挂牌公告期未满 7 日",
        "the announcement period (7 days) has not ended",
    )
    NOT_INTENDED_BUYER = (
        "not_intended_buyer",
        "不是本次挂牌的意向受让方",
        "not the intended buyer of this listing",
    )
    BELOW_LISTING_PRICE = (
        "below_listing_price",
        "协商价格不得低于挂牌价",
        "the negotiated price may not be below the listing price",
    )
    WRONG_STATE = "wrong_state", "当前状态下不能执行该操作", "not possible in the current state"
    # -- agreements (proposals)
    SAME_PARTY = "same_party", "买卖双方不能为同一人", "seller and buyer must differ"
    NOT_PARTY = "not_party", "提议人须为买方或卖方", "the proposer must be the seller or the buyer"
    NOT_COUNTERPARTY = (
        "not_counterparty",
        "只有对手方可以接受或拒绝",
        "only the counterparty may accept or decline",
    )
    NOT_PROPOSER = "not_proposer", "只有提议人可以撤回", "only the proposer may withdraw"
    UNKNOWN_PROPOSAL = "unknown_proposal", "没有该协议提议", "no such proposal"
    PROPOSAL_CLOSED = (
        "proposal_closed",
        "该提议已被接受、拒绝、撤回或已过期",
        "the proposal was accepted, declined, withdrawn or has expired",
    )
    BAD_EXPIRY = "bad_expiry", "有效期须晚于提议时间", "the expiry must be after the proposal time"


@dataclass(frozen=True, slots=True)
class Rejected:
    """A command was refused: ``subject`` is the order, bid, bidder or proposal it concerned."""

    subject: Hashable
    reason: Reason
    time: dt.datetime

    def message(self, lang: Lang | None = None) -> str:
        return self.reason.text(lang)


class InvalidTerms(TanhuiError, ValueError):
    """A market object was built with impossible terms; ``problems`` lists them (English)."""

    def __init__(self, what: str, problems: list[str]) -> None:
        joined = "; ".join(problems)
        super().__init__(
            f"{what} 的条款无效：{joined}",
            f"invalid terms for {what}: {joined}",
            hint_zh="请修改挂牌或竞价条款后重试。",
            hint_en="Correct the listing or auction terms and try again.",
        )
        self.problems = problems


# ---------------------------------------------------------------------------------------------
# integer helpers


def ceil_div(a: int, b: int) -> int:
    """⌈a / b⌉ for b > 0, exact on integers."""
    return -((-a) // b)


def round_half_up(num: int, den: int) -> int:
    """num / den rounded half up (for num ≥ 0, den > 0), exact on integers."""
    return (2 * num + den) // (2 * den)


def on_tick(price: int, tick: int = TICK_FEN) -> bool:
    return price % tick == 0


# ---------------------------------------------------------------------------------------------
# price band


@dataclass(frozen=True, slots=True)
class PriceBand:
    """Inclusive band of valid prices (fen per tonne), already on whole ticks."""

    low: int
    high: int

    def __contains__(self, price: object) -> bool:
        return isinstance(price, int) and self.low <= price <= self.high


def price_band(previous_close: int, band_bp: int, tick: int = TICK_FEN) -> PriceBand:
    """The band ``previous_close ± band_bp/10000``, limits rounded inward to whole ticks.

    >>> price_band(1001, 1000)
    PriceBand(low=901, high=1101)
    """
    if previous_close <= 0 or band_bp < 0 or tick <= 0:
        raise ValueError("previous close and tick must be positive, the band non-negative")
    low = ceil_div(previous_close * (BP - band_bp), BP * tick) * tick
    high = (previous_close * (BP + band_bp)) // (BP * tick) * tick
    return PriceBand(max(low, tick), high)


# ---------------------------------------------------------------------------------------------
# the rule set


@dataclass(frozen=True)
class MarketRules:
    """Every configurable number of the listed and block markets (defaults: CEA national rules)."""

    tick_fen: int = TICK_FEN
    lot_t: int = LOT_T
    block_min_t: int = BLOCK_MIN_T
    listed_band_bp: int = 1000
    block_band_bp: int = 3000
    levels: int = LEVELS
    listed_sessions: tuple[tuple[dt.time, dt.time], ...] = LISTED_SESSIONS
    block_sessions: tuple[tuple[dt.time, dt.time], ...] = BLOCK_SESSIONS
    is_working_day: Callable[[dt.date], bool] = field(default=weekdays, compare=False)

    def __post_init__(self) -> None:
        problems = []
        if self.tick_fen <= 0:
            problems.append("tick_fen must be positive")
        if self.lot_t <= 0:
            problems.append("lot_t must be positive")
        if self.block_min_t <= self.lot_t:
            problems.append("block_min_t must exceed one lot")
        if not 0 <= self.listed_band_bp < BP or not 0 <= self.block_band_bp < BP:
            problems.append("bands must be in [0, 10000) basis points")
        if self.levels <= 0:
            problems.append("levels must be positive")
        for start, end in (*self.listed_sessions, *self.block_sessions):
            if not start < end:
                problems.append(f"session {start}–{end} is empty")
        if problems:
            raise InvalidTerms("MarketRules", problems)

    # -- sessions and days

    def in_session(self, now: dt.datetime, *, block: bool = False) -> bool:
        """Whether ``now`` falls in a session ``[start, end)`` of a working day."""
        if not self.is_working_day(now.date()):
            return False
        t = now.time()  # naive wall-clock time, whatever the tzinfo
        windows = self.block_sessions if block else self.listed_sessions
        return any(start <= t < end for start, end in windows)

    def add_working_days(self, day: dt.date, n: int) -> dt.date:
        """The ``n``-th working day after ``day`` (``day`` itself not counted); ``n`` ≥ 0."""
        if n < 0:
            raise ValueError("n must be non-negative")
        for _ in range(n * 30 + 3660):  # bounded: a calendar with no working days is a bug
            if n == 0:
                return day
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                n -= 1
        raise ValueError("the working-day calendar has no working days")

    # -- price and quantity

    def band(self, previous_close: int, *, block: bool = False) -> PriceBand:
        """The price band of the day for listed (±10 %) or block (±30 %) trades."""
        bp = self.block_band_bp if block else self.listed_band_bp
        return price_band(previous_close, bp, self.tick_fen)

    def quantity_ok(self, quantity: int) -> bool:
        """A positive whole number of lots (an ``int``: tonnes are never fractional here)."""
        return type(quantity) is int and quantity > 0 and quantity % self.lot_t == 0

    def price_problem(self, price: int) -> Reason | None:
        """BAD_PRICE (not positive) or BAD_TICK (not whole ticks of integer fen), or ``None``."""
        if type(price) is not int:
            return Reason.BAD_TICK
        if price <= 0:
            return Reason.BAD_PRICE
        if price % self.tick_fen:
            return Reason.BAD_TICK
        return None

    def close_price(self, trades: Iterable[tuple[int, int]], previous_close: int) -> int:
        """:func:`closing_price` on whole ticks of these rules."""
        return closing_price(trades, previous_close, self.tick_fen)


def closing_price(
    trades: Iterable[tuple[int, int]], previous_close: int, tick: int = TICK_FEN
) -> int:
    """The close: VWAP of ``(price, quantity)`` trades, rounded half up to a tick; else previous.

    >>> closing_price([(1000, 1), (1001, 1)], 900)   # 10.005 yuan → 10.01 yuan
    1001
    """
    value = volume = 0
    for price, quantity in trades:
        value += price * quantity
        volume += quantity
    return vwap_close(value, volume, previous_close, tick)


def vwap_close(value: int, volume: int, previous_close: int, tick: int = TICK_FEN) -> int:
    """The close from the day's traded ``value`` (fen) and ``volume`` (t); see :func:`closing_price`."""
    if volume == 0:
        return previous_close
    return round_half_up(value, volume * tick) * tick


# ---------------------------------------------------------------------------------------------
# fees


@dataclass(frozen=True, slots=True)
class Settlement:
    """The money of one fill, in fen. ``buyer_pays == seller_receives + exchange_gets``."""

    value: int
    buyer_fee: int
    seller_fee: int

    @property
    def buyer_pays(self) -> int:
        return self.value + self.buyer_fee

    @property
    def seller_receives(self) -> int:
        return self.value - self.seller_fee

    @property
    def exchange_gets(self) -> int:
        return self.buyer_fee + self.seller_fee


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Fee rates per side in parts per million of trade value; fees rounded down to a fen."""

    buyer_ppm: int = 0
    seller_ppm: int = 0

    def __post_init__(self) -> None:
        if not (0 <= self.buyer_ppm <= PPM and 0 <= self.seller_ppm <= PPM):
            raise InvalidTerms("FeeSchedule", ["rates must be between 0 and 1,000,000 ppm"])

    @classmethod
    def from_bp(cls, buyer_bp: int, seller_bp: int) -> FeeSchedule:
        """Rates given in basis points (1 bp = 0.01 % = 100 ppm)."""
        return cls(buyer_bp * 100, seller_bp * 100)

    def buyer_fee(self, value: int) -> int:
        return value * self.buyer_ppm // PPM

    def seller_fee(self, value: int) -> int:
        return value * self.seller_ppm // PPM

    def settle(self, price: int, quantity: int) -> Settlement:
        """The money of a fill of ``quantity`` t at ``price`` fen/t."""
        value = price * quantity
        return Settlement(value, self.buyer_fee(value), self.seller_fee(value))

    def buy_reservation(self, price: int, quantity: int) -> int:
        """Cash to reserve for a buy order: covers every possible set of its fills (fen)."""
        value = price * quantity
        return value + self.buyer_fee(value)


# ---------------------------------------------------------------------------------------------
# commands (a journal of them replays to the same state)


@dataclass(frozen=True, slots=True)
class Command:
    """Base of the command records; ``target.apply(command)`` calls ``target.<method>(**fields)``.

    Storing commands (not states) in a journal and applying them again to a fresh object gives the
    same events and the same state, because every core is deterministic in its inputs.
    """

    method: ClassVar[str] = ""

    def arguments(self) -> dict[str, Any]:
        names = _FIELD_NAMES.get(type(self))
        if names is None:
            names = _FIELD_NAMES[type(self)] = tuple(f.name for f in fields(self))
        return {name: getattr(self, name) for name in names}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


@dataclass(frozen=True, slots=True)
class Tick(Command):
    """Let time pass: close what expired at ``now`` (auctions, proposals)."""

    method: ClassVar[str] = "tick"
    now: dt.datetime


def dispatch(target: Any, command: Command, allowed: Iterable[str]) -> list[Any]:
    """Run ``command`` on ``target`` if its method is one of ``allowed``; return the events."""
    if not isinstance(command, Command) or command.method not in allowed:
        raise TypeError(f"{type(target).__name__} does not take {type(command).__name__}")
    return getattr(target, command.method)(**command.arguments())
