"""Monte Carlo risk of a carbon project: fire, pests, growth and price → tonnes, NPV, buffer.

Pure: NumPy and the standard library; seeded with ``numpy.random.Generator(PCG64(seed))``, so the
same inputs and seed give the same numbers.

The model (per path; crediting years t = 0 … T − 1; sub-compartment i):

* **Growth** — stand i is expected to sequester ``increments[i, t]`` tCO2e in year t. A path
  multiplies that by g (lognormal, mean 1, log-sd ``growth_sigma``: a common error of the
  growth projection) and, optionally, by a year factor e_t (lognormal, mean 1, log-sd
  ``growth_year_sigma``: good and bad growing years, shared by all stands).
* **Disturbance** — each hazard (fire, pests, illegal logging …) strikes stand i in year t with
  probability p_i, independently across stands, years and hazards; a strike destroys the share
  f_i of the stand's project carbon and of its growing area (the destroyed part does not grow
  again within the crediting period). Within a year, growth comes first, then the hazards in
  their order, then the verification if it is a verification year. Hence the stand's project
  stock at the end of year t is R_i(t) · G_i(t), with G_i(t) = Σ_{s≤t} g e_s increments[i, s]
  and R_i(t) the product of (1 − f) over its strikes so far.
* **Issuance and cash** — exactly as the feasibility model (:mod:`tanhui.develop.feasibility`):
  the project stock at each verification is credited above its highest earlier level, rounded
  down at issuance, the buffer withheld, the rest sold at the path's price of that year;
  costs come from the same cost table. Reversals beyond the buffer are not charged to the NPV.
* **Price** — geometric Brownian motion on the scenario's trend: P_r = P_0 (1 + growth)^r ·
  exp(σ W_r − σ² r / 2), W a random walk with unit normal steps (``price_sigma`` σ), so the
  mean price is the scenario's.

Outputs, per path: credited and issued tonnes, NPV, carbon destroyed by each hazard (*lost*),
**reversal** = verified carbon later destroyed (for each strike: f × the stand's carbon at the
last verification before it, less what earlier strikes took — what the registry cancels from the
buffer for a recorded loss event, not netted against growth elsewhere), and the project-level
*net reversal* (the project stock falling below the credits outstanding).

**Recommended buffer share**: the smallest whole percent b such that b × credited tonnes ≥ the
reversal in at least ``buffer_quantile`` (90 %) of the paths, i.e. the 90th percentile (inverted
CDF) of reversal / credited, rounded up to a whole percent.

The fast kernel never draws paths × stands × years Bernoulli variables. Strikes are rare, so for
each hazard the positions of the strikes in the flattened (path, stand, year) space are drawn
directly as a Bernoulli process: gaps between successes are geometric. Stands with different
probabilities are grouped in bins of a factor of two and thinned (a strike at the bin's maximum
rate q is kept with probability p_i / q, which is exact). Only the strikes are then processed:
the project stock of a path is Σ_i G_i(t) (cheap: a path's yearly totals) minus, for each strike,
w · G_i(t) for t from its year on, where w = f × Π(1 − f) of the stand's earlier strikes (exact for
repeated strikes on one stand). Work and memory scale with the number of strikes (≈ paths ×
stands × years × p), processed in chunks of paths; by default the stock is kept at the
verification years only (what issuance needs), ``yearly=True`` keeps every year for a chart.
The strikes are independent across stands: a fire that spreads over many sub-compartments at
once, or a bad fire year for the whole county, is not modelled. :func:`simulate_naive` is the plain per path/year/stand loop with Bernoulli draws, kept as
the reference the fast kernel must agree with statistically.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tanhui.develop.feasibility import (
    CashFlowModel,
    FeasibilityInputs,
    buffer_tonnes,
    cash_flow_model,
    issue,
)
from tanhui.errors import InputError, ParameterError, Problem
from tanhui.i18n import Lang, pick

#: Strikes processed at once: ~20 MB of temporaries (30 MB more with yearly stocks or growth noise).
EVENTS_PER_CHUNK = 1 << 17
HISTOGRAM_BINS = 30
HAZARD_KINDS = ("fire", "pests", "illegal_logging")
HAZARD_LABELS = {
    "fire": ("森林火灾", "fire"),
    "pests": ("林业有害生物", "pests and diseases"),
    "illegal_logging": ("盗伐滥伐", "illegal logging"),
}


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hazard:
    """A disturbance: its annual probability per sub-compartment and the share of carbon a strike
    destroys; each a number or an array with one value per sub-compartment."""

    name: str
    annual_probability: float | np.ndarray
    loss_share: float | np.ndarray
    source: str = ""
    status: str = "to confirm"

    def arrays(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(probability, loss share) as float64 arrays of length n, checked."""
        out = []
        for label, value in (
            ("annual_probability", self.annual_probability),
            ("loss_share", self.loss_share),
        ):
            arr = np.asarray(value, dtype=np.float64)
            if arr.ndim == 0:
                arr = np.full(n, float(arr))
            if arr.shape != (n,):
                raise InputError(
                    f"{self.name} 的 {label} 应为一个数或每个小班一个值（{n} 个），而不是 {arr.shape}。",
                    f"{self.name}: {label} must be a number or one value per sub-compartment "
                    f"({n}), not shape {arr.shape}.",
                    field=label,
                )
            if not np.all((arr >= 0) & (arr <= 1)):
                raise InputError(
                    f"{self.name} 的 {label} 必须在 [0, 1] 之内。",
                    f"{self.name}: {label} must be within [0, 1].",
                    field=label,
                )
            out.append(arr)
        return out[0], out[1]

    def describe(self) -> dict[str, Any]:
        def show(v: float | np.ndarray) -> Any:
            a = np.asarray(v, dtype=np.float64)
            if a.ndim == 0:
                return float(a)
            return {"per_sub_compartment": True, "mean": float(a.mean()) if a.size else None}

        return {
            "name": self.name,
            "annual_probability": show(self.annual_probability),
            "loss_share": show(self.loss_share),
            "source": self.source,
            "status": self.status,
        }


