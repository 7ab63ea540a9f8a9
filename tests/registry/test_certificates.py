"""Retirement certificates: HTML (every field, escaped, bilingual), QR code, PDF (CJK text embedded,
every serial, pagination). The PDF tests read the document back with poppler's pdftotext/pdfinfo."""

from __future__ import annotations

import builtins
import html
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
import segno

from tanhui import _pdf
from tanhui.errors import TanhuiError
from tanhui.registry.certificates import (
    PURPOSES,
    CertificateData,
    CertificateError,
    RetiredRange,
    amount_in_capitals,
    qr_svg,
    render_html,
    render_pdf,
)

URL = "http://tanhui.example.org:8000/verify/TH-2026-000123"
PREFIX = "SMCER-350421-000123-20162020"


def _ranges(n: int, first_quantity: int = 12_723) -> list[RetiredRange]:
    """``n`` disjoint ranges of one project; the first holds ``first_quantity`` tonnes."""
    out, start = [], 1
    for i in range(n):
        q = first_quantity if i == 0 else 10 + i
        out.append(RetiredRange(f"{PREFIX}-{start:09d}-{start + q - 1:09d}", q))
        start += q + 3
    return out


def _data(n_ranges: int = 2, **changes) -> CertificateData:
    ranges = _ranges(n_ranges)
    base = CertificateData(
        certificate_number="TH-2026-000123",
        retired_at=datetime(2026, 3, 5, 6, 30, tzinfo=UTC),
        holder_name="将乐县国有林场",
        beneficiary="福建省将乐县人民法院生态修复基地",
        purpose="judicial_restoration",
        note="被告人自愿认购碳汇以替代性修复受损森林",
        quantity_tco2e=sum(r.quantity for r in ranges),
        serial_ranges=tuple(ranges),
        project_name="将乐县国有林场森林经营碳汇项目",
        scheme="SMCER",
        region="福建省三明市将乐县（350428）",
        monitoring_period="2016–2020",
        registry_name="三明林业碳票登记簿",
        verification_url=URL,
        court_name="将乐县人民法院",
        court_case_number="（2025）闽0428刑初12号",
        event_name="第十届海峡两岸林业博览会",
    )
    return replace(base, **changes) if changes else base


# ------------------------------------------------------------------------------------------------
# data checks


def test_ranges_given_as_pairs_become_a_tuple():
    pairs = [(r.serial, r.quantity) for r in _ranges(2)]
    data = _data(serial_ranges=pairs)
    assert data.serial_ranges == tuple(_ranges(2))


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"quantity_tco2e": 1}, "add up"),
        ({"purpose": "greenwash"}, "purpose"),
        ({"retired_at": datetime(2026, 3, 5, 6, 30)}, "timezone"),
        ({"verification_url": "javascript:alert(1)"}, "http"),
        ({"beneficiary": "  "}, "beneficiary"),
        ({"serial_ranges": ()}, "at least one"),
        (
            {"serial_ranges": ((f"{PREFIX}-000000001-000000010", 9),), "quantity_tco2e": 9},
            "holds 10",
        ),
        ({"serial_ranges": (("X", 0),), "quantity_tco2e": 1}, "positive"),
    ],
)
def test_inconsistent_data_is_refused(changes, needle):
    with pytest.raises(CertificateError) as info:
        _data(**changes)
    assert isinstance(info.value, TanhuiError)
    assert needle in info.value.en
    assert info.value.zh


def test_foreign_serial_formats_are_printed_as_given():
    data = _data(serial_ranges=(("VCS-VCU-1234-MER-2019-100-199", 100),), quantity_tco2e=100)
    assert "VCS-VCU-1234-MER-2019-100-199" in render_html(data)


def test_every_purpose_has_both_languages():
    assert set(PURPOSES) == {
        "carbon_neutral_event",
        "judicial_restoration",
        "tree_planting_duty",
        "carbon_inclusion",
        "enterprise_offset",
        "zero_carbon",
        "cross_regional",
        "voluntary",
        "other",
    }
    for purpose, (zh, en) in PURPOSES.items():
        assert re.search(r"[\u4e00-\u9fff]", zh), purpose
        assert en.isascii(), purpose
        assert zh in render_html(_data(purpose=purpose), "zh")
        assert en in render_html(_data(purpose=purpose), "en")


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "零"),
        (1, "壹"),
        (10, "壹拾"),
        (12_723, "壹万贰仟柒佰贰拾叁"),
        (1_005, "壹仟零伍"),
        (10_000, "壹万"),
        (100_010, "壹拾万零壹拾"),
        (1_001_000, "壹佰万壹仟"),
        (10_000_100, "壹仟万零壹佰"),
        (100_000_001, "壹亿零壹"),
        (999_999_999, "玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖"),
    ],
)
def test_amount_in_capitals(n, text):
    assert amount_in_capitals(n) == text


