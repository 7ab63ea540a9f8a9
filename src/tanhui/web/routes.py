"""The web UI (Jinja2 + HTMX pages) mounted on the API application.

:func:`mount` adds the pages (an :class:`~fastapi.APIRouter` kept out of the OpenAPI document) and
``/static`` (the package's ``static/`` directory: CSS, the vendored htmx, no CDN).

Pages
-----

===========================================  ===========  =======================================
route                                        who          what
===========================================  ===========  =======================================
``GET /``                                    anyone       to the user's first page, else /login
``GET|POST /login``, ``POST /logout``        anyone       password login → session cookie
``GET /lang/{zh|en}?next=``                  anyone       sets the ``lang`` cookie, goes back
``GET /holdings?org=&block=&offset=``        holders…     balance by state, blocks, operations
``POST /holdings/{transfer|pledge|retire}``  holders      HTMX: the result or the error
``GET /review``, ``POST /review/{id}``       reviewers    the caller's step of each request
``GET /pledges``, ``POST /pledges/{id}/…``   banks        confirm, release, enforce
``GET /freezes?org=``, ``POST /freezes…``    courts       freeze, unfreeze
``GET /holdings/fragment/{panel|ops}``,      users        the parts htmx reloads after a change
``GET /freezes/{list|form}``
``GET /verify?q=``, ``GET /verify/{no}``     public       certificate or serial lookup
``GET /certificates/{no}``                   public       the certificate in the layout
``GET /certificates/{no}/document``          public       :func:`render_html` (linked CSS)
``GET /certificates/{no}.pdf``               public       :func:`render_pdf`
``/develop/…``                               developers   screening, feasibility, the project
                                                          library, holders, losses
                                                          (:mod:`tanhui.web.develop_routes`)
===========================================  ===========  =======================================

Conventions every page follows
------------------------------

* **Services only.** Pages call the ledger (``app.state.ledger``) and :mod:`tanhui.registry.identity`
  and show what they return; roles are checked by the services, never here. The navigation asks
  ``actor.may(action)`` (the one role × action table) only to decide which links to show.
* **Auth.** ``POST /login`` runs :func:`identity.authenticate` and puts the access token
  (:func:`identity.issue_token`) in the ``th_session`` cookie (HttpOnly, SameSite=Lax, Secure over
  HTTPS, as long as the token lives). :func:`current_page_actor` reads it with
  :func:`identity.actor_from_token` (roles re-read on every request); a missing, expired or
  revoked token sends the browser to ``/login?next=…`` (``HX-Redirect`` for HTMX requests).
* **CSRF.** Besides SameSite=Lax, every POST must carry a token: the hidden ``csrf_token`` field
  of each form, or the ``X-CSRF-Token`` header htmx sends (``hx-headers`` on ``<body>``). The
  token is an HMAC (the app's secret key) of a random value in the ``th_csrf`` cookie, so a
  forged form cannot know it; a request whose ``Origin`` is another site, or that the browser
  marks ``Sec-Fetch-Site: cross-site``, is refused too. The cookie is renewed at login and logout.
* **Errors are messages.** A :class:`~tanhui.errors.TanhuiError` from a service becomes the same
  text the API's problem detail carries (``detail`` and ``hint`` in the page's language, ``title``
  by status) — in place for HTMX requests, as a page otherwise — with the problem's HTTP status.
  No traceback reaches a user.
* **Language.** ``?lang=``, the ``lang`` cookie, then ``Accept-Language``; Chinese by default
  (:func:`tanhui.api.problems.negotiate_lang`, the API's rule). Words are in :mod:`tanhui.web.i18n`.
* **HTMX.** Forms post with ``hx-post`` and swap the response into a result slot; success responses
  send ``HX-Trigger`` so lists reload. Without JavaScript the same forms post normally and the
  page is rendered again with the result in its slot.
* **Headers.** Every page sends a strict Content-Security-Policy (scripts and styles from this
  site only), ``X-Frame-Options: SAMEORIGIN`` and ``Cache-Control: no-store``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Form, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.staticfiles import StaticFiles

from tanhui.api.deps import authenticate, public_base_url
from tanhui.api.problems import TITLES, negotiate_lang, status_for
from tanhui.config import Settings
from tanhui.db.uow import UnitOfWork
from tanhui.errors import AuthenticationError, InputError, NotFoundError, TanhuiError
from tanhui.i18n import Lang, pick
from tanhui.registry import identity
from tanhui.registry.certificates import DISPLAY_TZ, PURPOSES, render_html, render_pdf
from tanhui.registry.identity import Actor
from tanhui.registry.ledger import Ledger
from tanhui.registry.lifecycle import ISSUANCE_TRANSITIONS, STATE_LABELS, BlockState
from tanhui.registry.permissions import ACTION_LABELS, ROLE_LABELS, Action, Role
from tanhui.web import queries
from tanhui.web.i18n import MESSAGES, translator

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "FLASH_COOKIE",
    "LANG_COOKIE",
    "SESSION_COOKIE",
    "csrf_token",
    "mount",
    "router",
]

SESSION_COOKIE = "th_session"
CSRF_COOKIE = "th_csrf"
FLASH_COOKIE = "th_flash"
LANG_COOKIE = "lang"  # the API's name (tanhui.api.problems.negotiate_lang reads it)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
PAGE_SIZE = 50
#: Largest id or tonne count a form or an address may name (the columns are 32-bit integers).
MAX_INT = 2**31 - 1
#: Largest loan amount a form takes (yuan); the column holds fen in 64 bits.
MAX_YUAN = 10**13
LANG_COOKIE_AGE = 365 * 24 * 3600

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-src 'self'",
        "frame-ancestors 'self'",
        "form-action 'self'",
        "base-uri 'self'",
        "object-src 'none'",
    )
)


# ----------------------------------------------------------------------------- templates


def _format_time(value: dt.datetime | str | None) -> str:
    """A time in China Standard Time, to the minute (naive times are UTC, as stored)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(DISPLAY_TZ).strftime("%Y-%m-%d %H:%M")


