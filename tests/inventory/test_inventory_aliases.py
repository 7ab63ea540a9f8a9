"""Column, species and category aliases: what county headers and values map to."""

from __future__ import annotations

import pytest

from tanhui.inventory import schema
from tanhui.inventory.aliases import (
    Alias,
    alias_table,
    lookup,
    normalize_category,
    normalize_header,
    plan_columns,
    species_group_of,
)
from tanhui.measure.params import default_parameters

GROUPS = default_parameters().groups


def test_normalize_header() -> None:
    assert normalize_header(" 面积（亩） ") == "面积(亩)"
    assert normalize_header("面 积 (hm²)") == "面积(hm2)"
    assert normalize_header("MIAN_JI") == "mian_ji"
    assert normalize_header("\ufeff小班号") == "小班号"
    assert normalize_header("面积【公顷】") == "面积(公顷)"
    assert normalize_header("\u3000树种\u3000") == "树种"


@pytest.mark.parametrize(
    ("header", "canonical", "unit"),
    [
        ("小班号", "subcompartment_id", ""),
        ("小班编号", "subcompartment_id", ""),
        ("小班", "subcompartment_id", ""),
        ("小班ID", "subcompartment_id", ""),
        ("XBH", "subcompartment_id", ""),
        ("XIAO_BAN", "subcompartment_id", ""),
        ("id", "subcompartment_id", ""),
        ("面积", "area_ha", "bare"),
        ("小班面积", "area_ha", "bare"),
        ("MIAN_JI", "area_ha", "bare"),
        ("面积(亩)", "area_ha", "mu"),
        ("面积（亩）", "area_ha", "mu"),
        ("面积(公顷)", "area_ha", "ha"),
        ("面积(hm2)", "area_ha", "ha"),
        ("面积(hm²)", "area_ha", "ha"),
        ("面积(ha)", "area_ha", "ha"),
        ("面积(单位：亩)", "area_ha", "mu"),
        ("area_ha", "area_ha", "ha"),
        ("area_mu", "area_ha", "mu"),
        ("优势树种", "species", ""),
        ("树种", "species", ""),
        ("优势树种(组)", "species", ""),
        ("YOU_SHI_SZ", "species", ""),
        ("树种组", "species_group", ""),
        ("树种组名", "species_group", ""),
        ("平均年龄", "age_years", ""),
        ("林龄", "age_years", ""),
        ("年龄", "age_years", ""),
        ("平均年龄(年)", "age_years", ""),
        ("PINGJUN_NL", "age_years", ""),
        ("龄组", "age_class", ""),
        ("LING_ZU", "age_class", ""),
        ("每公顷蓄积", "volume_m3_per_ha", "m3/ha"),
        ("每公顷蓄积量", "volume_m3_per_ha", "m3/ha"),
        ("公顷蓄积", "volume_m3_per_ha", "m3/ha"),
        ("单位蓄积", "volume_m3_per_ha", "m3/ha"),
        ("每公顷蓄积(m3/hm2)", "volume_m3_per_ha", "m3/ha"),
        ("MEI_GQ_XJ", "volume_m3_per_ha", "m3/ha"),
        ("HUO_LMGQXJ", "volume_m3_per_ha", "m3/ha"),
        ("每亩蓄积", "volume_m3_per_ha", "m3/mu"),
        ("小班蓄积", "volume_m3_per_ha", "m3"),
        ("蓄积量", "volume_m3_per_ha", "m3"),
        ("活立木蓄积", "volume_m3_per_ha", "m3"),
        ("XJ", "volume_m3_per_ha", "m3"),
        ("起源", "origin", ""),
        ("QI_YUAN", "origin", ""),
        ("森林类别", "forest_category", ""),
        ("SEN_LIN_LB", "forest_category", ""),
        ("林种", "forest_type", ""),
        ("LIN_ZHONG", "forest_type", ""),
        ("地类", "land_type", ""),
        ("DI_LEI", "land_type", ""),
        ("造林前地类", "prior_land_type", ""),
        ("无林年限", "nonforest_years", ""),
        ("造林年度", "planting_year", ""),
        ("造林年份", "planting_year", ""),
        ("权属", "tenure", ""),
        ("林木所有权", "tenure", ""),
        ("林地所有权", "tenure", ""),
        ("QUAN_SHU", "tenure", ""),
        ("林权权利人", "owner", ""),
        ("户主", "owner", ""),
        ("县", "county", ""),
        ("县(市、区)", "county", ""),
        ("XIAN", "county", ""),
        ("乡镇", "township", ""),
        ("乡(镇)", "township", ""),
        ("XIANG", "township", ""),
        ("村", "village", ""),
        ("行政村", "village", ""),
        ("CUN", "village", ""),
        ("林班", "compartment", ""),
        ("林班号", "compartment", ""),
        ("LIN_BAN", "compartment", ""),
        ("调查年度", "survey_year", ""),
        ("年度", "survey_year", ""),
        ("采伐蓄积", "harvest_m3", ""),
        ("采伐量", "harvest_m3", ""),
        ("计划采伐蓄积", "planned_harvest_m3", ""),
        ("采伐限额", "planned_harvest_m3", ""),
        ("受灾比例", "disturbance_share", ""),
        ("灾害损失比例", "disturbance_share", ""),
        ("受灾比例(%)", "disturbance_share", "%"),
    ],
)
def test_lookup(header: str, canonical: str, unit: str) -> None:
    alias = lookup(header)
    assert alias is not None, header
    assert (alias.canonical, alias.unit) == (canonical, unit)


