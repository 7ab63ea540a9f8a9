"""The development pages through a TestClient: every page in Chinese and English, the navigation
by role, uploads with HTMX and without JavaScript, CSRF on every form, and refusals shown in
place as the problem's message (with the file's problem list for a rejected inventory).

The database is the demo county with its development data (the registry seed, then
:func:`tanhui.develop.demo_seed.seed`), seeded once per worker and copied for each test; this
module's ``seeded_url`` replaces the conftest's, so ``client`` and ``login`` work as elsewhere.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import select

from tanhui.db import make_engine, upgrade
from tanhui.db.tables import Authorization
from tanhui.develop import demo_seed
from tanhui.develop.demo_seed import authorization_pdf
from tanhui.registry import identity
from tanhui.registry.seed import seed
from tanhui.web import develop_routes
from tanhui.web.i18n import MESSAGES

HTMX = {"HX-Request": "true"}
CHEAP_ARGON2 = Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1)
PDF = authorization_pdf("Scan", ["page one"])


def htmx(token: str) -> dict[str, str]:
    return {**HTMX, "X-CSRF-Token": token}


@dataclass(frozen=True)
class DevPages:
    db: Path
    data: Path
    projects: dict[str, int]
    loss_events: list[int]

    @property
    def gbk_csv(self) -> Path:
        return self.data / "demo-county" / "xiaoban_2016.csv"

    @property
    def gpkg(self) -> Path:
        return self.data / "demo-county" / "xiaoban_2021.gpkg"


@pytest.fixture(scope="session")
def dev_pages_template(tmp_path_factory) -> DevPages:
    root = tmp_path_factory.mktemp("develop-pages")
    path = root / "develop.db"
    upgrade(f"sqlite:///{path}")
    identity.use_password_hasher(CHEAP_ARGON2)
    engine = make_engine(f"sqlite:///{path}")
    try:
        registry = seed(engine, root / "data", rows=600)
        dev = demo_seed.seed(engine, root / "data", registry)
    finally:
        engine.dispose()
        identity.use_password_hasher(None)
    return DevPages(path, root / "data", dict(dev.projects), list(dev.loss_events))


@pytest.fixture
def dev(dev_pages_template) -> DevPages:
    return dev_pages_template


@pytest.fixture
def seeded_url(dev_pages_template, tmp_path) -> str:
    """The conftest's ``seeded_url``, with the development data as well."""
    target = tmp_path / "develop.db"
    shutil.copyfile(dev_pages_template.db, target)
    return f"sqlite:///{target}"


def page(response, status: int = 200, lang: str = "zh") -> str:
    """An HTML answer (never JSON or a traceback); a whole page has ``<html lang>``."""
    assert response.status_code == status, response.text[:3000]
    assert response.headers["content-type"].startswith("text/html")
    text = response.text
    assert "Traceback" not in text
    if "<html" in text:
        assert f'<html lang="{"zh-CN" if lang == "zh" else "en"}">' in text
    return text


def message(text: str) -> str:
    """The detail of the first message in a page or fragment."""
    found = re.search(r'class="msg-detail">([^<]*)<', text)
    assert found, text[:2000]
    return found.group(1)


# ------------------------------------------------------------------------- pages, zh and en

PAGES = {
    "forestry": ["/develop/screening", "/develop/feasibility", "/develop/projects",
                 "/develop/projects?stage=candidate", "/develop/projects/{village}",
                 "/develop/projects/{pooled}", "/develop/holders", "/develop/holders?project={pooled}",
                 "/develop/losses", "/develop/losses?project={village}"],
    "village": ["/develop/projects", "/develop/projects/{village}", "/develop/feasibility?project={village}",
                "/develop/holders", "/develop/losses"],
    "farm": ["/develop/projects/{pooled}", "/develop/holders?project={pooled}", "/develop/losses"],
    "verifier": ["/develop/projects", "/develop/projects/{farm}", "/develop/screening"],
}  # fmt: skip

