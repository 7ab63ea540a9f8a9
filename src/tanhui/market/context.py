"""One market transaction: the unit of work, the registry inside it, the engines it locked.

Every state-changing market call runs :func:`run`: one database transaction that checks an
idempotency key, does its work through a :class:`Tx` — cash rows, the ledger's block operations
(:meth:`tanhui.registry.ledger.Ledger.within`, whose events are appended at the commit), the pure
engines (:class:`tanhui.market.journal.Engines`) — and commits all of it, or nothing. A deadlock or
serialization failure between concurrent transactions (PostgreSQL) is retried from the start.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from tanhui.db.tables import IdempotencyKey
from tanhui.db.uow import UnitOfWork
from tanhui.errors import ConflictError
from tanhui.registry import events
from tanhui.registry.permissions import Role

if TYPE_CHECKING:
    from tanhui.market.journal import Stream
    from tanhui.market.service import Market
    from tanhui.registry.ledger import Ledger

#: PostgreSQL SQLSTATEs worth retrying the whole transaction for.
RETRYABLE = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure
ATTEMPTS = 8
#: Advisory-lock namespace of market idempotency keys (distinct from the ledger's).
_KEY_LOCKS = 0x7A6E6878


class ActorLike(Protocol):
    user_id: int | None
    username: str
    organisation_id: int | None
    roles: frozenset[Role]


@dataclass(frozen=True)
class ServiceActor:
    """The market acting for an organisation (the exchange settling a trade, a bank's loan
    contract releasing its pledge on repayment)."""

    organisation_id: int | None
    roles: frozenset[Role]
    username: str = "market"
    user_id: int | None = None


def actor_ref(actor: ActorLike) -> str:
    """How an actor is named in logs and idempotency keys (as the ledger names it)."""
    return f"{actor.username}#{actor.user_id}" if actor.user_id is not None else actor.username


def jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


@dataclass
class Tx:
    """What one market transaction works with."""

    uow: UnitOfWork
    market: Market
    now: dt.datetime
    who: str
    streams: dict[int, Stream] = field(default_factory=dict)
    #: Cash accounts opened in this transaction (cached by the market only after the commit).
    new_accounts: dict[int, int] = field(default_factory=dict)
    #: Credits to cash accounts and journal lines, written at the end (:func:`cash.flush`).
    credits: dict[int, int] = field(default_factory=dict)
    unfrozen: dict[int, int] = field(default_factory=dict)
    journal: list[dict[str, Any]] = field(default_factory=list)
    _ledger: Ledger | None = None

    @property
    def session(self) -> Any:
        return self.uow.session

    @property
    def day(self) -> dt.date:
        """The exchange's business day (Beijing date of ``now``)."""
        return self.now.date()

    @property
    def dialect(self) -> str:
        return self.uow.dialect_name

    @property
    def ledger(self) -> Ledger:
        """The registry, inside this transaction."""
        if self._ledger is None:
            self._ledger = self.market.ledger.within(self.uow)
        return self._ledger

    @property
    def operator(self) -> ServiceActor:
        """The exchange, acting on the tonnes reserved for it."""
        return ServiceActor(self.market.ids(self).exchange_org, frozenset({Role.market_operator}))

    def stream(self, stream_id: int, locked: tuple[Any, ...] | None = None) -> Stream:
        """The engine of a stream, locked for this transaction and caught up (``locked``: its
        ``(kind, config, last_seq)`` already read under a lock by the caller)."""
        stream = self.streams.get(stream_id)
        if stream is None:
            stream = self.market.engines.checkout(self.uow, stream_id, locked)
            self.streams[stream_id] = stream
        return stream

    def finish(self) -> None:
        """Write the pending cash credits and journal lines, and the engines' journals (returning
        the engines to the cache), just before the commit."""
        from tanhui.market.cash import flush

        flush(self)
        for stream in self.streams.values():
            self.market.engines.write(self.uow, stream)

    def lock(self, query: Any) -> Any:
        """``query`` locking its rows until the commit: ``FOR NO KEY UPDATE`` on PostgreSQL (so
        that others may still insert rows referring to them), nothing on SQLite (``BEGIN
        IMMEDIATE`` serializes writers)."""
        return query.with_for_update(key_share=True) if self.dialect == "postgresql" else query

    def abandon(self) -> None:
        """The work failed: engines it did not change go back to the cache (still matching the
        committed journal); changed ones are dropped and will be rebuilt from the journal."""
        for stream in self.streams.values():
            if not stream.pending:
                self.market.engines.write(self.uow, stream)

    def serialize(self, namespace: int, name: str) -> None:
        """Hold a transaction-level advisory lock on PostgreSQL (SQLite serializes anyway)."""
        if self.dialect == "postgresql":
            self.session.execute(
                text("SELECT pg_advisory_xact_lock(:n, hashtext(:name))"),
                {"n": namespace, "name": name},
            )


def _retryable(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", None)
    return isinstance(exc, DBAPIError) and getattr(orig, "sqlstate", None) in RETRYABLE


def run(
    market: Market,
    actor: ActorLike,
    type_: str,
    request: dict[str, Any],
    idempotency_key: str | None,
    work: Callable[[Tx], Any],
    *,
    now: dt.datetime,
) -> Any:
    """Run ``work`` in one transaction; replay the stored answer for a repeated key."""
    who = actor_ref(actor)
    request_hash = hashlib.sha256(
        events.canonical({"type": f"market.{type_}", **jsonable(request)})
    ).hexdigest()
    key = f"market:{idempotency_key}" if idempotency_key else None
    for attempt in range(ATTEMPTS):
        tx: Tx | None = None
        try:
            with UnitOfWork(market.engine) as uow:
                if key:
                    session = uow.session
                    if uow.dialect_name == "postgresql":
                        session.execute(
                            text("SELECT pg_advisory_xact_lock(:n, hashtext(:name))"),
                            {"n": _KEY_LOCKS, "name": f"{who}\n{key}"},
                        )
                    stored = session.scalars(
                        select(IdempotencyKey).where(
                            IdempotencyKey.actor == who, IdempotencyKey.key == key
                        )
                    ).first()
                    if stored is not None:
                        if stored.request_hash != request_hash:
                            raise ConflictError(
                                f"幂等键 {idempotency_key} 已用于另一个请求。",
                                f"Idempotency key {idempotency_key} was used for a different "
                                "request.",
                                hint_zh="每个不同的请求请用新的幂等键。",
                                hint_en="Use a fresh key for every distinct request.",
                            )
                        return stored.response
                tx = Tx(uow, market, now, who)
                try:
                    answer = jsonable(work(tx))
                except BaseException:
                    tx.abandon()
                    raise
                if key:
                    uow.session.add(
                        IdempotencyKey(
                            actor=who,
                            key=key,
                            request_hash=request_hash,
                            response=answer,
                            status_code=200,
                        )
                    )
                tx.finish()
                uow.commit()
                market.remember_accounts(tx.new_accounts)
                return answer
        except IntegrityError as exc:
            if key and attempt == 0 and _retryable_key_race(exc):
                continue
            raise
        except DBAPIError as exc:
            if _retryable(exc) and attempt < ATTEMPTS - 1:
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
                continue
            raise
    raise AssertionError("unreachable")


def _retryable_key_race(exc: IntegrityError) -> bool:
    """The same idempotency key committed concurrently: the next attempt returns its answer."""
    return "idempotency_keys" in str(exc.orig) or "uq_idempotency_keys" in str(exc.orig)
