"""The measurement service: matching two inventories by id, breakdowns, provenance and verify."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tanhui.errors import MethodError, ProvenanceMismatch
from tanhui.inventory import read_inventory
from tanhui.measure import provenance
from tanhui.measure.methods import get_method
from tanhui.measure.methods.base import MATCHED, ONLY_BASELINE, ONLY_CURRENT, MethodOptions
from tanhui.measure.params import default_parameters
from tanhui.measure.service import align, measure_files, measure_inventories, verify

PARAMS = default_parameters()


def inventory_csv(path, rows):
    """rows: (id, area_ha, group, volume, village)."""
    lines = ["小班号,面积(公顷),树种组,每公顷蓄积,村"]
    lines += [f"{i},{a},{g},{v},{village}" for i, a, g, v, village in rows]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return read_inventory(path)


ids_strategy = st.lists(
    st.from_regex(r"[A-C][0-9]{1,2}", fullmatch=True), min_size=1, max_size=12, unique=True
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(now=ids_strategy, then=ids_strategy)
def test_align_is_the_union_with_correct_flags(tmp_path, now, then):
    current = inventory_csv(
        tmp_path / "now.csv", [(i, 1 + k, "杉木", 100 + k, "甲村") for k, i in enumerate(now)]
    )
    baseline = inventory_csv(
        tmp_path / "then.csv", [(i, 2 + k, "马尾松", 50 + k, "乙村") for k, i in enumerate(then)]
    )
    ids, cur, base, match = align(current, baseline)
    ids = ids.to_pylist()
    assert sorted(ids) == sorted(set(now) | set(then))
    assert ids[: len(now)] == now  # current order first
    for row, id_ in enumerate(ids):
        expected = (
            MATCHED
            if (id_ in now and id_ in then)
            else ONLY_CURRENT
            if id_ in now
            else ONLY_BASELINE
        )
        assert match[row] == expected
        area_now = cur.number("area_ha")[row]
        area_then = base.number("area_ha")[row]
        assert (area_now == 1 + now.index(id_)) if id_ in now else np.isnan(area_now)
        assert (area_then == 2 + then.index(id_)) if id_ in then else np.isnan(area_then)
        codes, labels = base.category("species_group")
        assert (labels[codes[row]] == "马尾松") if id_ in then else codes[row] == -1


def test_same_rows_in_another_order_all_match(tmp_path):
    rows = [
        ("X1", 1, "杉木", 100, "甲村"),
        ("X2", 2, "杉木", 110, "甲村"),
        ("X3", 3, "马尾松", 90, "乙村"),
    ]
    current = inventory_csv(tmp_path / "a.csv", rows)
    baseline = inventory_csv(tmp_path / "b.csv", rows[::-1])
    result = measure_inventories(
        current, method=get_method("stock-difference"), params=PARAMS, baseline=baseline
    )
    assert (result.match == MATCHED).all()
    assert result.total_tco2e == 0.0
    assert result.unmatched()["only_in_baseline"]["count"] == 0


def test_vanished_rows_are_reported_and_labelled_from_the_baseline(tmp_path):
    current = inventory_csv(tmp_path / "a.csv", [("X1", 1, "杉木", 100, "甲村")])
    baseline = inventory_csv(
        tmp_path / "b.csv", [("X1", 1, "杉木", 90, "甲村"), ("X9", 2, "马尾松", 50, "乙村")]
    )
    result = measure_inventories(
        current, method=get_method("stock-difference"), params=PARAMS, baseline=baseline
    )
    pine = PARAMS.tco2e_per_m3()[PARAMS.index_of("马尾松")]
    fir = PARAMS.tco2e_per_m3()[PARAMS.index_of("杉木")]
    gone = result.unmatched()["only_in_baseline"]
    assert gone["ids"] == ["X9"] and gone["tco2e"] == pytest.approx(-2 * 50 * pine)
    # the vanished row's loss lands on its baseline village and group, not on "(未填)"
    assert result.totals_by("by_village") == pytest.approx({"甲村": 10 * fir, "乙村": -100 * pine})
    assert result.totals_by("by_group") == pytest.approx({"杉木": 10 * fir, "马尾松": -100 * pine})


def test_baseline_rules_are_enforced(tmp_path):
    one = inventory_csv(tmp_path / "a.csv", [("X1", 1, "杉木", 100, "甲村")])
    with pytest.raises(MethodError, match="--baseline"):
        measure_inventories(one, method=get_method("stock-difference"), params=PARAMS)
    with pytest.raises(MethodError, match="uses one inventory"):
        measure_inventories(one, method=get_method("stock"), params=PARAMS, baseline=one)


def test_verify_accepts_its_own_result_and_names_differences(tmp_path):
    path = tmp_path / "a.csv"
    inventory_csv(path, [("X1", 1, "杉木", 100, "甲村"), ("X2", 3, "竹类", "", "甲村")])
    options = MethodOptions(year_from=2016, year_to=2021)
    first = measure_files(path, method="smcer", options=options)
    stored = json.loads(json.dumps(first.to_dict()))
    verify(measure_files(path, method="smcer", options=options), stored)  # identical: no error
    with pytest.raises(ProvenanceMismatch) as info:
        verify(
            measure_files(
                path, method="smcer", options=MethodOptions(year_from=2015, year_to=2021)
            ),
            stored,
        )
    assert any(d.startswith("options.year_from") for d in info.value.differences)
    assert any(d.startswith("result.total_tco2e") for d in info.value.differences)
    assert info.value.exit_code == 1


def test_verify_confirms_results_recorded_with_sha256(tmp_path):
    """Results made before BLAKE3 name no hash algorithm; they are confirmed with sha256."""
    path, earlier = tmp_path / "b.csv", tmp_path / "a.csv"
    rows = [("X1", 1, "杉木", 100, "甲村"), ("X2", 3, "马尾松", 80, "乙村")]
    inventory_csv(earlier, [(i, a, g, v - 20, vil) for i, a, g, v, vil in rows])
    current = inventory_csv(path, rows)
    options = MethodOptions(year_from=2016, year_to=2021)
    result = measure_files(path, baseline=earlier, method="smcer", options=options)
    record = json.loads(json.dumps(result.to_dict()))["provenance"]
    assert record["hash_algorithm"] == "blake3"
    assert record["inputs"]["current"]["content_hash"] == current.content_hash
    assert record["result"]["rows_hash"] == provenance.array_hash(result.output.tco2e)
    legacy = dict(record)
    del legacy["hash_algorithm"]
    legacy["inputs"] = {
        k: {**v, "content_hash": result.sources[k].content_hash_with("sha256")}
        for k, v in record["inputs"].items()
    }
    legacy["result"] = {
        **record["result"],
        "rows_hash": provenance.array_hash(result.output.tco2e, algorithm="sha256"),
    }
    again = measure_files(path, baseline=earlier, method="smcer", options=options)
    verify(again, legacy)  # recomputed with sha256: identical
    verify(again, record)
    tampered = {**legacy, "inputs": {**legacy["inputs"]}}
    tampered["inputs"]["current"] = {**legacy["inputs"]["current"], "content_hash": "0" * 64}
    with pytest.raises(ProvenanceMismatch) as info:
        verify(again, tampered)
    assert [d.split(":")[0] for d in info.value.differences] == ["inputs.current.content_hash"]
    with pytest.raises(ProvenanceMismatch) as info:
        verify(again, {**record, "hash_algorithm": "sha256"})  # names sha256, holds BLAKE3
    assert "inputs.current.content_hash" in [d.split(":")[0] for d in info.value.differences]


def test_growth_curves_are_recorded_in_provenance(demo_small):
    result = measure_files(
        demo_small.csv_2021, baseline=demo_small.csv_2016, method="forest-management"
    )
    growth = result.provenance["options"]["growth"]
    assert "杉木" in json.dumps(growth, ensure_ascii=False)
    other = measure_files(
        demo_small.csv_2021,
        baseline=demo_small.csv_2016,
        method="forest-management",
        growth="schumacher",
    )
    assert other.provenance["options"]["growth"] != growth


@pytest.mark.parametrize(
    "name", ["stock", "stock-difference", "smcer", "ccer-afforestation", "stop-logging"]
)
def test_chunked_compute_equals_one_call(demo_small, name):
    """Rows computed in chunks of 37 give exactly what one call on all rows gives."""
    later, earlier = read_inventory(demo_small.csv_2021), read_inventory(demo_small.csv_2016)
    two = get_method(name).baseline != "none"
    options = MethodOptions(year_from=2016, year_to=2021, reserve_share=0.07)
    args = dict(
        method=get_method(name), params=PARAMS, baseline=earlier if two else None, options=options
    )
    whole = measure_inventories(later, chunk_rows=10**9, **args)
    chunked = measure_inventories(later, chunk_rows=37, **args)
    np.testing.assert_array_equal(chunked.output.tco2e, whole.output.tco2e)
    np.testing.assert_array_equal(chunked.output.reasons, whole.output.reasons)
    assert chunked.output.deductions == pytest.approx(whole.output.deductions, rel=1e-12)
    assert set(chunked.output.columns) == set(whole.output.columns)
    for column, values in whole.output.columns.items():
        np.testing.assert_array_equal(chunked.output.columns[column], values)
    assert chunked.provenance["result"] == pytest.approx(whole.provenance["result"])
    slim = measure_inventories(later, chunk_rows=37, keep_columns=False, **args)
    assert slim.output.columns == {} and slim.total_tco2e == pytest.approx(
        whole.total_tco2e, rel=1e-12
    )


def test_smcer_reserve_is_taken_on_the_project_total(demo_small):
    """A chunk with a negative net must not change the reserve: it is share × max(project gross, 0)."""
    later, earlier = read_inventory(demo_small.csv_2021), read_inventory(demo_small.csv_2016)
    result = measure_inventories(
        later,
        method=get_method("smcer"),
        params=PARAMS,
        baseline=earlier,
        options=MethodOptions(reserve_share=0.1),
        chunk_rows=5,
    )
    gross = float(result.output.tco2e.sum())
    assert result.output.deductions == {"reserve": pytest.approx(0.1 * max(gross, 0.0))}


def test_allocator_tuning_reaches_arrow_only_before_it_loads():
    """The CLI tunes the allocators before pyarrow is imported; mimalloc reads its settings
    when pyarrow loads, and a value the user set wins."""
    import os
    import subprocess
    import sys

    code = (
        "import os, sys\n"
        "if sys.argv[1] == 'late': import pyarrow\n"
        "from tanhui._memory import tune_for_arrays\n"
        "tune_for_arrays()\n"
        "import pyarrow as pa, numpy as np\n"
        "assert pa.array(np.arange(3)).sum().as_py() == 3\n"
        "print(os.environ.get('MIMALLOC_PURGE_DELAY'), os.environ.get('MIMALLOC_ARENA_EAGER_COMMIT'))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIMALLOC_")}

    def run(when, **extra):
        done = subprocess.run(
            [sys.executable, "-c", code, when], env={**env, **extra}, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert run("early") == ["-1", "0"]
    assert run("late") == ["None", "None"]
    assert run("early", MIMALLOC_PURGE_DELAY="50") == ["50", "0"]


# --- two Parquet files read at the same time (read_pair_for_params) ----------------------------


def parquet_inventory(path, ids, *, area=None, group="杉木"):
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = len(ids)
    pq.write_table(
        pa.table(
            {
                "小班号": pa.array(ids, pa.string()),
                "面积(公顷)": pa.array(
                    area if area is not None else [1.0 + k % 7 for k in range(n)]
                ),
                "树种组": pa.array([group] * n),
                "每公顷蓄积": pa.array([100.0 + k % 11 for k in range(n)]),
            }
        ),
        path,
    )
    return path


def _read_both_one_after_the_other(current, baseline):
    from tanhui.errors import InventoryError

    out = []
    for path in (current, baseline):
        try:
            out.append(read_inventory(path, known_groups=PARAMS.groups))
        except InventoryError as exc:
            return out, exc
    return out, None


@pytest.mark.parametrize(
    "now_ids, then_ids",
    [
        ([f"A{k:05d}" for k in range(12_000)], [f"A{k:05d}" for k in range(12_000)]),  # same
        ([f"A{k:05d}" for k in range(12_000)], [f"A{k % 11_000:05d}" for k in range(12_000)]),
        (
            [f"A{k % 11_000:05d}" for k in range(12_000)],
            [f"A{k % 11_000:05d}" for k in range(12_000)],
        ),
        ([f"A{k % 11_000:05d}" for k in range(12_000)], [f"A{k:05d}" for k in range(12_000)]),
        (["a", "b", "c"], ["a", "b", "b"]),
        (["a", "b", "b"], ["a", "b", "b"]),
        (["a", "", "c"], ["a", "b", "c"]),
        (["a", "b", "c"], ["c", "b", "a"]),
    ],
)
def test_reading_a_pair_equals_reading_one_after_the_other(tmp_path, now_ids, then_ids):
    """Shared ids never change what is read or raised: duplicates in either file, same or not."""
    from tanhui.errors import InventoryError
    from tanhui.measure.service import read_pair_for_params

    now = parquet_inventory(tmp_path / "now.parquet", now_ids)
    then = parquet_inventory(tmp_path / "then.parquet", then_ids)
    expected, error = _read_both_one_after_the_other(now, then)
    stages = []
    if error is None:
        got = read_pair_for_params(now, then, PARAMS, progress=stages.append)
        assert [g.content_hash for g in got] == [e.content_hash for e in expected]
        assert stages == ["read", "read-baseline"]
    else:
        with pytest.raises(InventoryError) as raised:
            read_pair_for_params(now, then, PARAMS, progress=stages.append)
        assert raised.value.source == error.source
        assert [p.to_dict() for p in raised.value.problems] == [p.to_dict() for p in error.problems]
        assert stages == (["read"] if len(expected) == 0 else ["read", "read-baseline"])


def test_a_failing_current_file_does_not_leave_the_earlier_one_waiting(tmp_path):
    from tanhui.errors import InventoryError
    from tanhui.inventory.validate import UniqueIds

    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet")
    good = parquet_inventory(tmp_path / "good.parquet", ["a", "b", "c"])
    shared = UniqueIds()
    with pytest.raises(InventoryError):
        read_inventory(bad, publish_ids=shared)
    assert len(read_inventory(good, unique_ids=shared)) == 3  # returns: nothing was published
    with pytest.raises(InventoryError):  # a missing id column: published nothing either
        import pyarrow as pa
        import pyarrow.parquet as pq

        no_ids = tmp_path / "no_ids.parquet"
        pq.write_table(pa.table({"面积(公顷)": [1.0]}), no_ids)
        shared = UniqueIds()
        try:
            read_inventory(no_ids, publish_ids=shared)
        finally:
            assert len(read_inventory(good, unique_ids=shared)) == 3


def test_equal_ids_skip_the_second_duplicate_check(tmp_path, monkeypatch):
    import tanhui.inventory.validate as validate
    from tanhui.inventory.validate import UniqueIds

    ids = [f"A{k:05d}" for k in range(12_000)]
    now = parquet_inventory(tmp_path / "now.parquet", ids)
    then = parquet_inventory(tmp_path / "then.parquet", ids, group="马尾松")
    other = parquet_inventory(tmp_path / "other.parquet", ids[::-1])
    calls = []
    real = validate.find_duplicates
    monkeypatch.setattr(validate, "find_duplicates", lambda *a: calls.append(1) or real(*a))
    shared = UniqueIds()
    read_inventory(now, publish_ids=shared)
    assert len(calls) == 1
    assert read_inventory(then, unique_ids=shared).ids.equals(read_inventory(now).ids)
    assert len(calls) == 2  # the plain read of `now` checked; `then` did not
    read_inventory(other, unique_ids=shared)  # other order: checked
    assert len(calls) == 3
