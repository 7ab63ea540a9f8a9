"""Registry endpoints under ``/api/v1``: projects, monitoring reports, the issuance workflow,
blocks (transfer, pledge, freeze, retire, export/import, reversal), the public lookup and
certificates, and the audit log.

Routes are thin: they validate the request (:mod:`tanhui.api.registry_schemas`), call one
:class:`~tanhui.registry.ledger.Ledger` method as the logged-in actor and return its answer as a
typed model. Roles, ownership and states are the ledger's to check; its refusals become
problem+json (403, 404, 409) through :mod:`tanhui.api.problems`.

Every state-changing ``POST`` takes an ``Idempotency-Key`` header, passed to the ledger: a repeat
with the same key (by the same user) returns the first answer and has no second effect.

The ledger has no reader for projects, issuance requests or the event log; the small read
functions at the end of this module fill that gap (read-only units of work, role checks through
:mod:`tanhui.registry.permissions`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import tempfile
from collections.abc import Callable
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import (
    APIRouter,
    Body,
    Depends,
    File,
    Form,
    Header,
    Path,
    Query,
    Request,
    Response,
    UploadFile,
    status,
)
from fastapi.responses import HTMLResponse
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Subquery, func, select
from sqlalchemy.exc import DataError, IntegrityError

from tanhui.api.deps import ActorDep, public_base_url
from tanhui.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, PageParams
from tanhui.api.problems import problem_responses
from tanhui.api.registry_schemas import (
    MAX_ID,
    BalanceOut,
    BlockOut,
    CertificateOut,
    EventOut,
    ExportIn,
    ExternalIssuanceIn,
    ExternalIssuanceOut,
    FreezeIn,
    FreezeOut,
    ImportIn,
    IssuanceIn,
    IssuanceOut,
    IssuanceStepOut,
    IssuanceSubmittedOut,
    LookupOut,
    MeasureResultIn,
    MonitoringReportOut,
    PledgeIn,
    PledgeOut,
    PledgeRequestedOut,
    ProjectIn,
    ProjectOut,
    RejectIn,
    RetireIn,
    RetirementOut,
    ReversalIn,
    ReversalOut,
    ReviewItemOut,
    TransferIn,
    UnfreezeOut,
    VerifyOut,
)
from tanhui.db.tables import Event, IssuanceRequest, Project, ProjectSubcompartment
from tanhui.db.uow import UnitOfWork
from tanhui.errors import ConflictError, InputError, NotFoundError, TanhuiError
from tanhui.registry.identity import Actor
from tanhui.registry.ledger import REGISTRY_ORGANISATION, Ledger
from tanhui.registry.lifecycle import BlockState
from tanhui.registry.permissions import Action, allowed, require

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["registry"])

_READ = problem_responses(401, 403, 404, 422)
_WRITE = problem_responses(401, 403, 404, 409, 422)
# with a request body: 400 when the body cannot be parsed at all (not JSON, broken multipart)
_BODY = problem_responses(400, 401, 403, 404, 409, 422)
_PUBLIC = problem_responses(404, 422)

# ------------------------------------------------------------------------------ dependencies

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description=(
            "幂等键：同一用户用同一键重复请求，只生效一次并返回首次的结果 / a repeat with the "
            "same key (same user) has one effect and returns the first answer"
        ),
    ),
]


def _id(what: str) -> Any:
    return Path(ge=1, le=MAX_ID, description=what)


ProjectId = Annotated[int, _id("项目 id / project id")]
ReportId = Annotated[int, _id("监测报告 id / monitoring report id")]
RequestId = Annotated[int, _id("签发申请 id / issuance request id")]
BlockId = Annotated[int, _id("序号段 id / block id")]
PledgeId = Annotated[int, _id("质押 id / pledge id")]
FreezeId = Annotated[int, _id("冻结 id / freeze id")]
CertificateNumber = Annotated[
    str,
    Path(
        pattern=r"^[Tt][Hh]-[0-9]{4}-[0-9]{1,12}$",
        description="注销证明编号 / certificate number",
        examples=["TH-2026-000001"],
    ),
]
CertificateLang = Annotated[
    Literal["zh", "en", "both"],
    Query(description="证明语言（默认中英双语）/ language of the certificate (default both)"),
]
MAX_OFFSET = 2**31 - 1


def page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="每页条数 / items per page")
    ] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="跳过条数 / items to skip")] = 0,
) -> PageParams:
    """:func:`tanhui.api.pagination.page_params` with a bounded offset (a 64-bit overflow in
    SQLite is a 500, not a 422)."""
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(page_params)]


def _ledger(request: Request) -> Ledger:
    return request.app.state.ledger


LedgerDep = Annotated[Ledger, Depends(_ledger)]


def _call(method: Callable[..., Any], actor: Any, **kwargs: Any) -> Any:
    """Call a ledger method; a constraint the database enforces but the ledger did not check
    first becomes a 409 (or a 422 for a value the column cannot hold) instead of a 500."""
    try:
        return method(actor, **kwargs)
    except IntegrityError as exc:
        log.warning("integrity error in %s: %s", getattr(method, "__name__", method), exc.orig)
        raise ConflictError(
            "请求与登记簿中已有的数据冲突（如引用了不存在的机构），未作任何更改。",
            "The request conflicts with the registry's data (e.g. it names an organisation "
            "that does not exist); nothing was changed.",
            hint_zh="检查请求中引用的 id 和编号。",
            hint_en="Check the ids and numbers the request refers to.",
        ) from None
    except DataError as exc:
        log.warning("data error in %s: %s", getattr(method, "__name__", method), exc.orig)
        raise InputError(
            "请求中的某个值超出允许范围，未作任何更改。",
            "A value in the request is out of range; nothing was changed.",
        ) from None


def _links(request: Request, number: str) -> dict[str, str]:
    base = public_base_url(request)
    api = f"{base}{router.prefix}/public/certificates/{number}"
    return {
        "certificate_url": api,
        "pdf_url": f"{api}.pdf",
        "html_url": f"{api}.html",
        "verification_url": f"{base}/verify/{number}",
    }


# ---------------------------------------------------------------------------------- projects


@router.post(
    "/projects",
    response_model=ProjectOut,
    status_code=status.HTTP_201_CREATED,
    summary="登记项目 / register a project",
    responses=_BODY,
)
def register_project(
    body: ProjectIn,
    actor: ActorDep,
    ledger: LedgerDep,
    idempotency_key: IdempotencyKey = None,
) -> ProjectOut:
    """Register a project with its sub-compartments; the registry assigns its 6-digit number.
    The owner is the caller's organisation unless ``owner_organisation_id`` names another."""
    done = _call(
        ledger.register_project,
        actor,
        scheme=body.scheme,
        region_code=body.region_code,
        name=body.name,
        methodology=body.methodology,
        crediting_start=body.crediting_start,
        crediting_end=body.crediting_end,
        owner_organisation_id=body.owner_organisation_id,
        subcompartments=[(s.id, s.area_ha) for s in body.subcompartments],
        idempotency_key=idempotency_key,
    )
    return read_project(ledger, done["id"])