def test_every_canonical_column_answers_to_its_name_and_chinese_label() -> None:
    for column in schema.COLUMNS:
        assert lookup(column.name).canonical == column.name  # type: ignore[union-attr]
        assert lookup(column.zh).canonical == column.name  # type: ignore[union-attr]


def test_unknown_headers() -> None:
    assert lookup("郁闭度") is None
    assert lookup("") is None
    assert lookup("面积(立方米)") is None  # a volume unit on an area is not guessed


@pytest.mark.parametrize(
    ("full", "codec", "short"),
    [
        ("每公顷蓄积量", "gbk", "每公顷蓄积"),
        ("计划采伐蓄积", "gbk", "计划采伐蓄"),
        ("每公顷蓄积量", "utf-8", "每公顷"),
        ("优势树种(组)", "gbk", "优势树种("),
        ("面积(公顷)", "utf-8", "面积(公"),
        ("灾害损失比例", "gbk", "灾害损失比"),
        ("平均年龄", "utf-8", "平均年"),
        ("林权权利人", "utf-8", "林权权"),
    ],
)
def test_dbf_truncations_are_generated(full: str, codec: str, short: str) -> None:
    data = full.encode(codec)
    assert len(data) > 10
    assert data[:10].decode(codec, errors="ignore") == short
    assert lookup(short) == lookup(full)


def test_truncations_shared_by_different_meanings_are_dropped() -> None:
    table = alias_table()
    # 小班面积(亩) and 小班面积(公顷) both become 小班面积( in GBK: never guess the unit.
    assert "小班面积(" in table.dropped_truncations
    assert lookup("小班面积(") is None
    # 活立木蓄积 (whole stand) and 活立木公顷蓄积 (per ha) both become 活立木 in UTF-8.
    assert lookup("活立木") is None
    # 优势树种 and 优势树种组 share 优势树 in UTF-8: reading it as the species is safe.
    assert lookup("优势树") == Alias("species")
    # A truncation never shadows a full alias.
    for key in table.truncated:
        assert key not in table.full


def test_plan_prefers_primary_over_fallback_aliases() -> None:
    plan = plan_columns(["小班号", "每公顷蓄积", "小班蓄积", "林地所有权", "林木所有权", "郁闭度"])
    assert [s.header for s in plan.sources["volume_m3_per_ha"]] == ["每公顷蓄积"]
    assert [s.header for s in plan.sources["tenure"]] == ["林木所有权"]
    assert plan.ignored == ["郁闭度", "小班蓄积", "林地所有权"]
    only_fallback = plan_columns(["小班蓄积", "林地所有权"])
    assert only_fallback.sources["volume_m3_per_ha"][0].unit == "m3"
    assert only_fallback.sources["tenure"][0].header == "林地所有权"


