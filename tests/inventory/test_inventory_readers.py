"""Every reader: CSV in four encodings, Excel, GeoPackage, Shapefile (truncated DBF names), Parquet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely
from inventory_files import squares, write_csv, write_gis, write_parquet, write_xlsx

from tanhui.errors import InventoryError
from tanhui.inventory import check_inventory, read_inventory

HEADER = ["小班号", "面积(公顷)", "优势树种", "平均年龄", "每公顷蓄积", "龄组", "起源", "村"]
ROWS = [
    ["101", 1.5, "杉木", 12.0, 85.5, "中龄林", "人工", "城关村"],
    ["102", 0.25, "尾巨桉", 5.0, 40.0, "幼龄林", "人工", "城关村"],
    ["103", 12.0, "毛竹", 8.0, None, None, "天然", "下洋村"],
]
EXPECTED = {
    "subcompartment_id": ["101", "102", "103"],
    "area_ha": [1.5, 0.25, 12.0],
    "species_group": ["杉木", "桉树", "竹类"],
    "species": ["杉木", "尾巨桉", "毛竹"],
    "age_years": [12.0, 5.0, 8.0],
    "age_class": ["中龄林", "幼龄林", None],
    "volume_m3_per_ha": [85.5, 40.0, float("nan")],
    "origin": ["人工", "人工", "天然"],
    "village": ["城关村", "城关村", "下洋村"],
}


def assert_expected(inventory, expected=EXPECTED) -> None:  # type: ignore[no-untyped-def]
    got = inventory.table.to_pydict()
    assert list(got) == list(expected)
    for name, values in expected.items():
        if name in ("area_ha", "age_years", "volume_m3_per_ha"):
            np.testing.assert_array_equal(np.asarray(got[name], float), np.asarray(values, float))
        else:
            assert got[name] == values, name


def problems_of(path: Path, **kwargs: object) -> list[tuple[str, int | None, str | None]]:
    with pytest.raises(InventoryError) as info:
        read_inventory(path, **kwargs)  # type: ignore[arg-type]
    return [(p.code, p.row, p.column) for p in info.value.problems]


# --- CSV ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "reported"), [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gbk")]
)
def test_csv_encodings(tmp_path: Path, encoding: str, reported: str) -> None:
    path = write_csv(tmp_path / "xb.csv", HEADER, ROWS, encoding=encoding)
    inventory = read_inventory(path)
    assert_expected(inventory)
    assert inventory.source.format == "csv"
    assert inventory.source.encoding == reported
    assert (
        inventory.content_hash
        == read_inventory(write_csv(tmp_path / "u.csv", HEADER, ROWS)).content_hash
    )


def test_csv_gb18030_with_a_character_outside_gbk(tmp_path: Path) -> None:
    rows = [[*r[:-1], "䶮口村"] for r in ROWS]
    rows[2][-1] = "𠀀村"
    path = write_csv(tmp_path / "xb.csv", HEADER, rows, encoding="gb18030")
    inventory = read_inventory(path)
    assert inventory.source.encoding == "gb18030"
    assert inventory.table.column("village").to_pylist() == ["䶮口村", "䶮口村", "𠀀村"]
    utf8 = read_inventory(write_csv(tmp_path / "u.csv", HEADER, rows, encoding="utf-8"))
    assert utf8.content_hash == inventory.content_hash


def test_csv_forced_encoding_and_undecodable_text(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "xb.csv", HEADER, ROWS, encoding="gbk")
    assert read_inventory(path, encoding="gb18030").source.encoding == "gb18030"
    with pytest.raises(InventoryError) as info:
        read_inventory(path, encoding="utf-8")
    assert [p.code for p in info.value.problems] == ["undecodable_text"]
    bad = tmp_path / "bad.csv"
    bad.write_bytes("小班号,面积\n1,2\n".encode() + b"\xff\xfe\xff,3\n")
    assert [c for c, _, _ in problems_of(bad)] == ["undecodable_text"]


def test_txt_tab_separated_and_upper_case_extension(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "XB.TXT", HEADER, ROWS, delimiter="\t")
    assert_expected(read_inventory(path))
    path = write_csv(tmp_path / "XB.CSV", HEADER, ROWS, delimiter=";")
    assert_expected(read_inventory(path))


def test_csv_title_row_empty_lines_and_quoted_newlines(tmp_path: Path) -> None:
    text = (
        "示范县二类调查小班一览表,,\n"
        "小班号,面积(公顷),优势树种\n"
        "1,1.0,杉木\n"
        "\n"
        ",,\n"
        '2,"2.0",马尾松\n'
        '3,-1,"松\n树"\n'
        "4,abc,杉木\n"
    )
    path = tmp_path / "xb.csv"
    path.write_text(text, encoding="utf-8")
    # The header is spreadsheet row 2; the blank lines (rows 4 and 5) keep their numbers.
    assert problems_of(path) == [
        ("nonpositive_area", 7, "面积(公顷)"),
        ("unknown_species", 7, "优势树种"),
        ("not_a_number", 8, "面积(公顷)"),
    ]
    path.write_text(
        text.replace("-1", "3").replace("abc", "4").replace("松\n树", "杉\n木"), "utf-8"
    )
    inventory = read_inventory(path)
    assert inventory.table.column("subcompartment_id").to_pylist() == ["1", "2", "3", "4"]
    # Whitespace inside a species name does not hide it; the raw name is kept as written.
    assert inventory.table.column("species_group").to_pylist()[2] == "杉木"
    assert inventory.table.column("species").to_pylist()[2] == "杉\n木"


def test_csv_rows_longer_than_the_header(tmp_path: Path) -> None:
    path = tmp_path / "xb.csv"
    path.write_text(
        "小班号,面积,树种\n1,1,杉木\n2,1,杉木,多余\n3,1,杉木,,\n4,1\n", encoding="utf-8"
    )
    # A trailing empty cell is harmless; a short row is padded (here: 树种 is then empty).
    assert problems_of(path) == [("malformed_row", 3, None), ("missing_value", 5, "树种")]


# --- Excel --------------------------------------------------------------------------------------


def test_xlsx_numbers_ids_and_title_row(tmp_path: Path) -> None:
    rows = [[int(r[0]), *r[1:]] for r in ROWS]  # ids written as numbers: 101.0 → "101"
    path = write_xlsx(tmp_path / "xb.xlsx", HEADER, rows, title="示范县小班表")
    inventory = read_inventory(path)
    assert_expected(inventory)
    assert inventory.source.format == "xlsx"
    assert inventory.source.layer == "小班"
    csv_hash = read_inventory(write_csv(tmp_path / "xb.csv", HEADER, ROWS)).content_hash
    assert inventory.content_hash == csv_hash


def test_xlsx_sheet_choice_and_row_numbers(tmp_path: Path) -> None:
    rows = [list(r) for r in ROWS]
    rows[1][1] = "两亩"
    path = write_xlsx(tmp_path / "xb.xlsx", HEADER, rows, sheet="2021", extra_sheets=["说明"])
    # The first sheet is only a note without data rows.
    assert problems_of(path) == [("empty_file", None, None)]
    # On the right sheet (title row absent): header row 1, 两亩 is in row 3.
    assert problems_of(path, layer="2021") == [("not_a_number", 3, "面积(公顷)")]
    assert problems_of(path, layer="无此表") == [("unknown_layer", None, None)]


def test_xlsx_mixed_text_and_number_cells(tmp_path: Path) -> None:
    header = ["小班号", "面积", "树种组", "龄组"]
    rows = [["A-1", 2.0, "杉木", 1], [7, "3.5", "马尾松", "成熟林"], [8.0, 1.25, "竹类", 5.0]]
    inventory = read_inventory(write_xlsx(tmp_path / "xb.xlsx", header, rows))
    table = inventory.table.to_pydict()
    assert table["subcompartment_id"] == ["A-1", "7", "8"]
    assert table["area_ha"] == [2.0, 3.5, 1.25]
    assert table["age_class"] == ["幼龄林", "成熟林", "过熟林"]


# --- GeoPackage and Shapefile -------------------------------------------------------------------


def test_gpkg_layers_and_geometry(tmp_path: Path) -> None:
    path = tmp_path / "xb.gpkg"
    write_gis(path, HEADER, ROWS, squares(3), layer="xiaoban_2021")
    write_gis(path, ["小班号"], [["x"]], squares(1), layer="other")
    inventory = read_inventory(path)
    assert_expected(inventory)
    assert inventory.source.layer == "xiaoban_2021"
    assert inventory.source.format == "gpkg"
    assert inventory.crs == "EPSG:4549"
    assert inventory.geometry is not None and len(inventory.geometry) == 3
    np.testing.assert_allclose(shapely.area(shapely.from_wkb(inventory.geometry)), 10_000.0)
    assert not inventory.source.area_from_geometry  # the 面积 column wins
    assert problems_of(path, layer="other")[0][0] == "missing_column"
    assert problems_of(path, layer="nope") == [("unknown_layer", None, None)]


SHP_HEADER = [
    "小班号",
    "面积(公顷)",
    "优势树种",
    "每公顷蓄积量",
    "计划采伐蓄积",
    "灾害损失比例",
    "村",
]
SHP_ROWS = [
    ["1", 1.5, "杉木", 85.5, 10.0, 0.1, "城关村"],
    ["2", 0.25, "马尾松", 40.0, 0.0, 0.0, "下洋村"],
]


@pytest.mark.parametrize("keep_cpg", [True, False])
def test_shapefile_gbk_truncated_names(tmp_path: Path, keep_cpg: bool) -> None:
    path = write_gis(tmp_path / "xb.shp", SHP_HEADER, SHP_ROWS, squares(2), encoding="GBK")
    cpg = path.with_suffix(".cpg")
    assert cpg.read_text().strip().upper() in ("GBK", "CP936")
    if not keep_cpg:
        cpg.unlink()
    inventory = read_inventory(path)
    assert inventory.source.encoding == "gbk"
    assert inventory.source.column_map["volume_m3_per_ha"] == "每公顷蓄积"  # 10 bytes in GBK
    assert inventory.source.column_map["planned_harvest_m3"] == "计划采伐蓄"
    assert inventory.source.column_map["disturbance_share"] == "灾害损失比"
    table = inventory.table.to_pydict()
    assert table["village"] == ["城关村", "下洋村"]
    assert table["volume_m3_per_ha"] == [85.5, 40.0]
    assert table["disturbance_share"] == [0.1, 0.0]


@pytest.mark.parametrize("keep_cpg", [True, False])
def test_shapefile_utf8_names_cut_inside_a_character(tmp_path: Path, keep_cpg: bool) -> None:
    path = write_gis(tmp_path / "xb.shp", SHP_HEADER, SHP_ROWS, squares(2), encoding="UTF-8")
    dbf = path.with_suffix(".dbf").read_bytes()
    assert "优势树".encode() + b"\xe7" in dbf  # GDAL cut 优势树种 after 10 bytes
    if not keep_cpg:
        path.with_suffix(".cpg").unlink()
    inventory = read_inventory(path)
    assert inventory.source.encoding == "utf-8"
    assert inventory.source.column_map == {
        "subcompartment_id": "小班号",
        "area_ha": "面积(公",
        "species": "优势树",  # the species group is derived from it
        "volume_m3_per_ha": "每公顷",
        "planned_harvest_m3": "计划采",
        "disturbance_share": "灾害损",
        "village": "村",
    }
    assert inventory.table.column("species_group").to_pylist() == ["杉木", "马尾松"]
    gbk = read_inventory(
        write_gis(tmp_path / "g.shp", SHP_HEADER, SHP_ROWS, squares(2), encoding="GBK")
    )
    assert gbk.content_hash == inventory.content_hash


def test_shapefile_gbk_name_cut_inside_a_character(tmp_path: Path) -> None:
    header = ["小班号", "面积(公顷)", "优势树种(组)"]
    rows = [["1", 1.0, "杉木"], ["2", 2.0, "尾巨桉"]]
    path = write_gis(tmp_path / "xb.shp", header, rows, squares(2), encoding="GBK")
    path.with_suffix(".cpg").unlink()
    inventory = read_inventory(path)
    assert inventory.source.encoding == "gbk"
    assert inventory.source.column_map["species"] == "优势树种("  # 9 bytes and half a character
    assert inventory.table.column("species_group").to_pylist() == ["杉木", "桉树"]


def test_shapefile_gbk_that_also_decodes_as_utf8(tmp_path: Path) -> None:
    # 杉木 in GBK (C9BC C4BE) is valid UTF-8 ("ɼľ"): without .cpg the reader must not be fooled.
    path = write_gis(
        tmp_path / "xb.shp",
        ["XBH", "MIAN_JI", "YOU_SHI_SZ"],
        [["1", 1.0, "杉木"]],
        squares(1),
        encoding="GBK",
    )
    path.with_suffix(".cpg").unlink()
    assert "杉木".encode("gbk").decode("utf-8") == "ɼľ"
    inventory = read_inventory(path)
    assert inventory.source.encoding == "gbk"
    assert inventory.table.column("species").to_pylist() == ["杉木"]


def test_shapefile_numeric_ids(tmp_path: Path) -> None:
    path = write_gis(
        tmp_path / "xb.shp",
        ["XIAO_BAN", "MIAN_JI", "YOU_SHI_SZ"],
        [[12, 1.0, "杉"], [13, 2.0, "桉"]],
        squares(2),
        encoding="UTF-8",
    )
    inventory = read_inventory(path, area_unit="mu")
    assert inventory.table.to_pydict()["subcompartment_id"] == ["12", "13"]
    np.testing.assert_allclose(inventory.table.column("area_ha").to_numpy(), [1 / 15, 2 / 15])
    assert inventory.source.area_unit == "mu"


# --- Parquet ------------------------------------------------------------------------------------


def test_parquet(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "xb.parquet", [*HEADER, "郁闭度"], [[*r, 0.7] for r in ROWS])
    inventory = read_inventory(path)
    assert_expected(inventory)
    assert inventory.source.format == "parquet"
    assert inventory.source.ignored_columns == ("郁闭度",)
    assert inventory.geometry is None
    csv_hash = read_inventory(write_csv(tmp_path / "xb.csv", HEADER, ROWS)).content_hash
    assert inventory.content_hash == csv_hash


def test_parquet_types_dictionary_and_row_groups(tmp_path: Path) -> None:
    n = 1000
    table = pa.table(
        {
            "XBH": pa.array(np.arange(n, dtype=np.int64)),
            "面积(亩)": pa.array(np.full(n, 15.0, dtype=np.float32)),
            "树种组": pa.array(["杉木", "竹类"] * (n // 2)).dictionary_encode(),
            "龄组": pa.array(np.tile(np.arange(1, 6, dtype=np.int8), n // 5)),
        }
    )
    path = tmp_path / "xb.parquet"
    pq.write_table(table, path, row_group_size=128)
    inventory = read_inventory(path)
    got = inventory.table
    assert got.column("subcompartment_id").to_pylist()[:3] == ["0", "1", "2"]
    assert got.column("area_ha").type == pa.float64()
    assert set(got.column("area_ha").to_pylist()) == {1.0}
    assert got.column("species_group").type == pa.dictionary(pa.int32(), pa.string())
    assert got.column("age_class").to_pylist()[:5] == [
        "幼龄林",
        "中龄林",
        "近熟林",
        "成熟林",
        "过熟林",
    ]
    for name in got.column_names:
        assert got.column(name).num_chunks == 1 or name == "subcompartment_id"


def test_geoparquet_geometry_is_kept(tmp_path: Path) -> None:
    import json

    table = pa.table(
        {"小班号": ["1", "2"], "树种组": ["杉木", "杉木"], "geometry": shapely.to_wkb(squares(2))}
    )
    geo = {
        "version": "1.0.0",
        "primary_column": "geometry",
        "columns": {"geometry": {"encoding": "WKB", "geometry_types": ["Polygon"], "crs": None}},
    }
    table = table.replace_schema_metadata({b"geo": json.dumps(geo).encode()})
    path = tmp_path / "xb.parquet"
    pq.write_table(table, path)
    # Without a CRS the polygons cannot give areas…
    assert [c for c, _, _ in problems_of(path)] == ["missing_crs"]
    from pyproj import CRS

    geo["columns"]["geometry"]["crs"] = CRS.from_epsg(4549).to_json_dict()  # type: ignore[index]
    pq.write_table(table.replace_schema_metadata({b"geo": json.dumps(geo).encode()}), path)
    inventory = read_inventory(path)
    assert inventory.source.area_from_geometry
    assert inventory.table.column("area_ha").to_pylist() == pytest.approx([1.0, 1.0])


# --- whole-file problems ------------------------------------------------------------------------


def test_unknown_extension_missing_file_and_empty_files(tmp_path: Path) -> None:
    other = tmp_path / "xb.json"
    other.write_text("{}")
    assert problems_of(other) == [("unsupported_format", None, None)]
    assert problems_of(tmp_path / "nope.csv") == [("file_not_found", None, None)]
    inventory, problems = check_inventory(tmp_path / "nope.xlsx")
    assert inventory is None and [p.code for p in problems] == ["file_not_found"]
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert problems_of(empty) == [("empty_file", None, None)]
    header_only = write_csv(tmp_path / "h.csv", HEADER, [])
    assert problems_of(header_only) == [("empty_file", None, None)]
    blank_rows = tmp_path / "blank.csv"
    blank_rows.write_text("小班号,面积\n,\n\n", encoding="utf-8")
    assert problems_of(blank_rows) == [("empty_file", None, None)]
    assert problems_of(write_parquet(tmp_path / "h.parquet", ["小班号"], [])) == [
        ("empty_file", None, None)
    ]
    assert problems_of(write_xlsx(tmp_path / "h.xlsx", HEADER, [])) == [("empty_file", None, None)]
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a zip")
    assert problems_of(broken) == [("unreadable_file", None, None)]


# --- large Parquet files: text decoded in the background, assembled batch by batch ---------------


def _both_ways(path: Path, monkeypatch: pytest.MonkeyPatch, **kwargs: object) -> tuple:
    """(inventory, problems) read as a small file, then as a large one (text columns decoded on
    another thread in batches of 7 rows) — the two must not differ."""
    from tanhui.inventory import readers

    monkeypatch.setattr(readers, "_BACKGROUND_ROWS", 10**12)
    small = check_inventory(path, **kwargs)  # type: ignore[arg-type]
    monkeypatch.setattr(readers, "_BACKGROUND_ROWS", 0)
    monkeypatch.setattr(readers, "_TEXT_BATCH", 7)
    large = check_inventory(path, **kwargs)  # type: ignore[arg-type]
    for (inventory, problems), name in ((small, "small"), (large, "large")):
        assert (inventory is None) == bool(problems), name
    if small[0] is not None:
        assert large[0] is not None
        assert large[0].table.equals(small[0].table)
        assert large[0].content_hash == small[0].content_hash
        assert large[0].ids.to_pylist() == small[0].ids.to_pylist()
    assert [p.to_dict("en") for p in large[1]] == [p.to_dict("en") for p in small[1]]
    return large


def test_large_parquet_row_groups_and_long_string_types(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 200
    rows = [
        [f"350499-{i % 13:04d}-{i:08d}", 1.0 + i, "杉木", 10.0, 50.0, None, None, "城关村"]
        for i in range(n)
    ]
    table = pa.table(
        {
            "小班号": pa.array([r[0] for r in rows], pa.large_string()),
            "面积(公顷)": [r[1] for r in rows],
            "优势树种": [r[2] for r in rows],
            "村": [r[7] for r in rows],
        }
    )
    pq.write_table(table, tmp_path / "large.parquet", row_group_size=30)
    inventory, problems = _both_ways(tmp_path / "large.parquet", monkeypatch)
    assert not problems and len(inventory) == n
    pq.write_table(
        table.cast(pa.schema([pa.field("小班号", pa.string()), *list(table.schema)[1:]])),
        tmp_path / "plain.parquet",
        row_group_size=64,
    )
    inventory, problems = _both_ways(tmp_path / "plain.parquet", monkeypatch)
    assert inventory.ids.to_pylist() == [r[0] for r in rows]


def test_large_parquet_with_problems_lists_them_in_the_same_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ids are checked last in a large file (they may still be decoding); their problems are
    listed exactly where they were before."""
    ids: list[str | None] = [f"X{i % 40}" for i in range(120)]  # repeated: dictionary pages
    ids[5] = None
    ids[6] = "  "
    areas: list[float | None] = [1.0] * 120
    areas[5] = -1.0
    areas[7] = None
    table = pa.table({"小班号": ids, "面积(公顷)": areas, "树种组": ["杉木"] * 119 + ["松"]})
    pq.write_table(table, tmp_path / "bad.parquet", row_group_size=50)
    _, problems = _both_ways(tmp_path / "bad.parquet", monkeypatch)
    codes = [(p.code, p.row) for p in problems]
    assert codes[:4] == [
        ("missing_value", 7),
        ("nonpositive_area", 7),
        ("missing_value", 8),
        ("missing_value", 9),
    ]
    assert ("duplicate_id", 42 + 2) in codes and ("unknown_species", 121) in codes
    table = pa.table({"平均年龄": [1.0], "村": ["甲"]})
    pq.write_table(table, tmp_path / "none.parquet")
    _, problems = _both_ways(tmp_path / "none.parquet", monkeypatch)
    assert [p.code for p in problems] == ["missing_column"] * 3
    assert problems[0].column == "小班号"
    unique = pa.table(
        {"小班号": [f"Y{i}" for i in range(120)], "面积(公顷)": areas, "树种组": ["杉木"] * 120}
    )
    pq.write_table(unique, tmp_path / "ids_ok.parquet", row_group_size=50)
    _, problems = _both_ways(tmp_path / "ids_ok.parquet", monkeypatch)
    assert [(p.code, p.row) for p in problems] == [("nonpositive_area", 7), ("missing_value", 9)]


