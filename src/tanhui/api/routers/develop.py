"""Development endpoints under ``/api/v1/develop``: rules and costs, screening and feasibility of
an uploaded inventory, the project library (项目库), rights holders and their authorizations (授权),
revenue sharing and payouts (股份合作), and loss events with their reversal in the registry.

Routes are thin, as the registry's (:mod:`tanhui.api.routers.registry`): they validate the
request (:mod:`tanhui.api.develop_schemas`), call one service method as the logged-in actor —
:mod:`tanhui.develop.screening_service`, :mod:`~tanhui.develop.study`, :mod:`~tanhui.develop.report`,
:class:`~tanhui.develop.library.Library`, :class:`~tanhui.develop.pooling.Pooling`,
:class:`~tanhui.develop.losses.Losses` — and return its answer as a typed model. Roles and
ownership are the services' to check; their refusals become problem+json (403, 404, 409, 422).

Uploads
-------
An inventory (CSV/TXT, XLSX/XLSM/XLS/ODS, GeoPackage or Parquet: one file; a Shapefile needs its
side files, so it is not taken here) is saved under a temporary directory with its own suffix
(the readers go by it), read, and removed when the request ends, whatever happens. Over
:data:`MAX_INVENTORY_BYTES` is a 413, another suffix a 415. Error messages never show the
temporary path, only the file's own name.

Results
-------
A screening or a feasibility study is kept in this process for :data:`RESULT_TTL_SECONDS`
(:class:`ResultStore`, at most :data:`RESULT_LIMIT`), visible to the user who uploaded the file
only, so its downloads (CSV, Excel; the report as HTML, PDF or Excel) need no second upload.
After that, or after a restart, the download answers 404 with a hint to upload again. The web
pages (:mod:`tanhui.web.develop_routes`) share the same store.

Idempotency
-----------
The development services take no idempotency key, so these endpoints do not advertise one.
What must not happen twice is refused by the services themselves: a payout names its sale
(``reference``, unique per project), a loss event is reversed at most once.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import quote

import numpy as np
from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    File,
    Form,
    Path,
    Query,
    Request,
    Response,
    UploadFile,
    status,
)
from fastapi.responses import HTMLResponse
from sqlalchemy.exc import DataError, IntegrityError

from tanhui.api.deps import ActorDep, LangDep
from tanhui.api.develop_schemas import (
    DAY_MAX,
    DAY_MIN,
    AdvanceIn,
    AuthorizationOut,
    ConsentGapOut,
    CostTableOut,
    CountyStatsOut,
    DevProjectIn,
    DevProjectOut,
    DevProjectPatch,
    DevProjectSummaryOut,
    DocumentKind,
    DocumentOut,
    FeasibilityOut,
    Hazard,
    HolderIn,
    HolderKind,
    HolderOut,
    LossEventIn,
    LossEventOut,
    MoveIn,
    ParcelIn,
    ParcelOut,
    PayoutIn,
    PayoutOut,
    ProvinceStatsOut,
    RegistryLinkIn,
    ReversalRequestIn,
    RevokeIn,
    RiskInputOut,
    RuleSetOut,
    SchemeOut,
    ScreeningOut,
    SharingRuleIn,
    SharingRuleOut,
    StageChangeOut,
    WithdrawIn,
)
from tanhui.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, PageParams
from tanhui.api.problems import problem_responses, register_status
from tanhui.api.registry_schemas import MAX_ID
from tanhui.errors import ConflictError, InputError, NotFoundError, TanhuiError
from tanhui.i18n import Lang, pick
from tanhui.registry.identity import Actor
from tanhui.registry.ledger import Ledger

__all__ = [
    "INVENTORY_SUFFIXES",
    "MAX_INVENTORY_BYTES",
    "REPORT_CSP",
    "RESULT_LIMIT",
    "RESULT_TTL_SECONDS",
    "XLSX_TYPE",
    "ResultStore",
    "StudyOptions",
    "UnsupportedUpload",
    "UploadTooLarge",
    "attachment",
    "document_suffix",
    "price_scenarios",
    "project_view",
    "read_document",
    "read_options_of",
    "registered_ids",
    "report_filenames",
    "report_html",
    "report_pdf",
    "report_xlsx",
    "results_of",
    "router",
    "save_upload",
    "screen_upload",
    "screening_csv",
    "screening_xlsx",
    "services",
    "study_upload",
    "upload_folder",
]

router = APIRouter(prefix="/api/v1/develop", tags=["develop"])

_READ = problem_responses(401, 403, 404, 422)
_WRITE = problem_responses(401, 403, 404, 409, 422)
_BODY = problem_responses(400, 401, 403, 404, 409, 422)
_UPLOAD = problem_responses(400, 401, 403, 404, 409, 413, 415, 422)
_PUBLIC = problem_responses(404, 422)

#: Largest inventory file taken (bytes); a county's whole 二类调查 table is far smaller.
MAX_INVENTORY_BYTES = 200 * 1024 * 1024
#: Largest rule or cost file taken (bytes).
MAX_SIDE_FILE_BYTES = 2 * 1024 * 1024
#: Inventory formats taken as one upload (a Shapefile needs its .dbf/.shx/.prj beside it).
INVENTORY_SUFFIXES = frozenset(
    {".csv", ".txt", ".xlsx", ".xlsm", ".xls", ".ods", ".gpkg", ".parquet"}
)
RESULT_TTL_SECONDS = 3600
RESULT_LIMIT = 32
#: Monte Carlo paths a request may ask for.
MAX_PATHS = 100_000
MAX_OFFSET = 2**31 - 1

T = TypeVar("T")


# ------------------------------------------------------------------------------------ errors


class UploadTooLarge(InputError):
    """An uploaded file is larger than the endpoint takes (413)."""


class UnsupportedUpload(InputError):
    """An uploaded file is of a type the endpoint does not read (415)."""


register_status(UploadTooLarge, 413)
register_status(UnsupportedUpload, 415)


@contextmanager
def _guard() -> Iterator[None]:
    """A constraint the database enforces but the service did not check first becomes a 409 (or
    a 422 for a value its column cannot hold) instead of a 500."""
    try:
        yield
    except IntegrityError:
        raise ConflictError(
            "请求与已有数据冲突（如引用了不存在的记录），未作任何更改。",
            "The request conflicts with existing data (e.g. it names a record that does not "
            "exist); nothing was changed.",
            hint_zh="检查请求中引用的 id。",
            hint_en="Check the ids the request refers to.",
        ) from None
    except DataError:
        raise InputError(
            "请求中的某个值超出允许范围，未作任何更改。",
            "A value in the request is out of range; nothing was changed.",
        ) from None


# ------------------------------------------------------------------------------ result store


@dataclass
class _Entry:
    kind: str
    owner: str
    value: Any
    expires: float


class ResultStore:
    """Screenings and feasibility studies of uploads, kept for a while in this process.

    ``put`` returns a random id; ``get`` returns the value for the same owner before it expires
    and raises :class:`~tanhui.errors.NotFoundError` otherwise (another user's result is "not
    found" too). At most ``limit`` results are kept; the oldest go first.
    """

    def __init__(
        self,
        ttl: float = RESULT_TTL_SECONDS,
        limit: int = RESULT_LIMIT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ttl, self.limit, self.clock = ttl, limit, clock
        self._items: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def owner_of(actor: Actor) -> str:
        return f"{actor.user_id}:{actor.username}"

    def put(self, kind: str, actor: Actor, value: Any) -> tuple[str, dt.datetime]:
        token = secrets.token_hex(16)
        now = self.clock()
        with self._lock:
            self._drop_expired(now)
            while len(self._items) >= self.limit:
                self._items.popitem(last=False)
            self._items[token] = _Entry(kind, self.owner_of(actor), value, now + self.ttl)
        return token, self.expiry(token)

    def get(self, kind: str, actor: Actor, token: str) -> Any:
        with self._lock:
            self._drop_expired(self.clock())
            entry = self._items.get(token)
        if entry is None or entry.kind != kind or entry.owner != self.owner_of(actor):
            what_zh, what_en = {
                "screening": ("筛查结果", "screening"),
                "study": ("可行性结果", "feasibility study"),
            }.get(kind, (kind, kind))
            raise NotFoundError(
                f"找不到{what_zh} {token}：结果只保留 {self.ttl // 60:.0f} 分钟，且只对上传者可见。",
                f"No {what_en} {token}: results are kept for {self.ttl // 60:.0f} minutes, for "
                "the user who uploaded the file only.",
                hint_zh="请重新上传清查文件。",
                hint_en="Upload the inventory file again.",
            )
        return entry.value

    def expiry(self, token: str) -> dt.datetime:
        with self._lock:
            entry = self._items[token]
        return dt.datetime.fromtimestamp(entry.expires, dt.UTC)

    def _drop_expired(self, now: float) -> None:
        for token in [t for t, e in self._items.items() if e.expires <= now]:
            del self._items[token]


_STORE_LOCK = threading.Lock()


def results_of(app: FastAPI) -> ResultStore:
    """The app's result store (made on first use)."""
    store = getattr(app.state, "develop_results", None)
    if store is None:
        with _STORE_LOCK:
            store = getattr(app.state, "develop_results", None)
            if store is None:
                store = app.state.develop_results = ResultStore()
    return store


def _store(request: Request) -> ResultStore:
    return results_of(request.app)


StoreDep = Annotated[ResultStore, Depends(_store)]


# ----------------------------------------------------------------------------------- uploads


@contextmanager
def upload_folder() -> Iterator[FilePath]:
    """A temporary directory for one request's uploads, removed afterwards. A service error
    raised inside names the uploaded files by their own names, never by the temporary path."""
    folder = FilePath(tempfile.mkdtemp(prefix="tanhui-develop-"))
    try:
        yield folder
    except TanhuiError as exc:
        _scrub(exc, folder)
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _scrub(exc: TanhuiError, folder: FilePath) -> None:
    prefixes = [str(folder) + "/", str(folder)]
    for attr in ("zh", "en", "hint_zh", "hint_en", "source"):
        value = getattr(exc, attr, None)
        if isinstance(value, str):
            for prefix in prefixes:
                value = value.replace(prefix, "")
            setattr(exc, attr, value)
    exc.args = (exc.en,)


def _safe_name(filename: str | None, stem: str, suffix: str) -> str:
    """The upload's own name, reduced to what is safe in a path (its suffix kept)."""
    name = re.split(r"[\\/]", filename or "")[-1]
    base = name[: -len(suffix)] if suffix and name.lower().endswith(suffix) else name
    base = re.sub(r"[^\w.\-()（）\u4e00-\u9fff]+", "_", base).strip("._")[:80]
    return f"{base or stem}{suffix}"


def save_upload(
    upload: UploadFile,
    folder: FilePath,
    field: str,
    suffixes: frozenset[str] | set[str],
    max_bytes: int,
) -> FilePath:
    """Save ``upload`` in ``folder`` under its own (sanitised) name and suffix. A suffix not in
    ``suffixes`` is a 415, more than ``max_bytes`` a 413, an empty file a 422."""
    suffix = FilePath(upload.filename or "").suffix.lower()
    if not re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) or suffix not in suffixes:
        raise UnsupportedUpload(
            f"不支持的文件类型 {suffix or '（无扩展名）'}（{field}）。",
            f"Unsupported file type {suffix or '(no extension)'} ({field}).",
            field=field,
            hint_zh="可上传：" + "、".join(sorted(suffixes)),
            hint_en="Upload one of: " + ", ".join(sorted(suffixes)),
        )
    size = getattr(upload, "size", None)
    if size is not None and size > max_bytes:
        raise _too_large(field, max_bytes)
    path = folder / _safe_name(upload.filename, field, suffix)
    written = 0
    with path.open("wb") as out:
        while chunk := upload.file.read(1 << 20):
            written += len(chunk)
            if written > max_bytes:
                raise _too_large(field, max_bytes)
            out.write(chunk)
    if written == 0:
        raise InputError(
            f"上传的文件为空（{field}）。",
            f"The uploaded file is empty ({field}).",
            field=field,
        )
    return path


