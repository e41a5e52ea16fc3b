"""`vigil features ...` and `vigil train --pipeline`: a feature pipeline's matrix from a record
file, made by the path records take online (intake under the source's contract, then the window
store and the pipeline), so what a model is trained on is what it later scores.

A refused pipeline document is named by file, line and field on stderr, with exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sys
import time
from pathlib import Path

import uvloop

from vigil import bootstrap
from vigil.application.data_sources import SourceNotFound
from vigil.application.features import FileFeatures
from vigil.domain.errors import InvalidCommand
from vigil.domain.feature_pipeline import FeaturePipeline
from vigil.domain.pseudonyms import Pseudonymiser
from vigil.domain.source_contract import SourceContract
from vigil.infrastructure.record_files import MalformedRecordFile
from vigil.infrastructure.settings import Settings, pii_token_key
from vigil.infrastructure.training_desk import parsed_pipeline, pipeline_matrix
from vigil.infrastructure.yaml_documents import DocumentError

REFUSED = 2


def load_pipeline(path: Path, contract: SourceContract | None = None) -> FeaturePipeline:
    """The one pipeline document in the file; with the source's contract, every field it reads
    is checked against the fields its records keep. DocumentError names the line at fault."""
    return parsed_pipeline(_text(path), str(path), contract)


async def pipeline_features(
    settings: Settings,
    pipeline_path: Path,
    data: Path,
    tenant_id: str,
    rows: int | None = None,
    label: str | None = None,
    amount: str | None = None,
) -> FileFeatures:
    """The pipeline's matrix of the file's first `rows` records, under the contract of the
    pipeline's source as registered for the tenant."""
    desk = bootstrap.build_alert_desk(settings)
    try:
        contracts = bootstrap.build_source_contracts(settings, desk)
        pseudonymiser = Pseudonymiser(pii_token_key(settings))
        text = _text(pipeline_path)
        return await pipeline_matrix(
            contracts, pseudonymiser, text, str(pipeline_path), data, tenant_id, rows, label, amount
        )
    finally:
        desk.close()


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(str(path), None, None, f"unreadable: {exc}") from None


def features_said(features: FileFeatures, seconds: float | None = None) -> str:
    """What the matrix holds and what was left out of it; how fast, given the time it took."""
    matrix = features.matrix
    lines = (
        []
        if seconds is None
        else [
            f"read {features.read:,} records in {seconds:.1f} s"
            f" ({features.read / max(seconds, 1e-9):,.0f} records/s)"
        ]
    )
    lines.append(
        f"{len(matrix.rows):,} rows of {len(matrix.names)} features: {', '.join(matrix.names)}"
    )
    lines += [f"refused by the contract: {n:,} x {why}" for why, n in features.refused.items()]
    if matrix.rejections:
        field, rejection = matrix.rejections[0]
        lines.append(
            f"without every feature: {len(matrix.rejections):,} rows,"
            f" the first {field}: {rejection.field} {rejection.reason}"
        )
    return "\n".join(lines)


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    tenant_id = args.tenant or settings.server.default_tenant
    started = time.monotonic()
    try:
        features = uvloop.run(
            pipeline_features(settings, args.pipeline, args.data, tenant_id, args.rows, args.label)
        )
    except (DocumentError, MalformedRecordFile, InvalidCommand) as error:
        print(f"vigil features build: {error}", file=sys.stderr)
        return REFUSED
    except SourceNotFound as error:
        print(f"vigil features build: source: {error}", file=sys.stderr)
        return REFUSED
    write_matrix(args.out, features)
    print(features_said(features, time.monotonic() - started))
    print(f"wrote {args.out}")
    return 0


def write_matrix(path: Path, features: FileFeatures) -> None:
    """The matrix as CSV: the record id, the label when there is one, then the features."""
    matrix = features.matrix
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        labelled = features.labels is not None
        writer.writerow(["record_id", *(["label"] if labelled else []), *matrix.names])
        labels = features.labels or itertools.repeat(None)
        for record_id, label, row in zip(matrix.record_ids, labels, matrix.rows, strict=False):
            writer.writerow([record_id, *([label] if labelled else []), *row])


def add_features_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    features = commands.add_parser("features", help="feature pipelines over record files")
    sub = features.add_subparsers(dest="features_command", required=True, metavar="COMMAND")
    build = sub.add_parser(
        "build", help="the training matrix of a record file, as the score worker computes it"
    )
    build.add_argument("pipeline", type=Path, metavar="PIPELINE", help="the pipeline's YAML")
    build.add_argument("--data", type=Path, required=True, help="CSV, gzip CSV or Parquet")
    build.add_argument("--out", type=Path, required=True, help="where the CSV matrix goes")
    build.add_argument("--label", default=None, help="a 0/1 column to write beside each row")
    build.add_argument("--rows", type=int, default=None, help="the first N records only")
    build.add_argument("--tenant", default=None, help="the tenant (default: the install's)")
    build.set_defaults(handler=cmd_build)
