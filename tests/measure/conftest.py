"""Builders for the measure tests: hand-written Stands and random inventories for hypothesis.

The builders are handed out as session fixtures (``make_stands``, ``random_case``, ``fake_growth``)
so that test modules never import this file by name.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pytest

from tanhui.measure.methods.base import (
    MATCHED,
    ONLY_BASELINE,
    ONLY_CURRENT,
    MethodInputs,
    MethodOptions,
)
from tanhui.measure.params import ParameterSet, default_parameters
from tanhui.measure.stands import Stands

NUMBER_COLUMNS = (
    "area_ha",
    "volume_m3_per_ha",
    "age_years",
    "harvest_m3",
    "planned_harvest_m3",
    "disturbance_share",
    "nonforest_years",
)


def build_stands(
    survey_year: float | None = None, **columns: Sequence[float | str | None]
) -> Stands:
    """Stands from plain lists: floats (None → NaN) for number columns, labels (None → missing)
    for the others. Labels are coded in order of first appearance."""
    numbers: dict[str, np.ndarray] = {}
    codes: dict[str, np.ndarray] = {}
    labels: dict[str, tuple[str, ...]] = {}
    for name, values in columns.items():
        if name in NUMBER_COLUMNS:
            numbers[name] = np.array(
                [math.nan if v is None else float(v) for v in values], dtype=np.float64
            )
        else:
            seen: list[str] = []
            for v in values:
                if v is not None and v not in seen:
                    seen.append(str(v))
            codes[name] = np.array(
                [-1 if v is None else seen.index(str(v)) for v in values], dtype=np.int32
            )
            labels[name] = tuple(seen)
    return Stands(numbers, codes, labels, survey_year=survey_year)


class SchumacherGrowth:
    """A fake of tanhui.measure.growth: V1 = V0 · exp(−b_g (1/t1 − 1/t0)), NaN where b_g is NaN."""

    def __init__(self, b: np.ndarray) -> None:
        self.b = np.asarray(b, dtype=np.float64)

    def project(
        self, group_index: np.ndarray, age0: np.ndarray, volume0: np.ndarray, age1: np.ndarray
    ) -> np.ndarray:
        group_index = np.asarray(group_index, dtype=np.int64)
        ok = (group_index >= 0) & (age0 > 0) & (age1 > 0)
        b = np.where(ok, self.b[np.where(ok, group_index, 0)], np.nan)
        t0 = np.where(ok, age0, 1.0)
        t1 = np.where(ok, age1, 1.0)
        return volume0 * np.exp(-b * (1.0 / t1 - 1.0 / t0))

    def describe(self) -> dict[str, object]:
        return {"family": "schumacher (test fake)"}


def schumacher_for(params: ParameterSet, b: dict[str, float]) -> SchumacherGrowth:
    return SchumacherGrowth(np.array([b.get(g, math.nan) for g in params.groups]))


# ------------------------------------------------------------------------------ random inventories

GROUP_POOL = (
    "杉木",
    "马尾松",
    "桉树",
    "竹类",
    "栎类",
    "湿地松",
    "未知树种",  # not in the parameter set
    " 杉木 ",  # stray spaces, as typed in a spreadsheet
)
FOREST_TYPE_POOL = ("防护林", "特用林", "用材林", "经济林", "能源林", "经济林（果）")
LAND_TYPE_POOL = ("乔木林地", "宜林地", "城市绿化用地", "道路绿化带", "湿地", "耕地", " ")
PRIOR_LAND_POOL = (
    "宜林地",
    "无立木林地",
    "耕地",
    "草地",
    "荒山荒地",
    "疏林地",
    "乔木林地",
    "有林地",
    "竹林地",
    "特殊灌木林地",
    "沿海湿地",
    "",
)
TENURE_POOL = ("集体", "国有", "个人", "权属不清", "有争议", "未确权")
PERIODS: tuple[tuple[float, float] | None, ...] = (
    None,
    (2016.0, 2021.0),
    (2018.5, 2021.0),
    (2010.0, 2040.0),
    (2021.0, 2016.0),  # reversed: the methods that need a period must refuse it
)


def _numbers(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    def with_nan(values: np.ndarray, p: float) -> np.ndarray:
        return np.where(rng.random(n) < p, np.nan, values)

    area = rng.choice([0.03, 0.04, 0.05, 0.0667, 0.07, 1.0], n)
    area = np.where(rng.random(n) < 0.6, rng.uniform(0.01, 60.0, n), area)
    harvest = np.where(rng.random(n) < 0.3, 0.0, rng.uniform(0.0, 800.0, n))
    numbers = {
        "area_ha": with_nan(area, 0.08),
        "volume_m3_per_ha": with_nan(rng.uniform(0.0, 400.0, n), 0.2),
        "age_years": with_nan(np.where(rng.random(n) < 0.1, 0.0, rng.uniform(1.0, 90.0, n)), 0.15),
        "harvest_m3": with_nan(harvest, 0.3),
        "planned_harvest_m3": with_nan(rng.uniform(0.0, 1000.0, n), 0.3),
        "disturbance_share": with_nan(rng.uniform(0.0, 1.0, n), 0.5),
        "nonforest_years": with_nan(rng.choice([0.0, 1.0, 2.9, 3.0, 5.0, 12.0], n), 0.3),
    }
    # Drop a column now and then: methods must cope with columns the inventory does not have.
    for name in ("age_years", "harvest_m3", "planned_harvest_m3", "disturbance_share"):
        if rng.random() < 0.1:
            del numbers[name]
    return numbers


def _category(
    rng: np.random.Generator, n: int, pool: Sequence[str]
) -> tuple[np.ndarray, tuple[str, ...]]:
    size = int(rng.integers(1, len(pool) + 1))
    labels = tuple(str(x) for x in rng.permutation(np.array(pool, dtype=object))[:size])
    codes = rng.integers(-1, len(labels), n).astype(np.int32)
    return codes, labels


def random_stands(rng: np.random.Generator, n: int, survey_year: float | None) -> Stands:
    codes: dict[str, np.ndarray] = {}
    labels: dict[str, tuple[str, ...]] = {}
    for name, pool in (
        ("species_group", GROUP_POOL),
        ("forest_type", FOREST_TYPE_POOL),
        ("land_type", LAND_TYPE_POOL),
        ("prior_land_type", PRIOR_LAND_POOL),
        ("tenure", TENURE_POOL),
    ):
        if name != "species_group" and rng.random() < 0.08:
            continue  # column absent
        codes[name], labels[name] = _category(rng, n, pool)
    return Stands(_numbers(rng, n), codes, labels, survey_year=survey_year)


def blank_rows(stands: Stands, rows: np.ndarray) -> Stands:
    """What the edge does for rows absent from one inventory: NaN numbers, -1 codes."""
    return Stands(
        {k: np.where(rows, np.nan, v) for k, v in stands.numbers.items()},
        {k: np.where(rows, -1, v).astype(np.int32) for k, v in stands.codes.items()},
        stands.labels,
        stands.survey_year,
    )


@dataclass(frozen=True)
class Case:
    inputs: MethodInputs
    seed: int


def make_random_case(
    seed: int, n: int, *, baseline: str = "random", params: ParameterSet | None = None
) -> Case:
    """A random MethodInputs. ``baseline``: "yes", "no" or "random"."""
    rng = np.random.default_rng(seed)
    params = params or default_parameters()
    with_baseline = baseline == "yes" or (baseline == "random" and rng.random() < 0.7)
    current = random_stands(rng, n, survey_year=2021.0 if rng.random() < 0.5 else None)
    base = match = None
    if with_baseline:
        base = random_stands(rng, n, survey_year=2016.0 if rng.random() < 0.5 else None)
        match = rng.choice(
            np.array([MATCHED, ONLY_CURRENT, ONLY_BASELINE], dtype=np.int8), n, p=[0.7, 0.15, 0.15]
        )
        if rng.random() < 0.7:  # as the edge builds them; otherwise leave garbage to be ignored
            base = blank_rows(base, match == ONLY_CURRENT)
            current = blank_rows(current, match == ONLY_BASELINE)
    years = PERIODS[int(rng.integers(len(PERIODS)))]
    growth = schumacher_for(
        params, {"杉木": 12.0, "马尾松": 15.0, "栎类": 9.0, "竹类": 3.0, "湿地松": 14.0}
    )
    options = MethodOptions(
        year_from=None if years is None else years[0],
        year_to=None if years is None else years[1],
        reserve_share=float(rng.choice([0.0, 0.1, 0.25])),
        hwp_share=float(rng.choice([0.0, 0.3, 1.0])),
        baseline_growth_factor=float(rng.choice([0.0, 0.8, 1.0, 1.3])),
        growth=growth,
    )
    inputs = MethodInputs(current, params, options, baseline=base, match=match)
    return Case(inputs, seed)


@pytest.fixture(scope="session")
def params() -> ParameterSet:
    return default_parameters()


@pytest.fixture(scope="session")
def make_stands() -> Callable[..., Stands]:
    return build_stands


@pytest.fixture(scope="session")
def random_case() -> Callable[..., Case]:
    return make_random_case


@pytest.fixture(scope="session")
def fake_growth() -> Callable[[ParameterSet, dict[str, float]], SchumacherGrowth]:
    return schumacher_for
