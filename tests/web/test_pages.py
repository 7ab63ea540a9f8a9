"""The web pages through a TestClient: every page in both languages, login and logout, CSRF,
HTMX forms and their messages, each role's page, the public verification and the certificate."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from web_helpers import csrf_of

from tanhui.web import routes
from tanhui.web.i18n import MESSAGES

TEMPLATES = Path(routes.__file__).parent / "templates"
HTMX = {"HX-Request": "true"}


def htmx(token: str) -> dict[str, str]:
    return {**HTMX, "X-CSRF-Token": token}


def assert_page(response, status: int = 200, lang: str = "zh") -> str:
    """An HTML page (never JSON, never a traceback) in ``lang``."""
    assert response.status_code == status, response.text[:2000]
    assert response.headers["content-type"].startswith("text/html")
    text = response.text
    assert "Traceback" not in text
    if "<html" in text:
        assert f'<html lang="{"zh-CN" if lang == "zh" else "en"}">' in text
    return text


def balance(client, token: str | None = None) -> int:
    text = assert_page(client.get("/holdings"))
    match = re.search(r'data-testid="available">([\d,]+)<', text)
    assert match
    return int(match.group(1).replace(",", ""))


# ------------------------------------------------------------------------- every page, zh/en

PAGES = {
    None: ["/login", "/verify", "/verify?q={certificate}", "/verify?q={serial}",
           "/certificates/{certificate}", "/verify/{certificate}"],
    "village": ["/holdings", "/holdings?block=1", "/verify"],
    "buyer": ["/holdings"],
    "verifier": ["/review"],
    "forestry": ["/review", "/holdings?org={village_org}"],
    "bank": ["/pledges", "/holdings"],
    "court": ["/freezes", "/freezes?org={village_org}"],
    "admin": ["/holdings", "/holdings?org={village_org}"],
}  # fmt: skip

WORDS = {
    "zh": {"/login": "登录碳汇登记簿", "/verify": "公开核验", "/certificates": "下载 PDF",
           "/holdings": "持有的碳票", "/review": "签发审核", "/pledges": "质押业务",
           "/freezes": "司法冻结"},
    "en": {"/login": "Log in to the registry", "/verify": "Public verification",
           "/certificates": "Download PDF", "/holdings": "Carbon tickets held",
           "/review": "Issuance review", "/pledges": "Pledges", "/freezes": "Judicial freezes"},
}  # fmt: skip


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_renders_in_both_languages(client, login, seeded, lang):
    serial = "SMCER-350499-000001-20162021-000000001"
    values = {
        "certificate": seeded.certificates[0],
        "serial": serial,
        "village_org": seeded.organisations["village"],
    }
    for user, paths in PAGES.items():
        client.cookies.clear()
        client.cookies.set("lang", lang)
        if user:
            login(client, user)
        for template in paths:
            path = template.format(**values)
            text = assert_page(client.get(path), lang=lang)
            assert "碳汇登记簿" in text  # the registry's name, in both languages
            word = next(w for prefix, w in WORDS[lang].items() if path.startswith(prefix))
            assert word in text, (user, path)
            other = "en" if lang == "zh" else "zh"
            # the language switch offers both, marks the current one
            assert 'href="/lang/zh?next=' in text and 'href="/lang/en?next=' in text
            assert f'lang="{other}' in text


def test_accept_language_and_query_choose_the_language(client):
    assert "公开核验" in client.get("/verify").text  # default: Chinese
    english = client.get("/verify", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Public verification" in english.text
    assert english.headers["content-language"] == "en"
    assert "Public verification" in client.get("/verify?lang=en").text


def test_language_switch_sets_the_cookie_and_goes_back(client):
    response = client.get("/lang/en?next=/verify%3Fq%3Dx%26lang%3Dzh", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/verify?q=x&lang=zh"
    cookie = response.headers["set-cookie"]
    assert "lang=en" in cookie and "samesite=lax" in cookie.lower()
    assert "Public verification" in client.get("/verify").text
    # the switch links drop ?lang= so the cookie decides
    text = client.get("/verify?q=x&lang=en").text
    assert 'href="/lang/zh?next=%2Fverify%3Fq%3Dx"' in text


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil"])
def test_language_switch_never_redirects_off_site(client, target):
    response = client.get("/lang/en", params={"next": target}, follow_redirects=False)
    assert response.headers["location"] == "/"


def test_every_catalogue_key_used_by_a_template_exists():
    used = set()
    for path in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_]+)["']""", path.read_text("utf-8")))
    assert used, "no t('…') calls found"
    assert used <= set(MESSAGES), sorted(used - set(MESSAGES))
    for key, (zh, en) in MESSAGES.items():
        assert zh.strip() and en.strip(), key


