"""The shared kernels: species group, factor, stock, reason bits, input checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tanhui.errors import MethodError
from tanhui.measure import kernels as k
from tanhui.measure.methods.base import (
    MATCHED,
    ONLY_BASELINE,
    MethodInputs,
    MethodOptions,
    Reason,
)

# 杉木: WD 0.307 · BEF 1.634 · (1 + 0.246) · CF 0.520 · 44/12
#   = 0.501638 · 1.246 = 0.625040948; · 0.52 = 0.32502129296; · 3.666… = 1.191744741
FIR_FACTOR = 1.191744741


def test_mu_per_ha_matches_the_schema():
    from tanhui.inventory.schema import MU_PER_HA

    assert k.MU_PER_HA == MU_PER_HA == 15.0


def test_group_index_maps_labels_missing_and_unknown(params, make_stands):
    stands = make_stands(
        area_ha=[1, 1, 1, 1, 1],
        species_group=["杉木", None, "未知树种", " 马尾松 ", "竹类"],
    )
    got = k.group_index(stands, params)
    assert got.dtype == np.int64
    assert got.tolist() == [
        params.groups.index("杉木"),
        k.MISSING_GROUP,
        k.UNKNOWN_GROUP,
        params.groups.index("马尾松"),  # stray spaces are ignored
        params.groups.index("竹类"),
    ]


def test_group_index_without_species_column(params, make_stands):
    stands = make_stands(area_ha=[1, 2])
    assert k.group_index(stands, params).tolist() == [k.MISSING_GROUP] * 2


def test_factor_per_row_fir_and_bamboo(params, make_stands):
    stands = make_stands(area_ha=[1, 1, 1], species_group=["杉木", "竹类", None])
    group, factor = k.factor_per_row(stands, params)
    assert factor[0] == pytest.approx(FIR_FACTOR, rel=1e-9)
    assert math.isnan(factor[1])  # bamboo: no volume parameters
    assert math.isnan(factor[2])  # missing group
    assert group[2] == k.MISSING_GROUP


def test_per_group_is_nan_for_negative_index():
    table = np.array([1.0, 2.0, 3.0])
    got = k.per_group(table, np.array([2, -1, 0, -2]))
    np.testing.assert_array_equal(got[[0, 2]], [3.0, 1.0])
    assert np.isnan(got[[1, 3]]).all()


def test_stock_worked_check():
    # 10 ha × 120 m³/ha × 1.191744741 = 1430.094 tCO2e (measurement.md worked check)
    got = k.stock_tco2e(np.array([10.0]), np.array([120.0]), np.array([FIR_FACTOR]))
    assert got[0] == pytest.approx(1430.094, abs=5e-4)


def test_stock_bits_one_reason_per_failure(params, make_stands):
    stands = make_stands(
        area_ha=[10, None, 10, 10, 10, 10],
        volume_m3_per_ha=[100, 100, None, 100, 100, 100],
        species_group=["杉木", "杉木", "杉木", None, "未知树种", "竹类"],
    )
    cols = k.StockColumns(stands, params)
    b = k.BIT
    assert cols.bits.tolist() == [
        0,
        b["missing_area"],
        b["missing_volume"],
        b["missing_species_group"],
        b["unknown_species_group"],
        b["no_volume_parameters"],
    ]
    # the stock is computable exactly where there is no reason
    np.testing.assert_array_equal(np.isnan(cols.stock), cols.bits != 0)


def test_reason_catalogue_bits_unique_and_bilingual():
    bits = [bit for bit, _, _ in k.REASON_TEXTS.values()]
    assert len(set(bits)) == len(bits)
    assert all(0 <= bit < 32 for bit in bits)
    for code, (_, zh, en) in k.REASON_TEXTS.items():
        assert zh and en, code
    table = k.reason_table("missing_volume", "wetland")
    assert all(isinstance(r, Reason) for r in table)
    assert [r.code for r in table] == ["missing_volume", "wetland"]
    assert 1 << table[0].bit == k.BIT["missing_volume"]


def test_label_mask_and_missing_label(make_stands):
    stands = make_stands(area_ha=[1, 1, 1, 1], tenure=["集体", None, "权属不清", " "])
    unclear = k.label_mask(stands, "tenure", k.contains_any(("不清",)))
    assert unclear.tolist() == [False, False, True, False]
    assert k.missing_label(stands, "tenure").tolist() == [False, True, False, True]
    # an absent column: every row missing, no label matches
    assert k.missing_label(stands, "land_type").tolist() == [True] * 4
    assert k.label_mask(stands, "land_type", lambda s: True).tolist() == [False] * 4


def test_pair_checks_shapes_and_values(params, make_stands):
    cur = make_stands(area_ha=[1, 2])
    assert k.pair(MethodInputs(cur, params), "x", required=False)[0] is None
    with pytest.raises(MethodError, match="needs the earlier"):
        k.pair(MethodInputs(cur, params), "x", required=True)
    base, match = k.pair(MethodInputs(cur, params, baseline=cur), "x", required=True)
    assert base is cur and match.tolist() == [MATCHED, MATCHED]
    with pytest.raises(MethodError, match="not aligned"):
        k.pair(MethodInputs(cur, params, baseline=make_stands(area_ha=[1])), "x", required=True)
    with pytest.raises(MethodError, match="match array"):
        bad = np.array([0, 7])
        k.pair(MethodInputs(cur, params, baseline=cur, match=bad), "x", required=True)
    ok = np.array([ONLY_BASELINE, MATCHED], dtype=np.int8)
    assert k.pair(MethodInputs(cur, params, baseline=cur, match=ok), "x", required=True)[1] is ok


@pytest.mark.parametrize(
    ("year_from", "year_to", "expected"),
    [
        (2016, 2021, 5.0),
        (2018.5, 2021, 2.5),
        (None, None, None),
        (2021, 2016, None),
        (2020, 2020, None),
    ],
)
def test_period_years(params, make_stands, year_from, year_to, expected):
    inputs = MethodInputs(make_stands(area_ha=[1]), params, MethodOptions(year_from, year_to))
    if expected is None:
        with pytest.raises(MethodError) as caught:
            k.period_years(inputs, "smcer", why_zh="测试", why_en="test")
        assert "--year-from" in caught.value.hint_en and "--year-from" in caught.value.hint_zh
    else:
        assert k.period_years(inputs, "smcer", why_zh="测试", why_en="test") == expected


def test_check_share():
    assert k.check_share("reserve_share", 0.1) == 0.1
    for bad in (-0.1, 1.5, math.nan):
        with pytest.raises(MethodError, match="reserve_share"):
            k.check_share("reserve_share", bad)


def test_naive_helpers_agree_with_kernels(params, make_stands):
    stands = make_stands(
        area_ha=[10, 2, None],
        volume_m3_per_ha=[120, None, 5],
        species_group=["杉木", "未知树种", None],
        tenure=["集体", " ", None],
    )
    cols = k.StockColumns(stands, params)
    for i in range(3):
        row = k.RowStock(stands, params, i)
        assert row.group == cols.group[i]
        assert row.bits == cols.bits[i]
        np.testing.assert_allclose(row.factor, cols.factor[i], rtol=1e-15, equal_nan=True)
        np.testing.assert_allclose(row.stock, cols.stock[i], rtol=1e-15, equal_nan=True)
    assert [k.row_label(stands, "tenure", i) for i in range(3)] == ["集体", None, None]
    assert math.isnan(k.row_number(stands, "age_years", 0))
