"""Identity: organisations, users, roles, passwords, access tokens and API keys.

A service over :class:`~tanhui.db.uow.UnitOfWork`: the REST API and the CLI call the same
functions, and every permission is checked here with :func:`tanhui.registry.permissions.require`
(never in the routes). Each function opens the unit of work it is given (``with uow:``) and
commits what it changed; a failure leaves the database unchanged.

Who acts is an :class:`Actor`: a user logged in with a password (an access token), a machine
client with an API key, or the system itself (the CLI on the server, bootstrapping the first
administrator). Its roles are re-read from the database on every request, so revoking a role or
deactivating a user takes effect at once.

Security choices (after fastapi/full-stack-fastapi-template):

* passwords are hashed with argon2id (pwdlib); at least :data:`PASSWORD_MIN_LENGTH` characters;
* :func:`authenticate` runs argon2 whether or not the user exists (against a dummy hash), and
  gives the same error for an unknown user and a wrong password;
* access tokens are JWT (HS256) with ``sub``, ``iat``, ``exp``, ``jti`` and ``iss``, signed with
  ``TANHUI_SECRET_KEY``; they carry no roles, and are refused once the user's password changes;
* API keys are random (256 bits): only their sha256 and a short lookup prefix are stored, and the
  key is shown once, when created.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal

import jwt
from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tanhui.config import Settings
from tanhui.db.tables import ApiKey, Organisation, User, UserRole
from tanhui.db.uow import UnitOfWork
from tanhui.errors import (
    AuthenticationError,
    ConfigError,
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDenied,
)
from tanhui.registry.permissions import Action, Role, allowed, require

__all__ = [
    "API_KEY_PREFIX",
    "PASSWORD_MIN_LENGTH",
    "Actor",
    "ApiKeyView",
    "OrganisationKind",
    "OrganisationView",
    "UserView",
    "actor_from_api_key",
    "actor_from_token",
    "api_settings",
    "authenticate",
    "create_api_key",
    "create_organisation",
    "create_user",
    "deactivate_user",
    "get_organisation",
    "get_user",
    "grant_role",
    "issue_token",
    "list_api_keys",
    "list_organisations",
    "list_users",
    "reactivate_user",
    "revoke_api_key",
    "revoke_role",
    "set_password",
]

log = logging.getLogger(__name__)

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 256
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.@-]{2,63}$")
CREDIT_CODE_PATTERN = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")  # GB 32100-2015 alphabet
REGION_CODE_PATTERN = re.compile(r"^[0-9]{6}$")

#: API keys look like ``thk_1a2b3c4d_<43 random characters>``; ``thk_1a2b3c4d`` is stored.
API_KEY_PREFIX = "thk_"
_API_KEY_LOOKUP_LEN = len(API_KEY_PREFIX) + 8
#: ``last_used_at`` of an API key is written at most this often.
_API_KEY_TOUCH_EVERY = timedelta(minutes=1)

TOKEN_ALGORITHM = "HS256"
TOKEN_ISSUER = "tanhui"
MIN_SECRET_LENGTH = 32
#: Secrets copied from examples and tutorials; refused like a missing one.
KNOWN_DEFAULT_SECRETS = frozenset(
    {
        "changethis",
        "changeme",
        "change-me",
        "change_me",
        "secret",
        "secret-key",
        "secret_key",
        "secretkey",
        "your-secret-key",
        "your_secret_key",
        "mysecret",
        "supersecret",
        "password",
        "default",
        "insecure",
        "dev",
        "development",
        "test",
        "testing",
        "tanhui",
        "tanhui-secret",
        "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7",  # FastAPI docs
    }
)


class OrganisationKind(StrEnum):
    """What kind of party an organisation is (mirrors the ``organisations.kind`` CHECK)."""

    regulator = "regulator"  # 主管部门
    verifier = "verifier"  # 核证机构
    issuer = "issuer"  # 制发机构
    holder = "holder"  # 持有机构
    individual = "individual"  # 个人
    bank = "bank"  # 银行
    court = "court"  # 法院
    market = "market"  # 交易机构


# ------------------------------------------------------------------------------------ actor

Via = Literal["password", "api_key", "system", "anonymous"]


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (``via`` password or API key), the system (CLI), or an anonymous visitor.

    ``stamp`` ties a password login to the password it used (see :func:`issue_token`).
    """

    user_id: int | None
    username: str
    organisation_id: int | None
    roles: frozenset[Role]
    via: Via = "password"
    api_key_id: int | None = None
    stamp: str | None = field(default=None, repr=False, compare=False)

    @classmethod
    def system(
        cls, roles: Iterable[Role | str] = (Role.admin,), organisation_id: int | None = None
    ) -> Actor:
        """The system itself (the CLI on the server): administers, moves no tonnes by default."""
        return cls(None, "system", organisation_id, frozenset(Role(r) for r in roles), "system")

    @classmethod
    def anonymous(cls) -> Actor:
        """A visitor who is not logged in: the ``public`` role only."""
        return cls(None, "anonymous", None, frozenset({Role.public}), "anonymous")

    def require(self, action: Action | str) -> None:
        """Raise :class:`~tanhui.errors.PermissionDenied` unless a role allows ``action``."""
        require(self.roles, action)

    def may(self, action: Action | str) -> bool:
        return allowed(self.roles, action)

    @property
    def ref(self) -> str:
        """A short, stable reference for logs and the event log: ``user:12``, ``system``."""
        if self.user_id is not None:
            return f"user:{self.user_id}"
        return self.via


