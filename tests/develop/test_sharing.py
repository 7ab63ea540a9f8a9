"""Revenue sharing: payouts always sum exactly to the revenue (in fen), by hand and by hypothesis."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tanhui.develop.sharing import (
    POOLS,
    SharingRule,
    Stake,
    largest_remainder,
    naive_largest_remainder,
    payouts,
)
from tanhui.errors import InputError

# ------------------------------------------------------------------------------- hand cases


def test_three_equal_holders_tie_to_the_smallest_id():
    assert largest_remainder(100, {3: 1, 1: 1, 2: 1}) == {1: 34, 2: 33, 3: 33}
    assert largest_remainder(2, {3: 1, 1: 1, 2: 1}) == {1: 1, 2: 1, 3: 0}
    assert largest_remainder(1, {7: 1, 5: 1}) == {5: 1, 7: 0}


def test_largest_remainders_win():
    # quotas 100 × (0.55, 0.3, 0.15) = 55, 30, 15 exactly
    assert largest_remainder(100, {1: 0.55, 2: 0.3, 3: 0.15}) == {1: 55, 2: 30, 3: 15}
    # 10 fen by 1:2:4 → 1.43, 2.86, 5.71 → floors 1, 2, 5 (8), the two largest remainders win
    assert largest_remainder(10, {"a": 1, "b": 2, "c": 4}) == {"a": 1, "b": 3, "c": 6}
    # 7 by areas 2.5, 2.5, 5 → 1.75, 1.75, 3.5 → 1, 1, 3 + 2 fen: a and b (0.75 > 0.5)
    assert largest_remainder(7, {1: 2.5, 2: 2.5, 3: 5}) == {1: 2, 2: 2, 3: 3}


def test_exact_fractions_and_decimals():
    third = Fraction(1, 3)
    assert largest_remainder(300, {1: third, 2: third, 3: third}) == {1: 100, 2: 100, 3: 100}
    assert largest_remainder(10, {1: Decimal("0.1"), 2: Decimal("0.9")}) == {1: 1, 2: 9}
    # 0.1 as a float is not 1/10, but the quotas still sum to the total
    out = largest_remainder(10**12 + 1, {1: 0.1, 2: 0.2, 3: 0.7})
    assert sum(out.values()) == 10**12 + 1


def test_zero_weights_and_zero_total():
    assert largest_remainder(5, {1: 0, 2: 3}) == {1: 0, 2: 5}
    assert largest_remainder(0, {1: 0, 2: 0}) == {1: 0, 2: 0}
    assert largest_remainder(0, {}) == {}
    with pytest.raises(InputError, match="zero"):
        largest_remainder(5, {1: 0, 2: 0})
    with pytest.raises(InputError):
        largest_remainder(5, {})


@pytest.mark.parametrize(
    "bad",
    [
        {"total": -1, "weights": {1: 1}},
        {"total": 1.5, "weights": {1: 1}},
        {"total": True, "weights": {1: 1}},
        {"total": 10, "weights": {1: -1, 2: 2}},
        {"total": 10, "weights": {1: math.nan}},
        {"total": 10, "weights": {1: math.inf}},
        {"total": 10, "weights": {1: "3"}},
        {"total": 10, "weights": {1: True}},
    ],
)
def test_bad_inputs(bad):
    with pytest.raises(InputError) as e:
        largest_remainder(bad["total"], bad["weights"])
    assert e.value.zh and e.value.en


def stakes():
    return [
        Stake(1, "household", 2.0),
        Stake(2, "household", 3.0),
        Stake(2, "household", 1.0),  # a second parcel of holder 2: areas add up
        Stake(5, "collective", 4.0),
        Stake(9, "state_farm", 10.0),
    ]


def test_by_area():
    out = payouts(1_000_000, stakes(), SharingRule("by_area"))
    # areas 2, 4, 4, 10 of 20
    assert [(p.pool, p.holder_id, p.amount_fen) for p in out] == [
        ("holders", 1, 100_000),
        ("holders", 2, 200_000),
        ("holders", 5, 200_000),
        ("holders", 9, 500_000),
    ]
    assert out[1].weight == 4


def test_fixed_split():
    rule = SharingRule("fixed_split", holders_bp=6000, collective_bp=2500, developer_bp=1500)
    out = payouts(100_001, stakes(), rule)
    assert sum(p.amount_fen for p in out) == 100_001
    pools = {pool: sum(p.amount_fen for p in out if p.pool == pool) for pool in POOLS}
    # 60,000.6 / 25,000.25 / 15,000.15 → floors 60,000 / 25,000 / 15,000, the fen to "holders"
    assert pools == {"holders": 60_001, "collective": 25_000, "developer": 15_000}
    # the holders' pool by area: 2, 4, 10 of 16 → 7,500.125 / 15,000.25 / 37,500.625
    holders = {p.holder_id: p.amount_fen for p in out if p.pool == "holders"}
    assert holders == {1: 7_500, 2: 15_000, 9: 37_501}
    assert [p.holder_id for p in out if p.pool == "collective"] == [5]
    developer = [p for p in out if p.pool == "developer"]
    assert len(developer) == 1 and developer[0].holder_id is None
    assert developer[0].weight == Fraction(15, 100)


def test_agreed_shares_leave_the_rest_to_the_developer():
    shares = [
        Stake(1, "household", 2.0, Fraction(1, 10)),
        Stake(2, "household", 3.0, 0.25),
        Stake(3, "collective", 1.0, Decimal("0.15")),
    ]
    out = payouts(999, shares, SharingRule("by_agreed_share"))
    got = {(p.pool, p.holder_id): p.amount_fen for p in out}
    # 99.9, 249.75, 149.85 and 499.5 → floors 99, 249, 149, 499 (996) + 3 fen: 0.9, 0.85, 0.75
    assert got == {
        ("holders", 1): 100,
        ("holders", 2): 250,
        ("holders", 3): 150,
        ("developer", None): 499,
    }
    # all of it shared out: no developer line
    full = [Stake(1, "household", 1, 0.5), Stake(2, "household", 1, 0.5)]
    assert [p.holder_id for p in payouts(3, full, SharingRule("by_agreed_share"))] == [1, 2]
    assert [p.amount_fen for p in payouts(3, full, SharingRule("by_agreed_share"))] == [2, 1]


def test_refusals():
    with pytest.raises(InputError, match="No rights holder"):
        payouts(100, [], SharingRule())
    with pytest.raises(InputError, match="no agreed share"):
        payouts(
            100,
            [Stake(1, "household", 1, 0.5), Stake(2, "household", 1)],
            SharingRule("by_agreed_share"),
        )
    with pytest.raises(InputError, match="more than 1"):
        payouts(
            100,
            [Stake(1, "household", 1, 0.6), Stake(2, "household", 1, 0.5)],
            SharingRule("by_agreed_share"),
        )
    with pytest.raises(InputError, match="collective pool"):
        rule = SharingRule("fixed_split", holders_bp=8000, collective_bp=2000)
        payouts(100, [Stake(1, "household", 1)], rule)
    with pytest.raises(InputError, match="two kinds"):
        payouts(100, [Stake(1, "household", 1), Stake(1, "company", 1)], SharingRule())
    with pytest.raises(InputError, match="kind"):
        payouts(100, [Stake(1, "cooperative", 1)], SharingRule())
    with pytest.raises(InputError, match="10,000"):
        SharingRule("fixed_split", holders_bp=5000, collective_bp=2000, developer_bp=2000)
    with pytest.raises(InputError, match="basis points"):
        SharingRule("fixed_split", holders_bp=-1, collective_bp=10001)
    with pytest.raises(InputError, match="method"):
        SharingRule("by_luck")  # type: ignore[arg-type]
    # a pool with no share pays nobody (the collective gets 0 here), which is fine
    out = payouts(10, [Stake(1, "household", 1), Stake(2, "collective", 1)], SharingRule())
    assert [p.amount_fen for p in out] == [5, 5]
    rule = SharingRule("fixed_split", holders_bp=10_000)
    out = payouts(10, [Stake(1, "household", 1), Stake(2, "collective", 1)], rule)
    assert [(p.pool, p.amount_fen) for p in out] == [("holders", 10), ("collective", 0)]


# ------------------------------------------------------------------------------- properties

keys = st.integers(min_value=1, max_value=10_000)
weights = st.one_of(
    st.integers(min_value=0, max_value=10**6),
    st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
    st.fractions(min_value=0, max_value=1000, max_denominator=997),
)
weight_maps = st.dictionaries(keys, weights, min_size=1, max_size=12).filter(
    lambda m: sum(Fraction(w) for w in m.values()) > 0
)


@given(st.integers(min_value=0, max_value=10**15), weight_maps)
def test_allocation_sums_exactly_and_stays_within_a_fen_of_the_quota(total, weights):
    out = largest_remainder(total, weights)
    assert set(out) == set(weights)
    assert sum(out.values()) == total
    whole = sum(Fraction(w) for w in weights.values())
    for key, amount in out.items():
        quota = total * Fraction(weights[key]) / whole
        assert math.floor(quota) <= amount <= math.ceil(quota)
        assert isinstance(amount, int) and amount >= 0


@given(st.integers(min_value=0, max_value=10**15), weight_maps, st.randoms())
def test_allocation_is_deterministic_and_monotonic(total, weights, rnd):
    out = largest_remainder(total, weights)
    items = list(weights.items())
    rnd.shuffle(items)
    assert largest_remainder(total, dict(items)) == out  # input order does not matter
    for a in weights:
        for b in weights:
            if Fraction(weights[a]) > Fraction(weights[b]):
                assert out[a] >= out[b]
            if Fraction(weights[a]) == Fraction(weights[b]) and a < b:
                assert out[b] <= out[a] <= out[b] + 1  # ties go to the smaller key


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=2_000), weight_maps)
def test_allocation_equals_the_naive_reference(total, weights):
    assert largest_remainder(total, weights) == naive_largest_remainder(total, weights)


holder_kinds = st.sampled_from(["household", "collective", "state_farm", "company"])
areas = st.floats(min_value=0.01, max_value=500, allow_nan=False, allow_infinity=False)


@st.composite
def stake_lists(draw, with_shares: bool = False):
    ids = draw(st.lists(st.integers(1, 300), min_size=1, max_size=10, unique=True))
    out = []
    remaining = 10_000  # basis points
    for holder_id in ids:
        kind = draw(holder_kinds)
        share = None
        if with_shares:
            bp = draw(st.integers(0, remaining))
            remaining -= bp
            share = Fraction(bp, 10_000)
        for _ in range(draw(st.integers(1, 3))):
            out.append(Stake(holder_id, kind, draw(areas), share))
            share = None if share is None else Fraction(0)  # the share counted once
    return out


@st.composite
def split_rules(draw):
    holders = draw(st.integers(0, 10_000))
    collective = draw(st.integers(0, 10_000 - holders))
    return SharingRule("fixed_split", holders, collective, 10_000 - holders - collective)


revenues = st.integers(min_value=0, max_value=10**13)
#: The machine is shared: input generation may be slowed by other work, not by the strategies.
tolerant = settings(suppress_health_check=[HealthCheck.too_slow])


@tolerant
@given(revenues, stake_lists())
def test_payouts_by_area_sum_exactly(revenue, stakes):
    out = payouts(revenue, stakes, SharingRule("by_area"))
    assert sum(p.amount_fen for p in out) == revenue
    assert sorted(p.holder_id for p in out) == sorted({s.holder_id for s in stakes})
    assert [(POOLS.index(p.pool), p.holder_id) for p in out] == sorted(
        (POOLS.index(p.pool), p.holder_id) for p in out
    )


@tolerant
@given(revenues, stake_lists(with_shares=True))
def test_payouts_by_agreed_share_sum_exactly(revenue, stakes):
    out = payouts(revenue, stakes, SharingRule("by_agreed_share"))
    assert sum(p.amount_fen for p in out) == revenue
    for p in out:
        quota = revenue * p.weight
        assert math.floor(quota) <= p.amount_fen <= math.ceil(quota)


@tolerant
@given(revenues, stake_lists(), split_rules())
def test_fixed_split_payouts_sum_exactly_or_refuse_an_empty_pool(revenue, stakes, rule):
    try:
        out = payouts(revenue, stakes, rule)
    except InputError as e:
        kinds = {s.kind for s in stakes}
        assert "pool" in e.en
        assert (rule.collective_bp and "collective" not in kinds) or (
            rule.holders_bp and not kinds - {"collective"}
        )
        return
    assert sum(p.amount_fen for p in out) == revenue
    for pool, bp in (("holders", rule.holders_bp), ("collective", rule.collective_bp)):
        got = sum(p.amount_fen for p in out if p.pool == pool)
        assert math.floor(revenue * Fraction(bp, 10_000)) <= got
        assert got <= math.ceil(revenue * Fraction(bp, 10_000))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2_000), stake_lists(), split_rules())
def test_payouts_equal_the_naive_reference(revenue, stakes, rule):
    for r in (SharingRule("by_area"), rule):
        try:
            fast = payouts(revenue, stakes, r)
        except InputError:
            with pytest.raises(InputError):
                payouts(revenue, stakes, r, allocate=naive_largest_remainder)
            continue
        assert payouts(revenue, stakes, r, allocate=naive_largest_remainder) == fast
