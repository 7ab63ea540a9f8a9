"""A realistic demo county, made by a seeded script: ``build_demo(out_dir)``.

示范县 (region code 350499) is **fictional**. It stands for a county in western Fujian near
Mingxi / Sanming: ten townships (乡镇) of 6–15 villages (村) each, compartments (林班, numbered per
village) and sub-compartments (小班). Its 二类调查 sub-compartment tables for two survey years,
2016 and 2021 (a Sanming-style five-year monitoring period), are written in the shapes counties
really hand over: a GBK CSV in 亩 with whole-stand volumes, a UTF-8-with-BOM CSV in hectares with
volumes per hectare, Excel, Parquet, GeoPackage and a GBK Shapefile whose DBF truncates field names
to 10 bytes, plus AR-TOOL14 sample plots and a bilingual README.

Sub-compartment id: ``350499-TT-VV-CCC-SS`` (township, village, compartment, sub-compartment), unique
county-wide; the column 林班号 holds the compartment number (an integer per village).

Determinism. Every random number is drawn from one ``random.Random(seed)`` through its
``random()`` method, whose sequence Python guarantees across versions (NumPy generator streams are
not guaranteed). Normal, lognormal, triangular and categorical draws are made from those uniforms
with explicit formulas (Box–Muller, inverse CDF), so the same seed gives byte-identical CSV and
Parquet content. (Only a last-ulp difference of a platform's ``log``/``exp`` falling exactly on a
rounding boundary could change a digit.)

The distributions below are **illustrative choices, not survey statistics** — a Fujian/Guizhou
mix meant to look plausible and to exercise every part of tanhui:

- 优势树种 (share of sub-compartments): 杉木 40 %, 马尾松 20 %, 桉树 6 % (half written 尾巨桉),
  毛竹 10 % (bamboo: no volume, no age), broadleaf 17 % (木荷 4, 青冈 1.5, 栎类 1.5, 硬阔类 3,
  软阔类 3, 阔叶混 4), 针阔混 5 %, 湿地松 1 %, 枫香 0.5 %, 樟木 0.5 %. Raw names as counties
  write them; the inventory aliases map them to the species groups of the parameter table
  (尾巨桉 → 桉树, 毛竹 → 竹类, 青冈 → 栎类, 硬阔类 → 其他硬阔类, 软阔类 → 其他软阔类).
- 平均年龄 (2016) from triangular distributions: 杉木 (1, 45, mode 14), 马尾松 (1, 60, 22),
  湿地松 (1, 40, 16), 桉树 (1, 10, 3), hard broadleaf (5, 80, 35), soft broadleaf (5, 70, 28),
  阔叶混 (5, 80, 32), 针阔混 (5, 70, 30). 2021 ages are +5.
- 龄组 from rough rotation-based upper bounds of 幼/中/近熟/成熟 (older = 过熟林):
  杉木 10/20/25/35, pines 10/20/30/50, 桉树 2/4/5/7, hard broadleaf and 阔叶混 20/40/50/70,
  soft broadleaf and 针阔混 20/30/40/60. Rotation (主伐年龄) = the first 成熟林 age.
- 每公顷蓄积 from a Richards curve V = a·s·(1 − e^(−b·t))^c with a lognormal site multiplier s
  (σ 0.22, 0.30 for eucalyptus, clipped to 0.45–1.7) and V ≤ 600 m³/ha. (a, b, c): 杉木
  (350, 0.07, 2.5), 马尾松 (300, 0.045, 2.2), 湿地松 (280, 0.06, 2.2), 桉树 (250, 0.25, 2.0),
  木荷 / 樟木 (280, 0.035, 1.8), 栎类 / 硬阔类 (260, 0.03, 1.8), 软阔类 (240, 0.045, 1.8),
  枫香 (260, 0.04, 1.8), 阔叶混 (270, 0.035, 1.8), 针阔混 (300, 0.04, 2.0). The 2021 volume is the
  same curve with the same site multiplier at age + 5 (the algebraic-difference projection), so
  undisturbed stands never shrink.
- 面积: lognormal (median 3.3 ha, mean ≈ 5 ha, σ 0.9) clipped to 0.07–60 ha, rounded to 0.01 ha
  (≈ 100,000 ha for 20,000 rows). The 2016 file keeps 亩 = 15 × ha and whole-stand volume.
- 起源 人工 with probability: 杉木 0.9, 桉树 / 湿地松 1, 马尾松 0.4, 毛竹 0.4, broadleaf 0.1–0.2
  (樟木 0.6), 针阔混 0.2. 森林类别 公益林 with a species-dependent probability (桉树 0.02 …
  broadleaf 0.6–0.65), about 35 % overall; 林种 防护林 (85 %) / 特用林 for 公益林, 用材林 for
  商品林 except a quarter of the commercial 毛竹 / 樟木 / 软阔类 stands, which are 经济林.
- 权属: whole compartments (7 %) belong to 示范县国有林场 (国有); other rows 集体 (40 %,
  "XX村村民委员会") or 个人 (60 %, households with common Fujian surnames, several parcels each).
- Afforestation (CCER candidates): 2 % of the 2016 rows were non-forest (造林前地类 宜林地 50 %,
  无立木林地 30 %, 耕地 20 %; 无林年限 3–10) planted in 2016 or 2017 (造林年度) with 杉木, 马尾松,
  木荷, 枫香 or 樟木; in 2016 they are 未成林造林地 (planted that year) or still 宜林地 / 无立木林地
  (planted 2017, no age, volume 0), in 2021 young 乔木林地. Some are deliberately ineligible:
  无林年限 1–2, area 0.02–0.03 ha, 造林前地类 湿地, or 林种 经济林 (at least one of each).
- Between the surveys: 3 % of the 2016 rows are clear-cut in 2018–2020 (commercial timber
  plantations at or past rotation, eucalyptus preferred) and replanted (2021: 未成林造林地, age 1–3,
  volume 0 as for every 未成林造林地, 采伐蓄积 = the whole stand's volume at harvest, grown to the
  harvest year); 1 % are disturbed by fire or
  pests (受灾比例 0.10–0.80, volume reduced by that share). 计划采伐蓄积 (the management plan's
  allowed harvest) = whole-stand volume for commercial timber plantations at or past rotation.
- 0.5 % of the 2016 ids are gone in 2021 (merged or converted) and 0.5 % of the 2021 ids are new
  (newly delineated), so matching has unmatched rows in both directions.

Polygons. Every sub-compartment is a jittered quadrilateral or pentagon inside its own cell of a
nested squarified treemap (county → township → village → compartment → sub-compartment), so
townships and villages are contiguous regions and parcels never touch or overlap. The layout is made
in CGCS2000 / 3-degree Gauss–Krüger CM 117E (EPSG:4548, metres) around 117.25 E, 26.40 N, and each
cell is sized so that the polygon's area equals the rounded 面积 exactly; vertices are then
converted to CGCS2000 geographic coordinates (EPSG:4490). The same polygons serve both years.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import random
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DemoFiles", "build_demo", "main"]

Progress = Callable[[str, int, int], None]

REGION_CODE = "350499"
COUNTY = "示范县"
STATE_FARM = "示范县国有林场"
YEAR_1, YEAR_2 = 2016, 2021
CRS_GEOGRAPHIC = "EPSG:4490"  # CGCS2000 geographic
CRS_PROJECTED = "EPSG:4548"  # CGCS2000 / 3-degree Gauss-Kruger CM 117E
CENTER_LON, CENTER_LAT = 117.25, 26.40
MU_PER_HA = 15.0
MAX_VOLUME = 600.0
MIN_ROWS = 500

STAGES = (
    "layout",
    "attributes",
    "polygons",
    "csv",
    "xlsx",
    "parquet",
    "gpkg",
    "shapefile",
    "plots",
)

TOWNSHIPS = (
    "城关镇",
    "溪源镇",
    "龙岗镇",
    "黄竹镇",
    "梅山镇",
    "枫林乡",
    "石坑乡",
    "上坪乡",
    "桂溪乡",
    "福田乡",
)
_VILLAGE_HEADS = "上下东西南北大小新老黄高石梅桂枫竹龙坪洋吴罗陈杨岭沙碧翠莲官"
_VILLAGE_TAILS = "坑洋坪岭口源头田山坊溪湖厝墩际林坂塘峰尾垅坳后里背"
_SURNAMES = "陈林黄张李王吴郑刘罗邱杨廖曾赖钟谢魏邓江"
_SURNAME_WEIGHTS = (14, 12, 8, 7, 6, 6, 5, 5, 5, 4, 4, 4, 3, 3, 3, 3, 2, 2, 2, 2)
_GIVEN = "建国明华文金水福荣发德春生秀英兰玉清火旺土根长永斌辉平祥海成"

AGE_CLASSES = ("幼龄林", "中龄林", "近熟林", "成熟林", "过熟林")


@dataclass(frozen=True)
class _Species:
    raw: str  # the name written in 优势树种
    group: str  # species group of the parameter table
    share: float  # percent of sub-compartments
    ages: tuple[float, float, float] | None  # triangular (low, high, mode) in 2016
    curve: tuple[float, float, float] | None  # Richards (a, b, c)
    bounds: tuple[int, int, int, int] | None  # upper ages of 幼/中/近熟/成熟
    plantation: float  # P(起源 = 人工)
    public: float  # P(森林类别 = 公益林)
    site_sigma: float = 0.22
    economic: bool = False  # may be 经济林 when commercial


_FIR_BOUNDS = (10, 20, 25, 35)
_PINE_BOUNDS = (10, 20, 30, 50)
_HARD_BOUNDS = (20, 40, 50, 70)
_SOFT_BOUNDS = (20, 30, 40, 60)

SPECIES: tuple[_Species, ...] = (
    _Species("杉木", "杉木", 40.0, (1, 45, 14), (350, 0.07, 2.5), _FIR_BOUNDS, 0.9, 0.25),
    _Species("马尾松", "马尾松", 20.0, (1, 60, 22), (300, 0.045, 2.2), _PINE_BOUNDS, 0.4, 0.45),
    _Species("尾巨桉", "桉树", 3.0, (1, 10, 3), (250, 0.25, 2.0), (2, 4, 5, 7), 1.0, 0.02, 0.30),
    _Species("桉树", "桉树", 3.0, (1, 10, 3), (250, 0.25, 2.0), (2, 4, 5, 7), 1.0, 0.02, 0.30),
    _Species("毛竹", "竹类", 10.0, None, None, None, 0.4, 0.15, economic=True),
    _Species("木荷", "木荷", 4.0, (5, 80, 35), (280, 0.035, 1.8), _HARD_BOUNDS, 0.15, 0.6),
    _Species("青冈", "栎类", 1.5, (5, 80, 35), (260, 0.03, 1.8), _HARD_BOUNDS, 0.1, 0.6),
    _Species("栎类", "栎类", 1.5, (5, 80, 35), (260, 0.03, 1.8), _HARD_BOUNDS, 0.1, 0.6),
    _Species("硬阔类", "其他硬阔类", 3.0, (5, 80, 35), (260, 0.03, 1.8), _HARD_BOUNDS, 0.1, 0.6),
    _Species(
        "软阔类",
        "其他软阔类",
        3.0,
        (5, 70, 28),
        (240, 0.045, 1.8),
        _SOFT_BOUNDS,
        0.2,
        0.6,
        economic=True,
    ),
    _Species("阔叶混", "阔叶混", 4.0, (5, 80, 32), (270, 0.035, 1.8), _HARD_BOUNDS, 0.1, 0.65),
    _Species("针阔混", "针阔混", 5.0, (5, 70, 30), (300, 0.04, 2.0), _SOFT_BOUNDS, 0.2, 0.55),
    _Species("湿地松", "湿地松", 1.0, (1, 40, 16), (280, 0.06, 2.2), _PINE_BOUNDS, 1.0, 0.2),
    _Species("枫香", "枫香", 0.5, (5, 70, 28), (260, 0.04, 1.8), _SOFT_BOUNDS, 0.2, 0.6),
    _Species(
        "樟木", "樟木", 0.5, (5, 80, 35), (280, 0.035, 1.8), _HARD_BOUNDS, 0.6, 0.6, economic=True
    ),
)
SPECIES_INDEX = {s.raw: i for i, s in enumerate(SPECIES)}
# Raw name in 优势树种 → species group of the parameter table.
SPECIES_GROUPS: dict[str, str] = {s.raw: s.group for s in SPECIES}
BROADLEAF = frozenset({"木荷", "青冈", "栎类", "硬阔类", "软阔类", "阔叶混", "枫香", "樟木"})
# Species planted on afforestation sites (碳汇造林) and their shares.
AFFORESTATION_SPECIES = (
    ("杉木", 0.4),
    ("马尾松", 0.15),
    ("木荷", 0.2),
    ("枫香", 0.15),
    ("樟木", 0.1),
)

# Column headers of the files, in order.
COLUMNS_2016 = (
    "县",
    "乡镇",
    "村",
    "林班号",
    "小班号",
    "面积(亩)",
    "地类",
    "森林类别",
    "林种",
    "起源",
    "优势树种",
    "平均年龄",
    "龄组",
    "小班蓄积",
    "权属",
    "林权权利人",
    "调查年度",
    "造林前地类",
    "无林年限",
    "造林年度",
    "计划采伐蓄积",
)
COLUMNS_2021 = (
    "县",
    "乡镇",
    "村",
    "林班号",
    "小班号",
    "面积(公顷)",
    "地类",
    "森林类别",
    "林种",
    "起源",
    "优势树种",
    "平均年龄",
    "龄组",
    "每公顷蓄积",
    "权属",
    "林权权利人",
    "调查年度",
    "造林前地类",
    "无林年限",
    "造林年度",
    "采伐蓄积",
    "计划采伐蓄积",
    "受灾比例",
)
# Kind of each column: str, int (nullable integer), f1 / f2 (float, 1 or 2 decimals, nullable).
KINDS: dict[str, str] = {
    "县": "str",
    "乡镇": "str",
    "村": "str",
    "林班号": "int",
    "小班号": "str",
    "面积(亩)": "f2",
    "面积(公顷)": "f2",
    "地类": "str",
    "森林类别": "str",
    "林种": "str",
    "起源": "str",
    "优势树种": "str",
    "平均年龄": "int",
    "龄组": "str",
    "小班蓄积": "f1",
    "每公顷蓄积": "f1",
    "权属": "str",
    "林权权利人": "str",
    "调查年度": "int",
    "造林前地类": "str",
    "无林年限": "int",
    "造林年度": "int",
    "采伐蓄积": "f1",
    "计划采伐蓄积": "f1",
    "受灾比例": "f2",
}

PLOT_STRATA = ("杉木中龄林", "杉木近成过熟林", "马尾松林", "阔叶林")


@dataclass(frozen=True)
class DemoFiles:
    """What :func:`build_demo` wrote, and a few counts."""

    out_dir: Path
    csv_2016: Path
    gpkg_2016: Path
    csv_2021: Path
    xlsx_2021: Path
    parquet_2021: Path
    gpkg_2021: Path
    shp_2021: Path
    plots_2021: Path
    readme: Path
    seed: int
    rows_2016: int
    rows_2021: int
    matched: int
    only_2016: int  # ids of 2016 that are gone in 2021
    only_2021: int  # ids new in 2021
    harvested: int
    disturbed: int
    afforestation: int
    area_2021_ha: float

    @property
    def paths(self) -> tuple[Path, ...]:
        """Every file written (the Shapefile's sidecar files included)."""
        shp = self.shp_2021
        sidecars = tuple(shp.with_suffix(s) for s in (".shx", ".dbf", ".prj", ".cpg"))
        return (
            self.csv_2016,
            self.gpkg_2016,
            self.csv_2021,
            self.xlsx_2021,
            self.parquet_2021,
            self.gpkg_2021,
            shp,
            *sidecars,
            self.plots_2021,
            self.readme,
        )


# --------------------------------------------------------------------------------------------
# Random draws: everything from random.Random(seed).random()


class _Draws:
    """Uniforms from ``random.Random(seed).random()`` and explicit transforms of them."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed).random

    def uniform(self, k: int, low: float = 0.0, high: float = 1.0) -> np.ndarray:
        r = self._random
        u = np.fromiter((r() for _ in range(k)), dtype=np.float64, count=k)
        return u if (low, high) == (0.0, 1.0) else low + (high - low) * u

    def one(self) -> float:
        return self._random()

    def integers(self, low: int, high: int, k: int) -> np.ndarray:
        """Integers in [low, high] inclusive."""
        u = self.uniform(k)
        return np.minimum(low + np.floor(u * (high - low + 1)).astype(np.int64), high)

    def normal(self, k: int) -> np.ndarray:
        """Standard normal by Box–Muller (one pair of uniforms per value)."""
        u1 = 1.0 - self.uniform(k)  # (0, 1]
        u2 = self.uniform(k)
        return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)

    def categorical(self, weights: Sequence[float], k: int) -> np.ndarray:
        cum = np.cumsum(np.asarray(weights, dtype=np.float64))
        u = self.uniform(k) * cum[-1]
        return np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1)

    def sample(
        self, k: int, candidates: np.ndarray, weights: np.ndarray | None = None
    ) -> np.ndarray:
        """``k`` distinct items of ``candidates`` (weighted: Efraimidis–Spirakis), sorted."""
        m = len(candidates)
        u = 1.0 - self.uniform(m)  # (0, 1]
        keys = np.log(u) if weights is None else np.log(u) / np.asarray(weights, dtype=np.float64)
        order = np.argsort(-keys, kind="stable")
        return np.sort(candidates[order[: min(k, m)]])


def _triangular(u: np.ndarray, low: np.ndarray, high: np.ndarray, mode: np.ndarray) -> np.ndarray:
    """Inverse CDF of the triangular distribution."""
    span = high - low
    cut = (mode - low) / span
    left = low + np.sqrt(u * span * (mode - low))
    right = high - np.sqrt((1.0 - u) * span * (high - mode))
    return np.where(u < cut, left, right)


def _round(x: np.ndarray, decimals: int) -> np.ndarray:
    """Round half away from zero at ``decimals`` (NaN stays NaN); the nearest double to k/10^d."""
    scale = 10.0**decimals
    return np.where(np.isnan(x), np.nan, np.trunc(np.abs(x) * scale + 0.5) * np.sign(x) / scale)


# --------------------------------------------------------------------------------------------
# The county: hierarchy, units (sub-compartments of either year) and their attributes


@dataclass
class _County:
    n: int  # units (union of both years)
    township: np.ndarray  # index into TOWNSHIPS
    village_names: list[str]
    village_township: np.ndarray
    village_no: np.ndarray  # village number within its township (1-based)
    village: np.ndarray  # per unit: village index
    compartment: np.ndarray  # per unit: compartment number within the village (1-based)
    compartment_key: np.ndarray  # per unit: county-wide compartment index
    sub: np.ndarray  # per unit: sub-compartment number within the compartment (1-based)
    ids: list[str]
    in_2016: np.ndarray
    in_2021: np.ndarray
    households: list[list[str]]  # per village


def _allocate(total: int, weights: np.ndarray, minimum: int) -> np.ndarray:
    """Split ``total`` into integer parts ∝ weights, each ≥ minimum (largest remainder)."""
    k = len(weights)
    spare = total - minimum * k
    share = weights / weights.sum() * spare
    parts = np.floor(share).astype(np.int64)
    rest = spare - int(parts.sum())
    if rest > 0:
        order = np.argsort(-(share - parts), kind="stable")
        parts[order[:rest]] += 1
    return parts + minimum


def _layout_county(d: _Draws, n: int) -> _County:
    """Townships, villages, compartments, sub-compartment ids; which ids exist in which year."""
    n_new = max(1, round(0.005 * n))
    n_removed = max(1, round(0.005 * n))
    villages_per_township = d.integers(6, 15, len(TOWNSHIPS))
    n_villages = int(villages_per_township.sum())
    village_township = np.repeat(np.arange(len(TOWNSHIPS)), villages_per_township)
    village_no = np.concatenate([np.arange(1, k + 1) for k in villages_per_township])

    # Unique village names county-wide.
    pairs = [(h, t) for h in _VILLAGE_HEADS for t in _VILLAGE_TAILS if h != t]
    chosen = d.sample(n_villages, np.arange(len(pairs)))
    order = np.argsort(d.uniform(n_villages), kind="stable")  # shuffle so names are not sorted
    village_names = [pairs[i][0] + pairs[i][1] + "村" for i in chosen[order]]

    rows_per_village = _allocate(n, 0.4 + d.uniform(n_villages), 2)
    compartments: list[int] = []  # rows (2016 base units) per compartment
    compartment_village: list[int] = []
    for v, rows in enumerate(rows_per_village):
        k = max(1, math.ceil(rows / (8 + 8 * d.one())))
        parts = _allocate(int(rows), 0.5 + d.uniform(k), 1) if k > 1 else np.array([rows])
        compartments.extend(int(p) for p in parts)
        compartment_village.extend([v] * k)
    n_comp = len(compartments)
    new_per_comp = np.bincount(d.integers(0, n_comp - 1, n_new), minlength=n_comp)

    village, comp_no, comp_key, sub, is_new = [], [], [], [], []
    comp_counter = np.zeros(n_villages, dtype=np.int64)
    for c in range(n_comp):
        v = compartment_village[c]
        comp_counter[v] += 1
        base, extra = compartments[c], int(new_per_comp[c])
        for s in range(base + extra):
            village.append(v)
            comp_no.append(int(comp_counter[v]))
            comp_key.append(c)
            sub.append(s + 1)
            is_new.append(s >= base)
    village_a = np.array(village, dtype=np.int64)
    sub_a = np.array(sub, dtype=np.int64)
    if sub_a.max() > 99:
        raise AssertionError("more than 99 sub-compartments in a compartment")
    comp_a = np.array(comp_no, dtype=np.int64)
    township = village_township[village_a]
    vno = village_no[village_a]
    ids = [
        f"{REGION_CODE}-{t + 1:02d}-{vn:02d}-{c:03d}-{s:02d}"
        for t, vn, c, s in zip(township, vno, comp_a, sub_a, strict=True)
    ]
    is_new_a = np.array(is_new, dtype=bool)
    removed = d.sample(n_removed, np.flatnonzero(~is_new_a))
    in_2016 = ~is_new_a
    in_2021 = np.ones(len(ids), dtype=bool)
    in_2021[removed] = False

    households: list[list[str]] = []
    for v in range(n_villages):
        wanted = max(3, math.ceil(rows_per_village[v] * 0.6 / 2.5))
        names: list[str] = []
        seen: set[str] = set()
        while len(names) < wanted:
            surname = _SURNAMES[int(d.categorical(_SURNAME_WEIGHTS, 1)[0])]
            g = d.integers(0, len(_GIVEN) - 1, 2)
            given = _GIVEN[g[0]] + (_GIVEN[g[1]] if d.one() < 0.8 else "")
            name = surname + given
            if name not in seen:
                seen.add(name)
                names.append(name)
        households.append(names)

    return _County(
        n=len(ids),
        township=township,
        village_names=village_names,
        village_township=village_township,
        village_no=village_no,
        village=village_a,
        compartment=comp_a,
        compartment_key=np.array(comp_key, dtype=np.int64),
        sub=sub_a,
        ids=ids,
        in_2016=in_2016,
        in_2021=in_2021,
        households=households,
    )


@dataclass
class _Stands:
    """Attributes of every unit, both years (NaN / None = blank)."""

    species: np.ndarray  # index into SPECIES
    area_ha: np.ndarray
    origin: list[str]
    category: list[str]
    forest_type: list[str]
    tenure: list[str]
    owner: list[str]
    site: np.ndarray
    age_2016: np.ndarray
    age_2021: np.ndarray
    vol_2016: np.ndarray  # m³/ha
    vol_2021: np.ndarray
    land_2016: list[str]
    land_2021: list[str]
    origin_2016: list[str | None]
    origin_2021: list[str]
    afforestation: np.ndarray  # bool
    prior_land: list[str | None]
    nonforest_years: np.ndarray
    planting_year: np.ndarray
    harvested: np.ndarray  # bool
    harvest_m3: np.ndarray
    disturbed: np.ndarray  # bool
    disturbance: np.ndarray
    planned_2016: np.ndarray
    planned_2021: np.ndarray


def _species_arrays(sp: np.ndarray) -> dict[str, np.ndarray]:
    def column(f: Callable[[_Species], float]) -> np.ndarray:
        table = np.array([f(s) for s in SPECIES], dtype=np.float64)
        return table[sp]

    return {
        "a": column(lambda s: s.curve[0] if s.curve else np.nan),
        "b": column(lambda s: s.curve[1] if s.curve else np.nan),
        "c": column(lambda s: s.curve[2] if s.curve else np.nan),
        "rotation": column(lambda s: s.bounds[2] + 1 if s.bounds else np.nan),
    }


def _richards(a: np.ndarray, b: np.ndarray, c: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.minimum(a * (1.0 - np.exp(-b * t)) ** c, MAX_VOLUME)


def age_classes(raw_species: Sequence[str], ages: np.ndarray) -> list[str | None]:
    """龄组 of each row from its species (raw name) and age, by the thresholds of this module."""
    out: list[str | None] = []
    for name, age in zip(raw_species, ages, strict=True):
        spec = SPECIES[SPECIES_INDEX[name]]
        if spec.bounds is None or math.isnan(age):
            out.append(None)
            continue
        k = int(np.searchsorted(np.array(spec.bounds), age, side="left"))
        out.append(AGE_CLASSES[k])
    return out


def _draw_stands(d: _Draws, county: _County) -> _Stands:
    n = county.n
    sp = d.categorical([s.share for s in SPECIES], n)
    base = county.in_2016 & county.in_2021  # rows that exist in both years

    # Afforestation sites: 2 % of the 2016 rows, all present in both years.
    n_aff = max(4, round(0.02 * (county.in_2016.sum())))
    aff_idx = d.sample(n_aff, np.flatnonzero(base))
    afforestation = np.zeros(n, dtype=bool)
    afforestation[aff_idx] = True
    aff_species = [SPECIES_INDEX[name] for name, _ in AFFORESTATION_SPECIES]
    sp[aff_idx] = np.array(aff_species)[d.categorical([w for _, w in AFFORESTATION_SPECIES], n_aff)]

    # Area (ha): lognormal, rounded to 0.01 ha.
    z = d.normal(n)
    area = np.clip(np.exp(1.204 + 0.9 * z), 0.07, 60.0)
    area_aff = np.clip(np.exp(np.log(1.5) + 0.8 * z), 0.07, 20.0)
    area = np.where(afforestation, area_aff, area)

    # Site multiplier (lognormal) and 2016 age.
    sigma = np.array([s.site_sigma for s in SPECIES])[sp]
    site = np.clip(np.exp(sigma * d.normal(n)), 0.45, 1.7)
    tri = np.array([s.ages if s.ages else (np.nan,) * 3 for s in SPECIES], dtype=np.float64)[sp]
    age16 = np.maximum(np.rint(_triangular(d.uniform(n), tri[:, 0], tri[:, 1], tri[:, 2])), 1.0)
    age16 = np.where(np.isnan(tri[:, 0]), np.nan, age16)

    plantation = np.array([s.plantation for s in SPECIES])[sp]
    public_p = np.array([s.public for s in SPECIES])[sp]
    u_origin, u_cat, u_type, u_econ = (d.uniform(n) for _ in range(4))
    origin = ["人工" if u < p else "天然" for u, p in zip(u_origin, plantation, strict=True)]
    category = ["公益林" if u < p else "商品林" for u, p in zip(u_cat, public_p, strict=True)]
    economic = np.array([s.economic for s in SPECIES])[sp]
    forest_type = []
    for i in range(n):
        if category[i] == "公益林":
            forest_type.append("防护林" if u_type[i] < 0.85 else "特用林")
        else:
            forest_type.append("经济林" if economic[i] and u_econ[i] < 0.25 else "用材林")

    # Tenure: whole compartments of the state forest farm, otherwise collective or household.
    n_comp = int(county.compartment_key.max()) + 1
    state_comp = d.uniform(n_comp) < 0.07
    state = state_comp[county.compartment_key]
    u_ten = d.uniform(n)
    u_house = d.uniform(n)
    tenure, owner = [], []
    for i in range(n):
        v = county.village[i]
        if state[i]:
            tenure.append("国有")
            owner.append(STATE_FARM)
        elif u_ten[i] < 0.4:
            tenure.append("集体")
            owner.append(county.village_names[v] + "村民委员会")
        else:
            houses = county.households[v]
            tenure.append("个人")
            owner.append(houses[min(int(u_house[i] ** 1.6 * len(houses)), len(houses) - 1)])

    # Afforestation details, with deliberately ineligible sites (at least one of each kind).
    u_prior = d.uniform(n_aff)
    prior_kind = np.where(u_prior < 0.5, 0, np.where(u_prior < 0.8, 1, 2))
    years_free = d.integers(3, 10, n_aff)
    plant_year = np.where(d.uniform(n_aff) < 0.5, 2016, 2017)
    flags = d.uniform(n_aff * 4).reshape(n_aff, 4) < np.array([0.06, 0.05, 0.04, 0.04])
    flags[np.arange(4), np.arange(4)] = True
    short_years = d.integers(1, 2, n_aff)
    tiny = d.integers(2, 3, n_aff) / 100.0
    u_aff_cat = d.uniform(n_aff)
    prior_names = np.array(["宜林地", "无立木林地", "耕地"], dtype=object)
    prior_land: list[str | None] = [None] * n
    nonforest = np.full(n, np.nan)
    planting = np.full(n, np.nan)
    for j, i in enumerate(aff_idx):
        prior = str(prior_names[prior_kind[j]])
        years = float(years_free[j])
        if flags[j, 0]:
            years = float(short_years[j])
        if flags[j, 1]:
            area[i] = tiny[j]
        if flags[j, 2]:
            prior = "湿地"
        if prior in ("耕地", "湿地"):
            plant_year[j] = 2016  # not forest land: enters the inventory once planted
        origin[i] = "人工"
        if flags[j, 3]:
            category[i], forest_type[i] = "商品林", "经济林"
            sp[i] = SPECIES_INDEX["樟木"]  # camphor for oil: an economic forest
        elif u_aff_cat[j] < 0.4:
            category[i], forest_type[i] = "公益林", "防护林"
        else:
            category[i], forest_type[i] = "商品林", "用材林"
        prior_land[i] = prior
        nonforest[i] = years
        planting[i] = float(plant_year[j])
    area = _round(area, 2)

    curve = _species_arrays(sp)
    a = curve["a"] * site
    bamboo = np.isnan(curve["a"])
    age16 = np.where(
        afforestation, np.where(planting <= YEAR_1, YEAR_1 - planting + 1, np.nan), age16
    )
    vol16 = np.where(bamboo, np.nan, _richards(a, curve["b"], curve["c"], age16))
    vol16 = np.where(afforestation, 0.0, vol16)
    age21 = np.where(afforestation, YEAR_2 - planting + 1, age16 + 5)
    vol21 = _richards(a, curve["b"], curve["c"], age21)
    vol21 = np.where(bamboo, np.nan, vol21)

    # Planned harvest (2016 plan): commercial timber plantations at or past rotation.
    is_timber_plantation = np.array(
        [t == "用材林" and o == "人工" for t, o in zip(forest_type, origin, strict=True)]
    )
    rotation = curve["rotation"]
    planned16_mask = is_timber_plantation & ~afforestation & ~bamboo & (age16 >= rotation)

    # Clear-cuts 2018–2020 among the planned stands (eucalyptus preferred).
    cand = np.flatnonzero(planned16_mask & base)
    weights = np.where(np.array([SPECIES[s].group == "桉树" for s in sp[cand]]), 6.0, 1.0)
    harvested_idx = d.sample(round(0.03 * county.in_2016.sum()), cand, weights)
    harvested = np.zeros(n, dtype=bool)
    harvested[harvested_idx] = True
    harvest_year = d.integers(2018, 2020, n)
    harvest_m3 = np.full(n, np.nan)
    at_harvest = _richards(a, curve["b"], curve["c"], age16 + (harvest_year - YEAR_1))
    harvest_m3[harvested] = _round(at_harvest * area, 1)[harvested]
    age21 = np.where(harvested, YEAR_2 - harvest_year, age21)
    vol21 = np.where(harvested, 0.0, vol21)  # 未成林造林地: no growing stock recorded yet

    # Fire and pests: 1 %, among the other stocked stands.
    cand = np.flatnonzero(base & ~afforestation & ~bamboo & ~harvested)
    disturbed_idx = d.sample(round(0.01 * county.in_2016.sum()), cand)
    disturbed = np.zeros(n, dtype=bool)
    disturbed[disturbed_idx] = True
    share = _round(d.uniform(n, 0.1, 0.8), 2)
    disturbance = np.where(disturbed, share, np.nan)
    vol21 = np.where(disturbed, vol21 * (1.0 - share), vol21)

    vol16 = _round(vol16, 1)
    vol21 = _round(vol21, 1)
    planned16 = np.where(planned16_mask, _round(vol16 * area, 1), np.nan)
    planned21_mask = is_timber_plantation & ~bamboo & ~harvested & (age21 >= rotation)
    planned21 = np.where(planned21_mask, _round(vol21 * area, 1), np.nan)

    bamboo_land = "竹林地"
    land16, land21, origin16, origin21 = [], [], [], []
    for i in range(n):
        tree = bamboo_land if bamboo[i] else "乔木林地"
        if afforestation[i]:
            planted = planting[i] <= YEAR_1
            land16.append("未成林造林地" if planted else str(prior_land[i]))
            origin16.append("人工" if planted else None)
            land21.append("乔木林地")
            origin21.append("人工")
        elif harvested[i]:
            land16.append(tree)
            origin16.append(origin[i])
            land21.append("未成林造林地")
            origin21.append("人工")
        else:
            land16.append(tree)
            origin16.append(origin[i])
            land21.append(tree)
            origin21.append(origin[i])

    return _Stands(
        species=sp,
        area_ha=area,
        origin=origin,
        category=category,
        forest_type=forest_type,
        tenure=tenure,
        owner=owner,
        site=site,
        age_2016=age16,
        age_2021=age21,
        vol_2016=vol16,
        vol_2021=vol21,
        land_2016=land16,
        land_2021=land21,
        origin_2016=origin16,
        origin_2021=origin21,
        afforestation=afforestation,
        prior_land=prior_land,
        nonforest_years=nonforest,
        planting_year=planting,
        harvested=harvested,
        harvest_m3=harvest_m3,
        disturbed=disturbed,
        disturbance=disturbance,
        planned_2016=planned16,
        planned_2021=planned21,
    )


# --------------------------------------------------------------------------------------------
# Tables (column → values), shared by every writer


Table = dict[str, list[Any] | np.ndarray]


def _tables(county: _County, st: _Stands) -> tuple[Table, Table]:
    raw = [SPECIES[s].raw for s in st.species]
    township = [TOWNSHIPS[t] for t in county.township]
    village = [county.village_names[v] for v in county.village]
    class16 = age_classes(raw, st.age_2016)
    class21 = age_classes(raw, st.age_2021)
    common = {
        "县": [COUNTY] * county.n,
        "乡镇": township,
        "村": village,
        "林班号": county.compartment.astype(np.float64),
        "小班号": county.ids,
        "地类": None,
        "森林类别": st.category,
        "林种": st.forest_type,
        "起源": None,
        "优势树种": raw,
        "权属": st.tenure,
        "林权权利人": st.owner,
        "造林前地类": st.prior_land,
        "无林年限": st.nonforest_years,
        "造林年度": st.planting_year,
    }
    t16 = dict(common)
    t16.update(
        {
            "面积(亩)": _round(st.area_ha * MU_PER_HA, 2),
            "地类": st.land_2016,
            "起源": st.origin_2016,
            "平均年龄": st.age_2016,
            "龄组": [None if st.afforestation[i] else c for i, c in enumerate(class16)],
            "小班蓄积": _round(st.vol_2016 * st.area_ha, 1),
            "调查年度": np.full(county.n, float(YEAR_1)),
            "计划采伐蓄积": st.planned_2016,
        }
    )
    t21 = dict(common)
    t21.update(
        {
            "面积(公顷)": st.area_ha,
            "地类": st.land_2021,
            "起源": st.origin_2021,
            "平均年龄": st.age_2021,
            "龄组": class21,
            "每公顷蓄积": st.vol_2021,
            "调查年度": np.full(county.n, float(YEAR_2)),
            "采伐蓄积": st.harvest_m3,
            "计划采伐蓄积": st.planned_2021,
            "受灾比例": st.disturbance,
        }
    )
    table16 = {c: _take(t16[c], county.in_2016) for c in COLUMNS_2016}
    table21 = {c: _take(t21[c], county.in_2021) for c in COLUMNS_2021}
    return table16, table21


def _take(values: Any, mask: np.ndarray) -> list[Any] | np.ndarray:
    if isinstance(values, np.ndarray):
        return values[mask]
    return [v for v, keep in zip(values, mask, strict=True) if keep]


def _cells(column: str, values: Any) -> list[str]:
    """The CSV text of one column."""
    kind = KINDS[column]
    if kind == "str":
        return ["" if v is None else v for v in values]
    fmt = {"int": "{:.0f}", "f1": "{:.1f}", "f2": "{:.2f}"}[kind]
    return ["" if math.isnan(v) else fmt.format(v) for v in values.tolist()]


def _write_csv(path: Path, table: Table, encoding: str) -> None:
    columns = list(table)
    cells = [_cells(c, table[c]) for c in columns]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(zip(*cells, strict=True))
    path.write_bytes(out.getvalue().encode(encoding))


def _arrow_table(table: Table) -> Any:
    import pyarrow as pa

    arrays, names = [], []
    for column, values in table.items():
        kind = KINDS[column]
        if kind == "str":
            arrays.append(pa.array(values, type=pa.string()))
        else:
            v = np.asarray(values, dtype=np.float64)
            mask = np.isnan(v)
            if kind == "int":
                arrays.append(pa.array(np.where(mask, 0, v).astype(np.int32), mask=mask))
            else:
                arrays.append(pa.array(np.where(mask, 0.0, v), mask=mask, type=pa.float64()))
        names.append(column)
    return pa.Table.from_arrays(arrays, names=names)


def _write_parquet(path: Path, table: Table) -> None:
    import pyarrow.parquet as pq

    pq.write_table(_arrow_table(table), path, compression="zstd")


def _write_xlsx(path: Path, table: Table) -> None:
    import datetime as dt

    import xlsxwriter

    columns = list(table)
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    workbook.set_properties(
        {
            "title": "示范县 2021 年森林资源二类调查小班表（虚构示范数据）",
            "author": "tanhui demo",
            "created": dt.datetime(2021, 12, 31, 0, 0, 0),
        }
    )
    sheet = workbook.add_worksheet("小班")
    bold = workbook.add_format({"bold": True, "bg_color": "#E2EFDA", "border": 1})
    number_formats = {
        "int": workbook.add_format({"num_format": "0"}),
        "f1": workbook.add_format({"num_format": "0.0"}),
        "f2": workbook.add_format({"num_format": "0.00"}),
    }
    sheet.write_row(0, 0, columns, bold)
    sheet.freeze_panes(1, 0)
    for j, column in enumerate(columns):
        width = 22 if column == "小班号" else 18 if column == "林权权利人" else 11
        sheet.set_column(j, j, width)
    prepared = []
    for column in columns:
        kind = KINDS[column]
        values = table[column]
        if kind == "str":
            prepared.append((kind, list(values), None))
        else:
            prepared.append((kind, np.asarray(values).tolist(), number_formats[kind]))
    n = len(prepared[0][1])
    for i in range(n):
        row = i + 1
        for j, (kind, values, fmt) in enumerate(prepared):
            v = values[i]
            if kind == "str":
                if v is not None:
                    sheet.write_string(row, j, v)
            elif not math.isnan(v):
                sheet.write_number(row, j, v, fmt)
    sheet.autofilter(0, 0, n, len(columns) - 1)
    workbook.close()


def _field_arrays(table: Table) -> tuple[list[np.ndarray], list[str], list[np.ndarray | None]]:
    data, names, masks = [], [], []
    for column, values in table.items():
        kind = KINDS[column]
        if kind == "str":
            data.append(np.array(list(values), dtype=object))
            masks.append(None)
        elif kind == "int":
            v = np.asarray(values, dtype=np.float64)
            mask = np.isnan(v)
            data.append(np.where(mask, 0, v).astype(np.int32))
            masks.append(mask if mask.any() else None)
        else:
            data.append(np.asarray(values, dtype=np.float64))  # NaN → NULL
            masks.append(None)
        names.append(column)
    return data, names, masks


def _write_gis(
    path: Path,
    table: Table,
    wkb: np.ndarray,
    *,
    driver: str,
    layer: str | None = None,
    encoding: str | None = None,
) -> None:
    import pyogrio.raw

    data, names, masks = _field_arrays(table)
    with warnings.catch_warnings():
        # GDAL reports the 10-byte truncation of DBF field names (in GBK, which pyogrio then fails
        # to decode as UTF-8 and turns into a RuntimeWarning). The truncation is intended.
        warnings.simplefilter("ignore", RuntimeWarning)
        pyogrio.raw.write(
            str(path),
            wkb,
            data,
            names,
            field_mask=masks,
            layer=layer,
            driver=driver,
            geometry_type="Polygon",
            crs=CRS_GEOGRAPHIC,
            encoding=encoding,
        )


# --------------------------------------------------------------------------------------------
# Polygons: nested squarified treemap in EPSG:4548, one jittered polygon per cell


def _worst(total: float, largest: float, smallest: float, side: float) -> float:
    s2, w2 = total * total, side * side
    return max(w2 * largest / s2, s2 / (w2 * smallest))


def squarify(
    weights: Sequence[float], x: float, y: float, w: float, h: float
) -> list[tuple[float, float, float, float]]:
    """Tile the rectangle (x, y, w, h) with rectangles of area ∝ weights (Bruls et al. 2000).

    Returns (x, y, w, h) per weight, in the order given. The tiles cover the rectangle exactly.
    """
    n = len(weights)
    scale = w * h / float(sum(weights))
    order = sorted(range(n), key=lambda i: -weights[i])
    areas = [weights[i] * scale for i in order]
    out: list[tuple[float, float, float, float]] = [(0.0, 0.0, 0.0, 0.0)] * n
    i = 0
    while i < n:
        side = min(w, h)
        total = largest = smallest = areas[i]
        worst = _worst(total, largest, smallest, side)
        j = i + 1
        while j < n:
            a = areas[j]
            candidate = _worst(total + a, max(largest, a), min(smallest, a), side)
            if candidate > worst:
                break
            total, largest, smallest, worst = (
                total + a,
                max(largest, a),
                min(smallest, a),
                candidate,
            )
            j += 1
        last = j == n
        if w >= h:  # a column at the left
            strip = w if last else min(total / h, w)
            pos = y
            for k in range(i, j):
                size = (y + h - pos) if k == j - 1 else areas[k] / strip
                out[order[k]] = (x, pos, strip, size)
                pos += size
            x, w = x + strip, w - strip
        else:  # a row at the bottom
            strip = h if last else min(total / w, h)
            pos = x
            for k in range(i, j):
                size = (x + w - pos) if k == j - 1 else areas[k] / strip
                out[order[k]] = (pos, y, size, strip)
                pos += size
            y, h = y + strip, h - strip
        i = j
    return out


def _unit_shapes(d: _Draws, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Jittered quadrilaterals / pentagons in the unit square.

    Returns (vertices (n, 5, 2), vertices per shape (4 or 5), mask of kept vertices, area). Quads use
    vertices 0, 2, 3, 4 (vertex 1 is the pentagon's extra vertex). Counter-clockwise.
    """
    ins = d.uniform(n * 8, 0.03, 0.22).reshape(n, 4, 2)
    t = d.uniform(n, 0.3, 0.7)
    bulge = d.uniform(n, 0.15, 0.6)
    pentagon = d.uniform(n) < 0.45
    turns = d.integers(0, 3, n)
    bl = np.stack([ins[:, 0, 0], ins[:, 0, 1]], axis=1)
    br = np.stack([1 - ins[:, 1, 0], ins[:, 1, 1]], axis=1)
    tr = np.stack([1 - ins[:, 2, 0], 1 - ins[:, 2, 1]], axis=1)
    tl = np.stack([ins[:, 3, 0], 1 - ins[:, 3, 1]], axis=1)
    extra = np.stack(
        [bl[:, 0] + t * (br[:, 0] - bl[:, 0]), np.minimum(bl[:, 1], br[:, 1]) * bulge], axis=1
    )
    verts = np.stack([bl, extra, br, tr, tl], axis=1)
    for k in range(1, 4):  # rotate by k quarter turns about the centre: (u, v) → (1 − v, u)
        sel = turns >= k
        u, v = verts[sel, :, 0].copy(), verts[sel, :, 1].copy()
        verts[sel, :, 0], verts[sel, :, 1] = 1.0 - v, u
    nverts = np.where(pentagon, 5, 4)
    keep = np.ones((n, 5), dtype=bool)
    keep[~pentagon, 1] = False
    x, y = verts[..., 0], verts[..., 1]
    xn, yn = np.roll(x, -1, axis=1), np.roll(y, -1, axis=1)
    # Shoelace over the kept vertices: for quads skip vertex 1 (edge 0 → 2).
    cross = x * yn - xn * y
    quad_fix = x[:, 0] * y[:, 2] - x[:, 2] * y[:, 0] - cross[:, 0] - cross[:, 1]
    area = 0.5 * (cross.sum(axis=1) + np.where(pentagon, 0.0, quad_fix))
    return verts, nverts, keep, area


def _polygons(d: _Draws, county: _County, area_ha: np.ndarray) -> np.ndarray:
    """Shapely polygons (EPSG:4490) for every unit."""
    import pyproj
    import shapely

    verts, nverts, keep, fill = _unit_shapes(d, county.n)
    cell_m2 = area_ha * 10_000.0 / fill

    # Nested treemap: township → village → compartment → sub-compartment.
    total = float(cell_m2.sum())
    to_gk = pyproj.Transformer.from_crs(CRS_GEOGRAPHIC, CRS_PROJECTED, always_xy=True)
    cx, cy = to_gk.transform(CENTER_LON, CENTER_LAT)
    width = math.sqrt(total * 1.15)
    height = total / width
    rects = np.zeros((county.n, 4))

    def nest(units: np.ndarray, keys: list[np.ndarray], rect: tuple[float, ...]) -> None:
        if not keys:
            rects[units] = squarify(cell_m2[units].tolist(), *rect)
            return
        key = keys[0][units]
        groups = np.unique(key)
        members = [units[key == g] for g in groups]
        tiles = squarify([float(cell_m2[m].sum()) for m in members], *rect)
        for m, tile in zip(members, tiles, strict=True):
            nest(m, keys[1:], tile)

    nest(
        np.arange(county.n),
        [county.township, county.village, county.compartment_key],
        (cx - width / 2, cy - height / 2, width, height),
    )
    flat = verts[keep]  # (sum nverts, 2), unit by unit
    owner = np.repeat(np.arange(county.n), nverts)
    r = rects[owner]
    gx = r[:, 0] + flat[:, 0] * r[:, 2]
    gy = r[:, 1] + flat[:, 1] * r[:, 3]
    to_geo = pyproj.Transformer.from_crs(CRS_PROJECTED, CRS_GEOGRAPHIC, always_xy=True)
    lon, lat = to_geo.transform(gx, gy)
    rings = shapely.linearrings(np.stack([lon, lat], axis=1), indices=owner)
    return shapely.polygons(rings)


# --------------------------------------------------------------------------------------------
# AR-TOOL14 sample plots


def _plots(d: _Draws, table21: Table) -> str:
    from tanhui.measure.params import default_parameters

    params = default_parameters()
    factor_by_group = {}
    for i, g in enumerate(params.groups):
        v = params.values
        factor_by_group[g] = (
            v["wood_density_t_per_m3"][i] * v["bef"][i] * (1 + v["root_shoot_ratio"][i])
        )
    raw = table21["优势树种"]
    ageclass = table21["龄组"]
    area = np.asarray(table21["面积(公顷)"])
    vol = np.asarray(table21["每公顷蓄积"])
    members = {
        "杉木中龄林": [r == "杉木" and a == "中龄林" for r, a in zip(raw, ageclass, strict=True)],
        "杉木近成过熟林": [
            r == "杉木" and a in ("近熟林", "成熟林", "过熟林")
            for r, a in zip(raw, ageclass, strict=True)
        ],
        "马尾松林": [
            r == "马尾松" and a not in (None, "幼龄林") for r, a in zip(raw, ageclass, strict=True)
        ],
        "阔叶林": [
            r in BROADLEAF and a not in (None, "幼龄林") for r, a in zip(raw, ageclass, strict=True)
        ],
    }
    factor = np.array([factor_by_group[SPECIES_GROUPS[r]] for r in raw])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["stratum", "stratum_area_ha", "plot", "biomass_t_per_ha"])
    for s, name in enumerate(PLOT_STRATA):
        rows = np.flatnonzero(np.array(members[name]) & ~np.isnan(vol))
        n_plots = int(d.integers(8, 15, 1)[0])
        cum = np.cumsum(area[rows])
        picks = rows[np.minimum(np.searchsorted(cum, d.uniform(n_plots) * cum[-1]), len(rows) - 1)]
        noise = np.exp(0.18 * d.normal(n_plots) - 0.5 * 0.18**2)
        biomass = _round(vol[picks] * factor[picks] * noise, 2)
        stratum_area = _round(np.array([area[rows].sum()]), 2)[0]
        for k in range(n_plots):
            writer.writerow(
                [name, f"{stratum_area:.2f}", f"{s + 1}-{k + 1:02d}", f"{biomass[k]:.2f}"]
            )
    return out.getvalue()


