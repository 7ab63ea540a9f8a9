"""Species parameters of the volume → carbon chain, as versioned package data with sources.

    tCO2e per m³ of growing stock = WD · BEF · (1 + R) · CF · 44/12

The default set ships in ``data/species_params.csv`` (values tagged "to confirm" in the reference).
A user parameter file (CSV, UTF-8) with a ``group_zh`` column and any subset of the value columns
overrides those values; every result names the parameter set and its hash.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from dataclasses import dataclass, replace
from importlib.resources import files
from pathlib import Path

import numpy as np

from tanhui.errors import InventoryError, ParameterError

CO2_PER_C = 44.0 / 12.0
DEFAULT_SET_NAME = "tanhui-species"
DEFAULT_SET_VERSION = "2026.1"

VALUE_COLUMNS = (
    "wood_density_t_per_m3",
    "bef",
    "root_shoot_ratio",
    "carbon_fraction",
    "default_rate_tco2e_per_mu_yr",
)
TEXT_COLUMNS = ("group_en", "status", "source")
# Plausible physical ranges; a value outside is almost always a typo or a unit mix-up.
VALUE_RANGES = {
    "wood_density_t_per_m3": (0.1, 1.5),
    "bef": (1.0, 4.0),
    "root_shoot_ratio": (0.0, 1.5),
    "carbon_fraction": (0.3, 0.6),
    "default_rate_tco2e_per_mu_yr": (0.0, 10.0),
}


@dataclass(frozen=True)
class ParameterSet:
    """Per species group parameters, aligned arrays in ``groups`` order."""

    name: str
    version: str
    groups: tuple[str, ...]
    values: dict[str, np.ndarray]  # VALUE_COLUMNS → float64 array (NaN = not available)
    texts: dict[str, tuple[str, ...]]  # TEXT_COLUMNS → labels
    overrides: tuple[str, ...] = ()  # "group.column=value" applied on top of the base set

    @property
    def hash(self) -> str:
        """sha256 of the canonical serialization: groups and values, rounded to 12 digits."""
        digest = hashlib.sha256()
        for i, group in enumerate(self.groups):
            cells = [group] + [_canonical_number(self.values[c][i]) for c in VALUE_COLUMNS]
            digest.update(("\t".join(cells) + "\n").encode())
        return digest.hexdigest()

    def index_of(self, group: str) -> int:
        try:
            return self.groups.index(group)
        except ValueError:
            raise ParameterError(
                f"参数表中没有树种组“{group}”。",
                f"The parameter set has no species group '{group}'.",
                hint_zh="在参数文件中为该树种组补充一行，或检查树种名称。",
                hint_en="Add a row for that group to your parameter file, or check the name.",
            ) from None

    def tco2e_per_m3(self) -> np.ndarray:
        """Expansion factor per group: tCO2e per m³ of growing stock (NaN if incomplete)."""
        v = self.values
        return (
            v["wood_density_t_per_m3"]
            * v["bef"]
            * (1.0 + v["root_shoot_ratio"])
            * v["carbon_fraction"]
            * CO2_PER_C
        )

    def for_labels(self, labels: tuple[str, ...]) -> np.ndarray:
        """Map category labels (e.g. an inventory's species groups) to indices into ``groups``."""
        return np.array([self.index_of(label) for label in labels], dtype=np.int64)

    def describe(self) -> dict[str, object]:
        """What provenance records about this set."""
        return {
            "name": self.name,
            "version": self.version,
            "hash": self.hash,
            "overrides": list(self.overrides),
        }

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["group_zh", "group_en", *VALUE_COLUMNS, "status", "source"])
        for i, group in enumerate(self.groups):
            writer.writerow(
                [group, self.texts["group_en"][i]]
                + [_canonical_number(self.values[c][i]) for c in VALUE_COLUMNS]
                + [self.texts["status"][i], self.texts["source"][i]]
            )
        return out.getvalue()


def _canonical_number(x: float) -> str:
    return "" if math.isnan(x) else repr(round(float(x), 12))


