"""Monte Carlo risk: reproducible, equal to the naive loop, converging to analytic means."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from tanhui.develop.costs import CostItem, CostTable
from tanhui.develop.feasibility import FeasibilityInputs, PriceScenario, Timeline, evaluate
from tanhui.develop.risk import (
    Hazard,
    LossEvent,
    LossEventError,
    RiskResult,
    RiskSettings,
    _bernoulli_positions,
    _bins,
    rates_from_events,
    simulate,
    simulate_naive,
)
from tanhui.errors import InputError

QUIET = RiskSettings(hazards=(), growth_sigma=0.0, price_sigma=0.0)


def small_costs() -> CostTable:
    return CostTable(
        "small",
        "1",
        (
            CostItem("design", "设计", "design", "per_project", 2000.0),
            CostItem("verification", "核证", "verification", "per_period", 300.0),
            CostItem("protection", "管护", "protection", "per_mu_per_year", 1.0),
            CostItem("share", "分成", "share", "share_of_revenue", 0.1),
        ),
    )


def case(n: int = 4, years: int = 10, seed: int = 7) -> tuple[np.ndarray, FeasibilityInputs]:
    """n stands with different, growing increments; verification every 3 years after 3."""
    rng = np.random.default_rng(seed)
    inc = rng.uniform(5, 20, (n, 1)) * np.linspace(1.0, 1.5, years)[None, :]
    inputs = FeasibilityInputs(
        tonnes=inc.sum(axis=0),
        area_mu=100.0,
        timeline=Timeline(2026, years, monitoring_interval=3, first_verification_after=3),
        price=PriceScenario("test", 30.0, 0.02),
        costs=small_costs(),
        discount_rate=0.06,
        buffer_share=0.1,
    )
    return inc, inputs


def analytic_fire(inc: np.ndarray, inputs: FeasibilityInputs, p: float, f: float):
    """Expected lost carbon, reversal and final stock for one hazard (p, f), no other noise.

    A stand's stock at the end of year t is R(t)·C(t) with E[R(t)] = (1 − pf)^(t+1).
    E[loss in year t] = p f (1 − pf)^t C(t); E[reversal in year t] = p f (1 − pf)^t C(v(t)),
    v(t) the last verification before t (C = 0 when there is none).
    """
    cum = np.cumsum(inc, axis=1)  # C_i(t)
    years = inc.shape[1]
    verif = inputs.timeline.verification_years()
    s = 1.0 - p * f
    lost = sum(p * f * s**t * cum[:, t].sum() for t in range(years))
    rev = 0.0
    for t in range(years):
        before = verif[verif < t]
        if before.size:
            rev += p * f * s**t * cum[:, before[-1]].sum()
    stock = s**years * cum[:, -1].sum()
    return lost, rev, stock


# ----------------------------------------------------------------------------- reproducibility


def test_same_seed_same_numbers_and_other_seeds_differ():
    inc, inputs = case()
    settings = RiskSettings(
        hazards=(Hazard("fire", 0.05, 0.6), Hazard("pests", 0.1, 0.2)),
        growth_sigma=0.2,
        growth_year_sigma=0.1,
        price_sigma=0.3,
    )
    a = simulate(inc, inputs, settings, paths=500, seed=42)
    b = simulate(inc, inputs, settings, paths=500, seed=42)
    c = simulate(inc, inputs, settings, paths=500, seed=43)
    for name in ("stock", "credited", "issued", "npv", "reversal", "net_reversal"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert not np.array_equal(getattr(a, name), getattr(c, name)), name
    assert a.events == b.events != c.events
    n1 = simulate_naive(inc, inputs, settings, paths=20, seed=5)
    n2 = simulate_naive(inc, inputs, settings, paths=20, seed=5)
    np.testing.assert_array_equal(n1.npv, n2.npv)


def test_without_risk_every_path_is_the_feasibility():
    inc, inputs = case()
    expected = evaluate(inputs)
    for kernel in (simulate, simulate_naive):
        res = kernel(inc, inputs, QUIET, paths=5, seed=1)
        np.testing.assert_allclose(res.npv, expected.npv, rtol=1e-12)
        assert res.issued.tolist() == [expected.totals()["tonnes_issued"]] * 5
        np.testing.assert_allclose(res.credited, expected.totals()["tonnes_verified"])
        assert not res.reversal.any() and not res.lost_total.any()
        assert res.recommended_buffer == 0.0


def test_yearly_stock_matches_the_verification_columns():
    inc, inputs = case()
    settings = RiskSettings(hazards=(Hazard("fire", 0.1, 0.5),), growth_year_sigma=0.1)
    short = simulate(inc, inputs, settings, paths=300, seed=3)
    full = simulate(inc, inputs, settings, paths=300, seed=3, yearly=True)
    assert full.stock.shape == (300, 10)
    assert short.stock_years.tolist() == [2, 5, 8, 9]
    np.testing.assert_allclose(full.stock[:, short.stock_years], short.stock, rtol=1e-12)
    np.testing.assert_array_equal(full.npv, short.npv)


def test_every_stand_struck_every_year_is_exact():
    # p = 1: no randomness in the strikes, so both kernels compute the same numbers; two hazards
    # strike each stand every year, exercising the product of survivals over repeated strikes.
    inc, inputs = case(n=3, years=7)
    settings = replace(QUIET, hazards=(Hazard("fire", 1.0, 0.3), Hazard("pests", 1.0, 0.5)))
    fast = simulate(inc, inputs, settings, paths=3, seed=0, yearly=True)
    naive = simulate_naive(inc, inputs, settings, paths=3, seed=0)
    np.testing.assert_allclose(fast.stock, naive.stock, rtol=1e-12)
    np.testing.assert_allclose(fast.npv, naive.npv, rtol=1e-12)
    np.testing.assert_allclose(fast.reversal, naive.reversal, rtol=1e-12)
    for name in ("fire", "pests"):
        np.testing.assert_allclose(fast.lost[name], naive.lost[name], rtol=1e-12)
    assert fast.events == naive.events == 3 * 3 * 7 * 2
    # By hand for one stand: each year it grows on the area left, then keeps 0.7 × 0.5 = 0.35
    # of its carbon and of its area.
    s, stock, area = 0.35, 0.0, 1.0
    for t in range(7):
        stock = (stock + inc[0, t] * area) * s
        area *= s
    assert stock > 0
    one = simulate(inc[:1], replace(inputs, tonnes=inc[0]), settings, paths=1, yearly=True)
    assert one.stock[0, -1] == pytest.approx(stock, rel=1e-12)


# ----------------------------------------------------------------------------- analytic means


@pytest.mark.parametrize("kernel, paths", [(simulate, 40_000), (simulate_naive, 3_000)])
def test_fire_only_converges_to_the_analytic_mean(kernel, paths):
    inc, inputs = case(n=5, years=10)
    p, f = 0.08, 0.5
    settings = replace(QUIET, hazards=(Hazard("fire", p, f),))
    res = kernel(inc, inputs, settings, paths=paths, seed=11)
    lost, rev, stock = analytic_fire(inc, inputs, p, f)
    final = res.stock[:, -1]
    for sample, mean in (
        (res.lost["fire"], lost),
        (res.reversal, rev),
        (final, stock),
    ):
        se = sample.std(ddof=1) / math.sqrt(paths)
        assert abs(sample.mean() - mean) < 4.5 * se + 1e-9, (sample.mean(), mean, se)


def test_constant_price_lognormal_growth_has_mean_one():
    inc, inputs = case()
    settings = replace(QUIET, growth_sigma=0.3)
    res = simulate(inc, inputs, settings, paths=40_000, seed=2)
    total = inc.sum()
    se = res.stock[:, -1].std() / math.sqrt(res.paths)
    assert abs(res.stock[:, -1].mean() - total) < 4.5 * se


def test_price_paths_keep_the_scenario_mean():
    inc, inputs = case()
    settings = replace(QUIET, price_sigma=0.4)
    res = simulate(inc, inputs, settings, paths=40_000, seed=4)
    expected = evaluate(inputs).npv  # NPV is linear in prices; tonnes do not move
    se = res.npv.std() / math.sqrt(res.paths)
    assert abs(res.npv.mean() - expected) < 4.5 * se


# ----------------------------------------------------------------------------- fast vs naive


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / a.size
    fb = np.searchsorted(b, grid, side="right") / b.size
    return float(np.max(np.abs(fa - fb)))


def test_fast_kernel_agrees_with_the_naive_loop():
    # Per-stand probabilities spread over several bins (thinning), repeated strikes, all noises.
    inc, inputs = case(n=6, years=10)
    p_fire = np.array([0.02, 0.05, 0.09, 0.15, 0.3, 0.0])
    settings = RiskSettings(
        hazards=(
            Hazard("fire", p_fire, np.array([0.9, 0.5, 0.5, 0.4, 0.3, 0.5])),
            Hazard("pests", 0.12, 0.25),
        ),
        growth_sigma=0.2,
        growth_year_sigma=0.1,
        price_sigma=0.3,
    )
    fast = simulate(inc, inputs, settings, paths=20_000, seed=1, events_per_chunk=2_000)
    naive = simulate_naive(inc, inputs, settings, paths=2_500, seed=2)
    n, m = fast.paths, naive.paths
    critical = 1.73 * math.sqrt((n + m) / (n * m))  # two-sample KS at α = 0.5 %
    for name in ("npv", "credited", "reversal", "net_reversal"):
        a, b = getattr(fast, name), getattr(naive, name)
        assert ks_statistic(a, b) < critical, name
        se = math.sqrt(a.var() / n + b.var() / m)
        assert abs(a.mean() - b.mean()) < 4.5 * se + 1e-9, name
        qa = np.quantile(a, (0.1, 0.5, 0.9))
        qb = np.quantile(b, (0.1, 0.5, 0.9))
        spread = np.quantile(b, 0.9) - np.quantile(b, 0.1) + 1e-9
        assert np.all(np.abs(qa - qb) < 0.1 * spread), (name, qa, qb)
    for hazard in ("fire", "pests"):
        a, b = fast.lost[hazard], naive.lost[hazard]
        se = math.sqrt(a.var() / n + b.var() / m)
        assert abs(a.mean() - b.mean()) < 4.5 * se, hazard
    # strikes per path: Σ p × stands × years
    expected_events = (p_fire.sum() + 6 * 0.12) * 10
    assert fast.events / n == pytest.approx(expected_events, rel=0.02)
    assert naive.events / m == pytest.approx(expected_events, rel=0.05)


def test_bernoulli_positions_and_bins():
    rng = np.random.Generator(np.random.PCG64(0))
    pos = _bernoulli_positions(rng, 2_000_000, 0.003)
    assert np.all(np.diff(pos) > 0) and pos.min() >= 0 and pos.max() < 2_000_000
    assert abs(pos.size - 6000) < 4.5 * math.sqrt(6000)
    # uniform over the range: each half gets its share
    assert abs(np.count_nonzero(pos < 1_000_000) - pos.size / 2) < 4.5 * math.sqrt(pos.size / 4)
    assert _bernoulli_positions(rng, 5, 1.0).tolist() == [0, 1, 2, 3, 4]
    assert _bernoulli_positions(rng, 5, 0.0).size == 0
    bins = _bins(np.array([0.001, 0.0015, 0.3, 0.0, 0.2, 0.5]), np.full(6, 0.5))
    members = sorted(tuple(b.members.tolist()) for b in bins)
    # level ⌊−log2 p⌋: 0.001 → 9, 0.0015 → 9, 0.3 → 1, 0.2 → 2, 0.5 → 1; p = 0 never strikes
    assert members == [(0, 1), (2, 5), (4,)]
    for b in bins:
        assert b.rate == max([0.001, 0.0015, 0.3, 0.0, 0.2, 0.5][i] for i in b.members)


# ----------------------------------------------------------------------------- the buffer


def test_recommended_buffer_is_the_rounded_up_90th_percentile():
    paths = 10
    result = RiskResult(
        paths=paths,
        seed=0,
        start_year=2026,
        settings=RiskSettings(),
        buffer_share=0.0,
        stock=np.zeros((paths, 1)),
        stock_years=np.array([0]),
        credited=np.full(paths, 100.0),
        issued=np.full(paths, 100),
        npv=np.linspace(-5, 4, paths),
        lost={"fire": np.zeros(paths)},
        reversal=np.array([0, 1, 2, 3, 4, 5, 6, 7, 8.2, 9.0]),
        net_reversal=np.zeros(paths),
    )
    # shares 0, 1 %, … 7 %, 8.2 %, 9 %: the 90th percentile (inverted CDF) is 8.2 % → 9 %
    assert result.recommended_buffer == 0.09
    assert result.probability_of_loss == 0.5  # NPV −5 … −1 in 5 of 10 paths
    doc = result.to_dict("en")
    json.dumps(doc)
    assert doc["recommended_buffer_share"] == 0.09
    assert "90%" in doc["buffer_definition"]
    assert set(doc["histograms"]) == {"npv", "credited_tonnes", "reversal_share"}
    assert sum(doc["histograms"]["npv"]["counts"]) == paths


def test_summary_of_a_default_run():
    inc, inputs = case(n=50, years=20)
    inputs = replace(inputs, timeline=Timeline(2026, 20))
    res = simulate(inc * 10, inputs, RiskSettings(), paths=2_000, seed=9)
    doc = res.to_dict("zh")
    json.dumps(doc, ensure_ascii=False)
    q = doc["npv"]
    assert q["p10"] <= q["p50"] <= q["p90"]
    assert 0 <= doc["probability_of_loss"] <= 1
    assert 0 <= doc["recommended_buffer_share"] <= 1
    assert doc["expected_reversal_tonnes"] <= doc["expected_lost_tonnes"]
    assert set(doc["expected_lost_tonnes_by_hazard"]) == {"fire", "pests"}
    # the verifications of a 20-year period
    assert doc["stock_quantiles"]["years"] == [2030, 2035, 2040, 2045]


def test_bad_inputs_are_refused():
    inc, inputs = case()
    with pytest.raises(InputError):
        simulate(inc[:, :5], inputs, paths=10)
    with pytest.raises(InputError):
        simulate(inc, inputs, paths=0)
    with pytest.raises(InputError):
        simulate(inc, inputs, RiskSettings(hazards=(Hazard("fire", 1.5, 0.5),)), paths=10)
    with pytest.raises(InputError):
        simulate(inc, inputs, RiskSettings(hazards=(Hazard("fire", np.ones(3) * 0.1, 0.5),)))
    with pytest.raises(InputError):
        simulate(inc, inputs, RiskSettings(price_sigma=-0.1), paths=10)


# ----------------------------------------------------------------------------- calibration


def test_rates_from_events_by_hand():
    events = [
        LossEvent("fire", "A-1", 2019, stand_area_ha=10.0, share_lost=0.5),
        LossEvent("fire", "B-7", 2021, stand_area_ha=20.0, area_lost_ha=5.0),
        {
            "kind": "pests",
            "stand_id": "C-3",
            "year": 2020,
            "stand_area_ha": 40.0,
            "share_lost": 0.1,
        },
    ]
    cal = rates_from_events(events, total_area_ha=1000.0, years=10)
    # fire: struck 10 + 20 = 30 ha, lost 5 + 5 = 10 ha over 1000 ha × 10 years
    # p = 30 / 10000 = 0.003, f = 10 / 30 = 1/3, p·f = 0.001 (0.1 % of the forest a year)
    fire = cal.hazards["fire"]
    assert fire.annual_probability == pytest.approx(0.003)
    assert fire.loss_share == pytest.approx(1 / 3)
    assert fire.status == "calibrated"
    pests = cal.hazards["pests"]
    assert pests.annual_probability == pytest.approx(0.004)
    assert pests.loss_share == pytest.approx(0.1)
    assert "illegal_logging" not in cal.hazards
    row = cal.table[0]
    assert row["annual_loss_share"] == pytest.approx(0.001) and row["events"] == 2
    settings = cal.settings()
    names = [h.name for h in settings.hazards]
    assert names == ["fire", "pests"]
    assert settings.hazards[0].annual_probability == pytest.approx(0.003)


def test_rates_from_events_lists_every_problem():
    events = [
        LossEvent("flood", "A", 2020, 10.0, share_lost=0.5),
        LossEvent("fire", "B", 2020, 10.0, area_lost_ha=2.0, share_lost=0.2),
        LossEvent("fire", "C", 2020, 10.0),
        LossEvent("pests", "D", 2020, 10.0, share_lost=1.5),
        LossEvent("fire", "E", 2020, 10.0, area_lost_ha=12.0),
        LossEvent("fire", "F", 2020, -1.0, share_lost=0.5),
        {"kind": "fire", "year": 2020, "stand_area_ha": 1.0, "colour": "red"},
    ]
    with pytest.raises(LossEventError) as info:
        rates_from_events(events, total_area_ha=100.0, years=5)
    found = [(p.row, p.code) for p in info.value.problems]
    assert found == [
        (1, "unknown_kind"),
        (2, "both_loss"),
        (3, "no_loss"),
        (4, "share_range"),
        (5, "area_lost_too_large"),
        (6, "stand_area"),
        (7, "unknown_field"),
        (7, "missing_field"),
    ]
    assert all(p.reason("zh") for p in info.value.problems)
    with pytest.raises(LossEventError):
        rates_from_events([], total_area_ha=0.0, years=5)


def test_calibrated_hazards_drive_the_simulation():
    inc, inputs = case()
    cal = rates_from_events(
        [LossEvent("illegal_logging", "X", 2020, 5.0, share_lost=1.0)], total_area_ha=50.0, years=2
    )
    settings = cal.settings(QUIET)
    assert [h.name for h in settings.hazards] == ["illegal_logging"]
    res = simulate(inc, inputs, settings, paths=20_000, seed=3)
    lost, _, _ = analytic_fire(inc, inputs, 0.05, 1.0)
    se = res.lost["illegal_logging"].std() / math.sqrt(res.paths)
    assert abs(res.lost["illegal_logging"].mean() - lost) < 4.5 * se
