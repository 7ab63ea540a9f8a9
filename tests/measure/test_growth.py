"""Growth curves: anchored projection, vectorized == naive, project_years, fitting, yield tables."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tanhui.errors import InventoryError, MethodError
from tanhui.measure.growth import (
    GrowthCurves,
    fit_curves,
    read_yield_table,
    yield_table_curves,
)

GROUPS = ("杉木", "马尾松", "桉树", "栎类")


def curves() -> GrowthCurves:
    """Richards, Schumacher, a yield table, and a group without a curve."""
    coef = GrowthCurves.from_coefficients(
        {"杉木": ("richards", 500.0, 0.04, 2.2), "马尾松": ("schumacher", 400.0, 15.0)}, GROUPS
    )
    table = yield_table_curves({"桉树": ([5, 10, 20], [30, 90, 150])}, GROUPS)
    return GrowthCurves(
        GROUPS,
        ("richards", "schumacher", "table", ""),
        coef.coefficients,
        table.tables,
        source="test",
    )


# ----------------------------------------------------------------------------- closed forms


def test_richards_and_schumacher_closed_forms() -> None:
    c = curves()
    # Richards a=500, b=0.04, c=2.2, (t0, V0) = (10, 50) → t1 = 15:
    #   ln(1 − e^−0.6) = −0.795870, ln(1 − e^−0.4) = −1.109631, ratio 0.717238
    #   V1 = 500 · 0.1^0.717238 = 95.881 m³/ha
    ratio = math.log(1 - math.exp(-0.6)) / math.log(1 - math.exp(-0.4))
    richards = 500 * (50 / 500) ** ratio
    # Schumacher b=15, (10, 80) → 15: V1 = 80 · exp(−15 (1/15 − 1/10)) = 80 · e^0.5 = 131.898
    schumacher = 80 * math.exp(0.5)
    out = c.project(np.array([0, 1]), np.array([10.0, 10.0]), np.array([50.0, 80.0]), 15.0)
    assert out[0] == pytest.approx(richards, rel=1e-13)
    assert out[0] == pytest.approx(95.881, abs=1e-3)
    assert out[1] == pytest.approx(schumacher, rel=1e-13)
    assert out[1] == pytest.approx(131.898, abs=1e-3)


def test_yield_table_interpolation_by_hand() -> None:
    c = curves()  # 桉树: (5, 30), (10, 90), (20, 150); (0, 0) implied
    g = np.full(5, 2)
    t0 = np.array([7.5, 2.5, 15.0, 10.0, 7.5])
    v0 = np.array([120.0, 10.0, 100.0, 60.0, 0.0])
    t1 = np.array([15.0, 5.0, 40.0, 6.0, 15.0])
    out = c.project(g, t0, v0, t1)
    # Y(7.5) = 60, Y(15) = 120 → 120 · 120/60 = 240
    # Y(2.5) = 15 (from the origin), Y(5) = 30 → 10 · 2 = 20
    # Y(15) = 120, Y(40) = 150 (flat beyond 20) → 100 · 1.25 = 125
    # backwards: Y(10) = 90, Y(6) = 42 → 60 · 42/90 = 28
    # V0 = 0 stays 0
    np.testing.assert_allclose(out, [240.0, 20.0, 125.0, 28.0, 0.0], rtol=1e-14)


def test_not_projectable_rows_are_nan() -> None:
    c = curves()
    g = np.array([3, -1, 9, 0, 0, 0, 1, 1, 0])
    t0 = np.array([10, 10, 10, np.nan, 0, 10, 10, 10, 10.0])
    v0 = np.array([50, 50, 50, 50, 50, np.nan, -1, 50, 0.0])
    t1 = np.array([20, 20, 20, 20, 20, 20, 20, -5, 20.0])
    out = c.project(g, t0, v0, t1)
    assert np.isnan(out[:8]).all()
    assert out[8] == 0.0
    np.testing.assert_array_equal(np.isnan(c.project_naive(g, t0, v0, t1)), np.isnan(out))
    with pytest.raises(MethodError):
        c.project(np.array([0.5]), 10.0, 50.0, 20.0)


def test_richards_at_or_above_asymptote_is_held() -> None:
    c = curves()
    out = c.project(np.array([0, 0]), np.array([30.0, 30.0]), np.array([500.0, 650.0]), 60.0)
    np.testing.assert_array_equal(out, [500.0, 650.0])
    np.testing.assert_array_equal(
        c.project_years(np.array([0]), np.array([30.0]), np.array([650.0]), np.arange(3.0)),
        [[650.0, 650.0, 650.0]],
    )


# ----------------------------------------------------------------------------- properties

ages = st.floats(1.0, 120.0)
volumes = st.one_of(st.just(0.0), st.floats(0.5, 480.0))


@st.composite
def rows(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 30))
    g = np.array(draw(st.lists(st.integers(-1, 4), min_size=n, max_size=n)), dtype=np.int64)
    t0 = np.array(draw(st.lists(ages, min_size=n, max_size=n)))
    v0 = np.array(draw(st.lists(volumes, min_size=n, max_size=n)))
    t1 = np.array(draw(st.lists(ages, min_size=n, max_size=n)))
    return g, t0, v0, t1


@settings(max_examples=150, deadline=None)
@given(rows())
def test_vectorized_equals_naive(case) -> None:  # type: ignore[no-untyped-def]
    c = curves()
    g, t0, v0, t1 = case
    np.testing.assert_allclose(c.project(g, t0, v0, t1), c.project_naive(g, t0, v0, t1), rtol=1e-12)


@settings(max_examples=100, deadline=None)
@given(rows())
def test_projection_to_same_age_is_exact(case) -> None:  # type: ignore[no-untyped-def]
    c = curves()
    g, t0, v0, _ = case
    ok = (g >= 0) & (g <= 2)
    np.testing.assert_array_equal(c.project(g, t0, v0, t0)[ok], v0[ok])
    np.testing.assert_array_equal(c.project_years(g, t0, v0, np.array([0.0]))[ok, 0], v0[ok])


@settings(max_examples=150, deadline=None)
@given(rows(), st.lists(ages, min_size=1, max_size=1))
def test_path_invariance(case, mid) -> None:  # type: ignore[no-untyped-def]
    c = curves()
    g, t0, v0, t2 = case
    t1 = np.full_like(t0, mid[0])
    direct = c.project(g, t0, v0, t2)
    between = c.project(g, t0, v0, t1)
    chained = c.project(g, t1, between, t2)
    # Exact in arithmetic; in floating point only while the intermediate volume does not
    # underflow (a stand far below its curve projected back to age 1 can reach 1e-300 m³/ha).
    keep = ~((v0 > 0) & (between <= 1e-200))
    np.testing.assert_allclose(chained[keep], direct[keep], rtol=1e-9, atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(rows(), st.lists(st.floats(-0.5, 60.0), min_size=1, max_size=12))
def test_project_years_equals_repeated_project(case, years) -> None:  # type: ignore[no-untyped-def]
    c = curves()
    g, t0, v0, _ = case
    y = np.array(years)
    many = c.project_years(g, t0, v0, y)
    assert many.shape == (g.size, y.size)
    for j, yj in enumerate(y):
        np.testing.assert_allclose(many[:, j], c.project(g, t0, v0, t0 + yj), rtol=1e-12)


def test_project_years_large_blocks_and_many_groups() -> None:
    rng = np.random.default_rng(7)
    n = 20_000  # more than one block per group
    g = rng.integers(-1, 4, n)
    t0 = rng.integers(1, 80, n).astype(float) + rng.random(n) * (rng.random(n) < 0.3)
    v0 = rng.uniform(0, 450, n)
    v0[::17] = 0.0
    y = np.arange(0.0, 41.0)
    many = curves().project_years(g, t0, v0, y)
    for j in (0, 1, 17, 40):
        np.testing.assert_allclose(many[:, j], curves().project(g, t0, v0, t0 + y[j]), rtol=1e-12)


# ----------------------------------------------------------------------------- provenance


def test_describe_and_hash() -> None:
    c = curves()
    d = c.describe()
    assert d["source"] == "test"
    assert d["groups"][0] == {
        "group": "杉木",
        "family": "richards",
        "a": 500.0,
        "b": 0.04,
        "c": 2.2,
    }
    assert d["groups"][1] == {"group": "马尾松", "family": "schumacher", "a": 400.0, "b": 15.0}
    assert d["groups"][2]["ages"] == [5.0, 10.0, 20.0]
    assert d["groups"][3] == {"group": "栎类", "family": None}
    assert d["hash"] == c.hash == curves().hash and len(c.hash) == 64
    other = GrowthCurves.from_coefficients({"杉木": ("richards", 500.0, 0.0400001, 2.2)}, GROUPS)
    assert other.hash != c.hash


def test_aligned_and_index_for() -> None:
    c = curves()
    other = c.aligned(("栎类", "杉木", "湿地松"))
    assert other.families == ("", "richards", "")
    assert other.has_curve().tolist() == [False, True, False]
    np.testing.assert_array_equal(c.index_for(["马尾松", "竹类", "杉木"]), [1, -1, 0])
    out = other.project(np.array([1]), 10.0, 50.0, 15.0)
    np.testing.assert_allclose(out, c.project(np.array([0]), 10.0, 50.0, 15.0), rtol=0)


def test_invalid_curves_rejected() -> None:
    with pytest.raises(MethodError):
        GrowthCurves.from_coefficients({"杉木": ("richards", 500.0, -0.04, 2.2)})
    with pytest.raises(MethodError):
        GrowthCurves.from_coefficients({"杉木": ("gompertz", 500.0, 0.04)})
    with pytest.raises(MethodError):
        yield_table_curves({"杉木": ([10, 10], [1, 2])}, ["杉木"])
    with pytest.raises(MethodError):
        yield_table_curves({"杉木": ([10, 20], [1, -2])}, ["杉木"])
    # NaN coefficients mean "no curve"
    nan = GrowthCurves.from_coefficients({"杉木": ("richards", math.nan, math.nan, math.nan)})
    assert not nan.has_curve()[0]


# ----------------------------------------------------------------------------- fitting


def _synthetic(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.uniform(3.0, 80.0, n), np.zeros(n)


def test_fit_recovers_noise_free_coefficients() -> None:
    rng = np.random.default_rng(1)
    t_a, _ = _synthetic(rng, 200)
    t_b, _ = _synthetic(rng, 150)
    v_a = 500 * (1 - np.exp(-0.04 * t_a)) ** 2.2
    v_b = 380 * (1 - np.exp(-0.07 * t_b)) ** 1.4
    g = np.concatenate([np.zeros(200, np.int64), np.ones(150, np.int64)])
    c, report = fit_curves(g, np.concatenate([t_a, t_b]), np.concatenate([v_a, v_b]), GROUPS[:2])
    np.testing.assert_allclose(c.coefficients[0], [500, 0.04, 2.2], rtol=1e-4)
    np.testing.assert_allclose(c.coefficients[1], [380, 0.07, 1.4], rtol=1e-4)
    assert [f.family for f in report.groups] == ["richards", "richards"]
    assert all(f.converged and f.r2 > 0.999999 for f in report.groups)
    assert c.source == "fitted from 350 rows"

    t = rng.uniform(3.0, 80.0, 100)
    s, rep = fit_curves(
        np.zeros(100, np.int64), t, 400 * np.exp(-15 / t), ("马尾松",), "schumacher"
    )
    np.testing.assert_allclose(s.coefficients[0, :2], [400, 15], rtol=1e-4)
    assert rep.groups[0].family == "schumacher" and rep.groups[0].converged


def test_fit_is_close_on_noisy_data() -> None:
    rng = np.random.default_rng(2)
    t = rng.uniform(3.0, 80.0, 800)
    v = 500 * (1 - np.exp(-0.04 * t)) ** 2.2 * np.exp(rng.normal(0, 0.08, t.size))
    c, report = fit_curves(np.zeros(t.size, np.int64), t, v, ("杉木",))
    assert report.groups[0].family == "richards"
    np.testing.assert_allclose(c.coefficients[0], [500, 0.04, 2.2], rtol=0.1)
    assert report.groups[0].r2 > 0.9
    truth = GrowthCurves.from_coefficients({"杉木": ("richards", 500.0, 0.04, 2.2)})
    ages0 = np.array([10.0, 20.0, 40.0])
    v0 = 500 * (1 - np.exp(-0.04 * ages0)) ** 2.2
    np.testing.assert_allclose(
        c.project(np.zeros(3, np.int64), ages0, v0, ages0 + 20),
        truth.project(np.zeros(3, np.int64), ages0, v0, ages0 + 20),
        rtol=0.05,
    )


def test_fit_reports_small_groups_and_ignores_bad_rows() -> None:
    rng = np.random.default_rng(3)
    t = rng.uniform(3.0, 80.0, 60)
    v = 400 * np.exp(-15 / t)
    g = np.array([0] * 40 + [1] * 19 + [7], dtype=np.int64)
    t[:5] = np.nan
    c, report = fit_curves(g, t, v, GROUPS[:3], family="schumacher", min_rows=20)
    assert report.skipped == ("马尾松", "桉树")
    by = {f.group: f for f in report.groups}
    assert by["杉木"].n == 35
    assert by["马尾松"].n == 19 and by["马尾松"].note == "too_few_rows"
    assert by["马尾松"].reason("en") == "too few rows; no curve fitted"
    assert c.families == ("schumacher", "", "")
    assert np.isnan(c.project(np.array([1]), 10.0, 50.0, 20.0)).all()
    assert report.to_dict("zh")["groups"][1]["reason"].startswith("数据行数不足")


def test_richards_falls_back_to_schumacher_without_saturation() -> None:
    # Volume proportional to age: no asymptote in the data, Richards is not identified.
    t = np.linspace(2.0, 40.0, 50)
    v = 6.0 * t
    c, report = fit_curves(np.zeros(50, np.int64), t, v, ("杉木",))
    fit = report.groups[0]
    assert fit.family == "schumacher" and fit.note == "richards_fallback" and not fit.converged
    assert c.families == ("schumacher",)


def test_fit_rejects_unknown_family() -> None:
    with pytest.raises(MethodError):
        fit_curves(np.zeros(3, np.int64), [1, 2, 3], [1, 2, 3], ("杉木",), family="korf")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- yield table file


def test_read_yield_table_gbk(tmp_path: Path) -> None:
    path = tmp_path / "收获表.csv"
    text = "树种组,年龄,每公顷蓄积\n杉木,10,60\n杉木,20,180\n杉木,30,260\n马尾松,10,40\n马尾松,30,200\n"
    path.write_bytes(text.encode("gbk"))
    tables = read_yield_table(path)
    assert list(tables) == ["杉木", "马尾松"]
    np.testing.assert_array_equal(tables["杉木"][0], [10, 20, 30])
    c = yield_table_curves(tables, GROUPS, source=f"yield table {path.name}")
    assert c.families == ("table", "table", "", "")
    assert c.describe()["source"] == "yield table 收获表.csv"
    # Y(15) = 120, Y(25) = 220 → 50 · 220/120
    assert c.project(np.array([0]), 15.0, 50.0, 25.0)[0] == pytest.approx(50 * 220 / 120)


def test_read_yield_table_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "yt.csv"
    path.write_text(
        "group,age,volume_m3_per_ha\n"
        "杉木,10,60\n"
        "杉木,10,80\n"  # age not increasing
        "杉木,x,90\n"  # not a number
        "马尾松,10,-5\n"  # negative volume
        "栎类,10,5\n",  # single age
        encoding="utf-8",
    )
    with pytest.raises(InventoryError) as info:
        read_yield_table(path)
    got = {(p.code, p.row, p.column) for p in info.value.problems}
    assert got == {
        ("age_not_increasing", 3, "age"),
        ("not_a_number", 4, "age"),
        ("negative_value", 5, "volume_m3_per_ha"),
        ("too_few_ages", None, "group"),
    }
    (tmp_path / "bad.csv").write_text("group,years\n杉木,10\n", encoding="utf-8")
    with pytest.raises(InventoryError) as info:
        read_yield_table(tmp_path / "bad.csv")
    assert {p.column for p in info.value.problems} == {"age", "volume_m3_per_ha"}
