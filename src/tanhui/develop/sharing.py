"""Revenue sharing (股份合作): a sale's revenue in fen → one payout per payee. Pure, stdlib only.

Payouts always sum exactly to the revenue. Shares are exact fractions (:class:`fractions.Fraction`;
floats are taken at their exact binary value), and whole fen are given out by the **largest
remainder** method (Hamilton): every payee gets the floor of its exact quota, and the fen left over
go one each to the largest fractional remainders; equal remainders are decided by the payee's key
(holders by ascending holder id, before the developer). So the result is deterministic, every
payee gets its quota rounded down or up, and a payee with a larger weight never gets less.

Rules (:class:`SharingRule`):

``by_area``          every holder by the area of its pooled parcels.
``by_agreed_share``  every holder gets its agreed share of the revenue (the ``share`` of its
                     authorizations, a fraction ≤ 1 in total); what the shares leave goes to
                     the developer (the project's owner).
``fixed_split``      first a fixed split in basis points (1/10,000) between the pools
                     ``holders`` (households, state farms, companies), ``collective`` (村集体)
                     and ``developer``; then each holder pool by area.

:func:`naive_largest_remainder` hands out one fen at a time to the payee furthest below its
quota: the slow reference the fast allocation must equal (tests check it with hypothesis).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal, TypeVar

from tanhui.errors import InputError

__all__ = [
    "BASIS_POINTS",
    "HOLDER_KINDS",
    "METHODS",
    "POOLS",
    "Payout",
    "SharingRule",
    "Stake",
    "largest_remainder",
    "naive_largest_remainder",
    "payouts",
]

K = TypeVar("K", bound=Hashable)
Weight = int | float | Fraction | Decimal
Method = Literal["by_area", "by_agreed_share", "fixed_split"]
Allocator = Callable[[int, Mapping[K, Fraction]], dict[K, int]]

BASIS_POINTS = 10_000
METHODS: tuple[str, ...] = ("by_area", "by_agreed_share", "fixed_split")
#: Payout pools, in tie-break order.
POOLS: tuple[str, ...] = ("holders", "collective", "developer")
HOLDER_KINDS: tuple[str, ...] = ("household", "collective", "state_farm", "company")

METHOD_LABELS = {
    "by_area": ("按面积", "by area"),
    "by_agreed_share": ("按约定份额", "by agreed share"),
    "fixed_split": ("固定比例（集体/农户/开发方）后按面积", "fixed split, then by area"),
}
POOL_LABELS = {
    "holders": ("农户及其他权利人", "households and other holders"),
    "collective": ("村集体", "village collective"),
    "developer": ("开发方", "developer"),
}


def _fraction(value: Weight, what: str) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, int | float | Fraction | Decimal):
        raise InputError(
            f"{what}应为数值，实为 {value!r}。",
            f"{what} must be a number, got {value!r}.",
            field=what,
        )
    if isinstance(value, float | Decimal) and not math.isfinite(value):
        raise InputError(
            f"{what}应为有限数值，实为 {value}。",
            f"{what} must be finite, got {value}.",
            field=what,
        )
    fraction = Fraction(value)
    if fraction < 0:
        raise InputError(
            f"{what}不能为负数（{value}）。", f"{what} may not be negative ({value}).", field=what
        )
    return fraction


def _check_total(total: int) -> None:
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise InputError(
            f"金额应为非负整数（分），实为 {total!r}。",
            f"The amount must be a whole number of fen ≥ 0, got {total!r}.",
            field="revenue_fen",
        )


def _weights(weights: Mapping[K, Weight]) -> dict[K, Fraction]:
    exact = {key: _fraction(w, "weight") for key, w in weights.items()}
    return exact


def _check_allocatable(total: int, weights: Mapping[K, Fraction]) -> None:
    if total > 0 and sum(weights.values(), Fraction(0)) == 0:
        raise InputError(
            "没有可分配的对象：所有份额或面积都为零。",
            "Nobody to pay: every share or area is zero.",
            field="weights",
            hint_zh="请检查参与分配的权利人及其面积或约定份额。",
            hint_en="Check the holders taking part and their areas or agreed shares.",
        )


def largest_remainder(total: int, weights: Mapping[K, Weight]) -> dict[K, int]:
    """Split ``total`` (whole fen) in proportion to ``weights``; the parts sum to ``total``.

    Floors of the exact quotas first, then one more fen to each of the largest fractional
    remainders; ties go to the smaller key (keys must be mutually comparable).
    """
    _check_total(total)
    exact = _weights(weights)
    _check_allocatable(total, exact)
    if total == 0:
        return dict.fromkeys(exact, 0)
    whole = sum(exact.values(), Fraction(0))
    out: dict[K, int] = {}
    remainders: list[tuple[Fraction, K]] = []
    for key, weight in exact.items():
        quota = total * weight / whole
        floor = quota.numerator // quota.denominator
        out[key] = floor
        remainders.append((quota - floor, key))
    left = total - sum(out.values())
    remainders.sort(key=lambda item: (-item[0], item[1]))
    for _, key in remainders[:left]:
        out[key] += 1
    return out


def naive_largest_remainder(total: int, weights: Mapping[K, Weight]) -> dict[K, int]:
    """The reference: give one fen at a time to the payee furthest below its exact quota (ties
    to the smaller key). O(total × payees): for tests, never for production amounts."""
    _check_total(total)
    exact = _weights(weights)
    _check_allocatable(total, exact)
    out = dict.fromkeys(exact, 0)
    if total == 0:
        return out
    # integer weights over a common denominator: the deficit of k, times the whole weight, is
    # total × w_k − out_k × whole (exact integer comparisons)
    common = math.lcm(*(w.denominator for w in exact.values()))
    integral = {k: int(w * common) for k, w in exact.items()}
    whole = sum(integral.values())
    for _ in range(total):
        key = min(out, key=lambda k: (out[k] * whole - total * integral[k], k))
        out[key] += 1
    return out


# ------------------------------------------------------------------------------------ rules


@dataclass(frozen=True)
class Stake:
    """One holder's part in a pooled project: pooled area (ha) and, when agreed, its share of
    the revenue (a fraction ≤ 1). Several stakes of one holder are added together."""

    holder_id: int
    kind: str
    area_ha: Weight
    share: Weight | None = None


@dataclass(frozen=True)
class SharingRule:
    """How a project's revenue is shared; see the module docstring. The basis points are used
    by ``fixed_split`` only and must sum to 10,000."""

    method: Method = "by_area"
    holders_bp: int = BASIS_POINTS
    collective_bp: int = 0
    developer_bp: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InputError(
                f"未知的分配方式“{self.method}”。",
                f"Unknown sharing method “{self.method}”.",
                field="method",
                hint_zh=f"可选：{'、'.join(METHODS)}",
                hint_en=f"One of: {', '.join(METHODS)}",
            )
        parts = (self.holders_bp, self.collective_bp, self.developer_bp)
        if any(isinstance(p, bool) or not isinstance(p, int) or p < 0 for p in parts):
            raise InputError(
                "分配比例应为非负整数（万分比）。",
                "Split shares must be whole basis points ≥ 0.",
                field="split",
            )
        if self.method == "fixed_split" and sum(parts) != BASIS_POINTS:
            raise InputError(
                f"固定比例之和应为 10000（万分之一），实为 {sum(parts)}。",
                f"The fixed split must sum to 10,000 basis points, got {sum(parts)}.",
                field="split",
                hint_zh="例如 农户 6000、集体 2000、开发方 2000。",
                hint_en="For example holders 6000, collective 2000, developer 2000.",
            )

    def as_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "holders_bp": self.holders_bp,
            "collective_bp": self.collective_bp,
            "developer_bp": self.developer_bp,
        }


@dataclass(frozen=True)
class Payout:
    """What one payee receives. ``holder_id`` is ``None`` for the developer; ``weight`` is the
    payee's area (ha) or agreed share, exactly, as used for the split."""

    pool: str
    holder_id: int | None
    amount_fen: int
    weight: Fraction


