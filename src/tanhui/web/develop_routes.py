"""The development pages (开发): screening, feasibility, the project library, rights holders and
their authorizations, and loss events. Mounted by :func:`tanhui.web.routes.mount`; every
convention of :mod:`tanhui.web.routes` holds (services only, cookie session, CSRF, HTMX result
slots, errors as messages in place, zh/en, the Content-Security-Policy).

===============================================  ========  ======================================
route                                            who       what
===============================================  ========  ======================================
``GET /develop/screening``                       users     upload form (file, scheme, options)
``POST /develop/screening``                      users     HTMX: reasons, totals by village …
``GET /develop/screening/{id}``                  uploader  the result again (kept an hour)
``GET /develop/screening/{id}/rows.{csv|xlsx}``  uploader  downloads
``GET /develop/feasibility?project=``            users     upload form (file, options)
``POST /develop/feasibility``                    users     HTMX: cards, scenarios, sensitivity,
                                                           risk, charts
``GET /develop/feasibility/{id}``                uploader  the result again
``GET /develop/feasibility/{id}/report``         uploader  the standalone HTML report
``GET /develop/feasibility/{id}/report.{pdf|xlsx}``        downloads
``GET /develop/projects?stage=``                 library   list, county statistics and reserve
``GET /develop/projects/{id}``                   library   stages, history, documents, consent
                                                           gap, payouts, losses
``POST /develop/projects/{id}/{advance|move|withdraw}``    HTMX: the stage panel again
``POST /develop/projects/{id}/documents``        owners    HTMX: upload a scan
``GET /develop/documents/{id}``                  library   download a scan
``GET /develop/holders?village=&project=``       pooling   holders of a village, authorizations
``POST /develop/authorizations``                 pooling   HTMX: record one, with its scan
``GET /develop/losses?project=``                 library   loss events of a project
``POST /develop/losses``                         owners    HTMX: record a loss event
``POST /develop/losses/{id}/reverse``            regulator HTMX: reverse it in the registry
===============================================  ========  ======================================

Uploads go through :func:`tanhui.api.routers.develop.save_upload` into a temporary directory that
is removed when the request ends; results are kept in the API's
:class:`~tanhui.api.routers.develop.ResultStore`, so the page, the API and the downloads share
them. Long operations show an ``hx-indicator`` while they run.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tanhui.api.routers import develop as api
from tanhui.errors import TanhuiError
from tanhui.i18n import Lang, pick
from tanhui.registry.permissions import Action
from tanhui.web.i18n import MESSAGES
from tanhui.web.routes import (
    MAX_INT,
    CsrfDep,
    PageRoute,
    Result,
    UserDep,
    Web,
    _input_error,
    _positive_int,
    _required,
    error_result,
)

__all__ = ["router"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ResultId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
PathId = Annotated[int, Path(ge=1, le=MAX_INT)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_INT)]
FormStr = Annotated[str, Form()]
OptionalFile = Annotated[UploadFile | None, File()]
#: Villages shown in the breakdown tables before "all".
TOP_ROWS = 15
PROJECT_LIST_LIMIT = 500


# ---------------------------------------------------------------------------- form values


def _text(value: str, max_len: int = 300) -> str:
    return value.strip()[:max_len]


def _int(
    value: str, field_key: str, *, low: int = 0, high: int = MAX_INT, default: int | None = None
) -> int | None:
    text = value.strip().replace(",", "").replace("，", "")
    if not text:
        return default
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise _input_error("bad_range", field_key, value=value, low=low, high=high)
    return int(text)


def _number(
    value: str, field_key: str, *, low: float, high: float, default: float | None = None
) -> float | None:
    text = value.strip().replace(",", "").replace("，", "").rstrip("%％")
    if not text:
        return default
    try:
        number = float(text)
    except ValueError:
        raise _input_error("bad_range", field_key, value=value, low=low, high=high) from None
    if not math.isfinite(number) or not low <= number <= high:
        raise _input_error("bad_range", field_key, value=value, low=low, high=high)
    return number


def _date(value: str, field_key: str, *, required: bool = False) -> dt.date | None:
    text = value.strip()
    if not text:
        if required:
            raise _input_error("missing_field", field_key)
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise _input_error("bad_date", field_key, value=value) from None
    if not api.DAY_MIN <= day <= api.DAY_MAX:
        raise _input_error("bad_date", field_key, value=value)
    return day


def _percent_to_bp(value: str, field_key: str) -> int | None:
    """A share in percent (at most two decimals) as basis points."""
    text = value.strip().rstrip("%％")
    if not text:
        return None
    try:
        amount = decimal.Decimal(text)
    except decimal.InvalidOperation:
        raise _input_error("bad_range", field_key, value=value, low=0, high=100) from None
    if not amount.is_finite() or not 0 <= amount <= 100:
        raise _input_error("bad_range", field_key, value=value, low=0, high=100)
    bp = amount * 100
    if bp != bp.to_integral_value():
        raise _input_error("bad_range", field_key, value=value, low=0, high=100)
    return int(bp)


def _has_file(upload: UploadFile | None) -> bool:
    return upload is not None and bool(upload.filename)


def _problems(exc: TanhuiError, lang: Lang) -> list[dict[str, Any]]:
    """The problem list of a rejected file (row, column, value, reason), at most 200."""
    problems = getattr(exc, "problems", None) or []
    return [p.to_dict(lang) for p in problems[:200]]


def _attempt(web: Web, slot: str, work: Callable[[], Result]) -> tuple[Result, list[dict]]:
    """Run ``work``; a service's refusal becomes the message of ``slot`` (with its problems)."""
    try:
        result = work()
    except TanhuiError as exc:
        return error_result(exc, web.lang, slot), _problems(exc, web.lang)
    result.slot = slot
    return result, []


