"""A feasibility study of a candidate project: screening → ex-ante yield → cash flows under each
price scenario → Monte Carlo risk → what the report shows. The one service the CLI
(``tanhui develop feasibility|risk|report``), the API and the web pages call.

The candidate project is the eligible sub-compartments of an inventory, optionally narrowed to
a list of ids (a project in the library), to villages or to rights holders. Everything that
decides a number is recorded in :attr:`FeasibilityStudy.provenance`: the inventory's content
hash, the rule set, parameter set, growth curves and cost table hashes, the timeline, prices,
discount rate, buffer share, Monte Carlo seed and path count, and the tanhui version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tanhui import __version__
from tanhui.develop.costs import CostTable, load_costs
from tanhui.develop.feasibility import (
    DEFAULT_DISCOUNT_RATE,
    ExAnte,
    FeasibilityInputs,
    FeasibilityResult,
    PriceScenario,
    Timeline,
    default_price_scenarios,
    evaluate_scenarios,
    ex_ante_tonnes,
)
from tanhui.develop.risk import (
    HAZARD_KINDS,
    RiskResult,
    RiskSettings,
    rates_from_events,
    simulate,
)
from tanhui.develop.screening_service import ScreeningReport, load_rule_set, screen_inventory
from tanhui.errors import InputError
from tanhui.i18n import Lang, pick
from tanhui.inventory import Inventory
from tanhui.measure.params import ParameterSet, load_parameters

#: Schemes whose credits are CCER (crediting period 20–40 years, CCER prices).
CCER_SCHEMES = frozenset({"ccer-afforestation", "forest-management"})
#: At most this many polygons go on the eligibility map (a county has tens of thousands).
MAP_LIMIT = 6000

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Selection:
    """Which eligible sub-compartments make the candidate project (all when every field is empty)."""

    ids: tuple[str, ...] = ()
    villages: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()

    def describe(self) -> dict[str, Any]:
        digest = (
            hashlib.sha256("\n".join(sorted(self.ids)).encode("utf-8")).hexdigest()
            if self.ids
            else None
        )
        return {
            "ids": len(self.ids),
            "ids_hash": digest,
            "villages": list(self.villages),
            "owners": list(self.owners),
        }


@dataclass(frozen=True)
class FeasibilityStudy:
    """A candidate project's screening, yield, economics and risk (see the module docstring)."""

    name: str
    screening: ScreeningReport
    selected: np.ndarray  # bool per inventory row: eligible and in the selection
    ex_ante: ExAnte
    inputs: FeasibilityInputs  # under the base price scenario
    scenarios: dict[str, FeasibilityResult]
    base: str
    risk: RiskResult | None
    map_shapes: list[tuple[list[list[tuple[float, float]]], str]] | None
    map_note: str | None
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def result(self) -> FeasibilityResult:
        """The base scenario's result."""
        return self.scenarios[self.base]

    @property
    def selected_ids(self) -> list[str]:
        return [
            x for x, keep in zip(self.screening.ids.to_pylist(), self.selected, strict=True) if keep
        ]

    def headline(self) -> dict[str, Any]:
        """The figures a county decides on, for cards and the CLI."""
        result = self.result
        totals = result.totals()
        irr = result.irr.rate
        start = self.inputs.timeline.start_year
        return {
            "sub_compartments": int(np.count_nonzero(self.selected)),
            "area_mu": self.inputs.area_mu,
            "area_ha": self.inputs.area_mu / 15.0,
            "tonnes_sequestered": totals["tonnes_sequestered"],
            "tonnes_issued": totals["tonnes_issued"],
            "npv": result.npv,
            "irr": irr,
            "payback_year": None if result.payback_year is None else start + result.payback_year,
            "break_even_price": result.break_even_price,
            "npv_per_mu": result.per_mu()["npv"],
            "probability_of_loss": None if self.risk is None else self.risk.probability_of_loss,
            "recommended_buffer_share": None if self.risk is None else self.risk.recommended_buffer,
        }

    def to_dict(self, lang: Lang | None = None) -> dict[str, Any]:
        """The JSON document (API, ``--format json``); every number the report shows."""
        return {
            "name": self.name,
            "headline": self.headline(),
            "base_scenario": self.base,
            "screening": self.screening.summary(lang),
            "selection": self.provenance.get("selection"),
            "ex_ante": self.ex_ante.summary(),
            "scenarios": {k: v.to_dict(lang) for k, v in self.scenarios.items()},
            "risk": None if self.risk is None else self.risk.to_dict(lang),
            "provenance": self.provenance,
        }