#: Payee keys: holders (0, id) sort before the developer (1, 0) in ties.
_DEVELOPER = (1, 0)


def _holder_key(holder_id: int) -> tuple[int, int]:
    return (0, holder_id)


@dataclass
class _Holder:
    kind: str
    area: Fraction
    share: Fraction | None
    shares_given: int


def _aggregate(stakes: Sequence[Stake]) -> dict[int, _Holder]:
    out: dict[int, _Holder] = {}
    for stake in stakes:
        if stake.kind not in HOLDER_KINDS:
            raise InputError(
                f"未知的权利人类型“{stake.kind}”。",
                f"Unknown rights-holder kind “{stake.kind}”.",
                field="kind",
            )
        area = _fraction(stake.area_ha, "area_ha")
        share = None if stake.share is None else _fraction(stake.share, "share")
        held = out.get(stake.holder_id)
        if held is None:
            out[stake.holder_id] = _Holder(stake.kind, area, share, int(share is not None))
            continue
        if held.kind != stake.kind:
            raise InputError(
                f"权利人 {stake.holder_id} 的类型不一致（{held.kind} / {stake.kind}）。",
                f"Holder {stake.holder_id} has two kinds ({held.kind} / {stake.kind}).",
                field="kind",
            )
        held.area += area
        if share is not None:
            held.share = (held.share or Fraction(0)) + share
            held.shares_given += 1
    return out