def _fragment_or_page(
    web: Web,
    result: Result,
    *,
    page: Callable[[], HTMLResponse],
    fragment: str,
    values: Callable[[], dict[str, Any]],
    error_target: str | None = None,
    trigger: str | None = None,
    push_url: str | None = None,
    problems: list[dict[str, Any]] | None = None,
) -> Response:
    """The answer to a form: for htmx the fragment (or, on failure with ``error_target``, the
    message retargeted there); otherwise the whole page with the result in its slot."""
    if not web.htmx:
        return page()
    headers: dict[str, str] = {}
    if result.ok:
        if trigger:
            headers["HX-Trigger"] = trigger
        if push_url:
            headers["HX-Push-Url"] = push_url
        return web.render(fragment, headers=headers, result=result, **values())
    if error_target:
        headers["HX-Retarget"] = error_target
        headers["HX-Reswap"] = "innerHTML"
    return web.render(
        "_develop_message.html",
        status=result.status,
        headers=headers,
        result=result,
        problems=problems or [],
    )


def _svc(web: Web) -> api.Services:
    return api.services(web.request.app)


def _store(web: Web) -> api.ResultStore:
    return api.results_of(web.request.app)


def _stage_label(stage: str, lang: Lang) -> str:
    from tanhui.develop.lifecycle import STAGE_LABELS, Stage

    try:
        return pick(*STAGE_LABELS[Stage(stage)], lang)
    except ValueError:
        return stage


def _stages(lang: Lang) -> list[tuple[str, str]]:
    from tanhui.develop.lifecycle import Stage

    return [(s.value, _stage_label(s.value, lang)) for s in Stage]


def _svg_uri(svg: Any) -> str | None:
    """An SVG chart as a ``data:`` URI for ``<img>`` (the pages' CSP forbids inline styles, which
    the charts carry; an image document is not subject to it)."""
    if not svg:
        return None
    return "data:image/svg+xml;base64," + base64.b64encode(str(svg).encode("utf-8")).decode()


def _visible_projects(web: Web, *, open_only: bool = False) -> list[Any]:
    from tanhui.develop.lifecycle import OPEN, Stage

    if not web.user.may(Action.view_dev_projects):
        return []
    items, _ = _svc(web).library.list_projects(web.user, limit=PROJECT_LIST_LIMIT)
    if open_only:
        items = [p for p in items if Stage(p.stage) in OPEN]
    return items


def _download(content: bytes, media_type: str, filename: str, fallback: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": api.attachment(filename, fallback)},
    )


# ---------------------------------------------------------------------------- screening


def _schemes(web: Web) -> list[dict[str, Any]]:
    from tanhui.develop.screening_service import list_schemes

    return list_schemes(web.lang)


def _screening_context(web: Web, token: str, report: Any) -> dict[str, Any]:
    summary = report.summary(web.lang)
    villages = list(summary["by_village"].items())
    return {
        "token": token,
        "s": summary,
        "totals": summary["totals"],
        "reasons": [r for r in summary["reasons"] if r["rows"] or not r["checked"]],
        "villages": villages,
        "top_villages": villages[:TOP_ROWS],
        "species": list(summary["by_species_group"].items()),
        "expires": _store(web).expiry(token),
    }


