"""Market statistics: volume, value and VWAP by scheme, region, channel and period; the reference
price (VWAP over N days, else the last close) the pledge loans value collateral with."""

from __future__ import annotations

import datetime as dt

import pytest
from market_world import MONDAY, T10, at, build_market
from registry_world import result_document

from tanhui.errors import InputError
from tanhui.market.stats import period_of
from tanhui.registry.permissions import Action


def issue_in(mw, owner: str, region: str, tonnes: int, scheme: str = "SMCER") -> int:
    """Issue ``tonnes`` to ``owner`` from a project in ``region`` (6-digit code)."""
    ledger, a = mw.ledger, mw.actors
    project = ledger.register_project(
        a[owner],
        scheme=scheme,
        region_code=region,
        name=f"{region} 项目",
        methodology="smcer",
        crediting_start=dt.date(2018, 1, 1),
        crediting_end=dt.date(2040, 12, 31),
        subcompartments=[(f"{region}-1", 5.0)],
    )
    report = ledger.submit_monitoring_report(
        a[owner],
        project_id=project["id"],
        period_start=dt.date(2018, 1, 1),
        period_end=dt.date(2022, 12, 31),
        result=result_document(float(tonnes), [f"{region}-1"]),
    )
    request = ledger.submit_issuance(a[owner], report_id=report["id"])
    for who, action in (
        ("verifier", Action.verify_issuance),
        ("forestry", Action.approve_issuance),
        ("eco", Action.file_issuance),
        ("issuer", Action.issue),
    ):
        done = ledger.review_issuance(a[who], request_id=request["id"], action=action)
    return done["blocks"][0]["id"]


@pytest.fixture
def mw(db_engine):
    mw = build_market(db_engine, schemes=("SMCER", "GZCT"))
    issue_in(mw, "storer", "520102", 1000)
    m, a = mw.market, mw.actors
    trade = [
        ("farm", "buyer", "SMCER", 1500, 100, T10),
        ("storer", "buyer2", "SMCER", 1600, 50, at(10, 5)),
        ("farm2", "buyer", "GZCT", 1400, 200, at(10, 10)),
    ]
    for seller, buyer, scheme, price, q, when in trade:
        m.submit_order(a[seller], scheme=scheme, side="sell", price_fen=price, quantity=q, now=when)
        m.submit_order(a[buyer], scheme=scheme, side="buy", price_fen=price, quantity=q, now=when)
    p = m.propose(
        a["farm"],
        scheme="SMCER",
        side="sell",
        counterparty_organisation_id=mw.org("buyer"),
        quantity=300,
        price_fen=1450,
        expires_at=at(14, days=1),
        now=at(10, days=1),
    )
    m.accept_proposal(a["buyer"], proposal_id=p["id"], now=at(10, 1, days=1))
    return mw


def test_by_scheme_and_day(mw):
    rows = mw.market.stats.summary(period="day")
    assert rows == [
        {
            "period": "2026-03-02",
            "scheme": "GZCT",
            "deals": 1,
            "volume": 200,
            "value_fen": 280_000,
            "vwap_fen": 1400,
        },
        {
            "period": "2026-03-02",
            "scheme": "SMCER",
            "deals": 2,
            "volume": 150,
            "value_fen": 230_000,
            "vwap_fen": 1533,
        },
        {
            "period": "2026-03-03",
            "scheme": "SMCER",
            "deals": 1,
            "volume": 300,
            "value_fen": 435_000,
            "vwap_fen": 1450,
        },
    ]
    week = mw.market.stats.summary(period="week", scheme="SMCER")
    assert week == [
        {
            "period": "2026-W10",
            "scheme": "SMCER",
            "deals": 3,
            "volume": 450,
            "value_fen": 665_000,
            "vwap_fen": 1478,
        }
    ]


def test_by_region_channel_and_filters(mw):
    s = mw.market.stats
    by_region = s.summary(period="month", by=("region",))
    assert [(r["region"], r["volume"]) for r in by_region] == [("350428", 600), ("520102", 50)]
    assert s.summary(period="year", by=(), region="52") == [
        {"period": "2026", "deals": 1, "volume": 50, "value_fen": 80_000, "vwap_fen": 1600}
    ]
    agreements = s.summary(period="quarter", by=("channel",), channels=["agreement"])
    assert agreements == [
        {
            "period": "2026-Q1",
            "channel": "agreement",
            "deals": 1,
            "volume": 300,
            "value_fen": 435_000,
            "vwap_fen": 1450,
        }
    ]
    assert s.summary(start=MONDAY + dt.timedelta(days=1), by=()) == [
        {"period": "2026-03-03", "deals": 1, "volume": 300, "value_fen": 435_000, "vwap_fen": 1450}
    ]
    with pytest.raises(InputError):
        s.summary(period="fortnight")
    with pytest.raises(InputError):
        s.summary(by=("colour",))


def test_reference_prices(mw):
    s, m, a = mw.market.stats, mw.market, mw.actors
    tuesday = MONDAY + dt.timedelta(days=1)
    assert s.vwap("SMCER", days=20, until=tuesday)["price_fen"] == 1478
    assert s.vwap("SMCER", days=20, until=tuesday, channels=["listed"])["price_fen"] == 1533
    assert s.vwap("SMCER", days=1, until=tuesday)["price_fen"] == 1450
    quiet = s.vwap("SMCER", days=1, until=tuesday + dt.timedelta(days=5))
    assert quiet == {
        "scheme": "SMCER",
        "until": "2026-03-08",
        "days": 1,
        "price_fen": 1500,
        "source": "initial",
    }
    m.close_day(a["exchange"], scheme="SMCER", now=at(15, days=1))  # Monday's close carried
    assert s.vwap("SMCER", days=1, until=tuesday + dt.timedelta(days=5))["source"] == "close"
    assert s.vwap("VCS")["source"] == "none"


def test_period_labels():
    d = dt.date(2026, 12, 31)
    assert [period_of(d, p) for p in ("day", "week", "month", "quarter", "year")] == [
        "2026-12-31",
        "2026-W53",
        "2026-12",
        "2026-Q4",
        "2026",
    ]
