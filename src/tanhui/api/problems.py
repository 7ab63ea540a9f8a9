"""Errors as RFC 9457 problem details (``application/problem+json``), in the request's language.

Every error response of the API has this shape::

    {
      "type": "urn:tanhui:problem:permission_denied",
      "title": "无权操作",
      "status": 403,
      "detail": "持有人无权管理用户。可以管理用户的是：系统管理员。",
      "code": "permission_denied",
      "hint": "请由具有相应角色的账户操作，或联系系统管理员分配角色。",
      "instance": "/api/v1/admin/users",
      ...extension members (problems, action, allowed, errors, …)
    }

The language is ``?lang=zh|en``, else the ``lang`` cookie, else ``Accept-Language``; Chinese by
default. ``code`` is the snake-case name of the exception class (stable, for programs); ``type``
is the same as a URN.

HTTP status of a :class:`~tanhui.errors.TanhuiError`: the nearest class in its MRO found in
:data:`STATUS` (or registered with :func:`register_status`); a class not listed whose name says
``NotFound`` gives 404, ``Conflict``/``Idempotency``/``Duplicate``/``Mismatch`` 409 and
``Validation``/``Invalid`` 422, so errors added by other rooms map sensibly before they are
registered.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from tanhui.errors import (
    AuthenticationError,
    ConfigError,
    ConflictError,
    DatabaseError,
    InputError,
    InventoryError,
    MethodError,
    NotFoundError,
    ParameterError,
    PermissionDenied,
    ProvenanceMismatch,
    RegistryError,
    SerialError,
    StateError,
    TanhuiError,
)
from tanhui.i18n import Lang, pick
from tanhui.registry.throttle import TooManyAttempts

__all__ = [
    "PROBLEM_JSON",
    "STATUS",
    "ProblemDetails",
    "install_problem_handlers",
    "negotiate_lang",
    "parse_accept_language",
    "problem_response",
    "problem_responses",
    "register_status",
    "status_for",
]

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:tanhui:problem:"
DEFAULT_LANG: Lang = "zh"

#: HTTP status per exception class; the nearest class in an exception's MRO wins.
STATUS: dict[type[BaseException], int] = {
    AuthenticationError: 401,
    TooManyAttempts: 429,
    PermissionDenied: 403,
    NotFoundError: 404,
    ConflictError: 409,
    StateError: 409,
    ProvenanceMismatch: 409,
    RegistryError: 409,
    InputError: 422,
    InventoryError: 422,
    SerialError: 422,
    ParameterError: 422,
    MethodError: 422,
    ConfigError: 500,
    DatabaseError: 503,
    TanhuiError: 400,
}

_NAME_RULES: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"NotFound"), 404),
    (re.compile(r"Conflict|Idempotency|Duplicate|Mismatch"), 409),
    (re.compile(r"Validation|Invalid"), 422),
)

#: Titles per status (zh, en): short and the same for every problem of a status.
TITLES: Mapping[int, tuple[str, str]] = {
    400: ("请求有误", "Bad request"),
    401: ("需要登录", "Authentication required"),
    403: ("无权操作", "Forbidden"),
    404: ("未找到", "Not found"),
    405: ("不支持该请求方法", "Method not allowed"),
    409: ("与当前状态冲突", "Conflict"),
    413: ("请求内容过大", "Content too large"),
    415: ("不支持的内容类型", "Unsupported media type"),
    422: ("数据无效", "Unprocessable content"),
    429: ("请求过于频繁", "Too many requests"),
    500: ("服务器内部错误", "Internal server error"),
    503: ("服务暂不可用", "Service unavailable"),
}

#: Attributes of exceptions copied into the problem as extension members (when present).
_EXTENSION_ATTRS = (
    "reason",
    "action",
    "roles",
    "allowed",
    "state",
    "allowed_from",
    "field",
    "value",
    "kind",
    "key",
    "differences",
    "source",
)


def register_status(cls: type[BaseException], status: int) -> None:
    """Map an exception class (and its subclasses, unless nearer ones are mapped) to ``status``."""
    STATUS[cls] = status


def status_for(exc: BaseException) -> int:
    """The HTTP status for ``exc`` (see the module docstring)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
        for pattern, status in _NAME_RULES:
            if pattern.search(cls.__name__):
                return status
    return 500