@router.get(
    "/projects",
    response_model=Page[ProjectOut],
    summary="项目列表 / list projects",
    responses=_READ,
)
def list_projects(
    actor: ActorDep,
    ledger: LedgerDep,
    page: PageDep,
    request: Request,
    scheme: Annotated[
        str | None,
        Query(pattern=r"^[A-Z][A-Z0-9]{1,15}$", description="只列该机制 / only this scheme"),
    ] = None,
    owner_organisation_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="只列该业主 / only this owner's")
    ] = None,
) -> Page[ProjectOut]:
    items, total = read_projects(
        ledger, scheme=scheme, owner=owner_organisation_id, limit=page.limit, offset=page.offset
    )
    return Page[ProjectOut].build(items, total, page, request)


@router.get(
    "/projects/{project_id}",
    response_model=ProjectOut,
    summary="项目详情 / one project",
    responses=_READ,
)
def get_project(project_id: ProjectId, actor: ActorDep, ledger: LedgerDep) -> ProjectOut:
    return read_project(ledger, project_id)


# ------------------------------------------------------------------------ monitoring reports


@router.post(
    "/projects/{project_id}/reports",
    response_model=MonitoringReportOut,
    status_code=status.HTTP_201_CREATED,
    summary="提交监测报告 / submit a monitoring report",
    responses=_BODY,
)
def submit_report(
    project_id: ProjectId,
    result: Annotated[
        MeasureResultIn,
        Body(description="`tanhui measure … --format json` 的输出 / the measurement result"),
    ],
    period_start: Annotated[dt.date, Query(description="监测期起 / first day of the period")],
    period_end: Annotated[dt.date, Query(description="监测期止 / last day of the period")],
    actor: ActorDep,
    ledger: LedgerDep,
    idempotency_key: IdempotencyKey = None,
) -> MonitoringReportOut:
    """Attach a measurement result (the JSON of ``tanhui measure --format json``, as the body) to
    the project for a monitoring period. The issuable quantity is the total rounded down."""
    _check_period(period_start, period_end)
    done = _call(
        ledger.submit_monitoring_report,
        actor,
        project_id=project_id,
        period_start=period_start,
        period_end=period_end,
        result=result.model_dump(mode="json"),
        idempotency_key=idempotency_key,
    )
    return MonitoringReportOut.model_validate(done)