#: (path prefix, a word of the page in Chinese, in English), the first prefix that fits.
WORDS = (
    ("/develop/screening", "资源筛查", "Resource screening"),
    ("/develop/feasibility", "可行性分析", "Feasibility study"),
    ("/develop/projects/", "项目阶段", "Lifecycle"),
    ("/develop/projects", "各县项目储备", "Projects in reserve by county"),
    ("/develop/holders", "权利人与授权", "Rights holders and consent"),
    ("/develop/losses", "灾害损失", "Loss events"),
)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_development_page_renders_in_both_languages(client, login, dev, lang):
    values = {k: str(v) for k, v in dev.projects.items()}
    for user, paths in PAGES.items():
        client.cookies.clear()
        client.cookies.set("lang", lang)
        login(client, user)
        for template in paths:
            path = template.format(**values)
            text = page(client.get(path), lang=lang)
            zh, en = next((zh, en) for prefix, zh, en in WORDS if path.startswith(prefix))
            word = zh if lang == "zh" else en
            if (
                user in ("village", "verifier") and path == "/develop/projects"
            ):  # no county statistics
                word = "项目库" if lang == "zh" else "Project library"
            assert word in text, (user, path, lang)
            assert 'href="/lang/zh?next=' in text and 'href="/lang/en?next=' in text


