"""Decode the text files counties send: UTF-8 (with or without BOM), GBK or GB18030."""

from __future__ import annotations

import re

from tanhui.errors import InventoryError, Problem

# Order matters: UTF-8 is strict enough that GBK text almost never decodes as UTF-8 by accident;
# GB18030 is a superset of GBK (and of GB2312), so it is the only Chinese fallback needed.
CANDIDATES = ("utf-8", "gb18030")


def decode_bytes(data: bytes, source: str, encoding: str | None = None) -> tuple[str, str]:
    """Return ``(text, encoding_name)``; raise :class:`InventoryError` when nothing decodes.

    ``encoding`` forces one codec. The name returned is ``utf-8-sig`` for UTF-8 with a BOM, and
    ``gbk`` when the text decodes as GBK (so users see the name they know), else ``gb18030``.
    """
    if encoding:
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise _undecodable(data, source, [encoding], exc) from None
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise _undecodable(data, source, ["utf-8-sig"], exc) from None
    first_error: UnicodeDecodeError | None = None
    for codec in CANDIDATES:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as exc:
            first_error = first_error or exc
            continue
        if codec == "utf-8" and _looks_like_misread_gbk(text, data):
            continue
        if codec == "gb18030":
            try:
                data.decode("gbk")
                codec = "gbk"
            except UnicodeDecodeError:
                pass
        return text, codec
    assert first_error is not None
    raise _undecodable(data, source, list(CANDIDATES), first_error)


_CJK = re.compile("[\u3400-\u9fff\uf900-\ufaff]")


def _has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def _looks_like_misread_gbk(text: str, data: bytes) -> bool:
    """Short GBK text can also be valid UTF-8 (杉木 in GBK reads as "ɼľ").

    Chinese inventory files are full of CJK characters: when the UTF-8 reading has none but
    non-ASCII letters, and the GB18030 reading has CJK characters, the file is GBK.
    """
    if text.isascii() or _has_cjk(text):
        return False
    try:
        return _has_cjk(data.decode("gb18030"))
    except UnicodeDecodeError:
        return False


def _undecodable(
    data: bytes, source: str, tried: list[str], exc: UnicodeDecodeError | LookupError
) -> InventoryError:
    if isinstance(exc, UnicodeDecodeError):
        offset = exc.start
        line = data.count(b"\n", 0, offset) + 1
        bad = data[offset : offset + 4].hex(" ")
        where_zh, where_en = (
            f"第 {line} 行（字节 {offset}，{bad}）",
            f"line {line} (byte {offset}: {bad})",
        )
    else:
        line, where_zh, where_en = None, "", ""
    return InventoryError(
        source,
        [
            Problem(
                "undecodable_text",
                f"无法解码文本{where_zh}；已尝试 {', '.join(tried)}。请另存为 UTF-8 或 GBK 编码的 CSV。",
                f"Cannot decode the text at {where_en}; tried {', '.join(tried)}. "
                "Save the file as UTF-8 or GBK CSV.",
                row=line,
            )
        ],
    )
