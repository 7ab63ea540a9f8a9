"""Retirement certificates (注销证明): HTML and PDF, Chinese and English, with a verification QR code.

Pure data in, text or bytes out; no database. The ledger builds a :class:`CertificateData` from a
retirement record and calls :func:`render_html` (web page, e-mail) or :func:`render_pdf` (the
document a court, an event organiser or a tree-planting office files). Both come from one Jinja2
template, ``tanhui/web/templates/certificate.html``, styled by
``tanhui/web/static/css/certificate.css``, so the PDF and the page always say the same thing.

Decisions:

* **Chinese first, English after it.** ``lang="both"`` (the default) writes every heading, label
  and the statement in Chinese, with the English beneath (headings, statement) or beside it in a
  smaller grey face (field labels, table headers); ``"zh"`` or ``"en"`` writes one language. Names
  (holder, beneficiary, project, registry) are printed as given, in whatever script they are.
* **One page for a typical certificate** (up to a few serial ranges); a long schedule of serial
  ranges flows onto further pages after the QR code and the statement.
* **Everything is escaped.** Autoescaping is on and nothing user-provided is marked safe; the only
  raw markup is the QR code's SVG, which :func:`qr_svg` builds from the URL's bits (the URL itself
  never appears in it).
* **Times are shown in China Standard Time** (UTC+08:00, no daylight saving), whatever the zone of
  ``retired_at``; ``retired_at`` must be timezone-aware.
* **The quantity is checked**: the per-range quantities must add up to ``quantity_tco2e``, and a
  range written in this registry's serial format (:mod:`tanhui.registry.serials`) must hold exactly
  its stated quantity. A range in another registry's format is printed as given.
* **PDF**: WeasyPrint (the ``pdf`` extra), imported only inside :func:`render_pdf`. The CSS names
  Noto Serif/Sans CJK SC, Source Han, WenQuanYi and the usual desktop Chinese fonts in turn; on
  Debian/Ubuntu install ``fonts-noto-cjk``. When fontconfig reports no Chinese font at all,
  :func:`render_pdf` refuses (a certificate with boxes instead of names is worse than none).
  The serial table repeats its header on every page and never splits a row; each page's footer
  carries the certificate number and "page N of M".
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources
from typing import Any, Literal

import segno
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from tanhui.errors import RegistryError
from tanhui.registry.serials import SCHEMES, SerialError
from tanhui.registry.serials import parse as parse_serial

__all__ = [
    "PURPOSES",
    "SCHEME_NAMES",
    "CertificateData",
    "CertificateError",
    "RetiredRange",
    "amount_in_capitals",
    "qr_svg",
    "render_html",
    "render_pdf",
]

CertificateLang = Literal["zh", "en", "both"]

#: Purposes of a retirement: code → (Chinese, English).
PURPOSES: dict[str, tuple[str, str]] = {
    "carbon_neutral_event": ("大型活动碳中和", "Carbon-neutral large-scale event"),
    "judicial_restoration": ("生态司法修复", "Ecological restoration ordered by a court"),
    "tree_planting_duty": ("义务植树尽责", "Fulfilment of the tree-planting duty"),
    "carbon_inclusion": ("碳普惠", "Carbon inclusion (carbon points)"),
    "enterprise_offset": ("企业抵消", "Enterprise emission offset"),
    "zero_carbon": ("零碳创建", "Zero-carbon entity"),
    "cross_regional": ("跨区域补偿", "Cross-regional ecological compensation"),
    "voluntary": ("自愿注销", "Voluntary retirement"),
    "other": ("其他", "Other"),
}

#: What a scheme code means, printed beside the code when known: code → (Chinese, English).
SCHEME_NAMES: dict[str, tuple[str, str]] = {
    "SMCER": ("三明林业碳票", "Sanming forestry carbon ticket"),
    "GZCT": ("贵州省林业碳票", "Guizhou provincial forestry carbon ticket"),
    "CCER": ("国家核证自愿减排量", "China Certified Emission Reduction"),
    "FFCER": ("福建林业碳汇减排量", "Fujian Forestry Certified Emission Reduction"),
    "VCS": ("核证碳标准", "Verified Carbon Standard"),
    "GS": ("黄金标准", "Gold Standard"),
}

#: Zone in which dates are printed: China Standard Time (no daylight saving since 1991).
DISPLAY_TZ = timezone(timedelta(hours=8), "UTC+08:00")

_QR_ERROR = "m"  # 15 % recovery: survives a crease or a stamp across the code on paper


class CertificateError(RegistryError):
    """The data for a certificate is inconsistent, or a certificate cannot be rendered here."""


@dataclass(frozen=True)
class RetiredRange:
    """One retired serial block as printed on the certificate: its text and its tonnes."""

    serial: str
    quantity: int


def _bad(zh: str, en: str, hint_zh: str = "", hint_en: str = "") -> CertificateError:
    return CertificateError(zh, en, hint_zh=hint_zh, hint_en=hint_en)


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@dataclass(frozen=True)
class CertificateData:
    """Everything a retirement certificate prints. ``serial_ranges`` may be given as a list of
    :class:`RetiredRange` or of ``(serial, quantity)`` pairs; it is stored as a tuple."""

    certificate_number: str
    retired_at: datetime
    holder_name: str
    beneficiary: str
    purpose: str
    quantity_tco2e: int
    serial_ranges: tuple[RetiredRange, ...]
    project_name: str
    scheme: str
    region: str
    monitoring_period: str
    registry_name: str
    verification_url: str
    note: str = ""
    court_name: str | None = None
    court_case_number: str | None = None
    event_name: str | None = None

    def __post_init__(self) -> None:
        ranges = tuple(
            r if isinstance(r, RetiredRange) else RetiredRange(*r) for r in self.serial_ranges
        )
        object.__setattr__(self, "serial_ranges", ranges)
        for name in (
            "certificate_number",
            "holder_name",
            "beneficiary",
            "project_name",
            "scheme",
            "region",
            "monitoring_period",
            "registry_name",
            "verification_url",
        ):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise _bad(f"注销证明缺少 {name}。", f"The certificate needs a non-empty {name}.")
        if not isinstance(self.retired_at, datetime) or self.retired_at.utcoffset() is None:
            raise _bad(
                "注销时间必须带时区。",
                "retired_at must be a timezone-aware datetime.",
                "例如 datetime.now(timezone.utc)。",
                "e.g. datetime.now(timezone.utc).",
            )
        if self.purpose not in PURPOSES:
            raise _bad(
                f"未知的注销用途 {self.purpose!r}。",
                f"Unknown retirement purpose {self.purpose!r}.",
                f"可选：{', '.join(PURPOSES)}。",
                f"Choose one of: {', '.join(PURPOSES)}.",
            )
        if not self.verification_url.startswith(("https://", "http://")):
            raise _bad(
                f"核验网址必须以 http:// 或 https:// 开头：{self.verification_url!r}。",
                f"The verification URL must start with http:// or https://: "
                f"{self.verification_url!r}.",
            )
        if not _positive_int(self.quantity_tco2e):
            raise _bad(
                f"注销数量必须是正整数（吨），实为 {self.quantity_tco2e!r}。",
                f"quantity_tco2e must be a positive whole number of tonnes, got "
                f"{self.quantity_tco2e!r}.",
            )
        if not ranges:
            raise _bad(
                "注销证明至少要列出一个序号段。", "A certificate lists at least one serial range."
            )
        for r in ranges:
            self._check_range(r)
        total = sum(r.quantity for r in ranges)
        if total != self.quantity_tco2e:
            raise _bad(
                f"各序号段数量之和 {total} 吨与注销数量 {self.quantity_tco2e} 吨不符。",
                f"The serial ranges add up to {total} t, not the {self.quantity_tco2e} t retired.",
            )

    @staticmethod
    def _check_range(r: RetiredRange) -> None:
        if not isinstance(r.serial, str) or not r.serial.strip():
            raise _bad("序号段不能为空。", "A serial range must not be empty.")
        if not _positive_int(r.quantity):
            raise _bad(
                f"序号段 {r.serial} 的数量必须是正整数，实为 {r.quantity!r}。",
                f"The quantity of serial range {r.serial} must be a positive integer, "
                f"got {r.quantity!r}.",
            )
        scheme = r.serial.split("-", 1)[0]
        try:
            parsed = parse_serial(r.serial, schemes=SCHEMES | {scheme})
        except SerialError:
            return  # another registry's format: printed as given
        if parsed.count != r.quantity:
            raise _bad(
                f"序号段 {r.serial} 含 {parsed.count} 吨，而非所列的 {r.quantity} 吨。",
                f"Serial range {r.serial} holds {parsed.count} t, not the {r.quantity} t listed.",
            )


# --------------------------------------------------------------------------------------------
# Formatting helpers


_DIGITS_CAP = "零壹贰叁肆伍陆柒捌玖"
_UNITS_CAP = ("", "拾", "佰", "仟")
_GROUPS_CAP = ("", "万", "亿", "万亿")


def _group_capitals(group: int) -> str:
    out, zero = "", False
    for pos in (3, 2, 1, 0):
        digit = group // 10**pos % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += _DIGITS_CAP[digit] + _UNITS_CAP[pos]
    return out


def amount_in_capitals(n: int) -> str:
    """A whole number in Chinese financial capitals (大写), as on cheques and receipts:
    ``12723`` → ``壹万贰仟柒佰贰拾叁``, ``100010`` → ``壹拾万零壹拾``."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 0 or n >= 10**16:
        raise ValueError(f"expected an integer 0 ≤ n < 10^16, got {n!r}")
    if n == 0:
        return "零"
    groups: list[int] = []
    while n:
        groups.append(n % 10_000)
        n //= 10_000
    out, pending_zero = "", False
    for i in reversed(range(len(groups))):
        group = groups[i]
        if group == 0:
            pending_zero = bool(out)
            continue
        if out and (pending_zero or group < 1000):
            out += "零"
        out += _group_capitals(group) + _GROUPS_CAP[i]
        pending_zero = False
    return out


_MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)  # not strftime("%B"): that follows the process locale


def _format_dates(at: datetime) -> tuple[str, str, str]:
    local = at.astimezone(DISPLAY_TZ)
    zh = f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}（北京时间）"
    en = f"{local.day} {_MONTHS_EN[local.month - 1]} {local.year}, {local:%H:%M} (UTC+08:00)"
    return zh, en, local.isoformat(timespec="seconds")


# --------------------------------------------------------------------------------------------
# QR code


def from_record(
    record: dict[str, Any], *, verification_url: str, registry_name: str
) -> CertificateData:
    """The certificate of a retirement record as ``Ledger.lookup(number)`` returns it; the API and
    the web pages both render from this."""
    serial = record["serial"]
    try:
        prefix = parse_serial(serial).prefix
        period = f"{prefix.period_start}–{prefix.period_end}"
    except SerialError:  # a serial in another registry's format
        period = "—"
    retired_at = datetime.fromisoformat(record["retired_at"])
    if retired_at.tzinfo is None:
        retired_at = retired_at.replace(tzinfo=UTC)
    return CertificateData(
        certificate_number=record["certificate_number"],
        retired_at=retired_at,
        holder_name=record.get("holder") or "—",
        beneficiary=record["beneficiary"],
        purpose=record["purpose"],
        quantity_tco2e=int(record["quantity"]),
        serial_ranges=(RetiredRange(serial, int(record["quantity"])),),
        project_name=record.get("project") or "—",
        scheme=record.get("scheme") or serial.split("-", 1)[0],
        region=record.get("region_code") or "—",
        monitoring_period=period,
        registry_name=registry_name,
        verification_url=verification_url,
        note=record.get("note") or "",
    )


