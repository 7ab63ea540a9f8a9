"""Benchmark: the registry ledger on PostgreSQL, and the API's holdings reads.

    python benchmarks/ledger.py                       # server at 127.0.0.1:5432 (trust auth)
    python benchmarks/ledger.py --seconds 20 --clients 8

1. A fresh database ``tanhui_bench_<pid>`` is created and migrated; 8 holders get a large issued
   block each (and share a bank).
2. 8 client processes (not threads: no shared GIL) run a mix through the service layer for
   ``--seconds``: transfers with splits (1–5 t to another holder), pledge request + bank confirm,
   retirements of 1 t. Every operation is a full ledger transaction with its hash-chained event.
3. ``pgbench`` simple-update (``-b simple-update``) with the same number of clients on the same
   server, in the same run, is the baseline: ops/s ÷ pgbench TPS (target ≥ 0.3); p50/p99 latency
   (target p99 < 50 ms).
4. The API (uvicorn, one worker) serves ``GET /api/v1/holdings`` to 50 concurrent clients:
   requests/s and p99.

The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing as mp
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time

from sqlalchemy import create_engine, text

ADMIN_URL = os.environ.get(
    "TANHUI_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def admin_engine():
    return create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")


def setup(url: str, clients: int) -> dict:
    from tanhui.db import make_engine, upgrade
    from tanhui.registry.ledger import Ledger, SystemActor
    from tanhui.registry.permissions import Action, Role

    upgrade(url)
    engine = make_engine(url)
    ledger = Ledger(engine)
    system = SystemActor()
    bank = ledger.create_organisation(system, name="bench bank", kind="bank")
    holders = []
    for i in range(clients):
        org = ledger.create_organisation(
            system, name=f"bench holder {i}", kind="holder", region_code="350499"
        )
        holders.append(org)

    def act(org_id: int, *roles: Role):
        from tanhui.registry.identity import Actor

        return Actor(None, f"bench{org_id}", org_id, frozenset(roles), "system")

    blocks = []
    for i, org in enumerate(holders):
        owner = act(org["id"], Role.holder)
        project = ledger.register_project(
            owner,
            scheme="SMCER",
            region_code="350499",
            name=f"bench project {i}",
            methodology="smcer",
            crediting_start=dt.date(2016, 1, 1),
            crediting_end=dt.date(2045, 12, 31),
            subcompartments=[(f"B{i}-1", 10.0)],
        )
        report = ledger.submit_monitoring_report(
            owner,
            project_id=project["id"],
            period_start=dt.date(2016, 1, 1),
            period_end=dt.date(2020, 12, 31),
            result={
                "total_tco2e": 5_000_000.0,
                "provenance": {"bench": i},
                "rows": [{"id": f"B{i}-1", "tco2e": 5e6, "reasons": ""}],
            },
        )
        request = ledger.submit_issuance(owner, report_id=report["id"])
        for role, step in (
            (Role.verifier, Action.verify_issuance),
            (Role.forestry_regulator, Action.approve_issuance),
            (Role.eco_regulator, Action.file_issuance),
            (Role.issuer, Action.issue),
        ):
            done = ledger.review_issuance(act(None, role), request_id=request["id"], action=step)
        blocks.append(done["blocks"][0]["id"])
    engine.dispose()
    return {
        "bank": bank["id"],
        "holders": [h["id"] for h in holders],
        "accounts": [h["account"] for h in holders],
        "blocks": blocks,
    }


def client(url: str, world: dict, index: int, seconds: float, queue) -> None:
    from tanhui.db import make_engine
    from tanhui.registry.identity import Actor
    from tanhui.registry.ledger import Ledger
    from tanhui.registry.permissions import Role

    ledger = Ledger(make_engine(url))
    me = Actor(None, f"holder{index}", world["holders"][index], frozenset({Role.holder}), "system")
    bank = Actor(None, "bank", world["bank"], frozenset({Role.bank}), "system")
    block = world["blocks"][index]
    others = [a for i, a in enumerate(world["accounts"]) if i != index]
    rng = random.Random(index)
    latencies: dict[str, list[float]] = {"transfer": [], "pledge": [], "confirm": [], "retire": []}
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        kind = rng.choices(("transfer", "pledge", "retire"), weights=(6, 2, 2))[0]
        t0 = time.perf_counter()
        if kind == "transfer":
            ledger.transfer(
                me, block_id=block, quantity=rng.randint(1, 5), to_account=rng.choice(others)
            )
        elif kind == "retire":
            ledger.retire(me, block_id=block, quantity=1, beneficiary="bench", purpose="voluntary")
        else:
            pledge = ledger.request_pledge(
                me, block_id=block, quantity=2, bank_organisation_id=world["bank"]
            )
            latencies["pledge"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            ledger.confirm_pledge(bank, pledge_id=pledge["pledge_id"])
            kind = "confirm"
        latencies[kind].append(time.perf_counter() - t0)
    queue.put(latencies)


def run_ledger(url: str, world: dict, clients: int, seconds: float) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=client, args=(url, world, i, seconds, queue)) for i in range(clients)
    ]
    start = time.perf_counter()
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - start
    all_ms = sorted(1000 * x for r in results for v in r.values() for x in v)
    by_kind = {k: sum(len(r[k]) for r in results) for k in results[0]}
    return {
        "ops": len(all_ms),
        "seconds": seconds,
        "ops_per_s": len(all_ms) / seconds,
        "by_kind": by_kind,
        "p50_ms": statistics.median(all_ms),
        "p99_ms": all_ms[int(0.99 * (len(all_ms) - 1))],
        "wall_seconds": elapsed,
    }


def run_pgbench(dbname: str, clients: int, seconds: float) -> float:
    pgbench = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    common = ["-h", "127.0.0.1", "-U", "postgres"]
    subprocess.run(
        [pgbench, *common, "-i", "-s", "1", "-q", dbname], check=True, capture_output=True
    )
    done = subprocess.run(
        [
            pgbench,
            *common,
            "-b",
            "simple-update",
            "-c",
            str(clients),
            "-j",
            "2",
            "-T",
            str(int(seconds)),
            dbname,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    match = re.search(r"tps = ([0-9.]+)", done.stdout)
    assert match, done.stdout
    return float(match.group(1))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def hammer_api(base: str, token: str, clients: int, seconds: float) -> dict:
    import httpx

    latencies: list[float] = []
    errors = 0

    async def worker(http: httpx.AsyncClient) -> None:
        nonlocal errors
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            response = await http.get("/api/v1/holdings", params={"limit": 20})
            latencies.append(time.perf_counter() - t0)
            errors += response.status_code != 200

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, limits=limits, timeout=30
    ) as http:
        await asyncio.gather(*(worker(http) for _ in range(clients)))
    ms = sorted(1000 * x for x in latencies)
    return {
        "requests": len(ms),
        "rps": len(ms) / seconds,
        "p50_ms": statistics.median(ms),
        "p99_ms": ms[int(0.99 * (len(ms) - 1))],
        "errors": errors,
    }


def run_api(url: str, clients: int, seconds: float, holder_org: int) -> dict:
    import httpx

    from tanhui.db import make_engine
    from tanhui.db.uow import UnitOfWork
    from tanhui.registry import identity
    from tanhui.registry.permissions import Role

    engine = make_engine(url)
    identity.create_user(
        UnitOfWork(engine),
        identity.Actor.system(),
        "benchuser",
        "bench-password-1",
        organisation_id=holder_org,
        roles=[Role.holder],
    )
    engine.dispose()
    port = free_port()
    env = {
        **os.environ,
        "TANHUI_DATABASE_URL": url,
        "TANHUI_SECRET_KEY": "b" * 48,
        "TANHUI_DEV": "",
    }
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
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        token = httpx.post(
            f"{base}/api/v1/auth/token",
            data={"username": "benchuser", "password": "bench-password-1"},
        ).json()["access_token"]
        return asyncio.run(hammer_api(base, token, clients, seconds))
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--api-clients", type=int, default=50)
    args = parser.parse_args()
    name = f"tanhui_bench_{os.getpid()}"
    admin = admin_engine()
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = str(admin.url.set(database=name).render_as_string(hide_password=False))
    try:
        print(f"setting up {args.clients} holders on {name} …", file=sys.stderr)
        world = setup(url, args.clients)
        print("ledger mix …", file=sys.stderr)
        ledger = run_ledger(url, world, args.clients, args.seconds)
        print("pgbench simple-update …", file=sys.stderr)
        tps = run_pgbench(name, args.clients, args.seconds)
        print("API holdings reads …", file=sys.stderr)
        api = run_api(url, args.api_clients, args.seconds, world["holders"][0])
        from tanhui.db import make_engine
        from tanhui.registry.ledger import Ledger

        problems = Ledger(make_engine(url)).verify()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(
        f"\nmachine: {os.cpu_count()} cores; PostgreSQL on 127.0.0.1; {args.clients} clients, {args.seconds:g} s each"
    )
    print(
        f"ledger mix            {ledger['ops_per_s']:8.0f} ops/s   p50 {ledger['p50_ms']:6.1f} ms   "
        f"p99 {ledger['p99_ms']:6.1f} ms   ({ledger['ops']} ops: {ledger['by_kind']})"
    )
    print(f"pgbench simple-update {tps:8.0f} tps")
    ratio = ledger["ops_per_s"] / tps
    print(
        f"ratio ledger/pgbench  {ratio:8.2f}      target ≥ 0.3: {'met' if ratio >= 0.3 else 'MISSED'};"
        f" p99 < 50 ms: {'met' if ledger['p99_ms'] < 50 else 'MISSED'}"
    )
    print(
        f"API GET /holdings     {api['rps']:8.0f} req/s  p50 {api['p50_ms']:6.1f} ms   p99 {api['p99_ms']:6.1f} ms"
        f"   ({args.api_clients} concurrent clients, {api['errors']} errors)"
    )
    print(f"registry verify after the run: {'consistent' if not problems else problems[:3]}")


if __name__ == "__main__":
    main()
