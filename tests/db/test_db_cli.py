"""`tanhui db …` end to end, as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from db_sample import populate, snapshot

from tanhui.db import head, make_engine
from tanhui.db.migrate import revisions


def tanhui(*args: object, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TANHUI_") or k == "TANHUI_TEST_POSTGRES_URL"
    }
    environ |= {"TANHUI_LANG": "en", "COLUMNS": "200"} | env
    return subprocess.run(
        [sys.executable, "-m", "tanhui", "db", *map(str, args)],
        capture_output=True,
        text=True,
        env=environ,
        cwd=cwd,
        timeout=60,
    )


def test_upgrade_backup_restore_downgrade(tmp_path):
    source = f"sqlite:///{tmp_path / 'source.db'}"
    target = f"sqlite:///{tmp_path / 'target.db'}"

    done = tanhui("current", "--db", source)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(none)"
    assert not (tmp_path / "source.db").exists()  # asking does not create the file

    done = tanhui("upgrade", "--db", source)
    assert done.returncode == 0, done.stderr
    assert f"(empty) → {head()}" in done.stdout
    done = tanhui("upgrade", "--db", source, "--revision", "head")
    assert done.returncode == 0 and f"already at revision {head()}" in done.stdout
    assert tanhui("current", "--db", source).stdout.strip() == head()

    engine = make_engine(source)
    populate(engine)
    engine.dispose()

    archive = tmp_path / "backups" / "registry.jsonl.gz"
    done = tanhui("backup", str(archive), "--db", source)
    assert done.returncode == 0, done.stderr
    assert archive.is_file() and "rows" in done.stdout

    done = tanhui("restore", archive, "--db", target)
    assert done.returncode == 2
    assert f"tanhui db upgrade --revision {head()}" in done.stderr
    done = tanhui("restore", archive, "--db", target, "--upgrade")
    assert done.returncode == 0, done.stderr
    assert snapshot(target) == snapshot(source)

    done = tanhui("restore", archive, "--db", target)
    assert done.returncode == 2
    assert "not empty" in done.stderr and "Traceback" not in done.stderr

    done = tanhui("downgrade", "--revision", "base", "--db", target)  # no --yes, no terminal
    assert done.returncode != 0
    assert tanhui("current", "--db", target).stdout.strip() == head()
    done = tanhui("downgrade", "--revision", "base", "--db", target, "--yes")
    assert done.returncode == 0, done.stderr
    assert tanhui("current", "--db", target).stdout.strip() == "(none)"


def test_database_from_the_environment(tmp_path):
    done = tanhui("upgrade", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "tanhui-data" / "tanhui.db").is_file()

    home = tmp_path / "elsewhere"
    done = tanhui("upgrade", cwd=tmp_path, TANHUI_HOME=str(home))
    assert done.returncode == 0, done.stderr
    assert (home / "tanhui.db").is_file()

    url = f"sqlite:///{tmp_path / 'by-url.db'}"
    done = tanhui("upgrade", cwd=tmp_path, TANHUI_DATABASE_URL=url)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "by-url.db").is_file()


def test_postgresql_url_and_errors(postgres_url, tmp_path):
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    done = tanhui("upgrade", "--db", plain)
    assert done.returncode == 0, done.stderr
    assert tanhui("current", "--db", plain).stdout.strip() == head()

    done = tanhui("downgrade", "--revision", "nope", "--db", plain, "--yes")
    assert done.returncode == 2 and f"Known revisions: {', '.join(revisions())}" in done.stderr

    done = tanhui("current", "--db", "postgresql://nobody@127.0.0.1:1/none")
    assert done.returncode == 2
    assert "Cannot open the database" in done.stderr and "Traceback" not in done.stderr

    done = tanhui("current", "--db", "mysql://x/y", TANHUI_LANG="zh")
    assert done.returncode == 2 and "tanhui 支持 SQLite 与 PostgreSQL" in done.stderr

    done = tanhui("restore", tmp_path / "missing.jsonl.gz", "--db", plain)
    assert done.returncode == 2 and "not found" in done.stderr
