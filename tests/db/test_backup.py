"""Backups: SQLite → PostgreSQL → SQLite with identical contents; restores that must be refused."""

from __future__ import annotations

import gzip
import json
import shutil

import pytest
from db_sample import org, populate, snapshot
from sqlalchemy import select

from tanhui.db import UnitOfWork, backup, head, make_engine, read_info, restore, upgrade
from tanhui.db.tables import TABLES, Event, Organisation
from tanhui.errors import DatabaseError


@pytest.fixture
def filled_sqlite(sqlite_template, tmp_path):
    """A SQLite database of its own with a row in every table."""
    path = tmp_path / "source.db"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    populate(engine)
    engine.dispose()
    return f"sqlite:///{path}"


def empty(url: str) -> bool:
    return all(not rows for rows in snapshot(url).values())


def test_sqlite_to_postgresql_and_back(filled_sqlite, migrated_postgres_url, tmp_path):
    original = snapshot(filled_sqlite)
    assert all(original[t.name] for t in TABLES), "the sample fills every table"

    first = backup(filled_sqlite, tmp_path / "from-sqlite.jsonl.gz")
    assert first.rows == {name: len(rows) for name, rows in original.items()}
    assert first.schema_revision == head()
    restore(migrated_postgres_url, first.path)
    assert snapshot(migrated_postgres_url) == original

    second = backup(migrated_postgres_url, tmp_path / "from-postgresql.jsonl.gz")
    assert second.rows == first.rows
    back = tmp_path / "back.db"
    restore(f"sqlite:///{back}", second.path, upgrade=True)
    assert snapshot(f"sqlite:///{back}") == original

    # The JSON-lines bodies are the same whichever database wrote them (only the header differs).
    def body(path):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return f.read().splitlines()[1:-1]

    assert body(first.path) == body(second.path)


def test_postgresql_sequences_continue_after_a_restore(
    filled_sqlite, migrated_postgres_url, tmp_path
):
    info = backup(filled_sqlite, tmp_path / "b.jsonl.gz")
    restore(migrated_postgres_url, info.path)
    engine = make_engine(migrated_postgres_url)
    try:
        with UnitOfWork(engine) as uow:
            new = org("新机构", "holder")
            uow.session.add(new)
            uow.commit()
        assert new.id == info.rows["organisations"] + 1
    finally:
        engine.dispose()


def test_restore_refuses_a_database_that_is_not_empty(filled_sqlite, migrated_url, tmp_path):
    info = backup(filled_sqlite, tmp_path / "b.jsonl.gz")
    engine = make_engine(migrated_url)
    with UnitOfWork(engine) as uow:
        uow.session.add(org("已有机构", "bank"))
        uow.commit()
    engine.dispose()
    before = snapshot(migrated_url)
    with pytest.raises(DatabaseError, match="not empty") as caught:
        restore(migrated_url, info.path)
    assert "organisations" in caught.value.message("en")
    assert snapshot(migrated_url) == before


def test_restore_refuses_another_schema_revision(filled_sqlite, sqlite_url, tmp_path):
    info = backup(filled_sqlite, tmp_path / "b.jsonl.gz")
    with pytest.raises(DatabaseError, match="schema revision"):
        restore(sqlite_url, info.path)  # never migrated
    upgrade(sqlite_url)
    restore(sqlite_url, info.path)
    assert snapshot(sqlite_url) == snapshot(filled_sqlite)


def rewrite(path, out, edit):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines(keepends=True)
    with gzip.open(out, "wt", encoding="utf-8") as f:
        f.writelines(edit(lines))
    return out


def test_a_damaged_backup_restores_nothing(filled_sqlite, migrated_url, tmp_path):
    good = backup(filled_sqlite, tmp_path / "b.jsonl.gz").path
    assert read_info(good).total_rows > 0

    def tamper(lines):
        i = next(i for i, line in enumerate(lines) if '"retirements"' in line and '"row"' in line)
        lines[i] = lines[i].replace("2026 三明马拉松组委会", "someone else")
        return lines

    cases = {
        "checksum": rewrite(good, tmp_path / "tampered.gz", tamper),
        "truncated": rewrite(good, tmp_path / "truncated.gz", lambda lines: lines[:-1]),
        "not a backup": rewrite(good, tmp_path / "other.gz", lambda lines: ['{"x": 1}\n']),
    }
    raw = good.read_bytes()
    (tmp_path / "cut.gz").write_bytes(raw[: len(raw) // 2])
    cases["cut gzip"] = tmp_path / "cut.gz"
    (tmp_path / "plain.txt").write_text("hello")
    cases["not gzip"] = tmp_path / "plain.txt"
    for why, path in cases.items():
        with pytest.raises(DatabaseError, match="cannot be used"):
            restore(migrated_url, path)
        assert empty(migrated_url), why
    with pytest.raises(DatabaseError, match="not found"):
        restore(migrated_url, tmp_path / "missing.gz")


def test_backup_refuses_an_unmigrated_database(sqlite_url, tmp_path):
    with pytest.raises(DatabaseError, match="not a tanhui database"):
        backup(sqlite_url, tmp_path / "b.jsonl.gz")
    assert not (tmp_path / "b.jsonl.gz").exists()


def test_backup_file_layout(filled_sqlite, tmp_path):
    info = backup(filled_sqlite, tmp_path / "b.jsonl.gz")
    with gzip.open(info.path, "rt", encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    header, footer = docs[0], docs[-1]
    assert header["format"] == "tanhui-backup" and header["schema_revision"] == head()
    assert list(header["tables"]) == [t.name for t in TABLES]
    assert footer["end"] is True and footer["sha256"] == info.sha256
    order = [d["table"] for d in docs[1:-1]]
    assert order == sorted(order, key=[t.name for t in TABLES].index)  # parents first
    events = [d["row"] for d in docs[1:-1] if d["table"] == "events"]
    assert [e["sequence"] for e in events] == [1, 2, 3]
    assert events[0]["created_at"].endswith("+00:00")
    engine = make_engine(filled_sqlite)
    with engine.connect() as c:
        assert c.scalar(select(Event.hash).where(Event.sequence == 3)) == events[2]["hash"]
        assert c.scalar(select(Organisation.name).where(Organisation.id == 1)) == "三明市林业局"
    engine.dispose()


def test_backup_reads_a_snapshot_while_a_writer_works(filled_sqlite, tmp_path):
    engine = make_engine(filled_sqlite)
    try:
        with UnitOfWork(engine) as writer:
            writer.session.add(org("未提交", "holder"))
            writer.session.flush()  # holds SQLite's write lock until the end of the block
            info = backup(filled_sqlite, tmp_path / "b.jsonl.gz")
        assert info.rows["organisations"] == 8  # the uncommitted row is not in the backup
    finally:
        engine.dispose()
