"""Signing in to the console: a form, a session in an encrypted http-only cookie, signing out.

The session holds who logged in and when, nothing else; every request reads the user again
(`ApiAuthentication`), so disabling the user or changing the password ends the session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, get, post
from litestar.params import FromQuery, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_401_UNAUTHORIZED

from vigil.application.alert_desk import AlertDesk
from vigil.application.permissions import Principal
from vigil.web.auth import (
    SESSION_SINCE,
    SESSION_TENANT,
    SESSION_USER,
    THROTTLED,
    WRONG_LOGIN,
    Identity,
    Throttled,
    password_login,
)


@dataclass
class LoginForm:
    username: str = ""
    password: str = ""
    tenant: str = ""
    next: str = "/"


def sign_in_page(path: str) -> Redirect:
    """Where a console request without a session is sent: the form, then back to `path`."""
    return Redirect(f"/login?next={quote(path)}", status_code=HTTP_303_SEE_OTHER)


def _local(path: str) -> str:
    """Only a path on this site: an open redirect would lend the login page to phishing."""
    return path if path.startswith("/") and not path.startswith(("//", "/\\")) else "/"


def console_login(desk: AlertDesk, identity: Identity) -> type[Controller]:
    class ConsoleLogin(Controller):
        path = "/"
        include_in_schema = False

        @get("/login", name="console-login-form")
        async def form(self, next: FromQuery[str] = "/") -> Template:
            context = {
                "next": _local(next),
                "username": "",
                "tenant": identity.default_tenant,
                "error": None,
            }
            return Template("login.html", context=context)

        @post("/login", name="console-login")
        async def login(
            self, request: Request[Any, Any, Any], data: URLEncodedBody[LoginForm]
        ) -> Redirect | Template:
            tenant = data.tenant or identity.default_tenant
            principal = await password_login(
                desk, identity, request, tenant, data.username, data.password
            )
            if not isinstance(principal, Principal):
                context = {
                    "next": _local(data.next),
                    "username": data.username,
                    "tenant": data.tenant,
                    "error": THROTTLED if isinstance(principal, Throttled) else WRONG_LOGIN,
                }
                return Template("login.html", context=context, status_code=HTTP_401_UNAUTHORIZED)
            request.set_session(
                {
                    SESSION_USER: str(principal.user_id),
                    SESSION_TENANT: principal.tenant_id,
                    SESSION_SINCE: identity.clock().timestamp(),
                }
            )
            return Redirect(_local(data.next), status_code=HTTP_303_SEE_OTHER)

        @post("/logout", name="console-logout")
        async def logout(self, request: Request[Any, Any, Any]) -> Redirect:
            request.clear_session()
            return Redirect("/login", status_code=HTTP_303_SEE_OTHER)

    return ConsoleLogin