def qr_svg(url: str) -> str:
    """The QR code of ``url`` as an inline SVG element (no XML declaration, sized by CSS through
    its ``viewBox``; one unit per module, with the standard 4-module quiet zone)."""
    qr = segno.make_qr(url, error=_QR_ERROR, boost_error=False)
    return qr.svg_inline(
        scale=1,
        border=4,
        omitsize=True,
        svgclass="qr",
        lineclass=None,
        dark="#000",
        light="#fff",
    )


# --------------------------------------------------------------------------------------------
# Rendering


@functools.cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("tanhui.web", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@functools.cache
def _css() -> str:
    return (
        resources.files("tanhui.web")
        .joinpath("static", "css", "certificate.css")
        .read_text(encoding="utf-8")
    )


def _context(
    data: CertificateData, lang: CertificateLang, stylesheet: str | None
) -> dict[str, Any]:
    if lang not in ("zh", "en", "both"):
        raise _bad(
            f"未知的证明语言 {lang!r}。",
            f"Unknown certificate language {lang!r}.",
            "可选：zh、en、both。",
            "Choose zh, en or both.",
        )
    date_zh, date_en, date_iso = _format_dates(data.retired_at)
    scheme_names = SCHEME_NAMES.get(data.scheme)
    purpose_zh, purpose_en = PURPOSES[data.purpose]
    return {
        "d": data,
        "lang": lang,
        "html_lang": "en" if lang == "en" else "zh-CN",
        "purpose_zh": purpose_zh,
        "purpose_en": purpose_en,
        "scheme_zh": scheme_names[0] if scheme_names else "",
        "scheme_en": scheme_names[1] if scheme_names else "",
        "date_zh": date_zh,
        "date_en": date_en,
        "date_iso": date_iso,
        "quantity": f"{data.quantity_tco2e:,}",
        "quantity_capitals": amount_in_capitals(data.quantity_tco2e),
        "ranges": [(i, r.serial, f"{r.quantity:,}") for i, r in enumerate(data.serial_ranges, 1)],
        "qr": Markup(qr_svg(data.verification_url)),
        "stylesheet": stylesheet,
        "css": Markup(_css()) if stylesheet is None else "",
    }


def render_html(
    data: CertificateData, lang: CertificateLang = "both", *, stylesheet: str | None = None
) -> str:
    """The certificate as one HTML document.

    ``lang``: ``"both"`` (Chinese, English beneath), ``"zh"`` or ``"en"``. By default the CSS is
    inlined, so the document stands alone (save it, mail it, print it); the web UI passes
    ``stylesheet="/static/css/certificate.css"`` to link the served file instead.
    """
    return _env().get_template("certificate.html").render(_context(data, lang, stylesheet))


def render_pdf(data: CertificateData, lang: CertificateLang = "both") -> bytes:
    """The certificate as an A4 PDF, from the same template and CSS as :func:`render_html`.

    Needs the ``pdf`` extra (WeasyPrint) and a Chinese font; raises :class:`CertificateError`
    saying what to install otherwise.
    """
    from tanhui._pdf import html_to_pdf

    return html_to_pdf(
        render_html(data, lang),
        what_zh="PDF 证明",
        what_en="PDF certificate",
        error=CertificateError,
    )
