"""The project library (项目库): a county's and a province's candidate and ongoing projects.

A service over :class:`~tanhui.db.uow.UnitOfWork`, like the registry's
:class:`~tanhui.registry.ledger.Ledger`: every public method checks the actor's roles
(:func:`tanhui.registry.permissions.require`), runs in one transaction and commits, or changes
nothing. The CLI, the REST API and the web pages call the same methods.

Who sees and changes what:

* the forestry regulator (林业主管部门) manages every project; the reading roles (eco-environment
  regulator, verifier, auditor) read every project;
* an actor whose only role granting the action is ``holder`` (a forest farm, a village collective,
  a developer) acts on, and sees, the projects its own organisation owns.

A project moves through :mod:`tanhui.develop.lifecycle` one step at a time; every step is kept in
its stage history (who, when, from, to, note). Documents (scanned PDFs and images) are stored in
the database with their sha256, checked again on every download.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tanhui.db.tables import (
    Authorization,
    DevDocument,
    DevProject,
    DevProjectSubcompartment,
    DevStageChange,
    Organisation,
    Project,
)
from tanhui.db.uow import UnitOfWork
from tanhui.develop import lifecycle
from tanhui.develop.lifecycle import FINAL, OPEN, RESERVE, Stage
from tanhui.errors import (
    ConflictError,
    DatabaseError,
    InputError,
    NotFoundError,
    PermissionDenied,
    StateError,
)
from tanhui.registry.permissions import (
    ACTION_LABELS,
    ALLOWED,
    Action,
    Role,
    allowed,
    require,
    roles_for,
)
from tanhui.registry.serials import SCHEMES

__all__ = [
    "DOCUMENT_KINDS",
    "DOCUMENT_MAX_BYTES",
    "RESERVE_MIN",
    "UNSET",
    "ActorLike",
    "CountyStats",
    "DevProjectView",
    "DocumentUpload",
    "DocumentView",
    "Library",
    "ProvinceStats",
    "StageChangeView",
    "SubcompartmentView",
    "Tally",
]

#: Largest document accepted by default (10 MiB); configurable per service.
DOCUMENT_MAX_BYTES = 10 * 1024 * 1024
DOCUMENT_KINDS = (
    "authorization",  # 授权书
    "tenure_certificate",  # 林权证 / 不动产权证
    "feasibility",  # 可行性研究报告
    "design",  # 项目设计文件
    "validation",  # 审定报告
    "monitoring",  # 监测报告
    "map",  # 图件
    "other",
)
#: A county should keep at least this many projects in reserve (Mingxi: 储备项目不少于 2 个).
RESERVE_MIN = 2
#: China Standard Time: "today" for a Chinese county (no daylight saving).
CST = dt.timezone(dt.timedelta(hours=8), "CST")

_REGION = re.compile(r"^[0-9]{6}$")
#: (media type, leading bytes) of the accepted scans.
_MAGIC: tuple[tuple[str, bytes], ...] = (
    ("application/pdf", b"%PDF-"),
    ("image/jpeg", b"\xff\xd8\xff"),
    ("image/png", b"\x89PNG\r\n\x1a\n"),
    ("image/tiff", b"II*\x00"),
    ("image/tiff", b"MM\x00*"),
)


class ActorLike(Protocol):
    """Who acts (``tanhui.registry.identity.Actor`` or any object with these attributes)."""

    user_id: int | None
    username: str
    organisation_id: int | None
    roles: frozenset[Role]


class _Unset(Enum):
    token = 0


#: "Leave as it is" for :meth:`Library.update_project`.
UNSET = _Unset.token


# ------------------------------------------------------------------------------------ views


@dataclass(frozen=True)
class SubcompartmentView:
    subcompartment_id: str
    area_ha: float


@dataclass(frozen=True)
class DevProjectView:
    id: int
    name: str
    scheme: str
    methodology: str
    region_code: str
    county: str
    owner_organisation_id: int
    owner_name: str
    stage: str
    crediting_start: dt.date | None
    crediting_end: dt.date | None
    registry_project_id: int | None
    notes: str
    subcompartments: tuple[SubcompartmentView, ...]
    area_ha: float
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def next_stages(self) -> tuple[str, ...]:
        """The stages it may move to now."""
        return tuple(s.value for s in lifecycle.allowed_targets(self.stage))


@dataclass(frozen=True)
class StageChangeView:
    id: int
    from_stage: str | None
    to_stage: str
    note: str
    actor: str
    user_id: int | None
    changed_at: dt.datetime


@dataclass(frozen=True)
class DocumentUpload:
    """A file to store: its bytes, its name and (optionally) its declared media type."""

    filename: str
    content: bytes
    media_type: str | None = None
    kind: str = "other"
    note: str = ""


@dataclass(frozen=True)
class DocumentView:
    """A stored document, without its bytes (see :meth:`Library.download_document`)."""

    id: int
    dev_project_id: int
    authorization_id: int | None
    kind: str
    filename: str
    media_type: str
    size_bytes: int
    sha256: str
    note: str
    actor: str
    uploaded_at: dt.datetime


@dataclass(frozen=True)
class Tally:
    count: int = 0
    area_ha: float = 0.0


@dataclass(frozen=True)
class CountyStats:
    """A county's library: counts and areas by stage and by scheme, and its reserve
    (projects not yet registered, :data:`~tanhui.develop.lifecycle.RESERVE`)."""

    region_code: str
    county: str
    projects: int
    area_ha: float
    by_stage: dict[str, Tally]
    by_scheme: dict[str, Tally]
    open: int
    reserve: int
    reserve_min: int

    @property
    def below_reserve(self) -> bool:
        return self.reserve < self.reserve_min


@dataclass(frozen=True)
class ProvinceStats:
    """A province's library (the counties whose code starts with its two digits)."""

    province_code: str
    projects: int
    area_ha: float
    by_stage: dict[str, Tally]
    by_scheme: dict[str, Tally]
    counties: tuple[CountyStats, ...]
    reserve_min: int
    below_reserve: tuple[CountyStats, ...] = field(default=())


