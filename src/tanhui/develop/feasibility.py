"""Feasibility of a carbon project: yield, timeline, costs, prices → cash flows, NPV, IRR, payback.

Pure: NumPy and the standard library (the cost table is read by :mod:`tanhui.develop.costs`).

The model, year by year (row r = 0 … T − 1 + lag; calendar year = start year + r):

* **Sequestration** — ``tonnes[r]`` tCO2e in crediting year r (r < T), e.g. from
  :func:`ex_ante_tonnes`. The stock S(r) is their running sum.
* **Verification** — at the end of crediting year ``first_verification_after − 1``, then every
  ``monitoring_interval`` years, and at the end of the crediting period. A verification credits
  the stock above the highest stock credited before (a loss must be re-grown before anything new
  is credited), as float tCO2e.
* **Issuance** — ``issuance_lag`` years after its verification, like the registry does it: the
  credited quantity rounded **down** to whole tonnes; the buffer withheld from it is
  ``buffer_share`` × that, rounded half up in integer arithmetic (``registry.ledger.buffer_share``);
  the rest is issued to the owner and sold in the year of issuance.
* **Revenue** — issued tonnes × the price of that year (price scenario: start price and annual
  growth).
* **Costs** — from the cost table, by unit kind: ``per_project`` in row 0; ``per_period`` and
  ``per_mu_per_period`` at each verification; ``per_mu_per_year`` in every crediting year;
  ``share_of_revenue`` on each year's revenue; ``per_tonne`` on each year's issued tonnes.
  Yuan amounts grow with ``cost_growth`` a year (0 by default).
* **Discounting** — row r is discounted by (1 + rate)^r; row 0 is not.

Money is yuan as float64 (a forecast); payouts and ledger amounts elsewhere are integer fen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from tanhui import __version__
from tanhui.develop import finance
from tanhui.develop.costs import CostTable, default_costs
from tanhui.errors import InputError, MethodError
from tanhui.i18n import Lang, pick
from tanhui.measure import provenance
from tanhui.measure.growth import GrowthCurves
from tanhui.measure.params import ParameterSet
from tanhui.measure.stands import Stands

MU_PER_HA = 15.0
CCER_CREDITING_YEARS = (20, 40)  # CCER-14-001-V01: crediting period 20–40 years (measurement.md)
SENSITIVITY_STEPS = (-0.2, -0.1, 0.0, 0.1, 0.2)
SENSITIVITY_FACTORS = ("price", "growth", "cost")
#: 社会折现率 8 % of 《建设项目经济评价方法与参数》(第三版, 2006) — recalled, to confirm.
DEFAULT_DISCOUNT_RATE = 0.08
DISCOUNT_RATE_SOURCE = (
    "8 %: social discount rate of 建设项目经济评价方法与参数 (3rd ed., 2006), recalled; to confirm"
)


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


def _bad(field_name: str, zh: str, en: str) -> InputError:
    return InputError(zh, en, field=field_name)


@dataclass(frozen=True)
class Timeline:
    """When a project sequesters, is verified and is issued (years are whole years).

    ``first_verification_after``: years of growth before the first verification;
    ``monitoring_interval``: years between verifications; ``issuance_lag``: years from a
    verification to the issuance (and sale). ``scheme="CCER"`` enforces a 20–40-year crediting
    period.
    """

    start_year: int
    crediting_years: int = 30
    monitoring_interval: int = 5
    first_verification_after: int = 5
    issuance_lag: int = 1
    scheme: str = ""

    def check(self) -> None:
        for name in ("crediting_years", "monitoring_interval", "first_verification_after"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise _bad(
                    name,
                    f"{name} 必须是正整数（年），而不是 {value!r}。",
                    f"{name} must be a whole number of years ≥ 1, not {value!r}.",
                )
        if not isinstance(self.issuance_lag, int | np.integer) or self.issuance_lag < 0:
            raise _bad(
                "issuance_lag",
                f"签发滞后必须是非负整数（年），而不是 {self.issuance_lag!r}。",
                f"issuance_lag must be a whole number of years ≥ 0, not {self.issuance_lag!r}.",
            )
        if self.first_verification_after > self.crediting_years:
            raise _bad(
                "first_verification_after",
                f"首次核证（第 {self.first_verification_after} 年）晚于计入期（{self.crediting_years} 年）。",
                f"The first verification (year {self.first_verification_after}) is after the "
                f"crediting period ({self.crediting_years} years).",
            )
        low, high = CCER_CREDITING_YEARS
        if self.scheme.upper() == "CCER" and not low <= self.crediting_years <= high:
            raise _bad(
                "crediting_years",
                f"CCER 造林碳汇项目的计入期为 {low}–{high} 年，而不是 {self.crediting_years} 年。",
                f"A CCER forestry project's crediting period is {low}–{high} years, not "
                f"{self.crediting_years}.",
            )

    @property
    def rows(self) -> int:
        """Rows of the year-by-year table: the crediting years and the last issuance lag."""
        return self.crediting_years + self.issuance_lag

    def verification_years(self) -> np.ndarray:
        """0-based crediting years at whose end a verification happens (the last one included)."""
        first = self.first_verification_after - 1
        last = self.crediting_years - 1
        years = list(range(first, last + 1, self.monitoring_interval))
        if years[-1] != last:
            years.append(last)
        return np.array(years, dtype=np.int64)

    def issuance_rows(self) -> np.ndarray:
        return self.verification_years() + self.issuance_lag

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_year": self.start_year,
            "crediting_years": self.crediting_years,
            "monitoring_interval": self.monitoring_interval,
            "first_verification_after": self.first_verification_after,
            "issuance_lag": self.issuance_lag,
            "scheme": self.scheme or None,
            "verification_years": (self.verification_years() + self.start_year).tolist(),
            "issuance_years": (self.issuance_rows() + self.start_year).tolist(),
        }


@dataclass(frozen=True)
class PriceScenario:
    """A price path: ``start_price`` yuan/tCO2e in the first year, growing by ``growth`` a year."""

    name: str
    start_price: float
    growth: float = 0.0
    source: str = ""
    status: str = "to confirm"

    def prices(self, rows: int) -> np.ndarray:
        return self.start_price * np.power(1.0 + self.growth, np.arange(rows, dtype=np.float64))

    def check(self) -> None:
        if not (math.isfinite(self.start_price) and self.start_price >= 0):
            raise _bad(
                "start_price",
                f"起始价格必须是非负数，而不是 {self.start_price}。",
                f"The start price must be ≥ 0, not {self.start_price}.",
            )
        if not (math.isfinite(self.growth) and self.growth > -1):
            raise _bad(
                "growth",
                f"价格年增长率必须大于 −100%，而不是 {self.growth}。",
                f"The annual price growth must be > −100%, not {self.growth}.",
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "start_price": self.start_price,
            "growth": self.growth,
            "source": self.source,
            "status": self.status,
        }


_NO_FORECAST = "annual growth 0: no public price forecast; set your own"
TICKET_PRICES = (
    PriceScenario(
        "low",
        10.0,
        0.0,
        "Sanming first tickets (2021): 10 yuan/t taken into storage (收储) by an intermediary; "
        + _NO_FORECAST,
    ),
    PriceScenario(
        "base",
        15.0,
        0.0,
        "Sanming first tickets (2021) sold at 15 yuan/t; Jiangle → Shanghai (2023) 20,000 t for "
        "300,000 yuan = 15 yuan/t; FFCER 2020 ≈ 14.7 yuan/t; " + _NO_FORECAST,
    ),
    PriceScenario(
        "high",
        20.0,
        0.0,
        "upper end of ticket prices seen (10–20 yuan/t), no single trade behind it; "
        + _NO_FORECAST,
    ),
)
CCER_PRICES = (
    PriceScenario("low", 50.84, 0.0, "CCER 2025: lowest daily mean 50.84 yuan/t; " + _NO_FORECAST),
    PriceScenario("base", 70.8, 0.0, "CCER 2025: average about 70.8 yuan/t; " + _NO_FORECAST),
    PriceScenario(
        "high", 107.36, 0.0, "CCER 2025: highest daily mean 107.36 yuan/t; " + _NO_FORECAST
    ),
)


def default_price_scenarios(scheme: str = "SMCER") -> tuple[PriceScenario, ...]:
    """Low/base/high prices seen in public trades (reference/market.md): CCER's for ``"CCER"``,
    the carbon tickets' (SMCER, Guizhou, FFCER) for anything else."""
    return CCER_PRICES if scheme.upper() == "CCER" else TICKET_PRICES