def _screening_page(web: Web, *, status: int = 200, **values: Any) -> HTMLResponse:
    defaults: dict[str, Any] = {
        "schemes": _schemes(web),
        "report": None,
        "form": {},
        "problems": [],
        "current_year": dt.date.today().year,
    }
    return web.render("develop_screening.html", status=status, **{**defaults, **values})


@router.get("/develop/screening")
def screening_page(web: UserDep) -> Response:
    return _screening_page(web)


@router.get("/develop/screening/{token}")
def screening_result_page(web: UserDep, token: ResultId) -> Response:
    report = _store(web).get("screening", web.user, token)
    return _screening_page(web, report=_screening_context(web, token, report))


@router.post("/develop/screening")
def screen(
    web: UserDep,
    _csrf: CsrfDep,
    file: OptionalFile = None,
    scheme: FormStr = "smcer",
    start_year: FormStr = "",
    crediting_years: FormStr = "",
    growth_family: FormStr = "",
    check_registry: FormStr = "",
    encoding: FormStr = "",
    area_unit: FormStr = "",
) -> Response:
    form = {
        "scheme": scheme,
        "start_year": start_year,
        "crediting_years": crediting_years,
        "growth_family": growth_family,
        "check_registry": bool(check_registry),
        "encoding": encoding,
        "area_unit": area_unit,
    }
    holder: dict[str, Any] = {}

    def work() -> Result:
        if not _has_file(file):
            raise _input_error("missing_field", "inventory_file")
        assert file is not None
        if scheme not in {s["scheme"] for s in _schemes(web)}:
            raise _input_error("bad_choice", "scheme_label")
        options = api.read_options_of(
            encoding.strip() or None,
            area_unit if area_unit in ("ha", "mu") else None,
            None,
        )
        with api.upload_folder() as folder:
            path = api.save_upload(
                file, folder, "file", api.INVENTORY_SUFFIXES, api.MAX_INVENTORY_BYTES
            )
            report = api.screen_upload(
                web.ledger,
                path,
                scheme=scheme,
                start_year=_int(start_year, "start_year", low=1900, high=2199),
                crediting_years=_int(crediting_years, "crediting_years", low=1, high=100),
                growth_family=growth_family
                if growth_family in ("richards", "schumacher")
                else None,
                check_registry=bool(check_registry),
                read_options=options,
            )
        token, _ = _store(web).put("screening", web.user, report)
        holder["context"] = _screening_context(web, token, report)
        totals = report.totals()
        return Result(
            True,
            web.t(
                "screening_done",
                rows=f"{totals['rows']:,}",
                eligible=f"{totals['eligible_rows']:,}",
            ),
        )

    result, problems = _attempt(web, "screening", work)
    context = holder.get("context")
    return _fragment_or_page(
        web,
        result,
        page=lambda: _screening_page(
            web,
            status=result.status,
            result=result,
            report=context,
            form=form,
            problems=problems,
        ),
        fragment="_develop_screening_result.html",
        values=lambda: {"report": context},
        push_url=f"/develop/screening/{context['token']}" if context else None,
        problems=problems,
    )


@router.get("/develop/screening/{token}/rows.csv")
def screening_csv(web: UserDep, token: ResultId) -> Response:
    report = _store(web).get("screening", web.user, token)
    return _download(
        api.screening_csv(report, web.lang),
        "text/csv; charset=utf-8",
        f"{web.t('screening_file')}-{token[:8]}.csv",
        f"screening-{token[:8]}.csv",
    )


@router.get("/develop/screening/{token}/rows.xlsx")
def screening_xlsx(web: UserDep, token: ResultId) -> Response:
    report = _store(web).get("screening", web.user, token)
    return _download(
        api.screening_xlsx(report, web.lang),
        api.XLSX_TYPE,
        f"{web.t('screening_file')}-{token[:8]}.xlsx",
        f"screening-{token[:8]}.xlsx",
    )


# ---------------------------------------------------------------------------- feasibility


def _feasibility_context(web: Web, token: str, study: Any) -> dict[str, Any]:
    from tanhui.develop.report import report_context

    ctx = report_context(study, web.lang)
    charts = {name: _svg_uri(svg) for name, svg in ctx["charts"].items()}
    return {
        "token": token,
        "name": study.name,
        "ctx": ctx,
        "h": ctx["headline"],
        "charts": charts,
        "chart_titles": {
            "tonnes": pick("累计碳汇量", "Cumulative tonnes", web.lang),
            "cash": pick("逐年净现金流", "Net cash flow by year", web.lang),
            "npv": pick("净现值分布", "Distribution of NPV", web.lang),
            "stock": pick("碳储量增量 P10/P50/P90", "Carbon gain P10/P50/P90", web.lang),
            "map": pick("小班合格情况", "Eligibility of sub-compartments", web.lang),
        },
        "expires": _store(web).expiry(token),
    }