def code_for(cls: type[BaseException]) -> str:
    """``PermissionDenied`` → ``permission_denied``."""
    name = cls.__name__
    if name.endswith("Error") and name != "Error":
        name = name[: -len("Error")]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


# --------------------------------------------------------------------------------- language


def parse_accept_language(header: str | None, default: Lang = DEFAULT_LANG) -> Lang:
    """The best of zh/en in an ``Accept-Language`` header (by q, then order); ``default`` if
    neither is acceptable."""
    best: tuple[float, int, Lang] | None = None
    for index, part in enumerate((header or "").split(",")):
        tag, *params = (p.strip() for p in part.split(";"))
        tag = tag.lower()
        lang: Lang | None = "zh" if tag.startswith("zh") else "en" if tag.startswith("en") else None
        if lang is None:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        candidate = (q, -index, lang)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best else default


def negotiate_lang(request: Request) -> Lang:
    """The language of a request: ``?lang=``, the ``lang`` cookie, then ``Accept-Language``."""
    for value in (request.query_params.get("lang"), request.cookies.get("lang")):
        if value:
            value = value.lower()
            if value.startswith("zh"):
                return "zh"
            if value.startswith("en"):
                return "en"
    return parse_accept_language(request.headers.get("accept-language"))


# ---------------------------------------------------------------------------------- model


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, with tanhui's ``code`` and ``hint`` (documentation model)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["urn:tanhui:problem:permission_denied"])
    title: str
    status: int
    detail: str
    code: str = Field(description="stable machine-readable code (snake case)")
    hint: str | None = Field(default=None, description="what to do next")
    instance: str | None = Field(default=None, description="the request path")


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for routes: problem+json for each status."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        title = TITLES.get(status, ("", HTTPStatus(status).phrase))[1]
        out[status] = {
            "model": ProblemDetails,
            "description": title,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
        }
    return out


def _jsonable(value: Any) -> Any:
    try:
        return jsonable_encoder(value)
    except (TypeError, ValueError):
        return str(value)


def problem_response(
    request: Request,
    status: int,
    *,
    code: str,
    detail: str,
    hint: str | None = None,
    lang: Lang | None = None,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> JSONResponse:
    """A problem+json response (``detail`` and ``hint`` already in the request's language)."""
    lang = lang or negotiate_lang(request)
    if title is None:
        zh, en = TITLES.get(status, (HTTPStatus(status).phrase, HTTPStatus(status).phrase))
        title = pick(zh, en, lang)
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "hint": hint or None,
        "instance": request.url.path,
    }
    for name, value in (extensions or {}).items():
        body.setdefault(name, _jsonable(value))
    all_headers = {"Content-Language": lang, "Vary": "Accept-Language"}
    all_headers.update(headers or {})
    return JSONResponse(body, status_code=status, headers=all_headers, media_type=PROBLEM_JSON)


# ------------------------------------------------------------------------------- handlers


def _extensions(exc: TanhuiError, lang: Lang) -> dict[str, Any]:
    ext: dict[str, Any] = {}
    for attr in _EXTENSION_ATTRS:
        if hasattr(exc, attr):
            ext[attr] = getattr(exc, attr)
    # inventory, rule, cost and loss-event files carry every problem they found
    problems = exc.problems if isinstance(exc, InventoryError) else getattr(exc, "problems", None)
    if problems:
        ext["problems"] = [p.to_dict(lang) for p in problems]
    return ext