_LOOKUP: TypeAdapter[Any] = TypeAdapter(LookupOut)
_SUFFIXES = frozenset({".csv", ".txt", ".xlsx", ".xls", ".gpkg", ".parquet"})


@router.post(
    "/projects/{project_id}/reports/recompute",
    response_model=MonitoringReportOut,
    status_code=status.HTTP_201_CREATED,
    summary="提交监测报告并由登记簿重算 / submit a report; the registry recomputes it",
    responses=_BODY,
)
def submit_report_with_files(
    project_id: ProjectId,
    period_start: Annotated[dt.date, Form(description="监测期起 / first day of the period")],
    period_end: Annotated[dt.date, Form(description="监测期止 / last day of the period")],
    result: Annotated[UploadFile, File(description="计量结果 JSON / the result JSON")],
    current: Annotated[UploadFile, File(description="本期清查文件 / the inventory file")],
    actor: ActorDep,
    ledger: LedgerDep,
    baseline: Annotated[
        UploadFile | None, File(description="前期清查文件 / the earlier inventory")
    ] = None,
    params: Annotated[
        UploadFile | None, File(description="参数覆盖文件 / parameter overrides (CSV)")
    ] = None,
    encoding: Annotated[
        str | None,
        Form(pattern=r"^[A-Za-z0-9_-]{1,32}$", description="强制文本编码 / force an encoding"),
    ] = None,
    area_unit: Annotated[
        Literal["ha", "mu"] | None, Form(description="面积单位 / unit of a bare 面积 column")
    ] = None,
    idempotency_key: IdempotencyKey = None,
) -> MonitoringReportOut:
    """Like ``POST /projects/{id}/reports`` (multipart), with the inventory file(s) the result was
    measured from: the registry measures them again with the result's method and options and
    accepts the report only if the provenance matches (409 ``provenance_mismatch`` otherwise)."""
    _check_period(period_start, period_end)
    document = _read_result(result)
    method, options = _recompute_plan(document)
    read_options: dict[str, Any] = {}
    if encoding:
        read_options["encoding"] = encoding
    if area_unit:
        read_options["area_unit"] = area_unit
    with tempfile.TemporaryDirectory(prefix="tanhui-report-") as tmp:
        folder = FilePath(tmp)
        current_path = _save(current, folder, "current")
        baseline_path = _save(baseline, folder, "baseline") if baseline else None
        params_path = _save(params, folder, "params", {".csv"}) if params else None

        def recompute() -> Any:
            from tanhui.measure.service import measure_files

            try:
                return measure_files(
                    current_path,
                    baseline=baseline_path,
                    method=method,
                    options=options,
                    params_file=params_path,
                    read_options=read_options,
                    keep_columns=False,
                )
            except TanhuiError:
                raise
            except (ValueError, LookupError, OSError) as exc:  # unreadable upload
                raise InputError(
                    f"无法读取上传的清查文件：{exc}",
                    f"The uploaded inventory could not be read: {exc}",
                    field="current",
                ) from None

        done = _call(
            ledger.submit_monitoring_report,
            actor,
            project_id=project_id,
            period_start=period_start,
            period_end=period_end,
            result=document,
            recompute=recompute,
            idempotency_key=idempotency_key,
        )
    return MonitoringReportOut.model_validate(done)


def _check_period(start: dt.date, end: dt.date) -> None:
    if start > end:
        raise InputError(
            f"监测期起 {start} 晚于止 {end}。",
            f"The period starts ({start}) after it ends ({end}).",
            field="period_start",
        )


def _read_result(upload: UploadFile) -> dict[str, Any]:
    """The uploaded result JSON, validated like the JSON variant's body."""
    raw = upload.file.read(256 * 1024 * 1024 + 1)
    try:
        document = json.loads(raw.decode("utf-8-sig"))
        return MeasureResultIn.model_validate(document).model_dump(mode="json")
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValidationError):
        raise InputError(
            "result 不是 tanhui 计量结果 JSON（需含 total_tco2e 和 provenance）。",
            "result is not a tanhui measurement result JSON (with total_tco2e and provenance).",
            field="result",
            hint_zh="请上传 `tanhui measure … --format json --out 文件` 写出的文件。",
            hint_en="Upload the file written by `tanhui measure … --format json --out FILE`.",
        ) from None