# --------------------------------------------------------------------------------- helpers


def actor_ref(actor: ActorLike) -> str:
    """``username#user_id`` (as in the registry's event log), or the username alone."""
    return f"{actor.username}#{actor.user_id}" if actor.user_id is not None else actor.username


def sees_all(actor: ActorLike, action: Action) -> bool:
    """Whether a role other than ``holder`` grants ``action`` (no ownership restriction)."""
    return any(action in ALLOWED[Role(r)] for r in actor.roles if Role(r) is not Role.holder)


def require_owner(actor: ActorLike, owner_organisation_id: int | None, action: Action) -> None:
    """The role check, then: an actor acting only as a holder acts for its own organisation."""
    require(actor.roles, action)
    if sees_all(actor, action):
        return
    if actor.organisation_id is not None and actor.organisation_id == owner_organisation_id:
        return
    act_zh, act_en = ACTION_LABELS[action]
    raise PermissionDenied(
        f"只有项目业主机构可以在此{act_zh}。",
        f"Only the owning organisation may {act_en} here.",
        action=action.value,
        roles=tuple(str(r) for r in actor.roles),
        allowed=tuple(r.value for r in roles_for(action)),
        hint_zh="请由业主机构的账户操作，或请林业主管部门操作。",
        hint_en="Act from an account of the owning organisation, or ask the forestry regulator.",
    )


def area_sum(values: Iterable[float]) -> float:
    """A sum of areas (ha) without float noise: exact summation, rounded to 1e-6 ha (0.01 m²)."""
    return round(math.fsum(values), 6)


def today_cst(clock: Callable[[], dt.datetime]) -> dt.date:
    return clock().astimezone(CST).date()


def not_found(what_zh: str, what_en: str, key: object) -> NotFoundError:
    return NotFoundError(f"找不到{what_zh} {key}。", f"No {what_en} {key}.", kind=what_en, key=key)


def get_project(
    uow: UnitOfWork, actor: ActorLike, project_id: int, action: Action, *, lock: bool = False
) -> DevProject:
    """The project, after the role and ownership checks (locked for update when ``lock``)."""
    require(actor.roles, action)
    stmt = select(DevProject).where(DevProject.id == project_id)
    project = uow.session.scalars(uow.lock_for_update(stmt) if lock else stmt).first()
    if project is None:
        raise not_found("项目库项目", "library project", project_id)
    require_owner(actor, project.owner_organisation_id, action)
    return project


def check_text(
    value: str, field_name: str, label_zh: str, max_len: int, *, blank: bool = False
) -> str:
    if not isinstance(value, str):
        raise InputError(f"{label_zh}应为文本。", f"{field_name} must be text.", field=field_name)
    value = value.strip()
    if (not value and not blank) or len(value) > max_len:
        raise InputError(
            f"{label_zh}{'' if blank else '不能为空，且'}最多 {max_len} 个字符。",
            f"{field_name} {'may' if blank else 'is required and may'} have at most {max_len} "
            "characters.",
            field=field_name,
        )
    return value


def check_region(region_code: str, field_name: str = "region_code") -> str:
    code = (region_code or "").strip() if isinstance(region_code, str) else ""
    if not _REGION.fullmatch(code):
        raise InputError(
            f"行政区划代码“{region_code}”应为 6 位数字。",
            f"The administrative division code “{region_code}” must be 6 digits.",
            field=field_name,
            hint_zh="例如明溪县为 350421。",
            hint_en="For example 350421 (Mingxi County).",
        )
    return code