# ------------------------------------------------------------------------------------------------
# HTML


def test_html_contains_every_field_and_serial():
    data = _data(n_ranges=5)
    page = render_html(data)
    for value in (
        data.certificate_number,
        data.holder_name,
        data.beneficiary,
        data.note,
        data.project_name,
        data.scheme,
        data.region,
        data.monitoring_period,
        data.registry_name,
        data.court_name,
        data.court_case_number,
        data.event_name,
        "生态司法修复",
        "Ecological restoration ordered by a court",
        "2026年3月5日 14:30",  # 06:30 UTC shown in Beijing time
        "5 March 2026, 14:30 (UTC+08:00)",
        f"{data.quantity_tco2e:,}",
        amount_in_capitals(data.quantity_tco2e),
        html.escape(data.verification_url),
    ):
        assert value in page, value
    for r in data.serial_ranges:
        assert r.serial in page
        assert f">{r.quantity:,}<" in page


def test_html_is_bilingual_chinese_first():
    page = render_html(_data())
    assert '<html lang="zh-CN">' in page
    for zh, en in (
        ("林业碳汇注销证明", "Forestry Carbon Sink Retirement Certificate"),
        ("受益方", "Beneficiary"),
        ("注销用途", "Purpose"),
        ("注销序号段清单", "Schedule of retired serial ranges"),
    ):
        assert page.index(zh) < page.index(en), zh
    assert "永久退出流通" in page
    assert "can never be transferred" in page


def test_single_language_versions():
    zh = render_html(_data(), "zh")
    en = render_html(_data(), "en")
    assert "林业碳汇注销证明" in zh and "Forestry Carbon Sink Retirement Certificate" not in zh
    assert "Forestry Carbon Sink Retirement Certificate" in en and "林业碳汇注销证明" not in en
    assert '<html lang="en">' in en
    with pytest.raises(CertificateError):
        render_html(_data(), "fr")  # type: ignore[arg-type]


def test_optional_fields_are_left_out_when_absent():
    page = render_html(_data(court_name=None, court_case_number=None, event_name=None, note=""))
    for label in ("审理法院", "案号", "活动名称", "说明"):
        assert label not in page


def test_everything_is_escaped():
    evil = '<script>alert("x")</script>'
    data = _data(
        beneficiary=evil,
        holder_name="A & B <b>",
        note='"><img src=x onerror=alert(1)>',
        project_name="<i>project</i>",
        certificate_number="TH-<1>",
        verification_url='https://x.example/verify/"><script>',
    )
    page = render_html(data)
    assert "<script>" not in page
    assert "<img" not in page
    assert "<i>project" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "A &amp; B &lt;b&gt;" in page
    assert 'href="https://x.example/verify/&#34;&gt;&lt;script&gt;"' in page


def test_css_inlined_by_default_or_linked():
    assert "<style>" in render_html(_data()) and "@page" in render_html(_data())
    linked = render_html(_data(), stylesheet="/static/css/certificate.css")
    assert '<link rel="stylesheet" href="/static/css/certificate.css">' in linked
    assert "@page" not in linked


def test_html_is_deterministic():
    assert render_html(_data()) == render_html(_data())
    other_zone = _data(retired_at=datetime(2026, 3, 5, 14, 30, tzinfo=timezone(timedelta(hours=8))))
    assert render_html(other_zone) == render_html(_data())


def test_no_external_assets():
    page = render_html(_data())
    assert not re.search(r'(src|href)="(https?:)?//', page.replace(f'href="{URL}"', ""))
    assert "@import" not in page and "url(" not in page


# ------------------------------------------------------------------------------------------------
# QR code


def _svg_matrix(svg: str) -> list[list[bool]]:
    """Read back the modules drawn by segno's path: rows of 1-unit strokes at y + 0.5."""
    size = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))
    grid = [[False] * size for _ in range(size)]
    d = re.search(r'<path stroke="#000" d="([^"]+)"', svg).group(1)
    x = y = 0.0
    for cmd, args in re.findall(r"([MmHh])([-\d. ]+)", d):
        nums = [float(v) for v in args.split()]
        if cmd == "M":
            x, y = nums
        elif cmd == "m":
            x, y = x + nums[0], y + nums[1]
        else:
            for col in range(int(x), int(x + nums[0])):
                grid[int(y)][col] = True
            x += nums[0]
    return grid