def _recompute_plan(document: dict[str, Any]) -> tuple[str, Any]:
    """The method name and options recorded in a result's provenance."""
    from tanhui.measure.methods.base import MethodOptions

    provenance = document["provenance"]
    name = provenance.get("method", {}).get("name")
    options = provenance.get("options") or {}
    fields = ("year_from", "year_to", "reserve_share", "hwp_share", "baseline_growth_factor")
    numbers = TypeAdapter(dict[str, float | None])
    try:
        if not isinstance(name, str) or not isinstance(options, dict) or "growth" in options:
            raise ValueError
        values = numbers.validate_python({k: options[k] for k in fields if k in options})
    except (ValueError, ValidationError):
        raise InputError(
            "无法从结果的 provenance 得出计量方法和选项（增长预测结果不能重算）。",
            "The result's provenance does not give a method and options to recompute with "
            "(growth projections cannot be recomputed here).",
            field="result",
            hint_zh="请提交事后计量（两期清查）的结果，或改用只提交 JSON 的接口。",
            hint_en="Submit an ex-post result (two inventories), or use the JSON-only endpoint.",
        ) from None
    defaults = {"reserve_share": 0.0, "hwp_share": 0.0, "baseline_growth_factor": 1.0}
    kwargs = {k: (defaults[k] if v is None and k in defaults else v) for k, v in values.items()}
    return name, MethodOptions(**kwargs)


def _save(
    upload: UploadFile, folder: FilePath, stem: str, suffixes: frozenset[str] | set[str] = _SUFFIXES
) -> FilePath:
    """Save an upload under a safe name that keeps its file type (the readers go by suffix)."""
    suffix = FilePath(upload.filename or "").suffix.lower()
    if not re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) or suffix not in suffixes:
        raise InputError(
            f"不支持的文件类型 {suffix or '（无扩展名）'}：{stem}。",
            f"Unsupported file type {suffix or '(no extension)'} for {stem}.",
            field=stem,
            hint_zh="可上传：" + "、".join(sorted(suffixes)),
            hint_en="Upload one of: " + ", ".join(sorted(suffixes)),
        )
    path = folder / f"{stem}{suffix}"
    with path.open("wb") as out:
        while chunk := upload.file.read(1 << 20):
            out.write(chunk)
    return path


# ---------------------------------------------------------------------------------- issuance


@router.post(
    "/reports/{report_id}/issuance",
    response_model=IssuanceSubmittedOut,
    status_code=status.HTTP_201_CREATED,
    summary="提交签发申请 / submit an issuance request",
    responses=_BODY,
)
def submit_issuance(
    report_id: ReportId,
    actor: ActorDep,
    ledger: LedgerDep,
    body: IssuanceIn | None = None,
    idempotency_key: IdempotencyKey = None,
) -> IssuanceSubmittedOut:
    """Ask for issuance of (part of) a monitoring report's whole tonnes."""
    done = _call(
        ledger.submit_issuance,
        actor,
        report_id=report_id,
        quantity=body.quantity if body else None,
        idempotency_key=idempotency_key,
    )
    return IssuanceSubmittedOut.model_validate(done)


@router.get(
    "/issuance/queue",
    response_model=Page[ReviewItemOut],
    summary="我的审核队列 / my review queue",
    responses=_READ,
)
def review_queue(
    actor: ActorDep, ledger: LedgerDep, page: PageDep, request: Request
) -> Page[ReviewItemOut]:
    """Issuance requests waiting for a step the caller's roles take, oldest first."""
    items = ledger.review_queue(actor)
    chunk = items[page.offset : page.offset + page.limit]
    return Page[ReviewItemOut].build(
        [ReviewItemOut.model_validate(i) for i in chunk], len(items), page, request
    )


@router.get(
    "/issuance/{request_id}",
    response_model=IssuanceOut,
    summary="签发申请详情 / one issuance request",
    responses=_READ,
)
def get_issuance(request_id: RequestId, actor: ActorDep, ledger: LedgerDep) -> IssuanceOut:
    return read_issuance(ledger, actor, request_id)


_STEPS: dict[str, tuple[Action, str]] = {
    "verify": (Action.verify_issuance, "核证 / verify (third-party verifier)"),
    "approve": (Action.approve_issuance, "审定 / approve (forestry regulator)"),
    "file": (Action.file_issuance, "备案 / file (eco-environment regulator)"),
    "issue": (Action.issue, "制发 / issue (issuing body): creates the serial blocks"),
}


def _step_route(step: str, action: Action, summary: str) -> None:
    def review(
        request_id: RequestId,
        actor: ActorDep,
        ledger: LedgerDep,
        idempotency_key: IdempotencyKey = None,
    ) -> IssuanceStepOut:
        done = _call(
            ledger.review_issuance,
            actor,
            request_id=request_id,
            action=action,
            idempotency_key=idempotency_key,
        )
        return IssuanceStepOut.model_validate(done)

    review.__name__ = f"{step}_issuance"
    review.__doc__ = (
        f"One step of the issuance workflow: {summary}. Only the role that holds the request's "
        "current step may take it."
    )
    router.add_api_route(
        f"/issuance/{{request_id}}/{step}",
        review,
        methods=["POST"],
        response_model=IssuanceStepOut,
        summary=summary,
        responses=_WRITE,
    )


