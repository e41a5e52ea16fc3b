"""The `vigil` command: serve, worker, ingest, train, models, run, demo and users."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import uvloop

from vigil import bootstrap, bootstrap_delivery, bootstrap_escalations, bootstrap_labels
from vigil.application.data_sources import SourceNotFound
from vigil.application.detection import ModelCard
from vigil.application.features import FileFeatures
from vigil.application.model_lines import ModelLineDirectory
from vigil.application.training_labels import overlaid, stored_verdicts
from vigil.cli_features import add_features_commands, features_said, pipeline_features
from vigil.cli_models import add_models_commands, registered_said
from vigil.cli_policies import add_policies_commands
from vigil.cli_sources import REFUSED, add_sources_commands, apply_file, ingest_file
from vigil.cli_users import add_users_commands, show_demo_users, terminal_actor
from vigil.domain.errors import InvalidCommand
from vigil.infrastructure.detector_training import (
    TrainingError,
    TrainingRequest,
    train_model,
    train_model_on_features,
)
from vigil.infrastructure.model_store import ModelStore
from vigil.infrastructure.nats.embedded import EmbeddedNats
from vigil.infrastructure.processes import ProcessDied, Supervisor
from vigil.infrastructure.record_files import MalformedRecordFile
from vigil.infrastructure.settings import Settings, get_settings
from vigil.infrastructure.training.trainers import ALGORITHMS
from vigil.infrastructure.yaml_documents import DocumentError

log = logging.getLogger("vigil")

WIND_DOWN_SECONDS = 10.0
"""How long the work beside the platform may take to finish once asked to stop."""


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _run_until_signalled(work: Callable[[asyncio.Event], Awaitable[None]]) -> int:
    """Runs a worker until SIGINT or SIGTERM, then lets it finish its batch."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await work(stop)

    uvloop.run(main())
    return 0


# serve and worker ------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    app = bootstrap.build_web_app(settings)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    if args.name == "score":
        return _run_until_signalled(
            lambda stop: bootstrap.run_score_worker(settings, stop, args.batch_size)
        )
    if args.name == "sla":
        return _run_until_signalled(lambda stop: bootstrap.run_sla_worker(settings, stop))
    if args.name == "relay":
        return _run_until_signalled(lambda stop: bootstrap.run_relay_worker(settings, stop))
    if args.name == "labels":
        return _run_until_signalled(lambda stop: bootstrap_labels.run_label_worker(settings, stop))
    if args.name == "escalate":
        return _run_until_signalled(
            lambda stop: bootstrap_escalations.run_escalate_worker(settings, stop)
        )
    if args.name == "deliver":
        return _run_until_signalled(
            lambda stop: bootstrap_delivery.run_deliver_worker(settings, stop)
        )
    if args.name == "monitor":
        return _run_until_signalled(lambda stop: bootstrap.run_monitor_worker(settings, stop))
    if args.name == "ingest":
        return _run_until_signalled(
            lambda stop: bootstrap.run_ingest_worker(settings, stop, args.batch_size)
        )
    return _run_until_signalled(lambda stop: bootstrap.run_projection_worker(settings, stop))


# ingest and train ------------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    request = TrainingRequest(
        source=args.source,
        data=args.data,
        model_line=args.model_line,
        features=_split(args.features) or None,
        exclude=_split(args.exclude),
        label=args.label,
        rows=args.rows,
        alert_rate=args.alert_rate,
        n_estimators=args.n_estimators,
        algorithm=args.algorithm,
        holdout=args.holdout,
        amount=args.amount,
    )
    store = bootstrap.build_model_store(settings)
    tenant_id = args.tenant or settings.server.default_tenant
    try:
        if args.pipeline is None and args.stored_labels:
            raise TrainingError("--stored-labels needs --pipeline: records are known by id there")
        if args.pipeline is None:
            card = train_model(request, store)
        else:
            card = _train_with_pipeline(args, settings, request, store)
        print(card.summary())
        print(registered_said(settings, tenant_id, args.actor, card))
    except (TrainingError, DocumentError, MalformedRecordFile, InvalidCommand) as error:
        print(f"vigil train: {error}", file=sys.stderr)
        return REFUSED
    except SourceNotFound as error:
        print(f"vigil train: source: {error}", file=sys.stderr)
        return REFUSED
    return 0


