"""The unit of work: one session, one transaction, committed only when asked.

::

    with UnitOfWork(engine) as uow:
        stmt = uow.lock_for_update(select(Block).where(Block.id == block_id))
        block = uow.session.scalars(stmt).one()
        ...
        uow.commit()

Leaving the block without :meth:`UnitOfWork.commit` (or with an exception) rolls everything
back. Services own their units of work; entry points (CLI, API, web) never touch sessions.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self, TypeVar

from sqlalchemy import Engine, Select
from sqlalchemy.orm import Session, sessionmaker

from tanhui.db.engine import read_only as _read_only
from tanhui.db.engine import session_factory

S = TypeVar("S", bound=Select)  # type: ignore[type-arg]


def lock_for_update(stmt: S, dialect_name: str) -> S:
    """Add ``FOR UPDATE`` to ``stmt`` on PostgreSQL; unchanged on SQLite.

    On SQLite every transaction begins with ``BEGIN IMMEDIATE`` (see :mod:`tanhui.db.engine`),
    which already serializes writers, and SQLite has no row locks.
    """
    if dialect_name == "sqlite":
        return stmt
    return stmt.with_for_update()


class UnitOfWork:
    """A session and its transaction (cosmicpython style)."""

    def __init__(self, engine: Engine | sessionmaker[Session], *, read_only: bool = False) -> None:
        """``read_only=True``: a snapshot for queries that write nothing (on SQLite it does not
        take the write lock, so it neither waits for nor blocks writers)."""
        if isinstance(engine, Engine):
            self._factory = session_factory(_read_only(engine) if read_only else engine)
            self.dialect_name = engine.dialect.name
        else:
            if read_only:
                raise TypeError("UnitOfWork(read_only=True) needs an Engine, not a sessionmaker")
            self._factory = engine
            bind = engine.kw.get("bind")
            self.dialect_name = bind.dialect.name if bind is not None else ""
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("UnitOfWork.session is only available inside `with UnitOfWork(...)`")
        return self._session

    def __enter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("this UnitOfWork is already in use")
        self._session = self._factory()
        self._session.begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self.session, None
        try:
            session.rollback()  # a no-op after commit(); undoes anything not committed
        finally:
            session.close()

    def commit(self) -> None:
        """Commit the work so far; the session stays usable for more work in a new transaction."""
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    def lock_for_update(self, stmt: S) -> S:
        """``stmt`` with ``FOR UPDATE`` on PostgreSQL (rows locked until commit or rollback)."""
        return lock_for_update(stmt, self.dialect_name)