@dataclass(frozen=True)
class FeasibilityInputs:
    """Everything a feasibility evaluation needs.

    ``tonnes``: expected tCO2e sequestered in each crediting year (length = crediting years);
    ``area_mu``: project area in 亩 (per-亩 costs and economics); ``buffer_share``: share of each
    issuance withheld in the buffer (0 by default, as the registry's default rates);
    ``cost_growth``: annual escalation of yuan amounts.
    """

    tonnes: np.ndarray
    area_mu: float
    timeline: Timeline
    price: PriceScenario
    costs: CostTable = field(default_factory=default_costs)
    discount_rate: float = DEFAULT_DISCOUNT_RATE
    buffer_share: float = 0.0
    cost_growth: float = 0.0

    def __post_init__(self) -> None:
        tonnes = np.array(self.tonnes, dtype=np.float64, copy=True).ravel()
        tonnes.setflags(write=False)
        object.__setattr__(self, "tonnes", tonnes)

    def check(self) -> None:
        self.timeline.check()
        self.price.check()
        if self.tonnes.size != self.timeline.crediting_years:
            raise _bad(
                "tonnes",
                f"逐年碳汇量有 {self.tonnes.size} 年，而计入期为 {self.timeline.crediting_years} 年。",
                f"The yearly tonnes cover {self.tonnes.size} years but the crediting period is "
                f"{self.timeline.crediting_years}.",
            )
        if not np.all(np.isfinite(self.tonnes)):
            raise _bad("tonnes", "逐年碳汇量中有缺失值。", "The yearly tonnes have missing values.")
        if not (math.isfinite(self.area_mu) and self.area_mu > 0):
            raise _bad(
                "area_mu",
                f"项目面积必须大于 0 亩，而不是 {self.area_mu}。",
                f"The project area must be > 0 亩, not {self.area_mu}.",
            )
        if not (0.0 <= self.buffer_share < 1.0):
            raise _bad(
                "buffer_share",
                f"缓冲比例必须在 [0, 1) 之内，而不是 {self.buffer_share}。",
                f"The buffer share must be in [0, 1), not {self.buffer_share}.",
            )
        if not (math.isfinite(self.discount_rate) and self.discount_rate > -1):
            raise _bad(
                "discount_rate",
                f"折现率必须大于 −100%，而不是 {self.discount_rate}。",
                f"The discount rate must be > −100%, not {self.discount_rate}.",
            )
        if not (math.isfinite(self.cost_growth) and self.cost_growth > -1):
            raise _bad(
                "cost_growth",
                f"成本年增长率必须大于 −100%，而不是 {self.cost_growth}。",
                f"The annual cost growth must be > −100%, not {self.cost_growth}.",
            )

    def describe(self) -> dict[str, Any]:
        """The inputs as provenance: what a recomputation needs to give the same numbers."""
        return {
            "tanhui_version": __version__,
            "tonnes_hash": provenance.array_hash(self.tonnes),
            "timeline": self.timeline.to_dict(),
            "price": self.price.to_dict(),
            "costs": self.costs.describe(),
            "discount_rate": self.discount_rate,
            "buffer_share": self.buffer_share,
            "cost_growth": self.cost_growth,
            "area_mu": self.area_mu,
            "tonnes_total": float(self.tonnes.sum()),
        }


