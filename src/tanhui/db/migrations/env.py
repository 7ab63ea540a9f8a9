"""Alembic environment for tanhui, driven by :mod:`tanhui.db.migrate`.

The caller passes an open connection (inside a transaction) in ``config.attributes``; there is no
``alembic.ini`` and no logging configuration. Running the ``alembic`` command line against this
directory also works: it then reads the URL from tanhui's settings.
"""

from __future__ import annotations

from alembic import context

from tanhui.db.tables import metadata

config = context.config


def run_migrations_offline() -> None:
    from tanhui.config import get_settings

    context.configure(
        url=get_settings().database_url,
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from tanhui.config import get_settings
    from tanhui.db.engine import make_engine

    engine = make_engine(get_settings().database_url)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