def _too_large(field: str, max_bytes: int) -> UploadTooLarge:
    mib = max_bytes / (1024 * 1024)
    return UploadTooLarge(
        f"上传的文件超过 {mib:g} MiB 的上限（{field}）。",
        f"The uploaded file is larger than the limit of {mib:g} MiB ({field}).",
        field=field,
        hint_zh="请拆分文件（例如按乡镇）后分别上传。",
        hint_en="Split the file (e.g. by township) and upload the parts.",
    )


def read_document(upload: UploadFile, field: str, max_bytes: int) -> bytes:
    """The bytes of a scanned document (at most ``max_bytes``, else 413)."""
    content = upload.file.read(max_bytes + 1)
    if len(content) > max_bytes:
        raise _too_large(field, max_bytes)
    return content


def _check_length(request: Request, max_bytes: int) -> None:
    """Refuse a request whose declared body is far over the limit before reading it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + 1024 * 1024:
        raise _too_large("file", max_bytes)


# ------------------------------------------------------------------------------------ services


@dataclass(frozen=True)
class Services:
    """The development services of one app (stateless; made per request)."""

    engine: Any
    ledger: Ledger

    @property
    def library(self) -> Any:
        from tanhui.develop.library import Library

        return Library(self.engine)

    @property
    def pooling(self) -> Any:
        from tanhui.develop.pooling import Pooling

        return Pooling(self.engine)

    @property
    def losses(self) -> Any:
        from tanhui.develop.losses import Losses

        return Losses(self.engine, ledger=self.ledger)


def services(app: FastAPI) -> Services:
    return Services(app.state.engine, app.state.ledger)


def _services(request: Request) -> Services:
    return services(request.app)


ServicesDep = Annotated[Services, Depends(_services)]


def _page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="每页条数 / items per page")
    ] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="跳过条数 / items to skip")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(_page_params)]


def _page(items: list[T], page: PageParams, request: Request) -> Page[T]:
    """A page of an in-memory list (the service returns it whole)."""
    chunk = items[page.offset : page.offset + page.limit]
    return Page[Any].build(chunk, len(items), page, request)  # type: ignore[return-value]


def _id(what: str) -> Any:
    return Path(ge=1, le=MAX_ID, description=what)


ProjectId = Annotated[int, _id("项目库项目 id / library project id")]
HolderId = Annotated[int, _id("权利人 id / rights holder id")]
AuthorizationId = Annotated[int, _id("授权 id / authorization id")]
DocumentId = Annotated[int, _id("文件 id / document id")]
LossEventId = Annotated[int, _id("损失事件 id / loss event id")]
ResultId = Annotated[
    str, Path(pattern=r"^[0-9a-f]{32}$", description="结果编号 / result id (32 hex digits)")
]
SchemeName = Annotated[
    str,
    Path(pattern=r"^[a-z][a-z0-9-]{0,39}$", description="机制 / scheme", examples=["smcer"]),
]
OnQuery = Annotated[
    dt.date | None,
    Query(ge=DAY_MIN, le=DAY_MAX, description="查询日期（默认今天）/ as of this day (today)"),
]


def _finite(value: Any) -> Any:
    """``value`` as plain JSON data: NaN and ±inf become ``None``, NumPy scalars Python ones."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        return [_finite(v) for v in value.tolist()]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _label(labels: Mapping[str, tuple[str, str]], key: str, lang: Lang) -> str:
    zh, en = labels.get(key, (key, key))
    return pick(zh, en, lang)


def attachment(filename: str, fallback: str) -> str:
    """A Content-Disposition value with an ASCII fallback and the UTF-8 name (RFC 6266)."""
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "_", fallback) or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


# ------------------------------------------------------------------------- rules and costs


@router.get(
    "/schemes",
    response_model=list[SchemeOut],
    summary="筛查规则集 / the screening rule sets",
    responses=_PUBLIC,
)
def list_schemes(lang: LangDep) -> list[SchemeOut]:
    """Each scheme and methodology's rule set (SMCER, CCER afforestation, forest management,
    stop-logging, Guizhou ticket): version, number of rules and hash. No login."""
    from tanhui.develop.screening_service import list_schemes as schemes

    return [SchemeOut.model_validate(s) for s in schemes(lang)]