# --------------------------------------------------------------------------------------------
# Issuance and the cash-flow model (shared with the Monte Carlo in tanhui.develop.risk)
# --------------------------------------------------------------------------------------------


def buffer_tonnes(whole: np.ndarray, share: float) -> np.ndarray:
    """Buffer withheld from ``whole`` issued tonnes: share × whole rounded half up, in integer
    arithmetic on the share in basis points — the registry's ``buffer_share`` rule."""
    basis_points = round(share * 10_000)
    return (np.asarray(whole, dtype=np.int64) * basis_points + 5_000) // 10_000


@dataclass(frozen=True)
class Issuance:
    """Per verification (last axis): credited tCO2e (float), its whole tonnes (rounded down),
    the buffer part, the part issued to the owner, and the drop of the stock below the credits
    outstanding (a reversal at project level, covered by the buffer)."""

    credited: np.ndarray
    whole: np.ndarray
    buffer: np.ndarray
    issued: np.ndarray
    reversal: np.ndarray


def issue(stock: np.ndarray, buffer_share: float) -> Issuance:
    """Issuance from the project stock at each verification (last axis; leading axes = paths).

    A verification credits max(0, stock − highest stock credited before). When the stock falls
    below the credits outstanding, the difference is a reversal (the buffer covers it) and the
    outstanding credits drop to the stock.
    """
    stock = np.asarray(stock, dtype=np.float64)
    credited = np.empty_like(stock)
    reversal = np.empty_like(stock)
    high = np.zeros(stock.shape[:-1])
    outstanding = np.zeros(stock.shape[:-1])
    for v in range(stock.shape[-1]):
        s = stock[..., v]
        c = np.maximum(s - high, 0.0)
        high = np.maximum(high, s)
        outstanding = outstanding + c
        rev = np.maximum(outstanding - s, 0.0)
        outstanding = outstanding - rev
        credited[..., v] = c
        reversal[..., v] = rev
    whole = np.floor(credited).astype(np.int64)
    buf = buffer_tonnes(whole, buffer_share)
    return Issuance(credited, whole, buf, whole - buf, reversal)


