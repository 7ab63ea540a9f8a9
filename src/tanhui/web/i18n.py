"""The words of the web pages in Chinese (default) and English.

Templates call ``t("key")`` (bound to the request's language by :mod:`tanhui.web.routes`); a
missing key raises ``KeyError`` in the tests, so a page never shows a raw key to a user. Labels
that belong to the domain come from their modules, not from here: block and issuance states
(:data:`tanhui.registry.lifecycle.STATE_LABELS`), roles and actions
(:mod:`tanhui.registry.permissions`), retirement purposes and schemes
(:mod:`tanhui.registry.certificates`). Error messages come from the exceptions themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from tanhui.i18n import Lang

__all__ = ["LANGS", "MESSAGES", "translator"]

LANGS: tuple[Lang, ...] = ("zh", "en")

#: key → (Chinese, English). Keep the keys grouped by page.
MESSAGES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        # layout
        "registry_name": ("碳汇登记簿", "Carbon Sink Registry"),
        "registry_tagline": (
            "林业碳票登记、流转与注销",
            "Carbon Sink Registry · forestry carbon tickets",
        ),
        "nav_holdings": ("持有", "Holdings"),
        "nav_review": ("审核", "Review"),
        "nav_pledges": ("质押", "Pledges"),
        "nav_freezes": ("司法冻结", "Freezes"),
        "nav_verify": ("公开核验", "Verify"),
        "nav_main": ("主导航", "Main navigation"),
        "language": ("语言", "Language"),
        "login": ("登录", "Log in"),
        "logout": ("退出登录", "Log out"),
        "signed_in_as": ("当前用户", "Signed in as"),
        "skip_to_content": ("跳到正文", "Skip to content"),
        "footer_note": (
            "每一吨都可追溯：序号、持有人与用途均可公开核验。",
            "Every tonne is traceable: serials, holders and uses can be verified publicly.",
        ),
        "api_docs": ("API 文档", "API docs"),
        # flash messages (keys travel in a cookie; the text never does)
        "flash_logged_in": ("已登录。", "You are logged in."),
        "flash_logged_out": ("已退出登录。", "You are logged out."),
        "flash_session_expired": (
            "登录已过期，请重新登录。",
            "Your session has expired; please log in again.",
        ),
        "flash_login_required": ("请先登录。", "Please log in first."),
        # login
        "login_title": ("登录碳汇登记簿", "Log in to the registry"),
        "username": ("用户名", "Username"),
        "password": ("密码", "Password"),
        "login_public_hint": (
            "无需登录即可核验注销证明和序号：",
            "No login is needed to verify a certificate or a serial:",
        ),
        # common
        "tonnes": ("吨", "t"),
        "tco2e": ("吨二氧化碳当量", "tCO2e"),
        "quantity": ("数量（吨）", "Quantity (t)"),
        "quantity_hint": ("整吨；留空为整段", "whole tonnes; empty = the whole block"),
        "state": ("状态", "State"),
        "serial": ("序号段", "Serial range"),
        "scheme": ("机制", "Scheme"),
        "project": ("项目", "Project"),
        "account": ("账户", "Account"),
        "holder": ("持有人", "Holder"),
        "organisation": ("机构", "Organisation"),
        "actions": ("操作", "Actions"),
        "submit": ("提交", "Submit"),
        "show": ("查看", "Show"),
        "none": ("无", "none"),
        "success": ("操作成功", "Done"),
        "error": ("未能完成", "Not done"),
        "previous_page": ("上一页", "Previous"),
        "next_page": ("下一页", "Next"),
        "page_of": ("第 {start}–{end} 段，共 {total} 段", "Blocks {start}–{end} of {total}"),
        "lock": ("锁定", "Lock"),
        "lock_pledge": ("质押", "pledge"),
        "lock_reservation": ("预留", "reservation"),
        "lock_freeze": ("冻结", "freeze"),
        "back": ("返回", "Back"),
        "refresh": ("刷新", "Refresh"),
        # holdings
        "holdings_title": ("持有的碳票", "Carbon tickets held"),
        "holdings_of": ("持有机构：", "Holder:"),
        "balance": ("合计持有", "Total held"),
        "available": ("可用", "Available"),
        "by_state": ("按状态", "By state"),
        "blocks": ("序号段明细", "Serial blocks"),
        "no_blocks": ("该机构目前没有持有碳票。", "This organisation holds no tickets."),
        "choose_block": ("选择序号段", "Choose a block"),
        "operations": ("办理业务", "Operations"),
        "no_active_blocks": (
            "没有可用的序号段：已质押、已冻结或已注销的碳票不能办理这些业务。",
            "No available blocks: pledged, frozen or retired tickets cannot be used here.",
        ),
        "transfer": ("转让", "Transfer"),
        "transfer_title": ("转让给其他账户", "Transfer to another account"),
        "to_account": ("转入账户号", "Destination account"),
        "to_account_hint": ("如 H00000008", "e.g. H00000008"),
        "transfer_done": (
            "已将 {quantity} 吨转入账户 {account}，序号段 {serial}。",
            "{quantity} t moved to account {account}: serials {serial}.",
        ),
        "pledge": ("质押", "Pledge"),
        "pledge_title": ("申请质押融资", "Request a pledge loan"),
        "bank": ("质权银行", "Bank"),
        "loan_amount": ("贷款金额（元）", "Loan amount (yuan)"),
        "contract_number": ("合同编号", "Contract number"),
        "optional": ("选填", "optional"),
        "pledge_done": (
            "质押申请 {id} 已提交，{quantity} 吨已为银行预留，等待银行确认。",
            "Pledge request {id} submitted: {quantity} t reserved for the bank until it confirms.",
        ),
        "retire": ("注销", "Retire"),
        "retire_title": ("注销（抵消）", "Retire (offset)"),
        "beneficiary": ("受益方", "Beneficiary"),
        "beneficiary_hint": (
            "以谁的名义注销，如 2026 海峡林业博览会",
            "on whose behalf, e.g. a conference",
        ),
        "purpose": ("注销用途", "Purpose"),
        "note": ("备注", "Note"),
        "retire_done": (
            "已注销 {quantity} 吨，注销证明编号 {number}。",
            "{quantity} t retired; certificate number {number}.",
        ),
        "retire_warning": (
            "注销不可撤销：注销后的碳票不能再转让或质押。",
            "Retirement is final: retired tickets can never move again.",
        ),
        "view_certificate": ("查看注销证明", "View the certificate"),
        # review
        "review_title": ("签发审核", "Issuance review"),
        "review_intro": (
            "以下签发申请正等待您所在角色的审核步骤：核证 → 审定 → 备案 → 制发。",
            "These issuance requests wait for your role's step: verify → approve → file → issue.",
        ),
        "review_empty": ("目前没有等待您审核的申请。", "Nothing is waiting for your review."),
        "request": ("签发申请", "Issuance request"),
        "buffer_quantity": ("缓冲库", "Buffer"),
        "submitted_at": ("提交时间", "Submitted"),
        "reason": ("理由", "Reason"),
        "reject_reason_hint": ("驳回时必填", "required to reject"),
        "review_done": (
            "签发申请 {id} 现为：{state}。",
            "Issuance request {id} is now {state}.",
        ),
        "review_issued_blocks": (
            "已制发序号段：{serials}",
            "Serial blocks issued: {serials}",
        ),
        # pledges (banks)
        "pledges_title": ("质押业务", "Pledges"),
        "pledges_intro": (
            "持有人向本行申请的质押：确认后碳票锁定为质押；还款后解押；违约时处置。",
            "Pledges offered to this bank: confirm to lock the tickets; release on repayment; "
            "enforce on default.",
        ),
        "pledges_empty": (
            "目前没有向本行申请的质押。",
            "No pledges have been offered to this bank.",
        ),
        "pledge_no": ("质押编号", "Pledge"),
        "requested_at": ("申请时间", "Requested"),
        "pledge_state_requested": ("待确认", "requested"),
        "pledge_state_active": ("质押中", "active"),
        "pledge_state_released": ("已解押", "released"),
        "pledge_state_enforced": ("已处置", "enforced"),
        "confirm_enforce": (
            "确定处置该质押物？碳票将转入本行账户。",
            "Enforce this pledge? The tickets move to the bank's account.",
        ),
        "pledge_step_done": (
            "质押 {id} 现为：{state}。",
            "Pledge {id} is now {state}.",
        ),
        # freezes (courts)
        "freezes_title": ("司法冻结", "Judicial freezes"),
        "freezes_intro": (
            "本院作出的冻结；只有作出冻结的法院可以解除。",
            "Freezes ordered by this court; only the court that froze tickets can unfreeze them.",
        ),
        "freezes_empty": ("本院目前没有冻结。", "This court has no freezes."),
        "freeze_no": ("冻结编号", "Freeze"),
        "case_number": ("案号", "Case number"),
        "frozen_at": ("冻结时间", "Frozen"),
        "freeze": ("冻结", "Freeze"),
        "unfreeze": ("解除冻结", "Unfreeze"),
        "freeze_state_active": ("冻结中", "active"),
        "freeze_state_released": ("已解除", "released"),
        "new_freeze": ("新的冻结", "New freeze"),
        "choose_holder": ("选择被执行的持有机构", "Choose the holder"),
        "freeze_done": (
            "冻结 {id} 已生效：{quantity} 吨，序号段 {serial}。",
            "Freeze {id} is in force: {quantity} t, serials {serial}.",
        ),
        "unfreeze_done": ("冻结 {id} 已解除。", "Freeze {id} is lifted."),
        # verify (public)
        "verify_title": ("公开核验", "Public verification"),
        "verify_intro": (
            "输入注销证明编号（如 TH-2026-000001）或碳票序号，核验其真实性和当前状态。无需登录。",
            "Enter a certificate number (e.g. TH-2026-000001) or a serial to check it is genuine "
            "and see its state. No login needed.",
        ),
        "verify_query": ("证明编号或序号", "Certificate number or serial"),
        "verify_button": ("核验", "Verify"),
        "verify_found_certificate": ("注销证明有效", "Valid retirement certificate"),
        "verify_found_serial": ("序号已登记", "Registered serials"),
        "retired_at": ("注销时间", "Retired"),
        "retired_by": ("注销方", "Retired by"),
        "certificate_number": ("证明编号", "Certificate number"),
        "period": ("监测期", "Monitoring period"),
        "region": ("地区代码", "Region code"),
        # certificate
        "certificate_title": ("注销证明", "Retirement certificate"),
        "download_pdf": ("下载 PDF", "Download PDF"),
        "verify_this": ("核验此证明", "Verify this certificate"),
        "certificate_frame": ("注销证明正文", "Certificate document"),
        # errors
        "error_title": ("出错了", "Something went wrong"),
        "csrf_failed": (
            "表单已失效（安全校验未通过），未作任何更改。",
            "The form has expired (security check failed); nothing was changed.",
        ),
        "csrf_hint": ("请刷新页面后重试。", "Reload the page and try again."),
        "bad_number": (
            "“{field}”须为正整数，实为“{value}”。",
            "“{field}” must be a positive whole number, not “{value}”.",
        ),
        "bad_amount": (
            "“{field}”须为金额（元，最多两位小数），实为“{value}”。",
            "“{field}” must be an amount in yuan (at most two decimals), not “{value}”.",
        ),
        "missing_field": ("请填写“{field}”。", "Please fill in “{field}”."),
        "bad_choice": ("“{field}”的取值无效。", "The value of “{field}” is not valid."),
    }
)


def translator(lang: Lang) -> Callable[..., str]:
    """``t(key, **values)`` in ``lang``: the catalogue text, formatted with ``values``."""
    index = 0 if lang == "zh" else 1

    def t(key: str, **values: object) -> str:
        text = MESSAGES[key][index]
        return text.format(**values) if values else text

    return t
