"""Ex-ante growth projection: growth curves per species group, anchored at each observed stand.

Pure: NumPy and the standard library (the yield-table reader decodes with
:func:`tanhui.inventory.encoding.decode_bytes`). See ``reference/measurement.md``.

Families (V: growing stock in m³/ha, t: age in years):

* Richards   V = a (1 − e^(−b t))^c
* Schumacher V = a e^(−b / t)
* yield table: user-supplied (age → volume) points per group.

A stand observed at (t0, V0) is projected with the algebraic-difference form, which reproduces the
observation exactly (V(t0) = V0) and is path invariant (t0 → t1 → t2 equals t0 → t2):

* Richards (common asymptote a, stand-specific c)::

      V1 = a · (V0/a)^( ln(1 − e^(−b t1)) / ln(1 − e^(−b t0)) )

* Schumacher (stand-specific a)::

      V1 = V0 · exp(−b (1/t1 − 1/t0))

* yield table, proportional::

      V1 = V0 · Y(t1) / Y(t0)

  Y is interpolated linearly between the tabulated ages. Below the first tabulated age it is
  interpolated linearly from (0, 0) (a stand has no volume at age 0); beyond the last age it is
  held flat at the last volume (the table says nothing about older stands, so no further growth
  is assumed).

Rules shared by every family (``project``, ``project_years`` and ``project_naive`` agree on them):

* NaN where a row cannot be projected: group index outside the list or without a curve, age0 or
  age1 missing or ≤ 0, V0 missing or negative; with a yield table also where Y(t0) = 0 < V0.
* V0 = 0 stays 0: the anchored forms scale the observation, they cannot grow a stand from nothing
  (use a yield table or a planting model for bare land).
* Richards with V0 ≥ a (at or above the group's asymptote) is held at V0; the form would
  otherwise make the stand shrink towards a.
* age1 < age0 is allowed: it gives the volume the curve implies at the earlier age (useful for
  reconstructing a baseline).

Ex-ante projections are not discounted (AR-TOOL14 applies to measured stocks only).
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from tanhui.errors import InventoryError, MethodError, Problem
from tanhui.i18n import Lang, pick

RICHARDS = "richards"
SCHUMACHER = "schumacher"
TABLE = "table"
NONE = ""
FAMILIES = (RICHARDS, SCHUMACHER, TABLE)
_CODE = {NONE: 0, RICHARDS: 1, SCHUMACHER: 2, TABLE: 3}
_LN2 = math.log(2.0)
_CHUNK_ROWS = 8192  # rows per block in project_years: keeps temporaries in cache

Family = Literal["richards", "schumacher"]


# --------------------------------------------------------------------------------------------
# Numerics shared by the vectorized and the naive versions
# --------------------------------------------------------------------------------------------


def _log1mexp(x: np.ndarray) -> np.ndarray:
    """ln(1 − e^(−x)) for x > 0, accurate at both ends (Mächler 2012)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    e = np.exp(-x)
    small = e >= 0.5  # x ≤ ln 2: 1 − e^(−x) is small, take it from expm1
    np.log(-np.expm1(-x, where=small, out=np.zeros_like(x)), where=small, out=out)
    np.log1p(-e, where=~small, out=out)
    return out


def _log1mexp_scalar(x: float) -> float:
    e = math.exp(-x)
    if e >= 0.5:
        return math.log(-math.expm1(-x))
    return math.log1p(-e)


