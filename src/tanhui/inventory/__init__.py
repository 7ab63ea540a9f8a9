"""Inventory edge: read what counties have, map it to the canonical schema, validate every row.

    >>> from tanhui.inventory import read_inventory
    >>> inv = read_inventory("二类调查小班.csv", area_unit="mu")  # doctest: +SKIP
    >>> inv.summary()["total_area_ha"], inv.content_hash  # doctest: +SKIP

A bad file raises :class:`tanhui.errors.InventoryError` whose ``problems`` list every row, column
(as written in the file), value and reason; nothing is imported. ``check_inventory`` returns the
problems instead of raising.
"""

from tanhui.errors import InventoryError, Problem
from tanhui.inventory.model import (
    Inventory,
    SourceInfo,
    check_inventory,
    content_hash,
    read_inventory,
)

__all__ = [
    "Inventory",
    "InventoryError",
    "Problem",
    "SourceInfo",
    "check_inventory",
    "content_hash",
    "read_inventory",
]
