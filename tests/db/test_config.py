"""Settings and database URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tanhui.config import Settings, get_settings
from tanhui.db import display_url, make_engine, normalize_url
from tanhui.errors import DatabaseError


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    import os

    for key in list(os.environ):
        if key.startswith("TANHUI_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_defaults(clean_env, tmp_path):
    settings = Settings()
    assert settings.home == Path("tanhui-data")
    assert settings.database_url == f"sqlite:///{tmp_path / 'tanhui-data' / 'tanhui.db'}"
    assert settings.secret_key is None
    assert settings.language == "zh"
    assert settings.environment == "dev"
    assert not (tmp_path / "tanhui-data").exists()  # created on demand, not by reading settings


def test_environment(clean_env, tmp_path):
    clean_env.setenv("TANHUI_HOME", str(tmp_path / "h"))
    clean_env.setenv("TANHUI_SECRET_KEY", "s3cret")
    clean_env.setenv("TANHUI_LANG", "en_US.UTF-8")
    settings = get_settings()
    assert settings.database_url == f"sqlite:///{tmp_path / 'h' / 'tanhui.db'}"
    assert settings.secret_key is not None and settings.secret_key.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)
    assert settings.language == "en"
    assert get_settings() is settings
    clean_env.setenv("TANHUI_DATABASE_URL", "postgresql://u:p@db/tanhui")
    get_settings.cache_clear()
    assert get_settings().database_url == "postgresql://u:p@db/tanhui"


def test_urls():
    assert normalize_url("postgresql://u:p@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u:p@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite"
    assert "p@" not in display_url("postgresql://u:p@h/db")
    for bad in ("mysql://u@h/db", "not a url"):
        with pytest.raises(DatabaseError):
            normalize_url(bad)


def test_sqlite_directory_created_on_demand(tmp_path):
    path = tmp_path / "a" / "b" / "t.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect():
        pass
    engine.dispose()
    assert path.is_file()


def test_in_memory_sqlite_is_one_database():
    from sqlalchemy import text

    engine = make_engine("sqlite://")
    with engine.begin() as c:
        c.execute(text("CREATE TABLE t (x INTEGER)"))
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM t")).scalar() == 0
    engine.dispose()


def test_public_url_is_a_plain_http_address(monkeypatch):
    monkeypatch.setenv("TANHUI_PUBLIC_URL", "https://tanpiao.example.gov.cn/ ")
    assert Settings(_env_file=None).public_url == "https://tanpiao.example.gov.cn"
    assert Settings(_env_file=None, public_url="").public_url == ""
    for bad in ("tanpiao.example.gov.cn", "javascript:alert(1)", "https://x.cn/?a=1", "ftp://x"):
        with pytest.raises(ValueError, match="TANHUI_PUBLIC_URL"):
            Settings(_env_file=None, public_url=bad)
