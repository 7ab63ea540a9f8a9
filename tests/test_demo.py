"""The demo county: deterministic, realistic, and readable by tanhui's own readers."""

from __future__ import annotations

import csv
import hashlib
import io
import math
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pyogrio
import pyogrio.raw
import pyproj
import pytest
import shapely
from python_calamine import CalamineWorkbook

from tanhui.demo import (
    COLUMNS_2016,
    COLUMNS_2021,
    KINDS,
    MIN_ROWS,
    SPECIES_GROUPS,
    STAGES,
    DemoFiles,
    build_demo,
    main,
    squarify,
)

N = 2_000
SEED = 7

# Upper ages of 幼/中/近熟/成熟 per raw species name (older = 过熟林), restated independently.
AGE_BOUNDS = {
    "杉木": (10, 20, 25, 35),
    "马尾松": (10, 20, 30, 50),
    "湿地松": (10, 20, 30, 50),
    "尾巨桉": (2, 4, 5, 7),
    "桉树": (2, 4, 5, 7),
    "木荷": (20, 40, 50, 70),
    "青冈": (20, 40, 50, 70),
    "栎类": (20, 40, 50, 70),
    "硬阔类": (20, 40, 50, 70),
    "樟木": (20, 40, 50, 70),
    "阔叶混": (20, 40, 50, 70),
    "软阔类": (20, 30, 40, 60),
    "枫香": (20, 30, 40, 60),
    "针阔混": (20, 30, 40, 60),
}
AGE_CLASSES = ("幼龄林", "中龄林", "近熟林", "成熟林", "过熟林")
TARGET_SHARES = {"杉木": 40, "马尾松": 20, "毛竹": 10, "针阔混": 5}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    return build_demo(tmp_path_factory.mktemp("demo"), n=N, seed=SEED)


def read_csv(path: Path, encoding: str) -> list[dict[str, str]]:
    text = path.read_bytes().decode(encoding)
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def rows16(demo: DemoFiles) -> list[dict[str, str]]:
    return read_csv(demo.csv_2016, "gbk")


@pytest.fixture(scope="module")
def rows21(demo: DemoFiles) -> list[dict[str, str]]:
    return read_csv(demo.csv_2021, "utf-8-sig")


def num(cell: str) -> float:
    return float(cell) if cell != "" else math.nan


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_layer(path: Path) -> tuple[dict, np.ndarray, dict[str, np.ndarray]]:
    meta, _, wkb, fields = pyogrio.raw.read(path)
    polygons = shapely.from_wkb(wkb)
    return meta, polygons, dict(zip(meta["fields"], fields, strict=True))


def projected_area(polygons: np.ndarray, epsg: int) -> np.ndarray:
    transformer = pyproj.Transformer.from_crs(4490, epsg, always_xy=True)
    projected = shapely.transform(
        polygons, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
    )
    return shapely.area(projected)


# -- determinism -----------------------------------------------------------------------------


def test_same_seed_same_bytes_and_different_seed_different(demo: DemoFiles, tmp_path: Path):
    again = build_demo(tmp_path / "again", n=N, seed=SEED)
    other = build_demo(tmp_path / "other", n=N, seed=SEED + 1)
    for name in ("csv_2016", "csv_2021", "parquet_2021", "plots_2021", "readme"):
        assert digest(getattr(demo, name)) == digest(getattr(again, name)), name
    for name in ("csv_2016", "csv_2021", "parquet_2021", "plots_2021"):
        assert digest(getattr(demo, name)) != digest(getattr(other, name)), name
    assert again.area_2021_ha == demo.area_2021_ha


# -- files, rows, ids ------------------------------------------------------------------------


def test_files_exist_and_headers_are_exact(demo: DemoFiles, rows16, rows21):
    for path in demo.paths:
        assert path.exists() and path.stat().st_size > 0, path
    assert tuple(rows16[0]) == COLUMNS_2016
    assert tuple(rows21[0]) == COLUMNS_2021
    assert demo.shp_2021.with_suffix(".cpg").read_text() == "GBK"