@router.get(
    "/schemes/{scheme}/rules",
    response_model=RuleSetOut,
    summary="规则集的规则及其来源 / a rule set's rules and their sources",
    responses=_PUBLIC,
)
def scheme_rules(scheme: SchemeName, lang: LangDep) -> RuleSetOut:
    """Every rule of a scheme: why a sub-compartment fails it, the check, its status and its
    source. No login."""
    from tanhui.develop.rules import load_scheme, scheme_names
    from tanhui.develop.screening_service import rule_table

    if scheme not in scheme_names():
        raise NotFoundError(
            f"没有名为“{scheme}”的规则集。",
            f"There is no rule set named '{scheme}'.",
            kind="scheme",
            key=scheme,
            hint_zh="可用：" + "、".join(scheme_names()),
            hint_en="Available: " + ", ".join(scheme_names()),
        )
    rule_set = load_scheme(scheme)
    return RuleSetOut.model_validate(
        {
            **rule_set.describe(),
            "title": pick(rule_set.title_zh, rule_set.title_en, lang),
            "notes": [pick(zh, en, lang) for zh, en in rule_set.notes],
            "rules": rule_table(rule_set, lang),
        }
    )


@router.get(
    "/costs",
    response_model=CostTableOut,
    summary="默认成本表 / the default cost table",
    responses=_PUBLIC,
)
def cost_table(lang: LangDep) -> CostTableOut:
    """The cost items a feasibility study uses unless a cost file is uploaded, each with its
    source or labelled "to confirm". No login."""
    from tanhui.develop.costs import load_costs

    return CostTableOut.model_validate(_finite(load_costs().to_dict(lang)))


# ------------------------------------------------------------------------------- screening

SchemeForm = Annotated[
    str,
    Form(
        pattern=r"^[a-z][a-z0-9-]{0,39}$",
        description="机制（见 /develop/schemes）/ scheme, see /develop/schemes",
        examples=["smcer"],
    ),
]
StartYearForm = Annotated[
    int | None, Form(ge=1900, le=2199, description="项目开始年份 / project start year")
]
CreditingYearsForm = Annotated[
    int | None, Form(ge=1, le=100, description="计入期年数 / crediting period in years")
]
CheckRegistryForm = Annotated[
    bool,
    Form(
        description="从登记簿核对已签发的小班（计入期内）/ check the registry for land already "
        "issued over the period"
    ),
]
RegionForm = Annotated[
    str | None,
    Form(pattern=r"^[0-9]{6}$", description="只核对该县的登记 / the county to check"),
]
EncodingForm = Annotated[
    str | None,
    Form(pattern=r"^[A-Za-z0-9_-]{1,32}$", description="强制文本编码 / force an encoding"),
]
AreaUnitForm = Annotated[
    Literal["ha", "mu"] | None, Form(description="面积单位 / unit of a bare 面积 column")
]
LayerForm = Annotated[
    str | None,
    Form(
        min_length=1,
        max_length=128,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="Excel 工作表或 GeoPackage 图层 / sheet or layer",
    ),
]
InventoryFile = Annotated[
    UploadFile,
    File(description="小班数据文件（CSV/XLSX/GPKG/Parquet）/ the inventory file"),
]
RulesFile = Annotated[
    UploadFile | None, File(description="自定义规则文件 TOML / your own rule file (TOML)")
]


def read_options_of(
    encoding: str | None, area_unit: str | None, layer: str | None
) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if encoding:
        options["encoding"] = encoding
    if area_unit:
        options["area_unit"] = area_unit
    if layer:
        options["layer"] = layer
    return options


def registered_ids(
    ledger: Ledger, start_year: int | None, years: int, region_code: str | None
) -> list[str]:
    """Sub-compartments the registry has already issued for a period overlapping the project's
    (``start_year``, default this year, for ``years``)."""
    start = start_year or dt.date.today().year
    end = dt.date(min(start + max(years, 1) - 1, 9999), 12, 31)
    claimed = ledger.claimed_subcompartments(dt.date(start, 1, 1), end, region_code=region_code)
    return sorted(claimed)


def screen_upload(
    ledger: Ledger,
    path: FilePath,
    *,
    scheme: str,
    rules_path: FilePath | None = None,
    start_year: int | None = None,
    crediting_years: int | None = None,
    growth_family: str | None = None,
    check_registry: bool = True,
    region_code: str | None = None,
    read_options: dict[str, Any] | None = None,
) -> Any:
    """Screen a saved upload (:func:`tanhui.develop.screening_service.screen_file`), with the
    registry's issued land when ``check_registry``."""
    from tanhui.develop.screening_service import screen_file

    ids = (
        registered_ids(ledger, start_year, crediting_years or 1, region_code)
        if check_registry
        else None
    )
    return screen_file(
        path,
        scheme,
        rules_file=rules_path,
        registered_ids=ids,
        start_year=start_year,
        crediting_years=crediting_years,
        growth_family=growth_family,
        **(read_options or {}),
    )


def _links(request: Request, path: str, downloads: dict[str, str]) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/") + router.prefix
    return {
        "self": base + path,
        "downloads": {k: base + v for k, v in downloads.items()},
    }


def _screening_out(
    request: Request, store: ResultStore, token: str, report: Any, lang: Lang, rows: bool
) -> ScreeningOut:
    doc = _finite(report.to_dict(include_rows=rows, lang=lang))
    doc["id"] = token
    doc["expires_at"] = store.expiry(token)
    doc["links"] = _links(
        request,
        f"/screenings/{token}",
        {"csv": f"/screenings/{token}/rows.csv", "xlsx": f"/screenings/{token}/rows.xlsx"},
    )
    return ScreeningOut.model_validate(doc)


RowsQuery = Annotated[
    bool, Query(description="包含逐小班结果 / include every sub-compartment's result")
]


@router.post(
    "/screenings",
    response_model=ScreeningOut,
    status_code=status.HTTP_201_CREATED,
    summary="资源筛查（上传清查文件）/ screen an uploaded inventory",
    responses=_UPLOAD,
)
def screen(
    request: Request,
    actor: ActorDep,
    lang: LangDep,
    store: StoreDep,
    file: InventoryFile,
    scheme: SchemeForm = "smcer",
    rules: RulesFile = None,
    start_year: StartYearForm = None,
    crediting_years: CreditingYearsForm = None,
    growth_family: Annotated[
        Literal["richards", "schumacher"] | None,
        Form(description="用本清查数据拟合生长模型 / fit growth curves on this inventory"),
    ] = None,
    check_registry: CheckRegistryForm = True,
    region_code: RegionForm = None,
    encoding: EncodingForm = None,
    area_unit: AreaUnitForm = None,
    layer: LayerForm = None,
    rows: RowsQuery = False,
) -> ScreeningOut:
    """Which sub-compartments of the inventory qualify under the scheme and, for each that does
    not, every reason; totals of eligible area and expected tonnes by village, owner, species
    group and township. The result is kept for an hour (``links``) for its downloads.

    A bad file is a 422 listing every problem (row, column, value, reason)."""
    _check_length(request, MAX_INVENTORY_BYTES)
    with upload_folder() as folder:
        path = save_upload(file, folder, "file", INVENTORY_SUFFIXES, MAX_INVENTORY_BYTES)
        rules_path = (
            save_upload(rules, folder, "rules", {".toml"}, MAX_SIDE_FILE_BYTES)
            if rules is not None and rules.filename
            else None
        )
        report = screen_upload(
            request.app.state.ledger,
            path,
            scheme=scheme,
            rules_path=rules_path,
            start_year=start_year,
            crediting_years=crediting_years,
            growth_family=growth_family,
            check_registry=check_registry,
            region_code=region_code,
            read_options=read_options_of(encoding, area_unit, layer),
        )
    token, _ = store.put("screening", actor, report)
    return _screening_out(request, store, token, report, lang, rows)


@router.get(
    "/screenings/{screening_id}",
    response_model=ScreeningOut,
    summary="筛查结果 / a screening",
    responses=_READ,
)
def get_screening(
    screening_id: ResultId,
    request: Request,
    actor: ActorDep,
    lang: LangDep,
    store: StoreDep,
    rows: RowsQuery = False,
) -> ScreeningOut:
    report = store.get("screening", actor, screening_id)
    return _screening_out(request, store, screening_id, report, lang, rows)


_CSV = {200: {"description": "CSV (UTF-8 BOM)", "content": {"text/csv": {}}}}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_XLSX = {
    200: {
        "description": "Excel",
        "content": {XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}},
    }
}


def screening_csv(report: Any, lang: Lang) -> bytes:
    from tanhui.develop.export import screening_csv as to_csv

    return to_csv(report, lang).encode("utf-8")


def screening_xlsx(report: Any, lang: Lang) -> bytes:
    from tanhui.develop.export import screening_xlsx as to_xlsx

    with tempfile.TemporaryDirectory(prefix="tanhui-export-") as tmp:
        path = FilePath(tmp) / "screening.xlsx"
        to_xlsx(report, path, lang)
        return path.read_bytes()


