"""Sample-plot stock estimation and its sampling uncertainty (CDM AR-TOOL14).

Pure: NumPy and the ``math`` module only (no SciPy). See ``reference/measurement.md``.

Stratified plots: stratum i of M, n_i plots, area A_i, weight w_i = A_i / A, plot biomass b_p in
tonnes of dry matter per hectare::

    b̄_i = mean(b_p);   s_i² = [n_i Σb² − (Σb)²] / [n_i (n_i − 1)]
    b̄   = Σ w_i b̄_i;   B = A · b̄;   C = 44/12 · CF · B
    u_C = t(0.95, n − M) · sqrt(Σ w_i² s_i² / n_i) / b̄          (two-sided 90 % Student t)

The variance is computed with the two-pass form Σ(b − b̄_i)² / (n_i − 1), which is algebraically the
reference formula but does not lose digits to cancellation; a stratum whose plots are all equal
has a variance of exactly 0.

Discount (``discount_share``): a share d of the 90 % half-width is deducted when U exceeds 10 %.
Project quantities become X·(1 − d·U), baseline quantities X·(1 + d·U) (``conservative``).
Ex-ante growth projections are not discounted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from tanhui.errors import MethodError

CO2_PER_C = 44.0 / 12.0
DEFAULT_CARBON_FRACTION = 0.47  # CF_tree default of AR-TOOL14
DEFAULT_CONFIDENCE = 0.90  # two-sided: the t value is the 0.95 quantile

# (upper bound of U inclusive, share d of the half-width deducted); above the last bound d = 1.
DISCOUNT_TABLE: tuple[tuple[float, float], ...] = (
    (0.10, 0.0),
    (0.15, 0.25),
    (0.20, 0.50),
    (0.30, 0.75),
)

Side = Literal["project", "baseline"]


# --------------------------------------------------------------------------------------------
# Student t distribution without SciPy
# --------------------------------------------------------------------------------------------


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < tiny:
        d = tiny
    d = 1.0 / d
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        if abs(d) < tiny:
            d = tiny
        c = 1.0 + aa / c
        if abs(c) < tiny:
            c = tiny
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        if abs(d) < tiny:
            d = tiny
        c = 1.0 + aa / c
        if abs(c) < tiny:
            c = tiny
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            return h
    return h  # pragma: no cover - converges in far fewer iterations for the t distribution


def _log_gamma_ratio_half(a: float) -> float:
    """ln Γ(a + ½) − ln Γ(a), accurate also where the two ``lgamma`` values are large."""
    if a < 30.0:
        return math.lgamma(a + 0.5) - math.lgamma(a)
    # Asymptotic series; error < 1e-15 for a ≥ 30 (checked against exact factorial ratios).
    return (
        0.5 * math.log(a)
        - 1.0 / (8.0 * a)
        + 1.0 / (192.0 * a**3)
        - 1.0 / (640.0 * a**5)
        + 17.0 / (14336.0 * a**7)
    )


def _t_upper_tail(t: float, df: float) -> float:
    """P(T > t) for t ≥ 0: ½ · I_x(df/2, ½) with x = df / (df + t²).

    The prefactor x^a y^b / (a B(a, b)) is computed in logs with ``log1p`` and a large-a series for
    the gamma ratio, so that it keeps its digits for any df.
    """
    if math.isinf(df):
        return 0.5 * math.erfc(t / math.sqrt(2.0))
    if t == 0.0:
        return 0.5
    a, b = 0.5 * df, 0.5
    t2 = t * t
    x = df / (df + t2)
    y = t2 / (df + t2)
    log_x = -math.log1p(t2 / df)
    log_y = math.log(y)
    # ln Γ(a+b) − ln Γ(a) − ln Γ(b), b = ½, Γ(½) = √π
    log_beta_inv = _log_gamma_ratio_half(a) - 0.5 * math.log(math.pi)
    front = math.exp(log_beta_inv + a * log_x + b * log_y)
    if x < (a + 1.0) / (a + b + 2.0):
        return 0.5 * front * _betacf(a, b, x) / a
    return 0.5 * (1.0 - front * _betacf(b, a, y) / b)


def student_t_cdf(t: float, df: float) -> float:
    """P(T ≤ t) for Student's t with ``df`` degrees of freedom (``math.inf`` = normal)."""
    if not df > 0:
        raise ValueError(f"degrees of freedom must be > 0, got {df}")
    if t >= 0:
        return 1.0 - _t_upper_tail(t, df)
    return _t_upper_tail(-t, df)


