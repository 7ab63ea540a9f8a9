"""The append-only, hash-chained event log, and its replay.

Every operation that changes the ledger appends one event in the same transaction. The event
carries the domain facts (``type``, ``payload``) and the row-level changes the operation made
(captured from the session's flushes), so that replaying the log from empty rebuilds every
tracked table. ``hash = sha256(prev_hash ‖ canonical JSON of sequence, type, actor, payload)``.

On PostgreSQL concurrent writers take a transaction-level advisory lock before reading the chain
head, as the last step of their transaction, so the chain is linear and the lock is held only until
commit; on SQLite ``BEGIN IMMEDIATE`` already serializes writers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from tanhui.db.tables import (
    GENESIS_HASH,
    Account,
    Block,
    Event,
    Freeze,
    FreezeBlock,
    IssuanceClaim,
    IssuanceRequest,
    MonitoringReport,
    Pledge,
    PledgeBlock,
    Project,
    ProjectSubcompartment,
    Retirement,
)

#: Tables whose every change is in the log and whose content a replay must reproduce. (Who the
#: parties are — organisations, users, roles — is the identity service's, not the ledger's.)
TRACKED = (
    Account,
    Project,
    ProjectSubcompartment,
    MonitoringReport,
    IssuanceRequest,
    IssuanceClaim,
    Block,
    Pledge,
    PledgeBlock,
    Freeze,
    FreezeBlock,
    Retirement,
)
_TRACKED_TABLES = {model.__tablename__ for model in TRACKED}
_CHANGES = "tanhui_changes"
CHAIN_LOCK_KEY = 0x7A6E6875  # "tanhui": the advisory lock that orders appends on PostgreSQL


def _plain(value: Any) -> Any:
    """A JSON-safe form of a column value (dates as ISO text)."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def row_dict(instance: Any) -> dict[str, Any]:
    """Every column of a mapped instance, JSON-safe."""
    mapper = inspect(instance).mapper
    return {c.key: _plain(getattr(instance, c.key)) for c in mapper.column_attrs}


def canonical(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def chain_hash(
    prev_hash: str, sequence: int, type_: str, actor: str, payload: dict[str, Any]
) -> str:
    body = canonical({"sequence": sequence, "type": type_, "actor": actor, "payload": payload})
    return hashlib.sha256(prev_hash.encode() + body).hexdigest()


def track_changes(session: Session) -> None:
    """Record the tracked rows each flush inserts or updates, in ``session.info``."""
    if session.info.get("tanhui_tracking"):
        return
    session.info["tanhui_tracking"] = True

    @sa_event.listens_for(session, "after_flush")
    def _collect(sess: Session, _context: Any) -> None:
        changes: dict[tuple[str, int], dict[str, Any]] = sess.info.setdefault(_CHANGES, {})
        for instance in (*sess.new, *sess.dirty):
            table = getattr(instance, "__tablename__", None)
            if table in _TRACKED_TABLES:
                changes[(table, instance.id)] = instance  # snapshot taken at append time
        for instance in sess.deleted:
            if getattr(instance, "__tablename__", None) in _TRACKED_TABLES:
                raise RuntimeError("ledger rows are never deleted")


def append(
    session: Session, type_: str, actor: str, payload: dict[str, Any], dialect: str
) -> Event:
    """Flush, then append one event carrying ``payload`` and the rows changed since the last one."""
    session.flush()
    pending: dict[tuple[str, int], Any] = session.info.pop(_CHANGES, {})
    changes = [
        {"table": table, "id": row_id, "row": row_dict(instance)}
        for (table, row_id), instance in sorted(
            pending.items(), key=lambda kv: (kv[0][0], kv[0][1])
        )
    ]
    if dialect == "postgresql":
        # Serialize appenders until commit. (FOR UPDATE on the last event would not do: a writer
        # waiting on it re-reads that same row after the first commits, not the new head.)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
    head = session.scalars(select(Event).order_by(Event.sequence.desc()).limit(1)).first()
    sequence = 1 if head is None else head.sequence + 1
    prev = GENESIS_HASH if head is None else head.hash
    body = {**payload, "changes": changes}
    record = Event(
        sequence=sequence,
        type=type_,
        payload=body,
        actor=actor,
        prev_hash=prev,
        hash=chain_hash(prev, sequence, type_, actor, body),
    )
    session.add(record)
    session.flush()
    session.info.pop(_CHANGES, None)  # the event row itself is not tracked
    return record


@dataclass
class Replay:
    """The result of replaying the log: the rebuilt tables and every problem found."""

    events: int = 0
    tables: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def replay(events: Iterable[Event]) -> Replay:
    """Check the hash chain and rebuild the tracked tables from the changes in each event."""
    result = Replay()
    prev = GENESIS_HASH
    expected_sequence = 1
    for record in events:
        result.events += 1
        if record.sequence != expected_sequence:
            result.problems.append(
                f"event sequence {record.sequence}: expected {expected_sequence}"
            )
        expected_sequence = record.sequence + 1
        if record.prev_hash != prev:
            result.problems.append(
                f"event {record.sequence}: prev_hash does not match the previous event"
            )
        actual = chain_hash(
            record.prev_hash, record.sequence, record.type, record.actor, record.payload
        )
        if actual != record.hash:
            result.problems.append(f"event {record.sequence}: hash does not match its content")
        prev = record.hash
        for change in record.payload.get("changes", []):
            result.tables.setdefault(change["table"], {})[change["id"]] = change["row"]
    return result


def table_rows(session: Session) -> Iterator[tuple[str, dict[int, dict[str, Any]]]]:
    """The current content of every tracked table, in the replay's form."""
    for model in TRACKED:
        rows = {row.id: row_dict(row) for row in session.scalars(select(model))}
        yield model.__tablename__, rows
