"""Provenance: what a measurement result was computed from, and how to confirm it.

A result records the hash of each input inventory's canonical rows, the method and its version,
the parameter set and its hash, the options, the tanhui version, a hash of the per-row results
and ``hash_algorithm``, the algorithm of those two kinds of hash (BLAKE3; a record without the
field was made with sha256, which :func:`array_hash` and the inventory's content hash still
compute to confirm it). Recomputing with the same inputs must reproduce every field;
:func:`compare` names each field that differs. Pure: stdlib, NumPy and the BLAKE3 binding.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import blake3
import numpy as np

# The algorithm of content and row hashes in new results; a record that names none used LEGACY.
HASH_ALGORITHM = "blake3"
LEGACY_ALGORITHM = "sha256"
# Fields that describe the run, not the numbers: they may differ between two identical results.
_IGNORED = frozenset({"created_at", "input_files"})
_BLOCK = 1 << 16  # values per block of array_hash: a NaN test stays in cache


def record_algorithm(record: Mapping[str, Any]) -> str:
    """The hash algorithm a provenance record was made with."""
    return str(record.get("hash_algorithm", LEGACY_ALGORITHM))


def array_hash(*arrays: np.ndarray, algorithm: str = HASH_ALGORITHM) -> str:
    """BLAKE3 (or ``algorithm="sha256"``) over the little-endian float64 bytes of the arrays,
    each preceded by its length as u64, NaN canonicalized."""
    if algorithm == "blake3":
        digest: Any = blake3.blake3()
    elif algorithm == "sha256":
        digest = hashlib.sha256()
    else:
        raise ValueError(f"unknown hash algorithm {algorithm!r}")
    for values in arrays:
        values = np.ascontiguousarray(values, dtype="<f8")
        digest.update(len(values).to_bytes(8, "little"))
        # Block by block: only a block holding a NaN is copied (to one NaN bit pattern); the
        # rest is hashed where it lies, with no copy of the whole column.
        for start in range(0, len(values), _BLOCK):
            block = values[start : start + _BLOCK]
            if np.isnan(np.minimum.reduce(block)):  # NaN propagates: a NaN test, no mask
                block = np.where(np.isnan(block), np.nan, block)
            digest.update(memoryview(block).cast("B"))
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