def test_plan_area_unit_applies_to_bare_area_only() -> None:
    assert plan_columns(["面积"]).sources["area_ha"][0].unit == "ha"
    assert plan_columns(["面积"], area_unit="mu").sources["area_ha"][0].unit == "mu"
    assert plan_columns(["面积(公顷)"], area_unit="mu").sources["area_ha"][0].unit == "ha"


def test_plan_id_columns() -> None:
    plan = plan_columns(["村", "林班", "小班号", "面积"], id_columns=["村", "林班号", "小班号"])
    assert [s.header for s in plan.id_parts or []] == ["村", "林班", "小班号"]
    missing = plan_columns(["村", "小班号"], id_columns=["村", "大班号"])
    assert missing.id_parts == []
    assert [(p.code, p.column) for p in missing.problems] == [("missing_column", "大班号")]


@pytest.mark.parametrize(
    ("raw", "group"),
    [
        ("杉", "杉木"),
        ("杉木", "杉木"),
        ("杉木林", "杉木"),
        ("马尾松", "马尾松"),
        ("湿地松", "湿地松"),
        ("桉", "桉树"),
        ("尾巨桉", "桉树"),
        ("巨尾桉", "桉树"),
        ("尾叶桉", "桉树"),
        ("毛竹", "竹类"),
        ("竹林", "竹类"),
        ("麻竹", "竹类"),
        ("绿竹", "竹类"),
        ("慈竹", "竹类"),
        ("硬阔", "其他硬阔类"),
        ("其他硬阔", "其他硬阔类"),
        ("软阔", "其他软阔类"),
        ("栎", "栎类"),
        ("青冈", "栎类"),
        ("荷木", "木荷"),
        ("枫香", "枫香"),
        ("樟", "樟木"),
        ("樟树", "樟木"),
        ("楠木", "楠木"),
        ("杨", "杨树"),
        ("柏", "柏木"),
        ("落叶松", "落叶松"),
        ("阔叶混交林", "阔叶混"),
        ("针叶混交林", "针叶混"),
        ("针阔混交林", "针阔混"),
        ("Chinese fir", "杉木"),
        ("Eucalyptus", "桉树"),
        (" 毛 竹 ", "竹类"),
    ],
)
def test_species_groups(raw: str, group: str) -> None:
    assert species_group_of(raw, GROUPS) == group


def test_every_known_group_maps_to_itself_and_user_groups_count() -> None:
    for group in GROUPS:
        assert species_group_of(group, GROUPS) == group
    assert species_group_of("油茶", GROUPS) is None
    assert species_group_of("油茶", (*GROUPS, "油茶")) == "油茶"
    # A group the parameter set does not have is unknown even if the alias table knows it.
    assert species_group_of("尾巨桉", ("杉木",)) is None


def test_categories() -> None:
    assert normalize_category(
        "age_class", ["幼", "幼龄", "幼龄林", "1", "Ⅰ", "过熟林", "5", "青年"]
    ) == [
        "幼龄林",
        "幼龄林",
        "幼龄林",
        "幼龄林",
        "幼龄林",
        "过熟林",
        "过熟林",
        None,
    ]
    assert normalize_category("origin", ["天然林", "人工", "飞播", "人工促进天然更新", "x"]) == [
        "天然",
        "人工",
        "人工",
        "天然",
        None,
    ]
    assert normalize_category(
        "forest_category", ["国家级公益林", "地方公益林", "生态公益林", "商品", "商品林", "?"]
    ) == ["公益林", "公益林", "公益林", "商品林", "商品林", None]
    # 林种 is normalized but not strict: an unknown value is kept as written.
    assert normalize_category("forest_type", ["薪炭林", "水源涵养林", "竹林"]) == [
        "能源林",
        "防护林",
        "竹林",
    ]
