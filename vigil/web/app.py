"""The app factory: the one place the Litestar app is assembled from what bootstrap built."""

from __future__ import annotations

import gc
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litestar import Litestar, Request
from litestar.config.csrf import CSRFConfig
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.middleware.session.client_side import CookieBackendConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ControllerRouterHandler, Scope
from strawberry.litestar import make_graphql_controller
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from vigil.application.casework import Casework
from vigil.application.domain_events import DomainEventFeed
from vigil.application.model_training import ModelTraining
from vigil.application.permissions import Principal
from vigil.application.read_models import ReadModels
from vigil.application.source_desk import SourceDesk
from vigil.graphql.context import VigilContext, make_context
from vigil.graphql.schema import schema
from vigil.web.auth import ApiAuthentication, Identity, auth_router
from vigil.web.case_files import CaseFileStorage, case_file_router
from vigil.web.console import AlertConsole
from vigil.web.console_login import console_login
from vigil.web.errors import exception_handlers
from vigil.web.escalation_pages import escalation_pages
from vigil.web.graphiql import graphiql_page
from vigil.web.health import healthz, mark_ready, mark_stopping
from vigil.web.ingest import IngestEndpoints, ingest_router
from vigil.web.scoring import ScoringEndpoints, scoring_routes
from vigil.web.source_pages import source_pages

HERE = Path(__file__).parent

LifespanHook = Callable[..., Any]
"""Called with no arguments or with the app; may be a coroutine function."""

KEEP_ALIVE_SECONDS = 15.0
"""How often an idle graphql-ws socket gets a keep-alive, so proxies leave it open
(graphql-transport-ws clients ping on their own)."""

CSRF_EXEMPT = ["^/graphql", "^/api/", "^/healthz$", "^/static/"]
"""JSON clients authenticate with tokens, not cookies, so forged cross-site forms gain nothing."""

UNAUTHENTICATED = ["^/healthz$", "^/static/", "^/api/v1/webhooks/"]
"""Paths no credentials are looked for on: probes, static files, and webhooks, whose deliveries
carry their own proof (a signature under the source's secret)."""

SESSION_SECONDS = 8 * 60 * 60
"""A console session lasts a working day; disabling the user or a new password ends it sooner."""


@dataclass
class WebDeps:
    """What the web interface needs from the composition root."""

    alert_desk: Casework
    read_models: ReadModels
    identity: Identity
    """Tells who calls the API and the console, and logs users in."""
    csrf_secret: str
    """Signs the console's CSRF tokens; keep it stable across processes behind one address."""
    case_files: CaseFileStorage | None = None
    """Where case files are kept and what they may be; without it the file routes are absent."""
    domain_events: DomainEventFeed | None = None
    """Feeds GraphQL subscriptions; without it they answer with an error."""
    ingest: IngestEndpoints | None = None
    """REST ingest, file uploads and webhooks; without it those routes are absent."""
    sources: SourceDesk | None = None
    """Data-source documents and dead letters for GraphQL and the console; without it the
    console's source pages are absent and the GraphQL fields answer with an error."""
    scoring: ScoringEndpoints | None = None
    """REST scoring; without it those routes are absent."""
    training: ModelTraining | None = None
    """Training over GraphQL; without it the mutation answers that it is unavailable."""
    on_startup: list[LifespanHook] = field(default_factory=list)
    on_shutdown: list[LifespanHook] = field(default_factory=list)
    debug: bool = False


YOUNG_GENERATION_THRESHOLD = 2_000
"""Allocations between the collector's youngest passes (CPython's default is 700). A pass costs
in proportion to the young objects it walks: on the alert-queue benchmark a threshold of 50,000
stalled a request every few by 12-15 ms, 2,000 passes in about a millisecond and gave the lowest
p99 (700: 15.9 ms, 2,000: 12.6 ms, 20,000: 18.7 ms, 50,000: 22.4 ms)."""