for _step, (_action, _summary) in _STEPS.items():
    _step_route(_step, _action, _summary)


@router.post(
    "/issuance/{request_id}/reject",
    response_model=IssuanceStepOut,
    summary="驳回签发申请 / reject an issuance request",
    responses=_BODY,
)
def reject_issuance(
    request_id: RequestId,
    body: RejectIn,
    actor: ActorDep,
    ledger: LedgerDep,
    idempotency_key: IdempotencyKey = None,
) -> IssuanceStepOut:
    """Reject with a reason, by the role that holds the request's current step."""
    done = _call(
        ledger.review_issuance,
        actor,
        request_id=request_id,
        action=Action.reject_issuance,
        reason=body.reason,
        idempotency_key=idempotency_key,
    )
    return IssuanceStepOut.model_validate(done)


@router.post(
    "/external-issuances",
    response_model=ExternalIssuanceOut,
    status_code=status.HTTP_201_CREATED,
    summary="登记外部签发 / record an issuance made by another registry",
    responses=_BODY,
)
def record_external_issuance(
    body: ExternalIssuanceIn,
    actor: ActorDep,
    ledger: LedgerDep,
    idempotency_key: IdempotencyKey = None,
) -> ExternalIssuanceOut:
    """Record land (sub-compartments × period) issued elsewhere (CCER, VCS …) so that it cannot
    be issued here again."""
    done = _call(
        ledger.record_external_issuance,
        actor,
        **body.model_dump(),
        idempotency_key=idempotency_key,
    )
    return ExternalIssuanceOut.model_validate(done)


# ------------------------------------------------------------------------------------ blocks


@router.get(
    "/holdings",
    response_model=Page[BlockOut],
    summary="持有的序号段 / blocks held",
    responses=_READ,
)
def holdings(
    actor: ActorDep,
    ledger: LedgerDep,
    page: PageDep,
    request: Request,
    organisation_id: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_ID,
            description="其他机构（需查看全部持有的角色）/ another organisation (roles that view "
            "all holdings)",
        ),
    ] = None,
    state: Annotated[
        list[BlockState] | None, Query(description="只列这些状态 / only these states")
    ] = None,
) -> Page[BlockOut]:
    """The caller's organisation's blocks (or another's, for roles that view all holdings)."""
    items, total = ledger.holdings(
        actor, organisation_id, states=state, limit=page.limit, offset=page.offset
    )
    return Page[BlockOut].build(
        [BlockOut.model_validate(b, from_attributes=True) for b in items], total, page, request
    )


@router.get(
    "/balance",
    response_model=BalanceOut,
    summary="余额 / balance",
    responses=_READ,
)
def balance(
    actor: ActorDep,
    ledger: LedgerDep,
    organisation_id: Annotated[
        int | None,
        Query(ge=1, le=MAX_ID, description="其他机构 / another organisation (view-all roles)"),
    ] = None,
) -> BalanceOut:
    """Tonnes held per state; ``balance`` = live tonnes, ``available`` = ACTIVE."""
    org = organisation_id if organisation_id is not None else actor.organisation_id
    _require_view_holdings(actor, org)
    if org is None:
        return BalanceOut(organisation_id=None, balance=0, available=0, by_state={})
    totals = ledger.balance(org)
    by_state = {BlockState(k): v for k, v in totals.items() if k in BlockState.__members__}
    return BalanceOut(
        organisation_id=org,
        balance=totals["balance"],
        available=totals["available"],
        by_state=by_state,
    )


@router.post(
    "/blocks/{block_id}/transfer",
    response_model=BlockOut,
    summary="转让 / transfer",
    responses=_BODY,
)
def transfer(
    block_id: BlockId,
    body: TransferIn,
    actor: ActorDep,
    ledger: LedgerDep,
    idempotency_key: IdempotencyKey = None,
) -> BlockOut:
    """Move ``quantity`` tonnes (the block's last serials) to another holding account; returns
    the block now in that account."""
    done = _call(
        ledger.transfer,
        actor,
        block_id=block_id,
        quantity=body.quantity,
        to_account=body.to_account,
        idempotency_key=idempotency_key,
    )
    return BlockOut.model_validate(done)


