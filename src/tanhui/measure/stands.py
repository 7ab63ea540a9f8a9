"""The pure container the methods compute on: canonical columns as NumPy arrays.

The inventory edge builds it (``Inventory.stands()``); the methods never see a file, a DataFrame or
an Arrow table. Categorical columns arrive as ``int32`` codes into a tuple of labels (``-1`` =
missing); numeric columns as ``float64`` with ``NaN`` for missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Stands:
    """Sub-compartments of one inventory, column-wise.

    ``numbers``: float64 arrays (``area_ha``, ``volume_m3_per_ha``, ``age_years`` …).
    ``codes``/``labels``: categorical columns as int32 codes and their labels.
    ``survey_year``: the inventory's single survey year, if it has one.
    """

    numbers: Mapping[str, np.ndarray]
    codes: Mapping[str, np.ndarray]
    labels: Mapping[str, tuple[str, ...]]
    survey_year: float | None = None
    extra: Mapping[str, object] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.numbers["area_ha"])

    def has(self, name: str) -> bool:
        return name in self.numbers or name in self.codes

    def number(self, name: str) -> np.ndarray:
        """A float64 column; all-NaN when the inventory does not have it."""
        values = self.numbers.get(name)
        if values is None:  # a read-only view: no memory for a column the file does not have
            return np.broadcast_to(np.float64(np.nan), (len(self),))
        return values

    def category(self, name: str) -> tuple[np.ndarray, tuple[str, ...]]:
        """A categorical column as (codes, labels); all ``-1`` when absent."""
        codes = self.codes.get(name)
        if codes is None:
            return np.broadcast_to(np.int32(-1), (len(self),)), ()
        return codes, self.labels[name]

    def mask_in(self, name: str, wanted: set[str] | frozenset[str]) -> np.ndarray:
        """Boolean mask of rows whose category label is one of ``wanted``."""
        codes, labels = self.category(name)
        hits = np.array([label in wanted for label in labels] + [False], dtype=bool)
        return hits[codes]  # code -1 indexes the trailing False

    def take(self, index: np.ndarray) -> Stands:
        """The rows at ``index`` (an integer or boolean array), same labels."""
        return Stands(
            numbers={k: v[index] for k, v in self.numbers.items()},
            codes={k: v[index] for k, v in self.codes.items()},
            labels=self.labels,
            survey_year=self.survey_year,
            extra=self.extra,
        )