def _train_with_pipeline(
    args: argparse.Namespace, settings: Settings, request: TrainingRequest, store: ModelStore
) -> ModelCard:
    """The model reads the pipeline's features of the file's records, as the score worker will
    compute them."""
    if request.features or request.exclude:
        raise TrainingError("--features and --exclude are the pipeline's to say: its `features`")
    if args.stored_labels and args.pipeline is None:
        raise TrainingError(
            "--stored-labels needs --pipeline: records are known by their ids there"
        )
    tenant_id = args.tenant or settings.server.default_tenant
    features = uvloop.run(
        pipeline_features(
            settings, args.pipeline, args.data, tenant_id, args.rows, args.label, args.amount
        )
    )
    if features.matrix.fitted.pipeline.source != request.source:
        source = features.matrix.fitted.pipeline.source
        raise TrainingError(f"the pipeline is for source {source!r}, not {request.source!r}")
    print(features_said(features))
    if args.stored_labels:
        features = uvloop.run(_with_stored_labels(settings, tenant_id, request.source, features))
    return train_model_on_features(request, features, store)


async def _with_stored_labels(
    settings: Settings, tenant_id: str, source: str, features: FileFeatures
) -> FileFeatures:
    """The verdicts the event store holds on the file's records, over its label column."""
    engine = bootstrap.build_read_engine(settings)
    try:
        book = bootstrap.build_read_models(settings, engine).label_book
        ids = features.matrix.record_ids
        stored = await stored_verdicts(book, tenant_id, source, ids)
    finally:
        await engine.dispose()
    print(f"labels from the event store: {len(stored):,} of {len(ids):,} records", flush=True)
    return replace(features, labels=overlaid(ids, features.labels, stored))


# run and demo ----------------------------------------------------------------------------------


def run_platform(settings: Settings, then: Callable[[threading.Event], None] | None = None) -> int:
    """The whole platform: embedded NATS when no URL is set, the API and console, every worker.

    `then` runs beside it (the demo trains and streams there) and is handed the stop event.
    Ctrl-C or SIGTERM lets it wind down, then stops the API and the workers, then the embedded
    NATS server.
    """
    stop = threading.Event()
    _stop_on_signals(stop)
    embedded = None
    if settings.nats.is_embedded:
        embedded = EmbeddedNats(settings.storage.data_dir / "nats", settings.nats.embedded_port)
        embedded.start()
    failed: list[BaseException] = []
    try:
        bootstrap.prepare_stores(settings)
        with Supervisor(env={"VIGIL_CREATE_TABLES": "false"}) as supervisor:
            _start_platform(supervisor, settings)
            beside = threading.Thread(target=_beside, args=(then, stop, failed), daemon=True)
            if then is not None:
                # Off the main thread, which stays free for signals and watching the children.
                beside.start()
            else:
                print("Press Ctrl-C to stop.", flush=True)
            while not stop.wait(0.5):
                supervisor.check()
            print("\nstopping Vigil ...", flush=True)
            if beside.is_alive():
                beside.join(timeout=WIND_DOWN_SECONDS)
    except ProcessDied as died:
        log.error("%s; stopping the platform", died)
        return 1
    finally:
        if embedded is not None:
            embedded.stop()
    return 1 if failed else 0


def _beside(
    work: Callable[[threading.Event], None], stop: threading.Event, failed: list[BaseException]
) -> None:
    try:
        work(stop)
    except Exception as error:
        log.exception("the demo failed; stopping the platform")
        failed.append(error)
        stop.set()
        return
    if not stop.is_set():
        print("Press Ctrl-C to stop.", flush=True)


def _stop_on_signals(stop: threading.Event) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())


def _start_platform(supervisor: Supervisor, settings: Settings) -> None:
    host, port = settings.server.host, str(settings.server.port)
    supervisor.start("api", "serve", "--host", host, "--port", port)
    supervisor.start("score", "worker", "score")
    supervisor.start("project", "worker", "project")
    supervisor.start("sla", "worker", "sla")
    supervisor.start("relay", "worker", "relay")
    supervisor.start("deliver", "worker", "deliver")
    supervisor.start("escalate", "worker", "escalate")
    supervisor.start("monitor", "worker", "monitor")
    if settings.features.redis_url is not None:
        # Labels reach the windows the score workers read only when those live in Redis: on
        # the embedded default each process keeps windows of its own.
        supervisor.start("labels", "worker", "labels")
    supervisor.start("ingest", "worker", "ingest")
    base = f"http://{host}:{port}"
    supervisor.wait_until_healthy(f"{base}/healthz")
    print(f"\nVigil is running.\n  console  {base}/\n  GraphQL  {base}/graphql\n", flush=True)


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    return run_platform(settings)