@dataclass(frozen=True)
class CashFlowModel:
    """The cost side of a feasibility, compiled to arrays over the table's rows.

    ``fixed[key]``: yuan per row of the items that do not depend on sales; ``per_tonne[key]``:
    yuan per issued tonne per row; ``shares[key]``: shares of revenue.
    """

    timeline: Timeline
    verification_years: np.ndarray
    issuance_rows: np.ndarray
    fixed: dict[str, np.ndarray]
    per_tonne: dict[str, np.ndarray]
    shares: dict[str, float]
    discount: np.ndarray
    buffer_share: float

    @property
    def rows(self) -> int:
        return self.timeline.rows

    def issued_by_row(self, issued: np.ndarray) -> np.ndarray:
        """Issued tonnes per verification (…, V) placed on the table's rows (…, rows)."""
        out = np.zeros((*issued.shape[:-1], self.rows), dtype=np.int64)
        out[..., self.issuance_rows] = issued
        return out

    def net_flows(self, issued_rows: np.ndarray, prices: np.ndarray) -> np.ndarray:
        """Net cash flow per row (yuan) for issued tonnes and prices per row (any leading axes)."""
        revenue = issued_rows * prices
        share = math.fsum(self.shares.values())
        fixed = sum(self.fixed.values(), np.zeros(self.rows))
        per_tonne = sum(self.per_tonne.values(), np.zeros(self.rows))
        return revenue * (1.0 - share) - issued_rows * per_tonne - fixed

    def lines(self, issued_rows: np.ndarray, revenue: np.ndarray) -> dict[str, np.ndarray]:
        """Each cost line per row, in the cost table's order."""
        out: dict[str, np.ndarray] = {}
        for key in (*self.fixed, *self.per_tonne, *self.shares):
            if key in self.fixed:
                out[key] = self.fixed[key].copy()
            elif key in self.per_tonne:
                out[key] = issued_rows * self.per_tonne[key]
            else:
                out[key] = revenue * self.shares[key]
        return out


