"""The Inventory: canonical table, stands(), summary() and the documented content hash."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path
from typing import Any

import blake3
import numpy as np
import pyarrow as pa
import pytest
from inventory_files import write_csv

from tanhui.inventory import Inventory, content_hash, read_inventory, schema

HEADER = ["小班号", "面积(公顷)", "优势树种", "平均年龄", "龄组", "调查年度", "村"]
ROWS = [
    ["3", 2.0, "马尾松", 30, "成熟林", 2021, "城关村"],
    ["1", 1.0, "杉木", 12, None, 2021, "下洋村"],
    ["2", 0.5, "杉", None, "幼龄林", 2021, "城关村"],
]


@pytest.fixture
def inventory(tmp_path: Path) -> Inventory:
    return read_inventory(write_csv(tmp_path / "xb.csv", HEADER, ROWS))


def test_canonical_table(inventory: Inventory) -> None:
    table = inventory.table
    assert table.column_names == [
        "subcompartment_id",
        "area_ha",
        "species_group",
        "species",
        "age_years",
        "age_class",
        "village",
        "survey_year",
    ]
    assert table.schema.field("subcompartment_id").type == pa.string()
    category = pa.dictionary(pa.int32(), pa.string())
    for column in schema.COLUMNS:
        if column.name not in table.column_names:
            continue
        data = table.column(column.name)
        assert data.num_chunks == 1
        if column.kind == "float":
            assert data.type == pa.float64() and data.null_count == 0  # empty = NaN
        elif column.kind == "category":
            assert data.type == category
            labels = data.chunk(0).dictionary.to_pylist()
            assert labels == sorted(labels)
    assert table.column("species_group").to_pylist() == ["马尾松", "杉木", "杉木"]
    assert table.column("village").chunk(0).dictionary.to_pylist() == ["下洋村", "城关村"]
    assert len(inventory) == 3
    assert inventory.ids.to_pylist() == ["3", "1", "2"]


def test_stands_share_memory_with_the_table(inventory: Inventory) -> None:
    stands = inventory.stands()
    assert len(stands) == 3
    area = stands.numbers["area_ha"]
    assert area.dtype == np.float64
    buffer = inventory.table.column("area_ha").chunk(0).buffers()[1]
    assert area.ctypes.data == buffer.address  # zero-copy
    np.testing.assert_array_equal(stands.numbers["age_years"], [30.0, 12.0, np.nan])
    codes, labels = stands.category("age_class")
    assert codes.dtype == np.int32
    assert labels == ("幼龄林", "成熟林")
    assert codes.tolist() == [1, -1, 0]
    assert stands.labels["species_group"] == ("杉木", "马尾松")
    assert stands.mask_in("species_group", {"杉木"}).tolist() == [False, True, True]
    assert inventory.stands() is stands  # built once
    assert stands.survey_year == 2021.0


def test_survey_year_only_when_unique(tmp_path: Path) -> None:
    rows = [list(r) for r in ROWS]
    rows[0][5] = 2020
    assert read_inventory(write_csv(tmp_path / "a.csv", HEADER, rows)).stands().survey_year is None
    no_year = read_inventory(write_csv(tmp_path / "b.csv", HEADER[:5], [r[:5] for r in ROWS]))
    assert no_year.stands().survey_year is None


def test_summary(inventory: Inventory) -> None:
    summary = inventory.summary()
    assert summary["rows"] == 3
    assert summary["total_area_ha"] == 3.5
    assert summary["by_species_group"] == {
        "杉木": {"count": 2, "area_ha": 1.5},
        "马尾松": {"count": 1, "area_ha": 2.0},
    }
    assert summary["survey_years"] == [2021]
    assert summary["columns_found"]["area_ha"] == "面积(公顷)"
    assert summary["columns_found"]["species"] == "优势树种"
    assert "volume_m3_per_ha" in summary["columns_missing"]
    assert "area_ha" not in summary["columns_missing"]
    assert summary["content_hash"] == inventory.content_hash


# --- the content hash, recomputed from its docstring --------------------------------------------


def reference_hash(table: pa.Table, algorithm: str = "blake3") -> str:
    """A plain, slow transcription of the algorithm documented in ``content_hash``: layout v2
    with BLAKE3, or v1 with sha256 (kept to confirm older results)."""

    def u64(n: int) -> bytes:
        return struct.pack("<Q", n)

    def new(data: bytes) -> Any:
        return blake3.blake3(data) if algorithm == "blake3" else hashlib.sha256(data)

    version = b"2" if algorithm == "blake3" else b"1"
    h = new(b"tanhui-inventory-content-v" + version + b"\n" + u64(table.num_rows))
    for column in schema.COLUMNS:
        if column.name not in table.column_names:
            continue
        values = table.column(column.name).to_pylist()
        payload = bytearray()
        if column.kind == "id":
            data = [v.encode("utf-8") for v in values]
            payload += b"".join(struct.pack("<q", len(d)) for d in data) + b"".join(data)
        elif column.kind == "float":
            for v in values:
                if v is None or v != v:
                    payload += struct.pack("<Q", 0x7FF8000000000000)
                else:
                    payload += struct.pack("<d", v + 0.0)
        else:
            labels = sorted({v for v in values if v is not None})
            payload += struct.pack("<q", len(labels))
            for label in labels:
                data = label.encode("utf-8")
                payload += struct.pack("<q", len(data)) + data
            payload += b"".join(
                struct.pack("<i", labels.index(v) if v is not None else -1) for v in values
            )
        for text in (column.name, column.kind):
            data = text.encode("utf-8")
            h.update(u64(len(data)) + data)
        h.update(new(bytes(payload)).digest())
    return h.hexdigest()


def test_content_hash_follows_its_documentation(inventory: Inventory) -> None:
    assert inventory.content_hash == reference_hash(inventory.table)
    assert len(inventory.content_hash) == 64
    assert content_hash(inventory.table) == inventory.content_hash


def test_the_sha256_content_hash_of_older_results_is_kept(inventory: Inventory) -> None:
    legacy = inventory.content_hash_with("sha256")
    assert (
        legacy
        == reference_hash(inventory.table, "sha256")
        == content_hash(inventory.table, "sha256")
    )
    assert legacy != inventory.content_hash
    with pytest.raises(ValueError, match="unknown hash algorithm"):
        content_hash(inventory.table, "md5")


def test_content_hash_ignores_chunking_dictionary_order_and_string_width() -> None:
    ids = pa.array(["a", "bb", "城关-1", "d"])
    area = pa.array([1.0, -0.0, float("nan"), 2.5])
    groups = pa.DictionaryArray.from_arrays(
        pa.array([0, 1, None, 0], pa.int32()), pa.array(["杉木", "竹类"])
    )
    base = pa.table({"subcompartment_id": ids, "area_ha": area, "species_group": groups})
    expected = content_hash(base)
    assert expected == reference_hash(base)
    # Shuffled dictionary with an unused label.
    shuffled = pa.DictionaryArray.from_arrays(
        pa.array([2, 0, None, 2], pa.int32()), pa.array(["竹类", "马尾松", "杉木"])
    )
    variants = [
        base.set_column(2, "species_group", shuffled),
        pa.concat_tables([base.slice(0, 1), base.slice(1, 2), base.slice(3)]),
        base.set_column(0, "subcompartment_id", ids.cast(pa.large_string())),
        base.set_column(1, "area_ha", pa.array([1.0, 0.0, np.float64("-nan"), 2.5])),
        base.set_column(2, "species_group", groups.dictionary_decode()),
    ]
    for variant in variants:
        assert content_hash(variant) == expected
        assert content_hash(variant, "sha256") == reference_hash(base, "sha256")
    # A different column set or order of rows is a different content.
    assert content_hash(base.slice(0, 3)) != expected
    assert content_hash(base.take([1, 0, 2, 3])) != expected
    assert content_hash(base.drop_columns(["species_group"])) != expected


def test_content_hash_is_the_same_for_the_same_rows_in_csv_and_parquet(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    csv_inv = read_inventory(write_csv(tmp_path / "xb.csv", HEADER, ROWS, encoding="gbk"))
    path = tmp_path / "xb.parquet"
    table = pa.table(
        {
            "XIAO_BAN": ["3", "1", "2"],
            "面积": [2.0, 1.0, 0.5],
            "优势树种": pa.array(["马尾松", "杉木", "杉"]).dictionary_encode(),
            "林龄": [30.0, 12.0, None],
            "龄组": ["4", None, "1"],
            "年度": pa.array([2021, 2021, 2021], pa.int16()),
            "行政村": ["城关村", "下洋村", "城关村"],
        }
    )
    pq.write_table(table, path)
    assert read_inventory(path).content_hash == csv_inv.content_hash
