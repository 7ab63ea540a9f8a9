"""Screening service: an inventory file in, a :class:`ScreeningReport` out.

The edge between files (``tanhui.inventory``, Arrow) and the pure screening core
(:mod:`tanhui.develop.screening`). The CLI, the API and the HTML report call :func:`screen_file`
or :func:`screen_inventory` and print what the report gives (:meth:`ScreeningReport.summary`,
:meth:`~ScreeningReport.row_table`, :meth:`~ScreeningReport.to_dict`); none of them screens
anything itself.

No database here: the ids already registered or issued under another scheme for an overlapping
period arrive as a plain collection (``registered_ids``), which the caller takes from the
registry. Without it the ``registered_elsewhere`` rules are reported as not checked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tanhui import __version__
from tanhui.develop.rules import RuleError, RuleSet, load_rule_file, load_scheme, scheme_names
from tanhui.develop.screening import (
    BREAKDOWN_KEYS,
    ESTIMATE_NAMES,
    Screening,
    example_problems,
    screen,
)
from tanhui.errors import InputError
from tanhui.i18n import Lang, pick
from tanhui.inventory import Inventory
from tanhui.measure.params import ParameterSet, load_parameters


@dataclass(frozen=True)
class ScreeningReport:
    """A screening with the sub-compartment ids, the inventory it came from and provenance."""

    screening: Screening
    ids: pa.Array
    inventory: dict[str, Any]
    provenance: dict[str, Any]

    def __len__(self) -> int:
        return len(self.screening)

    @property
    def rules(self) -> RuleSet:
        """The rule set used."""
        return self.screening.rules

    def totals(self) -> dict[str, Any]:
        """Totals over the whole inventory (see :meth:`Screening.totals_by` for the fields)."""
        return self.screening.totals()

    def totals_by(self, key: str) -> dict[str, dict[str, Any]]:
        """Totals per village / owner / species_group / township (any category column)."""
        return self.screening.totals_by(key)

    def reason_counts(self) -> dict[str, int]:
        """Rows failing each rule, in bit order."""
        return self.screening.reason_counts()

    def eligible_ids(self) -> list[str]:
        """The ids of the eligible sub-compartments, in inventory order."""
        return self.ids.filter(pa.array(self.screening.eligible)).to_pylist()

    def summary(self, lang: Lang | None = None) -> dict[str, Any]:
        """Everything but the rows: totals, reasons with counts, breakdowns, provenance."""
        out = self.screening.summary(lang)
        for key in BREAKDOWN_KEYS:
            out[f"by_{key}"] = self.totals_by(key)
        out["inventory"] = dict(self.inventory)
        out["provenance"] = dict(self.provenance)
        return out

    def row_table(self, lang: Lang | None = None) -> dict[str, list[Any]]:
        """One column per field, one entry per sub-compartment: id, eligible, reason codes
        (comma-separated) and texts, area (ha, 亩), expected tCO2e/yr, estimate route and the
        breakdown labels."""
        s = self.screening
        texts = {r.id: pick(r.zh, r.en, lang) for r in s.rules.rules}
        codes = s.reasons_of()
        table: dict[str, list[Any]] = {
            "id": self.ids.to_pylist(),
            "eligible": s.eligible.tolist(),
            "reasons": [",".join(c) for c in codes],
            "reason_texts": ["；".join(texts[c] for c in row) for row in codes],
            "area_ha": _floats(s.area_ha),
            "area_mu": _floats(s.area_mu),
            "expected_tco2e_per_yr": _floats(s.expected_tco2e_per_yr),
            "estimate": np.array(ESTIMATE_NAMES, dtype=object)[s.estimate_source].tolist(),
        }
        for key in ("species_group", *[b for b in BREAKDOWN_KEYS if b != "species_group"]):
            column_codes, labels = s.stands.category(key)
            names = np.array([*(x.strip() or None for x in labels), None], dtype=object)
            table[key] = names[column_codes].tolist()
        return table

    def rows(self, lang: Lang | None = None) -> list[dict[str, Any]]:
        """:meth:`row_table` as one dict per sub-compartment."""
        table = self.row_table(lang)
        keys = list(table)
        return [
            dict(zip(keys, values, strict=True)) for values in zip(*table.values(), strict=True)
        ]

    def to_dict(self, *, include_rows: bool = True, lang: Lang | None = None) -> dict[str, Any]:
        """The JSON document: :meth:`summary` plus ``rows`` when asked."""
        out = self.summary(lang)
        if include_rows:
            out["rows"] = self.rows(lang)
        return out


def _floats(values: np.ndarray) -> list[float | None]:
    return [None if v != v else v for v in np.asarray(values, dtype=np.float64).tolist()]


# ------------------------------------------------------------------------------------ rule sets


def load_rule_set(scheme: str | None = None, rules_file: str | Path | None = None) -> RuleSet:
    """The rule set to screen with: a shipped scheme, or a user's file that replaces or extends
    one. A user file's examples are checked too; RuleError lists every problem."""
    if rules_file is None:
        if scheme is None:
            raise InputError(
                f"请选择方案：{', '.join(scheme_names())}。",
                f"Choose a scheme: {', '.join(scheme_names())}.",
                field="scheme",
            )
        return load_scheme(scheme)
    rule_set = load_rule_file(rules_file, scheme=scheme)
    problems = example_problems(rule_set)
    if problems:
        raise RuleError(str(rules_file), problems)
    return rule_set