def _feasibility_page(web: Web, *, status: int = 200, **values: Any) -> HTMLResponse:
    projects = _visible_projects(web)
    defaults: dict[str, Any] = {
        "schemes": _schemes(web),
        "projects": projects,
        "study": None,
        "form": {},
        "problems": [],
        "current_year": dt.date.today().year,
    }
    return web.render("develop_feasibility.html", status=status, **{**defaults, **values})


@router.get("/develop/feasibility")
def feasibility_page(web: UserDep, project: IdQuery = None) -> Response:
    form: dict[str, Any] = {}
    if project is not None:
        view = _svc(web).library.get_project(web.user, project)
        form = {"project_id": view.id, "name": view.name, "scheme": _rule_scheme(view)}
    return _feasibility_page(web, form=form)


def _rule_scheme(view: Any) -> str:
    """The screening rule set that fits a library project (its methodology, else by scheme)."""
    from tanhui.develop.rules import scheme_names

    names = scheme_names()
    if view.methodology in names:
        return view.methodology
    return {"GZCT": "guizhou-ticket", "CCER": "forest-management"}.get(view.scheme, "smcer")


@router.get("/develop/feasibility/{token}")
def feasibility_result_page(web: UserDep, token: ResultId) -> Response:
    study = _store(web).get("study", web.user, token)
    return _feasibility_page(web, study=_feasibility_context(web, token, study))


@router.post("/develop/feasibility")
def feasibility(
    web: UserDep,
    _csrf: CsrfDep,
    file: OptionalFile = None,
    costs: OptionalFile = None,
    scheme: FormStr = "smcer",
    name: FormStr = "",
    project_id: FormStr = "",
    villages: FormStr = "",
    start_year: FormStr = "",
    crediting_years: FormStr = "",
    discount_rate: FormStr = "8",
    buffer_share: FormStr = "0",
    price_low: FormStr = "",
    price_base: FormStr = "",
    price_high: FormStr = "",
    paths: FormStr = "10000",
    seed: FormStr = "0",
    check_registry: FormStr = "",
) -> Response:
    form = {
        "scheme": scheme,
        "name": name,
        "project_id": project_id,
        "villages": villages,
        "start_year": start_year,
        "crediting_years": crediting_years,
        "discount_rate": discount_rate,
        "buffer_share": buffer_share,
        "price_low": price_low,
        "price_base": price_base,
        "price_high": price_high,
        "paths": paths,
        "seed": seed,
        "check_registry": bool(check_registry),
    }
    holder: dict[str, Any] = {}

    def work() -> Result:
        if not _has_file(file):
            raise _input_error("missing_field", "inventory_file")
        assert file is not None
        if scheme not in {s["scheme"] for s in _schemes(web)}:
            raise _input_error("bad_choice", "scheme_label")
        prices = tuple(
            f"{key}={value.strip()}"
            for key, value in (("low", price_low), ("base", price_base), ("high", price_high))
            if value.strip()
        )
        for value in prices:
            _number(value.partition("=")[2], f"price_{value.partition('=')[0]}", low=0, high=1e6)
        options = api.StudyOptions(
            scheme=scheme,
            name=_text(name) or None,
            project_id=_int(project_id, "project", low=1),
            villages=tuple(v.strip() for v in villages.replace("，", ",").split(",") if v.strip()),
            start_year=_int(start_year, "start_year", low=1900, high=2199),
            crediting_years=_int(crediting_years, "crediting_years", low=1, high=100),
            prices=prices,
            discount_rate=(
                _number(discount_rate, "discount_rate", low=0, high=100, default=8.0) or 0.0
            )
            / 100,
            buffer_share=(_number(buffer_share, "buffer_share", low=0, high=99) or 0.0) / 100,
            paths=_int(paths, "paths", low=0, high=api.MAX_PATHS, default=10_000) or 0,
            seed=_int(seed, "seed", low=0, high=2**32 - 1, default=0) or 0,
            with_map=True,
            check_registry=bool(check_registry),
        )
        with api.upload_folder() as folder:
            path = api.save_upload(
                file, folder, "file", api.INVENTORY_SUFFIXES, api.MAX_INVENTORY_BYTES
            )
            costs_path = (
                api.save_upload(costs, folder, "costs", {".toml", ".csv"}, api.MAX_SIDE_FILE_BYTES)
                if _has_file(costs) and costs is not None
                else None
            )
            study = api.study_upload(
                _svc(web),
                web.user,
                path,
                options,
                costs_path=costs_path,
                default_name=web.t("candidate_project"),
            )
        token, _ = _store(web).put("study", web.user, study)
        holder["context"] = _feasibility_context(web, token, study)
        return Result(True, web.t("feasibility_done", name=study.name))

    result, problems = _attempt(web, "feasibility", work)
    context = holder.get("context")
    return _fragment_or_page(
        web,
        result,
        page=lambda: _feasibility_page(
            web, status=result.status, result=result, study=context, form=form, problems=problems
        ),
        fragment="_develop_feasibility_result.html",
        values=lambda: {"study": context},
        push_url=f"/develop/feasibility/{context['token']}" if context else None,
        problems=problems,
    )


