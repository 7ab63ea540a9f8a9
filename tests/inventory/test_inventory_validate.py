"""Validation: every problem with its exact row, header and code; conversions; all problems at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from inventory_files import write_csv, write_parquet, write_xlsx

from tanhui.errors import InventoryError, Problem
from tanhui.inventory import check_inventory, read_inventory
from tanhui.inventory.validate import MAX_PROBLEMS, find_duplicates


def problems_of(path: Path, **kwargs: object) -> list[Problem]:
    with pytest.raises(InventoryError) as info:
        read_inventory(path, **kwargs)  # type: ignore[arg-type]
    assert info.value.source == str(path)
    for p in info.value.problems:
        assert p.reason_zh and p.reason_en
        assert p.to_dict("zh")["code"] == p.code
    return info.value.problems


def where(problems: list[Problem]) -> list[tuple[str, int | None, str | None, object]]:
    return [(p.code, p.row, p.column, p.value) for p in problems]


# --- conversions --------------------------------------------------------------------------------


def test_mu_to_ha_and_whole_stand_volume_to_per_ha(tmp_path: Path) -> None:
    header = ["小班号", "面积(亩)", "树种", "小班蓄积"]
    rows = [["1", 7.5, "杉木", 30], ["2", 150, "马尾松", 1200.5], ["3", 1, "杉木", None]]
    inventory = read_inventory(write_csv(tmp_path / "xb.csv", header, rows))
    table = inventory.table.to_pydict()
    assert table["area_ha"] == [0.5, 10.0, 1 / 15]  # 7.5 亩 = 0.5 ha; 150 亩 = 10 ha
    assert table["volume_m3_per_ha"][:2] == [60.0, 120.05]  # 30 m³ / 0.5 ha; 1200.5 m³ / 10 ha
    assert np.isnan(table["volume_m3_per_ha"][2])
    assert inventory.source.area_unit == "mu"
    assert inventory.source.column_map["volume_m3_per_ha"] == "小班蓄积"


def test_per_mu_volume_percent_share_and_number_spellings(tmp_path: Path) -> None:
    header = ["小班号", "面积", "树种组", "每亩蓄积", "受灾比例(%)", "受灾比例", "平均年龄"]
    rows = [
        ["1", "1,234.5", "杉木", 4, 25, "25%", "１２．５"],
        ["2", " 2 ", "杉木", "0.5", 0, "0", "+3e1"],
    ]
    path = write_csv(tmp_path / "xb.csv", header, rows)
    table = read_inventory(path).table.to_pydict()
    assert table["area_ha"] == [1234.5, 2.0]
    assert table["volume_m3_per_ha"] == [60.0, 7.5]  # 4 m³/亩 × 15; 0.5 × 15
    assert table["disturbance_share"] == [0.25, 0.0]
    assert table["age_years"] == [12.5, 30.0]


def test_bare_area_unit_option(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "xb.csv", ["小班号", "面积", "树种组"], [["1", 15, "杉木"]])
    assert read_inventory(path).table.column("area_ha").to_pylist() == [15.0]
    inventory = read_inventory(path, area_unit="mu")
    assert inventory.table.column("area_ha").to_pylist() == [1.0]
    assert inventory.source.area_unit == "mu"
    with pytest.raises(ValueError, match="area_unit"):
        read_inventory(path, area_unit="acre")  # type: ignore[arg-type]


def test_two_area_columns_that_agree_up_to_rounding(tmp_path: Path) -> None:
    header = ["小班号", "面积(亩)", "面积(公顷)", "树种组"]
    rows = [["1", 7.3, 0.49, "杉木"], ["2", 15, 1.0, "杉木"], ["3", 0.7, 0.05, "杉木"]]
    inventory = read_inventory(write_csv(tmp_path / "xb.csv", header, rows))
    assert inventory.source.column_map["area_ha"] == "面积(公顷)"  # the hectare column is kept
    assert inventory.table.column("area_ha").to_pylist() == [0.49, 1.0, 0.05]


def test_ambiguous_columns(tmp_path: Path) -> None:
    header = ["小班号", "面积(亩)", "面积(公顷)", "树种组", "龄组", "林龄", "平均年龄"]
    rows = [
        ["1", 15, 1.0, "杉木", "幼", 5, 5],
        ["2", 15, 2.0, "杉木", "中", 20, 25],
        ["3", 30, None, "杉木", "中", 20, 20],
    ]
    problems = problems_of(write_csv(tmp_path / "xb.csv", header, rows))
    assert where(problems) == [
        ("ambiguous_column", None, "面积(亩)", "面积(公顷)"),
        ("ambiguous_column", None, "平均年龄", "林龄"),
        ("missing_value", 4, "面积(公顷)", None),  # the hectare column is the one kept
    ]
    assert "2 行" in problems[0].reason_zh and "first at row 3" in problems[0].reason_en
    assert "first at row 3" in problems[1].reason_en


def test_id_columns_compose_the_sub_compartment_id(tmp_path: Path) -> None:
    header = ["村", "林班号", "小班号", "面积", "树种组"]
    rows = [
        ["城关村", 3, 12, 1.0, "杉木"],
        ["城关村", 4, 12, 1.0, "杉木"],
        ["下洋村", 3, 12, 1.0, "杉木"],
    ]
    path = write_xlsx(tmp_path / "xb.xlsx", header, rows)
    inventory = read_inventory(path, id_columns=["村", "林班", "小班号"])
    assert inventory.ids.to_pylist() == ["城关村-3-12", "城关村-4-12", "下洋村-3-12"]
    assert inventory.source.column_map["subcompartment_id"] == "村+林班号+小班号"
    assert inventory.source.id_columns == ("村", "林班", "小班号")
    # Without id_columns the bare 小班号 repeats.
    assert [(p.code, p.row) for p in problems_of(path)] == [
        ("duplicate_id", 3),
        ("duplicate_id", 4),
    ]
    rows[1][1] = None
    rows[2][0] = "城关村"
    rows[2][1] = 3
    problems = problems_of(
        write_xlsx(tmp_path / "b.xlsx", header, rows), id_columns=["村", "林班号", "小班号"]
    )
    assert where(problems) == [
        ("missing_value", 3, "林班号", None),
        ("duplicate_id", 4, "村+林班号+小班号", "城关村-3-12"),
    ]


# --- every problem code -------------------------------------------------------------------------


def test_missing_required_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "xb.csv", ["村", "郁闭度"], [["城关村", 0.6]])
    problems = problems_of(path)
    assert where(problems) == [
        ("missing_column", None, "小班号", None),
        ("missing_column", None, "面积(公顷)", None),
        ("missing_column", None, "树种组", None),
    ]
    assert "小班编号" in problems[0].reason_zh  # the message lists accepted headers


def test_every_row_problem_is_reported_at_once(tmp_path: Path) -> None:
    header = [
        "小班号",
        "面积(亩)",
        "优势树种",
        "平均年龄",
        "龄组",
        "起源",
        "森林类别",
        "每公顷蓄积",
        "受灾比例",
        "调查年度",
        "地类",
    ]
    rows = [
        [
            "A1",
            15,
            "杉木",
            10,
            "幼龄林",
            "人工",
            "商品林",
            50,
            0.1,
            2021,
            "乔木林地",
        ],  # row 2: good
        [
            "A2",
            0,
            "杉木",
            10,
            "幼龄林",
            "人工",
            "商品林",
            50,
            0.1,
            2021,
            "乔木林地",
        ],  # 3: zero area
        ["A3", -3, "松", 10, "幼龄林", "人工", "商品林", 50, 0.1, 2021, "乔木林地"],  # 4
        ["A1", 15, "杉木", "十年", "青年林", "野生", "生态林", 50, 0.1, 2021, "任意文字"],  # 5
        ["", 15, "", 500, "幼龄林", "人工", "商品林", 3000, 1.5, 1800, "乔木林地"],  # 6
        ["A6", "", "杉木", 10, "幼龄林", "人工", "商品林", -1, 0.1, 2021, "乔木林地"],  # 7
        ["A1", 15, "杉木", 10, "幼龄林", "人工", "商品林", 50, 0.1, 2021, "乔木林地"],  # 8
    ]
    path = write_csv(tmp_path / "xb.csv", header, rows, encoding="gbk")
    problems = problems_of(path)
    assert where(problems) == [
        ("nonpositive_area", 3, "面积(亩)", "0"),
        ("nonpositive_area", 4, "面积(亩)", "-3"),
        ("unknown_species", 4, "优势树种", "松"),
        ("duplicate_id", 5, "小班号", "A1"),
        ("not_a_number", 5, "平均年龄", "十年"),
        ("unknown_category", 5, "龄组", "青年林"),
        ("unknown_category", 5, "起源", "野生"),
        ("unknown_category", 5, "森林类别", "生态林"),
        ("missing_value", 6, "小班号", None),
        ("missing_value", 6, "优势树种", None),
        ("out_of_range", 6, "平均年龄", "500"),
        ("out_of_range", 6, "每公顷蓄积", "3000"),
        ("out_of_range", 6, "受灾比例", "1.5"),
        ("out_of_range", 6, "调查年度", "1800"),
        ("missing_value", 7, "面积(亩)", None),
        ("out_of_range", 7, "每公顷蓄积", "-1"),
        ("duplicate_id", 8, "小班号", "A1"),
    ]
    dup = [p for p in problems if p.code == "duplicate_id"]
    assert all("第 2 行" in p.reason_zh and "row 2 already" in p.reason_en for p in dup)
    # Nothing is imported: check_inventory hands back the same problems and no inventory.
    inventory, same = check_inventory(path)
    assert inventory is None and where(same) == where(problems)


def test_out_of_range_after_conversion(tmp_path: Path) -> None:
    header = ["小班号", "面积(亩)", "树种组", "小班蓄积"]
    rows = [["1", 150_015, "杉木", 10], ["2", 1.5, "杉木", 300]]  # 10,001 ha; 3,000 m³/ha
    problems = problems_of(write_csv(tmp_path / "xb.csv", header, rows))
    assert where(problems) == [
        ("out_of_range", 2, "面积(亩)", "150015"),
        ("out_of_range", 3, "小班蓄积", "300"),
    ]
    assert "10001 公顷" in problems[0].reason_zh
    assert "= 3000 m³/ha" in problems[1].reason_en


def test_group_column_checked_against_known_groups(tmp_path: Path) -> None:
    header = ["小班号", "面积", "树种组", "优势树种"]
    rows = [
        ["1", 1, "杉木", "杉"],
        ["2", 1, "油茶", "油茶"],
        ["3", 1, "", "尾巨桉"],
        ["4", 1, "", ""],
    ]
    path = write_csv(tmp_path / "xb.csv", header, rows)
    assert where(problems_of(path)) == [
        ("unknown_species", 3, "树种组", "油茶"),
        ("missing_value", 5, "树种组", None),
    ]
    rows[3][3] = "毛竹"
    path = write_csv(tmp_path / "xb.csv", header, rows)
    inventory = read_inventory(path, known_groups=("杉木", "桉树", "竹类", "油茶"))
    # An empty group cell is filled from the species; the raw species is kept.
    assert inventory.table.column("species_group").to_pylist() == ["杉木", "油茶", "桉树", "竹类"]
    assert inventory.table.column("species").to_pylist() == ["杉", "油茶", "尾巨桉", "毛竹"]


def test_null_markers_in_text_files(tmp_path: Path) -> None:
    header = ["小班号", "面积", "树种组", "每公顷蓄积", "龄组"]
    rows = [["1", 1, "杉木", "NaN", "<Null>"], ["2", 1, "杉木", "null", "None"]]
    table = read_inventory(write_csv(tmp_path / "xb.csv", header, rows)).table.to_pydict()
    assert np.isnan(table["volume_m3_per_ha"]).all()
    assert table["age_class"] == [None, None]


def test_problem_list_is_capped(tmp_path: Path) -> None:
    n = MAX_PROBLEMS + 50
    rows = [[str(i), "x", "杉木"] for i in range(n)]
    path = write_csv(tmp_path / "xb.csv", ["小班号", "面积", "树种组"], rows)
    problems = problems_of(path)
    assert len(problems) == MAX_PROBLEMS
    assert all(p.code == "not_a_number" for p in problems[:-1])
    assert [p.row for p in problems[:3]] == [2, 3, 4]
    assert problems[-1].code == "more_problems"
    assert problems[-1].value == n - (MAX_PROBLEMS - 1)


def test_parquet_rows_are_record_numbers_plus_one(tmp_path: Path) -> None:
    rows = [["1", 1.0, "杉木"], ["1", 1.0, "杉木"]]
    path = write_parquet(tmp_path / "xb.parquet", ["小班号", "面积(公顷)", "树种组"], rows)
    assert where(problems_of(path)) == [("duplicate_id", 3, "小班号", "1")]


# --- duplicates ---------------------------------------------------------------------------------


def _reference_duplicates(ids: list[str | None]) -> tuple[list[int], list[int]]:
    first: dict[str, int] = {}
    rows, firsts = [], []
    for i, value in enumerate(ids):
        if value is None:
            continue
        if value in first:
            rows.append(i)
            firsts.append(first[value])
        else:
            first[value] = i
    return rows, firsts


@pytest.mark.parametrize("width", [5, 20, 40])
def test_find_duplicates_matches_a_plain_loop(width: int) -> None:
    rng = np.random.default_rng(width)
    n = 20_000
    ids: list[str | None] = [f"{i:0{width}d}" for i in range(n)]
    for i in rng.choice(n, 30, replace=False):
        ids[int(i)] = ids[int(rng.integers(0, n))]
    ids[7] = "城关村-07-12"
    ids[n - 1] = "城关村-07-12"
    chunked = pa.chunked_array([pa.array(ids[:5000]), pa.array(ids[5000:])])
    for column in (pa.array(ids), chunked):
        rows, firsts = find_duplicates(column, np.ones(n, dtype=bool))
        assert (rows.tolist(), firsts.tolist()) == _reference_duplicates(ids)
    unique = pa.array([f"{i:0{width}d}" for i in range(n)])
    assert find_duplicates(unique, np.ones(n, dtype=bool))[0].size == 0
    with_empty = [*ids[:100], None, *ids[:3]]
    valid = np.array([v is not None for v in with_empty])
    rows, firsts = find_duplicates(pa.array(with_empty), valid)
    assert (rows.tolist(), firsts.tolist()) == _reference_duplicates(with_empty)


def test_parquet_ids_are_trimmed_before_comparing(tmp_path: Path) -> None:
    rows = [[" 1", 1.0, "杉木"], ["2 ", 1.0, "杉木"], ["1", 1.0, "杉木"], ["  ", 1.0, "杉木"]]
    path = write_parquet(tmp_path / "xb.parquet", ["小班号", "面积(公顷)", "树种组"], rows)
    assert where(problems_of(path)) == [
        ("duplicate_id", 4, "小班号", "1"),
        ("missing_value", 5, "小班号", None),
    ]
    path = write_parquet(tmp_path / "ok.parquet", ["小班号", "面积(公顷)", "树种组"], rows[:2])
    assert read_inventory(path).ids.to_pylist() == ["1", "2"]


@pytest.mark.parametrize("width", [8, 16, 20, 23, 32])
def test_find_duplicates_of_ids_of_one_length(width: int) -> None:
    """Ids of one byte length are folded in place (strided words); chunks and duplicates across
    them, at the first and last rows, all found."""
    rng = np.random.default_rng(width)
    n = 30_000
    ids: list[str | None] = [f"{i:0{width}d}" for i in range(n)]
    for i in rng.choice(n, 40, replace=False):
        ids[int(i)] = ids[int(rng.integers(0, n))]
    ids[-1] = ids[0]
    chunked = pa.chunked_array(
        [pa.array(ids[:7000]), pa.array(ids[7000:20000]), pa.array(ids[20000:])]
    )
    for column in (pa.array(ids), chunked, pa.array(ids, pa.large_string())):
        rows, firsts = find_duplicates(column, np.ones(n, dtype=bool))
        assert (rows.tolist(), firsts.tolist()) == _reference_duplicates(ids)


def test_find_duplicates_when_many_keys_collide(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys are a hash: rows sharing a key are compared exactly, so collisions cost time only."""
    from tanhui.inventory import validate

    n = 20_000
    ids: list[str | None] = [f"ID-{i % 17}-{i:012d}" for i in range(n)]
    ids[12_345] = ids[3]
    expected = _reference_duplicates(ids)
    for mix in (np.zeros(4, np.uint64), np.array([1, 0, 0, 0], np.uint64)):
        monkeypatch.setattr(validate, "_MIX", mix)  # every key (nearly) the same
        rows, firsts = find_duplicates(pa.array(ids), np.ones(n, dtype=bool))
        assert (rows.tolist(), firsts.tolist()) == expected


