"""`vigil models ...`: the model lines and their versions, and moving a version through its
stages (promote to shadow or champion, demote, retire) or changing its threshold, each recorded
with who and why. A version may be named by a unique prefix of its sha256 (8 characters or more).

A refused command says the field and the reason on stderr, with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import cast

from vigil import bootstrap
from vigil.application.alert_desk import AlertDesk
from vigil.application.detection import ModelCard
from vigil.application.model_lines import (
    ModelLineDirectory,
    change_threshold,
    get_model_line,
    move_version,
    register_version,
)
from vigil.cli_users import terminal_actor
from vigil.domain.errors import DomainError, InvalidCommand
from vigil.domain.model_line import ModelLine, ModelStage, ModelVersion
from vigil.domain.severity import SeverityBands
from vigil.domain.threshold_advice import CostModel, advise
from vigil.domain.threshold_curve import ThresholdCurve
from vigil.infrastructure.settings import Settings

REFUSED = 2
MIN_PREFIX = 8


def registered_said(settings: Settings, tenant_id: str, actor: str, card: ModelCard) -> str:
    """Registers a trained version on its line; a line saying where the version stands."""
    desk = bootstrap.build_alert_desk(settings)
    try:
        registered = register_version(desk, tenant_id, actor, card, "trained by vigil train")
    finally:
        desk.close()
    stage = registered.version.stage
    if not registered.new:
        return f"model line {card.model_line}: version registered before, now {stage}"
    return f"model line {card.model_line}: version {card.version[:12]} registered, {stage}"


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    return _on_desk(args, settings, lambda desk, tenant: _list(desk, tenant, args))


def _list(desk: AlertDesk, tenant_id: str, args: argparse.Namespace) -> None:
    directory = ModelLineDirectory(desk)
    directory.refresh()
    for line in directory.lines(tenant_id, args.source):
        print(f"{line.name} (source {line.source})")
        for version in line.versions.values():
            print("  " + _version_said(version))


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    def show(desk: AlertDesk, tenant_id: str) -> None:
        line = get_model_line(desk, tenant_id, args.line)
        print(f"{line.name} (source {line.source})")
        for stored in desk.events.get(line.id):
            event = cast(ModelLine.Event, stored)
            why = getattr(event, "reason", "") or getattr(event, "note", "")
            version = str(getattr(event, "version", ""))[:12]
            print(
                f"  {event.timestamp:%Y-%m-%d %H:%M:%S} {type(event).__name__} {version}"
                f" by {event.actor}" + (f": {why}" if why else "")
            )

    return _on_desk(args, settings, show)


def cmd_move(args: argparse.Namespace, settings: Settings) -> int:
    stage = ModelStage(args.stage)

    def move(desk: AlertDesk, tenant_id: str) -> None:
        version = _version_named(get_model_line(desk, tenant_id, args.line), args.version)
        line = move_version(
            desk, tenant_id, args.actor, args.line, version.version, stage, args.reason
        )
        print(f"{line.name}: " + _version_said(line.model_version(version.version)))

    return _on_desk(args, settings, move)


def cmd_threshold(args: argparse.Namespace, settings: Settings) -> int:
    bands = SeverityBands(args.threshold, args.high, args.critical)

    def change(desk: AlertDesk, tenant_id: str) -> None:
        version = _version_named(get_model_line(desk, tenant_id, args.line), args.version)
        line = change_threshold(
            desk, tenant_id, args.actor, args.line, version.version, bands, args.reason
        )
        print(f"{line.name}: " + _version_said(line.model_version(version.version)))

    return _on_desk(args, settings, change)


def cmd_advise(args: argparse.Namespace, settings: Settings) -> int:
    def show(desk: AlertDesk, tenant_id: str) -> None:
        version = _version_named(get_model_line(desk, tenant_id, args.line), args.version)
        document = version.card.get("threshold_curve")
        if document is None:
            raise InvalidCommand("version", "was trained without labels: it has no curve")
        costs = CostModel(args.review_cost, args.loss_rate, args.flat_loss)
        advice = advise(ThresholdCurve.from_json(document), costs, version.bands.threshold)
        print(f"advised threshold {advice.threshold:.6g}: {advice.alerts:,.1f} alerts and")
        print(f"  an expected cost of {advice.cost:,.2f} per {advice.unit}", end="")
        print(f" (within {advice.within:,.2f})" if advice.within else "")
        if advice.current is not None:
            now = advice.current
            cost = f"{now.low:,.2f}" if now.low == now.high else f"{now.low:,.2f}-{now.high:,.2f}"
            print(f"current threshold {now.threshold:.6g}: {cost}")
        print(f"alerting on nothing: {advice.alert_nothing:,.2f}; on everything: "
              f"{advice.alert_everything:,.2f}")  # fmt: skip

    return _on_desk(args, settings, show)


def _on_desk(
    args: argparse.Namespace, settings: Settings, work: Callable[[AlertDesk, str], None]
) -> int:
    tenant_id = args.tenant or settings.server.default_tenant
    desk = bootstrap.build_alert_desk(settings)
    try:
        work(desk, tenant_id)
    except InvalidCommand as error:
        print(f"vigil models: {error.field}: {error.reason}", file=sys.stderr)
        return REFUSED
    except DomainError as error:
        print(f"vigil models: {error}", file=sys.stderr)
        return REFUSED
    finally:
        desk.close()
    return 0


def _version_named(line: ModelLine, given: str) -> ModelVersion:
    prefix = given.strip().lower()
    if len(prefix) < MIN_PREFIX:
        raise InvalidCommand("version", f"give at least {MIN_PREFIX} characters of the sha256")
    found = [v for v in line.versions.values() if v.version.startswith(prefix)]
    if len(found) != 1:
        several = "several versions" if found else "no version"
        raise InvalidCommand("version", f"{several} of {line.name} start with {prefix}")
    return found[0]


def _version_said(version: ModelVersion) -> str:
    card, bands = version.card, version.bands
    metrics = card.get("metrics", {})
    shown = ", ".join(f"{k} {metrics[k]:.4g}" for k in ("pr_auc", "roc_auc") if k in metrics)
    return (
        f"{version.version[:12]} {version.stage:<10} {card.get('algorithm', '?')}"
        f" threshold {bands.threshold:.6g} (high {bands.high:.6g}, critical {bands.critical:.6g})"
        + (f" {shown}" if shown else "")
        + f", registered {version.registered_at:%Y-%m-%d %H:%M} by {version.registered_by}"
    )


def add_models_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    models = commands.add_parser("models", help="model lines: list, promote, demote, retire")
    actions = models.add_subparsers(dest="models_command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--tenant", default=None, help="the tenant (default: the install's)")
    listed = actions.add_parser("list", parents=[common], help="every line and its versions")
    listed.add_argument("--source", default=None)
    listed.set_defaults(handler=cmd_list)
    show = actions.add_parser("show", parents=[common], help="a line's history: who did what")
    show.add_argument("line")
    show.set_defaults(handler=cmd_show)
    moves = {
        "promote": "to shadow or champion",
        "demote": "back to registered",
        "retire": "for good",
    }
    for name, said in moves.items():
        move = actions.add_parser(name, parents=[common], help=f"move a version {said}")
        move.add_argument("line")
        move.add_argument("version", help="its sha256, or a unique prefix of it")
        move.add_argument("--reason", required=True)
        move.add_argument("--actor", default=terminal_actor())
        if name == "promote":
            move.add_argument("--stage", choices=["shadow", "champion"], default="champion")
        else:
            stage = ModelStage.REGISTERED if name == "demote" else ModelStage.RETIRED
            move.set_defaults(stage=str(stage))
        move.set_defaults(handler=cmd_move)
    threshold = actions.add_parser("threshold", parents=[common], help="change a version's bands")
    threshold.add_argument("line")
    threshold.add_argument("version")
    for band in ("threshold", "high", "critical"):
        threshold.add_argument(f"--{band}", type=float, required=True)
    threshold.add_argument("--reason", required=True)
    threshold.add_argument("--actor", default=terminal_actor())
    threshold.set_defaults(handler=cmd_threshold)
    advice = actions.add_parser(
        "advise", parents=[common], help="the threshold of least expected cost on the hold-out"
    )
    advice.add_argument("line")
    advice.add_argument("version")
    advice.add_argument("--review-cost", type=float, required=True, help="of one alert")
    advice.add_argument(
        "--loss-rate", type=float, default=1.0, help="share of a missed fraud's amount lost"
    )
    advice.add_argument("--flat-loss", type=float, default=0.0, help="per missed fraud")
    advice.set_defaults(handler=cmd_advise)