# --------------------------------------------------------------------------------------------
# README


def _readme(seed: int, n16: int, n21: int, area21: float) -> str:
    return f"""示范县森林资源二类调查示范数据 / Demo county forest inventory
===================================================================

【中文】
本目录的数据由 tanhui（碳汇）的示范脚本按随机种子 {seed} 生成，完全虚构。
“示范县”（行政区划代码 350499）并不存在；它仿照闽西（明溪、三明一带）的县域森林资源，
用于演示从小班数据到碳汇计量、碳票签发与交易的全过程。各项分布为示意性设定，
不是任何真实调查的统计结果。

文件：
  xiaoban_2016.csv      2016 年二类调查小班表（GBK 编码，面积单位为亩，蓄积为小班总蓄积 m³），{n16} 行
  xiaoban_2016.gpkg     同上，含小班界线（图层 xiaoban_2016，CGCS2000 地理坐标 EPSG:4490）
  xiaoban_2021.csv      2021 年二类调查小班表（UTF-8 带 BOM，面积单位为公顷，每公顷蓄积 m³/ha），{n21} 行
  xiaoban_2021.xlsx     同上，Excel 格式（工作表“小班”）
  xiaoban_2021.parquet  同上，Parquet 格式
  xiaoban_2021.gpkg     同上，含小班界线（图层 xiaoban_2021，EPSG:4490）
  xiaoban_2021.shp      同上，Shapefile（GBK 编码；DBF 字段名按 10 字节截断，如“计划采伐蓄”）
  plots_2021.csv        2021 年样地生物量（AR-TOOL14 不确定性计算用：分层、层面积、样地号、生物量 t/ha）

小班号格式：350499-乡镇-村-林班-小班（如 350499-03-07-012-05），全县唯一。
两期之间：约 3% 的小班被皆伐更新（采伐蓄积），约 1% 受火灾或病虫害（受灾比例），
约 2% 为 2016–2017 年的造林地（造林前地类、无林年限、造林年度），
约 0.5% 的小班 2021 年不再存在、约 0.5% 为 2021 年新区划的小班。
2021 年小班总面积 {area21:,.2f} 公顷。

【English】
These files were generated by tanhui's demo script with random seed {seed}. They are fictional:
"示范县" (region code 350499) does not exist. It imitates a county of western Fujian (near Mingxi
and Sanming) and serves to demonstrate the chain from sub-compartment data to carbon measurement,
carbon-ticket issuance and trading. All distributions are illustrative, not survey statistics.

Files:
  xiaoban_2016.csv      2016 sub-compartment table (GBK; area in mu, whole-stand volume m³), {n16} rows
  xiaoban_2016.gpkg     the same with boundaries (layer xiaoban_2016, CGCS2000 geographic, EPSG:4490)
  xiaoban_2021.csv      2021 sub-compartment table (UTF-8 with BOM; area in ha, volume m³/ha), {n21} rows
  xiaoban_2021.xlsx     the same as Excel (sheet "小班")
  xiaoban_2021.parquet  the same as Parquet
  xiaoban_2021.gpkg     the same with boundaries (layer xiaoban_2021, EPSG:4490)
  xiaoban_2021.shp      the same as a Shapefile (GBK; DBF field names truncated to 10 bytes)
  plots_2021.csv        2021 sample plots for AR-TOOL14 (stratum, stratum area, plot, biomass t/ha)

Sub-compartment ids: 350499-township-village-compartment-subcompartment, unique county-wide.
Between the surveys about 3 % of the sub-compartments were clear-cut and replanted (采伐蓄积), 1 %
were hit by fire or pests (受灾比例), 2 % are afforestation sites planted in 2016–2017, 0.5 % of the
2016 ids are gone in 2021 and 0.5 % of the 2021 ids are new. Total 2021 area {area21:,.2f} ha.

Regenerate: python -m tanhui.demo OUT_DIR --n {n16} --seed {seed}
"""


