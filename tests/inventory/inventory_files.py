"""Write small inventory files of every format for the inventory tests."""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

Rows = Sequence[Sequence[object]]


def write_csv(
    path: Path, header: Sequence[str], rows: Rows, encoding: str = "utf-8", delimiter: str = ","
) -> Path:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    path.write_bytes(out.getvalue().encode(encoding))
    return path


def write_xlsx(
    path: Path,
    header: Sequence[str],
    rows: Rows,
    sheet: str = "小班",
    title: str | None = None,
    extra_sheets: Sequence[str] = (),
) -> Path:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    for name in extra_sheets:
        book.add_worksheet(name).write_row(0, 0, ["nothing here"])
    ws = book.add_worksheet(sheet)
    top = 0
    if title:
        ws.write(0, 0, title)
        top = 2
    ws.write_row(top, 0, list(header))
    for i, row in enumerate(rows, start=top + 1):
        for j, value in enumerate(row):
            if value is not None:
                ws.write(i, j, value)
    book.close()
    return path


def arrow_table(header: Sequence[str], rows: Rows) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in header]
    return pa.table({h: pa.array(list(col)) for h, col in zip(header, columns, strict=True)})


def write_parquet(path: Path, header: Sequence[str], rows: Rows, **kwargs: object) -> Path:
    pq.write_table(arrow_table(header, rows), path, **kwargs)
    return path


def write_gis(
    path: Path,
    header: Sequence[str],
    rows: Rows,
    geometries: np.ndarray,
    *,
    crs: str | None = "EPSG:4549",
    encoding: str | None = None,
    layer: str | None = None,
    geometry_type: str = "Polygon",
) -> Path:
    """A GeoPackage or Shapefile (by suffix) from rows and shapely geometries.

    For Shapefiles GDAL itself cuts field names to 10 bytes in ``encoding`` (and warns about it).
    """
    import pyogrio
    import shapely

    table = arrow_table(header, rows)
    table = table.append_column("geometry", pa.array(shapely.to_wkb(geometries), pa.binary()))
    driver = "ESRI Shapefile" if path.suffix.lower() == ".shp" else "GPKG"
    kwargs: dict[str, object] = {}
    if encoding is not None:
        kwargs["encoding"] = encoding
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # GDAL reports the field-name truncation as a warning
        pyogrio.write_arrow(
            table,
            path,
            driver=driver,
            layer=layer,
            geometry_name="geometry",
            geometry_type=geometry_type,
            crs=crs,
            **kwargs,
        )
    return path


def squares(
    n: int, size: float = 100.0, x0: float = 500_000.0, y0: float = 2_800_000.0
) -> np.ndarray:
    """``n`` disjoint size×size squares (projected metres by default)."""
    import shapely

    x = x0 + np.arange(n) * size * 2
    return shapely.box(x, y0, x + size, y0 + size)
