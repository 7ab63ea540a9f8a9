"""Serial format, parse/format round trip, splits, merges, allocation and search."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tanhui.errors import RegistryError, SerialError
from tanhui.registry.serials import (
    MAX_SERIAL,
    MAX_YEAR,
    MIN_YEAR,
    PROVINCE_CODES,
    SCHEMES,
    SerialPrefix,
    SerialRange,
    allocate,
    coalesce,
    covers,
    overlapping,
    parse,
    parse_prefix,
)

P = SerialPrefix("SMCER", "350421", 123, 2016, 2020)
Q = SerialPrefix("GZCT", "520000", 7, 2021, 2023)


def R(start: int, end: int, prefix: SerialPrefix = P) -> SerialRange:
    return SerialRange(prefix, start, end)


def numbers(r: SerialRange | None) -> set[int]:
    return set() if r is None else set(range(r.start, r.end + 1))


# --- strategies ----------------------------------------------------------------------------------

years = st.integers(MIN_YEAR, MAX_YEAR)
prefixes = st.builds(
    lambda scheme, prov, rest, project, y1, y2: SerialPrefix(
        scheme, prov + f"{rest:04d}", project, min(y1, y2), max(y1, y2)
    ),
    st.sampled_from(sorted(SCHEMES)),
    st.sampled_from(sorted(PROVINCE_CODES)),
    st.integers(0, 9999),
    st.integers(1, 999_999),
    years,
    years,
)


@st.composite
def ranges(draw, prefix=prefixes, max_count: int | None = None):
    pre = draw(prefix) if isinstance(prefix, st.SearchStrategy) else prefix
    start = draw(st.integers(1, MAX_SERIAL))
    hi = MAX_SERIAL if max_count is None else min(MAX_SERIAL, start + max_count - 1)
    end = draw(st.integers(start, hi))
    return SerialRange(pre, start, end)


# --- format and parse ----------------------------------------------------------------------------


def test_documented_examples():
    r = parse("SMCER-350421-000123-20162020-000000001-000012723")
    assert r == R(1, 12723)
    assert r.count == 12723
    assert r.prefix.format() == "SMCER-350421-000123-20162020"
    assert str(r) == "SMCER-350421-000123-20162020-000000001-000012723"
    one = parse("SMCER-350421-000123-20162020-000000042")
    assert one == R(42, 42) == parse("SMCER-350421-000123-20162020-000000042-000000042")
    assert one.count == 1
    assert one.format() == "SMCER-350421-000123-20162020-000000042-000000042"
    assert one.format(compact=True) == "SMCER-350421-000123-20162020-000000042"
    assert R(1, 2).format(compact=True) == R(1, 2).format()
    g = parse("GZCT-520000-000007-20212023-000000101-000000400")
    assert (g.prefix, g.count) == (Q, 300)
    assert parse_prefix("GZCT-520000-000007-20212023") == Q


@given(ranges())
def test_round_trip(r):
    text = r.format()
    assert len(text.split("-")) == 6
    assert parse(text) == r
    assert parse(text).format() == text
    assert parse(text).count == r.count == r.end - r.start + 1
    assert parse_prefix(r.prefix.format()) == r.prefix


@given(prefixes, st.integers(1, MAX_SERIAL))
def test_round_trip_single_serial(prefix, n):
    r = SerialRange(prefix, n, n)
    compact = r.format(compact=True)
    assert len(compact.split("-")) == 5
    assert parse(compact) == r
    assert parse(compact).format(compact=True) == compact
    assert parse(r.format()) == r


@given(ranges(), ranges())
def test_string_order_is_numeric_order_within_a_prefix(a, b):
    b = SerialRange(a.prefix, b.start, b.end)
    assert (a.format() < b.format()) == ((a.start, a.end) < (b.start, b.end))


def test_configurable_schemes():
    text = "MXCT-350421-000123-20162020-000000001"
    with pytest.raises(SerialError) as e:
        parse(text)
    assert e.value.field == "scheme"
    assert parse(text, schemes={"MXCT"}).prefix.scheme == "MXCT"
    with pytest.raises(SerialError, match="scheme"):
        parse("SMCER-350421-000123-20162020-000000001", schemes={"MXCT"})


GOOD = "SMCER-350421-000123-20162020-000000001-000000010"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("", "format"),
        ("SMCER", "format"),
        ("SMCER-350421-000123-20162020", "format"),  # a prefix, not a serial
        (GOOD + "-000000011", "format"),  # extra field
        (GOOD + "-", "format"),
        ("SMCER-350421-000123-20162020-000000001--000000010", "format"),
        ("SMCER_350421_000123_20162020_000000001_000000010", "format"),
        ("smcer-350421-000123-20162020-000000001-000000010", "scheme"),
        ("XYZ-350421-000123-20162020-000000001-000000010", "scheme"),  # unknown
        ("S-350421-000123-20162020-000000001-000000010", "scheme"),  # too short
        ("SMCERVCSX-350421-000123-20162020-000000001-000000010", "scheme"),  # too long
        ("1CCER-350421-000123-20162020-000000001-000000010", "scheme"),
        ("-350421-000123-20162020-000000001-000000010", "scheme"),
        ("SMCER-35042-000123-20162020-000000001-000000010", "region"),  # 5 digits
        ("SMCER-3504210-000123-20162020-000000001-000000010", "region"),
        ("SMCER-35O421-000123-20162020-000000001-000000010", "region"),  # letter O
        ("SMCER-990421-000123-20162020-000000001-000000010", "region"),  # no province 99
        ("SMCER-000000-000123-20162020-000000001-000000010", "region"),
        ("SMCER-350421-00123-20162020-000000001-000000010", "project"),
        ("SMCER-350421-000000-20162020-000000001-000000010", "project"),
        ("SMCER-350421-+00123-20162020-000000001-000000010", "project"),
        ("SMCER-350421-000123-2016202-000000001-000000010", "period"),
        ("SMCER-350421-000123-2016-2020-000000001", "period"),  # 6 fields, period split
        ("SMCER-350421-000123-20202016-000000001-000000010", "period"),  # reversed
        ("SMCER-350421-000123-18002020-000000001-000000010", "period"),
        ("SMCER-350421-000123-20163000-000000001-000000010", "period"),
        ("SMCER-350421-000123-20162020-000000000-000000010", "start"),  # 0
        ("SMCER-350421-000123-20162020-1-10", "start"),  # not padded
        ("SMCER-350421-000123-20162020-00000000a-000000010", "start"),
        ("SMCER-350421-000123-20162020-0000000001-000000010", "start"),  # 10 digits
        ("SMCER-350421-000123-20162020-００００００００１-000000010", "start"),  # full-width
        ("SMCER-350421-000123-20162020- 00000001-000000010", "start"),
        ("SMCER-350421-000123-20162020-000000000", "start"),
        ("SMCER-350421-000123-20162020-000000011-000000010", "end"),  # start > end
        ("SMCER-350421-000123-20162020-000000001-00000010", "end"),
        ("SMCER-350421-000123-20162020-000000001-000000010\n", "end"),
        ("SMCER-350421-000123-20162020-000000001-000000010 ", "end"),
        ("SMCER-350421-000123-20162020-000000001-١٢٣٤٥٦٧٨٩", "end"),  # Arabic-Indic digits
    ],
)
def test_parse_rejects_with_the_field_named(text, field):
    with pytest.raises(SerialError) as e:
        parse(text)
    err = e.value
    assert isinstance(err, RegistryError)
    assert err.field == field
    assert field in err.en and err.zh and err.hint_zh and err.hint_en
    assert repr(text) in err.en  # the message quotes what was given


def test_parse_rejects_non_text():
    with pytest.raises(SerialError) as e:
        parse(123)  # type: ignore[arg-type]
    assert e.value.field == "format"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"scheme": "smcer"}, "scheme"),
        ({"region": "35042"}, "region"),
        ({"region": 350421}, "region"),
        ({"project": 0}, "project"),
        ({"project": 1_000_000}, "project"),
        ({"project": True}, "project"),
        ({"period_start": 2021, "period_end": 2020}, "period"),
        ({"period_start": 1949}, "period"),
        ({"period_end": 2101}, "period"),
    ],
)
def test_prefix_validates_its_fields(kwargs, field):
    args = {"scheme": "SMCER", "region": "350421", "project": 1, "period_start": 2016}
    args["period_end"] = 2020
    args.update(kwargs)
    with pytest.raises(SerialError) as e:
        SerialPrefix(**args)
    assert e.value.field == field


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (0, 5, "start"),
        (-1, 5, "start"),
        (6, 5, "end"),
        (1, MAX_SERIAL + 1, "end"),
        (1.0, 2, "start"),
    ],
)
def test_range_validates(start, end, field):
    with pytest.raises(SerialError) as e:
        SerialRange(P, start, end)
    assert e.value.field == field


def test_range_needs_a_prefix():
    with pytest.raises(TypeError):
        SerialRange("SMCER-350421-000123-20162020", 1, 2)  # type: ignore[arg-type]


# --- contains / overlaps -------------------------------------------------------------------------


def test_contains_and_overlaps():
    r = R(10, 20)
    assert r.contains(10) and r.contains(20) and not r.contains(9) and not r.contains(21)
    assert not r.contains(True)  # bool is not a serial
    assert r.contains(R(10, 20)) and r.contains(R(12, 15)) and not r.contains(R(9, 12))
    assert not r.contains(R(12, 15, Q))
    assert r.overlaps(R(20, 30)) and r.overlaps(R(1, 10)) and r.overlaps(R(12, 13))
    assert not r.overlaps(R(21, 30)) and not r.overlaps(R(1, 9))
    assert not r.overlaps(R(10, 20, Q))  # another prefix never shares a serial


@given(prefixes, st.integers(1, 100), st.integers(0, 30), st.integers(1, 150), st.integers(0, 30))
def test_overlaps_matches_sets(prefix, a_start, a_len, b_start, b_len):
    a = SerialRange(prefix, a_start, a_start + a_len)
    b = SerialRange(prefix, b_start, b_start + b_len)
    assert a.overlaps(b) == b.overlaps(a) == bool(numbers(a) & numbers(b))
    assert a.contains(b) == (numbers(b) <= numbers(a))


# --- split ---------------------------------------------------------------------------------------


def test_split_like_ncr():
    # block 1–100 minus 30: keeps 1–70, moves 71–100
    kept, moved = R(1, 100).split(30)
    assert (kept, moved) == (R(1, 70), R(71, 100))
    kept, moved = R(1, 100).split(30, take="first")
    assert (kept, moved) == (R(31, 100), R(1, 30))
    assert R(1, 100).split(100) == (None, R(1, 100))
    assert R(5, 5).split(1) == (None, R(5, 5))
    assert R(1, 2).split(1) == (R(1, 1), R(2, 2))


@given(ranges(max_count=2_000), st.data(), st.sampled_from(["last", "first"]))
def test_split_covers_exactly_the_original(r, data, take):
    k = data.draw(st.integers(1, r.count))
    kept, moved = r.split(k, take=take)
    assert moved.count == k and moved.prefix == r.prefix
    if k == r.count:
        assert kept is None and moved == r
        return
    assert kept is not None and kept.prefix == r.prefix
    # the actual ranges, not only the sum (the CADT bug)
    if take == "last":
        assert (kept.start, kept.end) == (r.start, r.end - k)
        assert (moved.start, moved.end) == (r.end - k + 1, r.end)
    else:
        assert (moved.start, moved.end) == (r.start, r.start + k - 1)
        assert (kept.start, kept.end) == (r.start + k, r.end)
    assert kept.count >= 1 and moved.count >= 1
    assert kept.count + moved.count == r.count
    assert not kept.overlaps(moved)
    assert numbers(kept) | numbers(moved) == numbers(r)
    assert numbers(kept).isdisjoint(numbers(moved))
    assert kept.merge(moved) == r == moved.merge(kept)


@pytest.mark.parametrize("k", [0, -1, 11, True, 2.0, None])
def test_split_rejects_bad_quantities(k):
    with pytest.raises(SerialError) as e:
        R(1, 10).split(k)
    assert e.value.field == "quantity"


def test_split_rejects_unknown_side():
    with pytest.raises(ValueError):
        R(1, 10).split(2, take="middle")  # type: ignore[arg-type]


@given(ranges(max_count=1_000).filter(lambda r: r.count > 1), st.data())
def test_split_at(r, data):
    n = data.draw(st.integers(r.start + 1, r.end))
    left, right = r.split_at(n)
    assert (left, right) == (SerialRange(r.prefix, r.start, n - 1), SerialRange(r.prefix, n, r.end))
    assert left.count + right.count == r.count
    assert numbers(left) | numbers(right) == numbers(r)


@pytest.mark.parametrize("n", [1, 0, 12, -5, True])
def test_split_at_rejects_empty_pieces(n):
    with pytest.raises(SerialError) as e:
        R(1, 11).split_at(n)
    assert e.value.field == "serial"


def test_carve():
    assert R(1, 100).carve(R(40, 59)) == (R(1, 39), R(40, 59), R(60, 100))
    assert R(1, 100).carve(R(1, 59)) == (None, R(1, 59), R(60, 100))
    assert R(1, 100).carve(R(40, 100)) == (R(1, 39), R(40, 100), None)
    assert R(1, 100).carve(R(1, 100)) == (None, R(1, 100), None)
    for bad in (R(90, 101), R(40, 59, Q)):
        with pytest.raises(SerialError):
            R(1, 100).carve(bad)


@given(ranges(max_count=500), st.data())
def test_carve_covers_exactly(r, data):
    a = data.draw(st.integers(r.start, r.end))
    b = data.draw(st.integers(a, r.end))
    before, mid, after = r.carve(SerialRange(r.prefix, a, b))
    pieces = [p for p in (before, mid, after) if p is not None]
    assert sum(p.count for p in pieces) == r.count
    assert set().union(*(numbers(p) for p in pieces)) == numbers(r)
    assert all(not x.overlaps(y) for i, x in enumerate(pieces) for y in pieces[i + 1 :])


# --- merge ---------------------------------------------------------------------------------------


def test_merge():
    assert R(1, 10).merge(R(11, 20)) == R(1, 20) == R(11, 20).merge(R(1, 10))
    with pytest.raises(SerialError) as e:
        R(1, 10).merge(R(12, 20))  # gap
    assert e.value.field == "serial"
    with pytest.raises(SerialError):
        R(1, 10).merge(R(10, 20))  # overlap
    with pytest.raises(SerialError) as e:
        R(1, 10).merge(R(11, 20, Q))
    assert e.value.field == "prefix"


def test_coalesce():
    got = coalesce([R(21, 30), R(1, 10), R(11, 20), R(40, 45), R(1, 5, Q), R(6, 6, Q)])
    assert got == [R(1, 6, Q), R(1, 30), R(40, 45)]  # sorted by prefix, then start
    assert coalesce([]) == []
    with pytest.raises(SerialError):
        coalesce([R(1, 10), R(10, 12)])


# --- allocate ------------------------------------------------------------------------------------


def test_allocate():
    a = allocate(P, 1, 12_723)
    assert a == R(1, 12_723)
    b = allocate(P, a.end + 1, 5)
    assert b == R(12_724, 12_728)
    assert allocate(Q, 1, 1) == R(1, 1, Q)
    assert allocate(P, MAX_SERIAL, 1) == R(MAX_SERIAL, MAX_SERIAL)


@pytest.mark.parametrize(
    ("next_start", "quantity", "field"),
    [
        (1, 0, "quantity"),  # rounds to 0: rejected
        (1, -3, "quantity"),
        (1, 2.5, "quantity"),
        (1, True, "quantity"),
        (0, 5, "start"),
        (MAX_SERIAL, 2, "quantity"),  # past the last serial
    ],
)
def test_allocate_rejects(next_start, quantity, field):
    with pytest.raises(SerialError) as e:
        allocate(P, next_start, quantity)
    assert e.value.field == field


@given(st.lists(st.integers(1, 10**6), min_size=1, max_size=40))
def test_allocations_are_disjoint_and_contiguous(quantities):
    next_start, blocks = 1, []
    for q in quantities:
        block = allocate(P, next_start, q)
        assert block.count == q
        assert all(not block.overlaps(prev) for prev in blocks)
        blocks.append(block)
        next_start = block.end + 1
    assert blocks[0].start == 1
    assert all(x.end + 1 == y.start for x, y in pairwise(blocks))
    assert blocks[-1].end == sum(quantities)
    assert coalesce(blocks) == [R(1, sum(quantities))]


# --- search --------------------------------------------------------------------------------------


@st.composite
def sorted_disjoint(draw):
    """Blocks of two or three prefixes, cut from one allocation each, with gaps."""
    pres = draw(st.lists(prefixes, min_size=1, max_size=3, unique=True))
    out = []
    for pre in pres:
        pos = draw(st.integers(1, 50))
        for _ in range(draw(st.integers(0, 15))):
            count = draw(st.integers(1, 20))
            out.append(SerialRange(pre, pos, pos + count - 1))
            pos += count + draw(st.integers(0, 5))
    return sorted(out), pres


@given(sorted_disjoint(), st.data())
def test_covers_equals_linear_scan(blocks_pres, data):
    blocks, pres = blocks_pres
    pre = data.draw(st.sampled_from(pres))
    n = data.draw(st.integers(1, 400))
    length = data.draw(st.integers(0, 3))
    query = SerialRange(pre, n, n + length)
    linear = next((i for i, b in enumerate(blocks) if b.contains(query)), None)
    assert covers(blocks, query) == linear
    want = [i for i, b in enumerate(blocks) if b.overlaps(query)]
    assert list(overlapping(blocks, query)) == want


def test_covers_examples():
    blocks = sorted([R(1, 10), R(11, 20), R(31, 40), R(1, 100, Q)])
    assert blocks == [R(1, 100, Q), R(1, 10), R(11, 20), R(31, 40)]
    assert covers(blocks, R(5, 5)) == 1
    assert covers(blocks, R(11, 11)) == 2
    assert covers(blocks, R(25, 25)) is None
    assert covers(blocks, R(50, 50, Q)) == 0
    assert covers(blocks, R(9, 12)) is None  # spans two blocks
    assert list(overlapping(blocks, R(9, 35))) == [1, 2, 3]
    assert list(overlapping(blocks, R(21, 30))) == []
    assert covers([], R(1, 1)) is None
    other = SerialPrefix("SMCER", "350421", 124, 2016, 2020)
    assert covers(blocks, R(5, 5, other)) is None