# ------------------------------------------------------------------------------------ views


@dataclass(frozen=True)
class OrganisationView:
    id: int
    name: str
    kind: str
    region_code: str | None
    credit_code: str | None
    created_at: datetime


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    display_name: str
    organisation_id: int | None
    active: bool
    roles: tuple[Role, ...]
    has_password: bool
    created_at: datetime


@dataclass(frozen=True)
class ApiKeyView:
    """An API key as listed: never the key itself, only its prefix."""

    id: int
    user_id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > datetime.now(UTC)
        )


def _org_view(org: Organisation) -> OrganisationView:
    return OrganisationView(
        org.id, org.name, org.kind, org.region_code, org.credit_code, org.created_at
    )


def _role_order(roles: Iterable[str]) -> tuple[Role, ...]:
    present = set(roles)
    return tuple(r for r in Role if r.value in present)


def _user_view(user: User, roles: Iterable[str]) -> UserView:
    return UserView(
        user.id,
        user.username,
        user.display_name or "",
        user.organisation_id,
        bool(user.active),
        _role_order(roles),
        user.password_hash is not None,
        user.created_at,
    )


def _key_view(key: ApiKey) -> ApiKeyView:
    return ApiKeyView(
        key.id,
        key.user_id,
        key.name,
        key.prefix,
        key.created_at,
        key.last_used_at,
        key.expires_at,
        key.revoked_at,
    )


# -------------------------------------------------------------------------------- passwords


class _Passwords:
    """argon2id through pwdlib, with a dummy hash for users that do not exist."""

    def __init__(self, hasher: Argon2Hasher | None = None) -> None:
        self.context = PasswordHash((hasher or Argon2Hasher(),))
        self._dummy: str | None = None

    @property
    def dummy(self) -> str:
        if self._dummy is None:
            self._dummy = self.context.hash(secrets.token_urlsafe(24))
        return self._dummy

    def hash(self, password: str) -> str:
        return self.context.hash(password)

    def verify(self, password: str, hashed: str | None) -> tuple[bool, str | None]:
        """(matches, new hash if the parameters changed). ``None`` checks the dummy hash."""
        try:
            ok, updated = self.context.verify_and_update(password, hashed or self.dummy)
        except UnknownHashError:
            log.error("a stored password hash is not argon2; the user cannot log in")
            self.context.verify_and_update(password, self.dummy)
            return False, None
        return (ok and hashed is not None), updated


_passwords = _Passwords()


def use_password_hasher(hasher: Argon2Hasher | None = None) -> None:
    """Use other argon2 parameters (``None``: pwdlib's recommended ones).

    Tests use cheap parameters; existing hashes keep verifying (their parameters are in the hash)
    and are re-hashed with the current parameters at the next login.
    """
    global _passwords
    _passwords = _Passwords(hasher)


def warm_up() -> None:
    """Compute the dummy hash now, so the first unknown-user login costs what the others do."""
    _ = _passwords.dummy