@router.post(
    "/blocks/{block_id}/pledge",
    response_model=PledgeRequestedOut,
    status_code=status.HTTP_201_CREATED,
    summary="申请质押 / request a pledge",
    responses=_BODY,
)
def request_pledge(
    block_id: BlockId,
    body: PledgeIn,
    actor: ActorDep,
    ledger: LedgerDep,
    idempotency_key: IdempotencyKey = None,
) -> PledgeRequestedOut:
    """Offer tonnes as collateral to a bank: they are reserved for it until it confirms."""
    done = _call(
        ledger.request_pledge,
        actor,
        block_id=block_id,
        **body.model_dump(),
        idempotency_key=idempotency_key,
    )
    return PledgeRequestedOut.model_validate(done)


_PLEDGE_STEPS = {
    "confirm": ("confirm_pledge", "确认质押 / confirm a pledge (the bank)"),
    "release": ("release_pledge", "解押 / release a pledge (the bank)"),
    "enforce": ("enforce_pledge", "处置质押物 / enforce a pledge (the bank)"),
}


def _pledge_route(step: str, method: str, summary: str) -> None:
    def pledge_step(
        pledge_id: PledgeId,
        actor: ActorDep,
        ledger: LedgerDep,
        idempotency_key: IdempotencyKey = None,
    ) -> PledgeOut:
        done = _call(
            getattr(ledger, method), actor, pledge_id=pledge_id, idempotency_key=idempotency_key
        )
        return PledgeOut.model_validate(done)

    pledge_step.__name__ = method
    pledge_step.__doc__ = f"{summary}. Only the pledgee bank may do this."
    router.add_api_route(
        f"/pledges/{{pledge_id}}/{step}",
        pledge_step,
        methods=["POST"],
        response_model=PledgeOut,
        summary=summary,
        responses=_WRITE,
    )


for _step, (_method, _summary) in _PLEDGE_STEPS.items():
    _pledge_route(_step, _method, _summary)


@router.post(
    "/blocks/{block_id}/freeze",
    response_model=FreezeOut,
    status_code=status.HTTP_201_CREATED,
    summary="司法冻结 / freeze (court)",
    responses=_BODY,
)
def freeze(
    block_id: BlockId,
    body: FreezeIn,
    actor: ActorDep,
    ledger: LedgerDep,
    idempotency_key: IdempotencyKey = None,
) -> FreezeOut:
    """A court freezes tonnes (司法冻结); only that court unfreezes them."""
    done = _call(
        ledger.freeze,
        actor,
        block_id=block_id,
        **body.model_dump(),
        idempotency_key=idempotency_key,
    )
    return FreezeOut.model_validate(done)


@router.post(
    "/freezes/{freeze_id}/unfreeze",
    response_model=UnfreezeOut,
    summary="解除冻结 / unfreeze (the freezing court)",
    responses=_WRITE,
)
def unfreeze(
    freeze_id: FreezeId,
    actor: ActorDep,
    ledger: LedgerDep,
    idempotency_key: IdempotencyKey = None,
) -> UnfreezeOut:
    done = _call(ledger.unfreeze, actor, freeze_id=freeze_id, idempotency_key=idempotency_key)
    return UnfreezeOut.model_validate(done)


