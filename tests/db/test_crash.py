"""Crash: kill -9 the server in the middle of a load, restart it, and check nothing is lost.

A client sends transfers with idempotency keys to a real server process (uvicorn) on SQLite and
on PostgreSQL and records every acknowledged answer. The server is killed with SIGKILL while
requests are in flight. After a restart, ``tanhui registry verify`` passes (chain, replay,
conservation), every acknowledged transfer is in the ledger, and repeating every sent request
with its key (acknowledged or not) completes the load with exactly one effect each.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tanhui.db import make_engine
from tanhui.registry.ledger import Ledger
from tanhui.registry.seed import DEMO_PASSWORD, seed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, port: int, home: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "TANHUI_DATABASE_URL": url,
        "TANHUI_SECRET_KEY": "k" * 48,
        "TANHUI_DEV": "",
        "TANHUI_HOME": str(home),
    }
    log = home / f"server-{port}.log"
    with log.open("ab") as sink:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "tanhui.api.app:create_app_from_env",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    for _ in range(150):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    server.wait()
    raise RuntimeError(log.read_text(errors="replace") or "server did not start")


def login(base: str, username: str) -> dict[str, str]:
    token = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
    )
    token.raise_for_status()
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


@pytest.fixture
def engine(migrated_url):
    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


def test_kill_9_during_a_load_loses_nothing(migrated_url, engine, tmp_path):
    seeded = seed(engine, tmp_path)
    ledger = Ledger(engine)
    village, buyer = seeded.organisations["village"], seeded.organisations["buyer"]
    start_village, start_buyer = (
        ledger.balance(village)["available"],
        ledger.balance(buyer)["available"],
    )
    holdings, _ = ledger.holdings(seeded.actors["village"], states=["ACTIVE"])
    block_id = max(holdings, key=lambda b: b.quantity).id

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(migrated_url, port, tmp_path)
    headers = login(base, "village")
    sent: list[str] = []
    acknowledged: dict[str, dict] = {}
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=5) as http:
            for i in range(10_000):
                if stop.is_set():
                    return
                key = f"crash-{i}"
                sent.append(key)
                try:
                    response = http.post(
                        f"/api/v1/blocks/{block_id}/transfer",
                        json={"quantity": 1, "to_account": seeded.accounts["buyer"]},
                        headers={"Idempotency-Key": key},
                    )
                except httpx.HTTPError:
                    return  # the server died under us
                if response.status_code == 200:
                    acknowledged[key] = response.json()

    worker = threading.Thread(target=load)
    worker.start()
    deadline = time.time() + 30
    while len(acknowledged) < 15 and time.time() < deadline:
        time.sleep(0.02)
    os.kill(server.pid, signal.SIGKILL)
    server.wait(timeout=10)
    stop.set()
    worker.join(timeout=10)
    assert len(acknowledged) >= 15, "the load never got going"

    # after the crash: consistent, and every acknowledged transfer is there
    verify = subprocess.run(
        [sys.executable, "-m", "tanhui", "registry", "verify", "--db", migrated_url],
        capture_output=True,
        text=True,
        env={**os.environ, "TANHUI_LANG": "en"},
    )
    assert verify.returncode == 0, verify.stderr
    moved = ledger.balance(buyer)["available"] - start_buyer
    assert moved >= len(acknowledged)
    assert ledger.balance(village)["available"] + moved == start_village  # conservation
    for answer in acknowledged.values():
        found = ledger.lookup(answer["serial"])
        assert [b["state"] for b in found["blocks"]] == ["ACTIVE"]
        assert found["blocks"][0]["holder"] == "海峡会展集团"

    # restart and replay every request that was sent: exactly one effect per key
    server = start_server(migrated_url, port, tmp_path)
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
            for key in sent:
                response = http.post(
                    f"/api/v1/blocks/{block_id}/transfer",
                    json={"quantity": 1, "to_account": seeded.accounts["buyer"]},
                    headers={"Idempotency-Key": key},
                )
                assert response.status_code == 200, response.text
                if key in acknowledged:
                    assert response.json() == acknowledged[key]
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert ledger.balance(buyer)["available"] - start_buyer == len(sent)
    assert ledger.verify() == []


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