def test_qr_svg_encodes_the_url():
    svg = qr_svg(URL)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert qr_svg(URL) == svg  # deterministic
    qr = segno.make_qr(URL, error="m", boost_error=False)
    assert qr.error == "M" and not qr.is_micro
    expected = [[bool(v) for v in row] for row in qr.matrix_iter(border=4)]
    assert _svg_matrix(svg) == expected
    assert _svg_matrix(qr_svg(URL + "0")) != expected


def test_qr_svg_is_in_the_html():
    data = _data()
    assert qr_svg(data.verification_url) in render_html(data)


# ------------------------------------------------------------------------------------------------
# PDF

needs_pdf = pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdfinfo") is None,
    reason="poppler-utils (pdftotext, pdfinfo) not installed; .ci/run installs it",
)


def _pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def _pdf_pages(pdf: bytes, tmp_path) -> int:
    path = tmp_path / "pages.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    return int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))


@pytest.fixture(scope="module")
def short_pdf() -> bytes:
    return render_pdf(_data(n_ranges=3))


@needs_pdf
def test_pdf_carries_every_field_in_chinese_glyphs(short_pdf, tmp_path):
    assert short_pdf.startswith(b"%PDF")
    data = _data(n_ranges=3)
    text = _pdf_text(short_pdf, tmp_path)
    assert data.certificate_number in text
    # Chinese extracted as Chinese proves a CJK font was embedded (boxes would extract as nothing)
    for chinese in (
        data.beneficiary,
        data.holder_name,
        "林业碳汇注销证明",
        "生态司法修复",
        data.court_case_number,
    ):
        assert chinese in text, chinese
    assert f"{data.quantity_tco2e:,}" in text
    for r in data.serial_ranges:
        assert r.serial in text
    assert "Forestry Carbon Sink Retirement Certificate" in text


@needs_pdf
def test_typical_certificate_fits_on_one_page(tmp_path):
    judicial = _data(n_ranges=2, event_name=None)
    event = _data(
        n_ranges=3, purpose="carbon_neutral_event", court_name=None, court_case_number=None
    )
    for data in (judicial, event):
        assert _pdf_pages(render_pdf(data), tmp_path) == 1


@needs_pdf
def test_pdf_fonts_are_embedded(short_pdf, tmp_path):
    if shutil.which("pdffonts") is None:
        pytest.skip("pdffonts not installed")
    path = tmp_path / "fonts.pdf"
    path.write_bytes(short_pdf)
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True)
    rows = fonts.stdout.splitlines()[2:]
    assert rows
    assert any("CJK" in row for row in rows), fonts.stdout
    assert all(" yes " in row for row in rows), fonts.stdout  # every font embedded


@needs_pdf
def test_long_serial_list_paginates(tmp_path):
    data = _data(n_ranges=300)
    pdf = render_pdf(data)
    assert _pdf_pages(pdf, tmp_path) > 1
    text = _pdf_text(pdf, tmp_path)
    for r in data.serial_ranges:
        assert r.serial in text
    assert text.count("TH-2026-000123") >= _pdf_pages(pdf, tmp_path)  # number in every footer


def test_missing_weasyprint_is_a_clear_error(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "weasyprint" or name.startswith("weasyprint."):
            raise ImportError("No module named 'weasyprint'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(CertificateError) as info:
        render_pdf(_data())
    assert "pip install 'tanhui[pdf]'" in info.value.message("en")
    assert "pip install 'tanhui[pdf]'" in info.value.message("zh")


def test_missing_cjk_font_is_a_clear_error(monkeypatch):
    pytest.importorskip("weasyprint")
    monkeypatch.setattr(_pdf, "has_cjk_font", lambda: False)
    with pytest.raises(CertificateError) as info:
        render_pdf(_data())
    assert "fonts-noto-cjk" in info.value.message("en")


def test_weasyprint_is_not_imported_by_the_module():
    code = (
        "import sys, tanhui.registry.certificates as c; "
        "c.render_html(c.CertificateData(certificate_number='N', retired_at="
        "__import__('datetime').datetime.now(__import__('datetime').UTC), holder_name='h', "
        "beneficiary='b', purpose='other', quantity_tco2e=1, serial_ranges=[('X', 1)], "
        "project_name='p', scheme='S', region='r', monitoring_period='m', registry_name='g', "
        "verification_url='https://v')); "
        "assert 'weasyprint' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
