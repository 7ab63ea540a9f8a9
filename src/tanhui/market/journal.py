"""Durable pure engines: each engine's commands in a journal, the engine rebuilt by replaying it.

A *stream* (a row of ``market_streams``) is one engine — one trading day of a
:class:`~tanhui.market.orderbook.ListedBook`, a scheme's
:class:`~tanhui.market.agreement.AgreementDesk`, one
:class:`~tanhui.market.auction.AscendingAuction`, :class:`~tanhui.market.auction.UniformAuction`
or :class:`~tanhui.market.auction.TransferListing` — with the JSON ``config`` it is built from and
``last_seq``, the number of commands applied so far. ``market_commands`` holds those commands in
order. Because every core is deterministic in its inputs, building the engine from ``config`` and
applying the commands again gives the same state (and the same events).

Concurrency. A service transaction locks the stream row (``FOR UPDATE`` on PostgreSQL;
``BEGIN IMMEDIATE`` serializes SQLite writers), so one command at a time is applied to a stream,
across threads and processes. Each process keeps the engines it used in memory (:class:`Engines`),
tagged with the ``seq`` they are at: under the row lock, an engine behind the journal catches up by
applying the commands other processes appended since; an engine that is ahead (its transaction
failed after applying a command) or missing is rebuilt from the journal. An engine is taken out of
the cache while a transaction uses it and put back, tagged with its new ``seq``, just before the
commit — so a failed transaction can never leave a half-applied engine behind.

Times are aware datetimes in Beijing time (:data:`BEIJING`); ids are organisation ids and the
service's row ids (integers).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from collections.abc import Callable, Hashable
from typing import Any, NamedTuple

from sqlalchemy import insert, select, text, update

from tanhui.db.market_tables import COMMAND_JOURNAL, STREAMS
from tanhui.db.uow import UnitOfWork
from tanhui.market.agreement import (
    Accept,
    AgreementDesk,
    Decline,
    Propose,
    SetPreviousClose,
    Withdraw,
)
from tanhui.market.auction import (
    Abandon,
    AscendingAuction,
    AscendingTerms,
    Conclude,
    ConfirmBidderPayment,
    ConfirmPayment,
    ExpressIntent,
    ListingTerms,
    PlaceBid,
    PlaceUniformBid,
    Qualify,
    TransferListing,
    UniformAuction,
    UniformTerms,
)
from tanhui.market.orderbook import Cancel, CloseDay, ListedBook, Submit
from tanhui.market.rules import Command, FeeSchedule, MarketRules, Side, Tick

#: The exchange's clock: China Standard Time, no daylight saving.
BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")

COMMANDS: dict[str, type[Command]] = {
    cls.__name__: cls
    for cls in (
        Submit,
        Cancel,
        CloseDay,
        Propose,
        Accept,
        Decline,
        Withdraw,
        SetPreviousClose,
        Tick,
        Qualify,
        PlaceBid,
        PlaceUniformBid,
        ConfirmPayment,
        ConfirmBidderPayment,
        ExpressIntent,
        Conclude,
        Abandon,
    )
}
_TIMES = frozenset({"now", "expires_at"})


def beijing(value: dt.datetime) -> dt.datetime:
    """``value`` as an aware Beijing time (a naive value is taken to be Beijing time already)."""
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=BEIJING)
    return value.astimezone(BEIJING)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return beijing(value).isoformat()
    if isinstance(value, Side):
        return value.value
    return value


def encode(command: Command) -> dict[str, Any]:
    """A JSON document for ``command`` (:func:`decode` gives it back)."""
    return {"c": type(command).__name__, **{k: _plain(v) for k, v in command.arguments().items()}}


def decode(doc: dict[str, Any]) -> Command:
    """The command of a journal document."""
    fields = dict(doc)
    cls = COMMANDS[fields.pop("c")]
    for name in _TIMES & fields.keys():
        fields[name] = dt.datetime.fromisoformat(fields[name])
    if "side" in fields:
        fields["side"] = Side(fields["side"])
    return cls(**fields)


# ------------------------------------------------------------------------- building engines


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def terms_config(terms: AscendingTerms | UniformTerms | ListingTerms) -> dict[str, Any]:
    """The JSON form of auction or listing terms (durations in seconds)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(terms):
        value = getattr(terms, f.name)
        if isinstance(value, dt.timedelta):
            value = value.total_seconds()
        out[f.name] = _plain(value)
    return out


