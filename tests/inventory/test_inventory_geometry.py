"""Areas from polygons: projected layers as they are, geographic ones in a Gauss–Krüger zone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from inventory_files import squares, write_gis
from pyproj import CRS, Geod

from tanhui.errors import InventoryError
from tanhui.inventory import read_inventory
from tanhui.inventory.validate import gauss_kruger_epsg

HEADER = ["小班号", "树种组"]


def problems_of(path: Path) -> list[tuple[str, int | None, str | None]]:
    with pytest.raises(InventoryError) as info:
        read_inventory(path)
    return [(p.code, p.row, p.column) for p in info.value.problems]


@pytest.mark.parametrize("suffix", [".gpkg", ".shp"])
def test_projected_square_is_exactly_one_hectare(tmp_path: Path, suffix: str) -> None:
    path = write_gis(
        tmp_path / f"xb{suffix}",
        HEADER,
        [["1", "杉木"], ["2", "杉木"]],
        squares(2),
        crs="EPSG:4549",
    )
    inventory = read_inventory(path)
    assert inventory.source.area_from_geometry
    assert inventory.source.area_unit is None
    assert "area_ha" not in inventory.source.column_map
    assert inventory.table.column("area_ha").to_pylist() == [1.0, 1.0]


def test_gauss_kruger_zones() -> None:
    assert gauss_kruger_epsg(75.0) == 4534
    assert gauss_kruger_epsg(117.33) == 4548
    assert gauss_kruger_epsg(118.6) == 4549
    assert gauss_kruger_epsg(135.0) == 4554
    assert gauss_kruger_epsg(10.0) is None
    assert (
        CRS.from_epsg(gauss_kruger_epsg(117.33) or 0).name
        == "CGCS2000 / 3-degree Gauss-Kruger CM 117E"
    )


@pytest.mark.parametrize("crs", ["EPSG:4490", "EPSG:4326"])
def test_geographic_square_matches_its_geodesic_area(tmp_path: Path, crs: str) -> None:
    lon, lat, d = 117.62, 26.27, 0.01  # about 1 km × 1.1 km, 0.6° east of the CM 117E
    boxes = shapely.box([lon, lon + 0.3], lat, [lon + d, lon + 0.3 + d], lat + d)
    path = write_gis(tmp_path / "xb.gpkg", HEADER, [["1", "杉木"], ["2", "杉木"]], boxes, crs=crs)
    inventory = read_inventory(path)
    geod = Geod(ellps="GRS80")
    expected = [abs(geod.geometry_area_perimeter(b)[0]) / 10_000 for b in boxes]
    np.testing.assert_allclose(inventory.table.column("area_ha").to_numpy(), expected, rtol=1e-3)
    assert 100 < expected[0] < 130


def test_geometry_problems(tmp_path: Path) -> None:
    bowtie = shapely.Polygon([(0, 0), (100, 100), (100, 0), (0, 100), (0, 0)])
    geoms = np.array([squares(1)[0], bowtie, shapely.Polygon(), shapely.Point(1, 1)], dtype=object)
    rows = [["1", "杉木"], ["2", "杉木"], ["3", "杉木"], ["4", "杉木"]]
    path = write_gis(tmp_path / "xb.gpkg", HEADER, rows, geoms, geometry_type="Unknown")
    assert problems_of(path) == [
        ("invalid_geometry", 3, "geom"),
        ("empty_geometry", 4, "geom"),
        ("not_a_polygon", 5, "geom"),
    ]
    # With an area column the polygons are only carried along, not judged.
    rows_with_area = [[*r, 1.0] for r in rows]
    path = write_gis(
        tmp_path / "a.gpkg", [*HEADER, "面积"], rows_with_area, geoms, geometry_type="Unknown"
    )
    assert len(read_inventory(path).geometry) == 4  # type: ignore[arg-type]


def test_layer_without_crs_or_outside_china(tmp_path: Path) -> None:
    path = write_gis(tmp_path / "xb.gpkg", HEADER, [["1", "杉木"]], squares(1), crs=None)
    assert problems_of(path) == [("missing_crs", None, "geom")]
    far = shapely.box(10.0, 50.0, 10.01, 50.01)
    path = write_gis(
        tmp_path / "far.gpkg", HEADER, [["1", "杉木"]], np.array([far]), crs="EPSG:4326"
    )
    assert problems_of(path) == [("unsupported_crs", None, "geom")]