@router.post(
    "/blocks/{block_id}/retire",
    response_model=RetirementOut,
    status_code=status.HTTP_201_CREATED,
    summary="注销 / retire",
    responses=_BODY,
)
def retire(
    block_id: BlockId,
    body: RetireIn,
    actor: ActorDep,
    ledger: LedgerDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> RetirementOut:
    """Retire tonnes for good (注销) for a beneficiary and purpose; returns the certificate number
    and where to get the certificate."""
    done = _call(
        ledger.retire,
        actor,
        block_id=block_id,
        **body.model_dump(),
        idempotency_key=idempotency_key,
    )
    return RetirementOut.model_validate({**done, **_links(request, done["certificate_number"])})


@router.post(
    "/blocks/{block_id}/export",
    response_model=BlockOut,
    summary="转出至其他登记系统 / export to another registry",
    responses=_BODY,
)
def export_blocks(
    block_id: BlockId,
    body: ExportIn,
    actor: ActorDep,
    ledger: LedgerDep,
    idempotency_key: IdempotencyKey = None,
) -> BlockOut:
    """The tonnes stay recorded here as EXPORTED (not live)."""
    done = _call(
        ledger.export_blocks,
        actor,
        block_id=block_id,
        **body.model_dump(),
        idempotency_key=idempotency_key,
    )
    return BlockOut.model_validate(done)


@router.post(
    "/imports",
    response_model=BlockOut,
    summary="从其他登记系统转入 / import exported tonnes back",
    responses=_BODY,
)
def import_blocks(
    body: ImportIn,
    actor: ActorDep,
    ledger: LedgerDep,
    idempotency_key: IdempotencyKey = None,
) -> BlockOut:
    """The exact EXPORTED block named by ``serial`` becomes ACTIVE again in ``to_account``."""
    done = _call(ledger.import_blocks, actor, **body.model_dump(), idempotency_key=idempotency_key)
    return BlockOut.model_validate(done)


@router.post(
    "/projects/{project_id}/reversals",
    response_model=ReversalOut,
    summary="逆转作废 / cancel tonnes after a reversal",
    responses=_BODY,
)
def cancel_reversal(
    project_id: ProjectId,
    body: ReversalIn,
    actor: ActorDep,
    ledger: LedgerDep,
    idempotency_key: IdempotencyKey = None,
) -> ReversalOut:
    """Cancel tonnes after a fire, pests or illegal logging: the buffer first, then the owner's
    active blocks; all or nothing."""
    done = _call(
        ledger.cancel_reversal,
        actor,
        project_id=project_id,
        **body.model_dump(),
        idempotency_key=idempotency_key,
    )
    return ReversalOut.model_validate(done)


# ------------------------------------------------------------------------------------ public


@router.get(
    "/public/lookup",
    response_model=LookupOut,
    summary="公开查询（序号或证明编号）/ public lookup by serial or certificate number",
    responses=_PUBLIC,
)
def lookup(
    ledger: LedgerDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=200,
            pattern=r"^[^\x00-\x1f\x7f]+$",
            description="序号、序号段或注销证明编号 / a serial, a serial range or a certificate "
            "number",
            examples=["TH-2026-000001"],
        ),
    ],
) -> Any:
    """Where a tonne is and what happened to it, or what a certificate says. No login."""
    return _LOOKUP.validate_python(ledger.lookup(q))


@router.get(
    "/public/certificates/{number}.pdf",
    response_class=Response,
    summary="注销证明（PDF）/ retirement certificate (PDF)",
    responses={
        200: {
            "description": "PDF",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        },
        **_PUBLIC,
    },
)
def certificate_pdf(
    number: CertificateNumber,
    ledger: LedgerDep,
    request: Request,
    lang: CertificateLang = "both",
) -> Response:
    from tanhui.registry.certificates import render_pdf

    pdf = render_pdf(_certificate_data(ledger, request, number), lang)
    number = number.upper()
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{number}.pdf"'},
    )


@router.get(
    "/public/certificates/{number}.html",
    response_class=HTMLResponse,
    summary="注销证明（HTML）/ retirement certificate (HTML)",
    responses={200: {"description": "HTML", "content": {"text/html": {}}}, **_PUBLIC},
)
def certificate_html(
    number: CertificateNumber,
    ledger: LedgerDep,
    request: Request,
    lang: CertificateLang = "both",
) -> HTMLResponse:
    from tanhui.registry.certificates import render_html

    return HTMLResponse(render_html(_certificate_data(ledger, request, number), lang))


@router.get(
    "/public/certificates/{number}",
    response_model=CertificateOut,
    summary="注销证明（JSON）/ retirement certificate (JSON)",
    responses=_PUBLIC,
)
def certificate(number: CertificateNumber, ledger: LedgerDep, request: Request) -> CertificateOut:
    record = _certificate_record(ledger, number)
    links = _links(request, record["certificate_number"])
    data = _certificate_from(request, record)
    return CertificateOut.model_validate(
        {
            **record,
            "monitoring_period": data.monitoring_period,
            "verification_url": links["verification_url"],
            "pdf_url": links["pdf_url"],
            "html_url": links["html_url"],
        }
    )


def _certificate_record(ledger: Ledger, number: str) -> dict[str, Any]:
    record = ledger.certificate(number)
    if record.get("kind") != "certificate":  # the path pattern already rules this out
        raise NotFoundError(
            f"找不到注销证明 {number}。", f"No certificate {number}.", kind="certificate"
        )
    return record


def _certificate_data(ledger: Ledger, request: Request, number: str) -> Any:
    return _certificate_from(request, _certificate_record(ledger, number))


def _certificate_from(request: Request, record: dict[str, Any]) -> Any:
    from tanhui.registry.certificates import from_record

    url = _links(request, record["certificate_number"])["verification_url"]
    return from_record(record, verification_url=url, registry_name=REGISTRY_ORGANISATION)


# ------------------------------------------------------------------------------------- audit