def test_large_parquet_text_longer_than_its_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dictionary pages store a repeated id once: the assembled text outgrows the page sizes."""
    ids = [f"{'长' * 20}-{i % 3}" for i in range(300)]
    table = pa.table({"小班号": ids, "面积(公顷)": [1.0] * 300, "树种组": ["杉木"] * 300})
    pq.write_table(table, tmp_path / "rep.parquet", row_group_size=100)
    _, problems = _both_ways(tmp_path / "rep.parquet", monkeypatch)
    assert len(problems) == 297 and {p.code for p in problems} == {"duplicate_id"}
    pq.write_table(table.slice(0, 3), tmp_path / "three.parquet")
    inventory, problems = _both_ways(tmp_path / "three.parquet", monkeypatch)
    assert inventory.ids.to_pylist() == ids[:3]


def test_large_parquet_damaged_text_column(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tanhui.inventory import readers

    monkeypatch.setattr(readers, "_BACKGROUND_ROWS", 0)
    table = pa.table(
        {"小班号": [f"A{i}" for i in range(50)], "面积(公顷)": [1.0] * 50, "树种组": ["杉木"] * 50}
    )
    path = tmp_path / "xb.parquet"
    pq.write_table(table, path)

    def broken(pf: object, name: str) -> pa.Array:
        raise OSError("the disk went away")

    monkeypatch.setattr(readers, "_text_column", broken)
    with pytest.raises(InventoryError) as info:
        read_inventory(path)
    assert [p.code for p in info.value.problems] == ["unreadable_file"]
    assert "the disk went away" in info.value.problems[0].reason_en