# ------------------------------------------------------------------------- login and logout


def test_login_sets_a_safe_session_cookie_and_logout_clears_it(client, seeded):
    page = client.get("/login")
    token = csrf_of(page.text)
    response = client.post(
        "/login",
        data={"username": "village", "password": seeded.password, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/holdings"
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith(routes.SESSION_COOKIE + "="))
    assert "httponly" in session.lower() and "samesite=lax" in session.lower()
    assert "max-age=1800" in session.lower()  # the token's lifetime (30 minutes in the tests)
    # the CSRF cookie is renewed at login
    assert any(c.startswith(routes.CSRF_COOKIE + "=") for c in cookies)

    text = assert_page(client.get("/holdings"))
    assert "已登录" in text  # the flash message, once
    assert "村碳汇管理员" in text and "溪口村股份经济合作社" in text  # the user menu
    assert "已登录" not in client.get("/holdings").text

    token = csrf_of(text)
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert any(
        c.startswith(routes.SESSION_COOKIE + "=") and "max-age=0" in c.lower()
        for c in response.headers.get_list("set-cookie")
    )
    text = assert_page(client.get("/login"))
    assert "已退出登录" in text
    response = client.get("/holdings", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fholdings"


def test_wrong_password_is_a_message_on_the_login_page(client):
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"username": "village", "password": "nope-nope", "csrf_token": token}
    )
    text = assert_page(response, 401)
    assert "用户名或密码不正确" in text
    assert 'value="village"' in text  # the username is kept
    assert routes.SESSION_COOKIE not in client.cookies


def test_too_many_wrong_passwords_are_refused_for_a_while(client, seeded):
    token = csrf_of(client.get("/login").text)
    for _ in range(5):
        data = {"username": "village", "password": "nope-nope", "csrf_token": token}
        assert_page(client.post("/login", data=data), 401)
    data = {"username": "village", "password": seeded.password, "csrf_token": token}
    text = assert_page(client.post("/login", data=data), 429)
    assert "登录失败次数过多" in text and "15 分钟" in text
    assert routes.SESSION_COOKIE not in client.cookies