def _format_int(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _format_yuan(fen: int | None) -> str:
    if fen is None:
        return ""
    return f"{decimal.Decimal(fen) / 100:,.2f}"


def _format_num(value: float | None, digits: int = 0) -> str:
    """A measured number with thousands separators; "—" when there is none (or not finite)."""
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return "—"
    return f"{value:,.{digits}f}"


def _format_pct(value: float | None, digits: int = 1) -> str:
    """A share as a percentage; "—" when there is none."""
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return "—"
    return f"{100 * value:.{digits}f}%"


_env = Environment(
    loader=PackageLoader("tanhui.web", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(
    time=_format_time, int=_format_int, yuan=_format_yuan, num=_format_num, pct=_format_pct
)
templates = Jinja2Templates(env=_env)


# ---------------------------------------------------------------------------- exceptions


class LoginRequired(Exception):
    """The page needs a logged-in user; ``flash`` says why (a catalogue key)."""

    def __init__(self, flash: str = "flash_login_required") -> None:
        super().__init__(flash)
        self.flash = flash


class CsrfFailed(Exception):
    """A POST without the right CSRF token, or from another site."""


# ---------------------------------------------------------------------------- CSRF tokens


def _secret(settings: Settings) -> bytes:
    key = settings.secret_key.get_secret_value() if settings.secret_key else ""
    return key.encode()


def _csrf_seed(request: Request) -> str:
    """The random value behind the CSRF token: the cookie's, or a new one set with the response."""
    seed = getattr(request.state, "csrf_seed", None) or request.cookies.get(CSRF_COOKIE)
    if not seed or len(seed) > 128:
        seed = secrets.token_urlsafe(32)
        request.state.csrf_seed = seed
        request.state.csrf_new = True
    return seed


def csrf_token(request: Request) -> str:
    """The token forms carry: HMAC-SHA256 of the ``th_csrf`` cookie under the app's secret key."""
    seed = _csrf_seed(request)
    return hmac.new(
        _secret(request.app.state.settings), f"tanhui-csrf|{seed}".encode(), hashlib.sha256
    ).hexdigest()


def _renew_csrf(request: Request) -> None:
    request.state.csrf_seed = secrets.token_urlsafe(32)
    request.state.csrf_new = True


def _same_origin(request: Request) -> bool:
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.url.netloc


async def check_csrf(request: Request) -> None:
    """Dependency of every POST page route: the token matches and the request is same-site."""
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not _same_origin(request):
        raise CsrfFailed()
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else ""
    expected = hmac.new(
        _secret(request.app.state.settings), f"tanhui-csrf|{cookie}".encode(), hashlib.sha256
    ).hexdigest()
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfFailed()


CsrfDep = Annotated[None, Depends(check_csrf)]


# ---------------------------------------------------------------------------- the page


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str
    active: bool


#: Navigation: (path, catalogue key, the action a role needs to see it; None = everyone).
NAV: tuple[tuple[str, str, tuple[Action, ...] | None], ...] = (
    ("/holdings", "nav_holdings", (Action.view_own_holdings, Action.view_all_holdings)),
    ("/review", "nav_review", (Action.view_review_queue,)),
    ("/pledges", "nav_pledges", (Action.confirm_pledge,)),
    ("/freezes", "nav_freezes", (Action.freeze,)),
    # development (tanhui.web.develop_routes)
    ("/develop/screening", "nav_screening", (Action.view_dev_projects,)),
    ("/develop/feasibility", "nav_feasibility", (Action.view_dev_projects,)),
    ("/develop/projects", "nav_projects", (Action.view_dev_projects,)),
    ("/develop/holders", "nav_holders", (Action.view_rights_holders,)),
    ("/develop/losses", "nav_losses", (Action.view_dev_projects,)),
    ("/verify", "nav_verify", None),
)


def home_for(actor: Actor) -> str:
    """The first page of a user: their holdings, else their review queue, else their freezes."""
    if actor.may(Action.view_own_holdings) and actor.organisation_id is not None:
        return "/holdings"
    if actor.may(Action.view_review_queue):
        return "/review"
    if actor.may(Action.freeze):
        return "/freezes"
    return "/holdings"


@dataclass
class Result:
    """The outcome of a form: shown in the slot ``slot`` of a page, or swapped in by htmx."""

    ok: bool
    detail: str
    slot: str = ""
    title: str = ""
    hint: str = ""
    status: int = 200
    links: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Web:
    """One page request: its language, its actor (``None`` when anonymous) and the services."""

    request: Request
    lang: Lang
    actor: Actor | None

    @property
    def t(self) -> Callable[..., str]:
        return translator(self.lang)

    @property
    def ledger(self) -> Ledger:
        return self.request.app.state.ledger

    @property
    def settings(self) -> Settings:
        return self.request.app.state.settings

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.request.app.state.sessions)

    @property
    def user(self) -> Actor:
        assert self.actor is not None, "a page that needs a user depends on current_page_actor"
        return self.actor

    @property
    def htmx(self) -> bool:
        return self.request.headers.get("hx-request") == "true"

    @cached_property
    def me(self) -> dict[str, Any]:
        """Who is logged in, for the user menu: display name, organisation, roles."""
        actor = self.actor
        if actor is None or actor.user_id is None:
            return {}
        user = identity.get_user(self.uow(), actor, actor.user_id)
        org_name = ""
        if actor.organisation_id is not None:
            org_name = identity.get_organisation(self.uow(), actor, actor.organisation_id).name
        roles = [pick(*ROLE_LABELS[r], self.lang) for r in Role if r in actor.roles]
        return {
            "display_name": user.display_name or user.username,
            "username": user.username,
            "organisation": org_name,
            "roles": roles,
        }

    def nav(self) -> list[NavItem]:
        path = self.request.url.path
        items = []
        for href, key, actions in NAV:
            if actions is not None and (
                self.actor is None or not any(self.actor.may(a) for a in actions)
            ):
                continue
            items.append(NavItem(href, self.t(key), path == href or path.startswith(href + "/")))
        return items

    def context(self, **values: Any) -> dict[str, Any]:
        lang = self.lang
        flash_key = self.request.cookies.get(FLASH_COOKIE, "")
        here = _strip_lang(self.request.url.path, self.request.url.query)
        return {
            "t": self.t,
            "lang": lang,
            "html_lang": "zh-CN" if lang == "zh" else "en",
            "actor": self.actor,
            "me": self.me,
            "nav": self.nav(),
            "here": here,
            "here_quoted": quote(here, safe=""),
            "csrf_token": csrf_token(self.request),
            "csrf_field": CSRF_FIELD,
            "flash": self.t(flash_key)
            if flash_key.startswith("flash_") and flash_key in MESSAGES
            else "",
            "state_label": lambda s: _state_label(s, lang),
            "pick": lambda zh, en: pick(zh, en, lang),
            "purposes": [(code, pick(zh, en, lang)) for code, (zh, en) in PURPOSES.items()],
            "new_key": lambda: uuid.uuid4().hex,
            "t_or": lambda key, default: self.t(key) if key in MESSAGES else default,
            "result": None,
            **values,
        }

    def render(
        self,
        template: str,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        **values: Any,
    ) -> HTMLResponse:
        response = templates.TemplateResponse(
            self.request, template, self.context(**values), status_code=status, headers=headers
        )
        if self.request.cookies.get(FLASH_COOKIE):
            response.delete_cookie(FLASH_COOKIE, path="/")
        return response


def _state_label(state: str, lang: Lang) -> str:
    for key, (zh, en) in STATE_LABELS.items():
        if key.value == state:
            return pick(zh, en, lang)
    return state


def _strip_lang(path: str, query: str) -> str:
    """``path?query`` without a ``lang`` parameter (the switch sets the cookie instead)."""
    params = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "lang"]
    return path + ("?" + urlencode(params) if params else "")


def _safe_next(value: str | None) -> str:
    """A local path to go back to, or ``""`` (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return ""
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return ""
    return value


def _cookie_args(request: Request) -> dict[str, Any]:
    return {
        "httponly": True,
        "samesite": "lax",
        "secure": request.url.scheme == "https",
        "path": "/",
    }


# ---------------------------------------------------------------------------- dependencies


def optional_page_actor(request: Request) -> Actor | None:
    """The actor of the session cookie; ``None`` when there is none or it no longer works."""
    token = request.cookies.get(SESSION_COOKIE)
    actor = None
    if token:
        try:
            actor = identity.actor_from_token(
                UnitOfWork(request.app.state.sessions), token, request.app.state.settings
            )
        except AuthenticationError:
            request.state.session_invalid = True
    request.state.actor = actor
    return actor


def current_page_actor(
    actor: Annotated[Actor | None, Depends(optional_page_actor)], request: Request
) -> Actor:
    """The logged-in actor; otherwise the browser goes to the login page."""
    if actor is None:
        expired = getattr(request.state, "session_invalid", False)
        raise LoginRequired("flash_session_expired" if expired else "flash_login_required")
    return actor


def _web(request: Request, actor: Actor | None) -> Web:
    return Web(request, negotiate_lang(request), actor)


def public_page(
    request: Request, actor: Annotated[Actor | None, Depends(optional_page_actor)]
) -> Web:
    return _web(request, actor)


def user_page(request: Request, actor: Annotated[Actor, Depends(current_page_actor)]) -> Web:
    return _web(request, actor)


PublicDep = Annotated[Web, Depends(public_page)]
UserDep = Annotated[Web, Depends(user_page)]


# ---------------------------------------------------------------------------- the route class


def _finish(request: Request, response: Response) -> Response:
    """Cookies the request decided on and the security headers every page sends."""
    if getattr(request.state, "csrf_new", False):
        response.set_cookie(CSRF_COOKIE, request.state.csrf_seed, **_cookie_args(request))
    if getattr(request.state, "session_invalid", False):
        response.delete_cookie(SESSION_COOKIE, path="/")
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cache-Control", "no-store")
    headers.setdefault("Content-Language", negotiate_lang(request))
    return response


def _to_login(request: Request, exc: LoginRequired) -> Response:
    target = "/login"
    is_htmx = request.headers.get("hx-request") == "true"
    here = ""
    if is_htmx:  # back to the page the fragment belongs to, not to the fragment
        current = urlsplit(request.headers.get("hx-current-url", ""))
        if current.netloc == request.url.netloc:
            here = _safe_next(_strip_lang(current.path, current.query))
    elif request.method == "GET":
        here = _safe_next(_strip_lang(request.url.path, request.url.query))
    if here and here != "/" and not here.startswith("/login"):
        target += "?next=" + quote(here, safe="")
    if is_htmx:
        response: Response = Response(status_code=204, headers={"HX-Redirect": target})
    else:
        response = RedirectResponse(target, status_code=303)
    response.set_cookie(FLASH_COOKIE, exc.flash, max_age=60, **_cookie_args(request))
    return response


def error_result(exc: TanhuiError, lang: Lang, slot: str = "") -> Result:
    """The problem detail of ``exc`` (as the API would send it) as a page message."""
    status = status_for(exc)
    zh, en = TITLES.get(status, ("请求有误", "Bad request"))
    return Result(
        ok=False,
        slot=slot,
        status=status,
        title=pick(zh, en, lang),
        detail=pick(exc.zh, exc.en, lang),
        hint=pick(exc.hint_zh, exc.hint_en, lang),
    )


def _error_page(request: Request, result: Result) -> Response:
    web = _web(request, getattr(request.state, "actor", None))
    if web.htmx:
        return web.render("_result.html", status=result.status, result=result)
    return web.render("error.html", status=result.status, result=result)


def _internal_error_page(request: Request, lang: Lang) -> Response:
    detail = pick(
        "服务器内部错误，请求未完成。",
        "Internal server error; the request was not completed.",
        lang,
    )
    hint = pick(
        "请稍后重试；若问题持续，请把时间和页面地址告诉系统管理员。",
        "Try again later; if it persists, tell an administrator the time and the address.",
        lang,
    )
    result = Result(ok=False, status=500, title=pick(*TITLES[500], lang), detail=detail, hint=hint)
    try:
        return _error_page(request, result)
    except Exception:  # the layout itself failed (e.g. the database is down): plain text
        log.exception("error page failed on %s", request.url.path)
        return HTMLResponse(f"<!DOCTYPE html><title>500</title><p>{detail}</p><p>{hint}</p>", 500)


class PageRoute(APIRoute):
    """A page: errors become messages (never tracebacks or JSON), and every response gets the
    security headers and the cookies the request decided on."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            lang = negotiate_lang(request)
            t = translator(lang)
            try:
                response = await handler(request)
            except LoginRequired as exc:
                response = _to_login(request, exc)
            except CsrfFailed:
                response = _error_page(
                    request,
                    Result(
                        ok=False,
                        status=403,
                        title=pick(*TITLES[403], lang),
                        detail=t("csrf_failed"),
                        hint=t("csrf_hint"),
                    ),
                )
            except TanhuiError as exc:
                response = _error_page(request, error_result(exc, lang))
            except RequestValidationError as exc:
                fields = ", ".join(str(e.get("loc", ("",))[-1]) for e in exc.errors())
                response = _error_page(
                    request,
                    Result(
                        ok=False,
                        status=422,
                        title=pick(*TITLES[422], lang),
                        detail=t("bad_choice", field=fields),
                    ),
                )
            except Exception:  # a bug or an outage: a message and the log, never a traceback
                log.exception("error on page %s %s", request.method, request.url.path)
                response = _internal_error_page(request, lang)
            return _finish(request, response)

        return page_handler


router = APIRouter(route_class=PageRoute, include_in_schema=False)


# ---------------------------------------------------------------------------- form values


def _input_error(message_key: str, field_key: str, **values: Any) -> InputError:
    """A form value the page cannot use, in both languages (a 422 message)."""
    zh, en = translator("zh"), translator("en")
    return InputError(
        zh(message_key, field=zh(field_key), **values),
        en(message_key, field=en(field_key), **values),
        field=field_key,
    )


def _positive_int(value: str, field_key: str, *, required: bool = True) -> int | None:
    text = value.strip().replace(",", "").replace("，", "")
    if not text:
        if required:
            raise _input_error("missing_field", field_key)
        return None
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_INT:
        raise _input_error("bad_number", field_key, value=value)
    return int(text)


def _yuan_to_fen(value: str, field_key: str) -> int | None:
    text = value.strip().replace(",", "").replace("，", "")
    if not text:
        return None
    try:
        amount = decimal.Decimal(text)
    except decimal.InvalidOperation:
        raise _input_error("bad_amount", field_key, value=value) from None
    exponent = amount.as_tuple().exponent
    if (
        not amount.is_finite()
        or not 0 <= amount <= MAX_YUAN
        or not isinstance(exponent, int)
        or exponent < -2
    ):
        raise _input_error("bad_amount", field_key, value=value)
    return int(amount * 100)


def _required(value: str, field_key: str) -> str:
    if not value.strip():
        raise _input_error("missing_field", field_key)
    return value.strip()


FormStr = Annotated[str, Form()]
PathId = Annotated[int, Path(ge=1, le=MAX_INT)]
OrgQuery = Annotated[int | None, Query(ge=1, le=MAX_INT)]
OffsetQuery = Annotated[int, Query(ge=0, le=MAX_INT)]


def _respond(
    web: Web,
    result: Result,
    page: Callable[[Result], HTMLResponse],
    *,
    trigger: str | None = None,
    fragment: str = "_result.html",
    retarget: str | None = None,
    **fragment_values: Any,
) -> Response:
    """The answer to a form: for htmx the fragment (``HX-Trigger`` on success, ``HX-Retarget``
    to the message slot on failure), otherwise the page again with the result in its slot."""
    if not web.htmx:
        return page(result)
    headers: dict[str, str] = {}
    if result.ok and trigger:
        headers["HX-Trigger"] = trigger
    if not result.ok and retarget:
        headers["HX-Retarget"] = retarget
        headers["HX-Reswap"] = "innerHTML"
        fragment = "_result.html"
    return web.render(
        fragment, status=result.status, headers=headers, result=result, **fragment_values
    )


def _attempt(web: Web, slot: str, work: Callable[[], Result]) -> Result:
    try:
        result = work()
    except TanhuiError as exc:
        return error_result(exc, web.lang, slot)
    result.slot = slot
    return result


# ---------------------------------------------------------------------------- login, language


@router.get("/")
def root(web: PublicDep) -> Response:
    return RedirectResponse(home_for(web.actor) if web.actor else "/login", status_code=303)


@router.get("/login")
def login_page(web: PublicDep, next: str = "") -> Response:
    if web.actor is not None:
        return RedirectResponse(_safe_next(next) or home_for(web.actor), status_code=303)
    return web.render("login.html", next=_safe_next(next), username="")


@router.post("/login")
def login(
    web: PublicDep,
    _csrf: CsrfDep,
    username: FormStr = "",
    password: FormStr = "",
    next: FormStr = "",
) -> Response:
    try:
        if not username.strip() or not password:
            raise _input_error("missing_field", "username" if not username.strip() else "password")
        actor = authenticate(web.request, web.uow(), username, password)
        token = identity.issue_token(actor, web.settings)
    except TanhuiError as exc:
        result = error_result(exc, web.lang, "login")
        return web.render(
            "login.html",
            status=result.status,
            result=result,
            next=_safe_next(next),
            username=username,
        )
    response = RedirectResponse(_safe_next(next) or home_for(actor), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=web.settings.jwt_ttl_minutes * 60,
        **_cookie_args(web.request),
    )
    response.set_cookie(FLASH_COOKIE, "flash_logged_in", max_age=60, **_cookie_args(web.request))
    web.request.state.session_invalid = False  # an old, expired cookie is replaced, not cleared
    _renew_csrf(web.request)
    return response


@router.post("/logout")
def logout(web: PublicDep, _csrf: CsrfDep) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.set_cookie(FLASH_COOKIE, "flash_logged_out", max_age=60, **_cookie_args(web.request))
    _renew_csrf(web.request)
    return response


@router.get("/lang/{code}")
def switch_language(request: Request, code: str, next: str = "/") -> Response:
    response = RedirectResponse(_safe_next(next) or "/", status_code=303)
    if code in ("zh", "en"):
        response.set_cookie(
            LANG_COOKIE,
            code,
            max_age=LANG_COOKIE_AGE,
            **_cookie_args(request),
        )
    return response


# ---------------------------------------------------------------------------- holdings

HOLDING_OPERATIONS = {
    "transfer": Action.transfer,
    "pledge": Action.request_pledge,
    "retire": Action.retire,
}


def _holdings_context(
    web: Web, org: int | None, offset: int, block: int | None = None
) -> dict[str, Any]:
    actor = web.user
    org_id = org if org is not None else actor.organisation_id
    offset = max(offset, 0)
    blocks, total = web.ledger.holdings(actor, org_id, limit=PAGE_SIZE, offset=offset)
    balance = web.ledger.balance(org_id) if org_id is not None else {"balance": 0, "available": 0}
    own = org_id is not None and org_id == actor.organisation_id
    can = {name: own and actor.may(action) for name, action in HOLDING_OPERATIONS.items()}
    active = []
    if any(can.values()):
        active, _ = web.ledger.holdings(actor, org_id, states=[BlockState.ACTIVE.value], limit=500)
    may_view_all = actor.may(Action.view_all_holdings)
    organisations = queries.organisations(web.ledger.engine) if may_view_all else []
    org_name = web.me.get("organisation", "") if own else ""
    for o in organisations:
        if o["id"] == org_id:
            org_name = o["name"]
    states = [
        (state.value, _state_label(state.value, web.lang), balance[state.value])
        for state in BlockState
        if balance.get(state.value)
    ]
    return {
        "org_id": org_id,
        "org_name": org_name,
        "own": own,
        "blocks": blocks,
        "total": total,
        "offset": offset,
        "page_size": PAGE_SIZE,
        "balance": balance,
        "states": states,
        "can": can,
        "active_blocks": active,
        "selected_block": block,
        "organisations": organisations,
        "banks": queries.organisations(web.ledger.engine, ["bank"]) if can["pledge"] else [],
        "panel_query": urlencode({"org": org_id or "", "offset": offset}),
    }


@router.get("/holdings")
def holdings(
    web: UserDep, org: OrgQuery = None, offset: OffsetQuery = 0, block: OrgQuery = None
) -> Response:
    return web.render("holdings.html", **_holdings_context(web, org, offset, block))


@router.get("/holdings/fragment/{part}")
def holdings_fragment(
    web: UserDep, part: str, org: OrgQuery = None, offset: OffsetQuery = 0
) -> Response:
    template = {"panel": "_holdings_panel.html", "ops": "_holdings_ops.html"}.get(part)
    if template is None:
        return Response(status_code=404)
    return web.render(template, **_holdings_context(web, org, offset))


def _holdings_again(web: Web) -> Callable[[Result], HTMLResponse]:
    def page(result: Result) -> HTMLResponse:
        return web.render(
            "holdings.html", status=result.status, result=result, **_holdings_context(web, None, 0)
        )

    return page


@router.post("/holdings/transfer")
def transfer(
    web: UserDep,
    _csrf: CsrfDep,
    block_id: FormStr = "",
    quantity: FormStr = "",
    to_account: FormStr = "",
    idempotency_key: FormStr = "",
) -> Response:
    def work() -> Result:
        moved = web.ledger.transfer(
            web.user,
            block_id=_positive_int(block_id, "choose_block") or 0,
            quantity=_positive_int(quantity, "quantity", required=False),
            to_account=_required(to_account, "to_account").upper(),
            idempotency_key=idempotency_key or None,
        )
        return Result(
            True,
            web.t(
                "transfer_done",
                quantity=_format_int(moved["quantity"]),
                account=moved["account"],
                serial=moved["serial"],
            ),
        )

    result = _attempt(web, "transfer", work)
    return _respond(web, result, _holdings_again(web), trigger="holdings-changed")


@router.post("/holdings/pledge")
def request_pledge(
    web: UserDep,
    _csrf: CsrfDep,
    block_id: FormStr = "",
    quantity: FormStr = "",
    bank_id: FormStr = "",
    loan_amount: FormStr = "",
    contract_number: FormStr = "",
    idempotency_key: FormStr = "",
) -> Response:
    def work() -> Result:
        pledge = web.ledger.request_pledge(
            web.user,
            block_id=_positive_int(block_id, "choose_block") or 0,
            quantity=_positive_int(quantity, "quantity", required=False),
            bank_organisation_id=_positive_int(bank_id, "bank") or 0,
            loan_amount_fen=_yuan_to_fen(loan_amount, "loan_amount"),
            contract_number=contract_number.strip() or None,
            idempotency_key=idempotency_key or None,
        )
        return Result(
            True,
            web.t(
                "pledge_done",
                id=pledge["pledge_id"],
                quantity=_format_int(pledge["block"]["quantity"]),
            ),
        )

    result = _attempt(web, "pledge", work)
    return _respond(web, result, _holdings_again(web), trigger="holdings-changed")


@router.post("/holdings/retire")
def retire(
    web: UserDep,
    _csrf: CsrfDep,
    block_id: FormStr = "",
    quantity: FormStr = "",
    beneficiary: FormStr = "",
    purpose: FormStr = "",
    note: FormStr = "",
    idempotency_key: FormStr = "",
) -> Response:
    def work() -> Result:
        record = web.ledger.retire(
            web.user,
            block_id=_positive_int(block_id, "choose_block") or 0,
            quantity=_positive_int(quantity, "quantity", required=False),
            beneficiary=_required(beneficiary, "beneficiary"),
            purpose=_required(purpose, "purpose"),
            note=note.strip(),
            idempotency_key=idempotency_key or None,
        )
        number = record["certificate_number"]
        return Result(
            True,
            web.t("retire_done", quantity=_format_int(record["quantity"]), number=number),
            links=[
                (f"/certificates/{number}", web.t("view_certificate")),
                (f"/certificates/{number}.pdf", web.t("download_pdf")),
            ],
        )

    result = _attempt(web, "retire", work)
    return _respond(web, result, _holdings_again(web), trigger="holdings-changed")


# ---------------------------------------------------------------------------- review

#: The step a request in a state waits for (verify, approve, file, issue); rejecting is extra.
STEP_FOR_STATE: Mapping[str, Action] = {
    state.value: action
    for action, (sources, _target) in ISSUANCE_TRANSITIONS.items()
    if action is not Action.reject_issuance
    for state in sources
}


def _review_item(web: Web, item: dict[str, Any]) -> dict[str, Any]:
    step = STEP_FOR_STATE.get(item["state"])
    return {
        **item,
        "state_label": _state_label(item["state"], web.lang),
        "step": step.value if step else None,
        "step_label": pick(*ACTION_LABELS[step], web.lang) if step else "",
        "may_reject": web.user.may(Action.reject_issuance),
        "reject_label": pick(*ACTION_LABELS[Action.reject_issuance], web.lang),
    }


@router.get("/review")
def review(web: UserDep) -> Response:
    queue = [_review_item(web, item) for item in web.ledger.review_queue(web.user)]
    return web.render("review.html", queue=queue)


@router.post("/review/{request_id}")
def review_step(
    web: UserDep,
    _csrf: CsrfDep,
    request_id: PathId,
    action: FormStr = "",
    reason: FormStr = "",
) -> Response:
    def work() -> Result:
        try:
            step = Action(action)
        except ValueError:
            raise _input_error("bad_choice", "actions") from None
        if step is not Action.reject_issuance and step not in STEP_FOR_STATE.values():
            raise _input_error("bad_choice", "actions")
        done = web.ledger.review_issuance(
            web.user, request_id=request_id, action=step, reason=reason.strip() or None
        )
        message = web.t("review_done", id=request_id, state=_state_label(done["state"], web.lang))
        if done.get("blocks"):
            serials = "；".join(b["serial"] for b in done["blocks"])
            message += " " + web.t("review_issued_blocks", serials=serials)
        return Result(True, message)

    result = _attempt(web, f"review-{request_id}", work)

    def page(result: Result) -> HTMLResponse:
        queue = [_review_item(web, item) for item in web.ledger.review_queue(web.user)]
        return web.render("review.html", status=result.status, queue=queue, result=result)

    return _respond(
        web,
        result,
        page,
        fragment="_review_done.html",
        retarget=f"#review-{request_id}-result",
        request_id=request_id,
    )


# ---------------------------------------------------------------------------- pledges (banks)

PLEDGE_STEPS: Mapping[str, str] = {
    "confirm": "confirm_pledge",
    "release": "release_pledge",
    "enforce": "enforce_pledge",
}


def _pledge_view(web: Web, pledge: dict[str, Any]) -> dict[str, Any]:
    steps = {"requested": ["confirm"], "active": ["release", "enforce"]}.get(pledge["state"], [])
    return {
        **pledge,
        "state_label": web.t(f"pledge_state_{pledge['state']}")
        if f"pledge_state_{pledge['state']}" in MESSAGES
        else pledge["state"],
        "steps": [(s, pick(*ACTION_LABELS[Action(PLEDGE_STEPS[s])], web.lang)) for s in steps],
    }


def _pledges(web: Web) -> list[dict[str, Any]]:
    return [_pledge_view(web, p) for p in web.ledger.pledges_for_bank(web.user)]


@router.get("/pledges")
def pledges(web: UserDep) -> Response:
    return web.render("pledges.html", pledges=_pledges(web))


@router.post("/pledges/{pledge_id}/{step}")
def pledge_step(web: UserDep, _csrf: CsrfDep, pledge_id: PathId, step: str) -> Response:
    def work() -> Result:
        if step not in PLEDGE_STEPS:
            raise _input_error("bad_choice", "actions")
        method = getattr(web.ledger, PLEDGE_STEPS[step])
        done = method(web.user, pledge_id=pledge_id)
        state = web.t(f"pledge_state_{done['state']}")
        return Result(True, web.t("pledge_step_done", id=pledge_id, state=state))

    result = _attempt(web, f"pledge-{pledge_id}", work)
    items = _pledges(web)
    pledge = next((p for p in items if p["id"] == pledge_id), None)

    def page(result: Result) -> HTMLResponse:
        return web.render("pledges.html", status=result.status, pledges=items, result=result)

    if pledge is None:
        return _respond(web, result, page)
    return _respond(
        web,
        result,
        page,
        fragment="_pledge.html",
        retarget=f"#pledge-{pledge_id}-result",
        p=pledge,
        item_result=result,
    )


# ---------------------------------------------------------------------------- freezes (courts)


def _freeze_view(web: Web, record: dict[str, Any]) -> dict[str, Any]:
    key = f"freeze_state_{record['state']}"
    return {**record, "state_label": web.t(key) if key in MESSAGES else record["state"]}


def _freezes_context(web: Web, org: int | None) -> dict[str, Any]:
    freezes = [_freeze_view(web, f) for f in web.ledger.freezes_by_court(web.user)]
    holders = queries.organisations(
        web.ledger.engine, ["holder", "individual", "bank", "market", "issuer"]
    )
    blocks = []
    if org is not None:
        found, _ = web.ledger.holdings(
            web.user,
            org,
            states=[BlockState.ACTIVE.value, BlockState.RESERVED.value],
            limit=500,
        )
        blocks = found
    return {"freezes": freezes, "holders": holders, "org_id": org, "blocks": blocks}


@router.get("/freezes")
def freezes(web: UserDep, org: OrgQuery = None) -> Response:
    return web.render("freezes.html", **_freezes_context(web, org))


@router.get("/freezes/list")
def freezes_list(web: UserDep) -> Response:
    return web.render("_freeze_list.html", **_freezes_context(web, None))


@router.get("/freezes/form")
def freeze_form(web: UserDep, org: OrgQuery = None) -> Response:
    return web.render("_freeze_form.html", **_freezes_context(web, org))


@router.post("/freezes")
def freeze(
    web: UserDep,
    _csrf: CsrfDep,
    block_id: FormStr = "",
    quantity: FormStr = "",
    case_number: FormStr = "",
    reason: FormStr = "",
    org: FormStr = "",
    idempotency_key: FormStr = "",
) -> Response:
    def work() -> Result:
        done = web.ledger.freeze(
            web.user,
            block_id=_positive_int(block_id, "choose_block") or 0,
            quantity=_positive_int(quantity, "quantity", required=False),
            case_number=_required(case_number, "case_number"),
            reason=reason.strip(),
            idempotency_key=idempotency_key or None,
        )
        block = done["block"]
        return Result(
            True,
            web.t(
                "freeze_done",
                id=done["freeze_id"],
                quantity=_format_int(block["quantity"]),
                serial=block["serial"],
            ),
        )

    result = _attempt(web, "freeze", work)
    org_id = _positive_int(org, "organisation", required=False) if org.strip().isdigit() else None

    def page(result: Result) -> HTMLResponse:
        return web.render(
            "freezes.html", status=result.status, result=result, **_freezes_context(web, org_id)
        )

    return _respond(web, result, page, trigger="freezes-changed")


@router.post("/freezes/{freeze_id}/unfreeze")
def unfreeze(web: UserDep, _csrf: CsrfDep, freeze_id: PathId) -> Response:
    def work() -> Result:
        web.ledger.unfreeze(web.user, freeze_id=freeze_id)
        return Result(True, web.t("unfreeze_done", id=freeze_id))

    result = _attempt(web, f"freeze-{freeze_id}", work)
    context = _freezes_context(web, None)
    record = next((f for f in context["freezes"] if f["id"] == freeze_id), None)

    def page(result: Result) -> HTMLResponse:
        return web.render("freezes.html", status=result.status, result=result, **context)

    if record is None:
        return _respond(web, result, page)
    return _respond(
        web,
        result,
        page,
        fragment="_freeze.html",
        retarget=f"#freeze-{freeze_id}-result",
        f=record,
        item_result=result,
    )


# ---------------------------------------------------------------------------- public pages


def _lookup(web: Web, query: str) -> tuple[dict[str, Any] | None, Result | None]:
    if not query.strip():
        return None, None
    try:
        return web.ledger.lookup(query), None
    except TanhuiError as exc:
        return None, error_result(exc, web.lang, "verify")


def _verify(web: Web, query: str) -> Response:
    found, problem = _lookup(web, query)
    status = problem.status if problem else 200
    return web.render(
        "verify.html",
        status=status,
        q=query.strip(),
        found=found,
        result=problem,
        purpose_label=lambda code: pick(*PURPOSES.get(code, (code, code)), web.lang),
    )


@router.get("/verify")
def verify(web: PublicDep, q: str = "") -> Response:
    return _verify(web, q)


@router.get("/verify/{query}")
def verify_one(web: PublicDep, query: str) -> Response:
    return _verify(web, query)


def _certificate(web: Web, number: str) -> dict[str, Any]:
    record = web.ledger.certificate(number)
    if record.get("kind") != "certificate":
        raise NotFoundError(
            f"找不到注销证明 {number}。",
            f"No certificate {number}.",
            kind="certificate",
            key=number,
        )
    return record


def _verification_url(web: Web, number: str) -> str:
    return public_base_url(web.request) + "/verify/" + quote(number, safe="")


@router.get("/certificates/{number}.pdf")
def certificate_pdf(web: PublicDep, number: str) -> Response:
    record = _certificate(web, number)
    data = queries.certificate_data(record, _verification_url(web, record["certificate_number"]))
    pdf = render_pdf(data)
    filename = f"{record['certificate_number']}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/certificates/{number}/document")
def certificate_document(web: PublicDep, number: str) -> Response:
    record = _certificate(web, number)
    data = queries.certificate_data(record, _verification_url(web, record["certificate_number"]))
    html = render_html(data, "both", stylesheet="/static/css/certificate.css")
    return HTMLResponse(html)


@router.get("/certificates/{number}")
def certificate_page(web: PublicDep, number: str) -> Response:
    record = _certificate(web, number)
    return web.render(
        "certificate_page.html",
        c=record,
        purpose_label=pick(*PURPOSES.get(record["purpose"], ("", "")), web.lang),
    )


# ---------------------------------------------------------------------------- mounting


def mount(app: FastAPI) -> None:
    """Add the pages (the registry's here, development's in :mod:`tanhui.web.develop_routes`)
    and the static files to ``app``."""
    from tanhui.web import develop_routes

    app.include_router(router)
    app.include_router(develop_routes.router)
    app.mount("/static", StaticFiles(packages=[("tanhui.web", "static")]), name="static")