@router.get(
    "/screenings/{screening_id}/rows.csv",
    response_class=Response,
    summary="筛查明细（CSV）/ the screening's rows as CSV",
    responses={**_CSV, **_READ},
)
def screening_rows_csv(
    screening_id: ResultId, actor: ActorDep, lang: LangDep, store: StoreDep
) -> Response:
    report = store.get("screening", actor, screening_id)
    return Response(
        screening_csv(report, lang),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": attachment(
                f"筛查-{screening_id[:8]}.csv", f"screening-{screening_id[:8]}.csv"
            )
        },
    )


@router.get(
    "/screenings/{screening_id}/rows.xlsx",
    response_class=Response,
    summary="筛查结果（Excel）/ the screening as an Excel workbook",
    responses={**_XLSX, **_READ},
)
def screening_rows_xlsx(
    screening_id: ResultId, actor: ActorDep, lang: LangDep, store: StoreDep
) -> Response:
    report = store.get("screening", actor, screening_id)
    return Response(
        screening_xlsx(report, lang),
        media_type=XLSX_TYPE,
        headers={
            "Content-Disposition": attachment(
                f"筛查-{screening_id[:8]}.xlsx", f"screening-{screening_id[:8]}.xlsx"
            )
        },
    )


# ----------------------------------------------------------------------------- feasibility


@dataclass(frozen=True)
class StudyOptions:
    """What a feasibility request may set (the form of the API and of the web page)."""

    scheme: str = "smcer"
    name: str | None = None
    project_id: int | None = None
    ids: tuple[str, ...] = ()
    villages: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    start_year: int | None = None
    crediting_years: int | None = None
    monitoring_interval: int = 5
    first_verification_after: int = 5
    issuance_lag: int = 1
    prices: tuple[str, ...] = ()
    discount_rate: float = 0.08
    buffer_share: float = 0.0
    growth_family: str | None = "richards"
    paths: int = 10_000
    seed: int = 0
    with_map: bool = True
    check_registry: bool = True
    region_code: str | None = None


def price_scenarios(values: tuple[str, ...] | list[str]) -> list[Any] | None:
    """``NAME=YUAN[@GROWTH]`` (as ``tanhui develop feasibility --price``) → price scenarios."""
    from tanhui.develop.feasibility import PriceScenario

    scenarios = []
    for value in values:
        if not value.strip():
            continue
        name, _, rest = value.partition("=")
        price, _, growth = rest.partition("@")
        try:
            scenario = PriceScenario(
                name.strip(),
                float(price),
                float(growth) if growth.strip() else 0.0,
                source="user (API)",
                status="user",
            )
        except ValueError:
            raise InputError(
                f"价格情景“{value}”的格式应为 名称=元/吨[@年增长率]，如 base=15@0.03。",
                f"Price scenario '{value}' must look like NAME=YUAN[@GROWTH], e.g. base=15@0.03.",
                field="price",
            ) from None
        if not scenario.name:
            raise InputError(
                f"价格情景“{value}”缺少名称。",
                f"Price scenario '{value}' has no name.",
                field="price",
            )
        if len({s.name for s in scenarios} | {scenario.name}) == len(scenarios):
            raise InputError(
                f"价格情景“{scenario.name}”重复。",
                f"Price scenario '{scenario.name}' is given twice.",
                field="price",
            )
        scenario.check()
        scenarios.append(scenario)
    return scenarios or None


def study_upload(
    services_: Services,
    actor: Actor,
    path: FilePath,
    options: StudyOptions,
    *,
    rules_path: FilePath | None = None,
    costs_path: FilePath | None = None,
    read_options: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    default_name: str | None = None,
) -> Any:
    """Run :func:`tanhui.develop.study.study_file` on a saved upload. With ``project_id`` the
    candidate project is that library project's sub-compartments (and its name); without a
    name, ``default_name`` (in the request's language)."""
    from tanhui.develop.study import CCER_SCHEMES, Selection, study_file

    ids = options.ids
    name = options.name
    losses = None
    if options.project_id is not None:
        project = services_.library.get_project(actor, options.project_id)
        ids = tuple(s.subcompartment_id for s in project.subcompartments)
        name = name or project.name
        # the project's recorded losses calibrate the Monte Carlo's hazards
        losses = services_.losses.risk_inputs(actor, project_id=project.id) or None
        if not ids:
            raise InputError(
                f"项目库项目 {project.id} 还没有小班。",
                f"Library project {project.id} has no sub-compartments yet.",
                field="project_id",
            )
    years = options.crediting_years or (30 if options.scheme in CCER_SCHEMES else 20)
    claimed = (
        registered_ids(services_.ledger, options.start_year, years, options.region_code)
        if options.check_registry
        else None
    )
    return study_file(
        path,
        options.scheme,
        costs_file=costs_path,
        read_options=read_options or {},
        progress=progress,
        name=name or default_name,
        selection=Selection(ids=ids, villages=options.villages, owners=options.owners),
        rules_file=rules_path,
        registered_ids=claimed,
        start_year=options.start_year,
        crediting_years=options.crediting_years,
        monitoring_interval=options.monitoring_interval,
        first_verification_after=options.first_verification_after,
        issuance_lag=options.issuance_lag,
        prices=price_scenarios(options.prices),
        discount_rate=options.discount_rate,
        buffer_share=options.buffer_share,
        growth_family=options.growth_family,
        paths=options.paths,
        seed=options.seed,
        with_map=options.with_map,
        loss_history=losses,
    )


def _study_out(request: Request, store: ResultStore, token: str, study: Any, lang: Lang) -> Any:
    doc = study.to_dict(lang)
    doc["screening"].pop("by_owner", None)  # thousands of holders: see the screening
    doc = _finite(doc)
    doc["id"] = token
    doc["expires_at"] = store.expiry(token)
    base = f"/feasibility-studies/{token}"
    doc["links"] = _links(
        request,
        base,
        {fmt: f"{base}/report.{fmt}" for fmt in ("html", "pdf", "xlsx")},
    )
    return FeasibilityOut.model_validate(doc)


IdsForm = Annotated[
    str | None,
    Form(
        max_length=5_000_000,
        pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$",
        description="项目小班号，每行一个 / the project's sub-compartment ids, one per line",
    ),
]
NameListForm = Annotated[
    list[Annotated[str, Form(max_length=200)]] | None,
    Form(description="可多次 / repeatable"),
]


