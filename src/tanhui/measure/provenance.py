"""Provenance: what a measurement result was computed from, and how to confirm it.

A result records the hash of each input inventory's canonical rows, the method and its version,
the parameter set and its hash, the options, the tanhui version and a hash of the per-row
results. Recomputing with the same inputs must reproduce every field; :func:`compare` names each
field that differs. Pure: stdlib and NumPy only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np

# Fields that describe the run, not the numbers: they may differ between two identical results.
_IGNORED = frozenset({"created_at", "input_files"})


def array_hash(*arrays: np.ndarray) -> str:
    """sha256 over the little-endian float64 bytes of the arrays, NaN canonicalized."""
    digest = hashlib.sha256()
    for values in arrays:
        values = np.ascontiguousarray(values, dtype="<f8")
        if np.isnan(values).any():
            values = np.where(np.isnan(values), np.nan, values)  # one NaN bit pattern
        digest.update(len(values).to_bytes(8, "little"))
        digest.update(values.tobytes())
    return digest.hexdigest()


def compare(
    stored: Mapping[str, Any], recomputed: Mapping[str, Any], prefix: str = ""
) -> list[str]:
    """Every provenance field whose value differs, as ``"field: stored → recomputed"``."""
    differences: list[str] = []
    for key in sorted(set(stored) | set(recomputed)):
        if key in _IGNORED:
            continue
        a, b = stored.get(key), recomputed.get(key)
        name = f"{prefix}{key}"
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            differences.extend(compare(a, b, prefix=f"{name}."))
        elif a != b:
            differences.append(f"{name}: {_short(a)} → {_short(b)}")
    return differences


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