def test_login_returns_to_the_page_asked_for_but_never_off_site(client, seeded):
    response = client.get("/freezes?org=7", follow_redirects=False)
    assert response.headers["location"] == "/login?next=%2Ffreezes%3Forg%3D7"
    token = csrf_of(client.get("/login?next=%2Ffreezes%3Forg%3D7").text)
    response = client.post(
        "/login",
        data={
            "username": "court",
            "password": seeded.password,
            "next": "/freezes?org=7",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/freezes?org=7"

    client.cookies.clear()
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={
            "username": "court",
            "password": seeded.password,
            "next": "https://evil.example/",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/freezes"  # the court's first page


def test_an_invalid_session_cookie_sends_to_login_and_is_cleared(client):
    client.cookies.set(routes.SESSION_COOKIE, "not-a-token")
    response = client.get("/holdings", follow_redirects=False)
    assert response.status_code == 303
    assert any(
        c.startswith(routes.SESSION_COOKIE + "=") and "max-age=0" in c.lower()
        for c in response.headers.get_list("set-cookie")
    )
    client.cookies.delete(routes.SESSION_COOKIE)
    assert "登录已过期" in client.get("/login").text


def test_htmx_requests_without_a_session_are_redirected_by_htmx(client):
    response = client.get("/holdings/fragment/panel", headers=HTMX, follow_redirects=False)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/login"


def test_root_goes_to_each_roles_first_page(client, login):
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    for user, home in (("village", "/holdings"), ("verifier", "/review"), ("court", "/freezes")):
        client.cookies.clear()
        login(client, user)
        assert client.get("/", follow_redirects=False).headers["location"] == home


def test_navigation_follows_the_roles(client, login):
    login(client, "bank")
    text = client.get("/holdings").text
    assert 'href="/pledges"' in text and 'href="/review"' not in text
    client.cookies.clear()
    login(client, "verifier")
    text = client.get("/review").text
    assert 'href="/review"' in text and 'href="/pledges"' not in text
    assert 'href="/holdings"' not in text


# ------------------------------------------------------------------------- CSRF


def test_posts_without_the_csrf_token_change_nothing(client, login, seeded):
    token = login(client, "village")
    before = balance(client)
    data = {"block_id": "1", "quantity": "3", "to_account": seeded.accounts["buyer"]}
    for headers, form in (
        ({}, data),  # no token at all
        ({}, {**data, "csrf_token": "0" * 64}),  # a wrong token
        ({"X-CSRF-Token": "f" * 64, **HTMX}, data),  # a wrong header
        ({"Origin": "https://evil.example", **htmx(token)}, data),  # the right token, off-site
        ({"Sec-Fetch-Site": "cross-site", **htmx(token)}, data),
    ):
        response = client.post("/holdings/transfer", data=form, headers=headers)
        text = assert_page(response, 403)
        assert "表单已失效" in text
    assert balance(client) == before
    # the login form is protected too (login CSRF)
    client.cookies.clear()
    response = client.post("/login", data={"username": "village", "password": seeded.password})
    assert_page(response, 403)
    assert routes.SESSION_COOKIE not in client.cookies


def test_csrf_token_is_tied_to_the_cookie(client, login, seeded):
    token = login(client, "village")
    client.cookies.delete(routes.CSRF_COOKIE)
    client.cookies.set(routes.CSRF_COOKIE, "another-random-value")
    assert client.cookies[routes.CSRF_COOKIE] == "another-random-value"
    response = client.post(
        "/holdings/transfer",
        data={"block_id": "1", "quantity": "1", "to_account": seeded.accounts["buyer"]},
        headers=htmx(token),
    )
    assert_page(response, 403)


# ------------------------------------------------------------------------- holdings forms


def test_transfer_with_htmx_swaps_in_the_result(client, login, seeded):
    token = login(client, "village")
    before = balance(client)
    response = client.post(
        "/holdings/transfer",
        data={
            "block_id": "1",
            "quantity": "12",
            "to_account": seeded.accounts["buyer"].lower(),
            "idempotency_key": "k-transfer-1",
        },
        headers=htmx(token),
    )
    text = assert_page(response)
    assert "<html" not in text  # a fragment
    assert "已将 12 吨转入账户 H00000008" in text
    assert response.headers["HX-Trigger"] == "holdings-changed"
    assert balance(client) == before - 12
    # a repeated submission (same key) has no second effect
    again = client.post(
        "/holdings/transfer",
        data={
            "block_id": "1",
            "quantity": "12",
            "to_account": seeded.accounts["buyer"].lower(),
            "idempotency_key": "k-transfer-1",
        },
        headers=htmx(token),
    )
    assert_page(again)
    assert balance(client) == before - 12
    # the refreshed fragments
    panel = assert_page(client.get("/holdings/fragment/panel", headers=HTMX))
    assert 'id="holdings-panel"' in panel and "<html" not in panel
    ops = assert_page(client.get("/holdings/fragment/ops", headers=HTMX))
    assert 'id="holdings-ops"' in ops


def test_forms_work_without_javascript(client, login, seeded):
    token = login(client, "village")
    response = client.post(
        "/holdings/transfer",
        data={
            "block_id": "1",
            "quantity": "5",
            "to_account": seeded.accounts["farm"],
            "csrf_token": token,
        },
    )
    text = assert_page(response)
    assert "<html" in text and "持有的碳票" in text
    assert "已将 5 吨转入账户 H00000006" in text


@pytest.mark.parametrize(
    ("form", "status", "words"),
    [
        ({"block_id": "1", "quantity": "999999", "to_account": "H00000008"}, 409, "不足"),
        ({"block_id": "1", "quantity": "2", "to_account": "H99999999"}, 404, "找不到账户"),
        ({"block_id": "1", "quantity": "abc", "to_account": "H00000008"}, 422, "正整数"),
        ({"block_id": "1", "quantity": "0", "to_account": "H00000008"}, 422, "正整数"),
        ({"block_id": "1", "quantity": "2", "to_account": ""}, 422, "请填写“转入账户号”"),
        ({"block_id": "6", "quantity": "1", "to_account": "H00000008"}, 409, "冻结"),
    ],
)
def test_refusals_are_messages_in_place(client, login, form, status, words):
    token = login(client, "village")
    response = client.post("/holdings/transfer", data=form, headers=htmx(token))
    text = assert_page(response, status)
    assert "msg-error" in text and words in text
    assert "HX-Trigger" not in response.headers


def test_refusals_in_english(client, login):
    token = login(client, "village")
    client.cookies.set("lang", "en")
    response = client.post(
        "/holdings/transfer",
        data={"block_id": "1", "quantity": "x", "to_account": "H00000008"},
        headers=htmx(token),
    )
    text = assert_page(response, 422)
    assert "must be a positive whole number" in text


def test_pledge_request_and_retirement_forms(client, login, seeded):
    token = login(client, "village")
    response = client.post(
        "/holdings/pledge",
        data={
            "block_id": "1",
            "quantity": "40",
            "bank_id": str(seeded.organisations["bank"]),
            "loan_amount": "12,000.50",
            "contract_number": "XY-1",
        },
        headers=htmx(token),
    )
    assert "质押申请 2 已提交，40 吨" in assert_page(response)
    response = client.post(
        "/holdings/pledge",
        data={"block_id": "1", "quantity": "1", "bank_id": "1", "loan_amount": "1.234"},
        headers=htmx(token),
    )
    assert "金额" in assert_page(response, 422)

    response = client.post(
        "/holdings/retire",
        data={"block_id": "1", "quantity": "3", "beneficiary": " ", "purpose": "voluntary"},
        headers=htmx(token),
    )
    assert "请填写“受益方”" in assert_page(response, 422)
    response = client.post(
        "/holdings/retire",
        data={"block_id": "1", "quantity": "3", "beneficiary": "村委会", "purpose": "bogus"},
        headers=htmx(token),
    )
    assert "未知的注销用途" in assert_page(response, 409)
    response = client.post(
        "/holdings/retire",
        data={
            "block_id": "1",
            "quantity": "3",
            "beneficiary": "溪口村 <script>alert(1)</script>",
            "purpose": "zero_carbon",
        },
        headers=htmx(token),
    )
    text = assert_page(response)
    number = re.search(r"注销证明编号 (TH-\d{4}-\d{6})", text).group(1)
    assert f'href="/certificates/{number}"' in text
    page = assert_page(client.get(f"/verify?q={number}"))
    assert "&lt;script&gt;" in page and "<script>alert" not in page  # escaped


def test_a_holder_cannot_act_as_a_bank_and_sees_why(client, login):
    token = login(client, "village")
    response = client.post("/pledges/1/release", headers=htmx(token))
    text = assert_page(response, 403)
    assert "无权" in text and "银行" in text
    text = assert_page(client.get("/pledges"), 403)  # the page too: a message in the layout
    assert "<html" in text and "无权操作" in text
    text = assert_page(client.get("/holdings?org=8"), 403)
    assert "查看全部持有" in text


# ------------------------------------------------------------------------- review


def test_each_reviewer_sees_and_takes_its_own_step(client, login):
    steps = [
        ("verifier", "verify_issuance", "核证", "已核证"),
        ("forestry", "approve_issuance", "审定", "已审定"),
        ("eco", "file_issuance", "备案", "已备案"),
        ("issuer", "issue", "制发", "已制发"),
    ]
    for user, action, label, state in steps:
        client.cookies.clear()
        token = login(client, user)
        page = assert_page(client.get("/review"))
        assert 'id="review-2"' in page
        assert f'value="{action}"' in page and f">{label}<" in page
        others = {a for _, a, _, _ in steps} - {action}
        assert not any(f'value="{a}"' in page for a in others), user
        # a step that is not this role's is refused with a message
        wrong = next(iter(others))
        refused = client.post("/review/2", data={"action": wrong}, headers=htmx(token))
        assert_page(refused, 403 if wrong != "issue" or user != "issuer" else 409)
        assert refused.headers.get("HX-Retarget") == "#review-2-result"
        response = client.post("/review/2", data={"action": action}, headers=htmx(token))
        text = assert_page(response)
        assert f"签发申请 2 现为：{state}" in text
        assert 'id="review-2"' in text  # the card is replaced
    assert "已制发序号段" in text
    assert "目前没有等待您审核的申请" in client.get("/review").text


def test_rejecting_needs_a_reason(client, login):
    token = login(client, "verifier")
    response = client.post("/review/2", data={"action": "reject_issuance"}, headers=htmx(token))
    assert "退回须说明理由" in assert_page(response, 409)
    response = client.post(
        "/review/2",
        data={"action": "reject_issuance", "reason": "样地数据不全"},
        headers=htmx(token),
    )
    assert "已驳回" in assert_page(response)
    response = client.post("/review/2", data={"action": "delete_everything"}, headers=htmx(token))
    assert_page(response, 422)


# ------------------------------------------------------------------------- banks and courts


def test_bank_confirms_and_releases_pledges(client, login, seeded):
    token = login(client, "village")
    client.post(
        "/holdings/pledge",
        data={"block_id": "1", "quantity": "30", "bank_id": str(seeded.organisations["bank"])},
        headers=htmx(token),
    )
    client.cookies.clear()
    token = login(client, "bank")
    page = assert_page(client.get("/pledges"))
    assert "溪口村股份经济合作社" in page and "XY-2026-0088" in page and "500,000.00" in page
    assert 'action="/pledges/2/confirm"' in page and 'action="/pledges/1/release"' in page
    response = client.post("/pledges/2/confirm", headers=htmx(token))
    assert "质押 2 现为：质押中" in assert_page(response)
    response = client.post("/pledges/2/confirm", headers=htmx(token))
    assert response.headers["HX-Retarget"] == "#pledge-2-result"
    assert_page(response, 409)
    response = client.post("/pledges/1/release", headers=htmx(token))
    assert "质押 1 现为：已解押" in assert_page(response)
    response = client.post("/pledges/1/bogus", headers=htmx(token))
    assert_page(response, 422)


def test_court_freezes_and_unfreezes(client, login, seeded):
    token = login(client, "court")
    village = seeded.organisations["village"]
    page = assert_page(client.get(f"/freezes?org={village}"))
    assert "(2026)闽0499民初66号" in page and 'name="case_number"' in page
    response = client.post(
        "/freezes",
        data={
            "block_id": "1",
            "quantity": "7",
            "case_number": "(2026)闽0499执12号",
            "org": str(village),
        },
        headers=htmx(token),
    )
    text = assert_page(response)
    assert "冻结 2 已生效：7 吨" in text
    assert response.headers["HX-Trigger"] == "freezes-changed"
    listing = assert_page(client.get("/freezes/list", headers=HTMX))
    assert "(2026)闽0499执12号" in listing
    # the form reloads too, with a fresh idempotency key for the next freeze
    key = re.compile(r'name="idempotency_key" value="([0-9a-f]+)"')
    form = assert_page(client.get(f"/freezes/form?org={village}", headers=HTMX))
    assert 'id="freeze-form"' in form and key.search(form).group(1) != key.search(page).group(1)
    response = client.post(
        "/freezes", data={"block_id": "1", "case_number": ""}, headers=htmx(token)
    )
    assert "请填写“案号”" in assert_page(response, 422)
    response = client.post("/freezes/1/unfreeze", headers=htmx(token))
    assert "冻结 1 已解除" in assert_page(response)


# ------------------------------------------------------------------------- public pages


def test_public_verification_by_certificate_and_serial(client, seeded):
    number = seeded.certificates[0]
    text = assert_page(client.get(f"/verify?q={number}"))
    assert "注销证明有效" in text and "2026 海峡林业博览会" in text and "已注销" in text
    text = assert_page(client.get("/verify?q=SMCER-350499-000001-20162021-000001401"))
    assert "序号已登记" in text and "已注销" in text and "2026 海峡林业博览会" in text
    text = assert_page(client.get("/verify?q=TH-2026-999999"), 404)
    assert "找不到注销证明" in text
    assert_page(client.get("/verify?q=not-a-serial"), 422)
    english = assert_page(client.get(f"/verify/{number}?lang=en"), lang="en")
    assert "Valid retirement certificate" in english and "retired" in english


def test_certificate_page_document_and_pdf(client, seeded):
    number = seeded.certificates[0]
    page = assert_page(client.get(f"/certificates/{number}"))
    assert f'src="/certificates/{number}/document"' in page
    assert f'href="/certificates/{number}.pdf"' in page
    document = client.get(f"/certificates/{number}/document")
    assert document.status_code == 200
    assert '<link rel="stylesheet" href="/static/css/certificate.css">' in document.text
    assert f"http://testserver/verify/{number}" in document.text
    assert document.headers["X-Frame-Options"] == "SAMEORIGIN"
    pdf = client.get(f"/certificates/{number}.pdf")
    assert pdf.status_code == 200, pdf.text[:500]
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert f'filename="{number}.pdf"' in pdf.headers["content-disposition"]
    assert_page(client.get("/certificates/TH-2026-999999"), 404)
    assert_page(client.get("/certificates/SMCER-350499-000001-20162021-000000001"), 404)


def test_pages_send_security_headers_and_load_nothing_from_elsewhere(client, login):
    login(client, "village")
    for path in ("/holdings", "/verify", "/login"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'self'" in csp
        assert response.headers["Cache-Control"] == "no-store"
        assert not re.search(r"""(src|href)=["']https?://""", response.text), path
        assert "<script>" not in response.text and " style=" not in response.text
    for asset in ("/static/vendor/htmx.min.js", "/static/css/app.css", "/static/js/app.js"):
        assert client.get(asset).status_code == 200, asset


def test_pages_stay_out_of_the_openapi_document(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert not any(p.startswith(("/holdings", "/login", "/verify", "/certificates")) for p in paths)


def test_out_of_range_numbers_are_messages_not_database_errors(client, login):
    token = login(client, "village")
    huge = str(2**40)
    for path in (f"/holdings?org={huge}", "/holdings?offset=-1", "/holdings?org=abc"):
        assert "数据无效" in assert_page(client.get(path), 422), path
    response = client.post(
        "/holdings/transfer",
        data={"block_id": huge, "quantity": "1", "to_account": "H00000008"},
        headers=htmx(token),
    )
    assert "正整数" in assert_page(response, 422)
    response = client.post(f"/review/{huge}", data={"action": "issue"}, headers=htmx(token))
    assert_page(response, 422)


def test_an_unexpected_failure_is_a_message_and_a_log_entry(client, login, app, caplog):
    login(client, "village")

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    app.state.ledger.holdings = broken
    text = assert_page(client.get("/holdings"), 500)
    assert "服务器内部错误" in text and "disk on fire" not in text
    assert any("disk on fire" in str(r.exc_info) for r in caplog.records if r.exc_info)