def cash_flow_model(inputs: FeasibilityInputs, costs: CostTable | None = None) -> CashFlowModel:
    """Compile the timeline and the cost table of ``inputs`` (or ``costs``) to per-row arrays."""
    inputs.check()
    costs = costs or inputs.costs
    tl = inputs.timeline
    rows = tl.rows
    verif = tl.verification_years()
    escalation = np.power(1.0 + inputs.cost_growth, np.arange(rows, dtype=np.float64))
    crediting = np.arange(rows) < tl.crediting_years
    at_verification = np.zeros(rows)
    at_verification[verif] = 1.0
    first = np.zeros(rows)
    first[0] = 1.0
    fixed: dict[str, np.ndarray] = {}
    per_tonne: dict[str, np.ndarray] = {}
    shares: dict[str, float] = {}
    for item in costs.items:
        a = item.amount
        if item.unit == "per_project":
            fixed[item.key] = a * first * escalation
        elif item.unit == "per_period":
            fixed[item.key] = a * at_verification * escalation
        elif item.unit == "per_mu_per_period":
            fixed[item.key] = a * inputs.area_mu * at_verification * escalation
        elif item.unit == "per_mu_per_year":
            fixed[item.key] = a * inputs.area_mu * crediting * escalation
        elif item.unit == "per_tonne":
            per_tonne[item.key] = a * escalation
        else:  # share_of_revenue (the cost table allows no other kind)
            shares[item.key] = a
    return CashFlowModel(
        timeline=tl,
        verification_years=verif,
        issuance_rows=tl.issuance_rows(),
        fixed=fixed,
        per_tonne=per_tonne,
        shares=shares,
        discount=finance.discount_factors(inputs.discount_rate, rows),
        buffer_share=inputs.buffer_share,
    )


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SensitivityRow:
    """NPV and IRR with one factor changed by ``change`` (−0.2 = −20 %)."""

    factor: str  # price | growth | cost
    change: float
    npv: float
    irr: finance.IrrResult

    def to_dict(self, lang: Lang | None = None) -> dict[str, Any]:
        return {
            "factor": self.factor,
            "change": self.change,
            "npv": self.npv,
            "irr": self.irr.rate,
            "irr_reason": self.irr.reason,
        }


_FACTOR_LABELS = {
    "price": ("碳价", "price"),
    "growth": ("生长量", "growth (yield)"),
    "cost": ("成本", "costs"),
}

TABLE_COLUMNS = (
    "row",
    "year",
    "tonnes_sequestered",
    "tonnes_verified",
    "tonnes_buffer",
    "tonnes_issued",
    "price",
    "revenue",
    "total_cost",
    "net",
    "cumulative",
    "discounted",
    "cumulative_discounted",
)


