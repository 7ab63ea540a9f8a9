"""The one exception tree of tanhui.

Every error a user can cause derives from :class:`TanhuiError`, carries a message in Chinese and
English, and says what to do next. The CLI prints ``error.message()`` and exits with 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tanhui.i18n import Lang, pick


class TanhuiError(Exception):
    """Base of every error a user can cause."""

    exit_code = 2

    def __init__(self, zh: str, en: str, *, hint_zh: str = "", hint_en: str = "") -> None:
        super().__init__(en)
        self.zh, self.en = zh, en
        self.hint_zh, self.hint_en = hint_zh, hint_en

    def message(self, lang: Lang | None = None) -> str:
        """The message with its hint, in the requested (or current) language."""
        text = pick(self.zh, self.en, lang)
        hint = pick(self.hint_zh, self.hint_en, lang)
        return f"{text}\n{hint}" if hint else text


@dataclass(frozen=True)
class Problem:
    """One problem found in an input file: where (row, column), what (value) and why (reason).

    ``row`` is the 1-based data row as a spreadsheet user counts it (header = row 1, first data row
    = row 2) or ``None`` when the problem concerns the whole file or a whole column.
    """

    code: str
    reason_zh: str
    reason_en: str
    row: int | None = None
    column: str | None = None
    value: Any = None

    def reason(self, lang: Lang | None = None) -> str:
        return pick(self.reason_zh, self.reason_en, lang)

    def to_dict(self, lang: Lang | None = None) -> dict[str, Any]:
        value = self.value
        if value is not None and not isinstance(value, int | float | str | bool):
            value = str(value)
        return {
            "row": self.row,
            "column": self.column,
            "value": value,
            "code": self.code,
            "reason": self.reason(lang),
        }


class InventoryError(TanhuiError):
    """An inventory file was rejected as a whole; ``problems`` lists every reason."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        n = len(problems)
        super().__init__(
            f"清查文件 {source} 有 {n} 个问题，未导入任何数据。",
            f"Inventory file {source} has {n} problem(s); nothing was imported.",
            hint_zh="请按下列问题逐条修改后重试（行号从表头为第 1 行算起）。",
            hint_en="Fix each problem listed below and try again (row 1 is the header).",
        )
        self.source = source
        self.problems = problems


class ParameterError(TanhuiError):
    """A parameter table or a parameter override is invalid or incomplete."""


class MethodError(TanhuiError):
    """A methodology cannot be applied to the given inputs (missing data, wrong options)."""


class ProvenanceMismatch(TanhuiError):
    """A recomputation did not reproduce a stored result; ``differences`` names what differs."""

    exit_code = 1

    def __init__(self, differences: list[str]) -> None:
        joined = "; ".join(differences)
        super().__init__(
            f"重新计算结果不一致：{joined}",
            f"Recomputation differs: {joined}",
            hint_zh="检查输入文件、参数文件和 tanhui 版本是否与原结果一致。",
            hint_en="Check that the input files, parameter file and tanhui version match.",
        )
        self.differences = differences


class DatabaseError(TanhuiError):
    """The database cannot be reached, is at the wrong schema revision, or refused an operation
    (migration, backup, restore)."""


class RegistryError(TanhuiError):
    """A registry operation was refused (a serial, a permission or a state does not allow it)."""


class SerialError(RegistryError):
    """A serial number or serial block is malformed, or a split/merge/allocation is impossible.

    ``field`` names the part that is wrong (``scheme``, ``region``, ``project``, ``period``,
    ``start``, ``end``, ``format``, ``prefix``, ``quantity``, ``serial``); ``value`` is what was
    found.
    """

    def __init__(
        self,
        zh: str,
        en: str,
        *,
        field: str,
        value: Any = None,
        hint_zh: str = "",
        hint_en: str = "",
    ) -> None:
        super().__init__(zh, en, hint_zh=hint_zh, hint_en=hint_en)
        self.field, self.value = field, value


class PermissionDenied(RegistryError):
    """The acting role (or organisation) may not perform ``action``; ``allowed`` lists who may."""

    def __init__(
        self,
        zh: str,
        en: str,
        *,
        action: str,
        roles: tuple[str, ...] = (),
        allowed: tuple[str, ...] = (),
        hint_zh: str = "",
        hint_en: str = "",
    ) -> None:
        super().__init__(zh, en, hint_zh=hint_zh, hint_en=hint_en)
        self.action, self.roles, self.allowed = action, roles, allowed


class StateError(RegistryError):
    """``action`` is not allowed in ``state`` (of a serial block or of an issuance request)."""

    def __init__(
        self,
        zh: str,
        en: str,
        *,
        state: str,
        action: str,
        allowed_from: tuple[str, ...] = (),
        hint_zh: str = "",
        hint_en: str = "",
    ) -> None:
        super().__init__(zh, en, hint_zh=hint_zh, hint_en=hint_en)
        self.state, self.action, self.allowed_from = state, action, allowed_from


class InputError(TanhuiError):
    """A value given by the user is invalid (a name, a password, a code); ``field`` names it."""

    def __init__(
        self, zh: str, en: str, *, field: str = "", hint_zh: str = "", hint_en: str = ""
    ) -> None:
        super().__init__(zh, en, hint_zh=hint_zh, hint_en=hint_en)
        self.field = field


class NotFoundError(TanhuiError):
    """Something named by the user does not exist (or is not visible to them)."""

    def __init__(
        self,
        zh: str,
        en: str,
        *,
        kind: str = "",
        key: Any = None,
        hint_zh: str = "",
        hint_en: str = "",
    ) -> None:
        super().__init__(zh, en, hint_zh=hint_zh, hint_en=hint_en)
        self.kind, self.key = kind, key


class ConflictError(TanhuiError):
    """The request conflicts with what exists (a duplicate name, the last administrator, …)."""


class AuthenticationError(TanhuiError):
    """Who is asking could not be established: wrong credentials, a missing, invalid or expired
    token or API key, or a deactivated account. ``reason`` is one of ``credentials``,
    ``missing``, ``invalid_token``, ``expired``, ``inactive``."""

    def __init__(
        self, zh: str, en: str, *, reason: str = "credentials", hint_zh: str = "", hint_en: str = ""
    ) -> None:
        super().__init__(zh, en, hint_zh=hint_zh, hint_en=hint_en)
        self.reason = reason


class ConfigError(TanhuiError):
    """The settings do not allow this (e.g. the API without a real secret key)."""
