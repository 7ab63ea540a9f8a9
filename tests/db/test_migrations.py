"""Migrations: up, down and up again; the migrated schema equals the models; all or nothing."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from tanhui.db import current, downgrade, head, make_engine, upgrade
from tanhui.db.migrate import MIGRATIONS_DIR, revisions
from tanhui.db.tables import TABLES, metadata
from tanhui.errors import DatabaseError

TABLE_NAMES = {t.name for t in TABLES}


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_shipped_inside_the_package():
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert revisions() == ["0001", "0002", "0003"]
    assert head() == "0003"


def test_up_down_and_up_again(db_url):
    assert current(db_url) is None
    upgrade(db_url)
    assert current(db_url) == head()
    assert table_names(db_url) == TABLE_NAMES | {"alembic_version"}

    downgrade(db_url, "base")
    assert current(db_url) is None
    assert table_names(db_url) <= {"alembic_version"}

    upgrade(db_url, "head")
    assert current(db_url) == head()
    assert table_names(db_url) == TABLE_NAMES | {"alembic_version"}
    upgrade(db_url)  # already at head: nothing to do
    assert current(db_url) == head()


def test_migrated_schema_equals_the_models(migrated_url):
    engine = make_engine(migrated_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_a_failed_migration_changes_nothing(db_url):
    # A table in the way makes 0001 fail half-way: the tables it created before must vanish.
    engine = make_engine(db_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE retirements (x INTEGER)"))
    engine.dispose()
    with pytest.raises(DatabaseError, match="left unchanged"):
        upgrade(db_url)
    assert current(db_url) is None
    assert table_names(db_url) == {"retirements"}


def test_unknown_revision_is_a_clear_error(migrated_url):
    with pytest.raises(DatabaseError) as caught:
        downgrade(migrated_url, "nope")
    assert "0001" in caught.value.message("en")
    assert current(migrated_url) == head()


def test_constraint_names_fit_postgresql():
    names = [c.name for t in TABLES for c in t.constraints] + [
        i.name for t in TABLES for i in t.indexes
    ]
    assert all(isinstance(n, str) and len(n) <= 63 for n in names), names
    assert len(names) == len(set(names))