def test_navigation_shows_development_by_role(client, login):
    expected = {
        "forestry": {"screening", "feasibility", "projects", "holders", "losses"},
        "village": {"screening", "feasibility", "projects", "holders", "losses"},
        "verifier": {"screening", "feasibility", "projects", "losses"},
        "bank": set(),
        "court": set(),
    }
    for user, pages in expected.items():
        client.cookies.clear()
        login(client, user)
        text = client.get("/verify").text
        nav = text[text.index('class="main-nav"') : text.index("</nav>")]
        shown = set(re.findall(r'href="/develop/(\w+)"', nav))
        assert shown == pages, user
    # a page needs a login: anonymous visitors go to the login page
    client.cookies.clear()
    response = client.get("/develop/projects", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fdevelop%2Fprojects"


def test_every_word_the_development_pages_use_exists():
    source = Path(develop_routes.__file__).read_text("utf-8")
    used = set(re.findall(r"""\bt\(\s*["']([a-z0-9_]+)["']""", source))
    used |= set(re.findall(r"""_input_error\(\s*["'][a-z_]+["'],\s*["']([a-z0-9_]+)["']""", source))
    helpers = r"(?:_int|_number|_date|_required|_positive_int|_percent_to_bp)"
    used |= set(re.findall(helpers + r"""\([^()]*?,\s*["']([a-z0-9_]+)["']""", source))
    used |= {"price_low", "price_base", "price_high"}
    used |= {f"doc_kind_{k}" for k in ("authorization", "tenure_certificate", "other", "map")}
    used |= {f"auth_status_{s}" for s in ("valid", "not_yet_valid", "expired", "revoked")}
    used |= {f"gap_{r}" for r in ("missing", "expired", "revoked")}
    assert used and used <= set(MESSAGES), sorted(used - set(MESSAGES))


# ---------------------------------------------------------------------------------- screening


def test_screening_with_htmx_and_its_downloads(client, login, dev):
    token = login(client, "forestry")
    form = page(client.get("/develop/screening"))
    assert (
        'hx-encoding="multipart/form-data"' in form and 'hx-indicator="#screening-progress"' in form
    )
    assert 'id="screening-progress"' in form and "htmx-indicator" in form
    response = client.post(
        "/develop/screening",
        headers=htmx(token),
        files={"file": (dev.gbk_csv.name, dev.gbk_csv.read_bytes(), "text/csv")},
        data={"scheme": "smcer", "check_registry": "1"},
    )
    text = page(response)
    assert "<html" not in text  # a fragment for the result slot
    assert "筛查完成：600 个小班中" in message(text)
    assert 'data-testid="reasons"' in text and 'data-testid="villages"' in text
    assert "按树种组汇总" in text and "xiaoban_2016.csv" in text and "gbk" in text
    pushed = response.headers["HX-Push-Url"]
    result_id = pushed.rsplit("/", 1)[-1]
    assert re.fullmatch(r"/develop/screening/[0-9a-f]{32}", pushed)

    again = page(client.get(pushed))  # the result survives a reload, in the page
    assert 'data-testid="screening-result"' in again
    english = page(client.get(pushed + "?lang=en"), lang="en")
    assert "Why sub-compartments do not qualify" in english and "By village" in english
    csv = client.get(f"/develop/screening/{result_id}/rows.csv")
    assert csv.status_code == 200 and csv.content.decode("utf-8").startswith("\ufeff小班号")
    assert csv.headers["content-disposition"].startswith("attachment")
    xlsx = client.get(f"/develop/screening/{result_id}/rows.xlsx")
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    # another user does not see it
    client.cookies.clear()
    login(client, "village")
    assert "找不到筛查结果" in page(client.get(pushed), 404)


def test_screening_errors_are_shown_in_place(client, login, dev):
    token = login(client, "village")
    bad = client.post(
        "/develop/screening",
        headers=htmx(token),
        files={"file": ("村小班.csv", "小班号,面积\nA-1,abc\n".encode("gbk"), "text/csv")},
        data={"scheme": "smcer"},
    )
    text = page(bad, 422)
    assert "村小班.csv" in message(text) and "tanhui-develop" not in text
    assert 'data-testid="problems"' in text and text.count("<tr>") >= 2  # the problem list
    missing = page(
        client.post("/develop/screening", headers=htmx(token), data={"scheme": "smcer"}), 422
    )
    assert "请填写“小班数据文件”" in message(missing)
    wrong = client.post(
        "/develop/screening",
        headers=htmx(token),
        files={"file": ("a.docx", b"PK\x03\x04", "application/octet-stream")},
    )
    assert "不支持的文件类型 .docx" in message(page(wrong, 415))
    year = client.post(
        "/develop/screening",
        headers=htmx(token),
        files={"file": (dev.gbk_csv.name, dev.gbk_csv.read_bytes())},
        data={"scheme": "smcer", "start_year": "1066"},
    )
    assert "项目开始年份" in message(page(year, 422))
    # without JavaScript: the whole page with the message and the form kept
    plain = client.post(
        "/develop/screening",
        data={"scheme": "smcer", "start_year": "1066", "csrf_token": token},
        files={"file": (dev.gbk_csv.name, dev.gbk_csv.read_bytes())},
    )
    text = page(plain, 422)
    assert "<html" in text and 'value="1066"' in text and "项目开始年份" in message(text)
    # without the CSRF token nothing runs
    forged = client.post(
        "/develop/screening",
        files={"file": (dev.gbk_csv.name, dev.gbk_csv.read_bytes())},
        data={"scheme": "smcer"},
    )
    assert "表单已失效" in page(forged, 403)


def test_screening_without_javascript(client, login, dev):
    token = login(client, "farm")
    response = client.post(
        "/develop/screening",
        data={"scheme": "forest-management", "csrf_token": token},
        files={"file": (dev.gpkg.name, dev.gpkg.read_bytes())},
    )
    text = page(response)
    assert "<html" in text and 'data-testid="screening-result"' in text
    assert "筛查完成" in message(text)


# -------------------------------------------------------------------------------- feasibility


def test_feasibility_with_htmx_charts_and_reports(client, login, dev):
    token = login(client, "village")
    form = page(client.get(f"/develop/feasibility?project={dev.projects['village']}"))
    assert f'<option value="{dev.projects["village"]}" selected>' in form
    response = client.post(
        "/develop/feasibility",
        headers=htmx(token),
        files={"file": (dev.gpkg.name, dev.gpkg.read_bytes())},
        data={
            "scheme": "smcer",
            "project_id": str(dev.projects["village"]),
            "paths": "200",
            "price_base": "25",
            "discount_rate": "6",
            "check_registry": "1",
        },
    )
    text = page(response)
    assert "<html" not in text and "可行性分析已完成" in message(text)
    for testid in ("headline", "scenarios", "sensitivity", "risk", "hazards", "costs"):
        assert f'data-testid="{testid}"' in text, testid
    assert text.count('src="data:image/svg+xml;base64,') >= 4  # charts and the map, inline
    assert "25.00" in text and "折现率 6.0%" in text
    result = response.headers["HX-Push-Url"]
    study_id = result.rsplit("/", 1)[-1]

    report = client.get(f"/develop/feasibility/{study_id}/report")
    assert report.status_code == 200 and "<svg" in report.text and "<style>" in report.text
    csp = report.headers["content-security-policy"]
    assert "style-src 'unsafe-inline'" in csp and "script-src" not in csp
    pdf = client.get(f"/develop/feasibility/{study_id}/report.pdf")
    assert pdf.content.startswith(b"%PDF-") and pdf.headers["content-type"] == "application/pdf"
    xlsx = client.get(f"/develop/feasibility/{study_id}/report.xlsx")
    assert xlsx.content.startswith(b"PK") and "attachment" in xlsx.headers["content-disposition"]
    english = page(client.get(result + "?lang=en"), lang="en")
    assert "Price scenarios" in english and "Sensitivity" in english

    # the farm's project is not the village's to study: 403, in place
    refused = client.post(
        "/develop/feasibility",
        headers=htmx(token),
        files={"file": (dev.gpkg.name, dev.gpkg.read_bytes())},
        data={"scheme": "smcer", "project_id": str(dev.projects["farm"]), "paths": "0"},
    )
    assert "只有项目业主机构" in message(page(refused, 403))
    bad = client.post(
        "/develop/feasibility",
        headers=htmx(token),
        files={"file": (dev.gpkg.name, dev.gpkg.read_bytes())},
        data={"scheme": "smcer", "discount_rate": "abc", "paths": "0"},
    )
    assert "折现率" in message(page(bad, 422))


# ----------------------------------------------------------------------------- project library


def test_project_library_and_county_reserve(client, login, dev):
    login(client, "forestry")
    text = page(client.get("/develop/projects"))
    assert 'data-testid="county-stats"' in text and "示范县" in text
    assert "每个县都有至少 2 个储备项目" in text
    assert text.count('<tr id="project-') == 3
    candidates = page(client.get("/develop/projects?stage=candidate"))
    assert candidates.count('<tr id="project-') == 1
    project = page(client.get(f"/develop/projects/{dev.projects['pooled']}"))
    for testid in (
        "stage-panel",
        "history",
        "documents",
        "consent-gap",
        "payouts",
        "authorizations",
    ):
        assert f'data-testid="{testid}"' in project, testid
    assert "授权已到期" in project and "未授权" in project and "授权书.pdf" in project
    village = page(client.get(f"/develop/projects/{dev.projects['village']}"))
    assert "火灾" in village and "XY-2026-0001" in village and "12,500.00" in village

    # a holder sees its own projects and no county statistics
    client.cookies.clear()
    login(client, "village")
    own = page(client.get("/develop/projects"))
    assert own.count('<tr id="project-') == 1 and 'data-testid="county-stats"' not in own
    refused = page(client.get(f"/develop/projects/{dev.projects['farm']}"), 403)
    assert "只有项目业主机构" in refused
    assert "找不到" in page(client.get("/develop/projects/999999"), 404)
    # the verifier reads the library, not the rights holders
    client.cookies.clear()
    login(client, "verifier")
    seen = page(client.get(f"/develop/projects/{dev.projects['pooled']}"))
    assert 'data-testid="consent-gap"' not in seen and 'data-testid="advance"' not in seen


def test_county_below_the_reserve_is_flagged(client, login, dev):
    token = login(client, "farm")
    client.post(  # the pooled candidate is withdrawn: one project is left in reserve
        f"/develop/projects/{dev.projects['pooled']}/withdraw",
        headers=htmx(token),
        data={"reason": "农户意见不一"},
    )
    client.cookies.clear()
    login(client, "forestry")
    text = page(client.get("/develop/projects"))
    assert 'data-testid="below-reserve"' in text and "储备项目不足 2 个的县：示范县" in text


def test_advance_and_withdraw_with_htmx(client, login, dev):
    token = login(client, "farm")
    pid = dev.projects["farm"]  # at design
    response = client.post(
        f"/develop/projects/{pid}/advance", headers=htmx(token), data={"note": "送审"}
    )
    text = page(response)
    assert "<html" not in text and 'id="stage-panel"' in text
    assert "项目现处于：审定" in message(text) and 'data-stage="validation"' in text
    assert response.headers["HX-Trigger"] == "project-changed"
    # registration is the regulator's: the refusal goes to the panel's message slot
    refused = client.post(f"/develop/projects/{pid}/advance", headers=htmx(token))
    text = page(refused, 403)
    assert refused.headers["HX-Retarget"] == "#stage-result"
    assert "林业主管部门" in message(text) and 'id="stage-panel"' not in text
    back = page(
        client.post(f"/develop/projects/{pid}/move", headers=htmx(token), data={"to": "design"})
    )
    assert 'data-stage="design"' in back
    wrong = page(
        client.post(f"/develop/projects/{pid}/move", headers=htmx(token), data={"to": "issued"}),
        409,
    )
    assert "不能转为“已签发”" in message(wrong)
    no_reason = page(client.post(f"/develop/projects/{pid}/withdraw", headers=htmx(token)), 422)
    assert "撤销原因" in message(no_reason)
    # without JavaScript the page comes back with the result in the panel
    gone = client.post(
        f"/develop/projects/{pid}/withdraw", data={"reason": "林场改制", "csrf_token": token}
    )
    text = page(gone)
    assert "<html" in text and "项目已撤销" in message(text) and 'data-stage="withdrawn"' in text
    assert 'data-testid="advance"' not in text
    forged = client.post(f"/develop/projects/{pid}/advance", headers=HTMX)
    assert "表单已失效" in page(forged, 403)


def test_forestry_registers_a_project_in_validation(client, login, dev):
    token = login(client, "farm")
    pid = dev.projects["farm"]
    page(client.post(f"/develop/projects/{pid}/advance", headers=htmx(token)))
    client.cookies.clear()
    token = login(client, "forestry")
    text = page(client.post(f"/develop/projects/{pid}/advance", headers=htmx(token)))
    assert 'data-stage="registered"' in text and "已登记" in message(text)


def test_document_upload_and_download(client, login, dev):
    token = login(client, "farm")
    pid = dev.projects["pooled"]
    response = client.post(
        f"/develop/projects/{pid}/documents",
        headers=htmx(token),
        files={"file": ("可研报告.pdf", PDF, "application/pdf")},
        data={"kind": "feasibility"},
    )
    text = page(response)
    assert 'id="documents"' in text and "已上传“可研报告.pdf”" in message(text)
    assert "可行性研究报告" in text
    link = re.findall(r'href="(/develop/documents/\d+)"', text)[-1]
    got = client.get(link)
    assert got.content == PDF and got.headers["content-type"] == "application/pdf"
    assert "sandbox" in got.headers["content-security-policy"]
    bad = client.post(
        f"/develop/projects/{pid}/documents",
        headers=htmx(token),
        files={"file": ("notes.pdf", b"just text", "application/pdf")},
    )
    assert bad.headers["HX-Retarget"] == "#documents-result"
    assert "只接受 PDF" in message(page(bad, 422))
    client.cookies.clear()
    token = login(client, "village")
    refused = client.post(
        f"/develop/projects/{pid}/documents",
        headers=htmx(token),
        files={"file": ("a.pdf", PDF, "application/pdf")},
    )
    page(refused, 403)


# ------------------------------------------------------------------------------------ holders


def test_record_an_authorization_with_its_scan(client, login, dev):
    token = login(client, "farm")
    pid = dev.projects["pooled"]
    text = page(client.get(f"/develop/holders?project={pid}"))
    assert 'data-testid="holders"' in text and "*" in text  # masked id numbers
    assert 'hx-encoding="multipart/form-data"' in text
    choices = re.search(
        r'<select id="auth-holder" name="holder_id" required>(.*?)</select>', text, re.S
    )
    assert choices
    # a household that has not signed yet (a second consent for the same period is refused)
    with client.app.state.engine.connect() as connection:
        signed = set(
            connection.scalars(
                select(Authorization.holder_id).where(Authorization.dev_project_id == pid)
            )
        )
    unsigned = [
        v for v in re.findall(r'<option value="(\d+)"', choices.group(1)) if int(v) not in signed
    ]
    assert unsigned, "the demo has households without consent"
    response = client.post(
        "/develop/authorizations",
        headers=htmx(token),
        data={
            "project_id": str(pid),
            "holder_id": unsigned[0],
            "signatory": "代签人",
            "signed_on": "2026-02-01",
            "term_years": "20",
            "share": "12.5",
        },
        files={"document": ("授权书-扫描.pdf", PDF, "application/pdf")},
    )
    text = page(response)
    assert "已登记" in message(text) and response.headers["HX-Trigger"] == "authorizations-changed"
    listed = page(client.get(f"/develop/holders/authorizations?project={pid}", headers=HTMX))
    assert "授权书-扫描.pdf" in listed and "代签人" in listed and "12.50%" in listed
    bad = client.post(
        "/develop/authorizations",
        headers=htmx(token),
        data={
            "project_id": str(pid),
            "holder_id": unsigned[0],
            "signatory": "x",
            "signed_on": "2026-13-01",
        },
    )
    assert "签署日期" in message(page(bad, 422))
    scan = client.post(
        "/develop/authorizations",
        headers=htmx(token),
        data={
            "project_id": str(pid),
            "holder_id": unsigned[0],
            "signatory": "x",
            "signed_on": "2046-02-02",  # after the consent above ends: no overlap
        },
        files={"document": ("x.pdf", b"nope", "application/pdf")},
    )
    page(scan, 422)
    client.cookies.clear()
    token = login(client, "village")
    refused = client.post(
        "/develop/authorizations",
        headers=htmx(token),
        data={
            "project_id": str(pid),
            "holder_id": unsigned[0],
            "signatory": "x",
            "signed_on": "2026-02-01",
        },
    )
    page(refused, 403)


# ------------------------------------------------------------------------------------- losses


def test_record_a_loss_and_reverse_the_fire(client, login, dev):
    token = login(client, "forestry")
    pid = dev.projects["village"]
    text = page(client.get(f"/develop/losses?project={pid}"))
    assert 'data-testid="loss-events"' in text and "山火" in text
    sub = re.search(
        r'<select id="loss-sub" name="subcompartment_id" required>\s*<option value="([^"]+)"', text
    )
    assert sub
    recorded = client.post(
        "/develop/losses",
        headers=htmx(token),
        data={
            "project_id": str(pid),
            "subcompartment_id": sub.group(1),
            "hazard": "illegal_logging",
            "occurred_on": "2026-03-03",
            "share_lost": "20",
            "tonnes_lost": "3.5",
        },
    )
    assert (
        "已登记" in message(page(recorded)) and recorded.headers["HX-Trigger"] == "losses-changed"
    )
    listed = page(client.get(f"/develop/losses/list?project={pid}", headers=HTMX))
    assert "盗伐" in listed and listed.count('<tr id="loss-') == 2
    fire = dev.loss_events[0]
    done = client.post(
        f"/develop/losses/{fire}/reverse", headers=htmx(token), data={"project_id": str(pid)}
    )
    assert "已在登记簿中注销 25 吨" in message(page(done))
    again = client.post(
        f"/develop/losses/{fire}/reverse", headers=htmx(token), data={"project_id": str(pid)}
    )
    assert "已在登记簿中注销" in message(page(again, 409))
    future = client.post(
        "/develop/losses",
        headers=htmx(token),
        data={"project_id": str(pid), "subcompartment_id": sub.group(1), "hazard": "fire",
              "occurred_on": "2199-01-01", "area_ha": "0.1"},
    )  # fmt: skip
    assert "未来" in message(page(future, 422))
    client.cookies.clear()
    token = login(client, "village")
    text = page(client.get(f"/develop/losses?project={pid}"))
    assert "/reverse" not in text  # no reversal button for the owner
    refused = client.post(f"/develop/losses/{fire}/reverse", headers=htmx(token), data={})
    page(refused, 403)


def test_result_pages_of_unknown_ids(client, login):
    login(client, "forestry")
    assert "找不到" in page(client.get(f"/develop/feasibility/{'0' * 32}"), 404)
    assert client.get("/develop/screening/not-hex").status_code == 422
    assert "找不到" in page(client.get("/develop/documents/999999"), 404)