@router.get("/develop/feasibility/{token}/report")
def feasibility_report(web: UserDep, token: ResultId) -> Response:
    study = _store(web).get("study", web.user, token)
    return HTMLResponse(
        api.report_html(study, web.lang), headers={"Content-Security-Policy": api.REPORT_CSP}
    )


@router.get("/develop/feasibility/{token}/report.pdf")
def feasibility_report_pdf(web: UserDep, token: ResultId) -> Response:
    study = _store(web).get("study", web.user, token)
    return _download(
        api.report_pdf(study, web.lang),
        "application/pdf",
        *api.report_filenames(study, token, ".pdf"),
    )


@router.get("/develop/feasibility/{token}/report.xlsx")
def feasibility_report_xlsx(web: UserDep, token: ResultId) -> Response:
    study = _store(web).get("study", web.user, token)
    return _download(
        api.report_xlsx(study, web.lang),
        api.XLSX_TYPE,
        *api.report_filenames(study, token, ".xlsx"),
    )


# ---------------------------------------------------------------------------- project library


def _province_of(web: Web) -> str | None:
    """The two-digit province of the user's organisation (its region code), if any."""
    region = _region_of(web)
    return region[:2] if region else None


def _region_of(web: Web) -> str | None:
    from tanhui.registry import identity

    actor = web.user
    if actor.organisation_id is None:
        return None
    org = identity.get_organisation(web.uow(), actor, actor.organisation_id)
    return org.region_code


def _projects_context(web: Web, stage: str | None) -> dict[str, Any]:
    from tanhui.develop.lifecycle import Stage

    svc = _svc(web)
    chosen = stage if stage in {s.value for s in Stage} else None
    items, total = svc.library.list_projects(web.user, stage=chosen, limit=PROJECT_LIST_LIMIT)
    province = None
    if web.user.may(Action.view_library_stats):
        region = _region_of(web)
        code = (region or "")[:2] or (items[0].region_code[:2] if items else None)
        if code:
            counties = [region] if region and not region.endswith("0000") else []
            province = svc.library.province_stats(web.user, code, counties=counties)
    return {
        "projects": items,
        "total": total,
        "stage": chosen or "",
        "stages": _stages(web.lang),
        "stage_label": lambda s: _stage_label(s, web.lang),
        "province": province,
        "below_names": [c.county or c.region_code for c in province.below_reserve]
        if province is not None
        else [],
        "may_manage": web.user.may(Action.manage_dev_projects),
    }


@router.get("/develop/projects")
def projects(web: UserDep, stage: str = "") -> Response:
    return web.render("develop_projects.html", **_projects_context(web, stage or None))