def _terms(cls: type, config: dict[str, Any]) -> Any:
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in config:
            continue
        value = config[f.name]
        if f.name in ("opens_at", "ends_at", "closes_at", "announced_at"):
            value = _time(value)
        elif f.name in ("countdown", "auction_duration"):
            value = dt.timedelta(seconds=value)
        kwargs[f.name] = value
    return cls(**kwargs)


def build(kind: str, config: dict[str, Any], rules: MarketRules) -> Any:
    """A fresh engine of ``kind`` from its stream ``config``."""
    if kind == "book":
        fees = FeeSchedule(config.get("buyer_ppm", 0), config.get("seller_ppm", 0))
        book = ListedBook(config["previous_close"], rules, fees)
        closed = config.get("closed_at")
        if closed:
            # a new day's stream after an explicit close: the same state as the old book's
            # (the closed day stays closed; its close is the previous close)
            book.close_day(_time(closed))
        return book
    if kind == "desk":
        fees = FeeSchedule(config.get("buyer_ppm", 0), config.get("seller_ppm", 0))
        return AgreementDesk(config["previous_close"], rules, fees)
    if kind == "ascending":
        return AscendingAuction(_terms(AscendingTerms, config), rules)
    if kind == "uniform":
        return UniformAuction(_terms(UniformTerms, config), rules)
    if kind == "listing":
        return TransferListing(_terms(ListingTerms, config), rules)
    raise ValueError(f"unknown engine kind {kind!r}")


# ------------------------------------------------------------------------------ the cache


_APPEND_ONE = text(
    "WITH moved AS (UPDATE market_streams SET last_seq = :seq WHERE id = :sid) "
    "INSERT INTO market_commands (stream_id, seq, command, created_at) "
    "VALUES (:sid, :seq, CAST(:cmd AS JSON), :now)"
)


class _Row(NamedTuple):
    kind: str
    config: dict[str, Any]
    last_seq: int


@dataclasses.dataclass
class Stream:
    """An engine checked out for one transaction (see :meth:`Engines.checkout`)."""

    stream_id: int
    kind: str
    engine: Any
    #: The journal position the engine is at (committed commands + the ones applied here).
    seq: int
    pending: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    #: A stream that takes no more commands (a closed day's book): not kept in memory.
    retired: bool = False

    def apply(self, command: Command) -> list[Any]:
        """Run ``command`` on the engine and queue it for the journal."""
        events = self.engine.apply(command)
        self.seq += 1
        self.pending.append({"seq": self.seq, "command": encode(command)})
        return events