def test_row_counts_and_unmatched_ids_in_both_directions(demo: DemoFiles, rows16, rows21):
    ids16 = [r["小班号"] for r in rows16]
    ids21 = [r["小班号"] for r in rows21]
    assert len(ids16) == demo.rows_2016 == N
    assert len(ids21) == demo.rows_2021
    assert len(set(ids16)) == len(ids16) and len(set(ids21)) == len(ids21)
    only16, only21 = set(ids16) - set(ids21), set(ids21) - set(ids16)
    assert len(only16) == demo.only_2016 == round(0.005 * N)
    assert len(only21) == demo.only_2021 == round(0.005 * N)
    assert len(set(ids16) & set(ids21)) == demo.matched == N - demo.only_2016
    assert demo.rows_2021 == demo.matched + demo.only_2021


def test_ids_encode_the_hierarchy(rows21):
    townships: dict[str, str] = {}
    villages: dict[tuple[str, str], str] = {}
    for r in rows21:
        region, t, v, c, s = r["小班号"].split("-")
        assert region == "350499" and len(t) == 2 and len(v) == 2 and len(c) == 3 and len(s) == 2
        assert int(c) == int(r["林班号"])
        assert townships.setdefault(t, r["乡镇"]) == r["乡镇"]
        assert villages.setdefault((t, v), r["村"]) == r["村"]
        assert r["县"] == "示范县"
    assert len(townships) == 10
    assert all(name.endswith(("镇", "乡")) for name in townships.values())
    assert all(name.endswith("村") for name in villages.values())
    per_township = {t: sum(1 for tt, _ in villages if tt == t) for t in townships}
    assert all(6 <= k <= 15 for k in per_township.values())
    assert len(set(villages.values())) == len(villages)  # village names unique county-wide


