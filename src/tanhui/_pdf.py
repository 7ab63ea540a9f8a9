"""HTML → PDF with WeasyPrint (the ``pdf`` extra), shared by certificates and reports.

WeasyPrint is imported only when a PDF is asked for. A PDF needs a Chinese font: when fontconfig
reports none, rendering is refused (a document with boxes instead of names is worse than none).
"""

from __future__ import annotations

import shutil
import subprocess
from importlib import resources

from tanhui.errors import TanhuiError

INSTALL_HINT_ZH = "请安装 PDF 组件：pip install 'tanhui[pdf]'（另需系统库 Pango）。"
INSTALL_HINT_EN = (
    "Install the PDF extra: pip install 'tanhui[pdf]' (it also needs the Pango library)."
)


def has_cjk_font() -> bool | None:
    """Whether fontconfig knows a font covering Chinese; ``None`` when ``fc-list`` is missing."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    try:
        out = subprocess.run(
            [fc_list, ":lang=zh-cn", "family"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return bool(out.strip())


def html_to_pdf(
    html: str,
    *,
    what_zh: str,
    what_en: str,
    error: type[TanhuiError] = TanhuiError,
) -> bytes:
    """Render ``html`` (relative URLs resolve against the package's static files) to PDF bytes.

    ``what_zh``/``what_en`` name the document in the error messages ("PDF 证明" …); ``error`` is
    the exception class raised when WeasyPrint or a Chinese font is missing.
    """
    try:
        import weasyprint  # optional dependency (the pdf extra), imported lazily
    except (ImportError, OSError) as exc:  # OSError: WeasyPrint installed but Pango missing
        raise error(
            f"无法生成{what_zh}：WeasyPrint 不可用（{exc}）。",
            f"Cannot render the {what_en}: WeasyPrint is not available ({exc}).",
            hint_zh=INSTALL_HINT_ZH,
            hint_en=INSTALL_HINT_EN,
        ) from exc
    if has_cjk_font() is False:
        raise error(
            f"无法生成{what_zh}：系统中没有中文字体，中文将显示为方框。",
            f"Cannot render the {what_en}: no Chinese font is installed, so Chinese text would "
            "print as boxes.",
            hint_zh="请安装中文字体，如 Debian/Ubuntu：apt-get install fonts-noto-cjk。",
            hint_en="Install a CJK font, e.g. on Debian/Ubuntu: apt-get install fonts-noto-cjk.",
        )
    base = str(resources.files("tanhui.web").joinpath("static"))
    return weasyprint.HTML(string=html, base_url=base).write_pdf()