class Engines:
    """The engines this process has in memory, by stream id."""

    def __init__(self, rules: MarketRules) -> None:
        self.rules = rules
        self._cache: dict[int, tuple[int, Any]] = {}
        self._mutex = threading.Lock()

    def create(self, uow: UnitOfWork, kind: str, config: dict[str, Any]) -> int:
        """A new stream (its engine is built, so bad terms fail here); returns its id."""
        build(kind, config, self.rules)
        return int(
            uow.session.execute(
                insert(STREAMS).values(kind=kind, config=config, last_seq=0).returning(STREAMS.c.id)
            ).scalar_one()
        )

    def checkout(
        self, uow: UnitOfWork, stream_id: int, locked: tuple[Any, ...] | None = None
    ) -> Stream:
        """Lock the stream row and return its engine, caught up with the journal. ``locked``:
        the row's ``(kind, config, last_seq)``, already read under a lock by the caller."""
        if locked is not None:
            row = _Row(*locked)
        else:
            query = select(STREAMS.c.kind, STREAMS.c.config, STREAMS.c.last_seq).where(
                STREAMS.c.id == stream_id
            )
            if uow.dialect_name == "postgresql":  # others may still refer to it (see the books)
                query = query.with_for_update(key_share=True)
            row = uow.session.execute(query).one()
        with self._mutex:
            cached = self._cache.pop(stream_id, None)
        if cached is not None and cached[0] <= row.last_seq:
            seq, engine = cached
        else:
            seq, engine = 0, build(row.kind, row.config, self.rules)
        if seq < row.last_seq:
            for doc in uow.session.scalars(
                select(COMMAND_JOURNAL.c.command)
                .where(COMMAND_JOURNAL.c.stream_id == stream_id, COMMAND_JOURNAL.c.seq > seq)
                .order_by(COMMAND_JOURNAL.c.seq)
            ):
                engine.apply(decode(doc))
                seq += 1
            if seq != row.last_seq:
                raise RuntimeError(f"market stream {stream_id}: journal has gaps")
        return Stream(stream_id, row.kind, engine, seq)

    def write(self, uow: UnitOfWork, stream: Stream) -> None:
        """Append the stream's new commands to the journal and put the engine back in the cache
        (tagged with its new position: if the commit then fails, the tag no longer matches the
        journal and the next user rebuilds it)."""
        if len(stream.pending) == 1 and uow.dialect_name == "postgresql":
            # the common case, in one round trip: append the command, move the stream's position
            (command,) = stream.pending
            uow.session.execute(
                _APPEND_ONE,
                {
                    "sid": stream.stream_id,
                    "seq": command["seq"],
                    "cmd": json.dumps(command["command"], ensure_ascii=False),
                    "now": dt.datetime.now(dt.UTC),
                },
            )
            stream.pending = []
        elif stream.pending:
            uow.session.execute(
                insert(COMMAND_JOURNAL),
                [{"stream_id": stream.stream_id, **p} for p in stream.pending],
            )
            uow.session.execute(
                update(STREAMS).where(STREAMS.c.id == stream.stream_id).values(last_seq=stream.seq)
            )
            stream.pending = []
        if stream.retired:
            return
        with self._mutex:
            self._cache[stream.stream_id] = (stream.seq, stream.engine)

    def hint(self, stream_id: int) -> Any:
        """The engine of a stream as this process last saw it, or ``None`` — not locked, maybe
        behind: for a guess only (never for a decision)."""
        cached = self._cache.get(stream_id)
        return cached[1] if cached is not None else None

    def peek(self, uow: UnitOfWork, stream_id: int, read: Callable[[Any], Any]) -> Any:
        """``read(engine)`` on the stream's engine as of the journal now, without locking it (a
        query; the engine is caught up from the journal and returned to the cache)."""
        with self._mutex:
            cached = self._cache.pop(stream_id, None)
        if cached is None:
            row = uow.session.execute(
                select(STREAMS.c.kind, STREAMS.c.config).where(STREAMS.c.id == stream_id)
            ).one()
            seq, engine = 0, build(row.kind, row.config, self.rules)
        else:
            seq, engine = cached
        for number, doc in uow.session.execute(
            select(COMMAND_JOURNAL.c.seq, COMMAND_JOURNAL.c.command)
            .where(COMMAND_JOURNAL.c.stream_id == stream_id, COMMAND_JOURNAL.c.seq > seq)
            .order_by(COMMAND_JOURNAL.c.seq)
        ):
            engine.apply(decode(doc))
            seq = number
        result = read(engine)
        with self._mutex:
            current = self._cache.get(stream_id)
            if current is None or current[0] < seq:
                self._cache[stream_id] = (seq, engine)
        return result

    def forget(self, stream_id: Hashable | None = None) -> None:
        """Drop one cached engine (or all): it will be rebuilt from the journal."""
        with self._mutex:
            if stream_id is None:
                self._cache.clear()
            else:
                self._cache.pop(stream_id, None)  # type: ignore[arg-type]

    def replay(self, uow: UnitOfWork, stream_id: int) -> Any:
        """A fresh engine rebuilt from the whole journal (for verification; no lock, no cache)."""
        row = uow.session.execute(
            select(STREAMS.c.kind, STREAMS.c.config).where(STREAMS.c.id == stream_id)
        ).one()
        engine = build(row.kind, row.config, self.rules)
        for doc in uow.session.scalars(
            select(COMMAND_JOURNAL.c.command)
            .where(COMMAND_JOURNAL.c.stream_id == stream_id)
            .order_by(COMMAND_JOURNAL.c.seq)
        ):
            engine.apply(decode(doc))
        return engine
