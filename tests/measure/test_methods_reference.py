"""Every vectorized ``compute`` equals its naive per-row ``compute_naive`` on random inventories.

Random Stands carry NaNs, absent columns, unknown and missing categories, stray spaces, shuffled
label orders and random match arrays (see conftest). Equality: tco2e and every intermediate column
to rtol 1e-12 with NaN in the same places, identical reason bits, the same deductions, and the
same MethodError (or none).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tanhui.errors import MethodError
from tanhui.measure.methods import METHODS
from tanhui.measure.methods.base import MethodOutput

SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
# Random cases with a baseline inventory when the method takes one (always when required).
BASELINE_KIND = {"none": "no", "required": "yes", "optional": "random"}


def assert_same_output(fast: MethodOutput, slow: MethodOutput) -> None:
    n = len(fast.tco2e)
    assert fast.tco2e.dtype == np.float64 and slow.tco2e.dtype == np.float64
    np.testing.assert_allclose(fast.tco2e, slow.tco2e, rtol=1e-12, atol=0)
    assert not np.isnan(fast.tco2e).any(), "tco2e is 0, never NaN, for rows not credited"
    assert fast.reasons.dtype == np.uint32 and slow.reasons.dtype == np.uint32
    np.testing.assert_array_equal(fast.reasons, slow.reasons)
    assert list(fast.columns) == list(slow.columns)
    for name in fast.columns:
        a, b = fast.columns[name], slow.columns[name]
        assert a.dtype == np.float64 and a.shape == (n,), name
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, equal_nan=True, err_msg=name)
    assert fast.deductions.keys() == slow.deductions.keys()
    for key in fast.deductions:
        assert fast.deductions[key] == pytest.approx(slow.deductions[key], rel=1e-9, abs=1e-9)
    assert fast.reason_table == slow.reason_table
    # Every bit set is declared in the method's reason table.
    declared = 0
    for r in fast.reason_table:
        declared |= 1 << r.bit
    assert not np.any(fast.reasons & ~np.uint32(declared))


@pytest.mark.parametrize("name", list(METHODS))
@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 40))
def test_vectorized_equals_naive(name, seed, n, random_case):
    method = METHODS[name]
    inputs = random_case(seed, n, baseline=BASELINE_KIND[method.baseline]).inputs
    try:
        fast = method.compute(inputs)
    except MethodError as error:
        with pytest.raises(MethodError) as caught:
            method.compute_naive(inputs)
        assert caught.value.en == error.en
        return
    slow = method.compute_naive(inputs)
    assert_same_output(fast, slow)
    # Without its intermediate columns (``--summary``) a method computes the same rows.
    bare = method.compute(replace(inputs, columns=False))
    np.testing.assert_array_equal(bare.tco2e, fast.tco2e)
    np.testing.assert_array_equal(bare.reasons, fast.reasons)
    assert bare.deductions == fast.deductions and bare.notes == fast.notes
    assert not bare.columns or list(bare.columns) == list(fast.columns)


@pytest.mark.parametrize("name", list(METHODS))
def test_random_cases_mostly_compute(name, random_case):
    """Guard against a vacuous property: most random cases must compute, with credited rows."""
    method = METHODS[name]
    computed = credited = 0
    for seed in range(60):
        try:
            kind = BASELINE_KIND[method.baseline]
            out = method.compute(random_case(seed, 30, baseline=kind).inputs)
        except MethodError:
            continue
        computed += 1
        credited += int(np.count_nonzero(out.reasons == 0))
    assert computed >= 15
    assert credited >= 10


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 40), none=st.booleans())
def test_smcer_every_row_matched_equals_naive(seed, n, none, random_case):
    """``smcer`` has a shorter path when every row is MATCHED and no columns are kept."""
    method = METHODS["smcer"]
    inputs = random_case(seed, n, baseline="yes").inputs
    inputs = replace(inputs, match=None if none else np.zeros(n, dtype=np.int8))
    try:
        fast = method.compute(replace(inputs, columns=False))
    except MethodError as error:
        with pytest.raises(MethodError) as caught:
            method.compute_naive(inputs)
        assert caught.value.en == error.en
        return
    slow = method.compute_naive(inputs)
    np.testing.assert_allclose(fast.tco2e, slow.tco2e, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(fast.reasons, slow.reasons)
    assert fast.reasons.dtype == np.uint32 and fast.tco2e.dtype == np.float64
    assert fast.deductions == pytest.approx(slow.deductions) and fast.notes == slow.notes
    full = method.compute(inputs)  # the general path (columns kept): bit for bit the same rows
    np.testing.assert_array_equal(full.tco2e, fast.tco2e)
    np.testing.assert_array_equal(full.reasons, fast.reasons)
    assert full.deductions == fast.deductions