@dataclass(frozen=True)
class FeasibilityResult:
    """Year-by-year table and the figures a county decides on.

    ``table``: the columns ``TABLE_COLUMNS`` over the rows (tonnes issued and buffer are int64;
    money is yuan); ``cost_lines``: each cost item per row, in the cost table's order. ``payback_year``/``discounted_payback_year`` are row indices (0 = start year).
    ``break_even_price``: the start price (same growth) at which NPV = 0; None when no price
    makes it zero (nothing is issued).
    """

    inputs: FeasibilityInputs
    table: dict[str, np.ndarray]
    cost_lines: dict[str, np.ndarray]
    npv: float
    irr: finance.IrrResult
    payback_year: int | None
    discounted_payback_year: int | None
    break_even_price: float | None
    sensitivity: tuple[SensitivityRow, ...]

    @property
    def flows(self) -> np.ndarray:
        return self.table["net"]

    def totals(self) -> dict[str, float]:
        t = self.table
        return {
            "tonnes_sequestered": float(t["tonnes_sequestered"].sum()),
            "tonnes_verified": float(t["tonnes_verified"].sum()),
            "tonnes_buffer": int(t["tonnes_buffer"].sum()),
            "tonnes_issued": int(t["tonnes_issued"].sum()),
            "revenue": float(t["revenue"].sum()),
            "cost": float(t["total_cost"].sum()),
            "net": float(t["net"].sum()),
            "pv_revenue": float(np.dot(t["revenue"], self._discount)),
            "pv_cost": float(np.dot(t["total_cost"], self._discount)),
        }

    @property
    def _discount(self) -> np.ndarray:
        return finance.discount_factors(self.inputs.discount_rate, self.table["net"].size)

    def per_mu(self) -> dict[str, float]:
        """Economics per 亩 of project area (undiscounted sums unless named ``pv_``/``npv``)."""
        area = self.inputs.area_mu
        tot = self.totals()
        return {
            "npv": self.npv / area,
            "cost": tot["cost"] / area,
            "pv_cost": tot["pv_cost"] / area,
            "revenue": tot["revenue"] / area,
            "tonnes_sequestered": tot["tonnes_sequestered"] / area,
            "tonnes_issued": tot["tonnes_issued"] / area,
        }

    def per_tonne(self) -> dict[str, float | None]:
        """Cost per issued tonne: undiscounted, and levelized (PV of costs / PV of tonnes)."""
        issued = self.table["tonnes_issued"].astype(np.float64)
        tot = self.totals()
        pv_tonnes = float(np.dot(issued, self._discount))
        return {
            "cost": tot["cost"] / tot["tonnes_issued"] if tot["tonnes_issued"] else None,
            "levelized_cost": tot["pv_cost"] / pv_tonnes if pv_tonnes else None,
        }

    def to_dict(self, lang: Lang | None = None) -> dict[str, Any]:
        """The JSON document for the API and reports."""
        start = self.inputs.timeline.start_year

        def calendar(row: int | None) -> int | None:
            return None if row is None else start + row

        rows = []
        keys = list(self.table)
        for r in range(self.table["row"].size):
            entry = {k: _py(self.table[k][r]) for k in keys}
            entry["costs"] = {k: float(v[r]) for k, v in self.cost_lines.items()}
            rows.append(entry)
        return {
            "inputs": self.inputs.describe(),
            "cost_table": self.inputs.costs.to_dict(lang),
            "npv": self.npv,
            "irr": self.irr.to_dict(lang),
            "payback_year": calendar(self.payback_year),
            "discounted_payback_year": calendar(self.discounted_payback_year),
            "break_even_price": self.break_even_price,
            "totals": self.totals(),
            "per_mu": self.per_mu(),
            "per_tonne": self.per_tonne(),
            "sensitivity": [
                s.to_dict(lang) | {"factor_label": pick(*_FACTOR_LABELS[s.factor], lang)}
                for s in self.sensitivity
            ],
            "rows": rows,
        }


