"""Readiness: `/healthz` answers ok only once every startup hook has run."""

from __future__ import annotations

from litestar import Litestar, Request, get
from litestar.response import Response
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

READY = "ready"


def mark_ready(app: Litestar) -> None:
    app.state[READY] = True


def mark_stopping(app: Litestar) -> None:
    app.state[READY] = False


@get("/healthz", name="healthz", sync_to_thread=False, include_in_schema=False)
def healthz(request: Request) -> Response[dict[str, str]]:
    # The flag lives on the app, not in a module global, so two apps in one process
    # (tests, or a server beside a worker) never report each other's readiness.
    if request.app.state.get(READY, False):
        return Response({"status": "ok"}, status_code=HTTP_200_OK)
    return Response({"status": "starting"}, status_code=HTTP_503_SERVICE_UNAVAILABLE)
