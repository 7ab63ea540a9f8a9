"""The market's refusals, in the project's one exception tree (:mod:`tanhui.errors`)."""

from __future__ import annotations

from tanhui.errors import ConflictError, NotFoundError
from tanhui.market.rules import Reason


class Refused(ConflictError):
    """A market engine refused the command; ``reason`` is its stable
    :class:`~tanhui.market.rules.Reason` (``code`` its text form, e.g. ``bid_too_low``)."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(
            reason.zh,
            reason.en,
            hint_zh="请按提示修改后重试；交易规则见“交易规则”页面。",
            hint_en="Change the request as the message says and try again.",
        )
        self.reason = reason
        self.code = reason.value


def not_found(what_zh: str, what_en: str, ref: object) -> NotFoundError:
    return NotFoundError(f"找不到{what_zh} {ref}。", f"No {what_en} {ref}.", kind=what_en, key=ref)


def market_closed(scheme: str) -> NotFoundError:
    return NotFoundError(
        f"{scheme} 碳票尚未开设交易市场。",
        f"There is no market for {scheme} tickets yet.",
        kind="book",
        key=scheme,
        hint_zh="请交易机构先开设该品种的市场（open_book）。",
        hint_en="The market operator opens it first (open_book).",
    )