def _check_password(password: str, username: str = "") -> None:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise InputError(
            f"密码太短：至少 {PASSWORD_MIN_LENGTH} 个字符。",
            f"The password is too short: at least {PASSWORD_MIN_LENGTH} characters.",
            field="password",
            hint_zh="请使用更长的密码，例如由几个词组成的短语。",
            hint_en="Use a longer password, for example a phrase of several words.",
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        raise InputError(
            f"密码太长：最多 {PASSWORD_MAX_LENGTH} 个字符。",
            f"The password is too long: at most {PASSWORD_MAX_LENGTH} characters.",
            field="password",
        )
    if not password.strip() or (username and password.strip().lower() == username.lower()):
        raise InputError(
            "密码不能为空白，也不能与用户名相同。",
            "The password may not be blank or equal to the username.",
            field="password",
            hint_zh="请换一个密码。",
            hint_en="Choose another password.",
        )


def _stamp(password_hash: str | None) -> str | None:
    """A fingerprint of the current password hash: tokens issued before a change are refused."""
    if password_hash is None:
        return None
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------- helpers


def _normalize_username(username: str) -> str:
    return username.strip().lower()


def _check_username(username: str) -> str:
    name = _normalize_username(username)
    if not USERNAME_PATTERN.fullmatch(name):
        raise InputError(
            f"用户名“{username}”无效：3–64 个字符，只能包含字母、数字和 _ . @ -，以字母或数字开头。",
            f"Invalid username “{username}”: 3–64 characters, letters, digits and _ . @ - only, "
            "starting with a letter or digit.",
            field="username",
            hint_zh="中文姓名请填在显示名称中。",
            hint_en="Put a full (e.g. Chinese) name in the display name.",
        )
    return name


def _roles_of(session: Session, user_id: int) -> frozenset[Role]:
    values = session.scalars(select(UserRole.role).where(UserRole.user_id == user_id)).all()
    return frozenset(Role(v) for v in values)


def _roles_by_user(session: Session, user_ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {uid: [] for uid in user_ids}
    if user_ids:
        rows = session.execute(
            select(UserRole.user_id, UserRole.role).where(UserRole.user_id.in_(user_ids))
        )
        for uid, role in rows:
            out[uid].append(role)
    return out


def _actor(session: Session, user: User, via: Via, api_key_id: int | None = None) -> Actor:
    return Actor(
        user.id,
        user.username,
        user.organisation_id,
        _roles_of(session, user.id),
        via,
        api_key_id,
        _stamp(user.password_hash) if via == "password" else None,
    )


def _get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(
            f"用户 {user_id} 不存在。",
            f"User {user_id} does not exist.",
            kind="user",
            key=user_id,
        )
    return user


def _get_organisation(session: Session, organisation_id: int) -> Organisation:
    org = session.get(Organisation, organisation_id)
    if org is None:
        raise NotFoundError(
            f"机构 {organisation_id} 不存在。",
            f"Organisation {organisation_id} does not exist.",
            kind="organisation",
            key=organisation_id,
        )
    return org


def _commit(uow: UnitOfWork) -> None:
    try:
        uow.commit()
    except IntegrityError as exc:
        uow.rollback()
        raise ConflictError(
            "与已有数据冲突（名称、代码或用户名重复），未作任何修改。",
            "This conflicts with existing data (a duplicate name, code or username); nothing "
            "was changed.",
            hint_zh="请换一个名称后重试。",
            hint_en="Use another name and try again.",
        ) from exc


def _other_active_admins(session: Session, user_id: int) -> int:
    stmt = (
        select(func.count(func.distinct(User.id)))
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.admin.value, User.active.is_(True), User.id != user_id)
    )
    return session.scalar(stmt) or 0


def _keep_one_admin(session: Session, user: User) -> None:
    if (
        user.active
        and Role.admin in _roles_of(session, user.id)
        and _other_active_admins(session, user.id) == 0
    ):
        raise ConflictError(
            f"{user.username} 是最后一位有效的系统管理员，不能停用或撤销其管理员角色。",
            f"{user.username} is the last active administrator and cannot be deactivated or "
            "lose the admin role.",
            hint_zh="请先为另一位用户授予系统管理员角色。",
            hint_en="Grant the admin role to another user first.",
        )


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


# --------------------------------------------------------------------------- organisations


def create_organisation(
    uow: UnitOfWork,
    actor: Actor,
    name: str,
    kind: OrganisationKind | str,
    *,
    region_code: str | None = None,
    credit_code: str | None = None,
) -> OrganisationView:
    """Register a party (bureau, verifier, issuer, forest owner, bank, court, market)."""
    actor.require(Action.manage_organisations)
    name = name.strip()
    if not name or len(name) > 200:
        raise InputError(
            "机构名称不能为空，且最多 200 个字符。",
            "An organisation name is required (at most 200 characters).",
            field="name",
        )
    try:
        kind = OrganisationKind(kind)
    except ValueError:
        raise InputError(
            f"未知的机构类型“{kind}”。",
            f"Unknown organisation kind “{kind}”.",
            field="kind",
            hint_zh=f"可选：{'、'.join(OrganisationKind)}",
            hint_en=f"One of: {', '.join(OrganisationKind)}",
        ) from None
    region_code = (region_code or "").strip() or None
    if region_code is not None and not REGION_CODE_PATTERN.fullmatch(region_code):
        raise InputError(
            f"行政区划代码“{region_code}”应为 6 位数字。",
            f"The administrative division code “{region_code}” must be 6 digits.",
            field="region_code",
            hint_zh="例如三明市沙县区为 350427。",
            hint_en="For example 350427 (Shaxian District, Sanming).",
        )
    credit_code = (credit_code or "").strip().upper() or None
    if credit_code is not None and not CREDIT_CODE_PATTERN.fullmatch(credit_code):
        raise InputError(
            f"统一社会信用代码“{credit_code}”应为 18 位数字或大写字母（不含 I、O、Z、S、V）。",
            f"The unified social credit code “{credit_code}” must be 18 digits or capital "
            "letters (without I, O, Z, S, V).",
            field="credit_code",
        )
    with uow:
        session = uow.session
        if session.scalar(select(Organisation.id).where(Organisation.name == name)) is not None:
            raise ConflictError(
                f"机构“{name}”已存在。",
                f"An organisation named “{name}” already exists.",
                hint_zh="请使用已有机构，或换一个名称。",
                hint_en="Use the existing organisation or another name.",
            )
        if (
            credit_code is not None
            and session.scalar(
                select(Organisation.id).where(Organisation.credit_code == credit_code)
            )
            is not None
        ):
            raise ConflictError(
                f"统一社会信用代码 {credit_code} 已被另一机构使用。",
                f"The credit code {credit_code} belongs to another organisation.",
            )
        org = Organisation(
            name=name, kind=kind.value, region_code=region_code, credit_code=credit_code
        )
        session.add(org)
        _commit(uow)
        return _org_view(org)


def get_organisation(uow: UnitOfWork, actor: Actor, organisation_id: int) -> OrganisationView:
    """One organisation (administrators, or a member of it)."""
    if actor.organisation_id != organisation_id:
        actor.require(Action.manage_organisations)
    with uow:
        return _org_view(_get_organisation(uow.session, organisation_id))


def list_organisations(
    uow: UnitOfWork, actor: Actor, *, limit: int = 50, offset: int = 0
) -> tuple[list[OrganisationView], int]:
    """A page of organisations (by id) and the total count."""
    actor.require(Action.manage_organisations)
    with uow:
        session = uow.session
        total = session.scalar(select(func.count()).select_from(Organisation)) or 0
        rows = session.scalars(
            select(Organisation).order_by(Organisation.id).limit(limit).offset(offset)
        ).all()
        return [_org_view(o) for o in rows], total


# ----------------------------------------------------------------------------------- users


def _parse_roles(roles: Iterable[Role | str]) -> list[Role]:
    out: list[Role] = []
    for r in roles:
        try:
            role = Role(r)
        except ValueError:
            raise InputError(
                f"未知的角色“{r}”。",
                f"Unknown role “{r}”.",
                field="roles",
                hint_zh=f"可选：{'、'.join(Role)}",
                hint_en=f"One of: {', '.join(Role)}",
            ) from None
        if role is Role.public:
            raise InputError(
                "“公众”角色无需授予：未登录的访问者即为公众。",
                "The public role is not granted: anyone not logged in is the public.",
                field="roles",
            )
        if role not in out:
            out.append(role)
    return out


def create_user(
    uow: UnitOfWork,
    actor: Actor,
    username: str,
    password: str | None,
    *,
    organisation_id: int | None = None,
    roles: Iterable[Role | str] = (),
    display_name: str = "",
) -> UserView:
    """Create a user. ``password=None`` makes a machine user that signs in by API key only.

    Usernames are stored in lower case; logins ignore case.
    """
    actor.require(Action.manage_users)
    name = _check_username(username)
    if password is not None:
        _check_password(password, name)
    wanted = _parse_roles(roles)
    display_name = display_name.strip()
    if len(display_name) > 200:
        raise InputError(
            "显示名称最多 200 个字符。",
            "The display name is at most 200 characters.",
            field="display_name",
        )
    hashed = _passwords.hash(password) if password is not None else None
    with uow:
        session = uow.session
        if organisation_id is not None:
            _get_organisation(session, organisation_id)
        if session.scalar(select(User.id).where(User.username == name)) is not None:
            raise ConflictError(
                f"用户名“{name}”已被使用。",
                f"The username “{name}” is taken.",
                hint_zh="请换一个用户名。",
                hint_en="Choose another username.",
            )
        user = User(
            username=name,
            display_name=display_name,
            password_hash=hashed,
            organisation_id=organisation_id,
            active=True,
        )
        session.add(user)
        session.flush()
        for role in wanted:
            session.add(UserRole(user_id=user.id, role=role.value))
        _commit(uow)
        return _user_view(user, [r.value for r in wanted])


def get_user(uow: UnitOfWork, actor: Actor, user_id: int) -> UserView:
    """One user: oneself, or anyone for an administrator."""
    if actor.user_id != user_id:
        actor.require(Action.manage_users)
    with uow:
        user = _get_user(uow.session, user_id)
        return _user_view(user, [r.value for r in _roles_of(uow.session, user.id)])


def list_users(
    uow: UnitOfWork,
    actor: Actor,
    *,
    limit: int = 50,
    offset: int = 0,
    organisation_id: int | None = None,
) -> tuple[list[UserView], int]:
    """A page of users (by id), optionally of one organisation, and the total count."""
    actor.require(Action.manage_users)
    with uow:
        session = uow.session
        where = [] if organisation_id is None else [User.organisation_id == organisation_id]
        total = session.scalar(select(func.count()).select_from(User).where(*where)) or 0
        users = session.scalars(
            select(User).where(*where).order_by(User.id).limit(limit).offset(offset)
        ).all()
        roles = _roles_by_user(session, [u.id for u in users])
        return [_user_view(u, roles[u.id]) for u in users], total


def set_password(
    uow: UnitOfWork,
    actor: Actor,
    user_id: int,
    new_password: str,
    *,
    current_password: str | None = None,
) -> None:
    """Change a password: one's own (with the current password) or anyone's as administrator.

    Access tokens issued before the change stop working.
    """
    own = actor.user_id == user_id
    if not own:
        actor.require(Action.manage_users)
    with uow:
        user = _get_user(uow.session, user_id)
        _check_password(new_password, user.username)
        if own:
            ok, _ = _passwords.verify(current_password or "", user.password_hash)
            if not ok:
                raise AuthenticationError(
                    "当前密码不正确。",
                    "The current password is wrong.",
                    reason="credentials",
                    hint_zh="请输入正确的当前密码；忘记密码请联系系统管理员重置。",
                    hint_en="Enter the current password; if forgotten, ask an administrator "
                    "to reset it.",
                )
        user.password_hash = _passwords.hash(new_password)
        _commit(uow)


def grant_role(uow: UnitOfWork, actor: Actor, user_id: int, role: Role | str) -> UserView:
    """Give a user a role (nothing happens if it already has it)."""
    actor.require(Action.manage_users)
    (role,) = _parse_roles([role])
    with uow:
        session = uow.session
        user = _get_user(session, user_id)
        have = _roles_of(session, user_id)
        if role not in have:
            session.add(UserRole(user_id=user_id, role=role.value))
            _commit(uow)
            have = have | {role}
        return _user_view(user, [r.value for r in have])


def revoke_role(uow: UnitOfWork, actor: Actor, user_id: int, role: Role | str) -> UserView:
    """Take a role away (nothing happens if the user does not have it). Effective at once."""
    actor.require(Action.manage_users)
    (role,) = _parse_roles([role])
    with uow:
        session = uow.session
        user = _get_user(session, user_id)
        if role is Role.admin:
            _keep_one_admin(session, user)
        rows = session.scalars(
            select(UserRole).where(UserRole.user_id == user_id, UserRole.role == role.value)
        ).all()
        for row in rows:
            session.delete(row)
        if rows:
            _commit(uow)
        return _user_view(user, [r.value for r in _roles_of(session, user_id)])


def deactivate_user(uow: UnitOfWork, actor: Actor, user_id: int) -> UserView:
    """Deactivate a user: its tokens and API keys stop working at once; nothing is deleted."""
    actor.require(Action.manage_users)
    with uow:
        session = uow.session
        user = _get_user(session, user_id)
        if user.active:
            _keep_one_admin(session, user)
            user.active = False
            _commit(uow)
        return _user_view(user, [r.value for r in _roles_of(session, user_id)])


def reactivate_user(uow: UnitOfWork, actor: Actor, user_id: int) -> UserView:
    """Undo :func:`deactivate_user`."""
    actor.require(Action.manage_users)
    with uow:
        session = uow.session
        user = _get_user(session, user_id)
        if not user.active:
            user.active = True
            _commit(uow)
        return _user_view(user, [r.value for r in _roles_of(session, user_id)])


# ---------------------------------------------------------------------------- logging in


def _bad_credentials() -> AuthenticationError:
    return AuthenticationError(
        "用户名或密码不正确。",
        "Wrong username or password.",
        reason="credentials",
        hint_zh="请检查用户名和密码（区分大小写的是密码，不是用户名）。",
        hint_en="Check the username and the password (the password is case-sensitive).",
    )


def authenticate(uow: UnitOfWork, username: str, password: str) -> Actor:
    """The actor for a username and password.

    Unknown users and wrong passwords get the same error and cost the same argon2 verification
    (a dummy hash stands in for a missing user), so neither the answer nor its timing tells
    whether a username exists.
    """
    name = _normalize_username(username)
    with uow:
        session = uow.session
        user = session.scalars(select(User).where(User.username == name)).one_or_none()
        ok, updated = _passwords.verify(password, user.password_hash if user else None)
        if user is None or not ok:
            raise _bad_credentials()
        if not user.active:
            raise AuthenticationError(
                "该账户已停用。",
                "This account is deactivated.",
                reason="inactive",
                hint_zh="请联系系统管理员。",
                hint_en="Ask an administrator.",
            )
        if updated is not None:  # argon2 parameters changed since the password was set
            user.password_hash = updated
            _commit(uow)
        return _actor(session, user, "password")


def _secret(settings: Settings) -> str:
    key = settings.secret_key.get_secret_value() if settings.secret_key else ""
    if not key:
        raise ConfigError(
            "未设置签名密钥（TANHUI_SECRET_KEY），无法签发或校验访问令牌。",
            "No signing key (TANHUI_SECRET_KEY) is set: tokens cannot be issued or checked.",
            hint_zh="请先调用 api_settings(settings)，或设置 TANHUI_SECRET_KEY。",
            hint_en="Call api_settings(settings) first, or set TANHUI_SECRET_KEY.",
        )
    return key


def issue_token(actor: Actor, settings: Settings, *, now: datetime | None = None) -> str:
    """A signed access token (JWT, HS256) for a user, valid ``settings.jwt_ttl_minutes``.

    The token names the user (``sub``) and carries no roles: they are read again on every
    request (:func:`actor_from_token`).
    """
    if actor.user_id is None:
        raise AuthenticationError(
            "只能为已登录的用户签发访问令牌。",
            "Access tokens are issued to users only.",
            reason="credentials",
        )
    issued = _now(now)
    claims: dict[str, object] = {
        "iss": TOKEN_ISSUER,
        "sub": str(actor.user_id),
        "iat": int(issued.timestamp()),
        "exp": int((issued + timedelta(minutes=settings.jwt_ttl_minutes)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    if actor.stamp:
        claims["stm"] = actor.stamp
    return jwt.encode(claims, _secret(settings), algorithm=TOKEN_ALGORITHM)


def _invalid_token(
    zh: str = "访问令牌无效。", en: str = "The access token is invalid."
) -> Exception:
    return AuthenticationError(
        zh,
        en,
        reason="invalid_token",
        hint_zh="请重新登录（POST /api/v1/auth/token）获取新的令牌。",
        hint_en="Log in again (POST /api/v1/auth/token) for a new token.",
    )


def actor_from_token(uow: UnitOfWork, token: str, settings: Settings) -> Actor:
    """The actor a token was issued to, with its roles as they are now in the database."""
    try:
        claims = jwt.decode(
            token,
            _secret(settings),
            algorithms=[TOKEN_ALGORITHM],
            issuer=TOKEN_ISSUER,
            options={"require": ["exp", "iat", "sub", "jti", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthenticationError(
            "访问令牌已过期。",
            "The access token has expired.",
            reason="expired",
            hint_zh="请重新登录（POST /api/v1/auth/token）。",
            hint_en="Log in again (POST /api/v1/auth/token).",
        ) from None
    except jwt.InvalidTokenError:
        raise _invalid_token() from None
    try:
        user_id = int(claims["sub"])
    except (TypeError, ValueError):
        raise _invalid_token() from None
    with uow:
        session = uow.session
        user = session.get(User, user_id)
        if user is None:
            raise _invalid_token()
        if not user.active:
            raise AuthenticationError(
                "该账户已停用。",
                "This account is deactivated.",
                reason="inactive",
                hint_zh="请联系系统管理员。",
                hint_en="Ask an administrator.",
            )
        stamp = claims.get("stm")
        if stamp is not None and stamp != _stamp(user.password_hash):
            raise _invalid_token(
                "密码已更改，此前签发的访问令牌失效。",
                "The password has changed since this token was issued.",
            )
        return _actor(session, user, "password")


# -------------------------------------------------------------------------------- API keys


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(
    uow: UnitOfWork, actor: Actor, name: str, *, expires_at: datetime | None = None
) -> tuple[str, ApiKeyView]:
    """A new API key for the actor's own user: ``(key, record)``. The key is not stored: show
    it once. Only a person logged in with a password may create keys (a key cannot make keys)."""
    if actor.user_id is None or actor.via != "password":
        raise PermissionDenied(
            "只有用密码登录的用户才能创建 API 密钥。",
            "Only a user logged in with a password may create API keys.",
            action="create_api_key",
            roles=tuple(r.value for r in actor.roles),
            hint_zh="请先用用户名和密码登录。",
            hint_en="Log in with a username and password first.",
        )
    name = name.strip()
    if len(name) > 100:
        raise InputError(
            "API 密钥名称最多 100 个字符。",
            "An API key name is at most 100 characters.",
            field="name",
        )
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= datetime.now(UTC)):
        raise InputError(
            "过期时间必须是将来的、带时区的时间。",
            "The expiry must be a future time with a time zone.",
            field="expires_at",
        )
    lookup = f"{API_KEY_PREFIX}{secrets.token_hex(4)}"
    key = f"{lookup}_{secrets.token_urlsafe(32)}"
    with uow:
        session = uow.session
        user = _get_user(session, actor.user_id)
        if not user.active:
            raise AuthenticationError(
                "该账户已停用。", "This account is deactivated.", reason="inactive"
            )
        record = ApiKey(
            user_id=user.id,
            name=name,
            prefix=lookup,
            key_hash=_key_hash(key),
            expires_at=expires_at,
        )
        session.add(record)
        _commit(uow)
        return key, _key_view(record)


def list_api_keys(uow: UnitOfWork, actor: Actor) -> list[ApiKeyView]:
    """The actor's own API keys, revoked ones included, newest first."""
    if actor.user_id is None:
        return []
    with uow:
        rows = uow.session.scalars(
            select(ApiKey).where(ApiKey.user_id == actor.user_id).order_by(ApiKey.id.desc())
        ).all()
        return [_key_view(k) for k in rows]


def revoke_api_key(
    uow: UnitOfWork, actor: Actor, key_id: int, *, now: datetime | None = None
) -> ApiKeyView:
    """Revoke one of the actor's keys (an administrator may revoke anyone's). Effective at once;
    revoking twice changes nothing."""
    with uow:
        session = uow.session
        record = session.get(ApiKey, key_id)
        if record is None or (
            record.user_id != actor.user_id and not actor.may(Action.manage_users)
        ):
            raise NotFoundError(
                f"API 密钥 {key_id} 不存在。",
                f"API key {key_id} does not exist.",
                kind="api_key",
                key=key_id,
                hint_zh="GET /api/v1/me/api-keys 列出您的密钥。",
                hint_en="GET /api/v1/me/api-keys lists your keys.",
            )
        if record.revoked_at is None:
            record.revoked_at = _now(now)
            _commit(uow)
        return _key_view(record)


def actor_from_api_key(uow: UnitOfWork, key: str, *, now: datetime | None = None) -> Actor:
    """The actor an API key belongs to (roles as they are now). Unknown, revoked and expired
    keys get the same error."""
    refused = AuthenticationError(
        "API 密钥无效、已吊销或已过期。",
        "The API key is invalid, revoked or expired.",
        reason="invalid_token",
        hint_zh="请在“我的 API 密钥”中创建新的密钥（POST /api/v1/me/api-keys）。",
        hint_en="Create a new key (POST /api/v1/me/api-keys).",
    )
    key = key.strip()
    if not key.startswith(API_KEY_PREFIX) or len(key) < _API_KEY_LOOKUP_LEN + 20:
        raise refused
    digest = _key_hash(key)
    moment = _now(now)
    with uow:
        session = uow.session
        rows = session.scalars(
            select(ApiKey).where(ApiKey.prefix == key[:_API_KEY_LOOKUP_LEN])
        ).all()
        record = next((r for r in rows if hmac.compare_digest(r.key_hash, digest)), None)
        if (
            record is None
            or record.revoked_at is not None
            or (record.expires_at is not None and record.expires_at <= moment)
        ):
            raise refused
        user = _get_user(session, record.user_id)
        if not user.active:
            raise AuthenticationError(
                "该账户已停用。",
                "This account is deactivated.",
                reason="inactive",
                hint_zh="请联系系统管理员。",
                hint_en="Ask an administrator.",
            )
        if record.last_used_at is None or moment - record.last_used_at >= _API_KEY_TOUCH_EVERY:
            record.last_used_at = moment
            _commit(uow)
        return _actor(session, user, "api_key", api_key_id=record.id)


# -------------------------------------------------------------------------------- settings

_dev_secret: str | None = None


def _weak_secret(key: str) -> str | None:
    """Why ``key`` is not acceptable, or ``None``."""
    if not key:
        return "unset"
    if key.strip().lower() in KNOWN_DEFAULT_SECRETS:
        return "default"
    if len(key) < MIN_SECRET_LENGTH:
        return "short"
    return None


def api_settings(settings: Settings) -> Settings:
    """``settings`` checked for serving the API: a real secret key, or dev mode.

    Outside dev mode a missing, known-default or short (< 32 characters) ``TANHUI_SECRET_KEY``
    raises :class:`~tanhui.errors.ConfigError`. In dev mode (``TANHUI_DEV=1``) such a key is
    replaced by a random key for this process (tokens do not survive a restart), with a warning
    in the log. Dev mode is refused with ``TANHUI_ENVIRONMENT=production``.
    """
    global _dev_secret
    key = settings.secret_key.get_secret_value() if settings.secret_key else ""
    problem = _weak_secret(key)
    if settings.dev_mode and settings.environment == "production":
        raise ConfigError(
            "生产环境（TANHUI_ENVIRONMENT=production）不允许开发模式（TANHUI_DEV=1）。",
            "Dev mode (TANHUI_DEV=1) is not allowed in production (TANHUI_ENVIRONMENT=production).",
            hint_zh="请去掉 TANHUI_DEV，并设置一个真正的 TANHUI_SECRET_KEY。",
            hint_en="Unset TANHUI_DEV and set a real TANHUI_SECRET_KEY.",
        )
    if problem is None:
        return settings
    if not settings.dev_mode:
        why_zh, why_en = {
            "unset": ("未设置签名密钥 TANHUI_SECRET_KEY", "TANHUI_SECRET_KEY is not set"),
            "default": (
                "TANHUI_SECRET_KEY 是一个公开的示例值",
                "TANHUI_SECRET_KEY is a well-known example value",
            ),
            "short": (
                f"TANHUI_SECRET_KEY 太短（至少 {MIN_SECRET_LENGTH} 个字符）",
                f"TANHUI_SECRET_KEY is too short (at least {MIN_SECRET_LENGTH} characters)",
            ),
        }[problem]
        raise ConfigError(
            f"{why_zh}，API 拒绝启动：任何人都可能伪造访问令牌。",
            f"{why_en}; the API refuses to start, as anyone could forge access tokens.",
            hint_zh='请设置随机密钥，例如：export TANHUI_SECRET_KEY="$(python -c '
            "'import secrets; print(secrets.token_urlsafe(48))')\"；"
            "仅用于本机试用时可设置 TANHUI_DEV=1（或使用 tanhui serve --demo）。",
            hint_en='Set a random key, e.g. export TANHUI_SECRET_KEY="$(python -c '
            "'import secrets; print(secrets.token_urlsafe(48))')\"; for a local trial only, set "
            "TANHUI_DEV=1 (or use tanhui serve --demo).",
        )
    if _dev_secret is None:
        _dev_secret = secrets.token_urlsafe(48)
    log.warning(
        "dev mode: TANHUI_SECRET_KEY is %s; using a random key for this process "
        "(access tokens stop working when it restarts). Never use dev mode in production.",
        problem,
    )
    return settings.model_copy(update={"secret_key": SecretStr(_dev_secret)})
