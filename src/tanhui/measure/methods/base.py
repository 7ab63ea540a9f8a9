"""What every methodology module provides, and what it returns.

A method is a module-level object implementing :class:`Method`. It receives aligned NumPy columns
(:class:`MethodInputs`) and returns per-row tCO2e with the intermediate values that explain them
(:class:`MethodOutput`). Pure: NumPy only, no IO.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from tanhui.measure.params import ParameterSet
from tanhui.measure.stands import Stands

# Row matching of two inventories (``MethodInputs.match``).
MATCHED, ONLY_CURRENT, ONLY_BASELINE = 0, 1, 2


@dataclass(frozen=True)
class Reason:
    """Why a row is not creditable under a method (bit ``bit`` of ``MethodOutput.reasons``)."""

    bit: int
    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class MethodOptions:
    """User options; each method reads the ones it documents and ignores the rest."""

    year_from: float | None = None  # start of the monitoring period (or project start)
    year_to: float | None = None  # end of the monitoring period
    reserve_share: float = 0.0  # smcer: share withheld as risk/uncertainty reserve (to confirm)
    hwp_share: float = 0.0  # stop-logging: share of harvested carbon kept in long-lived products
    baseline_growth_factor: float = 1.0  # forest-management: unmanaged growth = factor × curve
    growth: object | None = None  # tanhui.measure.growth.GrowthCurves for projections

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {
            "year_from": self.year_from,
            "year_to": self.year_to,
            "reserve_share": self.reserve_share,
            "hwp_share": self.hwp_share,
            "baseline_growth_factor": self.baseline_growth_factor,
        }
        if self.growth is not None:
            out["growth"] = self.growth.describe()  # type: ignore[attr-defined]
        return out


@dataclass(frozen=True)
class MethodInputs:
    """Aligned inputs: row i of ``baseline`` is the same sub-compartment as row i of ``current``.

    With two inventories the edge builds the union of both id sets: ``match`` says for each row
    whether it is in both (MATCHED), only the current (ONLY_CURRENT: baseline columns NaN/-1) or
    only the baseline (ONLY_BASELINE: current columns NaN/-1). With one inventory ``baseline`` and
    ``match`` are None.
    """

    current: Stands
    params: ParameterSet
    options: MethodOptions = field(default_factory=MethodOptions)
    baseline: Stands | None = None
    match: np.ndarray | None = None
    # False: the caller keeps only tco2e and reasons (``--summary``); a method may then skip
    # building its intermediate columns and return none.
    columns: bool = True

    @property
    def years(self) -> float | None:
        """Length of the monitoring period in years (may be fractional), if known."""
        o = self.options
        t1 = (
            o.year_from
            if o.year_from is not None
            else (self.baseline.survey_year if self.baseline is not None else None)
        )
        t2 = o.year_to if o.year_to is not None else self.current.survey_year
        if t1 is None or t2 is None:
            return None
        return float(t2) - float(t1)


@dataclass(frozen=True)
class MethodOutput:
    """Per-row results of one method.

    ``tco2e``: credited tCO2e per row (0 where not creditable). ``columns``: named intermediate
    float64 arrays (e.g. ``factor``, ``stock_t1``, ``stock_t2``). ``reasons``: uint32 bitmask per
    row of :class:`Reason` bits (0 = creditable). ``deductions``: project-level deductions in tCO2e
    (e.g. the reserve), subtracted from ``tco2e.sum()`` to give ``total``.
    """

    tco2e: np.ndarray
    columns: dict[str, np.ndarray]
    reasons: np.ndarray
    reason_table: tuple[Reason, ...] = ()
    deductions: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def gross(self) -> float:
        return float(np.sum(self.tco2e, dtype=np.float64))

    @property
    def total(self) -> float:
        return self.gross - float(sum(self.deductions.values()))


class Method(Protocol):
    name: str  # CLI name, e.g. "stock-difference"
    version: str  # bump whenever the arithmetic changes
    title_zh: str
    title_en: str
    baseline: str  # "required", "optional" or "none": whether a second (earlier) inventory is used
    ex_post: bool

    def compute(self, inputs: MethodInputs) -> MethodOutput:
        """Vectorized computation over all rows."""
        ...

    def compute_naive(self, inputs: MethodInputs) -> MethodOutput:
        """The same arithmetic as a plain per-row loop: the reference the kernel must equal."""
        ...


# Rows are independent in every method; only project-level deductions look at the total. A method
# with such deductions also defines ``project_deductions(inputs, gross) -> dict[str, float]`` so
# that the edge can compute rows in chunks and apply the deductions once, on the whole project.
