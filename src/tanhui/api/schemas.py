"""Request and response models of the identity endpoints (auth, me, admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tanhui.registry.identity import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, OrganisationKind
from tanhui.registry.permissions import Action, Role


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="秒 / seconds")


class OrganisationOut(_Out):
    id: int
    name: str
    kind: OrganisationKind
    region_code: str | None = None
    credit_code: str | None = None
    created_at: datetime


class OrganisationIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["沙县区林业局"])
    kind: OrganisationKind
    region_code: str | None = Field(
        default=None, pattern=r"^[0-9]{6}$", description="6 位行政区划代码", examples=["350427"]
    )
    credit_code: str | None = Field(
        default=None,
        pattern=r"^[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{18}$",
        description="统一社会信用代码 (18)",
    )


class UserOut(_Out):
    id: int
    username: str
    display_name: str
    organisation_id: int | None = None
    active: bool
    roles: list[Role]
    has_password: bool
    created_at: datetime


class MeOut(UserOut):
    via: Literal["password", "api_key"]
    organisation: OrganisationOut | None = None
    actions: list[Action] = Field(description="本账户可执行的操作 / what this account may do")


class UserIn(BaseModel):
    username: str = Field(
        min_length=3, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$", examples=["lin.wei"]
    )
    password: str | None = Field(
        default=None,
        min_length=PASSWORD_MIN_LENGTH,
        max_length=PASSWORD_MAX_LENGTH,
        description="省略则为只能用 API 密钥的机器用户 / omit for an API-key-only machine user",
    )
    display_name: str = Field(default="", max_length=200, examples=["林伟"])
    organisation_id: int | None = None
    roles: list[Role] = Field(default_factory=list)


class PasswordChangeIn(BaseModel):
    current_password: str = Field(max_length=PASSWORD_MAX_LENGTH)
    new_password: str = Field(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH)


class PasswordResetIn(BaseModel):
    new_password: str = Field(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH)


class ApiKeyOut(_Out):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    active: bool


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(
        description="密钥本身，只显示这一次 / the key itself, shown this once and never again"
    )


class ApiKeyIn(BaseModel):
    name: str = Field(default="", max_length=100, examples=["ERP 对接"])
    expires_in_days: int | None = Field(
        default=None,
        ge=1,
        le=3650,
        description="有效天数，省略为长期 / days valid; omit: no expiry",
    )


class HealthOut(BaseModel):
    status: Literal["ok"]
    version: str
    database: Literal["ok"]
    schema_revision: str | None