def check_area(value: Any, field_name: str = "area_ha", *, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(
            f"面积应为数值（公顷），实为 {value!r}。",
            f"The area must be a number of hectares, got {value!r}.",
            field=field_name,
        )
    area = float(value)
    if not math.isfinite(area) or area < 0 or (positive and area == 0):
        raise InputError(
            f"面积应为{'正' if positive else '非负'}数（公顷），实为 {value}。",
            f"The area must be {'positive' if positive else 'non-negative'} (ha), got {value}.",
            field=field_name,
        )
    return area


def _sniff(content: bytes) -> str | None:
    for media_type, magic in _MAGIC:
        if content.startswith(magic):
            return media_type
    return None


def _clean_filename(filename: str) -> str:
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".")
    return name[-255:] or "document"


def store_document(
    session: Session,
    actor: ActorLike,
    project_id: int,
    upload: DocumentUpload,
    *,
    authorization_id: int | None = None,
    max_bytes: int = DOCUMENT_MAX_BYTES,
) -> DevDocument:
    """Check a scan (size, kind, that its bytes are the PDF or image it claims) and add it."""
    content = upload.content
    if not isinstance(content, bytes | bytearray | memoryview):
        raise InputError(
            "文件内容应为字节。", "The document content must be bytes.", field="content"
        )
    content = bytes(content)
    if not content:
        raise InputError("文件为空。", "The document is empty.", field="content")
    if len(content) > max_bytes:
        raise InputError(
            f"文件大小 {len(content):,} 字节，超过上限 {max_bytes:,} 字节。",
            f"The document has {len(content):,} bytes, more than the limit of {max_bytes:,}.",
            field="content",
            hint_zh="请降低扫描分辨率或拆分文件后再上传。",
            hint_en="Scan at a lower resolution, or split the file, and upload again.",
        )
    sniffed = _sniff(content)
    if sniffed is None:
        raise InputError(
            "只接受 PDF、JPEG、PNG 或 TIFF 格式的扫描件。",
            "Only PDF, JPEG, PNG or TIFF scans are accepted.",
            field="media_type",
            hint_zh="请将文件另存为 PDF 或图片后上传。",
            hint_en="Save the file as a PDF or an image and upload it again.",
        )
    declared = (upload.media_type or "").split(";")[0].strip().lower()
    if declared == "image/jpg":
        declared = "image/jpeg"
    if declared and declared != sniffed:
        raise InputError(
            f"文件声明为 {declared}，但内容是 {sniffed}。",
            f"The document is declared as {declared} but its content is {sniffed}.",
            field="media_type",
        )
    if upload.kind not in DOCUMENT_KINDS:
        raise InputError(
            f"未知的文件类别“{upload.kind}”。",
            f"Unknown document kind “{upload.kind}”.",
            field="kind",
            hint_zh=f"可选：{'、'.join(DOCUMENT_KINDS)}",
            hint_en=f"One of: {', '.join(DOCUMENT_KINDS)}",
        )
    document = DevDocument(
        dev_project_id=project_id,
        authorization_id=authorization_id,
        kind=upload.kind,
        filename=_clean_filename(upload.filename),
        media_type=sniffed,
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content_base64=base64.b64encode(content).decode("ascii"),
        note=check_text(upload.note, "note", "备注", 2000, blank=True),
        actor=actor_ref(actor),
        uploaded_by=actor.user_id,
    )
    session.add(document)
    return document


def document_view(doc: DevDocument) -> DocumentView:
    return DocumentView(
        doc.id,
        doc.dev_project_id,
        doc.authorization_id,
        doc.kind,
        doc.filename,
        doc.media_type,
        doc.size_bytes,
        doc.sha256,
        doc.note,
        doc.actor,
        doc.uploaded_at,
    )


def _subcompartments(
    items: Iterable[tuple[str, float]] | Mapping[str, float],
) -> list[tuple[str, float]]:
    pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
    seen: set[str] = set()
    out: list[tuple[str, float]] = []
    for pair in pairs:
        try:
            raw_id, raw_area = pair
        except (TypeError, ValueError):
            raise InputError(
                f"小班应写为（小班号, 面积）：{pair!r}。",
                f"A sub-compartment is (id, area_ha), got {pair!r}.",
                field="subcompartments",
            ) from None
        sub_id = check_text(str(raw_id), "subcompartment_id", "小班号", 64)
        if sub_id in seen:
            raise InputError(
                f"小班 {sub_id} 重复。",
                f"Sub-compartment {sub_id} is listed twice.",
                field="subcompartments",
            )
        seen.add(sub_id)
        out.append((sub_id, check_area(raw_area, f"area_ha of {sub_id}")))
    return out


