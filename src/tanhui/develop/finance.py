"""Cash-flow arithmetic: NPV, IRR, payback, cumulative and discounted flows.

Pure: the standard library and NumPy. Flows are a sequence of yearly amounts, ``flows[t]`` at the
end of year ``t``; ``flows[0]`` is not discounted (it is "now": the upfront costs of a project).
This differs from a spreadsheet's ``NPV()``, which discounts its first value by one period.

Money here is yuan as float64: feasibility is a forecast, and a forecast in fractions of a yuan is
harmless. Amounts that are paid or booked (payouts to rights holders, ledger and settlement
amounts) are integer fen (分) elsewhere in tanhui and never pass through this module.

IRR conventions (:func:`solve_irr`): the IRR is a rate r > −1 with NPV(r) = 0. It is returned only
when exactly one such rate exists. Otherwise the result carries no rate and a reason:

* ``no_sign_change`` — the flows are all ≥ 0 or all ≤ 0 (or all zero): no rate makes NPV zero.
* ``no_real_root`` — the flows change sign but NPV is never zero for r > −1 (possible when they
  change sign more than once).
* ``multiple`` — NPV is zero at two or more rates (non-conventional flows such as
  −, +, −); ``roots`` lists them all, and none is "the" IRR: use NPV at a chosen rate instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tanhui.errors import InputError
from tanhui.i18n import Lang, pick

Flows = Sequence[float] | np.ndarray

_REASONS = {
    "no_sign_change": (
        "现金流全部非负或全部非正，不存在内部收益率。",
        "The cash flows never change sign: there is no internal rate of return.",
    ),
    "no_real_root": (
        "现金流虽有正负变化，但在 r > −100% 范围内净现值不为零，不存在内部收益率。",
        "The cash flows change sign but NPV is never zero for r > −100%: no IRR exists.",
    ),
    "multiple": (
        "现金流多次变号，存在多个使净现值为零的折现率，内部收益率没有唯一值；请以净现值判断。",
        "The cash flows change sign several times and NPV is zero at several rates: the IRR is "
        "not unique; judge by NPV instead.",
    ),
}


def _as_flows(flows: Flows) -> np.ndarray:
    arr = np.asarray(flows, dtype=np.float64)
    if arr.ndim != 1:
        raise InputError(
            "现金流必须是一维序列。",
            "Cash flows must be a one-dimensional sequence.",
            field="flows",
        )
    if not np.all(np.isfinite(arr)):
        raise InputError(
            "现金流中有缺失或非有限的数值。",
            "The cash flows contain missing or non-finite values.",
            field="flows",
        )
    return arr


def _check_rate(rate: float) -> float:
    rate = float(rate)
    if not (math.isfinite(rate) and rate > -1.0):
        raise InputError(
            f"折现率 {rate} 无效：必须大于 −100%。",
            f"Discount rate {rate} is invalid: it must be greater than −100%.",
            field="rate",
        )
    return rate


def discount_factors(rate: float, years: int) -> np.ndarray:
    """1 / (1 + rate)^t for t = 0 … years − 1."""
    rate = _check_rate(rate)
    return np.power(1.0 + rate, -np.arange(years, dtype=np.float64))


def npv(rate: float, flows: Flows) -> float:
    """Net present value at ``rate``: Σ flows[t] / (1 + rate)^t, with flows[0] undiscounted."""
    arr = _as_flows(flows)
    return float(np.dot(arr, discount_factors(rate, arr.size)))


def discounted(rate: float, flows: Flows) -> np.ndarray:
    """Each flow discounted to year 0."""
    arr = _as_flows(flows)
    return arr * discount_factors(rate, arr.size)


def cumulative(flows: Flows) -> np.ndarray:
    """Running sum of the flows."""
    return np.cumsum(_as_flows(flows))


def payback_year(flows: Flows) -> int | None:
    """The first year from which the cumulative flow stays ≥ 0 to the end; None if it ends < 0.

    "Stays": a project that is in the black in year 6 but needs a large payment in year 12 that
    puts it back in the red pays back only when it is in the black for good.
    """
    cum = cumulative(flows)
    if cum.size == 0 or cum[-1] < 0:
        return None
    negative = np.flatnonzero(cum < 0)
    return 0 if negative.size == 0 else int(negative[-1]) + 1


def discounted_payback_year(rate: float, flows: Flows) -> int | None:
    """:func:`payback_year` of the discounted flows."""
    return payback_year(discounted(rate, flows))


@dataclass(frozen=True)
class IrrResult:
    """The IRR when unique (``rate``), else None and ``reason``; ``roots`` lists every rate found."""

    rate: float | None
    reason: str | None = None
    roots: tuple[float, ...] = ()

    def message(self, lang: Lang | None = None) -> str:
        if self.reason is None:
            return ""
        zh, en = _REASONS[self.reason]
        return pick(zh, en, lang)

    def to_dict(self, lang: Lang | None = None) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "reason": self.reason,
            "message": self.message(lang) or None,
            "roots": list(self.roots),
        }


def _poly(c: np.ndarray, x: float) -> float:
    """Σ c[t] x^t by Horner's rule (x = 1 / (1 + r): NPV as a polynomial)."""
    acc = 0.0
    for coef in c[::-1]:
        acc = acc * x + coef
    return acc


