"""Properties: the same rows read back from CSV (UTF-8, GBK) and Parquet are the same inventory;
any single changed value changes the content hash."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inventory_files import write_csv

from tanhui.inventory import content_hash, read_inventory, schema
from tanhui.measure.params import default_parameters

GROUPS = default_parameters().groups
TEXT = st.text(alphabet="ABCxyz0123456789-_城关下洋村林班杉木", min_size=1, max_size=12)
MARKERS = {"nan", "null", "none", "<null>", "n/a"}
FLOAT = {
    "area_ha": st.floats(min_value=1e-3, max_value=10_000.0),
    "age_years": st.floats(min_value=0.0, max_value=400.0),
    "volume_m3_per_ha": st.floats(min_value=0.0, max_value=2_000.0),
    "survey_year": st.integers(min_value=1950, max_value=2100).map(float),
}
HEADERS = {
    "subcompartment_id": "小班号",
    "area_ha": "面积(公顷)",
    "species_group": "树种组",
    "age_years": "平均年龄",
    "age_class": "龄组",
    "volume_m3_per_ha": "每公顷蓄积",
    "village": "村",
    "survey_year": "调查年度",
}


@st.composite
def inventories(draw: st.DrawFn) -> dict[str, list[object]]:
    n = draw(st.integers(min_value=1, max_value=25))
    ids = draw(
        st.lists(
            TEXT.filter(lambda s: s.lower() not in MARKERS), min_size=n, max_size=n, unique=True
        )
    )
    columns: dict[str, list[object]] = {"subcompartment_id": ids}
    columns["area_ha"] = draw(st.lists(FLOAT["area_ha"], min_size=n, max_size=n))
    columns["species_group"] = draw(st.lists(st.sampled_from(GROUPS), min_size=n, max_size=n))
    optional = draw(
        st.lists(
            st.sampled_from(
                ["age_years", "age_class", "volume_m3_per_ha", "village", "survey_year"]
            ),
            unique=True,
        )
    )
    for name in optional:
        if name in FLOAT:
            value = st.none() | FLOAT[name]
        elif name == "age_class":
            value = st.none() | st.sampled_from(schema.AGE_CLASSES)
        else:
            value = st.none() | TEXT.filter(lambda s: s.lower() not in MARKERS)
        columns[name] = draw(st.lists(value, min_size=n, max_size=n))
    return columns


def _write_all(folder: Path, columns: dict[str, list[object]]) -> list[Path]:
    names = [c.name for c in schema.COLUMNS if c.name in columns]
    header = [HEADERS[c] for c in names]
    rows = [[columns[c][i] for c in names] for i in range(len(columns["subcompartment_id"]))]
    csv_rows = [[repr(v) if isinstance(v, float) else v for v in row] for row in rows]
    paths = [
        write_csv(folder / "utf8.csv", header, csv_rows, encoding="utf-8"),
        write_csv(folder / "gbk.csv", header, csv_rows, encoding="gbk"),
    ]
    arrays = {}
    for name, h in zip(names, header, strict=True):
        kind = schema.BY_NAME[name].kind
        arrays[h] = pa.array(columns[name], pa.float64() if kind == "float" else pa.string())
        if kind == "category":
            arrays[h] = arrays[h].dictionary_encode()
    pq.write_table(pa.table(arrays), folder / "t.parquet", row_group_size=7)
    paths.append(folder / "t.parquet")
    return paths


def _plain(values: list[object]) -> list[object]:
    return [None if isinstance(v, float) and math.isnan(v) else v for v in values]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inventories())
def test_csv_and_parquet_round_trip(columns: dict[str, list[object]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        inventories_read = [read_inventory(p) for p in _write_all(Path(folder), columns)]
    hashes = {inv.content_hash for inv in inventories_read}
    assert len(hashes) == 1
    for inv in inventories_read:
        table = inv.table.to_pydict()
        assert list(table) == [c.name for c in schema.COLUMNS if c.name in columns]
        for name, values in columns.items():
            assert _plain(table[name]) == values, name


def _canonical(columns: dict[str, list[object]]) -> pa.Table:
    arrays = {}
    for column in schema.COLUMNS:
        if column.name not in columns:
            continue
        values = columns[column.name]
        if column.kind == "float":
            arrays[column.name] = pa.array(
                np.array([np.nan if v is None else v for v in values], dtype=np.float64)
            )
        elif column.kind == "category":
            arrays[column.name] = pa.array(values, pa.string()).dictionary_encode()
        else:
            arrays[column.name] = pa.array(values, pa.string())
    return pa.table(arrays)


@settings(max_examples=150, deadline=None)
@given(inventories(), st.data())
def test_any_single_changed_value_changes_the_hash(
    columns: dict[str, list[object]], data: st.DataObject
) -> None:
    before = content_hash(_canonical(columns))
    name = data.draw(st.sampled_from(sorted(columns)))
    row = data.draw(st.integers(min_value=0, max_value=len(columns[name]) - 1))
    old = columns[name][row]
    kind = schema.BY_NAME[name].kind
    if kind == "float":
        new = data.draw(st.none() | FLOAT[name])
    elif name == "species_group":
        new = data.draw(st.sampled_from(GROUPS))
    else:
        new = data.draw(st.none() | TEXT) if kind == "category" else data.draw(TEXT)
    if name == "subcompartment_id" or name == "area_ha":
        new = old if new is None else new
    if new == old or (new is None and old is None):
        return
    changed = {k: list(v) for k, v in columns.items()}
    changed[name][row] = new
    assert content_hash(_canonical(changed)) != before
