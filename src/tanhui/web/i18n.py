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
        # development: navigation
        "nav_screening": ("资源筛查", "Screening"),
        "nav_feasibility": ("可行性分析", "Feasibility"),
        "nav_projects": ("项目库", "Projects"),
        "nav_holders": ("权利人与授权", "Holders"),
        "nav_losses": ("灾害损失", "Losses"),
        # development: common words
        "scheme_label": ("机制与方法学", "Scheme and methodology"),
        "inventory_file": ("小班数据文件", "Inventory file"),
        "inventory_file_hint": (
            "二类调查小班表：CSV（GBK 或 UTF-8）、Excel、GeoPackage 或 Parquet，单个文件，最大 200 MiB。",
            "A sub-compartment table: CSV (GBK or UTF-8), Excel, GeoPackage or Parquet; one file, "
            "at most 200 MiB.",
        ),
        "start_year": ("项目开始年份", "Start year"),
        "crediting_years": ("计入期（年）", "Crediting period (years)"),
        "crediting_years_hint": ("默认 CCER 30 年，碳票 20 年", "default 30 (CCER), 20 (tickets)"),
        "growth_model": ("生长模型", "Growth model"),
        "growth_none": ("不拟合（用默认速率）", "none (default rates)"),
        "area_unit": ("面积单位", "Area unit"),
        "area_unit_auto": ("按列名识别", "from the column name"),
        "unit_ha": ("公顷", "ha"),
        "unit_mu": ("亩", "mu"),
        "encoding": ("文本编码", "Text encoding"),
        "encoding_hint": ("自动识别，如 gbk", "detected, e.g. gbk"),
        "check_registry": (
            "核对登记簿中已签发的小班（计入期重叠即不合格）",
            "Check the registry for land already issued (an overlapping period disqualifies)",
        ),
        "sub_compartments": ("小班", "sub-compartments"),
        "sub_compartments_col": ("小班", "Sub-compartments"),
        "subcompartment": ("小班号", "Sub-compartment"),
        "eligible": ("合格", "Eligible"),
        "eligible_area": ("合格面积", "Eligible area"),
        "expected_tonnes": ("预计年碳汇", "Expected sink"),
        "tco2e_per_year": ("tCO2e/年", "tCO2e/yr"),
        "tonnes_crediting_period": ("计入期碳汇", "Over the crediting period"),
        "village": ("村", "Village"),
        "species_group": ("树种组", "Species group"),
        "county": ("县（区）", "County"),
        "owner": ("业主", "Owner"),
        "stage": ("阶段", "Stage"),
        "methodology": ("方法学", "Methodology"),
        "area_ha": ("面积（公顷）", "Area (ha)"),
        "rules_version": ("规则版本", "rules"),
        "rules_hash": ("规则哈希", "rules hash"),
        "content_hash": ("内容哈希", "content hash"),
        "rule_status": ("核实状态", "Status"),
        "rule_source": ("依据", "Source"),
        "reason_col": ("原因", "Reason"),
        "download_csv": ("下载 CSV", "Download CSV"),
        "download_xlsx": ("下载 Excel", "Download Excel"),
        "kept_until": (
            "结果保留至 {time}（仅上传者可见）",
            "Result kept until {time} (for the uploader only)",
        ),
        "years": ("年", "years"),
        "yuan": ("元", "yuan"),
        "yuan_per_tonne": ("元/吨", "yuan/t"),
        "total": ("合计", "Total"),
        "time": ("时间", "Time"),
        "by": ("操作人", "By"),
        "upload": ("上传", "Upload"),
        "uploading": ("正在上传…", "Uploading…"),
        "project_name": ("项目名称", "Project name"),
        "candidate_project": ("候选项目", "Candidate project"),
        "problems_title": ("文件中的问题", "Problems in the file"),
        "problem_row": ("行", "Row"),
        "problem_column": ("列", "Column"),
        "problem_value": ("值", "Value"),
        "problem_reason": ("问题", "Problem"),
        "bad_range": (
            "“{field}”须在 {low} 到 {high} 之间，实为“{value}”。",
            "“{field}” must be between {low} and {high}, not “{value}”.",
        ),
        "bad_date": (
            "“{field}”须为日期（年-月-日），实为“{value}”。",
            "“{field}” must be a date (YYYY-MM-DD), not “{value}”.",
        ),
        # screening
        "screening_title": ("资源筛查", "Resource screening"),
        "screening_intro": (
            "上传小班数据文件，按机制和方法学的规则逐个筛查：哪些小班符合开发条件，不符合的逐条列出原因，并按村、树种组汇总合格面积和预计碳汇量。",
            "Upload a sub-compartment table and screen it under a scheme's rules: which "
            "sub-compartments qualify, every reason for those that do not, and eligible area and "
            "expected tonnes by village and species group.",
        ),
        "screen_button": ("开始筛查", "Screen"),
        "screening_working": ("正在读取并筛查…", "Reading and screening…"),
        "screening_done": (
            "筛查完成：{rows} 个小班中 {eligible} 个合格。",
            "Screening done: {eligible} of {rows} sub-compartments qualify.",
        ),
        "screening_file": ("筛查结果", "screening"),
        "schemes_title": ("可用的规则集", "Rule sets available"),
        "rule_count": ("{n} 条规则", "{n} rules"),
        "reasons_title": ("不合格原因", "Why sub-compartments do not qualify"),
        "not_checked": ("未核对", "not checked"),
        "all_eligible": ("全部小班合格。", "Every sub-compartment qualifies."),
        "by_village": ("按村汇总", "By village"),
        "by_species": ("按树种组汇总", "By species group"),
        "all_villages": ("全部 {n} 个村", "All {n} villages"),
        "without_estimate": (
            "其中 {n} 个合格小班缺少碳汇估计（该树种组无默认速率）；可选择生长模型后重新筛查。",
            "{n} eligible sub-compartments have no estimate (no default rate for their species "
            "group); choose a growth model and screen again.",
        ),
        "unchecked_rules": (
            "未核对的规则（缺少所需数据）：{rules}",
            "Rules not checked (the data they need is missing): {rules}",
        ),
        "inventory_source": (
            "文件 {file}（{format}，编码 {encoding}）",
            "File {file} ({format}, encoding {encoding})",
        ),
        # feasibility
        "feasibility_title": ("可行性分析", "Feasibility study"),
        "feasibility_intro": (
            "上传小班数据文件，估算候选项目计入期内的碳汇量、签发时间表、成本与收益（净现值、内部收益率、回收期、每亩经济性、敏感性），并用蒙特卡洛模拟火灾、病虫害、生长和价格风险。",
            "Upload a sub-compartment table to estimate a candidate project's tonnes over the "
            "crediting period, its issuance timeline, costs and returns (NPV, IRR, payback, per-mu "
            "economics, sensitivity), and a Monte Carlo of fire, pests, growth and price.",
        ),
        "library_project": ("项目库项目（取其小班）", "Library project (its land)"),
        "all_eligible_land": ("全部合格小班", "all eligible land"),
        "only_villages": ("只取这些村", "Only these villages"),
        "villages_hint": ("多个村用逗号分隔", "comma-separated"),
        "discount_rate": ("折现率（%）", "Discount rate (%)"),
        "buffer_share": ("缓冲比例（%）", "Buffer share (%)"),
        "price_scenarios": ("价格情景（元/吨）", "Price scenarios (yuan/t)"),
        "prices_hint": (
            "留空则用公开成交价（碳票 10/15/20，CCER 50.84/70.8/107.36）",
            "empty: prices seen in public trades",
        ),
        "scenario_low": ("低价", "Low"),
        "scenario_base": ("基准", "Base"),
        "scenario_high": ("高价", "High"),
        "price_low": ("低价", "low price"),
        "price_base": ("基准价格", "base price"),
        "price_high": ("高价", "high price"),
        "paths": ("蒙特卡洛路径数", "Monte Carlo paths"),
        "seed": ("随机种子", "random seed"),
        "mc_paths": ("蒙特卡洛路径数（0 不做风险）", "Monte Carlo paths (0: no risk)"),
        "mc_seed": ("随机种子", "Random seed"),
        "cost_file": ("成本表 TOML/CSV", "Cost table TOML/CSV"),
        "feasibility_button": ("开始分析", "Run the study"),
        "feasibility_working": (
            "正在筛查、预测碳汇量、计算现金流并模拟风险…",
            "Screening, projecting tonnes, computing cash flows and simulating risk…",
        ),
        "feasibility_done": (
            "“{name}”的可行性分析已完成。",
            "The feasibility study of “{name}” is done.",
        ),
        "full_report": ("打开完整报告", "Open the full report"),
        "project_area": ("项目面积", "Project area"),
        "tonnes_issued": ("计入期签发量", "Tonnes issued"),
        "npv_base": ("净现值（基准价格）", "NPV (base price)"),
        "npv": ("净现值", "NPV"),
        "irr": ("内部收益率", "IRR"),
        "payback": ("回收年份", "Payback"),
        "break_even_price": ("盈亏平衡价格", "Break-even price"),
        "probability_of_loss": ("亏损概率", "Probability of a loss"),
        "recommended_buffer": ("建议缓冲比例", "recommended buffer"),
        "discount_at": ("折现率 {rate}", "discounted at {rate}"),
        "timeline": ("时间表", "Timeline"),
        "timeline_text": (
            "计入期 {start}–{end}；核证年份 {verifications}；签发年份 {issuances}。",
            "Crediting {start}–{end}; verifications {verifications}; issuances {issuances}.",
        ),
        "scenario": ("情景", "Scenario"),
        "npv_per_mu": ("每亩净现值", "NPV per mu"),
        "sensitivity": ("敏感性（净现值，元）", "Sensitivity (NPV, yuan)"),
        "sensitivity_factor": ("因素", "Factor"),
        "sensitivity_note": (
            "每一行只改变一个因素，其余保持基准情景。",
            "Each row changes one factor and keeps the rest at the base scenario.",
        ),
        "risk_title": ("风险（蒙特卡洛）", "Risk (Monte Carlo)"),
        "risk_text": (
            "{paths} 条路径（种子 {seed}）：亏损概率 {p}，建议缓冲比例 {buffer}。",
            "{paths} paths (seed {seed}): probability of a loss {p}, recommended buffer {buffer}.",
        ),
        "hazard": ("灾害类型", "Hazard"),
        "annual_probability": ("年发生概率", "Annual probability"),
        "loss_share": ("损失比例", "Share lost"),
        "expected_loss": ("预期损失（tCO2e）", "Expected loss (tCO2e)"),
        "costs_title": ("成本表", "Costs"),
        "cost_item": ("成本项目", "Item"),
        "cost_unit": ("计费单位", "Unit"),
        "amount": ("金额", "Amount"),
        "to_confirm": ("{n} 项假设待核实", "{n} assumptions to confirm"),
        # project library
        "projects_title": ("项目库", "Project library"),
        "projects_intro": (
            "候选和在建的林业碳汇项目及其阶段：候选 → 可行性研究 → 项目设计 → 审定 → 已登记 → 监测 → 已签发 → 已关闭。",
            "Candidate and ongoing projects and their stage: candidate → feasibility → design → "
            "validation → registered → monitoring → issued → closed.",
        ),
        "all_stages": ("全部阶段", "All stages"),
        "projects_list": ("项目", "Projects"),
        "no_projects": ("没有可显示的项目。", "No projects to show."),
        "county_stats_title": ("各县项目储备", "Projects in reserve by county"),
        "projects_count": ("项目数", "Projects"),
        "reserve_count": ("储备项目", "In reserve"),
        "open_count": ("在建", "Open"),
        "by_stage": ("按阶段", "By stage"),
        "reserve_status": ("储备情况", "Reserve"),
        "below_reserve": ("不足 {n} 个", "below {n}"),
        "reserve_enough": ("达标", "enough"),
        "below_reserve_alert": (
            "储备项目不足 {n} 个的县：{counties}。",
            "Counties with fewer than {n} projects in reserve: {counties}.",
        ),
        "reserve_ok": (
            "每个县都有至少 {n} 个储备项目。",
            "Every county keeps at least {n} projects in reserve.",
        ),
        "reserve_note": (
            "储备项目：尚未登记的项目（候选、可行性研究、项目设计、审定）。明溪要求储备项目不少于 2 个。",
            "In reserve: projects not yet registered (candidate, feasibility, design, "
            "validation). Mingxi asks for at least 2.",
        ),
        "run_feasibility": ("可行性分析", "Feasibility study"),
        "crediting_period": ("计入期", "Crediting period"),
        "registry_project": ("登记簿项目", "Registry project"),
        "subcompartment_list": ("{n} 个小班", "{n} sub-compartments"),
        "lifecycle_title": ("项目阶段", "Lifecycle"),
        "advance_to": ("进入下一阶段：{stage}", "Advance to {stage}"),
        "move_to": ("转为：{stage}", "Move to {stage}"),
        "withdraw": ("撤销项目", "Withdraw"),
        "withdraw_reason": ("撤销原因", "Reason for withdrawing"),
        "stage_rules": (
            "登记、签发和关闭由林业主管部门操作；其余阶段由项目业主或林业主管部门推进。",
            "Registration, issuance and closure are the forestry regulator's; the owner or the "
            "regulator moves the other stages.",
        ),
        "stage_done": ("项目现处于：{stage}。", "The project is now at: {stage}."),
        "withdraw_done": ("项目已撤销。", "The project is withdrawn."),
        "history_title": ("阶段历史", "Stage history"),
        "from_stage": ("原阶段", "From"),
        "to_stage": ("新阶段", "To"),
        "documents_title": ("项目文件", "Documents"),
        "document": ("文件", "Document"),
        "document_kind": ("类别", "Kind"),
        "document_file": ("扫描件（PDF 或图片）", "Scan (PDF or image)"),
        "size": ("大小", "Size"),
        "uploaded_at": ("上传时间", "Uploaded"),
        "no_documents": ("还没有文件。", "No documents yet."),
        "document_done": ("已上传“{name}”。", "Uploaded “{name}”."),
        "doc_kind_authorization": ("授权书", "authorization"),
        "doc_kind_tenure_certificate": ("林权证", "tenure certificate"),
        "doc_kind_feasibility": ("可行性研究报告", "feasibility report"),
        "doc_kind_design": ("项目设计文件", "project design"),
        "doc_kind_validation": ("审定报告", "validation report"),
        "doc_kind_monitoring": ("监测报告", "monitoring report"),
        "doc_kind_map": ("图件", "map"),
        "doc_kind_other": ("其他", "other"),
        "consent_title": ("授权情况", "Consent"),
        "consent_complete": (
            "全部 {n} 个地块均有有效授权。",
            "All {n} parcels have a valid authorization.",
        ),
        "consent_summary": (
            "已授权 {covered} / {total} 公顷；未授权 {missing} 块，授权已到期 {expired} 块，已撤回 {revoked} 块。",
            "{covered} of {total} ha consented; {missing} parcels without consent, {expired} "
            "expired, {revoked} revoked.",
        ),
        "consent_unowned": (
            "{n} 个小班没有登记权利人（权属不清）：{ids}",
            "{n} sub-compartments have no recorded holder (tenure unclear): {ids}",
        ),
        "gap_reason": ("缺口", "Gap"),
        "gap_missing": ("未授权", "no authorization"),
        "gap_expired": ("授权已到期", "expired"),
        "gap_revoked": ("授权已撤回", "revoked"),
        "since": ("自", "Since"),
        "see_gap": ("查看缺口", "See the gap"),
        "authorizations_title": ("授权记录", "Authorizations"),
        "payouts_title": ("收益分配", "Revenue sharing"),
        "sharing_rule": ("分配规则", "Rule"),
        "split_text": (
            "农户及其他权利人 {holders:g}%，村集体 {collective:g}%，开发方 {developer:g}%",
            "holders {holders:g}%, collective {collective:g}%, developer {developer:g}%",
        ),
        "payout_head": (
            "{date} 销售收入 {revenue} 元（合同 {ref}）",
            "Sale of {date}: {revenue} yuan (contract {ref})",
        ),
        "payee": ("收款人", "Payee"),
        "pool": ("类别", "Pool"),
        "weight": ("权重", "Weight"),
        "amount_yuan": ("金额（元）", "Amount (yuan)"),
        "no_payouts": ("还没有分配记录。", "No payouts yet."),
        # holders and authorizations
        "holders_title": ("权利人与授权", "Rights holders and consent"),
        "holders_intro": (
            "统筹的农户、村集体和国有林场及其地块；登记授权书（签署人、日期、期限、约定份额、扫描件）。证件号只以遮挡形式显示。",
            "The pooled households, collectives and state farms with their parcels; record "
            "authorizations (signatory, date, term, agreed share, scan). Id numbers are masked.",
        ),
        "holders_of": ("{village}的权利人", "Rights holders of {village}"),
        "all_villages_short": ("全部村", "all villages"),
        "holder_kind": ("类型", "Kind"),
        "id_number": ("证件号", "Id number"),
        "parcels": ("地块（小班）", "Parcels"),
        "no_holders": ("没有登记的权利人。", "No rights holders recorded."),
        "record_authorization": ("登记授权", "Record an authorization"),
        "signatory": ("签署人", "Signatory"),
        "signed_on": ("签署日期", "Signed on"),
        "term_years": ("授权年限", "Term (years)"),
        "term_hint": ("或填写到期日", "or give the expiry date"),
        "expires_on": ("到期日", "Expires on"),
        "valid_until": ("有效期至", "Valid until"),
        "no_end": ("长期", "no end"),
        "agreed_share": ("约定分成（%）", "Agreed share (%)"),
        "share": ("约定分成", "Agreed share"),
        "scan": ("扫描件", "Scan"),
        "scan_file": ("授权书扫描件", "Scanned authorization"),
        "scan_hint": ("PDF、JPEG、PNG 或 TIFF，最大 10 MiB", "PDF, JPEG, PNG or TIFF, ≤ 10 MiB"),
        "parcel_only": ("仅地块 {id}", "parcel {id} only"),
        "authorization_done": (
            "授权 {id} 已登记：{holder}（{status}）。",
            "Authorization {id} recorded: {holder} ({status}).",
        ),
        "auth_status_valid": ("有效", "valid"),
        "auth_status_not_yet_valid": ("尚未生效", "not yet valid"),
        "auth_status_expired": ("已到期", "expired"),
        "auth_status_revoked": ("已撤回", "revoked"),
        "authorizations_of": ("“{name}”的授权", "Authorizations of “{name}”"),
        "no_authorizations": ("该项目还没有授权记录。", "No authorizations recorded yet."),
        "choose_project_for_authorizations": (
            "选择一个项目以查看其授权和缺口。",
            "Choose a project to see its authorizations and gaps.",
        ),
        "no_open_projects": (
            "没有可登记授权的在建项目。",
            "No open project to record consent for.",
        ),
        # losses
        "losses_title": ("灾害损失", "Loss events"),
        "losses_intro": (
            "记录火灾、病虫害、盗伐等对项目小班造成的损失；损失计入风险模型，已签发的项目可在登记簿中注销相应碳票（先扣缓冲库）。",
            "Record fire, pests, illegal logging and other losses on a project's sub-compartments; "
            "they feed the risk model and, once tickets are issued, can be reversed in the "
            "registry (buffer first).",
        ),
        "loss_events_of": ("“{name}”的损失事件", "Loss events of “{name}”"),
        "record_loss": ("登记损失", "Record a loss"),
        "occurred_on": ("发生日期", "Date"),
        "area_lost": ("损失面积（公顷）", "Area lost (ha)"),
        "area_or_share": ("或填损失比例", "or the share"),
        "share_lost": ("损失比例（%）", "Share lost (%)"),
        "tonnes_lost": ("损失吨数（tCO2e）", "Tonnes lost (tCO2e)"),
        "reversal": ("登记簿注销", "Reversal"),
        "reverse": ("注销", "Reverse"),
        "reverse_default": ("默认估计值", "estimate"),
        "reversed_t": ("已注销 {n} 吨", "{n} t reversed"),
        "no_losses": ("没有损失记录。", "No losses recorded."),
        "loss_done": (
            "损失事件 {id} 已登记（小班 {sub}）。",
            "Loss event {id} recorded (sub-compartment {sub}).",
        ),
        "reversal_done": (
            "损失事件 {id}：已在登记簿中注销 {quantity} 吨。",
            "Loss event {id}: {quantity} t reversed in the registry.",
        ),
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
