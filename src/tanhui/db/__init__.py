"""The database: engines, tables, the unit of work, migrations and backups.

SQLite (an embedded file, the default) and PostgreSQL (production, ``TANHUI_DATABASE_URL``) are
both supported and both tested. Typical use::

    from tanhui.db import UnitOfWork, make_engine, upgrade

    upgrade(url)                      # create or migrate the schema
    engine = make_engine(url)
    with UnitOfWork(engine) as uow:
        ...
        uow.commit()
"""

from tanhui.db import market_tables as market_tables  # the market's tables join the metadata
from tanhui.db.backup import BackupInfo, backup, read_info, restore
from tanhui.db.engine import (
    display_url,
    is_sqlite,
    make_engine,
    normalize_url,
    read_only,
    session_factory,
)
from tanhui.db.migrate import current, downgrade, head, upgrade
from tanhui.db.tables import metadata
from tanhui.db.uow import UnitOfWork, lock_for_update

__all__ = [
    "BackupInfo",
    "UnitOfWork",
    "backup",
    "current",
    "display_url",
    "downgrade",
    "head",
    "is_sqlite",
    "lock_for_update",
    "make_engine",
    "metadata",
    "normalize_url",
    "read_info",
    "read_only",
    "restore",
    "session_factory",
    "upgrade",
]
