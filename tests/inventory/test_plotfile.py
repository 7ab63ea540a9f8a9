"""Sample-plot file reader: headers, encodings, Excel, and every validation problem."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tanhui.errors import InventoryError
from tanhui.inventory.plotfile import read_plots
from tanhui.measure.plots import estimate_stock

GOOD = (
    "stratum,stratum_area_ha,plot,biomass_t_per_ha\n"
    "A,60,1,90\nA,60,2,130\nA,60,3,110\n"
    "B,40,1,80\nB,40,2,90\nB,40,3,70\nB,40,4,100\n"
)


def _problems(path: Path) -> set[tuple[str, int | None, str | None, object]]:
    with pytest.raises(InventoryError) as info:
        read_plots(path)
    assert info.value.source == str(path)
    return {(p.code, p.row, p.column, p.value) for p in info.value.problems}


def test_reads_english_csv(tmp_path: Path) -> None:
    path = tmp_path / "plots.csv"
    path.write_text(GOOD, encoding="utf-8")
    table = read_plots(path)
    assert len(table) == 7
    assert table.encoding == "utf-8"
    assert table.stratum[:4] == ("A", "A", "A", "B")
    assert table.plot[3] == "1"
    np.testing.assert_array_equal(table.rows, [2, 3, 4, 5, 6, 7, 8])
    np.testing.assert_array_equal(table.stratum_area_ha, [60, 60, 60, 40, 40, 40, 40])
    est = table.estimate()
    ref = estimate_stock(table.stratum, table.stratum_area_ha, table.biomass_t_per_ha)
    assert est == ref
    assert est.carbon_tco2e == pytest.approx(44 / 12 * 0.47 * 10000, rel=1e-12)
    assert len(table.content_hash) == 64


def test_reads_chinese_headers_in_gbk(tmp_path: Path) -> None:
    text = (
        "分层, 层面积（公顷）,样地号,生物量(吨/公顷),备注\n"
        "一层,60,P1,90,\n一层,60,P2,130,坡顶\n一层,60,P3,110,\n"
        "二层,40,P1,80,\n二层,40,P2,90,\n二层,40,P3,70,\n二层,40,P4,100,\n"
    )
    path = tmp_path / "样地.csv"
    path.write_bytes(text.encode("gbk"))
    table = read_plots(path)
    assert table.encoding == "gbk"
    assert set(table.stratum) == {"一层", "二层"}
    assert table.estimate(confidence=0.95).df == 5
    # The same rows under English headers in UTF-8 give the same content hash.
    english = tmp_path / "en.csv"
    english.write_text(
        "stratum,stratum_area_ha,plot,biomass_t_per_ha\n"
        + "".join(line.rsplit(",", 1)[0] + "\n" for line in text.splitlines()[1:]),
        encoding="utf-8",
    )
    assert read_plots(english).content_hash == table.content_hash


def test_reads_xlsx(tmp_path: Path) -> None:
    xlsxwriter = pytest.importorskip("xlsxwriter")
    path = tmp_path / "plots.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["层号", "层面积(公顷)", "样地号", "生物量(吨/公顷)"])
    rows = [("A", 60, 1, 90.5), ("A", 60, 2, 130), ("B", 40, 1, 80), ("B", 40, 2, -1)]
    for i, row in enumerate(rows, start=1):
        sheet.write_row(i, 0, row)
    book.close()
    assert _problems(path) == {("negative_biomass", 5, "生物量(吨/公顷)", "-1")}
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["层号", "层面积(公顷)", "样地号", "生物量(吨/公顷)"])
    for i, row in enumerate([*rows[:3], ("B", 40, 2, 70)], start=1):
        sheet.write_row(i, 0, row)
    book.close()
    table = read_plots(path)
    assert table.encoding == "xlsx"
    assert table.plot == ("1", "2", "1", "2")
    np.testing.assert_array_equal(table.biomass_t_per_ha, [90.5, 130, 80, 70])


def test_every_problem_with_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "stratum,stratum_area_ha,plot,biomass_t_per_ha\n"
        "A,10,1,100\n"  # row 2: fine
        "A,10,2,abc\n"  # row 3: not a number
        "A,12,3,-5\n"  # row 4: inconsistent area, negative biomass
        "A,10,2,90\n"  # row 5: duplicate plot id
        "B,0,1,80\n"  # row 6: nonpositive area
        "B,-3,2,70\n"  # row 7: nonpositive area
        "C,5,1,60\n"  # row 8: stratum with 1 plot
        ",5,9,60\n"  # row 9: missing stratum
        "D,,1,50\n"  # row 10: missing area
        "D,7,,nan\n"  # row 11: missing plot, NaN is not a number
        "\n"  # blank line: skipped
        "D,7,3,inf\n",  # row 13: not a (finite) number
        encoding="utf-8",
    )
    assert _problems(path) == {
        ("not_a_number", 3, "biomass_t_per_ha", "abc"),
        ("inconsistent_stratum_area", 4, "stratum_area_ha", "12"),
        ("negative_biomass", 4, "biomass_t_per_ha", "-5"),
        ("duplicate_plot", 5, "plot", "2"),
        ("nonpositive_area", 6, "stratum_area_ha", "0"),
        ("nonpositive_area", 7, "stratum_area_ha", "-3"),
        ("too_few_plots", 8, "stratum", "C"),
        ("missing_value", 9, "stratum", ""),
        ("missing_value", 10, "stratum_area_ha", ""),
        ("missing_value", 11, "plot", ""),
        ("not_a_number", 11, "biomass_t_per_ha", "nan"),
        ("not_a_number", 13, "biomass_t_per_ha", "inf"),
    }


def test_problems_use_the_headers_of_the_file_and_both_languages(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "层,层面积(公顷),样地号,生物量(吨/公顷)\n甲,5,1,10\n甲,6,2,11\n", encoding="utf-8"
    )
    with pytest.raises(InventoryError) as info:
        read_plots(path)
    (problem,) = info.value.problems
    assert (problem.row, problem.column, problem.value) == (3, "层面积(公顷)", "6")
    assert "甲" in problem.reason("zh") and "不一致" in problem.reason("zh")
    assert "row 2" in problem.reason("en")
    assert problem.to_dict("en")["row"] == 3
    assert "nothing was imported" in info.value.message("en")


def test_missing_and_duplicate_columns(tmp_path: Path) -> None:
    path = tmp_path / "cols.csv"
    path.write_text("stratum,area,plot,biomass,样地\nA,1,1,1,1\n", encoding="utf-8")
    assert _problems(path) == {
        ("missing_column", 1, "stratum_area_ha", None),
        ("missing_column", 1, "biomass_t_per_ha", None),
        ("duplicate_column", 1, "样地", None),
    }


@pytest.mark.parametrize("content", ["", "\n\n", "stratum,stratum_area_ha,plot,biomass_t_per_ha\n"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(content, encoding="utf-8")
    assert {p[0] for p in _problems(path)} == {"empty_file"}


def test_missing_file_and_forced_encoding(tmp_path: Path) -> None:
    assert {p[0] for p in _problems(tmp_path / "nope.csv")} == {"file_not_found"}
    path = tmp_path / "gbk.csv"
    path.write_bytes("层号,层面积(公顷),样地号,生物量(吨/公顷)\n甲,5,1,10\n".encode("gbk"))
    assert {p[0] for p in _problems_forced(path, "utf-8")} == {"undecodable_text"}


def _problems_forced(path: Path, encoding: str) -> set[tuple[str, int | None]]:
    with pytest.raises(InventoryError) as info:
        read_plots(path, encoding=encoding)
    return {(p.code, p.row) for p in info.value.problems}