def test_gbk_file_is_gbk_and_utf8_file_has_bom(demo: DemoFiles):
    data = demo.csv_2016.read_bytes()
    data.decode("gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert demo.csv_2021.read_bytes().startswith(b"\xef\xbb\xbf")
    demo.csv_2021.read_bytes().decode("utf-8")


# -- polygons --------------------------------------------------------------------------------


@pytest.mark.parametrize("year", [2016, 2021])
def test_area_column_matches_polygon_area(demo: DemoFiles, year: int):
    path = demo.gpkg_2016 if year == 2016 else demo.gpkg_2021
    meta, polygons, fields = read_layer(path)
    assert meta["crs"] == "EPSG:4490"
    area_ha = fields["面积(亩)"] / 15.0 if year == 2016 else fields["面积(公顷)"]
    # CGCS2000 / 3-degree Gauss-Kruger CM 117E is EPSG:4548 (EPSG:4549 is CM 120E).
    gk_ha = projected_area(polygons, 4548) / 10_000.0
    assert np.max(np.abs(gk_ha / area_ha - 1.0)) < 0.005
    assert np.max(np.abs(gk_ha / area_ha - 1.0)) < 1e-6  # built to the rounded area
    cm120_ha = projected_area(polygons, 4549) / 10_000.0  # off-centre zone: still within 0.5 %
    assert np.max(np.abs(cm120_ha / area_ha - 1.0)) < 0.005


def test_polygons_are_valid_and_never_overlap(demo: DemoFiles):
    meta, polygons, _ = read_layer(demo.gpkg_2021)
    assert meta["geometry_type"] == "Polygon"
    assert shapely.is_valid(polygons).all()
    assert (shapely.get_num_coordinates(polygons) >= 5).all()  # closed rings of 4–5 vertices
    tree = shapely.STRtree(polygons)
    left, right = tree.query(polygons, predicate="intersects")
    pairs = left != right
    if pairs.any():
        shared = shapely.area(shapely.intersection(polygons[left[pairs]], polygons[right[pairs]]))
        assert shared.max() <= 0.0
    xmin, ymin, xmax, ymax = shapely.total_bounds(polygons)
    assert 117.0 <= xmin < xmax <= 117.5 and 26.2 <= ymin < ymax <= 26.6


def test_villages_are_contiguous_blocks(demo: DemoFiles):
    _, polygons, fields = read_layer(demo.gpkg_2021)
    village = fields["村"]
    hulls = {
        v: shapely.convex_hull(shapely.union_all(polygons[village == v])) for v in set(village)
    }
    # The hull of one village's parcels holds (almost) no parcel of another village.
    centroids = shapely.centroid(polygons)
    for v, hull in hulls.items():
        inside = shapely.contains(hull, centroids)
        assert (village[inside] == v).mean() > 0.95


def test_same_polygons_in_both_years(demo: DemoFiles):
    _, p16, f16 = read_layer(demo.gpkg_2016)
    _, p21, f21 = read_layer(demo.gpkg_2021)
    by_id = dict(zip(f16["小班号"], p16, strict=True))
    common = [(by_id[i], p) for i, p in zip(f21["小班号"], p21, strict=True) if i in by_id]
    assert len(common) == demo.matched
    assert all(shapely.equals_exact(a, b, tolerance=0.0) for a, b in common)


def test_shapefile_truncates_field_names_to_10_bytes(demo: DemoFiles):
    info = pyogrio.read_info(demo.shp_2021)
    names = list(info["fields"])
    assert "计划采伐蓄" in names and "计划采伐蓄积" not in names
    assert all(len(name.encode("gbk")) <= 10 for name in names)
    assert info["features"] == demo.rows_2021 and info["crs"] == "EPSG:4490"
    dbf = demo.shp_2021.with_suffix(".dbf").read_bytes()
    assert "杉木".encode("gbk") in dbf and "杉木".encode() not in dbf


# -- realistic content -----------------------------------------------------------------------


def test_species_shares_and_categories(rows16, rows21):
    for rows in (rows16, rows21):
        n = len(rows)
        share = {k: 100 * sum(r["优势树种"] == k for r in rows) / n for k in TARGET_SHARES}
        for name, target in TARGET_SHARES.items():
            assert abs(share[name] - target) < 3.5, (name, share[name])
        eucalyptus = 100 * sum(r["优势树种"] in ("尾巨桉", "桉树") for r in rows) / n
        assert 3.5 < eucalyptus < 8.5
        assert {r["优势树种"] for r in rows} <= set(SPECIES_GROUPS)
        public = 100 * sum(r["森林类别"] == "公益林" for r in rows) / n
        assert 29 < public < 41
        for r in rows:
            assert r["森林类别"] in ("公益林", "商品林")
            if r["森林类别"] == "公益林":
                assert r["林种"] in ("防护林", "特用林")
            else:
                assert r["林种"] in ("用材林", "经济林")
            assert r["权属"] in ("国有", "集体", "个人")
            if r["权属"] == "国有":
                assert r["林权权利人"] == "示范县国有林场"
            if r["权属"] == "集体":
                assert r["林权权利人"] == r["村"] + "村民委员会"
        assert any(r["林种"] == "经济林" for r in rows)
        assert {r["起源"] for r in rows} <= {"人工", "天然", ""}


def test_areas_volumes_and_bamboo(rows16, rows21):
    area = np.array([num(r["面积(公顷)"]) for r in rows21])
    assert area.min() > 0 and area.max() <= 60.0
    assert 3.5 < area.mean() < 6.5
    assert 0.5 * N * 5 < area.sum() < 1.5 * N * 5
    for r in rows21:
        v = num(r["每公顷蓄积"])
        if r["优势树种"] == "毛竹":
            assert r["每公顷蓄积"] == "" and r["平均年龄"] == "" and r["地类"] == "竹林地"
        else:
            assert 0.0 <= v <= 800.0
    for r in rows16:
        if r["优势树种"] == "毛竹":
            assert r["小班蓄积"] == ""
        else:
            per_ha = num(r["小班蓄积"]) / (num(r["面积(亩)"]) / 15.0)
            assert 0.0 <= per_ha <= 800.0
        mu = num(r["面积(亩)"])
        assert abs(mu * 100 - round(mu * 100)) < 1e-6  # two decimals


@pytest.mark.parametrize("year", [2016, 2021])
def test_age_classes_agree_with_ages(rows16, rows21, year: int):
    rows = rows16 if year == 2016 else rows21
    checked = 0
    for r in rows:
        if r["平均年龄"] == "" or r["龄组"] == "":
            continue
        age = int(r["平均年龄"])
        bounds = AGE_BOUNDS[r["优势树种"]]
        expected = AGE_CLASSES[sum(age > b for b in bounds)]
        assert r["龄组"] == expected, (r["小班号"], r["优势树种"], age, r["龄组"])
        checked += 1
    assert checked > 0.8 * len(rows)
    ages = {r["优势树种"]: [] for r in rows}
    for r in rows:
        if r["平均年龄"]:
            ages[r["优势树种"]].append(int(r["平均年龄"]))
    assert max(ages["杉木"]) <= 45 + 5 and max(ages["桉树"]) <= 12 + 5
    assert max(ages["马尾松"]) <= 60 + 5


def test_growth_harvest_and_disturbance(demo: DemoFiles, rows16, rows21):
    then = {r["小班号"]: r for r in rows16}
    harvested = disturbed = grew = 0
    for r in rows21:
        old = then.get(r["小班号"])
        if old is None or r["优势树种"] == "毛竹":
            continue
        area_ha = num(r["面积(公顷)"])
        before = num(old["小班蓄积"])  # whole stand, m³
        after = num(r["每公顷蓄积"]) * area_ha
        assert int(r["平均年龄"]) >= 1
        if r["采伐蓄积"]:
            harvested += 1
            assert 1 <= int(r["平均年龄"]) <= 3 and r["龄组"] in ("幼龄林", "中龄林")  # 桉树 3 = 中
            assert num(r["采伐蓄积"]) >= before - 0.05 * area_ha - 0.1  # at least the 2016 stock
            assert num(r["每公顷蓄积"]) == 0.0 and r["地类"] == "未成林造林地"
        elif r["受灾比例"]:
            disturbed += 1
            assert 0.1 <= num(r["受灾比例"]) <= 0.8
        else:
            grew += 1
            if old["平均年龄"]:
                assert int(r["平均年龄"]) == int(old["平均年龄"]) + 5
            assert after >= before - 0.05 * area_ha - 0.06, r["小班号"]
    assert harvested == demo.harvested and abs(harvested - 0.03 * N) <= 1
    assert disturbed == demo.disturbed and abs(disturbed - 0.01 * N) <= 1
    assert grew > 0.9 * N * 0.85


def test_planned_harvest_for_commercial_plantations_at_rotation(rows16, rows21):
    for rows in (rows16, rows21):
        planned = [r for r in rows if r["计划采伐蓄积"]]
        assert len(planned) > 0.03 * len(rows)
        for r in planned:
            assert r["森林类别"] == "商品林" and r["林种"] == "用材林" and r["起源"] == "人工"
            assert r["龄组"] in ("成熟林", "过熟林")


def test_afforestation_rows_and_screening_bait(demo: DemoFiles, rows16, rows21):
    aff = [r for r in rows21 if r["造林前地类"]]
    assert len(aff) == demo.afforestation and abs(len(aff) - 0.02 * N) <= 1
    for r in aff:
        assert r["造林前地类"] in ("宜林地", "无立木林地", "耕地", "湿地")
        assert 1 <= int(r["无林年限"]) <= 10 and r["造林年度"] in ("2016", "2017")
        assert r["起源"] == "人工" and r["地类"] == "乔木林地" and r["龄组"] == "幼龄林"
        assert int(r["平均年龄"]) == 2021 - int(r["造林年度"]) + 1
    assert any(int(r["无林年限"]) < 3 for r in aff)
    assert any(num(r["面积(公顷)"]) < 0.04 for r in aff)
    assert any(r["造林前地类"] == "湿地" for r in aff)
    assert any(r["林种"] == "经济林" for r in aff)
    assert sum(int(r["无林年限"]) >= 3 for r in aff) > 0.7 * len(aff)
    aff16 = [r for r in rows16 if r["造林前地类"]]
    assert {r["地类"] for r in aff16} <= {"未成林造林地", "宜林地", "无立木林地"}
    assert all(num(r["小班蓄积"]) == 0.0 for r in aff16)


def test_plots_match_strata_of_the_demo(demo: DemoFiles, rows21):
    plots = read_csv(demo.plots_2021, "utf-8")
    assert tuple(plots[0]) == ("stratum", "stratum_area_ha", "plot", "biomass_t_per_ha")
    strata: dict[str, list[float]] = {}
    for p in plots:
        strata.setdefault(p["stratum"], []).append(float(p["biomass_t_per_ha"]))
    assert 3 <= len(strata) <= 4
    assert all(8 <= len(v) <= 15 for v in strata.values())
    fir_mid = [r for r in rows21 if r["优势树种"] == "杉木" and r["龄组"] == "中龄林"]
    area = round(sum(num(r["面积(公顷)"]) for r in fir_mid), 2)
    assert {float(p["stratum_area_ha"]) for p in plots if p["stratum"] == "杉木中龄林"} == {area}
    # Fir biomass ≈ V · WD · BEF · (1 + R) = V · 0.625 (parameter table); area-weighted mean.
    mean_v = sum(num(r["每公顷蓄积"]) * num(r["面积(公顷)"]) for r in fir_mid) / area
    assert 0.6 < np.mean(strata["杉木中龄林"]) / (mean_v * 0.307 * 1.634 * 1.246) < 1.5


def test_excel_and_parquet_hold_the_csv_content(demo: DemoFiles, rows21):
    table = pq.read_table(demo.parquet_2021)
    assert table.column_names == list(COLUMNS_2021)
    book = CalamineWorkbook.from_path(str(demo.xlsx_2021))
    assert book.sheet_names == ["小班"]
    sheet = book.get_sheet_by_name("小班").to_python()
    assert tuple(sheet[0]) == COLUMNS_2021 and len(sheet) == len(rows21) + 1
    columns = table.to_pydict()
    for j, name in enumerate(COLUMNS_2021):
        kind = KINDS[name]
        for i, row in enumerate(rows21):
            text, cell, value = row[name], sheet[i + 1][j], columns[name][i]
            if kind == "str":
                assert (text or None) == value and text == cell
            elif text == "":
                assert value is None and cell == ""
            else:
                assert float(text) == value == cell, (name, i, text, value, cell)


def test_readme_is_bilingual_and_names_the_seed(demo: DemoFiles):
    text = demo.readme.read_text("utf-8")
    assert "虚构" in text and "fictional" in text and f"{SEED}" in text


# -- API and CLI -----------------------------------------------------------------------------


def test_progress_reports_every_stage(tmp_path: Path):
    calls: list[tuple[str, int, int]] = []
    build_demo(tmp_path, n=MIN_ROWS, seed=1, progress=lambda *a: calls.append(a))
    assert [c[0] for c in calls] == [*STAGES, "done"]
    assert [c[1] for c in calls] == list(range(len(STAGES) + 1))
    assert {c[2] for c in calls} == {len(STAGES)}


def test_too_few_rows_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="at least"):
        build_demo(tmp_path, n=MIN_ROWS - 1)