# ---------------------------------------------------------------------------------- service


class Library:
    """The project library's service layer (one instance per process; no shared state)."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], dt.datetime] | None = None,
        max_document_bytes: int = DOCUMENT_MAX_BYTES,
        reserve_min: int = RESERVE_MIN,
    ) -> None:
        self.engine = engine
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.max_document_bytes = max_document_bytes
        self.reserve_min = reserve_min

    # ---------------------------------------------------------------------------- views

    def _view(self, session: Session, project: DevProject) -> DevProjectView:
        subs = session.scalars(
            select(DevProjectSubcompartment)
            .where(DevProjectSubcompartment.dev_project_id == project.id)
            .order_by(DevProjectSubcompartment.subcompartment_id)
        ).all()
        owner = session.get(Organisation, project.owner_organisation_id)
        return DevProjectView(
            id=project.id,
            name=project.name,
            scheme=project.scheme,
            methodology=project.methodology,
            region_code=project.region_code,
            county=project.county,
            owner_organisation_id=project.owner_organisation_id,
            owner_name=owner.name if owner else "",
            stage=project.stage,
            crediting_start=project.crediting_start,
            crediting_end=project.crediting_end,
            registry_project_id=project.registry_project_id,
            notes=project.notes,
            subcompartments=tuple(SubcompartmentView(s.subcompartment_id, s.area_ha) for s in subs),
            area_ha=area_sum(s.area_ha for s in subs),
            created_at=project.created_at,
            updated_at=project.updated_at,
        )

    # ----------------------------------------------------------------------- validation

    @staticmethod
    def _scheme(scheme: str) -> str:
        value = (scheme or "").strip().upper() if isinstance(scheme, str) else ""
        if value not in SCHEMES:
            raise InputError(
                f"未知的方案“{scheme}”。",
                f"Unknown scheme “{scheme}”.",
                field="scheme",
                hint_zh=f"可选：{'、'.join(sorted(SCHEMES))}",
                hint_en=f"One of: {', '.join(sorted(SCHEMES))}",
            )
        return value

    @staticmethod
    def _period(start: dt.date | None, end: dt.date | None) -> None:
        for value, name in ((start, "crediting_start"), (end, "crediting_end")):
            if value is not None and (
                not isinstance(value, dt.date) or isinstance(value, dt.datetime)
            ):
                raise InputError(f"{name} 应为日期。", f"{name} must be a date.", field=name)
        if start is not None and end is not None and start > end:
            raise InputError(
                f"计入期起始日 {start} 晚于结束日 {end}。",
                f"The crediting period starts ({start}) after it ends ({end}).",
                field="crediting_period",
            )

    # -------------------------------------------------------------------------- create

    def create_project(
        self,
        actor: ActorLike,
        *,
        name: str,
        scheme: str,
        methodology: str,
        region_code: str,
        county: str = "",
        owner_organisation_id: int | None = None,
        subcompartments: Iterable[tuple[str, float]] | Mapping[str, float] = (),
        crediting_start: dt.date | None = None,
        crediting_end: dt.date | None = None,
        notes: str = "",
    ) -> DevProjectView:
        """Add a candidate project to the library (its history starts with "created")."""
        require(actor.roles, Action.manage_dev_projects)
        owner_id = (
            owner_organisation_id if owner_organisation_id is not None else actor.organisation_id
        )
        if owner_id is None:
            raise InputError(
                "请指定项目业主机构。",
                "Name the project's owner organisation.",
                field="owner_organisation_id",
            )
        require_owner(actor, owner_id, Action.manage_dev_projects)
        values = dict(
            name=check_text(name, "name", "项目名称", 300),
            scheme=self._scheme(scheme),
            methodology=check_text(methodology, "methodology", "方法学", 64),
            region_code=check_region(region_code),
            county=check_text(county, "county", "县（区）名称", 100, blank=True),
            notes=check_text(notes, "notes", "备注", 10_000, blank=True),
        )
        self._period(crediting_start, crediting_end)
        subs = _subcompartments(subcompartments)
        with UnitOfWork(self.engine) as uow:
            session = uow.session
            if session.get(Organisation, owner_id) is None:
                raise not_found("机构", "organisation", owner_id)
            now = self.clock()
            project = DevProject(
                **values,
                owner_organisation_id=owner_id,
                stage=Stage.candidate.value,
                crediting_start=crediting_start,
                crediting_end=crediting_end,
                created_by=actor.user_id,
                created_at=now,
                updated_at=now,
            )
            session.add(project)
            session.flush()
            session.add_all(
                DevProjectSubcompartment(dev_project_id=project.id, subcompartment_id=s, area_ha=a)
                for s, a in subs
            )
            session.add(
                DevStageChange(
                    dev_project_id=project.id,
                    from_stage=None,
                    to_stage=Stage.candidate.value,
                    note="创建 / created",
                    actor=actor_ref(actor),
                    user_id=actor.user_id,
                    changed_at=now,
                )
            )
            session.flush()
            view = self._view(session, project)
            uow.commit()
            return view

    # -------------------------------------------------------------------------- update

    def update_project(
        self,
        actor: ActorLike,
        project_id: int,
        *,
        name: str | _Unset = UNSET,
        scheme: str | _Unset = UNSET,
        methodology: str | _Unset = UNSET,
        region_code: str | _Unset = UNSET,
        county: str | _Unset = UNSET,
        subcompartments: Iterable[tuple[str, float]] | Mapping[str, float] | _Unset = UNSET,
        crediting_start: dt.date | _Unset | None = UNSET,
        crediting_end: dt.date | _Unset | None = UNSET,
        notes: str | _Unset = UNSET,
    ) -> DevProjectView:
        """Change what is given (``subcompartments`` replaces the list).

        From ``registered`` on, the boundary (sub-compartments, region, scheme, methodology,
        crediting period) is fixed; a closed or withdrawn project does not change at all.
        """
        with UnitOfWork(self.engine) as uow:
            session = uow.session
            project = get_project(uow, actor, project_id, Action.manage_dev_projects, lock=True)
            stage = Stage(project.stage)
            if stage in FINAL:
                label_zh, label_en = lifecycle.STAGE_LABELS[stage]
                raise StateError(
                    f"项目已{label_zh}，不能再修改。",
                    f"The project is {label_en} and can no longer be changed.",
                    state=stage.value,
                    action="update",
                    allowed_from=tuple(s.value for s in Stage if s in OPEN),
                )
            boundary = {
                "scheme": scheme,
                "methodology": methodology,
                "region_code": region_code,
                "subcompartments": subcompartments,
                "crediting_start": crediting_start,
                "crediting_end": crediting_end,
            }
            fixed = Stage(project.stage) not in RESERVE
            changed = [k for k, v in boundary.items() if v is not UNSET]
            if fixed and changed:
                raise StateError(
                    f"项目已登记，边界（{'、'.join(changed)}）不能再修改。",
                    f"The project is registered; its boundary ({', '.join(changed)}) is fixed.",
                    state=project.stage,
                    action="update",
                    allowed_from=tuple(s.value for s in Stage if s in RESERVE),
                    hint_zh="如边界有变，请撤销后新建项目。",
                    hint_en="If the boundary changes, withdraw it and create a new project.",
                )
            if not isinstance(name, _Unset):
                project.name = check_text(name, "name", "项目名称", 300)
            if not isinstance(scheme, _Unset):
                project.scheme = self._scheme(scheme)
            if not isinstance(methodology, _Unset):
                project.methodology = check_text(methodology, "methodology", "方法学", 64)
            if not isinstance(region_code, _Unset):
                project.region_code = check_region(region_code)
            if not isinstance(county, _Unset):
                project.county = check_text(county, "county", "县（区）名称", 100, blank=True)
            if not isinstance(notes, _Unset):
                project.notes = check_text(notes, "notes", "备注", 10_000, blank=True)
            start = (
                project.crediting_start if isinstance(crediting_start, _Unset) else crediting_start
            )
            end = project.crediting_end if isinstance(crediting_end, _Unset) else crediting_end
            self._period(start, end)
            project.crediting_start, project.crediting_end = start, end
            if not isinstance(subcompartments, _Unset):
                subs = _subcompartments(subcompartments)
                for row in session.scalars(
                    select(DevProjectSubcompartment).where(
                        DevProjectSubcompartment.dev_project_id == project.id
                    )
                ).all():
                    session.delete(row)
                session.flush()
                session.add_all(
                    DevProjectSubcompartment(
                        dev_project_id=project.id, subcompartment_id=s, area_ha=a
                    )
                    for s, a in subs
                )
            project.updated_at = self.clock()
            session.flush()
            view = self._view(session, project)
            uow.commit()
            return view

    # ------------------------------------------------------------------------- lifecycle

    def move(
        self, actor: ActorLike, project_id: int, to: Stage | str, *, note: str = ""
    ) -> DevProjectView:
        """Move the project to stage ``to`` (see :mod:`tanhui.develop.lifecycle`)."""
        return self._transition(
            actor, project_id, lambda here: lifecycle.next_stage(here, to), note
        )

    def advance(self, actor: ActorLike, project_id: int, *, note: str = "") -> DevProjectView:
        """Move the project to the next stage of the chain (``issued`` → ``closed``)."""
        return self._transition(actor, project_id, lifecycle.step, note)

    def _transition(
        self,
        actor: ActorLike,
        project_id: int,
        target_of: Callable[[str], Stage],
        note: str,
    ) -> DevProjectView:
        note = check_text(note, "note", "说明", 2000, blank=True)
        with UnitOfWork(self.engine) as uow:
            session = uow.session
            project = get_project(uow, actor, project_id, Action.manage_dev_projects, lock=True)
            target = target_of(project.stage)
            lifecycle.check_step_actor(actor.roles, project.stage, target)
            if target is Stage.withdrawn and not note:
                raise InputError(
                    "撤销项目须说明原因。",
                    "Say why the project is withdrawn.",
                    field="note",
                )
            now = self.clock()
            session.add(
                DevStageChange(
                    dev_project_id=project.id,
                    from_stage=project.stage,
                    to_stage=target.value,
                    note=note,
                    actor=actor_ref(actor),
                    user_id=actor.user_id,
                    changed_at=now,
                )
            )
            project.stage = target.value
            project.updated_at = now
            session.flush()
            view = self._view(session, project)
            uow.commit()
            return view

    def withdraw(self, actor: ActorLike, project_id: int, *, reason: str) -> DevProjectView:
        """Withdraw an open project (撤销); the reason is kept in its history."""
        return self.move(actor, project_id, Stage.withdrawn, note=reason)

    def history(self, actor: ActorLike, project_id: int) -> list[StageChangeView]:
        """The project's stage changes, oldest first (the first is its creation)."""
        with UnitOfWork(self.engine, read_only=True) as uow:
            get_project(uow, actor, project_id, Action.view_dev_projects)
            rows = uow.session.scalars(
                select(DevStageChange)
                .where(DevStageChange.dev_project_id == project_id)
                .order_by(DevStageChange.id)
            ).all()
            return [
                StageChangeView(
                    r.id, r.from_stage, r.to_stage, r.note, r.actor, r.user_id, r.changed_at
                )
                for r in rows
            ]

    # -------------------------------------------------------------------------- reading

    def get_project(self, actor: ActorLike, project_id: int) -> DevProjectView:
        with UnitOfWork(self.engine, read_only=True) as uow:
            project = get_project(uow, actor, project_id, Action.view_dev_projects)
            return self._view(uow.session, project)

    def list_projects(
        self,
        actor: ActorLike,
        *,
        region_code: str | None = None,
        stage: Stage | str | None = None,
        scheme: str | None = None,
        owner_organisation_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[DevProjectView], int]:
        """A page of projects (by id) and the total. ``region_code``: a county, a prefecture
        (``3504``/``350400``) or a province (``35``/``350000``). A holder sees its own
        organisation's projects only."""
        require(actor.roles, Action.view_dev_projects)
        query = select(DevProject)
        if not sees_all(actor, Action.view_dev_projects):
            query = query.where(DevProject.owner_organisation_id == actor.organisation_id)
        if region_code:
            query = query.where(_region_filter(region_code))
        if stage:
            query = query.where(DevProject.stage == lifecycle.parse_stage(stage).value)
        if scheme:
            query = query.where(DevProject.scheme == self._scheme(scheme))
        if owner_organisation_id is not None:
            query = query.where(DevProject.owner_organisation_id == owner_organisation_id)
        with UnitOfWork(self.engine, read_only=True) as uow:
            session = uow.session
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.scalars(
                query.order_by(DevProject.id).limit(max(0, limit)).offset(max(0, offset))
            ).all()
            return [self._view(session, p) for p in rows], int(total)

    # ------------------------------------------------------------------------- registry

    def link_registry_project(
        self, actor: ActorLike, project_id: int, registry_project_id: int
    ) -> DevProjectView:
        """Link a library project to its registry project (same owner, county and scheme).

        Allowed from ``validation`` on (not for a withdrawn project); a registry project is
        linked to at most one library project.
        """
        with UnitOfWork(self.engine) as uow:
            session = uow.session
            project = get_project(uow, actor, project_id, Action.manage_dev_projects, lock=True)
            if project.stage in (
                Stage.candidate.value,
                Stage.feasibility.value,
                Stage.design.value,
                Stage.withdrawn.value,
            ):
                raise StateError(
                    f"项目处于“{lifecycle.STAGE_LABELS[Stage(project.stage)][0]}”阶段，不能关联登记簿项目。",
                    f"A project at the {project.stage} stage cannot be linked to the registry.",
                    state=project.stage,
                    action="link_registry_project",
                    allowed_from=("validation", "registered", "monitoring", "issued", "closed"),
                )
            if project.registry_project_id is not None:
                if project.registry_project_id == registry_project_id:
                    return self._view(session, project)
                raise ConflictError(
                    f"项目已关联登记簿项目 {project.registry_project_id}。",
                    f"The project is already linked to registry project {project.registry_project_id}.",
                )
            registered = session.get(Project, registry_project_id)
            if registered is None:
                raise not_found("登记簿项目", "registry project", registry_project_id)
            mismatches = [
                name
                for name, ours, theirs in (
                    (
                        "owner_organisation_id",
                        project.owner_organisation_id,
                        registered.owner_organisation_id,
                    ),
                    ("region_code", project.region_code, registered.region_code),
                    ("scheme", project.scheme, registered.scheme),
                )
                if ours != theirs
            ]
            if mismatches:
                raise InputError(
                    f"登记簿项目 {registry_project_id} 与本项目不一致：{'、'.join(mismatches)}。",
                    f"Registry project {registry_project_id} differs from this project in: "
                    f"{', '.join(mismatches)}.",
                    field="registry_project_id",
                    hint_zh="只能关联同一业主、同一县、同一方案的登记簿项目。",
                    hint_en="Link a registry project of the same owner, county and scheme.",
                )
            taken = session.scalar(
                select(DevProject.id).where(DevProject.registry_project_id == registry_project_id)
            )
            if taken is not None:
                raise ConflictError(
                    f"登记簿项目 {registry_project_id} 已关联项目库项目 {taken}。",
                    f"Registry project {registry_project_id} is linked to library project {taken}.",
                )
            project.registry_project_id = registry_project_id
            project.updated_at = self.clock()
            session.flush()
            view = self._view(session, project)
            uow.commit()
            return view

    # ------------------------------------------------------------------------ documents

    def attach_document(
        self,
        actor: ActorLike,
        project_id: int,
        upload: DocumentUpload,
        *,
        authorization_id: int | None = None,
    ) -> DocumentView:
        """Store a scan for the project, or for one of its authorizations."""
        with UnitOfWork(self.engine) as uow:
            session = uow.session
            action = (
                Action.manage_dev_projects
                if authorization_id is None
                else Action.record_authorization
            )
            project = get_project(uow, actor, project_id, action)
            if authorization_id is not None:
                consent = session.get(Authorization, authorization_id)
                if consent is None or consent.dev_project_id != project.id:
                    raise not_found(
                        "本项目的授权记录", "authorization of this project", authorization_id
                    )
            document = store_document(
                session,
                actor,
                project.id,
                upload,
                authorization_id=authorization_id,
                max_bytes=self.max_document_bytes,
            )
            document.uploaded_at = self.clock()
            session.flush()
            view = document_view(document)
            uow.commit()
            return view

    def list_documents(
        self, actor: ActorLike, project_id: int, *, authorization_id: int | None = None
    ) -> list[DocumentView]:
        """The project's documents, oldest first. Those of its authorizations (which carry
        personal data) are listed only to roles that may view rights holders."""
        with UnitOfWork(self.engine, read_only=True) as uow:
            get_project(uow, actor, project_id, Action.view_dev_projects)
            query = select(DevDocument).where(DevDocument.dev_project_id == project_id)
            if authorization_id is not None:
                require(actor.roles, Action.view_rights_holders)
                query = query.where(DevDocument.authorization_id == authorization_id)
            elif not allowed(actor.roles, Action.view_rights_holders):
                query = query.where(DevDocument.authorization_id.is_(None))
            docs = uow.session.scalars(query.order_by(DevDocument.id)).all()
            return [document_view(d) for d in docs]

    def download_document(self, actor: ActorLike, document_id: int) -> tuple[DocumentView, bytes]:
        """A document and its bytes, after checking them against the stored size and sha256.
        An authorization's document needs the right to view rights holders."""
        with UnitOfWork(self.engine, read_only=True) as uow:
            doc = uow.session.get(DevDocument, document_id)
            if doc is None:
                raise not_found("文件", "document", document_id)
            action = (
                Action.view_dev_projects
                if doc.authorization_id is None
                else Action.view_rights_holders
            )
            get_project(uow, actor, doc.dev_project_id, action)
            try:
                content = base64.b64decode(doc.content_base64.encode("ascii"), validate=True)
            except (ValueError, UnicodeEncodeError):  # binascii.Error is a ValueError
                content = b""
            if len(content) != doc.size_bytes or hashlib.sha256(content).hexdigest() != doc.sha256:
                raise DatabaseError(
                    f"文件 {document_id} 已损坏（大小或校验值不符）。",
                    f"Document {document_id} is damaged (its size or sha256 does not match).",
                    hint_zh="请从备份恢复，或重新上传原件。",
                    hint_en="Restore it from a backup, or upload the original again.",
                )
            return document_view(doc), content

    # ------------------------------------------------------------------------ statistics

    def _rows(self, session: Session, where: Any) -> list[tuple[str, str, str, str, float]]:
        area = (
            select(
                DevProjectSubcompartment.dev_project_id.label("pid"),
                func.sum(DevProjectSubcompartment.area_ha).label("area"),
            )
            .group_by(DevProjectSubcompartment.dev_project_id)
            .subquery()
        )
        rows = session.execute(
            select(
                DevProject.region_code,
                DevProject.county,
                DevProject.stage,
                DevProject.scheme,
                func.coalesce(area.c.area, 0.0),
            )
            .outerjoin(area, area.c.pid == DevProject.id)
            .where(where)
            .order_by(DevProject.region_code, DevProject.id)
        ).all()
        return [(r, c, st, sc, float(a)) for r, c, st, sc, a in rows]

    def _county(
        self, region_code: str, rows: Sequence[tuple[str, str, str, str, float]]
    ) -> CountyStats:
        names = [c for _, c, _, _, _ in rows if c]
        by_stage, by_scheme = _tally(rows, 2), _tally(rows, 3)
        return CountyStats(
            region_code=region_code,
            county=names[-1] if names else "",
            projects=len(rows),
            area_ha=area_sum(a for *_, a in rows),
            by_stage=by_stage,
            by_scheme=by_scheme,
            open=sum(1 for _, _, st, _, _ in rows if Stage(st) in OPEN),
            reserve=sum(1 for _, _, st, _, _ in rows if Stage(st) in RESERVE),
            reserve_min=self.reserve_min,
        )

    def county_stats(self, actor: ActorLike, region_code: str) -> CountyStats:
        """A county's projects: count and area by stage and scheme; its reserve."""
        require(actor.roles, Action.view_library_stats)
        code = check_region(region_code)
        with UnitOfWork(self.engine, read_only=True) as uow:
            rows = self._rows(uow.session, DevProject.region_code == code)
        return self._county(code, rows)

    def province_stats(
        self, actor: ActorLike, province: str, *, counties: Iterable[str] = ()
    ) -> ProvinceStats:
        """A province's projects by stage and scheme, per county, and the counties whose reserve
        is below :attr:`reserve_min`. ``counties`` adds counties with no project at all (they
        are below the reserve too); by default only counties with a project are known."""
        require(actor.roles, Action.view_library_stats)
        prefix = _province_prefix(province)
        extra = [check_region(c, "counties") for c in counties]
        outside = [c for c in extra if not c.startswith(prefix)]
        if outside:
            raise InputError(
                f"县 {', '.join(outside)} 不属于省 {prefix}0000。",
                f"Count{'ies' if len(outside) > 1 else 'y'} {', '.join(outside)} "
                f"not in province {prefix}0000.",
                field="counties",
            )
        with UnitOfWork(self.engine, read_only=True) as uow:
            rows = self._rows(uow.session, DevProject.region_code.startswith(prefix))
        grouped: dict[str, list[tuple[str, str, str, str, float]]] = {c: [] for c in extra}
        for row in rows:
            grouped.setdefault(row[0], []).append(row)
        per_county = tuple(self._county(code, grouped[code]) for code in sorted(grouped))
        return ProvinceStats(
            province_code=f"{prefix}0000",
            projects=len(rows),
            area_ha=area_sum(a for *_, a in rows),
            by_stage=_tally(rows, 2),
            by_scheme=_tally(rows, 3),
            counties=per_county,
            reserve_min=self.reserve_min,
            below_reserve=tuple(c for c in per_county if c.below_reserve),
        )


