"""Benchmark: the market service on PostgreSQL — orders matched and settled, against the registry's
raw transfer rate in the same run; a uniform-price auction's close with 10,000 bids.

    python benchmarks/market.py                          # server at 127.0.0.1:5432 (trust auth)
    python benchmarks/market.py --seconds 20 --clients 8 --books 1 --bids 10000

1. A fresh database ``tanhui_bench_market_<pid>`` is created and migrated; ``--clients`` holders
   get a large issued block of each scheme and cash; the exchange opens one book per scheme
   (``--books``; 1 = every client trades in the same book, the hard case: one book's orders are
   applied one at a time).
2. **Registry baseline**: the same number of client processes (processes, not threads) run raw
   ``Ledger.transfer`` calls (1–5 t to another holder, each its own transaction with its
   hash-chained event) for ``--seconds``: transfers/s.
3. **Market**: the client processes submit limit orders through :class:`tanhui.market.Market`
   for ``--seconds`` — buys and sells around the last price, about half of them crossing — each a
   full service transaction: reservation of cash or tonnes, matching in the pure book, DvP
   settlement of every fill (cash journal + registry transfer), the command journal. Reported:
   orders/s, fills/s, p50/p99 latency, and **orders/s ÷ raw transfers/s** (target ≥ 0.5).
   The two phases alternate (baseline, market, baseline, market) and each figure is the mean of
   its two runs, so a machine busy with other work weighs on both alike.
4. **Auction close**: a uniform-price auction of 1,000,000 t receives ``--bids`` bids from 200
   qualified bidders through the service; then the operator's ``tick`` clears it: ranking, the
   allocation, every bid's outcome, the awards, the losers' deposits released — wall time of that
   call (target ≤ 1 s).

``Market.verify()`` (journals, cash identities, reservations, the registry's event replay) runs at
the end; the database is dropped.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import random
import statistics
import sys
import time

from sqlalchemy import create_engine, text

ADMIN_URL = os.environ.get(
    "TANHUI_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SCHEMES = ("SMCER", "GZCT", "CCER", "FFCER", "VCS")
BEIJING = dt.timezone(dt.timedelta(hours=8))
#: Monday 2 March 2026, 10:00 Beijing time: every order is inside the morning session.
SESSION = dt.datetime(2026, 3, 2, 10, 0, tzinfo=BEIJING)
MID = 1500


def act(org_id, *roles, name="bench"):
    from tanhui.registry.identity import Actor

    return Actor(None, f"{name}{org_id}", org_id, frozenset(roles), "system")


def setup(url: str, clients: int, books: int) -> dict:
    from tanhui.db import make_engine, upgrade
    from tanhui.market.service import Market
    from tanhui.registry.ledger import Ledger, SystemActor
    from tanhui.registry.permissions import Action, Role

    upgrade(url)
    engine = make_engine(url)
    ledger = Ledger(engine)
    system = SystemActor()
    exchange = ledger.create_organisation(system, name="bench exchange", kind="market")
    holders, blocks = [], {}
    for i in range(clients):
        org = ledger.create_organisation(
            system, name=f"bench holder {i}", kind="holder", region_code="350499"
        )
        holders.append(org)
        owner = act(org["id"], Role.holder)
        for s, scheme in enumerate(SCHEMES[:books]):
            project = ledger.register_project(
                owner,
                scheme=scheme,
                region_code="350499",
                name=f"bench project {i} {scheme}",
                methodology="smcer",
                crediting_start=dt.date(2016, 1, 1),
                crediting_end=dt.date(2045, 12, 31),
                subcompartments=[(f"B{i}-{s}", 10.0)],
            )
            report = ledger.submit_monitoring_report(
                owner,
                project_id=project["id"],
                period_start=dt.date(2016, 1, 1),
                period_end=dt.date(2020, 12, 31),
                result={
                    "total_tco2e": 5_000_000.0,
                    "provenance": {"bench": i, "scheme": scheme},
                    "rows": [{"id": f"B{i}-{s}", "tco2e": 5e6, "reasons": ""}],
                },
            )
            request = ledger.submit_issuance(owner, report_id=report["id"])
            for role, step in (
                (Role.verifier, Action.verify_issuance),
                (Role.forestry_regulator, Action.approve_issuance),
                (Role.eco_regulator, Action.file_issuance),
                (Role.issuer, Action.issue),
            ):
                done = ledger.review_issuance(
                    act(None, role), request_id=request["id"], action=step
                )
            blocks[(i, scheme)] = done["blocks"][0]["id"]
    market = Market(engine, ledger=ledger, operator_organisation_id=exchange["id"])
    operator = act(exchange["id"], Role.market_operator)
    for scheme in SCHEMES[:books]:
        market.open_book(
            operator, scheme=scheme, previous_close_fen=MID, buyer_fee_ppm=300, seller_fee_ppm=500
        )
    for org in holders:
        market.cash.deposit(operator, organisation_id=org["id"], amount_fen=10**12, now=SESSION)
    engine.dispose()
    return {
        "exchange": exchange["id"],
        "holders": [h["id"] for h in holders],
        "accounts": [h["account"] for h in holders],
        "blocks": {f"{i}:{s}": b for (i, s), b in blocks.items()},
        "schemes": list(SCHEMES[:books]),
    }


# ------------------------------------------------------------------------------ the clients


def transfer_client(url: str, world: dict, index: int, seconds: float, queue) -> None:
    from tanhui.db import make_engine
    from tanhui.registry.ledger import Ledger
    from tanhui.registry.permissions import Role

    engine = make_engine(url)
    ledger = Ledger(engine)
    me = act(world["holders"][index], Role.holder)
    block = world["blocks"][f"{index}:{world['schemes'][0]}"]
    others = [a for i, a in enumerate(world["accounts"]) if i != index]
    rng = random.Random(index)
    latencies = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        ledger.transfer(
            me, block_id=block, quantity=rng.randint(1, 5), to_account=rng.choice(others)
        )
        latencies.append(time.perf_counter() - t0)
    engine.dispose()
    queue.put({"latencies": latencies, "fills": 0})


def order_client(url: str, world: dict, index: int, seconds: float, queue) -> None:
    from tanhui.db import make_engine
    from tanhui.market.service import Market
    from tanhui.registry.permissions import Role

    engine = make_engine(url)
    market = Market(engine, operator_organisation_id=world["exchange"])
    me = act(world["holders"][index], Role.holder)
    rng = random.Random(1000 + index)
    schemes = world["schemes"]
    latencies, fills, errors = [], 0, 0
    deadline = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < deadline:
        n += 1
        scheme = schemes[(index + n) % len(schemes)]
        side = "buy" if rng.random() < 0.5 else "sell"
        # about half cross the touch; the rest rest a few ticks away on their own side
        crossing = rng.random() < 0.5
        away = rng.randint(0, 20) if crossing else rng.randint(1, 60)
        price = MID + (away if (side == "buy") == crossing else -away)
        quantity = rng.choice((1, 2, 5, 10, 20))
        now = SESSION + dt.timedelta(microseconds=n)
        t0 = time.perf_counter()
        try:
            out = market.submit_order(
                me, scheme=scheme, side=side, price_fen=price, quantity=quantity, now=now
            )
            fills += len(out["fills"])
        except Exception:
            errors += 1
        latencies.append(time.perf_counter() - t0)
    engine.dispose()
    queue.put({"latencies": latencies, "fills": fills, "errors": errors})


def run_clients(target, url: str, world: dict, clients: int, seconds: float) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=target, args=(url, world, i, seconds, queue)) for i in range(clients)
    ]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    ms = sorted(1000 * x for r in results for x in r["latencies"])
    return {
        "ops": len(ms),
        "per_s": len(ms) / seconds,
        "fills_per_s": sum(r["fills"] for r in results) / seconds,
        "errors": sum(r.get("errors", 0) for r in results),
        "p50_ms": statistics.median(ms),
        "p99_ms": ms[int(0.99 * (len(ms) - 1))],
    }


# ------------------------------------------------------------------------------ the auction


def auction_close(url: str, world: dict, bids: int, bidders: int = 200) -> dict:
    from tanhui.db import make_engine
    from tanhui.market.service import Market
    from tanhui.registry.ledger import Ledger, SystemActor
    from tanhui.registry.permissions import Role

    engine = make_engine(url)
    ledger = Ledger(engine)
    market = Market(engine, ledger=ledger, operator_organisation_id=world["exchange"])
    operator = act(world["exchange"], Role.market_operator)
    seller = act(world["holders"][0], Role.holder)
    scheme = world["schemes"][0]
    opens = SESSION + dt.timedelta(days=1)  # Tuesday
    closes = opens + dt.timedelta(hours=2)
    auction = market.create_auction(
        seller,
        kind="uniform",
        scheme=scheme,
        quantity=1_000_000,
        start_price_fen=1000,
        deposit_fen=10_000,
        opens_at=opens,
        ends_at=closes,
        min_bid_t=1,
        bidder_cap_ppm=500_000,
        now=opens - dt.timedelta(hours=1),
    )["id"]
    actors = []
    for i in range(bidders):
        org = ledger.create_organisation(SystemActor(), name=f"bench bidder {i}", kind="holder")
        who = act(org["id"], Role.holder, name="bidder")
        market.cash.deposit(operator, organisation_id=org["id"], amount_fen=10**9, now=opens)
        market.qualify(who, auction_id=auction, now=opens)
        actors.append(who)
    rng = random.Random(7)
    t0 = time.perf_counter()
    for n in range(bids):
        market.bid(
            actors[n % bidders],
            auction_id=auction,
            price_fen=1000 + rng.randint(0, 1000),
            quantity=rng.randint(50, 250),
            now=opens + dt.timedelta(seconds=n // 10),
        )
    placing = time.perf_counter() - t0
    t0 = time.perf_counter()
    done = market.tick(operator, now=closes)
    close_s = time.perf_counter() - t0
    view = market.auction(auction)
    engine.dispose()
    return {
        "bids": bids,
        "bid_per_s": bids / placing,
        "close_s": close_s,
        "winners": len(view["winners"]),
        "state": view["state"],
        "events": len(done["auctions"][0]["events"]) if done["auctions"] else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--books", type=int, default=1, choices=range(1, len(SCHEMES) + 1))
    parser.add_argument("--bids", type=int, default=10_000)
    parser.add_argument("--skip-auction", action="store_true")
    parser.add_argument("--skip-orders", action="store_true")
    args = parser.parse_args()
    name = f"tanhui_bench_market_{os.getpid()}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = str(admin.url.set(database=name).render_as_string(hide_password=False))
    try:
        print(
            f"setting up {args.clients} holders, {args.books} book(s) on {name} …", file=sys.stderr
        )
        world = setup(url, args.clients, args.books)
        runs: dict[str, list[dict]] = {"transfer": [], "order": []}
        for round_ in range(0 if args.skip_orders else 2):
            print(f"round {round_ + 1}: registry transfers …", file=sys.stderr)
            runs["transfer"].append(
                run_clients(transfer_client, url, world, args.clients, args.seconds)
            )
            print(f"round {round_ + 1}: market orders …", file=sys.stderr)
            runs["order"].append(run_clients(order_client, url, world, args.clients, args.seconds))
        auction = None
        if not args.skip_auction:
            print(f"auction with {args.bids} bids …", file=sys.stderr)
            auction = auction_close(url, world, args.bids)
        from tanhui.db import make_engine
        from tanhui.market.service import Market

        engine = make_engine(url)
        problems = Market(engine, operator_organisation_id=world["exchange"]).verify()
        engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    def mean(kind: str, key: str) -> float:
        return statistics.fmean(r[key] for r in runs[kind])

    print(
        f"\nmachine: {os.cpu_count()} cores; PostgreSQL on 127.0.0.1; {args.clients} client "
        f"processes, {args.books} book(s), 2 × {args.seconds:g} s per phase"
    )
    if not args.skip_orders:
        transfers, orders = mean("transfer", "per_s"), mean("order", "per_s")
        ratio = orders / transfers
        print(
            f"registry raw transfers {transfers:8.1f} /s   p50 {mean('transfer', 'p50_ms'):6.1f} ms"
            f"   p99 {mean('transfer', 'p99_ms'):6.1f} ms   (runs: "
            + ", ".join(f"{r['per_s']:.1f}" for r in runs["transfer"])
            + ")"
        )
        print(
            f"market orders          {orders:8.1f} /s   p50 {mean('order', 'p50_ms'):6.1f} ms   "
            f"p99 {mean('order', 'p99_ms'):6.1f} ms   fills {mean('order', 'fills_per_s'):.1f}/s"
            f"   errors {sum(r['errors'] for r in runs['order'])}   (runs: "
            + ", ".join(f"{r['per_s']:.1f}" for r in runs["order"])
            + ")"
        )
        verdict = "met" if ratio >= 0.5 else "MISSED"
        print(f"ratio orders/transfers {ratio:8.2f}      target ≥ 0.5: {verdict}")
    if auction:
        print(
            f"auction close          {auction['close_s']:8.3f} s   {auction['bids']} bids "
            f"(placed at {auction['bid_per_s']:.0f}/s), {auction['winners']} winners, "
            f"{auction['events']} events; target ≤ 1 s: "
            f"{'met' if auction['close_s'] <= 1 else 'MISSED'}"
        )
    print(f"market verify after the run: {'consistent' if not problems else problems[:3]}")


if __name__ == "__main__":
    main()
