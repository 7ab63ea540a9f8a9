"""The methodologies, one module each, keyed by their CLI name.

Every method is a module-level ``METHOD`` object implementing
:class:`~tanhui.measure.methods.base.Method` (vectorized ``compute`` and the per-row reference
``compute_naive``), with ``applicability_zh``/``applicability_en`` and its ``reasons`` tuple.
Pure NumPy: importing this package imports neither pandas nor pyarrow.
"""

from __future__ import annotations

from tanhui.errors import MethodError
from tanhui.measure.methods import (
    ccer_afforestation,
    forest_management,
    smcer,
    stock,
    stock_difference,
    stop_logging,
)
from tanhui.measure.methods.base import Method

METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        stock.METHOD,
        stock_difference.METHOD,
        smcer.METHOD,
        ccer_afforestation.METHOD,
        forest_management.METHOD,
        stop_logging.METHOD,
    )
}


def get_method(name: str) -> Method:
    """The method called ``name`` (its CLI name); MethodError listing the known names otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        names = ", ".join(METHODS)
        raise MethodError(
            f"没有名为“{name}”的方法学。可用：{names}。",
            f"There is no methodology named '{name}'. Available: {names}.",
            hint_zh="运行 `tanhui methods` 查看各方法学及其适用条件。",
            hint_en="Run `tanhui methods` to see each methodology and when it applies.",
        ) from None


__all__ = ["METHODS", "MethodError", "get_method"]