def test_find_duplicates_among_chance_collisions_of_32_bit_keys() -> None:
    """A million random ids share some 100 keys by chance; only real duplicates are reported."""
    from tanhui.inventory.validate import _fold_keys

    n = 1_000_000
    words = np.random.default_rng(11).integers(0, 2**63, n, dtype=np.int64)
    ids: list[str | None] = [f"{w:016x}" for w in words.tolist()]
    assert len(set(ids)) == n
    keys = _fold_keys(pa.array(ids))
    assert keys is not None and len(np.unique(keys)) < n  # chance collisions do occur
    ids[999_999] = ids[5]
    ids[500_000] = ids[499_999]
    rows, firsts = find_duplicates(pa.array(ids), np.ones(n, dtype=bool))
    assert (rows.tolist(), firsts.tolist()) == ([500_000, 999_999], [499_999, 5])


def test_sharing_a_key_finds_every_row_with_a_shared_key() -> None:
    from tanhui.inventory.validate import _fold_keys, _sharing_a_key

    words = np.random.default_rng(5).integers(0, 2**63, 1_000_000, dtype=np.int64)
    ids = pa.array([f"{w:016x}" for w in words.tolist()])  # random: keys collide by chance
    keys = _fold_keys(ids)
    assert keys is not None and keys.dtype == np.uint32
    values, counts = np.unique(keys, return_counts=True)
    expected = np.flatnonzero(np.isin(keys, values[counts > 1]))
    assert expected.size  # 1,000,000 keys of 32 bits: ~100 pairs share one by chance
    assert _sharing_a_key(ids, keys).tolist() == expected.tolist()
    few = pa.array([f"{i:012d}" for i in range(1000)])
    keys = _fold_keys(few)
    assert keys is not None and _sharing_a_key(few, keys).size == 0