def list_schemes(lang: Lang | None = None) -> list[dict[str, Any]]:
    """The shipped schemes: id, title, methodology, version, rule count and hash."""
    out = []
    for name in scheme_names():
        rs = load_scheme(name)
        out.append(
            {
                "scheme": rs.scheme,
                "title": pick(rs.title_zh, rs.title_en, lang),
                "methodology": rs.methodology,
                "version": rs.version,
                "rules": len(rs),
                "hash": rs.hash,
            }
        )
    return out


def rule_table(rule_set: RuleSet, lang: Lang | None = None) -> list[dict[str, Any]]:
    """The rules of a set as rows for display: bit, id, reason, check, status, source."""
    return [
        {
            "bit": i,
            "id": r.id,
            "reason": pick(r.zh, r.en, lang),
            "check": r.check.text(),
            "status": r.status,
            "source": r.source,
        }
        for i, r in enumerate(rule_set.rules)
    ]


# ------------------------------------------------------------------------------------ screening


def registered_mask(ids: pa.Array, registered_ids: Iterable[str] | None) -> np.ndarray | None:
    """Boolean per row: the id is one of ``registered_ids`` (stripped); None when not given."""
    if registered_ids is None:
        return None
    wanted = sorted({str(x).strip() for x in registered_ids} - {""})
    if not wanted or len(ids) == 0:
        return np.zeros(len(ids), dtype=bool)
    value_set = pa.array(wanted, type=pa.string()).cast(ids.type)
    hits = pc.is_in(ids, value_set=value_set)
    return np.asarray(hits.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _ids_digest(registered_ids: Iterable[str] | None) -> dict[str, Any] | None:
    if registered_ids is None:
        return None
    wanted = sorted({str(x).strip() for x in registered_ids} - {""})
    digest = hashlib.sha256("\n".join(wanted).encode("utf-8")).hexdigest()
    return {"ids": len(wanted), "hash": digest}


def screen_inventory(
    inventory: Inventory,
    rules: RuleSet | str,
    params: ParameterSet | None = None,
    *,
    registered_ids: Iterable[str] | None = None,
    start_year: float | None = None,
    crediting_years: float | None = None,
    growth: Any = None,
    growth_family: str | None = None,
    yield_table: str | Path | None = None,
    growth_years: float | None = None,
) -> ScreeningReport:
    """Screen a read inventory. ``rules``: a RuleSet or a shipped scheme name.

    ``registered_ids``: ids already registered or issued under another scheme for an
    overlapping period (None: not checked). ``growth``: growth curves aligned to
    ``params.groups``; or ``growth_family`` / ``yield_table`` to fit or load them as
    ``tanhui measure`` does. See :func:`tanhui.develop.screening.screen` for the rest.
    """
    rule_set = load_scheme(rules) if isinstance(rules, str) else rules
    params = params or load_parameters()
    if registered_ids is not None and not isinstance(registered_ids, list | tuple | set):
        registered_ids = list(registered_ids)
    if growth is None and (growth_family or yield_table):
        from tanhui.measure.service import growth_curves

        growth, _report = growth_curves(
            inventory, params, family=growth_family, yield_table=yield_table
        )
    mask = registered_mask(inventory.ids, registered_ids)
    result = screen(
        inventory.stands(),
        rule_set,
        params,
        registered=mask,
        start_year=start_year,
        crediting_years=crediting_years,
        growth=growth,
        growth_years=growth_years,
    )
    registered = _ids_digest(registered_ids)
    if registered is not None and mask is not None:
        registered["matched_rows"] = int(np.count_nonzero(mask))
    provenance = {
        "tanhui_version": __version__,
        "inventory_hash": inventory.content_hash,
        "rules": rule_set.describe(),
        "params": params.describe(),
        "growth": result.growth,
        "options": {
            "start_year": result.start_year,
            "crediting_years": result.crediting_years,
            "growth_years": result.growth_years,
        },
        "registered": registered,
    }
    return ScreeningReport(result, inventory.ids, _describe(inventory), provenance)


def screen_file(
    path: str | Path,
    scheme: str | None = None,
    *,
    rules_file: str | Path | None = None,
    params: ParameterSet | None = None,
    params_file: str | Path | None = None,
    registered_ids: Iterable[str] | None = None,
    start_year: float | None = None,
    crediting_years: float | None = None,
    growth: Any = None,
    growth_family: str | None = None,
    yield_table: str | Path | None = None,
    growth_years: float | None = None,
    **read_options: Any,
) -> ScreeningReport:
    """Read an inventory file (any format ``tanhui.inventory`` reads; ``read_options`` go to
    :func:`~tanhui.inventory.read_inventory`) and screen it under ``scheme`` and/or
    ``rules_file`` (see :func:`load_rule_set`). Parameters: ``params``, else ``params_file`` on
    top of the shipped set. InventoryError / RuleError / ParameterError list every problem."""
    from tanhui.measure.service import read_for_params

    rule_set = load_rule_set(scheme, rules_file)
    params = params or load_parameters(params_file)
    inventory = read_for_params(path, params, **read_options)
    return screen_inventory(
        inventory,
        rule_set,
        params,
        registered_ids=registered_ids,
        start_year=start_year,
        crediting_years=crediting_years,
        growth=growth,
        growth_family=growth_family,
        yield_table=yield_table,
        growth_years=growth_years,
    )


def _describe(inventory: Inventory) -> dict[str, Any]:
    source = inventory.source
    return {
        "file": Path(source.path).name,
        "format": source.format,
        "encoding": source.encoding,
        "rows": len(inventory),
        "content_hash": inventory.content_hash,
        "survey_year": inventory.stands().survey_year,
    }


__all__ = [
    "ScreeningReport",
    "list_schemes",
    "load_rule_set",
    "registered_mask",
    "rule_table",
    "screen_file",
    "screen_inventory",
]
