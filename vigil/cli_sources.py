"""`vigil sources ...` and `vigil ingest`: apply data-source contracts, read them back, ingest
files through them, and look at and replay what they refused.

A refused document is named by file, line and field on stderr, with exit status 2.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import anyio
import uvloop

from vigil import bootstrap
from vigil.application.alert_desk import AlertDesk
from vigil.application.data_sources import (
    SourceNotFound,
    apply_source,
    checked_contract,
    get_source,
)
from vigil.application.dead_letters import replay_dead_letters
from vigil.application.ingestion import BrokenRow, FileIngestion, IngestReport, ingest_rows
from vigil.cli_users import terminal_actor
from vigil.infrastructure.json_schema import FastJsonSchemaCompiler
from vigil.infrastructure.record_files import MalformedRecordFile
from vigil.infrastructure.record_readers import read_record_file
from vigil.infrastructure.settings import Settings
from vigil.infrastructure.yaml_documents import Document, DocumentError, load_documents

REFUSED = 2
BAR = 30


def cmd_apply(args: argparse.Namespace, settings: Settings) -> int:
    tenant_id = args.tenant or settings.server.default_tenant
    try:
        documents = [document for path in args.files for document in checked_documents(path)]
    except DocumentError as error:
        print(f"vigil sources apply: {error}", file=sys.stderr)
        return REFUSED
    desk = bootstrap.build_alert_desk(settings)
    try:
        for line in apply_documents(desk, tenant_id, args.actor, documents, args.note):
            print(line)
    finally:
        desk.close()
    return 0


def apply_documents(
    desk: AlertDesk, tenant_id: str, actor: str, documents: Iterable[Document], note: str
) -> list[str]:
    """Applies documents `checked_documents` read; a line for each on what it changed."""
    said = []
    for document in documents:
        applied = apply_source(
            desk, FastJsonSchemaCompiler(), tenant_id, actor, document.body, note
        )
        source = applied.source
        state = "unchanged" if not applied.changed else f"version {source.contract_version}"
        said.append(f"{source.name} ({source.contract.source_type}): {state}")
    return said


def apply_file(desk: AlertDesk, tenant_id: str, actor: str, path: Path, note: str) -> list[str]:
    """Applies every document in the file once all are checked; DocumentError with the line at
    fault, recording nothing."""
    return apply_documents(desk, tenant_id, actor, checked_documents(path), note)


def checked_documents(path: Path) -> list[Document]:
    """Every document in the file, each checked as a contract; DocumentError with the line at
    fault. The command checks every file before it applies the first document, so a refusal
    records nothing."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(str(path), None, None, f"unreadable: {exc}") from None
    documents = load_documents(text, str(path))
    compiler = FastJsonSchemaCompiler()
    for document in documents:
        document.parse(lambda body: checked_contract(compiler, body))
    return documents


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    tenant_id = args.tenant or settings.server.default_tenant
    desk = bootstrap.build_alert_desk(settings)
    try:
        source = get_source(desk, tenant_id, args.name)
    except SourceNotFound as error:
        print(f"vigil sources show: name: {error}", file=sys.stderr)
        return REFUSED
    finally:
        desk.close()
    body = {"contract_version": source.contract_version, **source.contract.to_document()}
    print(json.dumps(body, indent=2))
    return 0


def cmd_dead_letters(args: argparse.Namespace, settings: Settings) -> int:
    tenant_id = args.tenant or settings.server.default_tenant

    async def show() -> None:
        async with bootstrap.open_streams(settings, "vigil-cli") as streams:
            box = streams.dead_letter_box
            counts = await box.count(tenant_id, args.name)
            print(f"{counts.get(args.name, 0):,} dead letters for {args.name}")
            for stored in await box.page(tenant_id, args.name, 0, args.first):
                letter = stored.letter
                print(
                    f"#{stored.sequence} {stored.stored_at:%Y-%m-%d %H:%M:%S} {letter.stage} "
                    f"{letter.origin}: {letter.field}: {letter.reason}"
                )

    uvloop.run(show())
    return 0


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    tenant_id = args.tenant or settings.server.default_tenant

    async def replay() -> None:
        desk = bootstrap.build_alert_desk(settings)
        try:
            async with bootstrap.open_streams(settings, "vigil-cli") as streams:
                intake = bootstrap.build_intake(settings, desk, streams)
                box = streams.dead_letter_box
                report = await replay_dead_letters(box, intake, tenant_id, args.name, args.limit)
                print(f"replayed {report.replayed:,}; refused again {report.refused_again:,}")
        finally:
            desk.close()

    uvloop.run(replay())
    return 0


