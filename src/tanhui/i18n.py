"""Language choice for messages: Chinese (default in the UI) or English.

The CLI follows the locale (``TANHUI_LANG``, then ``LC_ALL``/``LC_MESSAGES``/``LANG``); anything
starting with ``zh`` selects Chinese, anything else English.
"""

from __future__ import annotations

import os
from typing import Literal

Lang = Literal["zh", "en"]


def current_lang() -> Lang:
    """The language of messages for this process, from the environment."""
    for var in ("TANHUI_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def pick(zh: str, en: str, lang: Lang | None = None) -> str:
    """Return the text in the requested (or current) language."""
    return zh if (lang or current_lang()) == "zh" else en