def test_module_entry_point(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main([str(tmp_path / "out"), "--n", str(MIN_ROWS), "--seed", "3"]) == 0
    assert (tmp_path / "out" / "xiaoban_2021.gpkg").exists()
    assert f"{MIN_ROWS} rows (2016)" in capsys.readouterr().out


def test_squarify_tiles_the_rectangle():
    weights = [5.0, 1.0, 0.01, 30.0, 2.5, 2.5, 0.3]
    tiles = squarify(weights, 10.0, 20.0, 40.0, 25.0)
    areas = np.array([w * h for _, _, w, h in tiles])
    np.testing.assert_allclose(areas / areas.sum(), np.array(weights) / sum(weights), rtol=1e-9)
    boxes = shapely.box(*np.array([[x, y, x + w, y + h] for x, y, w, h in tiles]).T)
    assert shapely.area(shapely.union_all(boxes)) == pytest.approx(40.0 * 25.0)
    assert shapely.area(boxes).sum() == pytest.approx(40.0 * 25.0)


# -- the inventory readers -------------------------------------------------------------------


def test_every_demo_file_reads_and_2021_formats_agree(demo: DemoFiles):
    from tanhui.inventory import read_inventory
    from tanhui.inventory.plotfile import read_plots

    first = read_inventory(demo.csv_2016)
    assert len(first.ids) == demo.rows_2016
    hashes = {}
    for path in (demo.csv_2021, demo.xlsx_2021, demo.parquet_2021, demo.gpkg_2021):
        inventory = read_inventory(path)
        assert len(inventory.ids) == demo.rows_2021, path
        hashes[path.suffix] = inventory.content_hash
    assert len(set(hashes.values())) == 1, hashes
    # The GBK Shapefile (truncated field names, DBF numbers) and the 2016 GeoPackage agree too.
    assert read_inventory(demo.shp_2021).content_hash == hashes[".csv"]
    assert read_inventory(demo.gpkg_2016).content_hash == first.content_hash
    assert len(read_plots(demo.plots_2021)) > 30


# -- full size -------------------------------------------------------------------------------


@pytest.mark.slow
def test_default_size_is_fast_and_county_sized(tmp_path: Path):
    start = time.perf_counter()
    files = build_demo(tmp_path)
    elapsed = time.perf_counter() - start
    assert files.rows_2016 == 20_000
    assert 80_000 < files.area_2021_ha < 125_000
    assert elapsed < 20.0  # about 3 s on a laptop; generous for CI
    _, polygons, fields = read_layer(files.gpkg_2021)
    gk_ha = projected_area(polygons, 4548) / 10_000.0
    assert np.max(np.abs(gk_ha / fields["面积(公顷)"] - 1.0)) < 0.005
