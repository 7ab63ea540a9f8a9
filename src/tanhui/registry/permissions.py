"""Roles, actions and the one role × action table of the registry. Pure, stdlib only.

Two checks decide whether someone may do something; both are enforced in the services (the
ledger), never in the routes:

1. **Role** — :data:`ALLOWED` (via :func:`require`): may a role do this kind of thing at all?
2. **Ownership** — :func:`may_act_on` / :func:`require_on`: may *this* organisation do it to
   *this* block? The ledger looks up the block's holder and the organisation of its current lock
   and asks. The rules (:data:`OWNERSHIP`):

   ``holder``        the actor holds the block, and the block is not locked by another
                     organisation (transfer, reserve, retire, request_pledge, request_offset,
                     export_blocks). One exception: a market operator holding a block's
                     reservation may transfer it (settling a trade).
   ``counterparty``  the actor is the organisation of the block's lock: only the bank that holds
                     the pledge confirms, releases or enforces it; only the court that froze a
                     block unfreezes it; only the regulator an offset was sent to confirms it.
   ``lock``          whoever placed the lock lifts it: the lock's counterparty when there is one
                     (a bank declining a pledge request, a market operator delisting), else the
                     holder itself (unreserve, reject_offset).
   ``any``           no ownership rule: the role decides (freeze by any court, reviews, views).

   "Organisation" means an account: an organisation's, or an individual holder's own.

The issuance workflow adds one rule: only the role that holds the current step acts on a request
(see :func:`tanhui.registry.lifecycle.check_issuance_actor`). Development (the project library,
pooling, payouts, losses) adds another: an actor with only the ``holder`` role acts on and sees the
library projects (and the rights holders) of its own organisation; the forestry regulator and the
reading roles see all (see :mod:`tanhui.develop.library`). A role that may appear in the
table for an action can still be refused by a block's state
(:mod:`tanhui.registry.lifecycle`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType

from tanhui.errors import PermissionDenied

__all__ = [
    "ACTION_LABELS",
    "ALLOWED",
    "OWNERSHIP",
    "ROLE_LABELS",
    "Action",
    "Role",
    "allowed",
    "may_act_on",
    "require",
    "require_on",
    "roles_for",
]


class Role(StrEnum):
    """Who acts. A user may hold several roles."""

    forestry_regulator = "forestry_regulator"  # 林业主管部门: approves (审定), reversals
    eco_regulator = "eco_regulator"  # 生态环境主管部门: files (备案), confirms offsets
    verifier = "verifier"  # 第三方核证机构
    issuer = "issuer"  # 制发机构 (e.g. a state-owned forestry enterprise)
    holder = "holder"  # 持有人: an organisation or an individual
    bank = "bank"  # 银行: pledges
    court = "court"  # 法院: freezes
    market_operator = "market_operator"  # 交易机构: listings, settlement, 收储
    auditor = "auditor"  # 审计: reads everything, changes nothing
    admin = "admin"  # 系统管理员: users and organisations, moves no tonnes
    public = "public"  # 公众 (not logged in)


class Action(StrEnum):
    """Every registry operation."""

    # administration
    manage_users = "manage_users"
    manage_organisations = "manage_organisations"
    # projects and the issuance workflow
    register_project = "register_project"
    submit_monitoring_report = "submit_monitoring_report"
    submit_issuance = "submit_issuance"
    verify_issuance = "verify_issuance"
    approve_issuance = "approve_issuance"  # 审定 (forestry)
    file_issuance = "file_issuance"  # 备案 (eco-environment)
    issue = "issue"  # 制发
    reject_issuance = "reject_issuance"  # by the role holding the current step
    # blocks: holding
    transfer = "transfer"
    reserve = "reserve"  # lock for a pending transfer or retirement (listing, trade)
    unreserve = "unreserve"  # lift a reservation (delisting, declined pledge)
    # blocks: pledge (质押)
    request_pledge = "request_pledge"  # holder → reserved for the named bank
    confirm_pledge = "confirm_pledge"
    release_pledge = "release_pledge"  # 解押
    enforce_pledge = "enforce_pledge"  # 处置: the blocks move to the bank's account
    # blocks: judicial
    freeze = "freeze"
    unfreeze = "unfreeze"
    # blocks: end of life
    retire = "retire"  # 注销 / 抵消, with purpose, beneficiary, certificate
    request_offset = "request_offset"  # submit for offset use elsewhere, pending confirmation
    confirm_offset = "confirm_offset"  # the offset is used: the blocks are retired
    reject_offset = "reject_offset"  # the offset is withdrawn or refused: back to active
    allocate_buffer = "allocate_buffer"  # set tonnes aside in the non-permanence buffer
    cancel_reversal = "cancel_reversal"  # cancel tonnes after a reversal (buffer first)
    # other registries
    export_blocks = "export_blocks"
    import_blocks = "import_blocks"
    record_external_issuance = "record_external_issuance"
    # reading
    view_own_holdings = "view_own_holdings"
    view_all_holdings = "view_all_holdings"
    view_review_queue = "view_review_queue"
    view_event_log = "view_event_log"
    verify_registry = "verify_registry"  # check the event log's hash chain and the balances
    public_lookup = "public_lookup"
    # development (开发): the project library, pooling and consent, payouts, losses
    manage_dev_projects = "manage_dev_projects"  # create, edit, move a library project; documents
    view_dev_projects = "view_dev_projects"
    view_library_stats = "view_library_stats"  # county and province statistics, reserve
    manage_rights_holders = "manage_rights_holders"  # rights holders and their parcels
    view_rights_holders = "view_rights_holders"  # holders, parcels, authorizations, consent gaps
    record_authorization = "record_authorization"  # 授权: record or revoke a holder's consent
    record_payout = "record_payout"  # 股份合作: a sale's revenue shared out to the holders
    record_loss_event = "record_loss_event"  # fire, pests, illegal logging
    # market (交易) and finance (金融): tanhui.market checks these, and who owns what it acts on
    trade = "trade"  # orders, agreement proposals, bids, intents, paying for what one won
    list_for_sale = "list_for_sale"  # one-way auctions, agreement-transfer listings (卖方)
    offer_storage = "offer_storage"  # 收储: a standing offer to take unsold tickets, and its budget
    record_cash = "record_cash"  # deposits, withdrawals (one's own; the operator: anyone's)
    view_cash = "view_cash"  # cash balances and statements (one's own; operator and auditor: all)
    operate_market = "operate_market"  # books, the daily close, deadlines, re-marking of loans
    request_loan = "request_loan"  # borrower: apply for a pledge loan, repay it
    manage_loans = "manage_loans"  # bank: grant, disburse, re-mark, margin call, default, enforce
    view_finance_stats = "view_finance_stats"  # credit lines, disbursements, outstanding loans


R, A = Role, Action

# What an account may do with the blocks it holds (holders, banks after enforcement, 收储).
_HOLDING = frozenset(
    {
        A.transfer,
        A.reserve,
        A.unreserve,
        A.request_pledge,
        A.retire,
        A.request_offset,
        A.reject_offset,
        A.export_blocks,
        A.view_own_holdings,
        A.public_lookup,
    }
)
_REVIEW = frozenset({A.view_review_queue, A.public_lookup})
# Developing projects: the forestry bureau for its county, and holders (forest farms, village
# collectives, developers) for the projects their organisation owns (checked by the services).
_DEVELOP = frozenset(
    {
        A.manage_dev_projects,
        A.view_dev_projects,
        A.manage_rights_holders,
        A.view_rights_holders,
        A.record_authorization,
        A.record_payout,
        A.record_loss_event,
    }
)

#: The one role × action table. A change here must be deliberate: the tests assert it in full.
ALLOWED: Mapping[Role, frozenset[Action]] = MappingProxyType(
    {
        R.forestry_regulator: _REVIEW
        | _DEVELOP
        | {
            A.view_library_stats,
            A.register_project,
            A.approve_issuance,
            A.reject_issuance,
            A.allocate_buffer,
            A.cancel_reversal,
            A.record_external_issuance,
            A.view_all_holdings,
            A.view_event_log,
            A.verify_registry,
        },
        R.eco_regulator: _REVIEW
        | {
            A.view_dev_projects,
            A.view_library_stats,
            A.file_issuance,
            A.reject_issuance,
            A.confirm_offset,
            A.reject_offset,
            A.record_external_issuance,
            A.view_all_holdings,
            A.view_event_log,
            A.verify_registry,
        },
        R.verifier: _REVIEW | {A.verify_issuance, A.reject_issuance, A.view_dev_projects},
        R.issuer: _REVIEW | {A.issue, A.reject_issuance, A.allocate_buffer, A.import_blocks},
        R.holder: _HOLDING
        | _DEVELOP
        | {A.register_project, A.submit_monitoring_report, A.submit_issuance},
        R.bank: _HOLDING | {A.confirm_pledge, A.release_pledge, A.enforce_pledge},
        R.court: frozenset({A.freeze, A.unfreeze, A.view_all_holdings, A.public_lookup}),
        R.market_operator: _HOLDING,
        R.auditor: _REVIEW
        | {
            A.view_all_holdings,
            A.view_event_log,
            A.verify_registry,
            A.view_dev_projects,
            A.view_rights_holders,
            A.view_library_stats,
        },
        R.admin: frozenset(
            {
                A.manage_users,
                A.manage_organisations,
                A.view_all_holdings,
                A.view_event_log,
                A.verify_registry,
                A.public_lookup,
            }
        ),
        R.public: frozenset({A.public_lookup}),
    }
)

# The market's actions, appended to the table above (books, auctions and market statistics are
# public reads and need no action; ownership — one's own orders, cash, loans — is checked by the
# market services).
_MARKET_ALLOWED: Mapping[Role, frozenset[Action]] = {
    R.holder: frozenset(
        {
            A.trade,
            A.list_for_sale,
            A.offer_storage,
            A.record_cash,
            A.view_cash,
            A.request_loan,
        }
    ),
    R.bank: frozenset(
        {
            A.trade,
            A.list_for_sale,
            A.record_cash,
            A.view_cash,
            A.manage_loans,
            A.view_finance_stats,
        }
    ),
    R.market_operator: frozenset(
        {A.record_cash, A.view_cash, A.operate_market, A.view_finance_stats}
    ),
    R.auditor: frozenset({A.view_cash, A.view_finance_stats}),
    R.forestry_regulator: frozenset({A.view_finance_stats}),
    R.eco_regulator: frozenset({A.view_finance_stats}),
}
ALLOWED = MappingProxyType(
    {role: actions | _MARKET_ALLOWED.get(role, frozenset()) for role, actions in ALLOWED.items()}
)

#: Ownership rule per action (see the module docstring); actions not listed are ``any``.
OWNERSHIP: Mapping[Action, str] = MappingProxyType(
    {
        A.transfer: "holder",  # or the market operator holding its reservation (settlement)
        A.reserve: "holder",
        A.request_pledge: "holder",
        A.retire: "holder",
        A.request_offset: "holder",
        A.export_blocks: "holder",
        A.unreserve: "lock",
        A.reject_offset: "lock",
        A.confirm_pledge: "counterparty",
        A.release_pledge: "counterparty",
        A.enforce_pledge: "counterparty",
        A.unfreeze: "counterparty",
        A.confirm_offset: "counterparty",
    }
)

ROLE_LABELS: Mapping[Role, tuple[str, str]] = MappingProxyType(
    {
        R.forestry_regulator: ("林业主管部门", "forestry regulator"),
        R.eco_regulator: ("生态环境主管部门", "eco-environment regulator"),
        R.verifier: ("第三方核证机构", "verifier"),
        R.issuer: ("制发机构", "issuer"),
        R.holder: ("持有人", "holder"),
        R.bank: ("银行", "bank"),
        R.court: ("法院", "court"),
        R.market_operator: ("交易机构", "market operator"),
        R.auditor: ("审计", "auditor"),
        R.admin: ("系统管理员", "administrator"),
        R.public: ("公众", "the public"),
    }
)

ACTION_LABELS: Mapping[Action, tuple[str, str]] = MappingProxyType(
    {
        A.manage_users: ("管理用户", "manage users"),
        A.manage_organisations: ("管理机构", "manage organisations"),
        A.register_project: ("登记项目", "register a project"),
        A.submit_monitoring_report: ("提交监测报告", "submit a monitoring report"),
        A.submit_issuance: ("提交签发申请", "submit an issuance request"),
        A.verify_issuance: ("核证", "verify an issuance"),
        A.approve_issuance: ("审定", "approve an issuance"),
        A.file_issuance: ("备案", "file an issuance"),
        A.issue: ("制发", "issue"),
        A.reject_issuance: ("驳回签发申请", "reject an issuance request"),
        A.transfer: ("转让", "transfer"),
        A.reserve: ("预留", "reserve"),
        A.unreserve: ("解除预留", "lift a reservation"),
        A.request_pledge: ("申请质押", "request a pledge"),
        A.confirm_pledge: ("确认质押", "confirm a pledge"),
        A.release_pledge: ("解押", "release a pledge"),
        A.enforce_pledge: ("处置质押物", "enforce a pledge"),
        A.freeze: ("司法冻结", "freeze"),
        A.unfreeze: ("解除冻结", "unfreeze"),
        A.retire: ("注销", "retire"),
        A.request_offset: ("申请抵消", "request an offset"),
        A.confirm_offset: ("确认抵消", "confirm an offset"),
        A.reject_offset: ("撤回或驳回抵消", "withdraw or reject an offset"),
        A.allocate_buffer: ("划入缓冲库", "allocate to the buffer"),
        A.cancel_reversal: ("逆转作废", "cancel after a reversal"),
        A.export_blocks: ("转出至其他登记系统", "export blocks"),
        A.import_blocks: ("从其他登记系统转入", "import blocks"),
        A.record_external_issuance: ("登记外部签发", "record an external issuance"),
        A.view_own_holdings: ("查看本方持有", "view own holdings"),
        A.view_all_holdings: ("查看全部持有", "view all holdings"),
        A.view_review_queue: ("查看审核队列", "view the review queue"),
        A.view_event_log: ("查看事件日志", "view the event log"),
        A.verify_registry: ("校验登记簿", "verify the registry"),
        A.public_lookup: ("公开查询", "public lookup"),
        A.manage_dev_projects: ("管理项目库项目", "manage library projects"),
        A.view_dev_projects: ("查看项目库", "view the project library"),
        A.view_library_stats: ("查看项目库统计", "view library statistics"),
        A.manage_rights_holders: ("管理权利人与地块", "manage rights holders and parcels"),
        A.view_rights_holders: ("查看权利人与授权", "view rights holders and authorizations"),
        A.record_authorization: ("登记授权", "record an authorization"),
        A.record_payout: ("登记收益分配", "record a revenue payout"),
        A.record_loss_event: ("登记损失事件", "record a loss event"),
    }
)

ACTION_LABELS = MappingProxyType(
    {
        **ACTION_LABELS,
        A.trade: ("交易", "trade"),
        A.list_for_sale: ("挂牌或竞价出让", "list tonnes for sale"),
        A.offer_storage: ("收储", "offer acquisition and storage"),
        A.record_cash: ("登记出入金", "record a deposit or withdrawal"),
        A.view_cash: ("查看资金", "view cash accounts"),
        A.operate_market: ("运营交易市场", "operate the market"),
        A.request_loan: ("申请质押贷款", "apply for a pledge loan"),
        A.manage_loans: ("管理质押贷款", "manage pledge loans"),
        A.view_finance_stats: ("查看金融统计", "view finance statistics"),
    }
)

_OWNERSHIP_TEXT = {
    "holder": (
        "只有持有人本人可以操作自己的序号段，且该序号段未被其他机构锁定。",
        "Only the holder may act on its own blocks, and only while no other organisation holds "
        "a lock on them.",
    ),
    "counterparty": (
        "只有锁定该序号段的机构（质押银行、冻结法院、受理抵消的主管部门）可以操作。",
        "Only the organisation holding the lock (the pledgee bank, the freezing court, the "
        "regulator the offset was sent to) may do this.",
    ),
    "lock": (
        "只有设置该锁定的一方可以解除：有锁定机构时为该机构，否则为持有人本人。",
        "Only whoever placed the lock may lift it: the locking organisation when there is one, "
        "else the holder itself.",
    ),
}


def _roles(role_or_roles: Role | str | Iterable[Role | str]) -> tuple[Role, ...]:
    if isinstance(role_or_roles, str):
        return (Role(role_or_roles),)
    return tuple(Role(r) for r in role_or_roles)


def roles_for(action: Action | str) -> tuple[Role, ...]:
    """The roles that may perform ``action``, in :class:`Role` order."""
    action = Action(action)
    return tuple(r for r in Role if action in ALLOWED[r])


def allowed(role_or_roles: Role | str | Iterable[Role | str], action: Action | str) -> bool:
    """Whether any of the roles may perform ``action`` (the role table only)."""
    action = Action(action)
    return any(action in ALLOWED[r] for r in _roles(role_or_roles))


def _labels(roles: Iterable[Role]) -> tuple[str, str]:
    roles = tuple(roles)
    return (
        "、".join(ROLE_LABELS[r][0] for r in roles),
        ", ".join(ROLE_LABELS[r][1] for r in roles),
    )


def require(role_or_roles: Role | str | Iterable[Role | str], action: Action | str) -> None:
    """Raise :class:`~tanhui.errors.PermissionDenied` unless one of the roles may do ``action``."""
    roles = _roles(role_or_roles)
    action = Action(action)
    if any(action in ALLOWED[r] for r in roles):
        return
    who_zh, who_en = _labels(roles)
    may = roles_for(action)
    may_zh, may_en = _labels(may)
    act_zh, act_en = ACTION_LABELS[action]
    raise PermissionDenied(
        f"{who_zh or '无角色'}无权{act_zh}。可以{act_zh}的是：{may_zh}。",
        f"The role(s) {who_en or '(none)'} may not {act_en}; roles that may: {may_en}.",
        action=action.value,
        roles=tuple(r.value for r in roles),
        allowed=tuple(r.value for r in may),
        hint_zh="请由具有相应角色的账户操作，或联系系统管理员分配角色。",
        hint_en="Act from an account with one of those roles, or ask an administrator for one.",
    )


def _owner_ok(
    rule: str,
    roles: tuple[Role, ...],
    action: Action,
    actor_org: Hashable | None,
    holder_org: Hashable | None,
    lock_org: Hashable | None,
) -> bool:
    if rule == "any":
        return True
    if actor_org is None:
        return False
    is_holder = actor_org == holder_org
    is_counterparty = lock_org is not None and actor_org == lock_org
    if rule == "holder":
        if is_holder and (lock_org is None or is_counterparty):
            return True
        return action is Action.transfer and is_counterparty and Role.market_operator in roles
    if rule == "counterparty":
        return is_counterparty
    # "lock": whoever placed the lock lifts it
    return is_counterparty if lock_org is not None else is_holder


def may_act_on(
    actor_org: Hashable | None,
    role: Role | str | Iterable[Role | str],
    action: Action | str,
    holder_org: Hashable | None = None,
    lock_counterparty_org: Hashable | None = None,
) -> bool:
    """Whether ``actor_org`` acting as ``role`` may do ``action`` to a block.

    ``holder_org`` is the block's holder; ``lock_counterparty_org`` the organisation of its
    current lock (the reserving market operator or pledgee bank for RESERVED, the bank for
    PLEDGED, the court for FROZEN, the regulator for PENDING_OFFSET) or ``None`` when the block
    is not locked or the holder locked it for itself. Combines the role table with the ownership
    rule of :data:`OWNERSHIP`; the block's *state* is checked separately by
    :func:`tanhui.registry.lifecycle.next_state`. Organisation ids are compared with ``==``.
    """
    action = Action(action)
    roles = _roles(role)
    if not allowed(roles, action):
        return False
    rule = OWNERSHIP.get(action, "any")
    return _owner_ok(rule, roles, action, actor_org, holder_org, lock_counterparty_org)


def require_on(
    actor_org: Hashable | None,
    role: Role | str | Iterable[Role | str],
    action: Action | str,
    holder_org: Hashable | None = None,
    lock_counterparty_org: Hashable | None = None,
) -> None:
    """:func:`may_act_on`, raising :class:`~tanhui.errors.PermissionDenied` with the rule."""
    require(role, action)
    action = Action(action)
    if may_act_on(actor_org, role, action, holder_org, lock_counterparty_org):
        return
    rule = OWNERSHIP.get(action, "any")
    rule_zh, rule_en = _OWNERSHIP_TEXT[rule]
    act_zh, act_en = ACTION_LABELS[action]
    who_zh = f"机构 {actor_org} " if actor_org is not None else "未登录用户"
    who_en = f"Organisation {actor_org}" if actor_org is not None else "An anonymous user"
    raise PermissionDenied(
        f"{who_zh}不能对该序号段{act_zh}。{rule_zh}",
        f"{who_en} may not “{act_en}” on these blocks. {rule_en}",
        action=action.value,
        roles=tuple(r.value for r in _roles(role)),
        allowed=tuple(r.value for r in roles_for(action)),
    )
