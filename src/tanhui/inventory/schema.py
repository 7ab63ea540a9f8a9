"""The canonical sub-compartment (小班) schema every reader maps onto.

One row per sub-compartment. Areas are hectares, volumes cubic metres per hectare (growing stock),
ages years. Categorical values are stored as the standard Chinese labels users know (杉木, 人工,
公益林 …); the English code names are the column names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["id", "float", "category"]

MU_PER_HA = 15.0  # 1 亩 = 1/15 ha (666.67 m²)


@dataclass(frozen=True)
class Column:
    """One canonical column: its name, kind, unit, whether required, labels and valid range."""

    name: str
    kind: Kind
    unit: str
    required: bool
    zh: str
    en: str
    low: float | None = None  # inclusive lower bound for numbers
    high: float | None = None  # inclusive upper bound for numbers
    low_exclusive: bool = False  # True: value must be strictly greater than ``low``


COLUMNS: tuple[Column, ...] = (
    Column("subcompartment_id", "id", "", True, "小班号", "sub-compartment id"),
    Column("area_ha", "float", "ha", True, "面积(公顷)", "area (ha)", 0.0, 10_000.0, True),
    Column("species_group", "category", "", True, "树种组", "species group"),
    Column("species", "category", "", False, "优势树种", "dominant species"),
    Column("age_years", "float", "a", False, "平均年龄", "mean age (years)", 0.0, 400.0),
    Column("age_class", "category", "", False, "龄组", "age class"),
    Column(
        "volume_m3_per_ha",
        "float",
        "m3/ha",
        False,
        "每公顷蓄积",
        "growing stock (m³/ha)",
        0.0,
        2_000.0,
    ),
    Column("origin", "category", "", False, "起源", "origin"),
    Column("forest_category", "category", "", False, "森林类别", "forest category"),
    Column("forest_type", "category", "", False, "林种", "forest type"),
    Column("land_type", "category", "", False, "地类", "land type"),
    Column("prior_land_type", "category", "", False, "造林前地类", "land type before planting"),
    Column(
        "nonforest_years",
        "float",
        "a",
        False,
        "无林年限",
        "years without forest before start",
        0.0,
        500.0,
    ),
    Column("planting_year", "float", "a", False, "造林年度", "planting year", 1900.0, 2100.0),
    Column("tenure", "category", "", False, "权属", "tenure"),
    Column("owner", "category", "", False, "林权权利人", "rights holder"),
    Column("county", "category", "", False, "县", "county"),
    Column("township", "category", "", False, "乡镇", "township"),
    Column("village", "category", "", False, "村", "village"),
    Column("compartment", "category", "", False, "林班号", "compartment"),
    Column("survey_year", "float", "a", False, "调查年度", "survey year", 1950.0, 2100.0),
    Column("harvest_m3", "float", "m3", False, "采伐蓄积", "harvested volume (m³)", 0.0, 1e7),
    Column(
        "planned_harvest_m3", "float", "m3", False, "计划采伐蓄积", "planned harvest (m³)", 0.0, 1e7
    ),
    Column(
        "disturbance_share",
        "float",
        "1",
        False,
        "受灾比例",
        "share of stock lost to disturbance",
        0.0,
        1.0,
    ),
)

BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
REQUIRED: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required)
FLOAT_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.kind == "float")
CATEGORY_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.kind == "category")

# Standard labels of the categorical columns the methods reason about.
AGE_CLASSES = ("幼龄林", "中龄林", "近熟林", "成熟林", "过熟林")
ORIGINS = ("天然", "人工")
FOREST_CATEGORIES = ("公益林", "商品林")
FOREST_TYPES = ("防护林", "特用林", "用材林", "经济林", "能源林")