@router.post(
    "/feasibility-studies",
    response_model=FeasibilityOut,
    status_code=status.HTTP_201_CREATED,
    summary="可行性分析（上传清查文件）/ a feasibility study of an uploaded inventory",
    responses=_UPLOAD,
)
def feasibility(
    request: Request,
    actor: ActorDep,
    lang: LangDep,
    store: StoreDep,
    services_: ServicesDep,
    file: InventoryFile,
    scheme: SchemeForm = "smcer",
    rules: RulesFile = None,
    costs: Annotated[
        UploadFile | None,
        File(description="成本表 TOML/CSV（覆盖默认值）/ cost table overrides (TOML or CSV)"),
    ] = None,
    name: Annotated[
        str | None,
        Form(min_length=1, max_length=300, pattern=r"^[^\x00-\x1f\x7f]+$", description="项目名称"),
    ] = None,
    project_id: Annotated[
        int | None,
        Form(ge=1, le=MAX_ID, description="项目库项目：取其小班 / a library project's land"),
    ] = None,
    ids: IdsForm = None,
    village: NameListForm = None,
    owner: NameListForm = None,
    start_year: StartYearForm = None,
    crediting_years: CreditingYearsForm = None,
    monitoring_interval: Annotated[int, Form(ge=1, le=30)] = 5,
    first_verification_after: Annotated[int, Form(ge=1, le=50)] = 5,
    issuance_lag: Annotated[int, Form(ge=0, le=10)] = 1,
    price: Annotated[
        list[Annotated[str, Form(max_length=100)]] | None,
        Form(description="价格情景 名称=元/吨[@年增长率]，可多次 / NAME=YUAN[@GROWTH], repeatable"),
    ] = None,
    discount_rate: Annotated[float, Form(ge=0, le=1, allow_inf_nan=False)] = 0.08,
    buffer_share: Annotated[float, Form(ge=0, le=0.99, allow_inf_nan=False)] = 0.0,
    growth_family: Annotated[
        Literal["richards", "schumacher", "none"],
        Form(description="生长模型（none：默认速率）/ growth model (none: default rates)"),
    ] = "richards",
    paths: Annotated[
        int, Form(ge=0, le=MAX_PATHS, description="蒙特卡洛路径数，0 不做风险 / Monte Carlo paths")
    ] = 10_000,
    seed: Annotated[int, Form(ge=0, le=2**32 - 1, description="随机种子 / random seed")] = 0,
    with_map: Annotated[bool, Form(description="报告含小班地图 / a map in the report")] = True,
    check_registry: CheckRegistryForm = True,
    region_code: RegionForm = None,
    encoding: EncodingForm = None,
    area_unit: AreaUnitForm = None,
    layer: LayerForm = None,
) -> Any:
    """Screening → ex-ante tonnes over the crediting period → cash flows under each price
    scenario (NPV, IRR, payback, per 亩, sensitivity) → Monte Carlo risk (P10/P50/P90, the
    probability of a loss, a recommended buffer). The candidate project is every eligible
    sub-compartment, or those of ``project_id``, ``ids``, ``village`` or ``owner``. The report
    (HTML, PDF, Excel) is under ``links.downloads`` for an hour."""
    _check_length(request, MAX_INVENTORY_BYTES)
    options = StudyOptions(
        scheme=scheme,
        name=name,
        project_id=project_id,
        ids=tuple(x.strip() for x in (ids or "").splitlines() if x.strip()),
        villages=tuple(v for v in village or () if v.strip()),
        owners=tuple(o for o in owner or () if o.strip()),
        start_year=start_year,
        crediting_years=crediting_years,
        monitoring_interval=monitoring_interval,
        first_verification_after=first_verification_after,
        issuance_lag=issuance_lag,
        prices=tuple(price or ()),
        discount_rate=discount_rate,
        buffer_share=buffer_share,
        growth_family=None if growth_family == "none" else growth_family,
        paths=paths,
        seed=seed,
        with_map=with_map,
        check_registry=check_registry,
        region_code=region_code,
    )
    with upload_folder() as folder:
        path = save_upload(file, folder, "file", INVENTORY_SUFFIXES, MAX_INVENTORY_BYTES)
        rules_path = (
            save_upload(rules, folder, "rules", {".toml"}, MAX_SIDE_FILE_BYTES)
            if rules is not None and rules.filename
            else None
        )
        costs_path = (
            save_upload(costs, folder, "costs", {".toml", ".csv"}, MAX_SIDE_FILE_BYTES)
            if costs is not None and costs.filename
            else None
        )
        study = study_upload(
            services_,
            actor,
            path,
            options,
            rules_path=rules_path,
            costs_path=costs_path,
            read_options=read_options_of(encoding, area_unit, layer),
            default_name=pick("候选项目", "Candidate project", lang),
        )
    token, _ = store.put("study", actor, study)
    return _study_out(request, store, token, study, lang)


@router.get(
    "/feasibility-studies/{study_id}",
    response_model=FeasibilityOut,
    summary="可行性结果 / a feasibility study",
    responses=_READ,
)
def get_feasibility(
    study_id: ResultId, request: Request, actor: ActorDep, lang: LangDep, store: StoreDep
) -> Any:
    study = store.get("study", actor, study_id)
    return _study_out(request, store, study_id, study, lang)


def report_html(study: Any, lang: Lang) -> str:
    from tanhui.develop.report import render_html

    return render_html(study, lang)


def report_pdf(study: Any, lang: Lang) -> bytes:
    from tanhui.develop.report import render_pdf

    return render_pdf(study, lang)


def report_xlsx(study: Any, lang: Lang) -> bytes:
    from tanhui.develop.report import render_xlsx

    with tempfile.TemporaryDirectory(prefix="tanhui-report-") as tmp:
        path = FilePath(tmp) / "report.xlsx"
        render_xlsx(study, path, lang)
        return path.read_bytes()


#: The standalone report has its CSS inline and no script: it may style itself, nothing more.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; "
    "base-uri 'none'; form-action 'none'"
)


def report_filenames(study: Any, study_id: str, suffix: str) -> tuple[str, str]:
    safe = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "_", str(study.name))[:80] or "report"
    return f"可行性报告-{safe}{suffix}", f"feasibility-{study_id[:8]}{suffix}"


@router.get(
    "/feasibility-studies/{study_id}/report.html",
    response_class=Response,
    summary="可行性报告（HTML）/ the feasibility report (HTML)",
    responses={200: {"description": "HTML", "content": {"text/html": {}}}, **_READ},
)
def feasibility_report_html(
    study_id: ResultId, actor: ActorDep, lang: LangDep, store: StoreDep
) -> HTMLResponse:
    """The report as one standalone document (CSS and SVG charts inline; works offline)."""
    study = store.get("study", actor, study_id)
    return HTMLResponse(report_html(study, lang), headers={"Content-Security-Policy": REPORT_CSP})


@router.get(
    "/feasibility-studies/{study_id}/report.pdf",
    response_class=Response,
    summary="可行性报告（PDF）/ the feasibility report (PDF)",
    responses={
        200: {
            "description": "PDF",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        },
        **_READ,
    },
)
def feasibility_report_pdf(
    study_id: ResultId, actor: ActorDep, lang: LangDep, store: StoreDep
) -> Response:
    study = store.get("study", actor, study_id)
    return Response(
        report_pdf(study, lang),
        media_type="application/pdf",
        headers={"Content-Disposition": attachment(*report_filenames(study, study_id, ".pdf"))},
    )


@router.get(
    "/feasibility-studies/{study_id}/report.xlsx",
    response_class=Response,
    summary="可行性报告（Excel）/ the feasibility report (Excel)",
    responses={**_XLSX, **_READ},
)
def feasibility_report_xlsx(
    study_id: ResultId, actor: ActorDep, lang: LangDep, store: StoreDep
) -> Response:
    study = store.get("study", actor, study_id)
    return Response(
        report_xlsx(study, lang),
        media_type=XLSX_TYPE,
        headers={"Content-Disposition": attachment(*report_filenames(study, study_id, ".xlsx"))},
    )


# --------------------------------------------------------------------------- project library


def project_view(view: Any, lang: Lang, *, full: bool = True) -> dict[str, Any]:
    """A :class:`~tanhui.develop.library.DevProjectView` as the API shows it."""
    from tanhui.develop.lifecycle import STAGE_LABELS, Stage

    out = {
        "id": view.id,
        "name": view.name,
        "scheme": view.scheme,
        "methodology": view.methodology,
        "region_code": view.region_code,
        "county": view.county,
        "owner_organisation_id": view.owner_organisation_id,
        "owner_name": view.owner_name,
        "stage": view.stage,
        "stage_label": pick(*STAGE_LABELS[Stage(view.stage)], lang),
        "next_stages": list(view.next_stages),
        "crediting_start": view.crediting_start,
        "crediting_end": view.crediting_end,
        "registry_project_id": view.registry_project_id,
        "subcompartment_count": len(view.subcompartments),
        "area_ha": view.area_ha,
        "created_at": view.created_at,
        "updated_at": view.updated_at,
    }
    if full:
        out["notes"] = view.notes
        out["subcompartments"] = [
            {"subcompartment_id": s.subcompartment_id, "area_ha": s.area_ha}
            for s in view.subcompartments
        ]
    return out


def _document_out(request: Request, view: Any) -> DocumentOut:
    base = str(request.base_url).rstrip("/") + router.prefix
    return DocumentOut.model_validate({**vars(view), "download_url": f"{base}/documents/{view.id}"})


StageQuery = Annotated[
    Literal[
        "candidate",
        "feasibility",
        "design",
        "validation",
        "registered",
        "monitoring",
        "issued",
        "closed",
        "withdrawn",
    ]
    | None,
    Query(description="只列该阶段 / only this stage"),
]


@router.get(
    "/projects",
    response_model=Page[DevProjectSummaryOut],
    summary="项目库 / the project library",
    responses=_READ,
)
def list_projects(
    actor: ActorDep,
    services_: ServicesDep,
    lang: LangDep,
    page: PageDep,
    request: Request,
    stage: StageQuery = None,
    scheme: Annotated[
        str | None,
        Query(pattern=r"^[A-Za-z]{2,6}$", description="只列该机制 / only this scheme"),
    ] = None,
    region_code: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9]{2}([0-9]{2}([0-9]{2})?)?$",
            description="省（35）、市（3504）或县（350421）/ a province, prefecture or county",
        ),
    ] = None,
    owner_organisation_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Page[DevProjectSummaryOut]:
    """Library projects by id; a holder sees its own organisation's only."""
    items, total = services_.library.list_projects(
        actor,
        region_code=region_code,
        stage=stage,
        scheme=scheme,
        owner_organisation_id=owner_organisation_id,
        limit=page.limit,
        offset=page.offset,
    )
    out = [DevProjectSummaryOut.model_validate(project_view(p, lang, full=False)) for p in items]
    return Page[DevProjectSummaryOut].build(out, total, page, request)