def _www_authenticate(exc: TanhuiError) -> dict[str, str]:
    value = 'Bearer realm="tanhui"'
    if getattr(exc, "reason", "") in ("invalid_token", "expired", "inactive"):
        value += ', error="invalid_token"'
    return {"WWW-Authenticate": value}


def _retry_after(exc: TanhuiError) -> dict[str, str] | None:
    seconds = getattr(exc, "retry_after", None)
    return {"Retry-After": str(seconds)} if seconds else None


def tanhui_error_response(request: Request, exc: TanhuiError) -> JSONResponse:
    lang = negotiate_lang(request)
    status = status_for(exc)
    if status >= 500:
        log.error("%s on %s %s: %s", type(exc).__name__, request.method, request.url.path, exc)
    return problem_response(
        request,
        status,
        code=code_for(type(exc)),
        detail=pick(exc.zh, exc.en, lang),
        hint=pick(exc.hint_zh, exc.hint_en, lang),
        lang=lang,
        headers=_www_authenticate(exc) if status == 401 else _retry_after(exc),
        extensions=_extensions(exc, lang),
    )


async def _tanhui_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TanhuiError)
    return tanhui_error_response(request, exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    lang = negotiate_lang(request)
    errors = [
        # ``input`` is left out: it could echo a password back.
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:5]) + (
        "; …" if len(errors) > 5 else ""
    )
    return problem_response(
        request,
        422,
        code="validation",
        detail=pick(
            f"请求数据无效（{len(errors)} 处）：{where}",
            f"The request is invalid ({len(errors)} error(s)): {where}",
            lang,
        ),
        hint=pick("请按 errors 中列出的字段逐条修改。", "Fix each field listed in errors.", lang),
        lang=lang,
        extensions={"errors": errors},
    )


_HTTP_DETAILS: Mapping[int, tuple[str, str]] = {
    404: ("没有这个地址：{path}", "There is nothing at {path}"),
    405: ("{path} 不支持 {method} 请求。", "{path} does not accept {method}."),
}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    lang = negotiate_lang(request)
    status = exc.status_code
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    if status in _HTTP_DETAILS and (not exc.detail or exc.detail == phrase):
        zh, en = _HTTP_DETAILS[status]
        detail = pick(zh, en, lang).format(path=request.url.path, method=request.method)
    else:
        detail = str(exc.detail) if exc.detail else phrase
    code = re.sub(r"[^a-z0-9]+", "_", phrase.lower()).strip("_") or f"http_{status}"
    return problem_response(
        request,
        status,
        code=code,
        detail=detail,
        lang=lang,
        headers=dict(exc.headers or {}),
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    lang = negotiate_lang(request)
    return problem_response(
        request,
        500,
        code="internal",
        detail=pick(
            "服务器内部错误，请求未完成。",
            "Internal server error; the request was not completed.",
            lang,
        ),
        hint=pick(
            "请稍后重试；若问题持续，请把时间和请求地址告诉系统管理员。",
            "Try again later; if it persists, tell an administrator the time and the address.",
            lang,
        ),
        lang=lang,
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` a problem+json response."""
    app.add_exception_handler(TanhuiError, _tanhui_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
    _problem_only_openapi(app)


def _problem_only_openapi(app: FastAPI) -> None:
    """Document error responses as problem+json only (FastAPI adds application/json too), and
    FastAPI's own 422 (for routes that did not declare one) as a problem too."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()  # FastAPI caches it in app.openapi_schema
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    for code, response in operation.get("responses", {}).items():
                        content = response.setdefault("content", {})
                        if code.isdigit() and int(code) >= 400:
                            content.pop("application/json", None)
                            content.setdefault(
                                PROBLEM_JSON,
                                {"schema": {"$ref": "#/components/schemas/ProblemDetails"}},
                            )
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas.setdefault("ProblemDetails", ProblemDetails.model_json_schema())
            if "#/components/schemas/HTTPValidationError" not in json.dumps(schema["paths"]):
                schemas.pop("HTTPValidationError", None)
                schemas.pop("ValidationError", None)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
