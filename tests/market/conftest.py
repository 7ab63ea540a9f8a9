"""Fixtures for the market tests.

The database fixtures come from ``tests/db/conftest.py`` (loaded here under another module name,
since a conftest only serves its own directory): ``migrated_url`` and ``db_engine`` run a test once
on SQLite and once on PostgreSQL at 127.0.0.1:5432 (skipped when the server is unreachable, failing
when ``CI`` is set). ``tests/db`` is put on ``sys.path`` so that tests can build a registry with
``registry_world`` (the ledger tests' helper); ``market_world`` builds a market on top of it.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_DB_TESTS = Path(__file__).parents[1] / "db"
if str(_DB_TESTS) not in sys.path:
    sys.path.append(str(_DB_TESTS))


def _load_db_fixtures():
    name = "tanhui_tests_db_conftest"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, _DB_TESTS / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# Every fixture of tests/db/conftest.py (sqlite_url, migrated_url, db_engine, postgres_server, …).
_db = _load_db_fixtures()
for _name, _value in vars(_db).items():
    if hasattr(_value, "_fixture_function_marker") or hasattr(_value, "_pytestfixturefunction"):
        globals()[_name] = _value