@router.post(
    "/projects",
    response_model=DevProjectOut,
    status_code=status.HTTP_201_CREATED,
    summary="新建项目库项目 / add a project to the library",
    responses=_BODY,
)
def create_project(
    body: DevProjectIn, actor: ActorDep, services_: ServicesDep, lang: LangDep
) -> DevProjectOut:
    """A candidate project; the owner is the caller's organisation unless named."""
    with _guard():
        view = services_.library.create_project(
            actor,
            name=body.name,
            scheme=body.scheme,
            methodology=body.methodology,
            region_code=body.region_code,
            county=body.county,
            owner_organisation_id=body.owner_organisation_id,
            subcompartments=[(s.id, s.area_ha) for s in body.subcompartments],
            crediting_start=body.crediting_start,
            crediting_end=body.crediting_end,
            notes=body.notes,
        )
    return DevProjectOut.model_validate(project_view(view, lang))


@router.get(
    "/projects/{project_id}",
    response_model=DevProjectOut,
    summary="项目库项目 / a library project",
    responses=_READ,
)
def get_project(
    project_id: ProjectId, actor: ActorDep, services_: ServicesDep, lang: LangDep
) -> DevProjectOut:
    return DevProjectOut.model_validate(
        project_view(services_.library.get_project(actor, project_id), lang)
    )


@router.patch(
    "/projects/{project_id}",
    response_model=DevProjectOut,
    summary="修改项目库项目 / change a library project",
    responses=_BODY,
)
def update_project(
    project_id: ProjectId,
    body: DevProjectPatch,
    actor: ActorDep,
    services_: ServicesDep,
    lang: LangDep,
) -> DevProjectOut:
    """Change the members given (``subcompartments`` replaces the list). From ``registered`` on
    the boundary is fixed (409); a closed or withdrawn project does not change."""
    from tanhui.develop.library import UNSET

    values: dict[str, Any] = {}
    for name in body.model_fields_set:
        value = getattr(body, name)
        if name == "subcompartments":
            value = [(s.id, s.area_ha) for s in value]
        values[name] = value
    with _guard():
        view = services_.library.update_project(
            actor, project_id, **{k: values.get(k, UNSET) for k in DevProjectPatch.model_fields}
        )
    return DevProjectOut.model_validate(project_view(view, lang))


@router.post(
    "/projects/{project_id}/advance",
    response_model=DevProjectOut,
    summary="进入下一阶段 / move to the next stage",
    responses=_BODY,
)
def advance_project(
    project_id: ProjectId,
    actor: ActorDep,
    services_: ServicesDep,
    lang: LangDep,
    body: AdvanceIn | None = None,
) -> DevProjectOut:
    """candidate → feasibility → design → validation → registered → monitoring → issued →
    closed; registration, issuance and closure are the forestry regulator's (403 otherwise)."""
    view = services_.library.advance(actor, project_id, note=body.note if body else "")
    return DevProjectOut.model_validate(project_view(view, lang))


@router.post(
    "/projects/{project_id}/move",
    response_model=DevProjectOut,
    summary="转到指定阶段 / move to a given stage",
    responses=_BODY,
)
def move_project(
    project_id: ProjectId, body: MoveIn, actor: ActorDep, services_: ServicesDep, lang: LangDep
) -> DevProjectOut:
    """Any step the lifecycle allows (e.g. validation → design after the validator's findings,
    issued → monitoring for the next period); 409 with the stages allowed otherwise."""
    view = services_.library.move(actor, project_id, body.to, note=body.note)
    return DevProjectOut.model_validate(project_view(view, lang))


@router.post(
    "/projects/{project_id}/withdraw",
    response_model=DevProjectOut,
    summary="撤销项目 / withdraw a project",
    responses=_BODY,
)
def withdraw_project(
    project_id: ProjectId,
    body: WithdrawIn,
    actor: ActorDep,
    services_: ServicesDep,
    lang: LangDep,
) -> DevProjectOut:
    view = services_.library.withdraw(actor, project_id, reason=body.reason)
    return DevProjectOut.model_validate(project_view(view, lang))


@router.get(
    "/projects/{project_id}/history",
    response_model=Page[StageChangeOut],
    summary="阶段历史 / stage history",
    responses=_READ,
)
def project_history(
    project_id: ProjectId,
    actor: ActorDep,
    services_: ServicesDep,
    lang: LangDep,
    page: PageDep,
    request: Request,
) -> Page[StageChangeOut]:
    """Every stage change, oldest first (the first is the creation)."""
    from tanhui.develop.lifecycle import STAGE_LABELS, Stage

    items = [
        StageChangeOut.model_validate(
            {**vars(h), "to_stage_label": pick(*STAGE_LABELS[Stage(h.to_stage)], lang)}
        )
        for h in services_.library.history(actor, project_id)
    ]
    return _page(items, page, request)


@router.post(
    "/projects/{project_id}/registry-link",
    response_model=DevProjectOut,
    summary="关联登记簿项目 / link the registry project",
    responses=_BODY,
)
def link_registry_project(
    project_id: ProjectId,
    body: RegistryLinkIn,
    actor: ActorDep,
    services_: ServicesDep,
    lang: LangDep,
) -> DevProjectOut:
    """From ``validation`` on: the registry project of the same owner, county and scheme."""
    with _guard():
        view = services_.library.link_registry_project(actor, project_id, body.registry_project_id)
    return DevProjectOut.model_validate(project_view(view, lang))


@router.get(
    "/projects/{project_id}/documents",
    response_model=Page[DocumentOut],
    summary="项目文件 / a project's documents",
    responses=_READ,
)
def list_documents(
    project_id: ProjectId,
    actor: ActorDep,
    services_: ServicesDep,
    page: PageDep,
    request: Request,
) -> Page[DocumentOut]:
    """Oldest first; the scans of authorizations only for roles that view rights holders."""
    docs = services_.library.list_documents(actor, project_id)
    return _page([_document_out(request, d) for d in docs], page, request)


@router.post(
    "/projects/{project_id}/documents",
    response_model=DocumentOut,
    status_code=status.HTTP_201_CREATED,
    summary="上传项目文件 / upload a document",
    responses=_UPLOAD,
)
def attach_document(
    project_id: ProjectId,
    request: Request,
    actor: ActorDep,
    services_: ServicesDep,
    file: Annotated[UploadFile, File(description="PDF、JPEG、PNG 或 TIFF / a scan")],
    kind: Annotated[DocumentKind, Form(description="文件类别 / document kind")] = "other",
    note: Annotated[
        str, Form(max_length=2000, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")
    ] = "",
    authorization_id: Annotated[
        int | None, Form(ge=1, le=MAX_ID, description="所属授权 / the authorization it belongs to")
    ] = None,
) -> DocumentOut:
    """A scanned document (PDF or image, checked by its bytes) for the project or one of its
    authorizations; kept with its sha256."""
    from tanhui.develop.library import DOCUMENT_MAX_BYTES, DocumentUpload

    _check_length(request, DOCUMENT_MAX_BYTES)
    content = read_document(file, "file", DOCUMENT_MAX_BYTES)
    with _guard():
        view = services_.library.attach_document(
            actor,
            project_id,
            DocumentUpload(file.filename or "document", content, file.content_type, kind, note),
            authorization_id=authorization_id,
        )
    return _document_out(request, view)


_DOCUMENT_TYPES = ("application/pdf", "image/jpeg", "image/png", "image/tiff")


@router.get(
    "/documents/{document_id}",
    response_class=Response,
    summary="下载文件 / download a document",
    responses={
        200: {
            "description": "PDF 或图片 / the PDF or image",
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}} for t in _DOCUMENT_TYPES
            },
        },
        **_READ,
    },
)
def download_document(document_id: DocumentId, actor: ActorDep, services_: ServicesDep) -> Response:
    """The stored bytes, checked against their size and sha256 (503 if damaged)."""
    view, content = services_.library.download_document(actor, document_id)
    return Response(
        content,
        media_type=view.media_type,
        headers={
            "Content-Disposition": attachment(
                view.filename, f"document-{view.id}{document_suffix(view)}"
            ),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Digest": f"sha-256={view.sha256}",
        },
    )