def _py(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _flows_for(
    model: CashFlowModel, tonnes: np.ndarray, prices: np.ndarray
) -> tuple[Issuance, np.ndarray, np.ndarray]:
    """(issuance, issued tonnes per row, net flow per row) for yearly tonnes and prices."""
    stock = np.cumsum(tonnes)[model.verification_years]
    iss = issue(stock, model.buffer_share)
    issued_rows = model.issued_by_row(iss.issued)
    return iss, issued_rows, model.net_flows(issued_rows, prices)


def _npv_irr(
    model: CashFlowModel, tonnes: np.ndarray, prices: np.ndarray
) -> tuple[float, finance.IrrResult]:
    _, _, net = _flows_for(model, tonnes, prices)
    return float(np.dot(net, model.discount)), finance.solve_irr(net)


def evaluate(
    inputs: FeasibilityInputs, *, steps: Sequence[float] = SENSITIVITY_STEPS
) -> FeasibilityResult:
    """Evaluate one project under one price scenario, with its sensitivity table."""
    model = cash_flow_model(inputs)
    tl = inputs.timeline
    rows = tl.rows
    prices = inputs.price.prices(rows)
    iss, issued_rows, net = _flows_for(model, inputs.tonnes, prices)
    revenue = issued_rows * prices
    lines = model.lines(issued_rows, revenue)
    total_cost = sum(lines.values(), np.zeros(rows))
    disc = net * model.discount
    sequestered = np.zeros(rows)
    sequestered[: tl.crediting_years] = inputs.tonnes
    verified = np.zeros(rows)
    verified[model.verification_years] = iss.credited
    buffer = np.zeros(rows, dtype=np.int64)
    buffer[model.issuance_rows] = iss.buffer
    table = {
        "row": np.arange(rows),
        "year": tl.start_year + np.arange(rows),
        "tonnes_sequestered": sequestered,
        "tonnes_verified": verified,
        "tonnes_buffer": buffer,
        "tonnes_issued": issued_rows,
        "price": prices,
        "revenue": revenue,
        "total_cost": total_cost,
        "net": net,
        "cumulative": np.cumsum(net),
        "discounted": disc,
        "cumulative_discounted": np.cumsum(disc),
    }
    npv = float(disc.sum())

    # NPV is linear in the start price (tonnes do not depend on it): two evaluations give it.
    npv_zero, _ = _npv_irr(model, inputs.tonnes, prices * 0.0)
    slope = npv - npv_zero if inputs.price.start_price > 0 else None
    if slope is None:
        npv_one, _ = _npv_irr(
            model, inputs.tonnes, replace(inputs.price, start_price=1.0).prices(rows)
        )
        slope = npv_one - npv_zero
    else:
        slope /= inputs.price.start_price
    break_even = max(-npv_zero / slope, 0.0) if slope > 0 else None

    sensitivity = []
    for factor in SENSITIVITY_FACTORS:
        for step in steps:
            k = 1.0 + step
            if factor == "price":
                s_npv, s_irr = _npv_irr(model, inputs.tonnes, prices * k)
            elif factor == "growth":
                s_npv, s_irr = _npv_irr(model, inputs.tonnes * k, prices)
            else:
                scaled = cash_flow_model(inputs, inputs.costs.scaled(k))
                s_npv, s_irr = _npv_irr(scaled, inputs.tonnes, prices)
            sensitivity.append(SensitivityRow(factor, float(step), s_npv, s_irr))

    return FeasibilityResult(
        inputs=inputs,
        table=table,
        cost_lines=lines,
        npv=npv,
        irr=finance.solve_irr(net),
        payback_year=finance.payback_year(net),
        discounted_payback_year=finance.payback_year(disc),
        break_even_price=break_even,
        sensitivity=tuple(sensitivity),
    )


def evaluate_scenarios(
    inputs: FeasibilityInputs, scenarios: Sequence[PriceScenario]
) -> dict[str, FeasibilityResult]:
    """:func:`evaluate` under each price scenario (by name)."""
    return {s.name: evaluate(replace(inputs, price=s)) for s in scenarios}


# --------------------------------------------------------------------------------------------
# Ex-ante yield from the inventory
# --------------------------------------------------------------------------------------------

ROUTE_NONE, ROUTE_GROWTH, ROUTE_RATE = 0, 1, 2
ROUTES = ("none", "growth_curve", "default_rate")


@dataclass(frozen=True)
class ExAnte:
    """Expected tCO2e per sub-compartment and crediting year, and how each row was estimated.

    ``per_stand``: (rows, years); ``route``: per row 1 = growth curve (stock difference of the
    projected volumes), 2 = default per-亩 rate, 0 = neither possible (0 t).
    """

    per_stand: np.ndarray
    route: np.ndarray
    area_ha: np.ndarray
    years_from_survey: float
    curves: dict[str, Any] | None

    @property
    def tonnes(self) -> np.ndarray:
        """Project total per crediting year."""
        return self.per_stand.sum(axis=0)

    @property
    def area_mu(self) -> float:
        return float(np.nansum(self.area_ha)) * MU_PER_HA

    def summary(self) -> dict[str, Any]:
        per_row = self.per_stand.sum(axis=1)
        return {
            "rows": int(self.route.size),
            "years": int(self.per_stand.shape[1]),
            "years_from_survey": self.years_from_survey,
            "area_mu": self.area_mu,
            "tonnes_total": float(per_row.sum()),
            "by_route": {
                name: {
                    "rows": int(np.count_nonzero(self.route == code)),
                    "tonnes": float(per_row[self.route == code].sum()),
                }
                for code, name in enumerate(ROUTES)
            },
            "growth_curves": self.curves,
        }


def _group_index(stands: Stands, params: ParameterSet) -> np.ndarray:
    """Index into ``params.groups`` per row; −1 where the group is missing or unknown.

    The same mapping as ``tanhui.measure.service`` (which is not imported here: it pulls in the
    file readers and Arrow, and this module stays pure).
    """
    codes, labels = stands.category("species_group")
    lookup = np.array([params.groups.index(x) if x in params.groups else -1 for x in labels] + [-1])
    return lookup[codes].astype(np.int64)


def ex_ante_tonnes(
    stands: Stands,
    params: ParameterSet,
    curves: GrowthCurves | None = None,
    *,
    years: int,
    start_year: int | None = None,
    years_from_survey: float | None = None,
) -> ExAnte:
    """Expected tCO2e per sub-compartment for each of ``years`` crediting years.

    Growth route (as ``measure.service.project_inventory``): the volume of each stand is projected
    with ``curves.project_years`` from its observed (age, volume) to the start and the end of each
    crediting year, and the year's tonnes are the difference of A·V·f (f = the group's tCO2e/m³).
    Rows where that is not possible — no curve for the group, age or volume missing, volume 0
    (the anchored curves cannot grow a stand from nothing) or no volume parameters — use the
    group's ``default_rate_tco2e_per_mu_yr`` × area (亩) every year; rows with neither get 0.

    The projection starts ``years_from_survey`` after the survey (default: ``start_year`` minus
    the inventory's survey year when both are known, else 0).
    """
    if not isinstance(years, int) or years < 1:
        raise InputError(
            f"年数必须是正整数，而不是 {years!r}。",
            f"years must be an integer ≥ 1, not {years!r}.",
            field="years",
        )
    if years_from_survey is None:
        years_from_survey = 0.0
        if start_year is not None and stands.survey_year is not None:
            years_from_survey = float(start_year - stands.survey_year)
    if not (math.isfinite(years_from_survey) and years_from_survey >= 0):
        raise InputError(
            f"项目开始早于调查年份（相差 {years_from_survey} 年）：请用项目开始时的清查数据。",
            f"The project starts {-years_from_survey} years before the survey: use an inventory "
            "from before the start.",
            field="start_year",
        )
    n = len(stands)
    group = _group_index(stands, params)
    area = np.asarray(stands.number("area_ha"), dtype=np.float64)
    age = stands.number("age_years")
    volume = stands.number("volume_m3_per_ha")
    out = np.zeros((n, years))
    route = np.zeros(n, dtype=np.int8)
    area_ok = np.isfinite(area) & (area > 0)
    safe_group = np.maximum(group, 0)
    if curves is not None:
        if curves.groups != params.groups:
            curves = curves.aligned(params.groups)
        factor = np.where(group >= 0, params.tco2e_per_m3()[safe_group], np.nan)
        has_curve = np.append(curves.has_curve(), False)[np.where(group >= 0, group, -1)]
        candidates = np.flatnonzero(
            area_ok & has_curve & (age > 0) & (volume > 0) & np.isfinite(factor)
        )
        if candidates.size:
            offsets = years_from_survey + np.arange(years + 1, dtype=np.float64)
            vol = curves.project_years(
                group[candidates], age[candidates], volume[candidates], offsets
            )
            ok = np.all(np.isfinite(vol), axis=1)
            rows = candidates[ok]
            stock = vol[ok] * (area[rows] * factor[rows])[:, None]
            out[rows] = np.diff(stock, axis=1)
            route[rows] = ROUTE_GROWTH
    rate = np.where(group >= 0, params.values["default_rate_tco2e_per_mu_yr"][safe_group], np.nan)
    use_rate = (route == ROUTE_NONE) & area_ok & np.isfinite(rate)
    out[use_rate] = (rate[use_rate] * area[use_rate] * MU_PER_HA)[:, None]
    route[use_rate] = ROUTE_RATE
    if not np.all(np.isfinite(out)):  # cannot happen with the masks above; never pass NaN on
        raise MethodError("预估碳汇量中出现非有限值。", "Non-finite ex-ante tonnes.")
    return ExAnte(
        per_stand=out,
        route=route,
        area_ha=area,
        years_from_survey=float(years_from_survey),
        curves=None if curves is None else curves.describe(),
    )