def _by_area(
    total: int, pool: str, holders: Mapping[int, _Holder], allocate: Allocator
) -> list[Payout]:
    if total and not holders:
        label_zh, label_en = POOL_LABELS[pool]
        raise InputError(
            f"“{label_zh}”分得 {total} 分，但项目中没有此类权利人。",
            f"The {label_en} pool gets {total} fen, but the project has no such holder.",
            field="split",
            hint_zh="请调整固定比例，或先登记相应权利人及其授权。",
            hint_en="Change the split, or record such holders and their authorizations first.",
        )
    amounts = allocate(total, {_holder_key(h): held.area for h, held in holders.items()})
    return [Payout(pool, h, amounts[_holder_key(h)], held.area) for h, held in holders.items()]


def payouts(
    revenue_fen: int,
    stakes: Sequence[Stake],
    rule: SharingRule,
    *,
    allocate: Allocator | None = None,
) -> list[Payout]:
    """The payouts of a sale, ordered by pool then holder id; they sum to ``revenue_fen``.

    ``allocate`` is :func:`largest_remainder` (pass :func:`naive_largest_remainder` to check).
    """
    allocate = allocate or largest_remainder
    _check_total(revenue_fen)
    holders = _aggregate(stakes)
    if not holders:
        raise InputError(
            "没有参与分配的权利人。",
            "No rights holder takes part in the sharing.",
            field="stakes",
            hint_zh="只有在销售日期持有有效授权的权利人参与分配。",
            hint_en="Only holders with a valid authorization on the sale date take part.",
        )
    out: list[Payout]
    if rule.method == "by_area":
        out = _by_area(revenue_fen, "holders", holders, allocate)
    elif rule.method == "by_agreed_share":
        missing = sorted(h for h, held in holders.items() if held.share is None)
        if missing:
            raise InputError(
                f"按约定份额分配，但权利人 {', '.join(map(str, missing))} 没有约定份额。",
                f"Sharing by agreed share, but holder(s) {', '.join(map(str, missing))} "
                "have no agreed share.",
                field="share",
                hint_zh="请在授权记录中填写份额，或改用按面积分配。",
                hint_en="Record a share in their authorizations, or share by area.",
            )
        shares = {h: held.share or Fraction(0) for h, held in holders.items()}
        total_share = sum(shares.values(), Fraction(0))
        if total_share > 1:
            raise InputError(
                f"约定份额之和为 {float(total_share):.4f}，超过 1。",
                f"The agreed shares sum to {float(total_share):.4f}, more than 1.",
                field="share",
                hint_zh="请核对各授权记录的份额。",
                hint_en="Check the shares recorded in the authorizations.",
            )
        weights: dict[tuple[int, int], Fraction] = {_holder_key(h): s for h, s in shares.items()}
        weights[_DEVELOPER] = 1 - total_share
        amounts = allocate(revenue_fen, weights)
        out = [Payout("holders", h, amounts[_holder_key(h)], s) for h, s in shares.items()]
        if total_share < 1:
            out.append(Payout("developer", None, amounts[_DEVELOPER], 1 - total_share))
    else:
        pool_bp = {
            "holders": rule.holders_bp,
            "collective": rule.collective_bp,
            "developer": rule.developer_bp,
        }
        pool_keys = {(POOLS.index(p), 0): bp for p, bp in pool_bp.items()}
        pools = allocate(revenue_fen, pool_keys)
        amount = {p: pools[(POOLS.index(p), 0)] for p in POOLS}
        collective = {h: v for h, v in holders.items() if v.kind == "collective"}
        others = {h: v for h, v in holders.items() if v.kind != "collective"}
        out = _by_area(amount["holders"], "holders", others, allocate)
        out += _by_area(amount["collective"], "collective", collective, allocate)
        if rule.developer_bp:
            out.append(
                Payout(
                    "developer",
                    None,
                    amount["developer"],
                    Fraction(rule.developer_bp, BASIS_POINTS),
                )
            )
    out.sort(key=lambda p: (POOLS.index(p.pool), p.holder_id or 0))
    assert sum(p.amount_fen for p in out) == revenue_fen
    return out
