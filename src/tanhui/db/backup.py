"""Portable backups: from SQLite to PostgreSQL and back, with identical contents.

A backup is a gzip'd JSON-lines file::

    {"format": "tanhui-backup", "format_version": 1, "schema_revision": "0001",
     "tanhui_version": "…", "created_at": "…", "source": "sqlite", "tables": {name: [columns]}}
    {"table": "organisations", "row": {"id": 1, "name": "…", …}}
    …                                              (every table, parents first, rows by id)
    {"end": true, "rows": {table: count}, "sha256": "<hex of every byte above>"}

Timestamps are ISO 8601 in UTC, dates ISO 8601, JSON columns inline. The backup reads one
consistent snapshot (a single transaction; REPEATABLE READ on PostgreSQL) and is written to a
temporary file that replaces ``path`` only when complete.

:func:`restore` loads a backup into an EMPTY database already migrated to the backup's schema
revision, in one transaction: a damaged file (checksum, truncation), a non-empty target or a
different revision leaves the target untouched and raises :class:`~tanhui.errors.DatabaseError`.
PostgreSQL sequences are moved past the restored ids afterwards.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Date, DateTime, Table, exists, func, select, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from tanhui import __version__
from tanhui.db import migrate
from tanhui.db.engine import READ_ONLY, display_url, make_engine
from tanhui.db.tables import metadata
from tanhui.errors import DatabaseError

FORMAT = "tanhui-backup"
FORMAT_VERSION = 1
BATCH = 1000


@dataclass(frozen=True)
class BackupInfo:
    """What a backup holds (returned by :func:`backup` and :func:`restore`)."""

    path: Path
    schema_revision: str
    tanhui_version: str
    created_at: str
    rows: dict[str, int] = field(default_factory=dict)
    sha256: str = ""

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


# ------------------------------------------------------------------------------------ values


def _tables() -> list[Table]:
    """Every table of the models, parents before children (read when called, so tables that
    other modules add to the shared metadata are included)."""
    return list(metadata.sorted_tables)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _decoder(table: Table) -> dict[str, Any]:
    """Per column, a function from the JSON value back to what the column type binds."""
    decoders: dict[str, Any] = {}
    for column in table.columns:
        kind = column.type
        if isinstance(kind, DateTime) or isinstance(getattr(kind, "impl", None), DateTime):
            decoders[column.name] = datetime.fromisoformat
        elif isinstance(kind, Date):
            decoders[column.name] = date.fromisoformat
    return decoders


def _decode_row(row: dict[str, Any], decoders: dict[str, Any]) -> dict[str, Any]:
    for name, decode in decoders.items():
        value = row.get(name)
        if value is not None:
            row[name] = decode(value)
    return row


def _line(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


# ------------------------------------------------------------------------------------ backup


def backup(url: str | URL, path: str | os.PathLike[str]) -> BackupInfo:
    """Write every row of the database at ``url`` to the backup file ``path``."""
    path = Path(path)
    with migrate.connect(url) as connection:
        # One snapshot: REPEATABLE READ on PostgreSQL, a deferred WAL read on SQLite; neither
        # blocks the registry's writers while the backup runs.
        options: dict[str, Any] = {READ_ONLY: True}
        if connection.dialect.name == "postgresql":
            options |= {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        connection = connection.execution_options(**options)
        with connection.begin():
            revision = _require_current_schema(connection, url)
            return _write(connection, path, revision)


def _write(connection: Connection, path: Path, revision: str) -> BackupInfo:
    path.parent.mkdir(parents=True, exist_ok=True)
    created_at = datetime.now(UTC).isoformat()
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "schema_revision": revision,
        "tanhui_version": __version__,
        "created_at": created_at,
        "source": connection.dialect.name,
        "tables": {t.name: [c.name for c in t.columns] for t in _tables()},
    }
    digest = hashlib.sha256()
    counts: dict[str, int] = {}
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with gzip.open(tmp_name, "wb") as sink:

            def emit(doc: dict[str, Any]) -> None:
                line = _line(doc)
                digest.update(line)
                sink.write(line)

            emit(header)
            for table in _tables():
                counts[table.name] = 0
                result = connection.execution_options(yield_per=BATCH).execute(
                    select(table).order_by(*table.primary_key.columns)
                )
                for row in result.mappings():
                    emit({"table": table.name, "row": {k: _encode(v) for k, v in row.items()}})
                    counts[table.name] += 1
            sha = digest.hexdigest()
            sink.write(_line({"end": True, "rows": counts, "sha256": sha}))
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return BackupInfo(path, revision, __version__, created_at, counts, sha)


def _require_current_schema(connection: Connection, url: str | URL) -> str:
    revision = migrate.current_revision(connection)
    if revision is None:
        raise DatabaseError(
            f"{display_url(url)} 不是 tanhui 数据库（没有架构版本）。",
            f"{display_url(url)} is not a tanhui database (it has no schema revision).",
            hint_zh="先运行 tanhui db upgrade 建立数据表。",
            hint_en="Run `tanhui db upgrade` to create the tables first.",
        )
    if revision != migrate.head():
        raise DatabaseError(
            f"数据库架构版本为 {revision}，本版 tanhui 的版本为 {migrate.head()}。",
            f"The database is at schema revision {revision}; this tanhui is at {migrate.head()}.",
            hint_zh="先运行 tanhui db upgrade，或使用与数据库相符的 tanhui 版本。",
            hint_en="Run `tanhui db upgrade` first, or use the tanhui version that matches the database.",
        )
    return revision


# ----------------------------------------------------------------------------------- restore


def read_info(path: str | os.PathLike[str]) -> BackupInfo:
    """Read and verify a whole backup file without touching any database."""
    with _open(path) as lines:
        header = _header(path, next(lines, None))
        for doc in lines:
            if "end" in doc:
                return _info(path, header, doc)
    raise _damaged(path, "no end record")  # pragma: no cover - the reader raises first


def restore(url: str | URL, path: str | os.PathLike[str], *, upgrade: bool = False) -> BackupInfo:
    """Load the backup ``path`` into the empty, migrated database at ``url`` (one transaction).

    With ``upgrade=True`` a database without any schema is first migrated to the backup's
    revision.
    """
    path = Path(path)
    with _open(path) as lines:
        header = _header(path, next(lines, None))
        revision = header["schema_revision"]
        if revision != migrate.head():
            raise DatabaseError(
                f"备份的架构版本为 {revision}，本版 tanhui 的版本为 {migrate.head()}。",
                f"The backup is at schema revision {revision}; this tanhui is at {migrate.head()}.",
                hint_zh=f"请用 tanhui {header.get('tanhui_version', '?')} 恢复该备份，再运行 tanhui db upgrade。",
                hint_en=f"Restore it with tanhui {header.get('tanhui_version', '?')}, then run `tanhui db upgrade`.",
            )
        engine = make_engine(url)
        try:
            if upgrade and migrate.current(engine) is None:
                migrate.upgrade(engine, revision)
            with migrate.connect(engine, begin=True) as connection:
                _check_target(connection, url, revision)
                footer = _load(connection, path, lines)
                _reset_sequences(connection)
        except DBAPIError as exc:
            raise DatabaseError(
                f"恢复失败，目标数据库未改变：{migrate.error_detail(exc)}",
                f"The restore failed and the target database was left unchanged: {migrate.error_detail(exc)}",
            ) from None
        finally:
            engine.dispose()
    return _info(path, header, footer)


def _check_target(connection: Connection, url: str | URL, revision: str) -> None:
    target = migrate.current_revision(connection)
    if target != revision:
        raise DatabaseError(
            f"目标数据库架构版本为 {target or '（空）'}，备份为 {revision}。",
            f"The target database is at schema revision {target or '(none)'}; the backup is at {revision}.",
            hint_zh=f"先运行 tanhui db upgrade --revision {revision} --db …（或加 --upgrade）。",
            hint_en=f"Run `tanhui db upgrade --revision {revision} --db …` first (or pass --upgrade).",
        )
    filled = [t.name for t in _tables() if connection.scalar(select(exists().select_from(t)))]
    if filled:
        raise DatabaseError(
            f"目标数据库 {display_url(url)} 不是空的（{', '.join(filled)} 已有数据），未恢复任何数据。",
            f"The target database {display_url(url)} is not empty ({', '.join(filled)} hold rows); nothing was restored.",
            hint_zh="恢复只写入新建的空数据库：新建数据库并运行 tanhui db upgrade 后重试。",
            hint_en="A restore only writes into a new, empty database: create one, run `tanhui db upgrade`, and try again.",
        )


def _load(connection: Connection, path: Path, lines: Iterator[dict[str, Any]]) -> dict[str, Any]:
    tables = {t.name: t for t in _tables()}
    decoders = {name: _decoder(t) for name, t in tables.items()}
    pending: list[dict[str, Any]] = []
    current: str | None = None

    def flush() -> None:
        if pending:
            connection.execute(tables[current].insert(), pending)  # type: ignore[index]
            pending.clear()

    for doc in lines:
        if "end" in doc:
            flush()
            return doc
        name = doc.get("table")
        if name not in tables:
            raise _damaged(path, f"unknown table {name!r}")
        if name != current:
            flush()
            current = name
        pending.append(_decode_row(doc["row"], decoders[name]))
        if len(pending) >= BATCH:
            flush()
    raise _damaged(path, "no end record")  # pragma: no cover - _open raises first


def _reset_sequences(connection: Connection) -> None:
    if connection.dialect.name != "postgresql":
        return
    for table in _tables():
        top = connection.scalar(select(func.max(table.c.id)))
        connection.execute(
            text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :value, :called)"),
            {"table": table.name, "value": top or 1, "called": top is not None},
        )


# ------------------------------------------------------------------------------ file reading


class _Lines:
    """Iterate the JSON records of a backup, hashing as it goes; the end record is checked."""

    def __init__(self, path: Path, stream: IO[bytes]) -> None:
        self.path, self.stream = path, stream
        self.digest = hashlib.sha256()
        self.count: dict[str, int] = {}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self

    def __next__(self) -> dict[str, Any]:
        try:
            raw = self.stream.readline()
        except (OSError, EOFError, zlib.error):
            raise _damaged(self.path, "the compressed data is damaged or truncated") from None
        if not raw:
            raise _damaged(self.path, "the file ends before its end record (truncated?)")
        try:
            doc = json.loads(raw)
        except ValueError:
            raise _damaged(self.path, "a line is not JSON") from None
        if not isinstance(doc, dict):
            raise _damaged(self.path, "a line is not a JSON object")
        if "end" in doc:
            if doc.get("sha256") != self.digest.hexdigest():
                raise _damaged(self.path, "checksum mismatch")
            declared = {k: v for k, v in dict(doc.get("rows", {})).items() if v}
            if declared != self.count:
                raise _damaged(self.path, "row counts differ from the end record")
            try:
                trailing = self.stream.read(1)
            except (OSError, EOFError, zlib.error):
                trailing = b"?"
            if trailing:
                raise _damaged(self.path, "data after the end record")
        else:
            self.digest.update(raw)
            if "table" in doc:
                self.count[doc["table"]] = self.count.get(doc["table"], 0) + 1
        return doc


@contextmanager
def _open(path: str | os.PathLike[str]) -> Iterator[_Lines]:
    path = Path(path)
    if not path.is_file():
        raise DatabaseError(f"找不到备份文件 {path}。", f"Backup file {path} not found.")
    with gzip.open(path, "rb") as stream:
        try:
            stream.peek(1)
        except (OSError, EOFError, zlib.error):
            raise _damaged(path, "not a gzip file") from None
        yield _Lines(path, stream)  # type: ignore[arg-type]


def _header(path: str | os.PathLike[str], doc: dict[str, Any] | None) -> dict[str, Any]:
    if not doc or doc.get("format") != FORMAT:
        raise _damaged(path, "not a tanhui backup")
    if doc.get("format_version") != FORMAT_VERSION:
        raise DatabaseError(
            f"备份格式版本 {doc.get('format_version')} 不受本版 tanhui 支持。",
            f"Backup format version {doc.get('format_version')} is not supported by this tanhui.",
        )
    expected = {t.name: [c.name for c in t.columns] for t in _tables()}
    if doc.get("schema_revision") == migrate.head() and doc.get("tables") != expected:
        raise _damaged(path, "its tables do not match its schema revision")
    return doc


def _info(
    path: str | os.PathLike[str], header: dict[str, Any], footer: dict[str, Any]
) -> BackupInfo:
    return BackupInfo(
        Path(path),
        header["schema_revision"],
        header.get("tanhui_version", ""),
        header.get("created_at", ""),
        dict(footer.get("rows", {})),
        footer.get("sha256", ""),
    )


def _damaged(path: str | os.PathLike[str], why: str) -> DatabaseError:
    return DatabaseError(
        f"备份文件 {path} 无法使用：{why}。未恢复任何数据。",
        f"Backup file {path} cannot be used: {why}. Nothing was restored.",
        hint_zh="请使用由 tanhui db backup 生成的完整文件。",
        hint_en="Use a complete file written by `tanhui db backup`.",
    )
