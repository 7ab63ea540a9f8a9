"""The administrator's registry commands end to end: orgs, users, verify (and its failure), lookup."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from sqlalchemy import text

from tanhui.db import make_engine, upgrade
from tanhui.registry.seed import seed


def tanhui(*args, **env):
    return subprocess.run(
        [sys.executable, "-m", "tanhui", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TANHUI_LANG": "en", "COLUMNS": "200", **env},
    )


def test_orgs_users_verify_and_lookup(tmp_path):
    url = f"sqlite:///{tmp_path / 'reg.db'}"
    assert tanhui("db", "upgrade", "--db", url).returncode == 0
    made = tanhui(
        "orgs", "create", "示范县林业局", "--kind", "regulator", "--region", "350499", "--db", url
    )
    assert made.returncode == 0, made.stderr
    assert "account" in made.stdout
    user = tanhui(
        "users",
        "create",
        "linyeju",
        "--org",
        "1",
        "--role",
        "forestry_regulator",
        "--password",
        "a-long-password",
        "--db",
        url,
    )
    assert user.returncode == 0, user.stderr
    listed = tanhui("users", "list", "--db", url)
    assert "linyeju" in listed.stdout and "forestry_regulator" in listed.stdout
    bad = tanhui(
        "users", "create", "x", "--role", "wizard", "--password", "a-long-password", "--db", url
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr

    ok = tanhui("registry", "verify", "--db", url)
    assert ok.returncode == 0, ok.stderr


def test_verify_fails_on_a_tampered_ledger_and_lookup_is_public(tmp_path):
    url = f"sqlite:///{tmp_path / 'reg.db'}"
    upgrade(url)
    engine = make_engine(url)
    seeded = seed(engine, tmp_path)
    engine.dispose()  # the commands below use their own connections
    assert tanhui("registry", "verify", "--db", url).returncode == 0
    found = tanhui("registry", "lookup", seeded.certificates[0], "--db", url)
    assert found.returncode == 0
    doc = json.loads(found.stdout)
    assert doc["beneficiary"] == "2026 海峡林业博览会" and doc["kind"] == "certificate"
    with engine.begin() as connection:  # someone edits a balance behind the ledger's back
        # (the CHECK constraints refuse e.g. an ACTIVE block with a court's lock; this passes them)
        connection.execute(
            text(
                "UPDATE blocks SET account_id = (SELECT max(id) FROM accounts) WHERE state = 'ACTIVE'"
            )
        )
    engine.dispose()
    broken = tanhui("registry", "verify", "--db", url)
    assert broken.returncode == 1
    assert "blocks: replay differs" in broken.stderr