# --------------------------------------------------------------------------------------------
# Entry points


def build_demo(
    out_dir: Path,
    *,
    n: int = 20_000,
    seed: int = 2026,
    progress: Progress | None = None,
) -> DemoFiles:
    """Write the demo county's files into ``out_dir`` (created if needed) and describe them.

    ``n`` is the number of sub-compartments of the 2016 survey (≥ 500); ``seed`` decides every
    random draw. ``progress(stage, done, total)`` is called before each stage (``done`` = stages
    finished, ``total`` = number of stages) and once more with ``("done", total, total)``.
    Needs the ``gis`` extra (pyogrio, shapely, pyproj).
    """
    if n < MIN_ROWS:
        raise ValueError(f"n must be at least {MIN_ROWS} (got {n})")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda stage, done, total: None)
    total = len(STAGES)
    steps = iter(range(total))

    def stage(name: str) -> None:
        report(name, next(steps), total)

    import shapely

    d = _Draws(seed)
    stage("layout")
    county = _layout_county(d, n)
    stage("attributes")
    stands = _draw_stands(d, county)
    table16, table21 = _tables(county, stands)
    stage("polygons")
    polygons = _polygons(d, county, stands.area_ha)
    wkb = shapely.to_wkb(polygons)

    paths = {
        "csv_2016": out_dir / "xiaoban_2016.csv",
        "gpkg_2016": out_dir / "xiaoban_2016.gpkg",
        "csv_2021": out_dir / "xiaoban_2021.csv",
        "xlsx_2021": out_dir / "xiaoban_2021.xlsx",
        "parquet_2021": out_dir / "xiaoban_2021.parquet",
        "gpkg_2021": out_dir / "xiaoban_2021.gpkg",
        "shp_2021": out_dir / "xiaoban_2021.shp",
        "plots_2021": out_dir / "plots_2021.csv",
        "readme": out_dir / "README.txt",
    }
    for key in ("gpkg_2016", "gpkg_2021"):
        paths[key].unlink(missing_ok=True)
    for suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
        paths["shp_2021"].with_suffix(suffix).unlink(missing_ok=True)

    stage("csv")
    _write_csv(paths["csv_2016"], table16, "gbk")
    _write_csv(paths["csv_2021"], table21, "utf-8-sig")
    stage("xlsx")
    _write_xlsx(paths["xlsx_2021"], table21)
    stage("parquet")
    _write_parquet(paths["parquet_2021"], table21)
    stage("gpkg")
    _write_gis(
        paths["gpkg_2016"], table16, wkb[county.in_2016], driver="GPKG", layer="xiaoban_2016"
    )
    _write_gis(
        paths["gpkg_2021"], table21, wkb[county.in_2021], driver="GPKG", layer="xiaoban_2021"
    )
    stage("shapefile")
    _write_gis(
        paths["shp_2021"], table21, wkb[county.in_2021], driver="ESRI Shapefile", encoding="GBK"
    )
    stage("plots")
    paths["plots_2021"].write_text(_plots(d, table21), encoding="utf-8")

    n16, n21 = int(county.in_2016.sum()), int(county.in_2021.sum())
    area21 = float(stands.area_ha[county.in_2021].sum())
    paths["readme"].write_text(_readme(seed, n16, n21, area21), encoding="utf-8")
    report("done", total, total)
    both = county.in_2016 & county.in_2021
    return DemoFiles(
        out_dir=out_dir,
        **paths,
        seed=seed,
        rows_2016=n16,
        rows_2021=n21,
        matched=int(both.sum()),
        only_2016=int((county.in_2016 & ~county.in_2021).sum()),
        only_2021=int((county.in_2021 & ~county.in_2016).sum()),
        harvested=int(stands.harvested.sum()),
        disturbed=int(stands.disturbed.sum()),
        afforestation=int(stands.afforestation.sum()),
        area_2021_ha=round(area21, 2),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tanhui.demo",
        description="Write the fictional demo county's inventory files (示范县, 2016 and 2021).",
    )
    parser.add_argument("out_dir", type=Path, help="directory to write into (created if needed)")
    parser.add_argument("--n", type=int, default=20_000, help="sub-compartments in 2016")
    parser.add_argument("--seed", type=int, default=2026, help="random seed")
    args = parser.parse_args(argv)
    if args.n < MIN_ROWS:
        parser.error(f"--n must be at least {MIN_ROWS}")

    def show(stage: str, done: int, total: int) -> None:
        print(f"[{done}/{total}] {stage}", file=sys.stderr)

    start = time.perf_counter()
    files = build_demo(args.out_dir, n=args.n, seed=args.seed, progress=show)
    elapsed = time.perf_counter() - start
    print(
        f"{files.rows_2016} rows (2016), {files.rows_2021} rows (2021), "
        f"{files.area_2021_ha:,.2f} ha; {elapsed:.1f} s → {files.out_dir}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
