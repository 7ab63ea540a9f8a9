"""The unit of work, row locking, and SQLite's connection settings."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from db_sample import org, populate
from sqlalchemy import func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from tanhui.db import UnitOfWork, lock_for_update, make_engine
from tanhui.db.tables import Organisation, Project


def count(engine) -> int:
    with engine.connect() as c:
        return c.scalar(select(func.count()).select_from(Organisation))


def test_commit_keeps_the_work(db_engine):
    with UnitOfWork(db_engine) as uow:
        uow.session.add(org())
        uow.commit()
    assert count(db_engine) == 1


def test_leaving_without_commit_rolls_back(db_engine):
    with UnitOfWork(db_engine) as uow:
        uow.session.add(org())
        uow.session.flush()
    assert count(db_engine) == 0


def test_an_exception_rolls_back(db_engine):
    with pytest.raises(ZeroDivisionError), UnitOfWork(db_engine) as uow:
        uow.session.add(org())
        uow.session.flush()
        1 / 0  # noqa: B018
    assert count(db_engine) == 0


def test_work_after_a_commit_needs_its_own_commit(db_engine):
    with UnitOfWork(db_engine) as uow:
        uow.session.add(org("a"))
        uow.commit()
        uow.session.add(org("b"))
        uow.session.flush()
    assert count(db_engine) == 1


def test_session_only_inside_the_block(db_engine):
    uow = UnitOfWork(db_engine)
    with pytest.raises(RuntimeError):
        uow.session  # noqa: B018
    with uow:
        assert uow.session.is_active
    with pytest.raises(RuntimeError):
        uow.session  # noqa: B018


def test_lock_for_update_only_on_postgresql():
    stmt = select(Project).where(Project.id == 1)
    assert "FOR UPDATE" in str(
        lock_for_update(stmt, "postgresql").compile(dialect=postgresql.dialect())
    )
    assert "FOR UPDATE" not in str(
        lock_for_update(stmt, "sqlite").compile(dialect=sqlite.dialect())
    )


def test_concurrent_allocations_never_lose_an_update(db_engine):
    """Threads take serials from one project at once (read, think, write): none is lost or given
    twice — FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite."""
    populate(db_engine)
    with db_engine.connect() as c:
        start = c.scalar(select(Project.next_serial))
    threads, rounds, take = 6, 8, 10
    taken: list[range] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(rounds):
                with UnitOfWork(db_engine) as uow:
                    stmt = uow.lock_for_update(
                        select(Project).where(Project.project_number == "000001")
                    )
                    project = uow.session.scalars(stmt).one()
                    first = project.next_serial
                    time.sleep(0.001)
                    project.next_serial = first + take
                    uow.commit()
                    taken.append(range(first, first + take))
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    with db_engine.connect() as c:
        assert c.scalar(select(Project.next_serial)) == start + threads * rounds * take
    serials = [s for r in taken for s in r]
    assert len(serials) == len(set(serials)) == threads * rounds * take


# ------------------------------------------------------------------------------------ SQLite


def test_sqlite_connection_settings(migrated_sqlite_url):
    engine = make_engine(migrated_sqlite_url)
    try:
        with engine.connect() as c:
            assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    finally:
        engine.dispose()


def test_sqlite_transactions_begin_immediate(migrated_sqlite_url):
    """Even a transaction that has only read holds the write lock: another writer must wait."""
    engine = make_engine(migrated_sqlite_url)
    path = make_url(migrated_sqlite_url).database
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with engine.begin() as c:
            c.execute(text("SELECT 1"))
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # free again after the commit
        other.execute("ROLLBACK")
    finally:
        other.close()
        engine.dispose()


def test_sqlite_writers_serialize_instead_of_failing(migrated_sqlite_url):
    """Many threads, each with its own connection, read then write at once: no "database is
    locked", no lost row."""
    engine = make_engine(migrated_sqlite_url, pool_size=8, max_overflow=0)
    threads, rounds = 8, 15
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def work(n: int) -> None:
        try:
            barrier.wait()
            for i in range(rounds):
                with engine.begin() as c:
                    seen = c.scalar(select(func.count()).select_from(Organisation))
                    c.execute(
                        Organisation.__table__.insert().values(
                            name=f"org {n}-{i} after {seen}",
                            kind="holder",
                            created_at=org().created_at,
                        )
                    )
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    try:
        assert errors == []
        with engine.connect() as c:
            names = c.scalars(select(Organisation.name)).all()
        assert len(names) == threads * rounds
        # Each transaction saw every row committed before it: the counts are 0, 1, 2, … exactly.
        assert sorted(int(n.rsplit(" ", 1)[1]) for n in names) == list(range(threads * rounds))
    finally:
        engine.dispose()


def test_read_only_work_neither_waits_for_nor_blocks_writers(db_engine):
    populate(db_engine)
    with UnitOfWork(db_engine) as writer:
        project = writer.session.scalars(writer.lock_for_update(select(Project))).one()
        project.next_serial += 5
        writer.session.flush()  # the writer holds its lock (and, on SQLite, the write lock)
        with UnitOfWork(db_engine, read_only=True) as reader:
            assert reader.session.scalar(select(Project.next_serial)) == 1201  # last committed
        writer.commit()
    with UnitOfWork(db_engine, read_only=True) as reader:
        assert reader.session.scalar(select(Project.next_serial)) == 1206


def test_read_only_refuses_writes_on_postgresql(migrated_postgres_url):
    engine = make_engine(migrated_postgres_url)
    try:
        with (
            pytest.raises(DBAPIError, match="read-only"),
            UnitOfWork(engine, read_only=True) as uow,
        ):
            uow.session.add(org())
            uow.session.flush()
    finally:
        engine.dispose()