def _brent(f: Any, a: float, b: float, fa: float, fb: float) -> float:
    """Brent's root finder on [a, b] with f(a)·f(b) < 0, to full double precision."""
    if abs(fa) < abs(fb):
        a, b, fa, fb = b, a, fb, fa
    c, fc, d = a, fa, b - a
    mflag = True
    for _ in range(200):
        if fb == 0.0 or abs(b - a) <= 4e-16 * max(abs(b), 1e-300):
            return b
        if fa != fc and fb != fc:  # inverse quadratic interpolation
            s = (
                a * fb * fc / ((fa - fb) * (fa - fc))
                + b * fa * fc / ((fb - fa) * (fb - fc))
                + c * fa * fb / ((fc - fa) * (fc - fb))
            )
        else:  # secant
            s = b - fb * (b - a) / (fb - fa)
        lo, hi = sorted(((3 * a + b) / 4, b))
        if (
            not (lo < s < hi)
            or (mflag and abs(s - b) >= abs(b - c) / 2)
            or (not mflag and abs(s - b) >= abs(c - d) / 2)
        ):
            s = (a + b) / 2  # bisection
            mflag = True
        else:
            mflag = False
        fs = f(s)
        d, c, fc = c, b, fb
        if fa * fs < 0:
            b, fb = s, fs
        else:
            a, fa = s, fs
        if abs(fa) < abs(fb):
            a, b, fa, fb = b, a, fb, fa
    return b


def _sign_changes(c: np.ndarray) -> int:
    s = np.sign(c[c != 0])
    return int(np.count_nonzero(s[1:] != s[:-1]))


def _root_single(c: np.ndarray) -> float:
    """The one positive root x of Σ c[t] x^t when the coefficients change sign exactly once.

    Descartes' rule of signs: one sign change ⇒ exactly one positive root. f(0⁺) has the sign of
    the first coefficient and f(+∞) that of the last, so a bracket exists; it is grown
    geometrically from [0, 1] and then solved with Brent's method.
    """

    def f(x: float) -> float:
        return _poly(c, x)

    lo, hi = 0.0, 1.0
    f_lo, f_hi = c[0], f(1.0)
    while f_lo * f_hi > 0:
        lo, f_lo = hi, f_hi
        hi *= 2.0
        f_hi = f(hi)
        if not math.isfinite(f_hi):  # cannot happen with finite flows before x ~ 1e300
            break
    if f_hi == 0.0:
        return hi
    return _brent(f, lo, hi, f_lo, f_hi)


def _roots_general(c: np.ndarray) -> list[float]:
    """Every distinct positive real root x of Σ c[t] x^t (several sign changes).

    Candidates come from the companion-matrix eigenvalues (``numpy.roots``); each is polished with
    Brent on a small bracket where NPV changes sign, or kept when |f(x)| is negligible against
    Σ |c[t]| x^t (a root of even multiplicity, where NPV touches zero without crossing).
    """
    coeffs = np.trim_zeros(c[::-1], "f")  # numpy.roots wants the highest degree first
    if coeffs.size < 2:
        return []
    with np.errstate(all="ignore"):
        candidates = np.roots(coeffs)
    found: list[float] = []
    for z in candidates:
        x = float(z.real)
        if not (x > 0 and math.isfinite(x)) or abs(z.imag) > 1e-6 * max(1.0, abs(x)):
            continue

        def f(y: float) -> float:
            return _poly(c, y)

        scale = _poly(np.abs(c), x)
        root = None
        if abs(f(x)) <= 1e-9 * scale:
            # Possibly a double root, where NPV touches zero without crossing and rounding noise
            # hides the sign: a root of the derivative right there, with NPV ≈ 0, is that root.
            dc = c[1:] * np.arange(1, c.size)
            a, b = x * (1 - 1e-6), x * (1 + 1e-6)
            da, db = _poly(dc, a), _poly(dc, b)
            if da * db < 0:
                y = _brent(lambda t, dc=dc: _poly(dc, t), a, b, da, db)
                if abs(f(y)) <= 1e-12 * scale:
                    root = y
        for width in (1e-9, 1e-7, 1e-5, 1e-3):
            if root is not None:
                break
            a, b = x * (1 - width), x * (1 + width)
            fa, fb = f(a), f(b)
            if fa == 0.0:
                root = a
            elif fa * fb < 0:
                root = _brent(f, a, b, fa, fb)
        if root is None and abs(f(x)) <= 1e-9 * scale:
            root = x
        if root is not None and not any(abs(root - y) <= 1e-7 * max(root, y) for y in found):
            found.append(root)
    return sorted(found)


def solve_irr(flows: Flows) -> IrrResult:
    """The internal rate of return with the reason when there is none (see the module notes)."""
    arr = _as_flows(flows)
    nz = np.flatnonzero(arr)
    if nz.size == 0 or np.all(arr >= 0) or np.all(arr <= 0):
        return IrrResult(None, "no_sign_change")
    # Leading zeros only shift the polynomial by a power of x (x > 0 is never a root of x^k);
    # trailing zeros do not change it.
    c = arr[nz[0] : nz[-1] + 1]
    xs = [_root_single(c)] if _sign_changes(c) == 1 else _roots_general(c)
    rates = sorted({float(1.0 / x - 1.0) for x in xs})
    if not rates:
        return IrrResult(None, "no_real_root")
    if len(rates) > 1:
        return IrrResult(None, "multiple", tuple(rates))
    return IrrResult(rates[0], None, (rates[0],))


def irr(flows: Flows) -> float | None:
    """The internal rate of return when unique, else None (:func:`solve_irr` says why)."""
    return solve_irr(flows).rate
