"""Settings: the one place tanhui reads its environment.

Every setting comes from an environment variable with the prefix ``TANHUI_`` (or a ``.env`` file
in the working directory):

==========================  ===============================================================
``TANHUI_HOME``             data directory, default ``./tanhui-data`` (created on demand)
``TANHUI_DATABASE_URL``     SQLAlchemy URL; default: the SQLite file ``tanhui.db`` in the
                            data directory. PostgreSQL: ``postgresql://user:pw@host/db``
``TANHUI_SECRET_KEY``       signing key for tokens; none by default (the API refuses to start
                            without one, or with a known default or one shorter than 32
                            characters, unless ``TANHUI_DEV=1``)
``TANHUI_ENVIRONMENT``      ``dev`` (default) or ``production``
``TANHUI_LANG``             message language, ``zh`` (default) or ``en``
                            (``TANHUI_LANGUAGE`` is accepted too)
``TANHUI_DEV``              ``1`` allows the API to start without a real secret key (a random
                            per-process key is used; ``tanhui serve --demo`` sets it)
``TANHUI_JWT_TTL_MINUTES``  lifetime of an API access token, default 60
==========================  ===============================================================

Use :func:`get_settings` (cached); tests that change the environment call
``get_settings.cache_clear()``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_HOME = Path("tanhui-data")
DATABASE_FILE = "tanhui.db"


class Settings(BaseSettings):
    """tanhui's settings, read from ``TANHUI_*`` environment variables."""

    model_config = SettingsConfigDict(
        env_prefix="TANHUI_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    home: Path = Field(default=DEFAULT_HOME, description="data directory")
    database_url: str = Field(
        default="",
        description="SQLAlchemy database URL; empty means the SQLite file in the data directory",
    )
    secret_key: SecretStr | None = None
    environment: Literal["dev", "production"] = "dev"
    language: Literal["zh", "en"] = Field(
        default="zh", validation_alias=AliasChoices("TANHUI_LANG", "TANHUI_LANGUAGE", "language")
    )
    dev_mode: bool = Field(
        default=False,
        validation_alias=AliasChoices("TANHUI_DEV", "TANHUI_DEV_MODE", "dev_mode"),
        description="development mode: the API may run with a random per-process secret key",
    )
    public_url: str = Field(
        default="",
        description="the address users reach the site at (https://carbon.example.gov.cn); it goes "
        "into certificates' QR codes and verification links. Empty: the request's own address, "
        "which a client can forge with its Host header — set it in production",
    )
    jwt_ttl_minutes: int = Field(
        default=60, ge=1, le=7 * 24 * 60, description="lifetime of an API access token (minutes)"
    )

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, value: object) -> object:
        # Accept locale spellings such as zh_CN.UTF-8 or en_US.
        if isinstance(value, str):
            return "zh" if value.lower().startswith("zh") else "en"
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not (value.startswith(("http://", "https://")) and "://" in value[:8]):
            raise ValueError("TANHUI_PUBLIC_URL must start with http:// or https://")
        if value and any(c in value for c in "?#\"'<> "):
            raise ValueError("TANHUI_PUBLIC_URL must be a plain address (no query or fragment)")
        return value

    @field_validator("secret_key", mode="before")
    @classmethod
    def _empty_secret(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("dev_mode", mode="before")
    @classmethod
    def _empty_flag(cls, value: object) -> object:
        # ``TANHUI_DEV=`` (set but empty) means off.
        return False if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            path = (self.home / DATABASE_FILE).absolute()
            self.database_url = f"sqlite:///{path.as_posix()}"
        return self

    def ensure_home(self) -> Path:
        """Create the data directory if needed and return it."""
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
