"""tanhui (碳汇): from a county's forest inventory to verified, tradable forestry carbon tickets.

The public API is re-exported here; everything else is private to its room.
"""

from tanhui._version import __version__
from tanhui.errors import (
    InventoryError,
    MethodError,
    ParameterError,
    Problem,
    ProvenanceMismatch,
    TanhuiError,
)

__all__ = [
    "InventoryError",
    "MethodError",
    "ParameterError",
    "Problem",
    "ProvenanceMismatch",
    "TanhuiError",
    "__version__",
]