def test_the_trim_byte_tables_cover_every_character_arrow_trims() -> None:
    """The id check skips trimming when no id starts or ends with a byte that can begin or end
    a whitespace character; those bytes are listed by hand and checked here against Arrow."""
    import pyarrow.compute as pc

    from tanhui.inventory.validate import _TRIM_FIRST, _TRIM_LAST

    points = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    trimmed = pc.binary_length(pc.utf8_trim_whitespace(pa.array([chr(c) for c in points])))
    for c, length in zip(points, trimmed.to_pylist(), strict=True):
        if length == 0:
            data = chr(c).encode("utf-8")
            assert _TRIM_FIRST[data[0]] and _TRIM_LAST[data[-1]], hex(c)


@pytest.mark.parametrize(
    "ids",
    [
        ["A-001", " A-002", "A-003"],
        ["A-001", "A-002\u3000", "A-003"],
        ["城关-1", "城关-2\u00a0", "城关-3"],
        ["\tB1", "B2", "B3 "],
    ],
)
def test_ids_needing_a_trim_are_trimmed_in_large_parquet_files(
    tmp_path: Path, ids: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tanhui.inventory import readers

    monkeypatch.setattr(readers, "_BACKGROUND_ROWS", 0)  # the large-file path, on a small file
    rows = [[i, 1.0, "杉木"] for i in ids]
    path = write_parquet(tmp_path / "xb.parquet", ["小班号", "面积(公顷)", "树种组"], rows)
    assert read_inventory(path).ids.to_pylist() == [i.strip() for i in ids]
    duplicate = [*rows, [ids[1].strip(), 2.0, "杉木"]]
    path = write_parquet(tmp_path / "dup.parquet", ["小班号", "面积(公顷)", "树种组"], duplicate)
    assert where(problems_of(path)) == [("duplicate_id", 5, "小班号", ids[1].strip())]