def _parse_table(text: str, origin: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames or "group_zh" not in reader.fieldnames:
        raise ParameterError(
            f"参数文件 {origin} 缺少“group_zh”列。",
            f"Parameter file {origin} has no 'group_zh' column.",
            hint_zh="第一行应为列名，至少包含 group_zh 和一个参数列。",
            hint_en="The first line must name the columns: group_zh and at least one value column.",
        )
    return list(reader.fieldnames), list(reader)


def _parse_value(cell: str, column: str, group: str, origin: str, line: int) -> float:
    cell = (cell or "").strip()
    if cell == "":
        return math.nan
    try:
        value = float(cell)
    except ValueError:
        raise ParameterError(
            f"{origin} 第 {line} 行 {column}={cell!r} 不是数字（树种组 {group}）。",
            f"{origin} line {line}: {column}={cell!r} is not a number (group {group}).",
        ) from None
    low, high = VALUE_RANGES[column]
    if not (low <= value <= high):
        raise ParameterError(
            f"{origin} 第 {line} 行 {column}={value} 超出 [{low}, {high}]（树种组 {group}）。",
            f"{origin} line {line}: {column}={value} is outside [{low}, {high}] (group {group}).",
            hint_zh="检查单位与小数点。",
            hint_en="Check the unit and the decimal point.",
        )
    return value


def default_parameters() -> ParameterSet:
    """The parameter set shipped with tanhui."""
    text = files("tanhui.measure").joinpath("data/species_params.csv").read_text("utf-8")
    _, rows = _parse_table(text, "species_params.csv")
    groups = tuple(r["group_zh"].strip() for r in rows)
    values = {
        c: np.array(
            [
                _parse_value(r[c], c, g, "species_params.csv", i + 2)
                for i, (r, g) in enumerate(zip(rows, groups, strict=True))
            ],
            dtype=np.float64,
        )
        for c in VALUE_COLUMNS
    }
    texts = {c: tuple(r.get(c, "") for r in rows) for c in TEXT_COLUMNS}
    return ParameterSet(DEFAULT_SET_NAME, DEFAULT_SET_VERSION, groups, values, texts)


def load_parameters(path: str | Path | None = None) -> ParameterSet:
    """The default set, with the values of a user parameter file applied on top when given.

    Rows of the user file name a group (``group_zh``); new groups are added. Empty cells keep the
    default value. The returned set is named after the file and carries the list of overrides.
    """
    base = default_parameters()
    if path is None:
        return base
    path = Path(path)
    from tanhui.inventory.encoding import decode_bytes  # here: tanhui.inventory imports this module

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ParameterError(
            f"找不到参数文件 {path}。", f"Parameter file {path} not found."
        ) from None
    try:
        text, _encoding = decode_bytes(data, str(path))
    except InventoryError as exc:
        raise ParameterError(
            f"参数文件 {path} 无法解码（应为 UTF-8 或 GBK）。",
            f"Parameter file {path} cannot be decoded (expected UTF-8 or GBK).",
            hint_zh=exc.problems[0].reason("zh"),
            hint_en=exc.problems[0].reason("en"),
        ) from None
    fieldnames, rows = _parse_table(text, str(path))
    unknown = [f for f in fieldnames if f not in ("group_zh", *VALUE_COLUMNS, *TEXT_COLUMNS)]
    if unknown:
        raise ParameterError(
            f"参数文件 {path} 有未知列：{', '.join(unknown)}。",
            f"Parameter file {path} has unknown columns: {', '.join(unknown)}.",
            hint_zh=f"可用的列：group_zh, {', '.join(VALUE_COLUMNS)}。",
            hint_en=f"Known columns: group_zh, {', '.join(VALUE_COLUMNS)}.",
        )
    groups = list(base.groups)
    values = {c: list(base.values[c]) for c in VALUE_COLUMNS}
    texts = {c: list(base.texts[c]) for c in TEXT_COLUMNS}
    overrides: list[str] = []
    for line, row in enumerate(rows, start=2):
        group = (row.get("group_zh") or "").strip()
        if not group:
            raise ParameterError(
                f"{path} 第 {line} 行缺少树种组（group_zh）。",
                f"{path} line {line}: the species group (group_zh) is empty.",
            )
        if group not in groups:
            groups.append(group)
            for c in VALUE_COLUMNS:
                values[c].append(math.nan)
            for c in TEXT_COLUMNS:
                texts[c].append("")
        i = groups.index(group)
        for c in VALUE_COLUMNS:
            if c in row and (row[c] or "").strip():
                values[c][i] = _parse_value(row[c], c, group, str(path), line)
                overrides.append(f"{group}.{c}={values[c][i]!r}")
        texts["status"][i] = row.get("status") or f"user file {path.name}"
        texts["source"][i] = row.get("source") or f"user file {path.name}"
        if row.get("group_en"):
            texts["group_en"][i] = row["group_en"]
    return replace(
        base,
        name=f"{base.name}+{path.name}",
        groups=tuple(groups),
        values={c: np.array(v, dtype=np.float64) for c, v in values.items()},
        texts={c: tuple(v) for c, v in texts.items()},
        overrides=tuple(overrides),
    )