def _default_start_year() -> int:
    return dt.date.today().year


def events_for_risk(loss_history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Recorded losses in the library's form (:meth:`tanhui.develop.losses.Losses.risk_inputs`:
    ``subcompartment_id, year, hazard, share_lost, area_ha`` with ``area_ha`` the area lost) as
    the risk model's events (``stand_id, kind, year, stand_area_ha, area_lost_ha``); events
    already in the model's form pass unchanged. Hazards the model does not simulate ("other")
    are left out."""
    events = []
    for e in loss_history:
        if "kind" in e:
            events.append(dict(e))
            continue
        if e["hazard"] not in HAZARD_KINDS:
            continue
        events.append(
            {
                "kind": e["hazard"],
                "stand_id": e["subcompartment_id"],
                "year": e["year"],
                "stand_area_ha": e["area_ha"] / e["share_lost"],
                "area_lost_ha": e["area_ha"],
            }
        )
    return events


def _selection_mask(
    report: ScreeningReport, inventory: Inventory, selection: Selection
) -> np.ndarray:
    mask = report.screening.eligible.copy()
    if selection.ids:
        wanted = set(selection.ids)
        ids = report.ids.to_pylist()
        in_ids = np.fromiter((x in wanted for x in ids), dtype=bool, count=len(ids))
        missing = wanted - set(ids)
        if missing:
            sample = "、".join(sorted(missing)[:10])
            raise InputError(
                f"项目中有 {len(missing)} 个小班不在清查数据中：{sample}",
                f"{len(missing)} sub-compartments of the project are not in the inventory: "
                f"{sample}",
                hint_zh="请确认清查文件和小班号列表对应同一区域与调查年度。",
                hint_en="Check that the inventory and the id list belong to the same area and "
                "survey.",
            )
        mask &= in_ids
    stands = inventory.stands()
    if selection.villages:
        mask &= stands.mask_in("village", frozenset(selection.villages))
    if selection.owners:
        mask &= stands.mask_in("owner", frozenset(selection.owners))
    return mask


def _map_shapes(
    inventory: Inventory, report: ScreeningReport, selected: np.ndarray, selection: Selection
) -> tuple[list[tuple[list[list[tuple[float, float]]], str]] | None, str | None]:
    """Polygons for the eligibility map: the selected rows, the other eligible rows and the
    ineligible rows of the same villages (or of the whole inventory), at most MAP_LIMIT."""
    if inventory.geometry is None:
        return None, None
    try:
        import shapely
    except ImportError:  # the gis extra is not installed: no map, the rest of the report stands
        return None, None
    eligible = report.screening.eligible
    if selection.villages or selection.ids or selection.owners:
        villages_codes, _labels = inventory.stands().category("village")
        chosen = set(np.unique(villages_codes[selected]).tolist())
        scope = np.isin(villages_codes, list(chosen)) if chosen else selected
    else:
        scope = np.ones(len(selected), dtype=bool)
    rows = np.flatnonzero(scope | selected)
    note = None
    if rows.size > MAP_LIMIT:
        step = math.ceil(rows.size / MAP_LIMIT)
        note = f"1/{step}"
        rows = np.union1d(rows[::step], np.flatnonzero(selected)[: MAP_LIMIT // 2])
    geoms = shapely.from_wkb(np.asarray(inventory.geometry, dtype=object)[rows])
    bounds = shapely.total_bounds(geoms)
    geographic = bounds[2] <= 180.0 and bounds[3] <= 90.0 and bounds[0] >= -180.0
    # Geographic coordinates: scale longitude by cos(latitude) so shapes keep their proportions.
    kx = math.cos(math.radians((bounds[1] + bounds[3]) / 2.0)) if geographic else 1.0
    tolerance = max(bounds[2] - bounds[0], bounds[3] - bounds[1]) / 2000.0
    shapes = []
    for row, geom in zip(rows.tolist(), geoms, strict=True):
        if geom is None or geom.is_empty:
            continue
        geom = shapely.simplify(geom, tolerance, preserve_topology=True)
        rings = []
        for polygon in getattr(geom, "geoms", [geom]):
            if polygon.geom_type != "Polygon":
                continue
            for ring in (polygon.exterior, *polygon.interiors):
                rings.append([(x * kx, y) for x, y in ring.coords])
        category = "selected" if selected[row] else ("eligible" if eligible[row] else "ineligible")
        shapes.append((rings, category))
    return shapes, note


def study_inventory(
    inventory: Inventory,
    scheme: str = "smcer",
    *,
    name: str | None = None,
    selection: Selection | None = None,
    rules_file: str | Path | None = None,
    params: ParameterSet | None = None,
    registered_ids: Iterable[str] | None = None,
    start_year: int | None = None,
    crediting_years: int | None = None,
    monitoring_interval: int = 5,
    first_verification_after: int = 5,
    issuance_lag: int = 1,
    costs: CostTable | None = None,
    prices: Sequence[PriceScenario] | None = None,
    base_scenario: str = "base",
    discount_rate: float = DEFAULT_DISCOUNT_RATE,
    buffer_share: float = 0.0,
    growth_family: str | None = "richards",
    yield_table: str | Path | None = None,
    risk: RiskSettings | None = None,
    loss_history: Sequence[Mapping[str, Any]] | None = None,
    loss_years: float | None = None,
    paths: int = 10_000,
    seed: int = 0,
    with_map: bool = True,
    progress: Progress | None = None,
) -> FeasibilityStudy:
    """Run the whole study on a read inventory (see :func:`study_file` for the options)."""
    step = progress or (lambda _stage: None)
    selection = selection or Selection()
    params = params or load_parameters()
    rule_set = load_rule_set(scheme if rules_file is None else None, rules_file)
    is_ccer = rule_set.scheme in CCER_SCHEMES
    crediting_years = crediting_years or (30 if is_ccer else 20)
    start_year = start_year or _default_start_year()
    step("screen")
    curves = None
    if growth_family or yield_table:
        from tanhui.measure.service import growth_curves

        curves, _fit = growth_curves(
            inventory, params, family=growth_family, yield_table=yield_table
        )
    report = screen_inventory(
        inventory,
        rule_set,
        params,
        registered_ids=registered_ids,
        start_year=start_year,
        crediting_years=crediting_years,
        growth=curves,
    )
    selected = _selection_mask(report, inventory, selection)
    if not selected.any():
        raise InputError(
            "没有符合条件的小班可组成项目：请查看筛查结果中的不合格原因，或放宽选择范围。",
            "No eligible sub-compartment is left for the project: see the screening reasons, or "
            "widen the selection.",
        )
    step("yield")
    stands = inventory.stands().take(selected)
    ex_ante = ex_ante_tonnes(stands, params, curves, years=crediting_years, start_year=start_year)
    timeline = Timeline(
        start_year=start_year,
        crediting_years=crediting_years,
        monitoring_interval=monitoring_interval,
        first_verification_after=first_verification_after,
        issuance_lag=issuance_lag,
        scheme="CCER" if is_ccer else "",
    )
    scenarios = tuple(prices or default_price_scenarios("CCER" if is_ccer else "SMCER"))
    names = [s.name for s in scenarios]
    if base_scenario not in names:
        base_scenario = names[len(names) // 2]
    inputs = FeasibilityInputs(
        tonnes=ex_ante.tonnes,
        area_mu=ex_ante.area_mu,
        timeline=timeline,
        price=scenarios[names.index(base_scenario)],
        costs=costs or load_costs(),
        discount_rate=discount_rate,
        buffer_share=buffer_share,
    )
    inputs.check()
    step("economics")
    results = evaluate_scenarios(inputs, scenarios)
    calibration = None
    loss_history = events_for_risk(loss_history or ())
    if loss_history:
        # Recorded losses (fire, pests, illegal logging) calibrate the hazards of the same model:
        # rates per area of the project's land over the years on record (by default from the
        # first recorded year to the year before the start).
        years_on_record = loss_years or max(
            1.0, float(start_year - min(int(e["year"]) for e in loss_history))
        )
        calibration = rates_from_events(
            loss_history, float(np.nansum(ex_ante.area_ha)), years_on_record
        )
        risk = calibration.settings(risk)
    risk_result = None
    if paths > 0:
        step("risk")
        risk_result = simulate(ex_ante.per_stand, inputs, risk, paths=paths, seed=seed, yearly=True)
    shapes, note = (None, None)
    if with_map:
        step("map")
        shapes, note = _map_shapes(inventory, report, selected, selection)
    provenance = {
        "tanhui_version": __version__,
        "inventory": report.inventory,
        "inventory_hash": inventory.content_hash,
        "screening": report.provenance,
        "selection": selection.describe(),
        "ex_ante": {"curves": ex_ante.curves, "years_from_survey": ex_ante.years_from_survey},
        "inputs": inputs.describe(),
        "scenarios": [s.to_dict() for s in scenarios],
        "risk": None
        if risk_result is None
        else {"paths": paths, "seed": seed, "settings": risk_result.settings.describe()},
        "loss_calibration": None
        if calibration is None
        else {
            "events": len(loss_history or ()),
            "years": calibration.years,
            "area_ha": calibration.total_area_ha,
            "table": list(calibration.table),
        },
    }
    return FeasibilityStudy(
        name=name or pick("候选项目", "Candidate project"),
        screening=report,
        selected=selected,
        ex_ante=ex_ante,
        inputs=inputs,
        scenarios=results,
        base=base_scenario,
        risk=risk_result,
        map_shapes=shapes,
        map_note=note,
        provenance=provenance,
    )


def study_file(
    path: str | Path,
    scheme: str = "smcer",
    *,
    params_file: str | Path | None = None,
    costs_file: str | Path | None = None,
    read_options: dict[str, Any] | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> FeasibilityStudy:
    """Read an inventory file and run :func:`study_inventory` on it.

    Options: ``name``; ``selection`` (:class:`Selection`); ``rules_file``; ``registered_ids``;
    the timeline (``start_year`` — default this year —, ``crediting_years`` — default 30 for
    CCER schemes, 20 otherwise —, ``monitoring_interval``, ``first_verification_after``,
    ``issuance_lag``); ``prices`` (default the low/base/high prices seen for the scheme) and
    ``base_scenario``; ``discount_rate``; ``buffer_share``; growth (``growth_family``, default
    Richards fitted on the inventory itself, or ``yield_table``); ``risk`` settings, ``paths``
    (0: no Monte Carlo) and ``seed``; ``loss_history`` (recorded loss events in the form of
    :meth:`tanhui.develop.losses.Losses.risk_inputs`, which calibrate the hazards over
    ``loss_years`` — default: from the first recorded year to the start); ``with_map``.
    """
    from tanhui.measure.service import read_for_params

    params = load_parameters(params_file)
    costs = load_costs(costs_file) if costs_file is not None else None
    if progress:
        progress("read")
    inventory = read_for_params(path, params, **(read_options or {}))
    return study_inventory(
        inventory, scheme, params=params, costs=costs, progress=progress, **options
    )


__all__ = [
    "CCER_SCHEMES",
    "FeasibilityStudy",
    "Selection",
    "study_file",
    "study_inventory",
]