def document_suffix(view: Any) -> str:
    return {
        "application/pdf": ".pdf",
        "image/jpeg": ".jpg",
        "image/png": ".png",
        "image/tiff": ".tif",
    }.get(view.media_type, "")


def county_stats_out(stats: Any) -> dict[str, Any]:
    return {
        "region_code": stats.region_code,
        "county": stats.county,
        "projects": stats.projects,
        "area_ha": stats.area_ha,
        "by_stage": {k: vars(v) for k, v in stats.by_stage.items()},
        "by_scheme": {k: vars(v) for k, v in stats.by_scheme.items()},
        "open": stats.open,
        "reserve": stats.reserve,
        "reserve_min": stats.reserve_min,
        "below_reserve": stats.below_reserve,
    }


@router.get(
    "/stats/counties/{region_code}",
    response_model=CountyStatsOut,
    summary="县项目库统计 / a county's library statistics",
    responses=_READ,
)
def county_stats(
    region_code: Annotated[str, Path(pattern=r"^[0-9]{6}$", examples=["350499"])],
    actor: ActorDep,
    services_: ServicesDep,
) -> CountyStatsOut:
    """Projects and area by stage and scheme, and the reserve (projects not yet registered)
    against the minimum of 2."""
    return CountyStatsOut.model_validate(
        county_stats_out(services_.library.county_stats(actor, region_code))
    )


@router.get(
    "/stats/provinces/{province}",
    response_model=ProvinceStatsOut,
    summary="省项目库统计 / a province's library statistics",
    responses=_READ,
)
def province_stats(
    province: Annotated[str, Path(pattern=r"^[0-9]{2}(0000)?$", examples=["35"])],
    actor: ActorDep,
    services_: ServicesDep,
    counties: Annotated[
        list[Annotated[str, Query(pattern=r"^[0-9]{6}$")]] | None,
        Query(
            max_length=500,
            description="另计这些县（即使还没有项目）/ also these counties (even without projects)",
        ),
    ] = None,
) -> ProvinceStatsOut:
    """Per county, and the counties whose reserve is below the minimum."""
    stats = services_.library.province_stats(actor, province, counties=counties or ())
    return ProvinceStatsOut.model_validate(
        {
            "province_code": stats.province_code,
            "projects": stats.projects,
            "area_ha": stats.area_ha,
            "by_stage": {k: vars(v) for k, v in stats.by_stage.items()},
            "by_scheme": {k: vars(v) for k, v in stats.by_scheme.items()},
            "counties": [county_stats_out(c) for c in stats.counties],
            "reserve_min": stats.reserve_min,
            "below_reserve": [county_stats_out(c) for c in stats.below_reserve],
        }
    )


# ------------------------------------------------------------------------------------ pooling


def holder_out(view: Any, lang: Lang) -> HolderOut:
    from tanhui.develop.pooling import HOLDER_KIND_LABELS

    return HolderOut.model_validate(
        {
            **{k: v for k, v in vars(view).items() if k != "parcels"},
            "kind_label": _label(HOLDER_KIND_LABELS, view.kind, lang),
            "parcels": [vars(p) for p in view.parcels],
        }
    )