def _tally(rows: Sequence[tuple[str, str, str, str, float]], column: int) -> dict[str, Tally]:
    counts: dict[str, list[float]] = {}
    for row in rows:
        counts.setdefault(row[column], []).append(row[4])
    return {key: Tally(len(areas), area_sum(areas)) for key, areas in sorted(counts.items())}


def _province_prefix(province: str) -> str:
    code = (province or "").strip() if isinstance(province, str) else ""
    if re.fullmatch(r"[0-9]{2}", code):
        return code
    if re.fullmatch(r"[0-9]{2}0000", code):
        return code[:2]
    raise InputError(
        f"省级行政区划代码“{province}”应为 2 位数字或以 0000 结尾的 6 位数字。",
        f"The province code “{province}” must be 2 digits, or 6 digits ending in 0000.",
        field="province",
        hint_zh="例如福建省为 35 或 350000。",
        hint_en="For example 35 or 350000 (Fujian).",
    )


def _region_filter(region_code: str) -> Any:
    """A province (``35``, ``350000``), a prefecture (``3504``, ``350400``) or a county."""
    code = (region_code or "").strip() if isinstance(region_code, str) else ""
    if re.fullmatch(r"[0-9]{2}(0000)?", code):
        return DevProject.region_code.startswith(code[:2])
    if re.fullmatch(r"[0-9]{4}(00)?", code):
        return DevProject.region_code.startswith(code[:4])
    return DevProject.region_code == check_region(code)