def _has_champion(settings: Settings, tenant_id: str, source: str) -> bool:
    desk = bootstrap.build_alert_desk(settings)
    try:
        return bool(ModelLineDirectory(desk).champions(tenant_id, source))
    finally:
        desk.close()


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    def train_and_stream(stop: threading.Event) -> None:
        show_demo_users(settings)
        tenant_id = settings.server.default_tenant
        desk = bootstrap.build_alert_desk(settings)
        try:
            for said in apply_file(desk, tenant_id, "demo", args.source_contract, "the demo"):
                print(f"data source {said}", flush=True)
        finally:
            desk.close()
        store = bootstrap.build_model_store(settings)
        if not _has_champion(settings, tenant_id, "cards"):
            # The model reads the pipeline's window features of the first rows, computed as
            # the score worker will compute them for the rows streamed after.
            request = TrainingRequest(
                source="cards", data=args.data, label="TX_FRAUD", rows=args.train_rows
            )
            features = uvloop.run(
                pipeline_features(
                    settings, args.pipeline, args.data, tenant_id, args.train_rows, "TX_FRAUD"
                )
            )
            card = train_model_on_features(request, features, store)
            print(card.summary(), flush=True)
            print(registered_said(settings, tenant_id, "demo", card), flush=True)
        stream = ingest_file(
            settings,
            args.data,
            tenant_id,
            "cards",
            args.train_rows,
            args.stream_rows,
            args.rate,
            stop.is_set,
            show_progress=False,
        )
        report = uvloop.run(stream)
        print(f"\nstreamed {report.accepted:,} card transactions ({report.records_per_s:,.0f}/s)")

    return run_platform(settings, then=train_and_stream)


# the parser ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vigil", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    _add_platform_commands(commands)
    add_sources_commands(commands)
    add_policies_commands(commands)
    add_features_commands(commands)
    _add_train(commands)
    add_models_commands(commands)
    add_users_commands(commands)
    return parser


def _add_platform_commands(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="run the API and the console")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.set_defaults(handler=cmd_serve)

    worker = commands.add_parser("worker", help="run one worker")
    worker.add_argument(
        "name",
        choices=[
            "score",
            "project",
            "sla",
            "relay",
            "escalate",
            "deliver",
            "ingest",
            "monitor",
            "labels",
        ],
    )
    worker.add_argument("--batch-size", type=int, default=1000)
    worker.set_defaults(handler=cmd_worker)

    commands.add_parser("run", help="run the whole platform until Ctrl-C").set_defaults(
        handler=cmd_run
    )

    demo = commands.add_parser("demo", help="run the platform and stream a sample data set")
    demo.add_argument("--data", type=Path, required=True)
    demo.add_argument("--train-rows", type=int, default=150_000)
    demo.add_argument("--stream-rows", type=int, default=200_000)
    demo.add_argument("--rate", type=float, default=5_000.0)
    demo.add_argument("--source-contract", type=Path, default=Path("examples/sources/cards.yaml"))
    demo.add_argument(
        "--pipeline", type=Path, default=Path("examples/pipelines/card_features.yaml")
    )
    demo.set_defaults(handler=cmd_demo)


def _add_train(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train", help="train a model, evaluate it, store it as ONNX and register it on its line"
    )
    train.add_argument("--algorithm", choices=ALGORITHMS, default="isolation_forest")
    train.add_argument("--source", required=True)
    train.add_argument("--data", type=Path, required=True)
    train.add_argument("--model-line", default=None)
    train.add_argument("--features", default=None, help="comma-separated columns to use")
    train.add_argument("--exclude", default=None, help="comma-separated columns never to use")
    train.add_argument(
        "--label", default=None, help="0/1 label column: learnt by supervised algorithms"
    )
    train.add_argument("--rows", type=int, default=None, help="train on the first N rows")
    train.add_argument("--alert-rate", type=float, default=0.005)
    train.add_argument(
        "--holdout", type=float, default=0.2, help="the latest share of rows, to evaluate on"
    )
    train.add_argument("--n-estimators", type=int, default=None, help="trees of an ensemble")
    train.add_argument(
        "--amount", default=None, help="the money column, for the threshold curve's amounts"
    )
    train.add_argument(
        "--stored-labels",
        action="store_true",
        help="learn from the verdicts the event store holds on the records, over --label's",
    )
    train.add_argument(
        "--pipeline", type=Path, default=None, help="a feature pipeline's YAML: train on its output"
    )
    train.add_argument("--tenant", default=None, help="whose source contract and model line")
    train.add_argument("--actor", default=terminal_actor(), help="who (default: %(default)s)")
    train.set_defaults(handler=cmd_train)


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """Runs one command; `settings` default to the environment's (tests pass their own)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = settings or get_settings()
    if args.command == "serve":
        args.host = args.host or settings.server.host
        args.port = args.port or settings.server.port
    handler: Callable[[argparse.Namespace, Settings], int] = args.handler
    return handler(args, settings)