def _project_context(web: Web, project_id: int) -> dict[str, Any]:
    from tanhui.develop import lifecycle
    from tanhui.develop.losses import HAZARD_LABELS
    from tanhui.develop.pooling import GAP_REASON_LABELS
    from tanhui.develop.sharing import METHOD_LABELS, POOL_LABELS

    svc = _svc(web)
    actor = web.user
    project = svc.library.get_project(actor, project_id)
    history = svc.library.history(actor, project_id)
    documents = svc.library.list_documents(actor, project_id)
    sees_holders = actor.may(Action.view_rights_holders)
    gap = payouts = rule = authorizations = None
    if sees_holders:
        gap = svc.pooling.consent_gap(actor, project_id)
        payouts = svc.pooling.list_payouts(actor, project_id)
        rule = svc.pooling.sharing_rule(actor, project_id)
        authorizations = svc.pooling.list_authorizations(actor, project_id)
    losses = svc.losses.list_events(actor, project_id)
    stage = lifecycle.Stage(project.stage)
    advance_to = None if stage in lifecycle.FINAL else lifecycle.step(stage).value
    lang = web.lang
    return {
        "p": project,
        "stage_label": lambda s: _stage_label(s, lang),
        "history": history,
        "documents": documents,
        "gap": gap,
        "gap_label": lambda r: pick(*GAP_REASON_LABELS.get(r, (r, r)), lang),
        "payouts": payouts,
        "rule": rule,
        "rule_label": pick(*METHOD_LABELS[rule.method], lang) if rule else "",
        "pool_label": lambda p: pick(*POOL_LABELS.get(p, (p, p)), lang),
        "authorizations": authorizations,
        "losses": losses,
        "hazard_label": lambda h: pick(*HAZARD_LABELS.get(h, (h, h)), lang),
        "may_manage": actor.may(Action.manage_dev_projects),
        "advance_to": advance_to,
        "other_moves": [
            s.value
            for s in lifecycle.allowed_targets(stage)
            if s.value not in (advance_to, lifecycle.Stage.withdrawn.value)
        ],
        "may_withdraw": stage in lifecycle.OPEN,
        "document_kinds": [(k, web.t(f"doc_kind_{k}")) for k in _document_kinds()],
        "doc_kind_label": lambda k: web.t(f"doc_kind_{k}") if f"doc_kind_{k}" in MESSAGES else k,
        "auth_status_label": lambda s: web.t(f"auth_status_{s}"),
    }


def _document_kinds() -> tuple[str, ...]:
    from tanhui.develop.library import DOCUMENT_KINDS

    return DOCUMENT_KINDS


@router.get("/develop/projects/{project_id}")
def project_page(web: UserDep, project_id: PathId) -> Response:
    return web.render("develop_project.html", **_project_context(web, project_id))


def _stage_step(web: Web, project_id: int, work: Callable[[], Any], done_key: str) -> Response:
    def run() -> Result:
        view = work()
        return Result(True, web.t(done_key, stage=_stage_label(view.stage, web.lang)))

    result, _ = _attempt(web, "stage", run)
    return _fragment_or_page(
        web,
        result,
        page=lambda: web.render(
            "develop_project.html",
            status=result.status,
            result=result,
            **_project_context(web, project_id),
        ),
        fragment="_develop_stage.html",
        values=lambda: _project_context(web, project_id),
        error_target="#stage-result",
        trigger="project-changed",
    )


@router.post("/develop/projects/{project_id}/advance")
def advance(web: UserDep, _csrf: CsrfDep, project_id: PathId, note: FormStr = "") -> Response:
    return _stage_step(
        web,
        project_id,
        lambda: _svc(web).library.advance(web.user, project_id, note=_text(note, 2000)),
        "stage_done",
    )


@router.post("/develop/projects/{project_id}/move")
def move(
    web: UserDep, _csrf: CsrfDep, project_id: PathId, to: FormStr = "", note: FormStr = ""
) -> Response:
    def work() -> Any:
        from tanhui.develop.lifecycle import parse_stage

        return _svc(web).library.move(
            web.user, project_id, parse_stage(to.strip()), note=_text(note, 2000)
        )

    return _stage_step(web, project_id, work, "stage_done")


@router.post("/develop/projects/{project_id}/withdraw")
def withdraw(web: UserDep, _csrf: CsrfDep, project_id: PathId, reason: FormStr = "") -> Response:
    return _stage_step(
        web,
        project_id,
        lambda: _svc(web).library.withdraw(
            web.user, project_id, reason=_required(reason, "withdraw_reason")[:2000]
        ),
        "withdraw_done",
    )


@router.post("/develop/projects/{project_id}/documents")
def upload_document(
    web: UserDep,
    _csrf: CsrfDep,
    project_id: PathId,
    file: OptionalFile = None,
    kind: FormStr = "other",
    note: FormStr = "",
) -> Response:
    from tanhui.develop.library import DOCUMENT_MAX_BYTES, DocumentUpload

    def work() -> Result:
        if not _has_file(file):
            raise _input_error("missing_field", "document_file")
        assert file is not None
        content = api.read_document(file, "file", DOCUMENT_MAX_BYTES)
        view = _svc(web).library.attach_document(
            web.user,
            project_id,
            DocumentUpload(file.filename or "document", content, file.content_type, kind, note),
        )
        return Result(True, web.t("document_done", name=view.filename))

    result, _ = _attempt(web, "documents", work)
    return _fragment_or_page(
        web,
        result,
        page=lambda: web.render(
            "develop_project.html",
            status=result.status,
            result=result,
            **_project_context(web, project_id),
        ),
        fragment="_develop_documents.html",
        values=lambda: _project_context(web, project_id),
        error_target="#documents-result",
    )


