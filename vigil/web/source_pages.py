"""The console's data sources: the list, a source's page (its document, its history and its dead
letters, with the Replay form), and the form that applies a YAML document.

A refused document is shown again in its form with the line and the field at fault, and the
line marked in a numbered copy of the text; nothing was recorded, so there is no redirect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import (
    HTTP_303_SEE_OTHER,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_503_SERVICE_UNAVAILABLE,
)

from vigil.application.data_sources import SourceNotFound
from vigil.application.permissions import Permission
from vigil.application.source_catalogue import SourceCatalogue
from vigil.application.source_desk import (
    DeadLetterPage,
    DeadLettersUnavailable,
    DocumentRefused,
    ReplayOutcome,
    SourceDesk,
)
from vigil.web.auth import requires
from vigil.web.console import Actor, Tenant

DEAD_LETTER_PAGE = 50


@dataclass
class ApplyForm:
    document: str = ""
    note: str = ""


def source_pages(sources: SourceDesk, catalogue: SourceCatalogue) -> type[Controller]:
    class SourcePages(Controller):
        path = "/"
        include_in_schema = False
        guards = [requires(Permission.SOURCES_READ)]

        @get("/sources", name="source-list")
        async def listed(self, tenant_id: Tenant) -> Template:
            rows = await catalogue.sources(tenant_id)
            try:
                counts: dict[str, int] | None = await sources.dead_letter_counts(tenant_id)
            except DeadLettersUnavailable:
                counts = None
            return Template("sources.html", context={"rows": rows, "counts": counts})

        @get("/sources/{source_name:str}", name="source-detail")
        async def detail(
            self, source_name: FromPath[str], tenant_id: Tenant, after: FromQuery[int] = 0
        ) -> Template:
            return await _source_page(sources, tenant_id, source_name, after)

        @post(
            "/sources/{source_name:str}/replay",
            name="source-replay",
            guards=[requires(Permission.SOURCES_MANAGE)],
        )
        async def replay(self, source_name: FromPath[str], tenant_id: Tenant) -> Template:
            try:
                outcome = await sources.replay(tenant_id, source_name)
            except SourceNotFound as error:
                raise NotFoundException(str(error)) from None
            except DeadLettersUnavailable as error:
                unavailable = HTTP_503_SERVICE_UNAVAILABLE
                return await _source_page(
                    sources, tenant_id, source_name, replay_error=str(error), status=unavailable
                )
            return await _source_page(sources, tenant_id, source_name, replayed=outcome)

        @get(
            "/source-documents/new",
            name="source-apply-form",
            guards=[requires(Permission.SOURCES_MANAGE)],
        )
        async def form(self, tenant_id: Tenant, source: FromQuery[str] = "") -> Template:
            """Blank, or holding a source's current document to change."""
            document = ""
            if source:
                (profile,) = await sources.profiles(tenant_id, [source])
                if profile is not None:
                    document = sources.document_text(profile.source.contract)
            return Template("source_apply.html", context=document_form(document))

        @post(
            "/source-documents",
            name="source-apply",
            guards=[requires(Permission.SOURCES_MANAGE)],
        )
        async def apply(
            self, data: URLEncodedBody[ApplyForm], tenant_id: Tenant, actor: Actor
        ) -> Redirect | Template:
            try:
                applied = await sources.apply(tenant_id, actor, data.document, data.note)
            except DocumentRefused as refused:
                context = document_form(data.document, data.note, refused)
                return Template(
                    "source_apply.html", context=context, status_code=HTTP_422_UNPROCESSABLE_ENTITY
                )
            names = list(dict.fromkeys(one.profile.source.name for one in applied))
            where = f"/sources/{names[0]}" if len(names) == 1 else "/sources"
            return Redirect(where, status_code=HTTP_303_SEE_OTHER)

    return SourcePages


def document_form(
    document: str, note: str = "", refused: DocumentRefused | None = None
) -> dict[str, Any]:
    """What `document_form.html` shows: the document as sent, the note, and where a refused one
    is at fault, its lines numbered."""
    return {"document": document, "note": note, "refused": refused, "lines": document.splitlines()}


async def _source_page(
    sources: SourceDesk,
    tenant_id: str,
    name: str,
    after: int = 0,
    replayed: ReplayOutcome | None = None,
    replay_error: str | None = None,
    status: int = 200,
) -> Template:
    (profile,) = await sources.profiles(tenant_id, [name])
    if profile is None:
        raise NotFoundException(f"no data source named {name!r} is registered")
    letters: DeadLetterPage | None = None
    try:
        letters = await sources.dead_letters(tenant_id, name, max(after, 0), DEAD_LETTER_PAGE)
    except DeadLettersUnavailable:
        letters = None
    context = {
        "profile": profile,
        "source": profile.source,
        "document": sources.document_text(profile.source.contract),
        "letters": letters,
        "after": after,
        "replayed": replayed,
        "replay_error": replay_error,
    }
    return Template("source.html", context=context, status_code=status)