def settle_heap() -> None:
    """Takes what is alive once the app has started (modules, the schema, templates) out of the
    garbage collector's reach and lets its young generation grow. Measured on the alert-queue
    benchmark: full collections over that heap stalled one request in 25 by about 200 ms."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, oldest)


def create_app(deps: WebDeps) -> Litestar:
    handlers: list[ControllerRouterHandler] = [
        healthz,
        AlertConsole,
        console_login(deps.alert_desk, deps.identity),
        auth_router(deps.alert_desk, deps.identity),
        _graphql_controller(deps),
        create_static_files_router(path="/static", directories=[HERE / "static"]),
    ]
    if deps.case_files is not None:
        handlers.append(case_file_router(deps.alert_desk, deps.case_files))
    if deps.ingest is not None:
        handlers.append(ingest_router(deps.ingest))
    if deps.scoring is not None:
        handlers.extend(scoring_routes(deps.scoring))
    if deps.sources is not None:
        handlers.append(source_pages(deps.sources, deps.read_models.source_catalogue))
        handlers.extend(escalation_pages(deps.alert_desk, deps.sources.documents))
    authentication = DefineMiddleware(
        ApiAuthentication, desk=deps.alert_desk, identity=deps.identity, exclude=UNAUTHENTICATED
    )
    # The console's session cookie: encrypted, http-only, SameSite=Lax, and never read on the
    # API's paths, which prove their caller with a header (so cross-site requests carry nothing).
    sessions = CookieBackendConfig(
        secret=_derived_key(deps.csrf_secret, b"vigil console sessions v1"),
        key="vigil_session",
        max_age=SESSION_SECONDS,
        exclude=CSRF_EXEMPT,
    )
    return Litestar(
        route_handlers=handlers,
        middleware=[sessions.middleware, authentication],
        dependencies=_console_dependencies(deps),
        template_config=TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine),
        csrf_config=CSRFConfig(secret=deps.csrf_secret, exclude=CSRF_EXEMPT, cookie_httponly=True),
        exception_handlers=exception_handlers(),
        # Readiness is marked after every hook of the composition root has run, and withdrawn
        # before any of them tears down, so a load balancer never routes to a half-ready app.
        on_startup=[*deps.on_startup, mark_ready],
        on_shutdown=[mark_stopping, *deps.on_shutdown],
        # No OpenAPI pages yet: Litestar's Swagger and ReDoc pages load from a CDN as well.
        openapi_config=None,
        debug=deps.debug,
    )


def _console_dependencies(deps: WebDeps) -> dict[str, Provide]:
    def constant(value: object) -> Provide:
        def provide() -> object:
            return value

        return Provide(provide, use_cache=True, sync_to_thread=False)

    return {
        "alert_desk": constant(deps.alert_desk),
        "alert_queue": constant(deps.read_models.alert_queue),
        "tenant_id": Provide(_caller_tenant, sync_to_thread=False),
        "actor": Provide(_caller_name, sync_to_thread=False),
    }


# The console's guards make sure there is a principal before these are asked for.
def _caller_tenant(request: Request[Principal, Any, Any]) -> str:
    return request.user.tenant_id


def _caller_name(request: Request[Principal, Any, Any]) -> str:
    return request.user.username


def _derived_key(secret: str, purpose: bytes) -> bytes:
    """A 32-byte key of its own for each use of the server secret."""
    return hmac.new(secret.encode(), purpose, hashlib.sha256).digest()


def _graphql_controller(deps: WebDeps) -> type:
    async def context_getter(scope: Scope) -> VigilContext:
        # The explorer page needs no principal; every root field refuses a request without one.
        principal = scope.get("user")
        if not isinstance(principal, Principal):
            return make_context(deps.alert_desk, deps.read_models, "", "", deps.domain_events)
        return make_context(
            deps.alert_desk,
            deps.read_models,
            principal.tenant_id,
            principal.username,
            deps.domain_events,
            principal,
            deps.sources,
            deps.training,
        )

    # Subscriptions speak both graphql-transport-ws and the older graphql-ws; a browser page
    # on another origin may not open one (strawberry's default).
    controller = make_graphql_controller(
        schema,
        path="/graphql",
        graphql_ide="graphiql",
        context_getter=context_getter,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
        keep_alive=True,
        keep_alive_interval=KEEP_ALIVE_SECONDS,
    )

    class GraphQLController(controller):  # type: ignore[valid-type, misc]  # made at runtime
        """strawberry's GraphiQL page loads its scripts from a CDN, which an air-gapped install
        cannot reach; this one serves Vigil's own copy."""

        @property
        def graphql_ide_html(self) -> str:
            return graphiql_page()

    return GraphQLController
