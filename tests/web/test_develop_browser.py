"""End to end in a real browser (the system Chromium, as ``test_browser.py``): the forestry bureau
screens the demo county's GBK file, runs a feasibility study of its GeoPackage and opens the full
report, looks at the project library and its county reserve, and advances a project — with a
screenshot of every step in ``test-output/screenshots/develop-*.png``, no console errors (the
Content-Security-Policy holds) and no server errors.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_browser import TIMEOUT_MS, Steps, browser, server  # noqa: F401  (fixtures)
from test_develop_pages import dev, dev_pages_template, seeded_url  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow


def log_in(ui: Steps, username: str, password: str) -> None:
    ui.goto("/login")
    ui.page.get_by_label("用户名").fill(username)
    ui.page.get_by_label("密码").fill(password)
    ui.page.locator("form[action='/login'] button[type=submit]").click()
    ui.page.wait_for_url(re.compile(r"/(review|holdings)$"))


def test_screen_study_library_and_advance(browser, server, seeded, dev):  # noqa: F811
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    ui = Steps(context, server)
    page = ui.page

    # 1. the forestry bureau logs in; the development pages are in its navigation
    log_in(ui, "forestry", seeded.password)
    nav = page.locator("nav.main-nav")
    for label in ("资源筛查", "可行性分析", "项目库", "权利人与授权", "灾害损失"):
        expect(nav.get_by_role("link", name=label)).to_be_visible()
    nav.get_by_role("link", name="资源筛查").click()
    page.wait_for_url(re.compile(r"/develop/screening$"))
    expect(page.get_by_role("heading", name="资源筛查")).to_be_visible()
    ui.shot("develop-01-screening-form")

    # 2. it screens the demo county's GBK CSV (HTMX upload, a progress indicator, the result)
    page.get_by_label("小班数据文件").set_input_files(str(dev.gbk_csv))
    page.get_by_label("机制与方法学").select_option("smcer")
    page.get_by_role("button", name="开始筛查").click()
    result = page.get_by_test_id("screening-result")
    expect(result).to_be_visible()
    expect(page.locator("#screening-result .msg-ok")).to_contain_text("筛查完成：600 个小班中")
    expect(result.get_by_test_id("rows")).to_have_text("600")
    expect(result.get_by_test_id("reasons")).to_be_visible()
    expect(result.get_by_test_id("villages").locator("tbody tr")).to_have_count(15)
    page.wait_for_url(re.compile(r"/develop/screening/[0-9a-f]{32}$"))  # pushed: a reload keeps it
    ui.shot("develop-02-screening-result")
    with page.expect_download() as download_info:
        result.get_by_role("link", name="下载 Excel").click()
    book = Path(download_info.value.path()).read_bytes()
    assert book.startswith(b"PK")

    # a rejected file: the problems, in place
    ui.expected_status = 422
    page.get_by_label("小班数据文件").set_input_files(
        files=[
            {
                "name": "坏文件.csv",
                "mimeType": "text/csv",
                "buffer": "小班号,面积\nA,abc\n".encode(),
            }
        ]
    )
    page.get_by_role("button", name="开始筛查").click()
    expect(page.locator("#screening-result .msg-error")).to_contain_text("坏文件.csv")
    expect(page.get_by_test_id("problems")).to_be_visible()
    ui.expected_status = None
    ui.shot("develop-03-screening-refused")

    # 3. a feasibility study of the GeoPackage: cards, scenarios, sensitivity, risk, charts
    nav.get_by_role("link", name="可行性分析").click()
    page.wait_for_url(re.compile(r"/develop/feasibility$"))
    page.get_by_label("小班数据文件").set_input_files(str(dev.gpkg))
    page.get_by_label("项目名称").fill("示范县全域碳汇（浏览器测试）")
    page.get_by_label("蒙特卡洛路径数（0 不做风险）").fill("2000")
    page.get_by_role("button", name="开始分析").click()
    study = page.get_by_test_id("feasibility-result")
    expect(study).to_be_visible(timeout=60_000)
    expect(study.get_by_role("heading", name="示范县全域碳汇（浏览器测试）")).to_be_visible()
    for testid in ("headline", "scenarios", "sensitivity", "risk"):
        expect(study.get_by_test_id(testid)).to_be_visible()
    charts = study.locator("figure.chart img")
    assert charts.count() >= 4
    for i in range(charts.count()):  # every chart decoded and drawn
        assert charts.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
    ui.shot("develop-04-feasibility-result")

    # the full report, standalone, in a new tab; and its PDF
    with context.expect_page() as report_info:
        study.get_by_role("link", name="打开完整报告").click()
    report = report_info.value
    report.wait_for_load_state()
    expect(report.locator("h1")).to_have_text("示范县全域碳汇（浏览器测试）")
    assert report.locator("svg").count() >= 4
    report.screenshot(
        path=str(ui_screenshot("develop-05-feasibility-report")), full_page=True, caret="initial"
    )
    report.close()
    with page.expect_download() as download_info:
        study.get_by_role("link", name="下载 PDF").click()
    pdf = Path(download_info.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF-") and len(pdf) > 10_000

    # 4. the project library: the county's reserve and the projects
    nav.get_by_role("link", name="项目库").click()
    page.wait_for_url(re.compile(r"/develop/projects$"))
    expect(page.get_by_test_id("county-stats")).to_contain_text("每个县都有至少 2 个储备项目")
    expect(page.get_by_test_id("projects").locator("tbody tr")).to_have_count(3)
    ui.shot("develop-06-project-library")

    # 5. it opens the farm's forest-management project (at design) and advances it twice
    page.get_by_role("link", name=re.compile("森林经营碳汇项目")).click()
    page.wait_for_url(re.compile(rf"/develop/projects/{dev.projects['farm']}$"))
    panel = page.get_by_test_id("stage-panel")
    expect(panel.get_by_test_id("stage")).to_have_text("项目设计")
    ui.shot("develop-07-project")
    panel.get_by_placeholder("备注（选填）").fill("提交审定")
    panel.get_by_role("button", name="进入下一阶段：审定").click()
    panel = page.get_by_test_id("stage-panel")
    expect(panel.locator(".msg-ok")).to_contain_text("项目现处于：审定")
    expect(panel.get_by_test_id("stage")).to_have_text("审定")
    panel.get_by_role("button", name="进入下一阶段：已登记").click()
    panel = page.get_by_test_id("stage-panel")
    expect(panel.get_by_test_id("stage")).to_have_text("已登记")
    expect(panel.get_by_test_id("history").locator("tbody tr")).to_have_count(5)
    expect(panel.get_by_test_id("history")).to_contain_text("提交审定")
    ui.shot("develop-08-project-advanced")

    # 6. the library in English: the reserve dropped to one project (the farm's is registered)
    page.get_by_role("link", name="English").click()
    page.goto(server + "/develop/projects")
    expect(page.get_by_role("heading", name="Project library")).to_be_visible()
    expect(page.get_by_test_id("below-reserve")).to_contain_text("fewer than 2")
    ui.shot("develop-09-library-english")
    context.close()

    assert not ui.problems, ui.problems  # no CSP violations, script errors or server errors


def ui_screenshot(name: str) -> Path:
    from test_browser import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"