@router.get(
    "/events",
    response_model=Page[EventOut],
    summary="事件日志 / the event log",
    responses=_READ,
)
def list_events(
    actor: ActorDep,
    ledger: LedgerDep,
    page: PageDep,
    request: Request,
    type: Annotated[
        str | None,
        Query(pattern=r"^[a-z0-9_]{1,64}$", description="只列该类型 / only this event type"),
    ] = None,
) -> Page[EventOut]:
    """The append-only, hash-chained log, oldest first (roles that view the event log)."""
    items, total = read_events(ledger, actor, type_=type, limit=page.limit, offset=page.offset)
    return Page[EventOut].build(items, total, page, request)


@router.post(
    "/registry/verify",
    response_model=VerifyOut,
    summary="校验登记簿 / verify the registry",
    responses=problem_responses(401, 403),
)
def verify_registry(actor: ActorDep, ledger: LedgerDep) -> VerifyOut:
    """Replay the event log from empty, check its hash chain, compare with the tables and check
    the conservation invariants. ``ok`` is true when no problem was found."""
    require(actor.roles, Action.verify_registry)
    problems = ledger.verify()
    return VerifyOut(ok=not problems, problems=problems)


# ------------------------------------------------------ readers the ledger does not have (yet)


def _require_view_holdings(actor: Actor, org: int | None) -> None:
    """The rule of :meth:`Ledger.holdings`: one's own with ``view_own_holdings``, any other
    organisation's with ``view_all_holdings``. (:meth:`Ledger.balance` takes no actor.)"""
    own = org is not None and org == actor.organisation_id
    require(
        actor.roles,
        Action.view_own_holdings
        if own and allowed(actor.roles, Action.view_own_holdings)
        else Action.view_all_holdings,
    )


def _project_out(project: Project, subcompartments: int) -> ProjectOut:
    return ProjectOut.model_validate(
        {
            **{c: getattr(project, c) for c in ProjectOut.model_fields if c != "subcompartments"},
            "subcompartments": subcompartments,
        }
    )


def _subcompartment_counts() -> Subquery:
    return (
        select(
            ProjectSubcompartment.project_id.label("project_id"),
            func.count(ProjectSubcompartment.id).label("n"),
        )
        .group_by(ProjectSubcompartment.project_id)
        .subquery()
    )


def read_project(ledger: Ledger, project_id: int) -> ProjectOut:
    """One project (any logged-in user may read the project register)."""
    with UnitOfWork(ledger.engine, read_only=True) as uow:
        project = uow.session.get(Project, project_id)
        if project is None:
            raise NotFoundError(
                f"找不到项目 {project_id}。", f"No project {project_id}.", kind="project"
            )
        n = uow.session.scalar(
            select(func.count(ProjectSubcompartment.id)).where(
                ProjectSubcompartment.project_id == project_id
            )
        )
        return _project_out(project, int(n or 0))


def read_projects(
    ledger: Ledger, *, scheme: str | None, owner: int | None, limit: int, offset: int
) -> tuple[list[ProjectOut], int]:
    """A page of the project register, by project number."""
    counts = _subcompartment_counts()
    query = select(Project, func.coalesce(counts.c.n, 0)).outerjoin(
        counts, counts.c.project_id == Project.id
    )
    if scheme is not None:
        query = query.where(Project.scheme == scheme)
    if owner is not None:
        query = query.where(Project.owner_organisation_id == owner)
    with UnitOfWork(ledger.engine, read_only=True) as uow:
        total = uow.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = uow.session.execute(
            query.order_by(Project.project_number).limit(limit).offset(offset)
        )
        return [_project_out(p, int(n)) for p, n in rows], int(total)


def read_issuance(ledger: Ledger, actor: Actor, request_id: int) -> IssuanceOut:
    """An issuance request, for its project's owner and for the roles that review or audit."""
    with UnitOfWork(ledger.engine, read_only=True) as uow:
        item = uow.session.get(IssuanceRequest, request_id)
        if item is None:
            raise NotFoundError(
                f"找不到签发申请 {request_id}。",
                f"No issuance request {request_id}.",
                kind="issuance request",
            )
        project = uow.session.get(Project, item.project_id)
        own = project is not None and project.owner_organisation_id == actor.organisation_id
        if not (own or allowed(actor.roles, Action.view_event_log)):
            require(actor.roles, Action.view_review_queue)
        return IssuanceOut.model_validate(item)


def read_events(
    ledger: Ledger, actor: Actor, *, type_: str | None, limit: int, offset: int
) -> tuple[list[EventOut], int]:
    """A page of the event log, by sequence (roles with ``view_event_log``)."""
    require(actor.roles, Action.view_event_log)
    query = select(Event)
    if type_ is not None:
        query = query.where(Event.type == type_)
    with UnitOfWork(ledger.engine, read_only=True) as uow:
        total = uow.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = uow.session.scalars(query.order_by(Event.sequence).limit(limit).offset(offset))
        return [EventOut.model_validate(e) for e in rows], int(total)