def _normal_quantile_upper(q: float) -> float:
    """z with P(Z > z) = q, 0 < q ≤ 0.5, by bisection on erfc (full double precision)."""
    lo, hi = 0.0, 40.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if 0.5 * math.erfc(mid / math.sqrt(2.0)) > q:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def student_t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with ``df`` (> 0, may be fractional; ``math.inf`` = normal).

    Computed by bisection on the upper tail, itself the regularized incomplete beta function
    (modified-Lentz continued fraction, log-gamma prefactor); for df ≥ 1e5 a four-term
    Cornish-Fisher expansion. Accurate to about 1e-11 relative.
    """
    if not (0.0 < p < 1.0):
        raise ValueError(f"p must be in (0, 1), got {p}")
    if not df > 0:
        raise ValueError(f"degrees of freedom must be > 0, got {df}")
    if p == 0.5:
        return 0.0
    sign = 1.0 if p > 0.5 else -1.0
    q = 1.0 - p if p > 0.5 else p  # upper-tail probability of |t|
    if math.isinf(df):
        return sign * _normal_quantile_upper(q)
    if df >= 1e5:
        # The continued fraction converges slowly for huge df; the Cornish-Fisher expansion
        # around the normal quantile (Abramowitz & Stegun 26.7.5) is exact to double precision.
        z = _normal_quantile_upper(q)
        z3, z5, z7, z9 = z**3, z**5, z**7, z**9
        g1 = (z3 + z) / 4.0
        g2 = (5 * z5 + 16 * z3 + 3 * z) / 96.0
        g3 = (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / 384.0
        g4 = (79 * z9 + 776 * z7 + 1482 * z5 - 1920 * z3 - 945 * z) / 92160.0
        return sign * (z + (g1 + (g2 + (g3 + g4 / df) / df) / df) / df)
    hi = 1.0
    while _t_upper_tail(hi, df) > q:
        hi *= 2.0
        if hi > 1e300:  # pragma: no cover - q is at least the smallest double
            return sign * math.inf
    lo = 0.0 if hi == 1.0 else hi / 2.0
    for _ in range(2000):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if _t_upper_tail(mid, df) > q:
            lo = mid
        else:
            hi = mid
    return sign * 0.5 * (lo + hi)


# --------------------------------------------------------------------------------------------
# Discount
# --------------------------------------------------------------------------------------------


def discount_share(u: float) -> float:
    """Share d of the half-width deducted for relative uncertainty ``u`` (a fraction, 0.12 = 12 %).

    ≤ 10 % → 0; ≤ 15 % → 0.25; ≤ 20 % → 0.5; ≤ 30 % → 0.75; > 30 % (and ∞) → 1.
    """
    u = float(u)
    if math.isnan(u) or u < 0:
        raise MethodError(
            f"不确定性必须是非负数，得到 {u}。",
            f"The uncertainty must be a non-negative number, got {u}.",
        )
    for bound, share in DISCOUNT_TABLE:
        if u <= bound:
            return share
    return 1.0


def conservative(value: float, u: float, side: Side = "project") -> float:
    """The conservative value of an estimate with relative uncertainty ``u`` (AR-TOOL14).

    ``project``: X·(1 − d·U); ``baseline``: X·(1 + d·U), d = ``discount_share(u)``. For a negative
    X (a loss) the deduction keeps its conservative direction: the project value moves down by
    d·U·|X| and the baseline value up. X = 0 stays 0 (also when U is infinite). The result is not
    floored: with U > 100 % and d = 1 a project value may fall below zero; whoever credits it
    floors at zero.
    """
    if side not in ("project", "baseline"):
        raise MethodError(
            f"side 只能是 project 或 baseline，得到 {side!r}。",
            f"side must be 'project' or 'baseline', got {side!r}.",
        )
    x = float(value)
    if x == 0.0:
        return 0.0
    d = discount_share(u)
    if d == 0.0:
        return x
    deduction = d * float(u) * abs(x)
    return x - deduction if side == "project" else x + deduction


# --------------------------------------------------------------------------------------------
# Stock estimate
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StratumSummary:
    """One stratum: its label, area (ha), number of plots, mean and variance of plot biomass."""

    name: str
    area_ha: float
    n: int
    mean: float  # t d.m./ha
    variance: float  # (t d.m./ha)²


@dataclass(frozen=True)
class PlotEstimate:
    """A stratified stock estimate with its AR-TOOL14 uncertainty and discount.

    ``uncertainty`` is the relative half-width U of the confidence interval (a fraction);
    ``half_width_tco2e`` = U·C; ``conservative_tco2e`` is the project-side value C·(1 − d·U).
    """

    carbon_tco2e: float
    biomass_t: float
    mean_biomass_t_per_ha: float
    area_ha: float
    uncertainty: float
    half_width_tco2e: float
    t_value: float
    df: float
    discount: float
    conservative_tco2e: float
    strata: tuple[StratumSummary, ...]
    carbon_fraction: float
    standard_error_t_per_ha: float = 0.0
    confidence: float = DEFAULT_CONFIDENCE
    n_plots: int = 0
    above_ground_only: bool = False

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["strata"] = [asdict(s) for s in self.strata]
        return out


@dataclass(frozen=True)
class DifferenceEstimate:
    """ΔC = C2 − C1 of two stock estimates, u_ΔC = sqrt((u1 C1)² + (u2 C2)²) / |ΔC|.

    When ΔC = 0 the uncertainty is infinite and the conservative value 0.
    """

    delta_tco2e: float
    uncertainty: float
    half_width_tco2e: float
    discount: float
    conservative_tco2e: float
    earlier_tco2e: float
    later_tco2e: float
    earlier_uncertainty: float
    later_uncertainty: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def root_shoot_default(b: float | np.ndarray) -> float | np.ndarray:
    """AR-TOOL14 default root-to-shoot ratio R = exp(−1.085 + 0.9256 ln b) / b.

    ``b``: above-ground biomass in t d.m./ha. NaN where b ≤ 0 (R is not defined there; the
    below-ground biomass R·b = e^−1.085 · b^0.9256 tends to 0).
    """
    arr = np.asarray(b, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(arr > 0, np.exp(-1.085 + 0.9256 * np.log(np.where(arr > 0, arr, 1.0))), 0.0)
        r = np.where(arr > 0, r / np.where(arr > 0, arr, 1.0), np.nan)
    if np.ndim(b) == 0:
        return float(r)
    return r


def _below_ground(b: np.ndarray) -> np.ndarray:
    """R(b)·b = exp(−1.085 + 0.9256 ln b), 0 at b = 0."""
    out = np.zeros_like(b)
    pos = b > 0
    out[pos] = np.exp(-1.085 + 0.9256 * np.log(b[pos]))
    return out


def _labels(stratum: Sequence[object] | np.ndarray) -> np.ndarray:
    arr = np.asarray(stratum)
    if arr.ndim != 1:
        raise MethodError("分层标签必须是一维数组。", "Stratum labels must be a 1-D array.")
    return np.array([str(s) for s in arr.tolist()], dtype=object)


def estimate_stock(
    stratum: Sequence[object] | np.ndarray,
    stratum_area_ha: Sequence[float] | np.ndarray,
    biomass_t_per_ha: Sequence[float] | np.ndarray,
    *,
    carbon_fraction: float = DEFAULT_CARBON_FRACTION,
    confidence: float = DEFAULT_CONFIDENCE,
    above_ground_only: bool = False,
) -> PlotEstimate:
    """Stratified stock estimate from sample plots, with the AR-TOOL14 uncertainty and discount.

    One element per plot: the stratum label, the stratum's area in ha (the same on every plot of a
    stratum) and the plot's tree biomass in t d.m./ha. By default the biomass is the total tree
    biomass (above + below ground). With ``above_ground_only=True`` it is above-ground biomass and
    the below-ground part R(b)·b of the AR-TOOL14 default root-to-shoot function
    (:func:`root_shoot_default`) is added per plot before any statistic is computed.

    ``confidence`` is two-sided: 0.90 uses the 0.95 quantile of Student's t with n − M degrees of
    freedom. Strata are reported sorted by label, so the result does not depend on plot order.
    If every plot has zero biomass the uncertainty is 0.
    """
    labels = _labels(stratum)
    area = np.asarray(stratum_area_ha, dtype=np.float64)
    b = np.asarray(biomass_t_per_ha, dtype=np.float64)
    if not (labels.shape == area.shape == b.shape):
        raise MethodError(
            f"分层、层面积和生物量的长度不一致（{labels.size}、{area.size}、{b.size}）。",
            f"Stratum, stratum area and biomass differ in length "
            f"({labels.size}, {area.size}, {b.size}).",
        )
    if labels.size == 0:
        raise MethodError(
            "没有样地数据。", "No plots given.", hint_en="Provide at least 2 plots per stratum."
        )
    if not (0.0 < confidence < 1.0):
        raise MethodError(
            f"置信水平必须在 0 与 1 之间，得到 {confidence}。",
            f"The confidence level must be between 0 and 1, got {confidence}.",
        )
    if not (0.0 < carbon_fraction <= 1.0):
        raise MethodError(
            f"含碳率必须在 0 与 1 之间，得到 {carbon_fraction}。",
            f"The carbon fraction must be between 0 and 1, got {carbon_fraction}.",
        )
    bad_b = ~np.isfinite(b) | (b < 0)
    if bad_b.any():
        i = int(np.flatnonzero(bad_b)[0])
        raise MethodError(
            f"样地生物量必须是非负有限数（第 {i + 1} 个样地为 {b[i]}）。",
            f"Plot biomass must be a finite non-negative number (plot {i + 1} has {b[i]}).",
        )
    bad_a = ~np.isfinite(area) | (area <= 0)
    if bad_a.any():
        i = int(np.flatnonzero(bad_a)[0])
        raise MethodError(
            f"层面积必须是正数（第 {i + 1} 个样地为 {area[i]}）。",
            f"The stratum area must be positive (plot {i + 1} has {area[i]}).",
        )
    if above_ground_only:
        b = b + _below_ground(b)

    names, inverse = np.unique(labels.astype(str), return_inverse=True)
    m = names.size
    counts = np.bincount(inverse, minlength=m)
    summaries: list[StratumSummary] = []
    areas = np.empty(m)
    means = np.empty(m)
    variances = np.empty(m)
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate(([0], np.cumsum(counts)))
    for i in range(m):
        idx = order[starts[i] : starts[i + 1]]
        name = str(names[i])
        n_i = int(counts[i])
        a_i = area[idx]
        if np.any(a_i != a_i[0]):
            raise MethodError(
                f"分层“{name}”的层面积在各样地上不一致：{sorted(set(a_i.tolist()))}。",
                f"Stratum '{name}' has different areas on its plots: {sorted(set(a_i.tolist()))}.",
                hint_zh="同一分层的每个样地应填写相同的层面积。",
                hint_en="Give the same stratum area on every plot of a stratum.",
            )
        if n_i < 2:
            raise MethodError(
                f"分层“{name}”只有 {n_i} 个样地，至少需要 2 个才能估计方差。",
                f"Stratum '{name}' has {n_i} plot; at least 2 are needed to estimate its variance.",
                hint_zh="增设样地，或将该层并入相近的分层。",
                hint_en="Measure more plots or merge the stratum with a similar one.",
            )
        b_i = b[idx]
        if np.all(b_i == b_i[0]):
            mean_i, var_i = float(b_i[0]), 0.0
        else:
            mean_i = float(np.mean(b_i))
            dev = b_i - mean_i
            var_i = float(np.dot(dev, dev) / (n_i - 1))
        areas[i], means[i], variances[i] = float(a_i[0]), mean_i, var_i
        summaries.append(StratumSummary(name, float(a_i[0]), n_i, mean_i, var_i))

    total_area = float(np.sum(areas))
    w = areas / total_area
    mean_b = float(np.dot(w, means))
    se = math.sqrt(float(np.sum(w * w * variances / counts)))
    n = int(labels.size)
    df = float(n - m)
    t = student_t_quantile(1.0 - (1.0 - confidence) / 2.0, df)
    biomass = total_area * mean_b
    carbon = CO2_PER_C * carbon_fraction * biomass
    uncertainty = 0.0 if se == 0.0 else (t * se / mean_b if mean_b > 0 else math.inf)
    d = discount_share(uncertainty)
    return PlotEstimate(
        carbon_tco2e=carbon,
        biomass_t=biomass,
        mean_biomass_t_per_ha=mean_b,
        area_ha=total_area,
        uncertainty=uncertainty,
        half_width_tco2e=uncertainty * carbon,
        t_value=t,
        df=df,
        discount=d,
        conservative_tco2e=conservative(carbon, uncertainty, "project"),
        strata=tuple(summaries),
        carbon_fraction=float(carbon_fraction),
        standard_error_t_per_ha=se,
        confidence=float(confidence),
        n_plots=n,
        above_ground_only=bool(above_ground_only),
    )


def difference(earlier: PlotEstimate, later: PlotEstimate) -> DifferenceEstimate:
    """Stock change ΔC = C2 − C1 with u_ΔC = sqrt((u1 C1)² + (u2 C2)²) / |ΔC|.

    The two estimates are treated as independent (the AR-TOOL14 formula); for re-measured
    permanent plots this overstates the uncertainty, which is the conservative side. The
    conservative value is the project-side ΔC − d·U·|ΔC|; when ΔC = 0 it is 0 and U is infinite.
    """
    c1, c2 = earlier.carbon_tco2e, later.carbon_tco2e
    delta = c2 - c1
    half = math.hypot(earlier.uncertainty * c1, later.uncertainty * c2)
    if delta == 0.0:
        u = math.inf
        cons = 0.0
    else:
        u = half / abs(delta)
        cons = conservative(delta, u, "project")
    return DifferenceEstimate(
        delta_tco2e=delta,
        uncertainty=u,
        half_width_tco2e=half,
        discount=discount_share(u),
        conservative_tco2e=cons,
        earlier_tco2e=c1,
        later_tco2e=c2,
        earlier_uncertainty=earlier.uncertainty,
        later_uncertainty=later.uncertainty,
    )