@router.get("/develop/documents/{document_id}")
def download_document(web: UserDep, document_id: PathId) -> Response:
    view, content = _svc(web).library.download_document(web.user, document_id)
    response = _download(
        content, view.media_type, view.filename, f"document-{view.id}{api.document_suffix(view)}"
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# ---------------------------------------------------------------------------- holders


def _holders_context(web: Web, village: str, project: int | None) -> dict[str, Any]:
    from tanhui.develop.pooling import HOLDER_KIND_LABELS

    svc = _svc(web)
    actor = web.user
    everyone, _ = svc.pooling.list_holders(actor, limit=PROJECT_LIST_LIMIT)
    villages = sorted({h.village for h in everyone if h.village})
    projects = _visible_projects(web, open_only=True)
    selected = next((p for p in projects if p.id == project), None)
    if selected is None and project is not None:
        selected = svc.library.get_project(actor, project)  # 404 / 403 as the service says
    in_project = []
    if selected is not None:  # the holders with a parcel on the project's land
        land = {s.subcompartment_id for s in selected.subcompartments}
        in_project = [
            h
            for h in everyone
            if any(
                p.subcompartment_id in land and p.region_code == selected.region_code
                for p in h.parcels
            )
        ]
    if village in villages:
        chosen = village
    elif in_project and in_project[0].village:
        chosen = in_project[0].village
    else:
        chosen = villages[0] if villages else ""
    holders = [h for h in everyone if h.village == chosen] if chosen else everyone
    authorizations = (
        svc.pooling.list_authorizations(actor, selected.id) if selected is not None else []
    )
    gap = svc.pooling.consent_gap(actor, selected.id) if selected is not None else None
    lang = web.lang
    return {
        "villages": villages,
        "village": chosen,
        "holders": holders,
        "form_holders": in_project or holders,
        "projects": projects,
        "project": selected,
        "authorizations": authorizations,
        "gap": gap,
        "kind_label": lambda k: pick(*HOLDER_KIND_LABELS.get(k, (k, k)), lang),
        "auth_status_label": lambda s: web.t(f"auth_status_{s}"),
        "gap_label": lambda r: web.t(f"gap_{r}"),
        "today": dt.date.today().isoformat(),
        "may_record": actor.may(Action.record_authorization),
    }


@router.get("/develop/holders")
def holders(web: UserDep, village: str = "", project: IdQuery = None) -> Response:
    return web.render("develop_holders.html", **_holders_context(web, village.strip(), project))


@router.get("/develop/holders/authorizations")
def authorizations_fragment(web: UserDep, project: IdQuery = None) -> Response:
    return web.render("_develop_authorizations.html", **_holders_context(web, "", project))


@router.post("/develop/authorizations")
def record_authorization(
    web: UserDep,
    _csrf: CsrfDep,
    project_id: FormStr = "",
    holder_id: FormStr = "",
    signatory: FormStr = "",
    signed_on: FormStr = "",
    term_years: FormStr = "",
    expires_on: FormStr = "",
    share: FormStr = "",
    note: FormStr = "",
    village: FormStr = "",
    document: OptionalFile = None,
) -> Response:
    from tanhui.develop.library import DOCUMENT_MAX_BYTES, DocumentUpload

    def work() -> Result:
        project = _positive_int(project_id, "project") or 0
        upload = None
        if _has_file(document):
            assert document is not None
            content = api.read_document(document, "document", DOCUMENT_MAX_BYTES)
            upload = DocumentUpload(
                document.filename or "document", content, document.content_type, "authorization"
            )
        view = _svc(web).pooling.record_authorization(
            web.user,
            project,
            holder_id=_positive_int(holder_id, "holder") or 0,
            signatory=_required(signatory, "signatory")[:200],
            signed_on=_date(signed_on, "signed_on", required=True),
            expires_on=_date(expires_on, "expires_on"),
            term_years=_int(term_years, "term_years", low=1, high=99),
            share_bp=_percent_to_bp(share, "share"),
            note=_text(note, 2000),
            document=upload,
        )
        return Result(
            True,
            web.t(
                "authorization_done",
                id=view.id,
                holder=view.holder_name,
                status=web.t(f"auth_status_{view.status}"),
            ),
        )

    result, _ = _attempt(web, "authorization", work)
    project = _int(project_id, "project", low=1) if project_id.strip().isdigit() else None
    return _fragment_or_page(
        web,
        result,
        page=lambda: web.render(
            "develop_holders.html",
            status=result.status,
            result=result,
            **_holders_context(web, village.strip(), project),
        ),
        fragment="_develop_message.html",
        values=lambda: {"problems": []},
        trigger="authorizations-changed",
    )


# ---------------------------------------------------------------------------- losses


def _losses_context(web: Web, project: int | None) -> dict[str, Any]:
    from tanhui.develop.losses import HAZARD_LABELS, HAZARDS

    svc = _svc(web)
    projects = _visible_projects(web)
    selected = next((p for p in projects if p.id == project), None)
    if selected is None and project is not None:
        selected = svc.library.get_project(web.user, project)
    if selected is None and projects:
        selected = projects[0]
    events = svc.losses.list_events(web.user, selected.id) if selected is not None else []
    lang = web.lang
    return {
        "projects": projects,
        "project": selected,
        "events": events,
        "hazards": [(h, pick(*HAZARD_LABELS[h], lang)) for h in HAZARDS],
        "hazard_label": lambda h: pick(*HAZARD_LABELS.get(h, (h, h)), lang),
        "today": dt.date.today().isoformat(),
        "may_record": web.user.may(Action.record_loss_event),
        "may_reverse": web.user.may(Action.cancel_reversal),
    }


@router.get("/develop/losses")
def losses(web: UserDep, project: IdQuery = None) -> Response:
    return web.render("develop_losses.html", **_losses_context(web, project))


@router.get("/develop/losses/list")
def losses_list(web: UserDep, project: IdQuery = None) -> Response:
    return web.render("_develop_loss_list.html", **_losses_context(web, project))


@router.post("/develop/losses")
def record_loss(
    web: UserDep,
    _csrf: CsrfDep,
    project_id: FormStr = "",
    subcompartment_id: FormStr = "",
    hazard: FormStr = "",
    occurred_on: FormStr = "",
    area_ha: FormStr = "",
    share_lost: FormStr = "",
    tonnes_lost: FormStr = "",
    note: FormStr = "",
) -> Response:
    def work() -> Result:
        share = _number(share_lost, "share_lost", low=0, high=100)
        view = _svc(web).losses.record(
            web.user,
            _positive_int(project_id, "project") or 0,
            subcompartment_id=_required(subcompartment_id, "subcompartment")[:64],
            hazard=_required(hazard, "hazard"),
            occurred_on=_date(occurred_on, "occurred_on", required=True),
            area_ha=_number(area_ha, "area_lost", low=0, high=1e7),
            share_lost=None if share is None else share / 100,
            tonnes_lost=_number(tonnes_lost, "tonnes_lost", low=0, high=1e12),
            note=_text(note, 2000),
        )
        return Result(True, web.t("loss_done", id=view.id, sub=view.subcompartment_id))

    result, _ = _attempt(web, "loss", work)
    project = int(project_id) if project_id.strip().isdigit() and len(project_id) < 10 else None
    return _fragment_or_page(
        web,
        result,
        page=lambda: web.render(
            "develop_losses.html",
            status=result.status,
            result=result,
            **_losses_context(web, project),
        ),
        fragment="_develop_message.html",
        values=lambda: {"problems": []},
        trigger="losses-changed",
    )


@router.post("/develop/losses/{event_id}/reverse")
def reverse_loss(
    web: UserDep,
    _csrf: CsrfDep,
    event_id: PathId,
    project_id: FormStr = "",
    quantity: FormStr = "",
) -> Response:
    def work() -> Result:
        view = _svc(web).losses.reverse_in_registry(
            web.user,
            event_id,
            quantity=_int(quantity, "quantity", low=1),
        )
        return Result(
            True, web.t("reversal_done", id=view.id, quantity=f"{view.reversed_quantity:,}")
        )

    result, _ = _attempt(web, "loss", work)
    project = int(project_id) if project_id.strip().isdigit() and len(project_id) < 10 else None
    return _fragment_or_page(
        web,
        result,
        page=lambda: web.render(
            "develop_losses.html",
            status=result.status,
            result=result,
            **_losses_context(web, project),
        ),
        fragment="_develop_message.html",
        values=lambda: {"problems": []},
        trigger="losses-changed",
    )


# ---------------------------------------------------------------------------- glue


@router.get("/develop")
def develop_home(web: UserDep) -> Response:
    return RedirectResponse("/develop/projects", status_code=303)