def _augment(ages: np.ndarray, volumes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The table with (0, 0) prepended when it starts after age 0."""
    if ages[0] > 0:
        return np.concatenate(([0.0], ages)), np.concatenate(([0.0], volumes))
    return ages, volumes


def _canonical(x: float) -> float | None:
    x = float(x)
    return None if math.isnan(x) else float(f"{x:.12g}")


# --------------------------------------------------------------------------------------------
# Curves
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GrowthCurves:
    """Growth curves per group, aligned to ``groups`` (e.g. a ParameterSet's or an inventory's).

    ``families[i]``: ``"richards"``, ``"schumacher"``, ``"table"`` or ``""`` (no curve).
    ``coefficients[i]``: (a, b, c) as float64; NaN where unused (c for Schumacher, all for tables)
    — a curve family whose coefficients are NaN counts as no curve. ``tables[i]``: (ages,
    volumes) for ``"table"`` groups, else None. ``source``: where the curves come from ("fitted
    from 1234 rows", "yield table 杉木.csv", …).
    """

    groups: tuple[str, ...]
    families: tuple[str, ...]
    coefficients: np.ndarray
    tables: tuple[tuple[np.ndarray, np.ndarray] | None, ...] = ()
    source: str = ""
    _codes: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        g = len(self.groups)
        coef = np.array(self.coefficients, dtype=np.float64, copy=True).reshape(g, 3)
        tables = self.tables or (None,) * g
        if len(self.families) != g or len(tables) != g:
            raise MethodError(
                "生长曲线的树种组、曲线类型和收获表数量不一致。",
                "Growth curves: groups, families and tables differ in length.",
            )
        codes = np.zeros(g, dtype=np.int8)
        for i, (group, fam) in enumerate(zip(self.groups, self.families, strict=True)):
            if fam not in _CODE:
                raise MethodError(
                    f"树种组“{group}”的生长曲线类型“{fam}”未知。",
                    f"Unknown growth curve family '{fam}' for group '{group}'.",
                    hint_zh=f"可用：{', '.join(FAMILIES)}。",
                    hint_en=f"Known families: {', '.join(FAMILIES)}.",
                )
            a, b, c = coef[i]
            needed = {RICHARDS: (a, b, c), SCHUMACHER: (b,), TABLE: (), NONE: ()}[fam]
            if fam == TABLE:
                if tables[i] is None:
                    raise MethodError(
                        f"树种组“{group}”缺少收获表。", f"Group '{group}' has no yield table."
                    )
                ages, vols = _check_table(group, *tables[i])
                tables = (*tables[:i], (ages, vols), *tables[i + 1 :])
                codes[i] = _CODE[TABLE]
            elif fam in (RICHARDS, SCHUMACHER):
                if any(math.isnan(v) for v in needed):
                    continue  # NaN coefficients: no curve for this group
                if not all(math.isfinite(v) and v > 0 for v in needed) or (
                    fam == SCHUMACHER and not (math.isnan(a) or (math.isfinite(a) and a > 0))
                ):
                    raise MethodError(
                        f"树种组“{group}”的 {fam} 系数必须为正数：a={a}, b={b}, c={c}。",
                        f"The {fam} coefficients of group '{group}' must be positive: "
                        f"a={a}, b={b}, c={c}.",
                    )
                codes[i] = _CODE[fam]
        coef.setflags(write=False)
        object.__setattr__(self, "coefficients", coef)
        object.__setattr__(self, "tables", tuple(tables))
        object.__setattr__(self, "_codes", codes)

    # ---- construction helpers -------------------------------------------------------------

    @classmethod
    def from_coefficients(
        cls,
        curves: Mapping[str, Sequence[Any]],
        groups: Sequence[str] | None = None,
        *,
        source: str = "user coefficients",
    ) -> GrowthCurves:
        """Curves from ``{group: ("richards", a, b, c) | ("schumacher", a, b)}``.

        ``groups`` fixes the order (groups without an entry get no curve); default: the keys.
        """
        groups = tuple(groups) if groups is not None else tuple(curves)
        families: list[str] = []
        coef = np.full((len(groups), 3), np.nan)
        for i, group in enumerate(groups):
            spec = curves.get(group)
            if spec is None:
                families.append(NONE)
                continue
            fam, *values = spec
            if fam not in (RICHARDS, SCHUMACHER) or len(values) != (3 if fam == RICHARDS else 2):
                raise MethodError(
                    f"树种组“{group}”的曲线应为 (richards, a, b, c) 或 (schumacher, a, b)。",
                    f"The curve of group '{group}' must be (richards, a, b, c) or "
                    "(schumacher, a, b).",
                )
            families.append(fam)
            coef[i, : len(values)] = values
        return cls(groups, tuple(families), coef, source=source)

    def aligned(self, groups: Sequence[str]) -> GrowthCurves:
        """The same curves re-indexed to another group list (unknown groups: no curve)."""
        groups = tuple(groups)
        pos = {g: i for i, g in enumerate(self.groups)}
        coef = np.full((len(groups), 3), np.nan)
        families: list[str] = []
        tables: list[tuple[np.ndarray, np.ndarray] | None] = []
        for k, g in enumerate(groups):
            i = pos.get(g)
            if i is None:
                families.append(NONE)
                tables.append(None)
                continue
            families.append(self.families[i])
            tables.append(self.tables[i])
            coef[k] = self.coefficients[i]
        return GrowthCurves(groups, tuple(families), coef, tuple(tables), self.source)

    def index_for(self, labels: Sequence[str]) -> np.ndarray:
        """Indices into ``groups`` for category labels (−1 where the label is not a group)."""
        pos = {g: i for i, g in enumerate(self.groups)}
        return np.array([pos.get(str(label), -1) for label in labels], dtype=np.int64)

    def has_curve(self) -> np.ndarray:
        """Boolean per group: whether it has a usable curve."""
        return self._codes > 0

    # ---- provenance -----------------------------------------------------------------------

    def _description(self) -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        for i, group in enumerate(self.groups):
            code = int(self._codes[i])
            fam = (NONE, RICHARDS, SCHUMACHER, TABLE)[code]
            entry: dict[str, Any] = {"group": group, "family": fam or None}
            if code in (1, 2):
                a, b, c = self.coefficients[i]
                entry.update(a=_canonical(a), b=_canonical(b))
                if code == 1:
                    entry["c"] = _canonical(c)
            elif code == 3:
                ages, vols = self.tables[i]  # type: ignore[misc]
                entry["ages"] = [_canonical(x) for x in ages]
                entry["volumes"] = [_canonical(x) for x in vols]
            rows.append(entry)
        return {"source": self.source, "groups": rows}

    @property
    def hash(self) -> str:
        """sha256 of the canonical description (numbers to 12 significant digits)."""
        text = json.dumps(
            self._description(), sort_keys=True, ensure_ascii=False, separators=(",", ":")
        )
        return hashlib.sha256(text.encode()).hexdigest()

    def describe(self) -> dict[str, Any]:
        """What provenance records: source, family and coefficients per group, and the hash."""
        out = self._description()
        out["hash"] = self.hash
        return out

    # ---- projection -----------------------------------------------------------------------

    def _row_inputs(
        self, group_index: Any, age0: Any, volume0: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        gi = np.asarray(group_index)
        if gi.dtype.kind not in "iu":
            raise MethodError(
                "group_index 必须是整数数组。", "group_index must be an integer array."
            )
        gi = gi.astype(np.int64, copy=False)
        t0 = np.asarray(age0, dtype=np.float64)
        v0 = np.asarray(volume0, dtype=np.float64)
        in_range = (gi >= 0) & (gi < len(self.groups))
        code = np.where(in_range, self._codes[np.where(in_range, gi, 0)], 0)
        return gi, t0, v0, code

    def project(self, group_index: Any, age0: Any, volume0: Any, age1: Any) -> np.ndarray:
        """Volume (m³/ha) at ``age1`` of stands observed at (``age0``, ``volume0``).

        Inputs broadcast against each other (e.g. a scalar ``age1``). NaN where not projectable
        (see the module notes for the rules).
        """
        gi, t0, v0, t1 = np.broadcast_arrays(
            np.asarray(group_index),
            np.asarray(age0, dtype=np.float64),
            np.asarray(volume0, dtype=np.float64),
            np.asarray(age1, dtype=np.float64),
        )
        shape = gi.shape
        gi, t0, v0, code = self._row_inputs(gi.ravel(), t0.ravel(), v0.ravel())
        t1 = t1.ravel()
        out = np.full(gi.shape, np.nan)
        ok = (t0 > 0) & (t1 > 0) & (v0 >= 0)  # False for NaN
        zero = ok & (v0 == 0) & (code > 0)
        out[zero] = 0.0
        ok &= v0 > 0

        m = ok & (code == _CODE[RICHARDS])
        if m.any():
            g = gi[m]
            a, b = self.coefficients[g, 0], self.coefficients[g, 1]
            vv, x0, x1 = v0[m], b * t0[m], b * t1[m]
            l0, l1 = _log1mexp(x0), _log1mexp(x1)
            with np.errstate(all="ignore"):
                res = a * np.exp((l1 / l0) * (np.log(vv) - np.log(a)))
            # Exactly V0 at t1 = t0; held at V0 at or above the asymptote.
            out[m] = np.where((vv >= a) | (t1[m] == t0[m]), vv, res)

        m = ok & (code == _CODE[SCHUMACHER])
        if m.any():
            b = self.coefficients[gi[m], 1]
            with np.errstate(over="ignore", under="ignore"):
                out[m] = v0[m] * np.exp(b / t0[m] - b / t1[m])

        m = ok & (code == _CODE[TABLE])
        if m.any():
            for g in np.unique(gi[m]):
                mg = m & (gi == g)
                ages, vols = _augment(*self.tables[g])  # type: ignore[misc]
                y0 = np.interp(t0[mg], ages, vols)
                y1 = np.interp(t1[mg], ages, vols)
                with np.errstate(divide="ignore", invalid="ignore"):
                    out[mg] = np.where(y0 > 0, v0[mg] * (y1 / y0), np.nan)
        return out.reshape(shape)

    def project_years(self, group_index: Any, age0: Any, volume0: Any, years: Any) -> np.ndarray:
        """Volumes ``years`` ahead: shape (n_rows, n_years), column j at age0 + years[j].

        Equals ``project(group_index, age0, volume0, age0 + years[j])`` for every j, to rounding
        (about 1e-14 relative for forward projections): the Richards term is assembled from
        per-row and per-year factors, 1 − e^(−b(t0+y)) = (1 − e^(−b t0)) + e^(−b t0)(1 − e^(−b y))
        (or e^(−b t0)·e^(−b y) for its complement), so each cell costs one log and one exp. Rows
        are processed group by group in blocks so that temporaries stay small; the result itself
        is n_rows × n_years float64 (1e6 × 40 = 320 MB).
        """
        gi, t0, v0, code = self._row_inputs(
            np.asarray(group_index).ravel(),
            np.asarray(age0, dtype=np.float64).ravel(),
            np.asarray(volume0, dtype=np.float64).ravel(),
        )
        if not (gi.shape == t0.shape == v0.shape):
            raise MethodError(
                "group_index、age0 和 volume0 的长度不一致。",
                "group_index, age0 and volume0 differ in length.",
            )
        y = np.asarray(years, dtype=np.float64).ravel()
        n, k = gi.size, y.size
        out = np.full((n, k), np.nan)
        if n == 0 or k == 0:
            return out
        row_ok = (t0 > 0) & (v0 >= 0) & (code > 0)
        for g in np.flatnonzero(self._codes > 0):
            rows = np.flatnonzero(row_ok & (gi == g))
            for start in range(0, rows.size, _CHUNK_ROWS):
                idx = rows[start : start + _CHUNK_ROWS]
                out[idx] = self._block(int(g), t0[idx], v0[idx], y)
        return out

    def _block(self, g: int, t0: np.ndarray, v0: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Projection of one block of rows of group ``g`` (all with t0 > 0, V0 ≥ 0)."""
        t1 = t0[:, None] + y[None, :]
        code = int(self._codes[g])
        a, b, _ = self.coefficients[g]
        with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
            if code == _CODE[RICHARDS]:
                x0 = b * t0
                e0 = np.exp(-x0)
                m0 = -np.expm1(-x0)
                l0 = _log1mexp(x0)
                coef = (np.log(v0) - np.log(a)) / l0  # +inf for V0 = 0, fixed below
                ey = np.exp(-b * y)
                my = -np.expm1(-b * y)
                z = e0[:, None] * ey[None, :]  # e^(−b t1)
                small = z >= 0.5  # b t1 ≤ ln 2: take 1 − e^(−b t1) = m0 + e0·my
                res = np.empty_like(z)
                np.log1p(-z, where=~small, out=res)
                np.multiply(e0[:, None], my[None, :], out=z)
                z += m0[:, None]
                np.log(z, where=small, out=res)
                res *= coef[:, None]  # ln(1 − e^(−b t1)) / ln(1 − e^(−b t0)) · ln(V0/a)
                np.exp(res, out=res)
                res *= a
                same = t1 == t0[:, None]
                if same.any():
                    res[same] = np.broadcast_to(v0[:, None], res.shape)[same]
                flat = v0 >= a
                res[flat] = v0[flat, None]
            elif code == _CODE[SCHUMACHER]:
                res = np.divide(b, t1)
                np.subtract((b / t0)[:, None], res, out=res)
                np.exp(res, out=res)
                res *= v0[:, None]
            else:
                ages, vols = _augment(*self.tables[g])  # type: ignore[misc]
                y0 = np.interp(t0, ages, vols)
                res = np.interp(t1, ages, vols)
                res /= np.where(y0 > 0, y0, np.nan)[:, None]  # Y(t1)/Y(t0) first: exact at y = 0
                res *= v0[:, None]
            res[v0 == 0] = 0.0
            res[t1 <= 0] = np.nan
        return res

    def project_naive(self, group_index: Any, age0: Any, volume0: Any, age1: Any) -> np.ndarray:
        """The reference: a per-row Python loop over the closed forms with the ``math`` module.

        1-D inputs of equal length (or scalars broadcast to them).
        """
        gi, t0s, v0s, t1s = np.broadcast_arrays(
            np.asarray(group_index),
            np.asarray(age0, dtype=np.float64),
            np.asarray(volume0, dtype=np.float64),
            np.asarray(age1, dtype=np.float64),
        )
        out = np.full(gi.shape, np.nan)
        for i, (g, t0, v0, t1) in enumerate(
            zip(
                gi.ravel().tolist(),
                t0s.ravel().tolist(),
                v0s.ravel().tolist(),
                t1s.ravel().tolist(),
                strict=True,
            )
        ):
            if not (0 <= g < len(self.groups)) or self._codes[g] == 0:
                continue
            if not (t0 > 0 and t1 > 0 and v0 >= 0):
                continue
            if v0 == 0:
                out.flat[i] = 0.0
                continue
            fam = self.families[g]
            a, b, _ = (float(v) for v in self.coefficients[g])
            if fam == RICHARDS:
                if v0 >= a:
                    out.flat[i] = v0
                    continue
                if t1 == t0:
                    out.flat[i] = v0
                    continue
                ratio = _log1mexp_scalar(b * t1) / _log1mexp_scalar(b * t0)
                out.flat[i] = a * (v0 / a) ** ratio  # 0 < V0/a < 1 and ratio > 0: no overflow
            elif fam == SCHUMACHER:
                try:
                    out.flat[i] = v0 * math.exp(-b * (1.0 / t1 - 1.0 / t0))
                except OverflowError:
                    out.flat[i] = math.inf
            else:
                ages, vols = self.tables[g]  # type: ignore[misc]
                y0 = _interp_scalar(t0, ages.tolist(), vols.tolist())
                y1 = _interp_scalar(t1, ages.tolist(), vols.tolist())
                out.flat[i] = v0 * y1 / y0 if y0 > 0 else math.nan
        return out


def _interp_scalar(t: float, ages: list[float], vols: list[float]) -> float:
    """Y(t): linear from (0, 0) to the first point, linear between points, flat after the last."""
    if ages[0] > 0:
        ages, vols = [0.0, *ages], [0.0, *vols]
    if t <= ages[0]:
        return vols[0]
    if t >= ages[-1]:
        return vols[-1]
    j = bisect.bisect_right(ages, t)
    t_lo, t_hi, v_lo, v_hi = ages[j - 1], ages[j], vols[j - 1], vols[j]
    return v_lo + (v_hi - v_lo) * (t - t_lo) / (t_hi - t_lo)


# --------------------------------------------------------------------------------------------
# Yield tables
# --------------------------------------------------------------------------------------------


def _check_table(group: str, ages: Any, volumes: Any) -> tuple[np.ndarray, np.ndarray]:
    ages = np.array(ages, dtype=np.float64).ravel()
    vols = np.array(volumes, dtype=np.float64).ravel()
    problem = None
    if ages.size != vols.size:
        problem = ("年龄与蓄积的个数不一致", "ages and volumes differ in length")
    elif ages.size < 2:
        problem = ("至少需要 2 个年龄", "at least 2 ages are needed")
    elif not (np.all(np.isfinite(ages)) and np.all(np.isfinite(vols))):
        problem = ("含有缺失或非数字的值", "it has missing or non-numeric values")
    elif ages[0] < 0 or np.any(np.diff(ages) <= 0):
        problem = ("年龄必须非负且严格递增", "ages must be non-negative and strictly increasing")
    elif np.any(vols < 0):
        problem = ("蓄积不能为负数", "volumes cannot be negative")
    elif not np.any(vols > 0):
        problem = ("蓄积全部为 0", "all volumes are 0")
    if problem:
        raise MethodError(
            f"树种组“{group}”的收获表无效：{problem[0]}。",
            f"The yield table of group '{group}' is invalid: {problem[1]}.",
        )
    ages.setflags(write=False)
    vols.setflags(write=False)
    return ages, vols


def yield_table_curves(
    tables: Mapping[str, tuple[Any, Any]],
    groups: Sequence[str],
    *,
    source: str = "yield table",
) -> GrowthCurves:
    """Curves from yield tables ``{group: (ages, volumes)}`` aligned to ``groups``.

    Groups without a table get no curve; tables of groups not in ``groups`` are ignored.
    """
    groups = tuple(groups)
    tabs = tuple(_check_table(g, *tables[g]) if g in tables else None for g in groups)
    families = tuple(TABLE if t is not None else NONE for t in tabs)
    return GrowthCurves(groups, families, np.full((len(groups), 3), np.nan), tabs, source)


_YT_ALIASES = {
    "group": ("group", "树种组", "species_group"),
    "age": ("age", "年龄", "age_years"),
    "volume_m3_per_ha": ("volume_m3_per_ha", "每公顷蓄积", "蓄积", "volume"),
}


def read_yield_table(
    path: str | Path, encoding: str | None = None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read a yield-table CSV: columns ``group``/树种组, ``age``/年龄,
    ``volume_m3_per_ha``/每公顷蓄积, one row per (group, age), ages increasing within a group.

    Raises :class:`InventoryError` listing every problem (row 1 = header). Pass the result to
    :func:`yield_table_curves` with ``source=f"yield table {Path(path).name}"``.
    """
    from tanhui.inventory.encoding import decode_bytes  # the file edge; the kernels stay pure

    path = Path(path)
    source = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InventoryError(
            source,
            [
                Problem(
                    "file_not_found", "找不到文件，请检查路径。", "File not found; check the path."
                )
            ],
        ) from None
    text, _ = decode_bytes(data, source, encoding)
    records = list(csv.reader(io.StringIO(text)))
    problems: list[Problem] = []
    header = [(h or "").replace("\ufeff", "").strip() for h in (records[0] if records else [])]
    rows = [(i + 1, r) for i, r in enumerate(records) if i > 0 and any(c.strip() for c in r)]
    if not rows:
        raise InventoryError(
            source,
            [
                Problem(
                    "empty_file",
                    "文件为空或没有数据行。第一行应为列名：树种组, 年龄, 每公顷蓄积。",
                    "The file is empty or has no data rows. The first row must name the columns: "
                    "group, age, volume_m3_per_ha.",
                )
            ],
        )
    where: dict[str, int] = {}
    for j, h in enumerate(header):
        for canonical, names in _YT_ALIASES.items():
            if h.lower() in names and canonical not in where:
                where[canonical] = j
    for canonical, names in _YT_ALIASES.items():
        if canonical not in where:
            problems.append(
                Problem(
                    "missing_column",
                    f"缺少列（可用列名：{'、'.join(names)}）。",
                    f"Missing column (accepted headers: {', '.join(names)}).",
                    row=1,
                    column=canonical,
                )
            )
    if problems:
        raise InventoryError(source, problems)

    def cell(rec: list[str], c: str) -> str:
        j = where[c]
        return rec[j].strip() if j < len(rec) else ""

    out: dict[str, tuple[list[float], list[float]]] = {}
    last_age: dict[str, tuple[int, float]] = {}
    for row, rec in rows:
        group = cell(rec, "group")
        if not group:
            problems.append(
                Problem(
                    "missing_value",
                    "树种组为空。",
                    "The group is empty.",
                    row=row,
                    column=header[where["group"]],
                    value="",
                )
            )
        values: dict[str, float] = {}
        for c, zh, en in (("age", "年龄", "age"), ("volume_m3_per_ha", "蓄积", "volume")):
            raw = cell(rec, c)
            try:
                v = float(raw)
            except ValueError:
                v = math.nan
            if not math.isfinite(v):
                problems.append(
                    Problem(
                        "not_a_number",
                        f"{zh}“{raw}”不是数字。",
                        f"The {en} '{raw}' is not a number.",
                        row=row,
                        column=header[where[c]],
                        value=raw,
                    )
                )
            elif v < 0:
                problems.append(
                    Problem(
                        "negative_value",
                        f"{zh}不能为负数。",
                        f"The {en} cannot be negative.",
                        row=row,
                        column=header[where[c]],
                        value=raw,
                    )
                )
            values[c] = v
        if not group:
            continue
        age = values["age"]
        prev = last_age.get(group)
        if math.isfinite(age):
            if prev is not None and age <= prev[1]:
                problems.append(
                    Problem(
                        "age_not_increasing",
                        f"树种组“{group}”的年龄 {age:g} 不大于第 {prev[0]} 行的 {prev[1]:g}；"
                        "同一树种组的年龄应严格递增。",
                        f"Age {age:g} of group '{group}' is not greater than {prev[1]:g} on row "
                        f"{prev[0]}; ages must increase within a group.",
                        row=row,
                        column=header[where["age"]],
                        value=cell(rec, "age"),
                    )
                )
            else:
                last_age[group] = (row, age)
        ages, vols = out.setdefault(group, ([], []))
        ages.append(age)
        vols.append(values["volume_m3_per_ha"])
    for group, (ages, _) in out.items():
        if len(ages) < 2:
            problems.append(
                Problem(
                    "too_few_ages",
                    f"树种组“{group}”的收获表只有 1 个年龄，至少需要 2 个。",
                    f"The yield table of group '{group}' has a single age; at least 2 are needed.",
                    column=header[where["group"]],
                    value=group,
                )
            )
    if problems:
        raise InventoryError(source, problems)
    return {g: (np.array(a), np.array(v)) for g, (a, v) in out.items()}


# --------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------

_NOTES = {
    "": ("", ""),
    "too_few_rows": ("数据行数不足，未拟合曲线", "too few rows; no curve fitted"),
    "richards_fallback": (
        "Richards 模型未收敛，改用 Schumacher 模型",
        "Richards did not converge; Schumacher fitted instead",
    ),
    "fit_failed": (
        "拟合失败（年龄范围不足或生长趋势不合理），未拟合曲线",
        "fit failed (too narrow an age range or no growth trend); no curve",
    ),
}


@dataclass(frozen=True)
class GroupFit:
    """The fit of one group: rows used, family used (None = no curve), fit statistics.

    RMSE and R² are on the volume scale (m³/ha), for either family.
    """

    group: str
    n: int
    family: str | None
    converged: bool
    rmse: float
    r2: float
    iterations: int
    note: str  # "", "too_few_rows", "richards_fallback", "fit_failed"
    coefficients: tuple[float, float, float]

    def reason(self, lang: Lang | None = None) -> str:
        zh, en = _NOTES[self.note]
        return pick(zh, en, lang)


@dataclass(frozen=True)
class FitReport:
    """What ``fit_curves`` did for each group."""

    family: str
    min_rows: int
    groups: tuple[GroupFit, ...]

    @property
    def skipped(self) -> tuple[str, ...]:
        """Groups left without a curve."""
        return tuple(g.group for g in self.groups if g.family is None)

    def to_dict(self, lang: Lang | None = None) -> dict[str, Any]:
        return {
            "family": self.family,
            "min_rows": self.min_rows,
            "groups": [asdict(g) | {"reason": g.reason(lang)} for g in self.groups],
        }


def _stats(v: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    res = v - pred
    sse = float(np.dot(res, res))
    dev = v - v.mean()
    sst = float(np.dot(dev, dev))
    rmse = math.sqrt(sse / v.size)
    r2 = 1.0 - sse / sst if sst > 0 else math.nan
    return rmse, r2


def _fit_schumacher(t: np.ndarray, v: np.ndarray) -> tuple[float, float] | None:
    """Least squares on ln V = ln a − b/t (rows with V > 0); None when not identifiable."""
    pos = v > 0
    if pos.sum() < 3 or np.ptp(t[pos]) == 0:
        return None
    x = np.column_stack((np.ones(pos.sum()), -1.0 / t[pos]))
    (ln_a, b), *_ = np.linalg.lstsq(x, np.log(v[pos]), rcond=None)
    if not (math.isfinite(ln_a) and math.isfinite(b) and b > 0 and ln_a < 700):
        return None
    return math.exp(ln_a), float(b)


def _richards(theta: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Model values and the Jacobian with respect to (ln a, ln b, ln c)."""
    a, b, c = np.exp(theta)
    bt = b * t
    u = -np.expm1(-bt)
    lnu = _log1mexp(bt)
    f = a * np.exp(c * lnu)
    jac = np.empty((t.size, 3))
    jac[:, 0] = f
    jac[:, 1] = f * c * bt * np.exp(-bt) / u
    jac[:, 2] = f * c * lnu
    return f, jac


def _richards_start(t: np.ndarray, v: np.ndarray) -> list[np.ndarray]:
    """Starting points (ln a, ln b, ln c), best first by residual sum of squares."""
    q = float(np.quantile(v, 0.95))
    vmax = float(v.max())
    starts = []
    for a in sorted({max(q * f, vmax * 1.05) for f in (1.1, 1.5, 2.5)}):
        for c in (1.0, 2.0, 3.0):
            ok = (v > 0) & (v < a)
            if ok.sum() < 3:
                continue
            bi = -np.log1p(-((v[ok] / a) ** (1.0 / c))) / t[ok]
            b = float(np.median(bi))
            if not (math.isfinite(b) and b > 0):
                continue
            theta = np.log([a, b, c])
            f, _ = _richards(theta, t)
            sse = float(np.sum((v - f) ** 2))
            if math.isfinite(sse):
                starts.append((sse, theta))
    starts.sort(key=lambda s: s[0])
    return [s[1] for s in starts]


def _levenberg_marquardt(
    theta: np.ndarray, t: np.ndarray, v: np.ndarray, max_iter: int = 500
) -> tuple[np.ndarray, bool, int]:
    """Levenberg–Marquardt with Marquardt's diagonal scaling on (ln a, ln b, ln c).

    Working in logs keeps a, b, c > 0. Converged when an accepted step changes every log
    parameter by less than 1e-10 or the sum of squares stops decreasing (relative 1e-15).
    """
    f, jac = _richards(theta, t)
    r = v - f
    sse = float(np.dot(r, r))
    lam = 1e-3
    for it in range(1, max_iter + 1):
        jtj = jac.T @ jac
        g = jac.T @ r
        d = np.diag(jtj)
        diag = np.diag(np.maximum(d, 1e-12 * float(d.max()) + 1e-300))
        improved = False
        while lam < 1e16:
            try:
                step = np.linalg.solve(jtj + lam * diag, g)
            except np.linalg.LinAlgError:
                lam *= 10.0
                continue
            new = theta + step
            if np.all(np.abs(new) < 50):
                with np.errstate(all="ignore"):
                    f_new, jac_new = _richards(new, t)
                r_new = v - f_new
                sse_new = float(np.dot(r_new, r_new))
                if math.isfinite(sse_new) and sse_new <= sse:
                    improved = True
                    break
            lam *= 10.0
        if not improved:
            # No step lowers the sum of squares: a (local) minimum if the gradient is tiny.
            scale = math.sqrt(float(np.sum(np.diag(jtj)))) * math.sqrt(sse) + 1e-300
            return theta, bool(np.max(np.abs(g)) <= 1e-8 * scale), it
        small_step = float(np.max(np.abs(step))) < 1e-10
        small_gain = sse - sse_new <= 1e-15 * sse
        theta, f, jac, r, sse = new, f_new, jac_new, r_new, sse_new
        lam = max(lam / 10.0, 1e-12)
        if small_step or small_gain or sse == 0.0:
            return theta, True, it
    return theta, False, max_iter


def fit_curves(
    group_index: Any,
    age: Any,
    volume: Any,
    groups: Sequence[str],
    family: Family = "richards",
    min_rows: int = 20,
) -> tuple[GrowthCurves, FitReport]:
    """Fit one growth curve per group from (age, volume) pairs of one inventory.

    Rows with a missing or non-positive age, a missing or negative volume, or a group index
    outside ``groups`` are ignored. Groups with fewer than ``min_rows`` usable rows get no curve.

    * ``schumacher``: linear least squares on ln V = ln a − b/t (rows with V > 0).
    * ``richards``: Levenberg–Marquardt on the volume scale, in (ln a, ln b, ln c) so that a, b,
      c stay positive, from several starting points (a from the 95th percentile of V, c = 1–3,
      b from the median implied by each row). When it does not converge, or converges to an
      asymptote above 100 × the largest observed volume (not identified by the data), the group
      falls back to Schumacher (reported).
    """
    if family not in (RICHARDS, SCHUMACHER):
        raise MethodError(
            f"未知的拟合模型“{family}”。",
            f"Unknown family '{family}' to fit.",
            hint_zh="可用：richards, schumacher。",
            hint_en="Use richards or schumacher.",
        )
    groups = tuple(groups)
    gi = np.asarray(group_index).astype(np.int64).ravel()
    t = np.asarray(age, dtype=np.float64).ravel()
    v = np.asarray(volume, dtype=np.float64).ravel()
    if not (gi.shape == t.shape == v.shape):
        raise MethodError(
            "group_index、age 和 volume 的长度不一致。",
            "group_index, age and volume differ in length.",
        )
    usable = (gi >= 0) & (gi < len(groups)) & (t > 0) & (v >= 0) & np.isfinite(t) & np.isfinite(v)
    coef = np.full((len(groups), 3), np.nan)
    families: list[str] = []
    fits: list[GroupFit] = []
    used_rows = 0
    for g, name in enumerate(groups):
        m = usable & (gi == g)
        n = int(m.sum())
        if n < min_rows:
            families.append(NONE)
            fits.append(
                GroupFit(
                    name, n, None, False, math.nan, math.nan, 0, "too_few_rows", (math.nan,) * 3
                )
            )
            continue
        tg, vg = t[m], v[m]
        fam_used: str | None = None
        converged, iterations, note = False, 0, ""
        params = (math.nan, math.nan, math.nan)
        if family == RICHARDS:
            best: np.ndarray | None = None
            # Starting points best first; the first one that converges to an identified fit wins.
            for theta0 in _richards_start(tg, vg)[:3]:
                with np.errstate(all="ignore"):
                    theta, ok, its = _levenberg_marquardt(theta0, tg, vg)
                iterations += its
                if ok and np.all(np.isfinite(theta)) and math.exp(theta[0]) <= 100.0 * vg.max():
                    best = theta
                    break
            if best is not None:
                fam_used, converged = RICHARDS, True
                params = tuple(float(x) for x in np.exp(best))  # type: ignore[assignment]
            else:
                note = "richards_fallback"
        if fam_used is None:
            fit = _fit_schumacher(tg, vg)
            if fit is not None:
                fam_used = SCHUMACHER
                converged = converged or family == SCHUMACHER
                params = (fit[0], fit[1], math.nan)
            else:
                note = "fit_failed"
        if fam_used is None:
            families.append(NONE)
            fits.append(
                GroupFit(name, n, None, False, math.nan, math.nan, iterations, note, params)
            )
            continue
        a, b, c = params
        with np.errstate(all="ignore"):
            pred = (
                a * np.exp(c * _log1mexp(b * tg)) if fam_used == RICHARDS else a * np.exp(-b / tg)
            )
        rmse, r2 = _stats(vg, pred)
        coef[g] = params
        families.append(fam_used)
        used_rows += n
        fits.append(GroupFit(name, n, fam_used, converged, rmse, r2, iterations, note, params))
    curves = GrowthCurves(groups, tuple(families), coef, source=f"fitted from {used_rows} rows")
    return curves, FitReport(family, min_rows, tuple(fits))
