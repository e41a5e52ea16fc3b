"""Error pages: people get the console's page, programs get Litestar's JSON error body."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.exceptions.responses import create_exception_response
from litestar.response import Template
from litestar.status_codes import HTTP_401_UNAUTHORIZED, HTTP_404_NOT_FOUND
from litestar.types import ExceptionHandlersMap

from vigil.web.console_login import sign_in_page

MACHINE_PATHS = ("/graphql", "/api/", "/healthz", "/static/")


def error_page(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if request.url.path.startswith(MACHINE_PATHS):
        return create_exception_response(request, exc)
    if exc.status_code == HTTP_401_UNAUTHORIZED:
        return sign_in_page(request.url.path)
    name = "404.html" if exc.status_code == HTTP_404_NOT_FOUND else "error.html"
    return Template(
        name,
        context={"detail": exc.detail, "status_code": exc.status_code},
        status_code=exc.status_code,
    )


def exception_handlers() -> ExceptionHandlersMap:
    return {HTTPException: error_page}