#: p × f = 0.9 ‰ of the forest area lost a year: the national forest-fire damage-rate target
#: (森林火灾受害率 ≤ 0.9 ‰), recalled; split into p and f by assumption.
DEFAULT_FIRE = Hazard(
    "fire",
    0.0015,
    0.6,
    "p × f = 0.9 ‰ a year: national target for the forest-fire damage rate (森林火灾受害率 ≤ 0.9 ‰), "
    "recalled; the split into a probability and a loss share is an assumption",
)
#: 林业有害生物成灾率 control target of a few ‰ a year (recalled); partial mortality assumed.
DEFAULT_PESTS = Hazard(
    "pests",
    0.004,
    0.2,
    "p = 4 ‰ a year: order of the national control target for the pest disaster rate "
    "(林业有害生物成灾率), recalled; loss share 0.2 assumed (partial mortality)",
)
DEFAULT_HAZARDS = (DEFAULT_FIRE, DEFAULT_PESTS)
GROWTH_SIGMA_SOURCE = "0.15: assumed error of an ex-ante growth projection; to confirm"
PRICE_SIGMA_SOURCE = (
    "0.25 a year: assumed; CCER daily means in 2025 ranged 50.84–107.36 yuan/t around 70.8; "
    "to confirm"
)


@dataclass(frozen=True)
class RiskSettings:
    """Hazards and uncertainties of the Monte Carlo (defaults "to confirm", see the sources)."""

    hazards: tuple[Hazard, ...] = DEFAULT_HAZARDS
    growth_sigma: float = 0.15
    growth_year_sigma: float = 0.0
    price_sigma: float = 0.25
    buffer_quantile: float = 0.9

    def check(self) -> None:
        for name in ("growth_sigma", "growth_year_sigma", "price_sigma"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise InputError(
                    f"{name} 必须是非负数，而不是 {v}。",
                    f"{name} must be ≥ 0, not {v}.",
                    field=name,
                )
        names = [h.name for h in self.hazards]
        if len(set(names)) != len(names):
            raise InputError(
                f"灾害名称重复：{', '.join(names)}。",
                f"Hazard names repeat: {', '.join(names)}.",
                field="hazards",
            )
        if not 0 < self.buffer_quantile < 1:
            raise InputError(
                f"buffer_quantile 必须在 (0, 1) 之内，而不是 {self.buffer_quantile}。",
                f"buffer_quantile must be within (0, 1), not {self.buffer_quantile}.",
                field="buffer_quantile",
            )

    def describe(self) -> dict[str, Any]:
        return {
            "hazards": [h.describe() for h in self.hazards],
            "growth_sigma": self.growth_sigma,
            "growth_year_sigma": self.growth_year_sigma,
            "price_sigma": self.price_sigma,
            "buffer_quantile": self.buffer_quantile,
            "sources": {"growth_sigma": GROWTH_SIGMA_SOURCE, "price_sigma": PRICE_SIGMA_SOURCE},
        }


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------

BUFFER_DEFINITION = (
    "最小的整数百分比 b，使至少 {q:.0%} 的路径中 b × 已核证吨数 ≥ 逆转吨数（已核证后又因灾害损失的碳）。",
    "The smallest whole percent b such that b × credited tonnes ≥ the reversal (verified carbon "
    "later destroyed) in at least {q:.0%} of the paths.",
)


def _quantiles(x: np.ndarray) -> dict[str, float]:
    p10, p50, p90 = np.quantile(x, (0.1, 0.5, 0.9))
    return {"p10": float(p10), "p50": float(p50), "p90": float(p90), "mean": float(np.mean(x))}


def _histogram(x: np.ndarray, bins: int = HISTOGRAM_BINS) -> dict[str, list[float]]:
    x = np.asarray(x, dtype=np.float64)
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return {"edges": [], "counts": []}
    lo, hi = float(finite.min()), float(finite.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(finite, bins=bins, range=(lo, hi))
    return {"edges": edges.tolist(), "counts": counts.tolist()}


@dataclass(frozen=True)
class RiskResult:
    """Per-path outcomes of a simulation (arrays over paths) and their summary.

    ``stock``: (paths, len(stock_years)) project stock (tCO2e) at the end of the crediting years
    ``stock_years`` (0-based: every year, or the verification years only);
    ``credited``: tCO2e credited over the crediting period (before rounding and buffer);
    ``issued``: whole tonnes issued to the owner; ``lost``: {hazard: tCO2e destroyed};
    ``reversal``: verified tCO2e later destroyed; ``net_reversal``: project-level drops below
    the credits outstanding; ``npv``: yuan.
    """

    paths: int
    seed: int
    start_year: int
    settings: RiskSettings
    buffer_share: float
    stock: np.ndarray
    stock_years: np.ndarray
    credited: np.ndarray
    issued: np.ndarray
    npv: np.ndarray
    lost: dict[str, np.ndarray]
    reversal: np.ndarray
    net_reversal: np.ndarray
    events: int = 0
    kernel: str = "fast"
    notes: tuple[str, ...] = field(default=())

    @property
    def lost_total(self) -> np.ndarray:
        return sum(self.lost.values(), np.zeros(self.paths))

    @property
    def reversal_share(self) -> np.ndarray:
        """Reversal / credited per path (0 where nothing was credited)."""
        out = np.zeros(self.paths)
        np.divide(self.reversal, self.credited, out=out, where=self.credited > 0)
        out[(self.credited <= 0) & (self.reversal > 0)] = np.inf
        return out

    @property
    def recommended_buffer(self) -> float:
        """See the module notes: a whole percent, as a share (0.03 = 3 %)."""
        q = np.quantile(self.reversal_share, self.settings.buffer_quantile, method="inverted_cdf")
        if not math.isfinite(q):
            return 1.0
        return min(math.ceil(100.0 * float(q) - 1e-9), 100) / 100.0

    @property
    def probability_of_loss(self) -> float:
        return float(np.mean(self.npv < 0))

    def summary(self, lang: Lang | None = None) -> dict[str, Any]:
        q10, q50, q90 = np.quantile(self.stock, (0.1, 0.5, 0.9), axis=0)
        zh, en = BUFFER_DEFINITION
        q = self.settings.buffer_quantile
        return {
            "paths": self.paths,
            "seed": self.seed,
            "kernel": self.kernel,
            "settings": self.settings.describe(),
            "buffer_share_used": self.buffer_share,
            "credited_tonnes": _quantiles(self.credited),
            "issued_tonnes": _quantiles(self.issued.astype(np.float64)),
            "npv": _quantiles(self.npv),
            "probability_of_loss": self.probability_of_loss,
            "expected_lost_tonnes": float(np.mean(self.lost_total)),
            "expected_lost_tonnes_by_hazard": {k: float(np.mean(v)) for k, v in self.lost.items()},
            "expected_reversal_tonnes": float(np.mean(self.reversal)),
            "expected_net_reversal_tonnes": float(np.mean(self.net_reversal)),
            "recommended_buffer_share": self.recommended_buffer,
            "buffer_definition": pick(zh, en, lang).format(q=q),
            "events": self.events,
            "stock_quantiles": {
                "years": (self.start_year + self.stock_years).tolist(),
                "p10": q10.tolist(),
                "p50": q50.tolist(),
                "p90": q90.tolist(),
            },
            "notes": list(self.notes),
        }

    def to_dict(self, lang: Lang | None = None) -> dict[str, Any]:
        """Summary plus histogram data for the charts (NPV, credited tonnes, reversal share)."""
        out = self.summary(lang)
        out["histograms"] = {
            "npv": _histogram(self.npv),
            "credited_tonnes": _histogram(self.credited),
            "reversal_share": _histogram(self.reversal_share),
        }
        return out


# --------------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------------


def _check(
    increments: np.ndarray, inputs: FeasibilityInputs, settings: RiskSettings, paths: int
) -> tuple[np.ndarray, CashFlowModel]:
    inc = np.asarray(increments, dtype=np.float64)
    if inc.ndim != 2 or inc.shape[1] != inputs.timeline.crediting_years:
        raise InputError(
            f"逐小班逐年碳汇量应为（小班数, {inputs.timeline.crediting_years}）的数组，而不是 {inc.shape}。",
            f"increments must be (sub-compartments, {inputs.timeline.crediting_years}) — one column "
            f"per crediting year — not {inc.shape}.",
            field="increments",
        )
    if not np.all(np.isfinite(inc)):
        raise InputError(
            "逐小班逐年碳汇量中有缺失值。", "increments contain missing values.", field="increments"
        )
    if not isinstance(paths, int | np.integer) or paths < 1:
        raise InputError(
            f"路径数必须是正整数，而不是 {paths!r}。",
            f"paths must be an integer ≥ 1, not {paths!r}.",
            field="paths",
        )
    settings.check()
    return inc, cash_flow_model(inputs)


def _lognormal_mean_one(rng: np.random.Generator, sigma: float, size: Any) -> np.ndarray:
    if sigma == 0:
        return np.ones(size)
    return np.exp(sigma * rng.standard_normal(size) - 0.5 * sigma * sigma)


def _price_paths(
    rng: np.random.Generator, inputs: FeasibilityInputs, sigma: float, paths: int
) -> np.ndarray:
    rows = inputs.timeline.rows
    trend = inputs.price.prices(rows)
    if sigma == 0 or rows == 1:
        return np.broadcast_to(trend, (paths, rows)).copy()
    w = np.zeros((paths, rows))
    np.cumsum(rng.standard_normal((paths, rows - 1)), axis=1, out=w[:, 1:])
    w *= sigma
    w -= 0.5 * sigma * sigma * np.arange(rows)
    np.exp(w, out=w)
    w *= trend
    return w


def _previous_verification(model: CashFlowModel, years: int) -> np.ndarray:
    """For each crediting year, the last verification year strictly before it (−1: none)."""
    prev = np.full(years, -1, dtype=np.int64)
    for v in model.verification_years:
        prev[v + 1 :] = v
    return prev


def _finish(
    *,
    kernel: str,
    inputs: FeasibilityInputs,
    settings: RiskSettings,
    model: CashFlowModel,
    seed: int,
    stock: np.ndarray,
    stock_years: np.ndarray,
    prices: np.ndarray,
    lost: dict[str, np.ndarray],
    reversal: np.ndarray,
    events: int,
) -> RiskResult:
    at = np.searchsorted(stock_years, model.verification_years)
    iss = issue(stock[:, at], inputs.buffer_share)
    issued_rows = model.issued_by_row(iss.issued)
    npv = model.net_flows(issued_rows, prices) @ model.discount
    return RiskResult(
        paths=stock.shape[0],
        seed=seed,
        start_year=inputs.timeline.start_year,
        settings=settings,
        buffer_share=inputs.buffer_share,
        stock=stock,
        stock_years=np.asarray(stock_years),
        credited=iss.credited.sum(axis=1),
        issued=iss.issued.sum(axis=1),
        npv=npv,
        lost=lost,
        reversal=reversal,
        net_reversal=iss.reversal.sum(axis=1),
        events=events,
        kernel=kernel,
    )


# --------------------------------------------------------------------------------------------
# Fast kernel
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Bin:
    """Stands of one hazard whose probabilities lie within a factor of two of each other."""

    members: np.ndarray  # stand indices, ascending
    rate: float  # the bin's largest probability q
    accept: np.ndarray | None  # p_i / q per member; None when all equal q
    share: np.ndarray  # loss share per member


def _bins(p: np.ndarray, f: np.ndarray) -> list[_Bin]:
    live = np.flatnonzero((p > 0) & (f > 0))  # a strike that destroys nothing changes nothing
    if live.size == 0:
        return []
    level = np.floor(-np.log2(p[live])).astype(np.int64)
    out = []
    for lv in np.unique(level):
        members = live[level == lv]
        pm = p[members]
        q = float(pm.max())
        accept = None if np.all(pm == q) else pm / q
        out.append(_Bin(members, q, accept, f[members]))
    return out


def _divmod(x: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """(x // d, x % d) for non-negative integers: ``np.divmod`` on int64 is ~20× slower than a
    floor division by a scalar (which NumPy vectorizes)."""
    q = x // d
    return q, x - q * d


def _bernoulli_positions(rng: np.random.Generator, size: int, q: float) -> np.ndarray:
    """Sorted positions of the successes of ``size`` Bernoulli(q) trials, via geometric gaps."""
    if size <= 0 or q <= 0:
        return np.empty(0, dtype=np.int64)
    if q >= 1:
        return np.arange(size, dtype=np.int64)
    parts = []
    last = -1
    while True:
        mean = (size - 1 - last) * q
        draws = int(mean + 5.0 * math.sqrt(mean) + 32)
        pos = np.cumsum(rng.geometric(q, draws)) + last
        if pos[-1] >= size:
            parts.append(pos[: np.searchsorted(pos, size)])
            break
        parts.append(pos)
        last = int(pos[-1])
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def simulate(
    increments: np.ndarray,
    inputs: FeasibilityInputs,
    settings: RiskSettings | None = None,
    *,
    paths: int = 10_000,
    seed: int = 0,
    yearly: bool = False,
    events_per_chunk: int = EVENTS_PER_CHUNK,
) -> RiskResult:
    """Monte Carlo of ``paths`` paths (the fast kernel; see the module notes).

    ``increments``: (sub-compartments, crediting years) expected tCO2e per stand and year, e.g.
    ``ExAnte.per_stand`` (``inputs.tonnes`` is not used: the stands' sum is). ``inputs``: the
    feasibility inputs whose timeline, costs, price scenario, discount rate and buffer share apply.
    ``yearly``: keep the project stock of every year (for a chart), not only at the
    verifications (≈ years / verifications times more work). The result is the same for the same
    inputs, seed and ``events_per_chunk``.
    """
    settings = settings or RiskSettings()
    inc, model = _check(increments, inputs, settings, paths)
    n, years = inc.shape
    rng = np.random.Generator(np.random.PCG64(seed))
    g = _lognormal_mean_one(rng, settings.growth_sigma, paths)
    year_noise = settings.growth_year_sigma > 0
    e = _lognormal_mean_one(rng, settings.growth_year_sigma, (paths, years)) if year_noise else None
    prices = _price_paths(rng, inputs, settings.price_sigma, paths)

    # Output years: every year, or only the verifications (what issuance needs; ~5× less work).
    out_years = np.arange(years) if yearly else model.verification_years
    total = inc.sum(axis=0)
    if e is None:
        stock = g[:, None] * np.cumsum(total)[None, out_years]
        cum = np.cumsum(inc, axis=1)  # G_i(t) / g
        cum_out = np.ascontiguousarray(cum[:, out_years])
    else:
        stock = g[:, None] * np.cumsum(e * total[None, :], axis=1)[:, out_years]
        cum = cum_out = None

    hazards = settings.hazards
    bins = [_bins(*h.arrays(n)) for h in hazards]
    per_path = years * sum(float(np.sum(b.rate * b.members.size)) for hb in bins for b in hb)
    chunk = max(1, min(paths, int(events_per_chunk // max(per_path, 1.0))))
    prev_verif = _previous_verification(model, years)
    lost = {h.name: np.zeros(paths) for h in hazards}
    reversal = np.zeros(paths)
    deficit = np.zeros((paths, out_years.size))
    events = 0

    for p0 in range(0, paths, chunk):
        pc = min(chunk, paths - p0)
        keys, shares, kinds = [], [], []
        for h_index, hazard_bins in enumerate(bins):
            for b in hazard_bins:
                nb = b.members.size
                pos = _bernoulli_positions(rng, pc * nb * years, b.rate)
                path_stand, t = _divmod(pos, years)
                path, j = _divmod(path_stand, nb)
                if b.accept is not None:  # thinning to each stand's own probability
                    keep = rng.random(pos.size) < b.accept[j]
                    path, j, t = path[keep], j[keep], t[keep]
                keys.append((path * n + b.members[j]) * years + t)
                shares.append(b.share[j])
                kinds.append(np.full(t.size, h_index, dtype=np.int8))
        key = np.concatenate(keys) if keys else np.empty(0, dtype=np.int64)
        if key.size == 0:
            continue
        # Each list is sorted by (path, stand, year); a stable sort merges them (timsort merges
        # runs) and keeps the hazards' order for strikes in the same stand and year.
        order = np.argsort(key, kind="stable")
        key = key[order]
        f = np.concatenate(shares)[order]
        kind = np.concatenate(kinds)[order]
        events += key.size
        path_stand, t = _divmod(key, years)
        path, stand = _divmod(path_stand, n)

        # w = f × Π(1 − f) of the earlier strikes on the same stand in the same path.
        # Repeated strikes are adjacent after the sort; resolve them in rounds, each round the
        # strikes whose predecessor is final (a stand struck k times takes k rounds).
        w = f.copy()
        repeat = np.flatnonzero(path_stand[1:] == path_stand[:-1]) + 1
        if repeat.size:
            survive = 1.0 - f
            final = np.ones(key.size, dtype=bool)
            final[repeat] = False
            while repeat.size:
                ready = final[repeat - 1]
                at = repeat[ready]
                before = survive[at - 1]
                w[at] = f[at] * before
                survive[at] = before * (1.0 - f[at])
                final[at] = True
                repeat = repeat[~ready]

        gw = g[p0 + path] * w
        pv = prev_verif[t]
        # np.take along axis 0 and flat indices: several times faster than fancy 2-D indexing.
        if cum is not None:
            rows = np.take(cum_out, stand, axis=0)  # G_i / g at the output years
            flat, base = cum.ravel(), stand * years
        else:
            full = np.take(inc, stand, axis=0)
            full *= np.take(e, p0 + path, axis=0)
            np.cumsum(full, axis=1, out=full)
            rows = np.take(full, out_years, axis=1)
            flat, base = full.ravel(), np.arange(key.size) * years
        at_strike = np.take(flat, base + t)
        at_verified = np.where(pv >= 0, np.take(flat, base + np.maximum(pv, 0)), 0.0)
        loss = gw * at_strike
        rev = gw * at_verified
        rows *= gw[:, None]  # w · G_i(t)
        rows *= out_years[None, :] >= t[:, None]  # a strike lowers the stock from its year on
        starts = np.flatnonzero(np.r_[True, path[1:] != path[:-1]])
        deficit[p0 + path[starts]] = np.add.reduceat(rows, starts, axis=0)
        by_kind = np.bincount(
            path * len(hazards) + kind, weights=loss, minlength=pc * len(hazards)
        ).reshape(pc, len(hazards))
        for h_index, hazard in enumerate(hazards):
            lost[hazard.name][p0 : p0 + pc] += by_kind[:, h_index]
        reversal[p0 : p0 + pc] += np.bincount(path, weights=rev, minlength=pc)

    stock -= deficit
    return _finish(
        kernel="fast",
        inputs=inputs,
        settings=settings,
        model=model,
        seed=seed,
        stock=stock,
        stock_years=out_years,
        prices=prices,
        lost=lost,
        reversal=reversal,
        events=events,
    )


# --------------------------------------------------------------------------------------------
# Naive reference
# --------------------------------------------------------------------------------------------


def simulate_naive(
    increments: np.ndarray,
    inputs: FeasibilityInputs,
    settings: RiskSettings | None = None,
    *,
    paths: int = 1_000,
    seed: int = 0,
) -> RiskResult:
    """The reference: plain loops over paths, years and stands with one Bernoulli draw per
    stand, year and hazard, and the issuance and cash flows recomputed in plain Python.

    Same model and distributions as :func:`simulate`, different random streams: the two agree in
    distribution, not path by path. Slow — for small cases and tests.
    """
    settings = settings or RiskSettings()
    inc, model = _check(increments, inputs, settings, paths)
    n, years = inc.shape
    rng = np.random.Generator(np.random.PCG64(seed))
    hz = [h.arrays(n) for h in settings.hazards]
    probs = [p.tolist() for p, _ in hz]
    fracs = [f.tolist() for _, f in hz]
    verif = set(model.verification_years.tolist())
    rows = model.rows
    fixed = [float(sum(v[r] for v in model.fixed.values())) for r in range(rows)]
    per_tonne = [float(sum(v[r] for v in model.per_tonne.values())) for r in range(rows)]
    share = math.fsum(model.shares.values())
    disc = model.discount.tolist()
    trend = inputs.price.prices(rows).tolist()
    sg, sy, sp = settings.growth_sigma, settings.growth_year_sigma, settings.price_sigma
    inc_rows = inc.tolist()

    stock_out = np.zeros((paths, years))
    credited_out = np.zeros(paths)
    issued_out = np.zeros(paths, dtype=np.int64)
    npv_out = np.zeros(paths)
    net_rev_out = np.zeros(paths)
    rev_out = np.zeros(paths)
    lost_out = {h.name: np.zeros(paths) for h in settings.hazards}
    events = 0
    for p in range(paths):
        g = math.exp(sg * rng.standard_normal() - 0.5 * sg * sg) if sg > 0 else 1.0
        e = [
            math.exp(sy * rng.standard_normal() - 0.5 * sy * sy) if sy > 0 else 1.0
            for _ in range(years)
        ]
        price = [trend[0]]
        w = 0.0
        for r in range(1, rows):
            if sp > 0:
                w += rng.standard_normal()
            price.append(trend[r] * math.exp(sp * w - 0.5 * sp * sp * r))
        carbon = [0.0] * n  # project carbon standing in each stand
        alive = [1.0] * n  # share of each stand's growing area not destroyed
        verified = [0.0] * n  # verified carbon still standing
        at_verification = []
        for t in range(years):
            for i in range(n):
                carbon[i] += g * e[t] * inc_rows[i][t] * alive[i]
                for h in range(len(hz)):
                    if rng.random() < probs[h][i]:
                        f = fracs[h][i]
                        events += 1
                        lost_out[settings.hazards[h].name][p] += f * carbon[i]
                        rev_out[p] += f * verified[i]
                        carbon[i] *= 1.0 - f
                        alive[i] *= 1.0 - f
                        verified[i] *= 1.0 - f
            if t in verif:
                verified = carbon.copy()
                at_verification.append(math.fsum(carbon))
            stock_out[p, t] = math.fsum(carbon)
        high = outstanding = 0.0
        issued_rows = [0] * rows
        for v, s in zip(model.verification_years.tolist(), at_verification, strict=True):
            c = max(s - high, 0.0)
            high = max(high, s)
            outstanding += c
            drop = max(outstanding - s, 0.0)
            outstanding -= drop
            net_rev_out[p] += drop
            credited_out[p] += c
            whole = math.floor(c)
            buffer = int(buffer_tonnes(np.array(whole), inputs.buffer_share))
            issued_rows[v + inputs.timeline.issuance_lag] = whole - buffer
        issued_out[p] = sum(issued_rows)
        npv_out[p] = math.fsum(
            (q * price[r] * (1.0 - share) - q * per_tonne[r] - fixed[r]) * disc[r]
            for r, q in enumerate(issued_rows)
        )
    return RiskResult(
        paths=paths,
        seed=seed,
        start_year=inputs.timeline.start_year,
        settings=settings,
        buffer_share=inputs.buffer_share,
        stock=stock_out,
        stock_years=np.arange(years),
        credited=credited_out,
        issued=issued_out,
        npv=npv_out,
        lost=lost_out,
        reversal=rev_out,
        net_reversal=net_rev_out,
        events=events,
        kernel="naive",
    )


# --------------------------------------------------------------------------------------------
# Calibration from recorded loss events
# --------------------------------------------------------------------------------------------


class LossEventError(ParameterError):
    """Recorded loss events were rejected; ``problems`` lists every reason (row = event number)."""

    def __init__(self, problems: list[Problem]) -> None:
        n = len(problems)
        super().__init__(
            f"损失事件记录有 {n} 个问题，未用于校准。",
            f"The loss events have {n} problem(s); they were not used for calibration.",
            hint_zh="请逐条修改下列事件（序号从 1 起）后重试。",
            hint_en="Fix each event listed below (numbered from 1) and try again.",
        )
        self.problems = problems


@dataclass(frozen=True)
class LossEvent:
    """A recorded loss: ``kind`` (fire, pests, illegal_logging), the sub-compartment and its
    area, the year, and either the area lost (ha) or the share of the sub-compartment lost."""

    kind: str
    stand_id: str
    year: int
    stand_area_ha: float
    area_lost_ha: float | None = None
    share_lost: float | None = None


@dataclass(frozen=True)
class Calibration:
    """Annual probabilities and loss shares per hazard kind from recorded events."""

    hazards: dict[str, Hazard]
    table: tuple[dict[str, Any], ...]
    total_area_ha: float
    years: float

    def settings(self, base: RiskSettings | None = None) -> RiskSettings:
        """``base`` (default settings) with its hazards replaced or added by the calibrated ones;
        hazards without recorded events keep their defaults."""
        base = base or RiskSettings()
        merged = {h.name: h for h in base.hazards} | self.hazards
        return RiskSettings(
            hazards=tuple(merged.values()),
            growth_sigma=base.growth_sigma,
            growth_year_sigma=base.growth_year_sigma,
            price_sigma=base.price_sigma,
            buffer_quantile=base.buffer_quantile,
        )


def rates_from_events(
    events: Sequence[LossEvent | Mapping[str, Any]], total_area_ha: float, years: float
) -> Calibration:
    """Calibrate hazards from loss events recorded over ``years`` on ``total_area_ha`` of forest.

    Per kind, with A_hit = Σ area of the struck sub-compartments and A_lost = Σ area lost:

        annual probability p = A_hit / (total area × years)   (area of sub-compartments struck a year)
        loss share         f = A_lost / A_hit                 (area-weighted share lost per strike)

    so that p × f = A_lost / (total area × years), the observed share of the forest lost a year.
    p is per unit of area: it reads as a per-sub-compartment probability for stands of typical
    size. Kinds without events are absent (keep the defaults). Every invalid event is reported.
    """
    problems: list[Problem] = []
    if not (
        isinstance(total_area_ha, int | float)
        and math.isfinite(total_area_ha)
        and total_area_ha > 0
    ):
        problems.append(
            Problem(
                "total_area",
                "总面积必须大于 0 公顷。",
                "The total area must be > 0 ha.",
                column="total_area_ha",
                value=total_area_ha,
            )
        )
    if not (isinstance(years, int | float) and math.isfinite(years) and years > 0):
        problems.append(
            Problem(
                "years",
                "记录年数必须大于 0。",
                "The number of years recorded must be > 0.",
                column="years",
                value=years,
            )
        )
    hit: dict[str, float] = {}
    lost: dict[str, float] = {}
    count: dict[str, int] = {}
    for number, raw in enumerate(events, start=1):
        ev = raw if isinstance(raw, LossEvent) else _event_from_mapping(raw, number, problems)
        if ev is None:
            continue
        before = len(problems)
        if ev.kind not in HAZARD_KINDS:
            problems.append(
                Problem(
                    "unknown_kind",
                    f"未知的损失类型“{ev.kind}”（可用：{', '.join(HAZARD_KINDS)}）。",
                    f"Unknown loss kind '{ev.kind}' (known: {', '.join(HAZARD_KINDS)}).",
                    row=number,
                    column="kind",
                    value=ev.kind,
                )
            )
        area = ev.stand_area_ha
        if not (isinstance(area, int | float) and math.isfinite(area) and area > 0):
            problems.append(
                Problem(
                    "stand_area",
                    "小班面积必须大于 0 公顷。",
                    "The sub-compartment area must be > 0 ha.",
                    row=number,
                    column="stand_area_ha",
                    value=area,
                )
            )
            area = math.nan
        elif isinstance(total_area_ha, int | float) and area > total_area_ha:
            problems.append(
                Problem(
                    "stand_area_too_large",
                    "小班面积大于总面积。",
                    "The sub-compartment is larger than the total area.",
                    row=number,
                    column="stand_area_ha",
                    value=area,
                )
            )
        given = [x is not None for x in (ev.area_lost_ha, ev.share_lost)]
        share = math.nan
        if given == [False, False]:
            problems.append(
                Problem(
                    "no_loss",
                    "请给出损失面积（公顷）或损失比例。",
                    "Give the area lost (ha) or the share lost.",
                    row=number,
                    column="share_lost",
                    value=None,
                )
            )
        elif all(given):
            problems.append(
                Problem(
                    "both_loss",
                    "损失面积和损失比例只能给一个。",
                    "Give the area lost or the share lost, not both.",
                    row=number,
                    column="share_lost",
                    value=ev.share_lost,
                )
            )
        elif ev.share_lost is not None:
            share = ev.share_lost
            if not (isinstance(share, int | float) and 0 < share <= 1):
                problems.append(
                    Problem(
                        "share_range",
                        "损失比例必须在 (0, 1] 之内。",
                        "The share lost must be within (0, 1].",
                        row=number,
                        column="share_lost",
                        value=share,
                    )
                )
        else:
            a = ev.area_lost_ha
            if not (isinstance(a, int | float) and math.isfinite(a) and a > 0):
                problems.append(
                    Problem(
                        "area_lost",
                        "损失面积必须大于 0 公顷。",
                        "The area lost must be > 0 ha.",
                        row=number,
                        column="area_lost_ha",
                        value=a,
                    )
                )
            elif math.isfinite(area) and a > area * (1 + 1e-9):
                problems.append(
                    Problem(
                        "area_lost_too_large",
                        "损失面积大于小班面积。",
                        "The area lost is larger than the sub-compartment.",
                        row=number,
                        column="area_lost_ha",
                        value=a,
                    )
                )
            elif math.isfinite(area):
                share = min(a / area, 1.0)
        if len(problems) > before:
            continue
        hit[ev.kind] = hit.get(ev.kind, 0.0) + area
        lost[ev.kind] = lost.get(ev.kind, 0.0) + area * share
        count[ev.kind] = count.get(ev.kind, 0) + 1
    if problems:
        raise LossEventError(problems)
    exposure = float(total_area_ha) * float(years)
    hazards: dict[str, Hazard] = {}
    table = []
    for kind in HAZARD_KINDS:
        if kind not in count:
            continue
        p = min(hit[kind] / exposure, 1.0)
        f = lost[kind] / hit[kind]
        src = (
            f"calibrated from {count[kind]} recorded event(s) over {years:g} years on "
            f"{total_area_ha:g} ha"
        )
        hazards[kind] = Hazard(kind, p, f, src, "calibrated")
        table.append(
            {
                "kind": kind,
                "events": count[kind],
                "area_struck_ha": hit[kind],
                "area_lost_ha": lost[kind],
                "annual_probability": p,
                "loss_share": f,
                "annual_loss_share": lost[kind] / exposure,
            }
        )
    return Calibration(hazards, tuple(table), float(total_area_ha), float(years))


def _event_from_mapping(
    raw: Mapping[str, Any], number: int, problems: list[Problem]
) -> LossEvent | None:
    known = {"kind", "stand_id", "year", "stand_area_ha", "area_lost_ha", "share_lost"}
    unknown = sorted(set(raw) - known)
    missing = [k for k in ("kind", "stand_id", "year", "stand_area_ha") if raw.get(k) is None]
    for k in unknown:
        problems.append(
            Problem(
                "unknown_field",
                f"未知字段“{k}”。",
                f"Unknown field '{k}'.",
                row=number,
                column=k,
                value=raw[k],
            )
        )
    for k in missing:
        problems.append(
            Problem(
                "missing_field",
                f"缺少字段“{k}”。",
                f"The field '{k}' is missing.",
                row=number,
                column=k,
                value=None,
            )
        )
    if unknown or missing:
        return None
    return LossEvent(
        kind=str(raw["kind"]),
        stand_id=str(raw["stand_id"]),
        year=raw["year"],
        stand_area_ha=raw["stand_area_ha"],
        area_lost_ha=raw.get("area_lost_ha"),
        share_lost=raw.get("share_lost"),
    )


def hazard_label(name: str, lang: Lang | None = None) -> str:
    zh, en = HAZARD_LABELS.get(name, (name, name))
    return pick(zh, en, lang)