# ingest -------------------------------------------------------------------------------------


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    tenant_id = args.tenant or settings.server.default_tenant
    try:
        report = uvloop.run(
            ingest_file(
                settings,
                args.file,
                tenant_id,
                args.source,
                args.skip,
                args.limit,
                args.rate,
                show_progress=not args.quiet,
            )
        )
    except (SourceNotFound, MalformedRecordFile) as error:
        field = "source" if isinstance(error, SourceNotFound) else "file"
        print(f"vigil ingest: {field}: {error}", file=sys.stderr)
        return REFUSED
    print(
        f"ingested {report.accepted:,} records from {args.file} in {report.seconds:.1f} s "
        f"({report.records_per_s:,.0f} records/s); {report.dead_lettered:,} dead-lettered"
    )
    return 0


async def ingest_file(
    settings: Settings,
    path: Path,
    tenant_id: str,
    source: str,
    skip: int = 0,
    limit: int | None = None,
    rate: float | None = None,
    stopped: Callable[[], bool] = lambda: False,
    show_progress: bool = True,
) -> IngestReport:
    """Streams the file through intake under the source's contract."""
    desk = bootstrap.build_alert_desk(settings)
    try:
        async with bootstrap.open_streams(settings, "vigil-ingest") as streams:
            intake = bootstrap.build_intake(settings, desk, streams)
            compiled = await anyio.to_thread.run_sync(intake.contracts.contract, tenant_id, source)
            contract = compiled.contract
            rows, fraction = read_record_file(path, contract)
            end = None if limit is None else skip + limit
            chosen: Iterable[Mapping[str, Any] | BrokenRow] = itertools.islice(rows, skip, end)
            progress = _progress_bar(fraction) if show_progress else None
            file = FileIngestion(tenant_id, source, path.name)
            report = await ingest_rows(
                chosen, file, intake, rate=rate, progress=progress, stopped=stopped
            )
            if show_progress:
                sys.stderr.write("\n")
            return report
    finally:
        desk.close()


def _progress_bar(fraction: Callable[[], float]) -> Callable[[IngestReport], None]:
    def show(report: IngestReport) -> None:
        done = fraction()
        filled = int(done * BAR)
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (BAR - filled)}] {done:4.0%}  {report.read:>12,} records"
            f"  {report.records_per_s:>9,.0f}/s  {report.dead_lettered:,} dead-lettered"
        )
        sys.stderr.flush()

    return show


# The parser ---------------------------------------------------------------------------------


def add_sources_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--tenant", default=None, help="the tenant (default: the install's)")
    sources = commands.add_parser("sources", help="data-source contracts and their dead letters")
    sub = sources.add_subparsers(dest="sources_command", required=True, metavar="COMMAND")

    apply = sub.add_parser("apply", parents=[common], help="register or change sources from YAML")
    apply.add_argument("files", type=Path, nargs="+", metavar="FILE")
    apply.add_argument("--note", default="", help="why, for the record")
    apply.add_argument("--actor", default=terminal_actor(), help="who (default: %(default)s)")
    apply.set_defaults(handler=cmd_apply)

    show = sub.add_parser("show", parents=[common], help="a source's current contract")
    show.add_argument("name")
    show.set_defaults(handler=cmd_show)

    letters = sub.add_parser("dead-letters", parents=[common], help="what a source refused")
    letters.add_argument("name")
    letters.add_argument("--first", type=int, default=20)
    letters.set_defaults(handler=cmd_dead_letters)

    replay = sub.add_parser("replay", parents=[common], help="replay a source's dead letters")
    replay.add_argument("name")
    replay.add_argument("--limit", type=int, default=None)
    replay.set_defaults(handler=cmd_replay)

    ingest = commands.add_parser(
        "ingest", parents=[common], help="stream a CSV, gzip CSV or Parquet file into a source"
    )
    ingest.add_argument("file", type=Path)
    ingest.add_argument("--source", required=True)
    ingest.add_argument("--skip", type=int, default=0, help="rows to skip first")
    ingest.add_argument("--limit", type=int, default=None, help="rows to ingest at most")
    ingest.add_argument("--rate", type=float, default=None, help="records per second at most")
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")
    ingest.set_defaults(handler=cmd_ingest)