@router.get(
    "/holders",
    response_model=Page[HolderOut],
    summary="权利人 / rights holders",
    responses=_READ,
)
def list_holders(
    actor: ActorDep,
    services_: ServicesDep,
    lang: LangDep,
    page: PageDep,
    request: Request,
    village: Annotated[
        str | None, Query(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
    ] = None,
    region_code: Annotated[str | None, Query(pattern=r"^[0-9]{6}$")] = None,
    kind: Annotated[HolderKind | None, Query()] = None,
) -> Page[HolderOut]:
    """Households, collectives, state farms and companies with their parcels (id numbers
    masked); a holder organisation sees those it pools."""
    items, total = services_.pooling.list_holders(
        actor,
        village=village,
        region_code=region_code,
        kind=kind,
        limit=page.limit,
        offset=page.offset,
    )
    return Page[HolderOut].build([holder_out(h, lang) for h in items], total, page, request)


@router.post(
    "/holders",
    response_model=HolderOut,
    status_code=status.HTTP_201_CREATED,
    summary="登记权利人 / record a rights holder",
    responses=_BODY,
)
def register_holder(
    body: HolderIn, actor: ActorDep, services_: ServicesDep, lang: LangDep
) -> HolderOut:
    with _guard():
        view = services_.pooling.register_holder(actor, **body.model_dump())
    return holder_out(view, lang)


@router.get(
    "/holders/{holder_id}",
    response_model=HolderOut,
    summary="权利人 / a rights holder",
    responses=_READ,
)
def get_holder(
    holder_id: HolderId, actor: ActorDep, services_: ServicesDep, lang: LangDep
) -> HolderOut:
    return holder_out(services_.pooling.get_holder(actor, holder_id), lang)


@router.post(
    "/holders/{holder_id}/parcels",
    response_model=ParcelOut,
    status_code=status.HTTP_201_CREATED,
    summary="登记地块 / record a parcel",
    responses=_BODY,
)
def add_parcel(
    holder_id: HolderId, body: ParcelIn, actor: ActorDep, services_: ServicesDep
) -> ParcelOut:
    """A holder's parcel: a sub-compartment (or its part) of a county, and its area."""
    with _guard():
        view = services_.pooling.add_parcel(actor, holder_id, **body.model_dump())
    return ParcelOut.model_validate(vars(view))


def authorization_out(request: Request, view: Any) -> AuthorizationOut:
    return AuthorizationOut.model_validate(
        {
            **{k: v for k, v in vars(view).items() if k != "documents"},
            "documents": [_document_out(request, d) for d in view.documents],
        }
    )


@router.get(
    "/projects/{project_id}/authorizations",
    response_model=Page[AuthorizationOut],
    summary="项目的授权 / a project's authorizations",
    responses=_READ,
)
def list_authorizations(
    project_id: ProjectId,
    actor: ActorDep,
    services_: ServicesDep,
    page: PageDep,
    request: Request,
    holder_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    on: OnQuery = None,
) -> Page[AuthorizationOut]:
    """Oldest first, each with its status on ``on``: valid, not yet valid, expired or revoked."""
    items = services_.pooling.list_authorizations(actor, project_id, holder_id=holder_id, on=on)
    return _page([authorization_out(request, a) for a in items], page, request)


@router.post(
    "/projects/{project_id}/authorizations",
    response_model=AuthorizationOut,
    status_code=status.HTTP_201_CREATED,
    summary="登记授权（可附扫描件）/ record an authorization (with its scan)",
    responses=_UPLOAD,
)
def record_authorization(
    project_id: ProjectId,
    request: Request,
    actor: ActorDep,
    services_: ServicesDep,
    holder_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    signatory: Annotated[str, Form(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")],
    signed_on: Annotated[dt.date, Form(ge=DAY_MIN, le=DAY_MAX)],
    valid_from: Annotated[dt.date | None, Form(ge=DAY_MIN, le=DAY_MAX)] = None,
    expires_on: Annotated[dt.date | None, Form(ge=DAY_MIN, le=DAY_MAX)] = None,
    term_years: Annotated[int | None, Form(ge=1, le=99, description="授权年限 / term")] = None,
    share_bp: Annotated[
        int | None, Form(ge=0, le=10_000, description="约定分成（万分比）/ agreed share")
    ] = None,
    parcel_id: Annotated[int | None, Form(ge=1, le=MAX_ID, description="只授权该地块")] = None,
    note: Annotated[
        str, Form(max_length=2000, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")
    ] = "",
    document: Annotated[
        UploadFile | None, File(description="授权书扫描件 PDF/图片 / the scanned consent")
    ] = None,
) -> AuthorizationOut:
    """A holder's consent (授权) for the project — all its parcels in it, or ``parcel_id`` —
    with signatory, date, term (``expires_on`` or ``term_years``), agreed share and, in the same
    transaction, its scanned document."""
    from tanhui.develop.library import DOCUMENT_MAX_BYTES, DocumentUpload

    _check_length(request, DOCUMENT_MAX_BYTES)
    upload = None
    if document is not None and document.filename:
        content = read_document(document, "document", DOCUMENT_MAX_BYTES)
        upload = DocumentUpload(
            document.filename, content, document.content_type, "authorization", ""
        )
    with _guard():
        view = services_.pooling.record_authorization(
            actor,
            project_id,
            holder_id=holder_id,
            signatory=signatory,
            signed_on=signed_on,
            valid_from=valid_from,
            expires_on=expires_on,
            term_years=term_years,
            share_bp=share_bp,
            parcel_id=parcel_id,
            note=note,
            document=upload,
        )
    return authorization_out(request, view)


@router.post(
    "/authorizations/{authorization_id}/revoke",
    response_model=AuthorizationOut,
    summary="撤回授权 / record that a consent was withdrawn",
    responses=_BODY,
)
def revoke_authorization(
    authorization_id: AuthorizationId,
    body: RevokeIn,
    actor: ActorDep,
    services_: ServicesDep,
    request: Request,
) -> AuthorizationOut:
    view = services_.pooling.revoke_authorization(
        actor, authorization_id, revoked_on=body.revoked_on, reason=body.reason
    )
    return authorization_out(request, view)


def consent_gap_out(gap: Any, lang: Lang) -> ConsentGapOut:
    from tanhui.develop.pooling import GAP_REASON_LABELS

    return ConsentGapOut.model_validate(
        {
            "dev_project_id": gap.dev_project_id,
            "on": gap.on,
            "complete": gap.complete,
            "parcels": [
                {**vars(p), "reason_label": _label(GAP_REASON_LABELS, p.reason, lang)}
                for p in gap.parcels
            ],
            "unowned": [vars(s) for s in gap.unowned],
            "parcels_total": gap.parcels_total,
            "area_total_ha": gap.area_total_ha,
            "area_covered_ha": gap.area_covered_ha,
            "counts": {r: gap.count(r) for r in ("missing", "expired", "revoked")},
        }
    )


@router.get(
    "/projects/{project_id}/consent-gap",
    response_model=ConsentGapOut,
    summary="尚缺授权的地块 / parcels still lacking consent",
    responses=_READ,
)
def consent_gap(
    project_id: ProjectId,
    actor: ActorDep,
    services_: ServicesDep,
    lang: LangDep,
    on: OnQuery = None,
) -> ConsentGapOut:
    """Parcels without a valid authorization on ``on`` (missing, expired, revoked) and the
    project's sub-compartments with no recorded holder."""
    return consent_gap_out(services_.pooling.consent_gap(actor, project_id, on=on), lang)


def sharing_rule_out(rule: Any, lang: Lang) -> SharingRuleOut:
    from tanhui.develop.sharing import METHOD_LABELS

    return SharingRuleOut.model_validate(
        {**rule.as_dict(), "method_label": _label(METHOD_LABELS, rule.method, lang)}
    )


@router.get(
    "/projects/{project_id}/sharing-rule",
    response_model=SharingRuleOut,
    summary="收益分配规则 / the revenue-sharing rule",
    responses=_READ,
)
def get_sharing_rule(
    project_id: ProjectId, actor: ActorDep, services_: ServicesDep, lang: LangDep
) -> SharingRuleOut:
    """``by_area`` until one is set."""
    return sharing_rule_out(services_.pooling.sharing_rule(actor, project_id), lang)


@router.put(
    "/projects/{project_id}/sharing-rule",
    response_model=SharingRuleOut,
    summary="设定收益分配规则 / set the revenue-sharing rule",
    responses=_BODY,
)
def set_sharing_rule(
    project_id: ProjectId,
    body: SharingRuleIn,
    actor: ActorDep,
    services_: ServicesDep,
    lang: LangDep,
) -> SharingRuleOut:
    """``by_area``, ``by_agreed_share``, or ``fixed_split`` (basis points summing to 10,000
    between holders, the village collective and the developer, then by area)."""
    from tanhui.develop.sharing import SharingRule

    rule = SharingRule(body.method, body.holders_bp, body.collective_bp, body.developer_bp)
    return sharing_rule_out(services_.pooling.set_sharing_rule(actor, project_id, rule), lang)


def payout_out(view: Any) -> PayoutOut:
    return PayoutOut.model_validate(
        {
            **{k: v for k, v in vars(view).items() if k != "lines"},
            "lines": [vars(line) for line in view.lines],
        }
    )


@router.get(
    "/projects/{project_id}/payouts",
    response_model=Page[PayoutOut],
    summary="收益分配记录 / payouts",
    responses=_READ,
)
def list_payouts(
    project_id: ProjectId,
    actor: ActorDep,
    services_: ServicesDep,
    page: PageDep,
    request: Request,
) -> Page[PayoutOut]:
    items = services_.pooling.list_payouts(actor, project_id)
    return _page([payout_out(p) for p in items], page, request)


@router.post(
    "/projects/{project_id}/payouts",
    response_model=PayoutOut,
    status_code=status.HTTP_201_CREATED,
    summary="分配一笔销售收入 / share out a sale's revenue",
    responses=_BODY,
)
def pay_out(
    project_id: ProjectId, body: PayoutIn, actor: ActorDep, services_: ServicesDep
) -> PayoutOut:
    """Among the holders with a valid authorization on the sale date, by the project's rule; the
    amounts (fen) sum exactly to the revenue. A ``reference`` is paid out once (409)."""
    with _guard():
        view = services_.pooling.pay_out(actor, project_id, **body.model_dump())
    return payout_out(view)


# ------------------------------------------------------------------------------------- losses


def loss_event_out(view: Any, lang: Lang) -> LossEventOut:
    from tanhui.develop.losses import HAZARD_LABELS

    return LossEventOut.model_validate(
        {**vars(view), "hazard_label": _label(HAZARD_LABELS, view.hazard, lang)}
    )


@router.get(
    "/projects/{project_id}/loss-events",
    response_model=Page[LossEventOut],
    summary="损失事件 / loss events",
    responses=_READ,
)
def list_loss_events(
    project_id: ProjectId,
    actor: ActorDep,
    services_: ServicesDep,
    lang: LangDep,
    page: PageDep,
    request: Request,
    hazard: Annotated[Hazard | None, Query()] = None,
) -> Page[LossEventOut]:
    items = services_.losses.list_events(actor, project_id, hazard=hazard)
    return _page([loss_event_out(e, lang) for e in items], page, request)


@router.post(
    "/projects/{project_id}/loss-events",
    response_model=LossEventOut,
    status_code=status.HTTP_201_CREATED,
    summary="登记损失事件 / record a loss event",
    responses=_BODY,
)
def record_loss_event(
    project_id: ProjectId,
    body: LossEventIn,
    actor: ActorDep,
    services_: ServicesDep,
    lang: LangDep,
) -> LossEventOut:
    """Fire, pests, illegal logging or another loss on one of the project's sub-compartments:
    the area lost or its share (the other is derived), and the tonnes lost when known."""
    with _guard():
        view = services_.losses.record(actor, project_id, **body.model_dump())
    return loss_event_out(view, lang)


@router.post(
    "/loss-events/{loss_event_id}/reversal",
    response_model=LossEventOut,
    summary="在登记簿中注销损失 / reverse the loss in the registry",
    responses=_BODY,
)
def reverse_loss_event(
    loss_event_id: LossEventId,
    actor: ActorDep,
    services_: ServicesDep,
    lang: LangDep,
    body: ReversalRequestIn | None = None,
) -> LossEventOut:
    """Cancel the lost tonnes in the linked registry project (its buffer first, then the owner's
    active tonnes; all or nothing), once. The forestry regulator's."""
    body = body or ReversalRequestIn()
    view = services_.losses.reverse_in_registry(
        actor, loss_event_id, quantity=body.quantity, reason=body.reason
    )
    return loss_event_out(view, lang)


@router.get(
    "/risk-inputs",
    response_model=Page[RiskInputOut],
    summary="风险模型的损失历史 / loss history for the risk model",
    responses=_READ,
)
def risk_inputs(
    actor: ActorDep,
    services_: ServicesDep,
    page: PageDep,
    request: Request,
    project_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    region_code: Annotated[str | None, Query(pattern=r"^[0-9]{6}$")] = None,
) -> Page[RiskInputOut]:
    """The recorded losses in the risk model's plain form, by date: of one project, a county's
    visible projects, or all visible projects."""
    items = services_.losses.risk_inputs(actor, project_id=project_id, region_code=region_code)
    return _page([RiskInputOut.model_validate(i) for i in items], page, request)
