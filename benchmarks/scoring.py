"""Vigil's REST scoring endpoint against a reference server: same model, same records, same
load generator, one run.

Vigil (`vigil serve`, on PostgreSQL, Redis and NATS of the run's own) and the reference
(benchmarks/scoring_reference.py: FastAPI on uvicorn, LightGBM's scikit-learn `predict_proba`
per request) run as one process each, with one worker each, on 127.0.0.1. Both serve the same
LightGBM (200 trees, 31 leaves) fitted on TX_AMOUNT, TX_TIME_SECONDS and TX_TIME_DAYS of the
first --train-rows FDH card transactions: Vigil its ONNX export as the champion of a line that
reads raw record fields, the reference the fitted model itself. Both are sent the same
transactions as raw records, `{"model_name", "data", "include_explanations"}`, and a sample of
their scores is compared to show they are the same model.

The load generator is this process: keep-alive HTTP/1.1 connections on asyncio streams (uvloop),
request bytes encoded before the clock starts, answers read by Content-Length. It shares the
machine's two cores with the server it measures (and with PostgreSQL, for Vigil), so it is
kept cheap: about 30 us of CPU a request, where aiohttp's client took 72 us and httpx's 1,000
us on the same server. Its CPU time a request is measured, and the ceiling that implies printed.
- latency: open loop, --rate requests a second for --seconds, each on a free connection of 32;
  a request's latency runs from its write to the end of its answer (how late writes fell
  behind the schedule is reported as `late_p99_ms`), with and without explanations;
- throughput: closed loop, --connections connections each sending its next request as soon as
  the last is answered, for --seconds after a second of warm-up;
- batches: 1,000 records a request to `/score/batch`, 2 connections, rows a second.
Each phase runs on one server, then the other, before the next phase. The CPU time of each
server (and PostgreSQL's) a request is read from /proc, and so is what the rest of the machine
used meanwhile (`foreign_cpu_cores`): on a shared two-core machine others' work moves p99s by
milliseconds, and the figures are only as good as that number is small.

Usage: python benchmarks/scoring.py [--rate R] [--seconds S] [--connections C] [--train-rows N]
Ends with one JSON line. (The in-process ONNX figures are benchmarks/onnx_scoring.py's.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import hashlib
import itertools
import json
import os
import pickle
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import orjson
import uvloop
import yaml

# The pipeline benchmark's stores of the run's own, shared rather than copied: a script's folder
# is first on its sys.path.
from pipeline import (
    cleanup,
    database,
    environment,
    process_cpu_seconds,
    server_cpu_seconds,
    settings_for,
)

from vigil.application.data_sources import apply_source
from vigil.application.detection import ModelCard
from vigil.application.identity import issue_api_key, register_user
from vigil.application.model_lines import register_version
from vigil.bootstrap import build_alert_desk, build_model_store, build_password_hasher
from vigil.domain.severity import SeverityBands
from vigil.domain.source_contract import SourceContract
from vigil.infrastructure.json_schema import FastJsonSchemaCompiler
from vigil.infrastructure.record_readers import read_record_file
from vigil.infrastructure.settings import Settings
from vigil.infrastructure.training.lightgbm_trainer import DEFAULTS, LightGbmTrainer
from vigil.web.auth import API_KEY_HEADER

ROOT = Path(__file__).resolve().parents[1]
CARDS_CONTRACT = ROOT / "examples" / "sources" / "cards.yaml"
DATA = ROOT.parent / "shared" / "data" / "fdh_simulated_transactions.csv.gz"
FEATURES = ("TX_AMOUNT", "TX_TIME_SECONDS", "TX_TIME_DAYS")
LABEL = "TX_FRAUD"
LINE = "cards-lightgbm"
SEED = 7
ALERT_RATE = 0.01
BATCH = 1_000
BATCH_CONNECTIONS = 2
PACED_CONNECTIONS = 32
PARITY_RECORDS = 200
VIGIL_ROUTE = "/api/v1/scoring/score"


# The model, the same for both servers ----------------------------------------------------------


def card_records(count: int) -> list[dict[str, Any]]:
    """The first `count` transactions, typed as the cards contract reads them, with the label."""
    contract = SourceContract.from_document(yaml.safe_load(CARDS_CONTRACT.read_text()))
    rows = itertools.islice(read_record_file(DATA, contract)[0], count)
    return [dict(row) for row in rows if isinstance(row, Mapping)]


def unlabelled(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a caller scoring a transaction has: the record without its ground truth."""
    return [{k: v for k, v in r.items() if k not in (LABEL, "TX_FRAUD_SCENARIO")} for r in records]


def trained(settings: Settings, records: Sequence[dict[str, Any]], model_file: Path) -> ModelCard:
    """Fits the LightGBM twice, deterministically: Vigil's trainer stores and registers its ONNX
    export; the reference gets the scikit-learn model, pickled to `model_file`."""
    matrix = np.array([[r[f] for f in FEATURES] for r in records], dtype=np.float32)
    labels = np.array([r[LABEL] for r in records], dtype=np.int32)
    fitted = LightGbmTrainer().fit(matrix, labels, FEATURES, SEED, {})
    native = lightgbm.LGBMClassifier(
        **DEFAULTS, random_state=SEED, deterministic=True, force_row_wise=True, verbose=-1
    ).fit(matrix, labels)
    scores = np.asarray(native.predict_proba(matrix))[:, 1]
    if not np.array_equal(scores, fitted.native_scores(matrix)):
        raise RuntimeError("the reference's model is not the one Vigil's trainer fitted")
    model_file.write_bytes(pickle.dumps(native))
    quantiles = np.quantile(scores, [1 - ALERT_RATE, 1 - ALERT_RATE / 5, 1 - ALERT_RATE / 25])
    card = ModelCard(
        model_line=LINE,
        version="",
        source="cards",
        algorithm=fitted.algorithm,
        features=FEATURES,
        bands=SeverityBands(*(float(q) for q in quantiles)),
        metrics={"alert_rate": float((scores >= quantiles[0]).mean())},
        parameters=fitted.parameters,
        training_rows=len(matrix),
        training_fingerprint=hashlib.sha256(matrix.tobytes()).hexdigest(),
        trained_at=datetime.now(UTC),
        notes=tuple(fitted.notes),
    )
    return build_model_store(settings).put(fitted.artifact, card)


def registered(settings: Settings, card: ModelCard) -> str:
    """The cards contract, the card as its line's champion, and an API key that may score."""
    document = yaml.safe_load(CARDS_CONTRACT.read_text()) | {"source_type": "rest"}
    desk = build_alert_desk(settings)
    try:
        apply_source(desk, FastJsonSchemaCompiler(), "default", "bench", document, "benchmark")
        register_version(desk, "default", "benchmark", card)  # the line's first: its champion
        hasher = build_password_hasher(settings)
        user = register_user(
            desk,
            hasher,
            "default",
            "benchmark",
            "scorer",
            secrets.token_urlsafe(),
            ["data_engineer"],
        )
        expiry = desk.clock() + timedelta(days=1)
        return issue_api_key(desk, "default", user.id, "benchmark", "bench", expiry).plaintext
    finally:
        desk.close()


# The servers ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """A server of its own process, and how the load generator addresses it."""

    name: str
    port: int
    route: str
    headers: dict[str, str]
    process: subprocess.Popen[bytes] = field(init=False)
    log: Path = field(init=False)

    def start(self, argv: Sequence[str], env: Mapping[str, str] | None, logs: Path) -> None:
        self.log = logs / f"{self.name}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(  # our own command
                [sys.executable, *argv], env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def request(self, path: str, body: Mapping[str, Any]) -> bytes:
        """The whole HTTP/1.1 request, encoded once so the clock never runs over encoding."""
        payload = orjson.dumps(body)
        head = "".join(f"{k}: {v}\r\n" for k, v in self.headers.items())
        return (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"{head}Content-Length: {len(payload)}\r\n\r\n"
        ).encode() + payload

    def singles(self, records: Sequence[dict[str, Any]], explain: bool) -> list[bytes]:
        return [
            self.request(
                self.route, {"model_name": LINE, "data": r, "include_explanations": explain}
            )
            for r in records
        ]

    def batches(self, records: Sequence[dict[str, Any]]) -> list[bytes]:
        chunks = [records[i : i + BATCH] for i in range(0, len(records) - BATCH + 1, BATCH)]
        return [
            self.request(f"{self.route}/batch", {"model_name": LINE, "data": c}) for c in chunks
        ]


# The load generator -----------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection: writes a ready request, reads its whole answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def send(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        at = head.lower().find(b"content-length:")
        if at < 0:
            raise RuntimeError(f"an answer without Content-Length: {head[:200]!r}")
        length = int(head[at + 15 : head.index(b"\r\n", at)])
        return int(head[9:12]), await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def connections(port: int, count: int) -> list[Connection]:
    for _ in range(600):  # the server may still be starting
        try:
            return [await Connection.open(port) for _ in range(count)]
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


async def answered(port: int, request: bytes) -> tuple[int, bytes]:
    [connection] = await connections(port, 1)
    try:
        return await connection.send(request)
    finally:
        connection.close()


class CpuMeter:
    """CPU seconds spent over a phase: the server's, PostgreSQL's, this process's (the load
    generator's) and the rest of the machine's, whose work skews the figures."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.began = time.perf_counter()
        self.before = self._now()

    def _now(self) -> dict[str, float]:
        return {
            "server": self.server.cpu_seconds(),
            "postgres": server_cpu_seconds()["postgres"],
            "generator": time.process_time(),
            "machine": machine_cpu_seconds(),
        }

    def figures(self, requests: int) -> dict[str, float]:
        elapsed, after = time.perf_counter() - self.began, self._now()
        used = {k: after[k] - self.before[k] for k in after}
        foreign = used["machine"] - used["server"] - used["postgres"] - used["generator"]
        return {
            "cpu_us_per_request": used["server"] / requests * 1e6,
            "postgres_cpu_us_per_request": used["postgres"] / requests * 1e6,
            "generator_cpu_us_per_request": used["generator"] / requests * 1e6,
            "foreign_cpu_cores": foreign / elapsed,
        }


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine since boot: all but idle and iowait."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


async def paced(
    server: Server, requests: Sequence[bytes], rate: float, seconds: float
) -> dict[str, float]:
    """Open loop: request n is due at n / rate, whatever the answers before it are doing."""
    free: asyncio.Queue[Connection] = asyncio.Queue()
    for connection in await connections(server.port, PACED_CONNECTIONS):
        free.put_nowait(connection)
    latencies, late, failed, tasks = [], [], 0, []

    async def one(request: bytes, due: float) -> None:
        nonlocal failed
        connection = await free.get()
        began = time.perf_counter()
        status, _ = await connection.send(request)
        latencies.append((time.perf_counter() - began) * 1e3)
        late.append((began - due) * 1e3)
        failed += status != 200
        free.put_nowait(connection)

    meter = CpuMeter(server)
    for n in range(int(rate * seconds)):
        due = meter.began + n / rate
        if (ahead := due - time.perf_counter()) > 0:
            await asyncio.sleep(ahead)
        tasks.append(asyncio.create_task(one(requests[n % len(requests)], due)))
    await asyncio.gather(*tasks)
    while not free.empty():
        free.get_nowait().close()
    return {
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies),
        "late_p99_ms": percentile(late, 99),
        "paced_failed": float(failed),
        "paced_foreign_cpu_cores": meter.figures(len(tasks))["foreign_cpu_cores"],
    }


async def closed(
    server: Server, requests: Sequence[bytes], concurrency: int, seconds: float
) -> dict[str, float]:
    """Closed loop: each connection sends its next request as soon as the last is answered;
    a second of it first, unmeasured."""
    pool = await connections(server.port, concurrency)
    counts, failed, measuring = [0] * concurrency, 0, False

    async def loop(n: int, stop: float) -> None:
        nonlocal failed
        for request in itertools.islice(itertools.cycle(requests), n, None, concurrency):
            if time.perf_counter() >= stop:
                return
            status, _ = await pool[n].send(request)
            counts[n] += measuring
            failed += measuring and status != 200

    warm = time.perf_counter() + 1.0
    await asyncio.gather(*(loop(n, warm) for n in range(concurrency)))
    measuring, meter = True, CpuMeter(server)
    await asyncio.gather(*(loop(n, meter.began + seconds) for n in range(concurrency)))
    elapsed = time.perf_counter() - meter.began
    for connection in pool:
        connection.close()
    done = sum(counts)
    return {"requests_per_s": done / elapsed, "closed_failed": float(failed), **meter.figures(done)}


# The run ----------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def scores_of(server: Server, requests: Sequence[bytes]) -> list[float]:
    answers = [await answered(server.port, request) for request in requests]
    if bad := [body for status, body in answers if status != 200]:
        raise RuntimeError(f"{server.name} refused a record: {bad[0][:500]!r}")
    return [float(orjson.loads(body)["score"]) for _, body in answers]


async def explains(server: Server, requests: Sequence[bytes]) -> bool:
    """Whether the server answers 200 when asked for explanations."""
    status, body = await answered(server.port, requests[0])
    if status != 200:
        print(f"{server.name} explains nothing: {status} {body[:300]!r}", file=sys.stderr)
    return status == 200


@dataclass
class Phase:
    """One measurement, made on each server in turn before the next, so a change in the
    machine's load between phases falls on both servers alike."""

    name: str
    requests: Callable[[Server], list[bytes]]
    run: Callable[[Server, list[bytes]], Awaitable[dict[str, float]]]


def phases(records: Sequence[dict[str, Any]], args: argparse.Namespace) -> list[Phase]:
    async def latency(server: Server, requests: list[bytes]) -> dict[str, float]:
        # A second at the rate first: a server's first requests load and compile what the
        # rest reuse.
        await paced(server, requests[::-1], args.rate, 1.0)
        return await paced(server, requests, args.rate, args.seconds)

    async def throughput(server: Server, requests: list[bytes]) -> dict[str, float]:
        return await closed(server, requests, args.connections, args.seconds)

    async def batches(server: Server, requests: list[bytes]) -> dict[str, float]:
        batched = await closed(server, requests, BATCH_CONNECTIONS, args.seconds)
        return {"rows_per_s": batched["requests_per_s"] * BATCH, "failed": batched["closed_failed"]}

    return [
        Phase("", lambda server: server.singles(records, explain=False), latency),
        Phase("explained_", lambda server: server.singles(records, explain=True), latency),
        Phase("", lambda server: server.singles(records, explain=False), throughput),
        Phase("batch_", lambda server: server.batches(records), batches),
    ]


async def compared(
    servers: Sequence[Server], records: Sequence[dict[str, Any]], args: argparse.Namespace
) -> dict[str, Any]:
    vigil, reference = servers
    sample = records[:PARITY_RECORDS]
    ours = await scores_of(vigil, vigil.singles(sample, explain=False))
    theirs = await scores_of(reference, reference.singles(sample, explain=False))
    figures: dict[str, Any] = {
        "benchmark": "scoring",
        "workers_per_server": 1,
        "rate_requests_per_s": args.rate,
        "seconds_per_phase": args.seconds,
        "connections": args.connections,
        "batch_records": BATCH,
        "score_max_abs_diff": max(abs(a - b) for a, b in zip(ours, theirs, strict=True)),
    }
    for phase in phases(records, args):
        for server in servers:
            requests = phase.requests(server)
            # The records and requests held here are a large heap: a full collection of it
            # stalled the generator for 200 ms mid-phase, so they are frozen out of the GC.
            gc.collect()
            gc.freeze()
            if phase.name == "explained_" and not await explains(server, requests):
                continue
            measures = await phase.run(server, requests)
            figures |= {f"{server.name}_{phase.name}{k}": v for k, v in measures.items()}
    figures["speedup_vs_reference"] = (
        figures["vigil_requests_per_s"] / figures["reference_requests_per_s"]
    )
    figures["generator_ceiling_requests_per_s"] = (
        1e6 / figures["vigil_generator_cpu_us_per_request"]
    )
    return figures


@contextlib.contextmanager
def serving(
    settings: Settings, key: str, model_file: Path, card: ModelCard
) -> Iterator[list[Server]]:
    vigil = Server("vigil", free_port(), VIGIL_ROUTE, {API_KEY_HEADER: key})
    reference = Server("reference", free_port(), "/score", {})
    logs = settings.storage.data_dir
    try:
        vigil.start(
            ["-m", "vigil", "serve", "--host", "127.0.0.1", "--port", str(vigil.port)],
            environment(settings),
            logs,
        )
        reference_argv = [str(model_file), str(card.bands.threshold), ",".join(FEATURES)]
        script = str(Path(__file__).with_name("scoring_reference.py"))
        reference.start([script, *reference_argv, str(reference.port)], None, logs)
        yield [vigil, reference]
    except BaseException:
        for server in (vigil, reference):
            with contextlib.suppress(AttributeError, OSError):  # one that never started
                tail = server.log.read_text(errors="replace")[-2000:]
                print(f"--- {server.name}'s log:\n{tail}", file=sys.stderr)
        raise
    finally:
        for server in (vigil, reference):
            with contextlib.suppress(AttributeError):
                server.stop()


def print_table(figures: Mapping[str, Any]) -> None:
    rows = [
        ("p50 ms, at the paced rate", "p50_ms"),
        ("p99 ms, at the paced rate", "p99_ms"),
        ("writes late p99 ms (generator)", "late_p99_ms"),
        ("p50 ms, with explanations", "explained_p50_ms"),
        ("p99 ms, with explanations", "explained_p99_ms"),
        ("requests/s, closed loop", "requests_per_s"),
        ("server CPU us a request", "cpu_us_per_request"),
        ("PostgreSQL CPU us a request", "postgres_cpu_us_per_request"),
        ("generator CPU us a request", "generator_cpu_us_per_request"),
        ("others' CPU, closed loop, cores", "foreign_cpu_cores"),
        (f"batch rows/s ({BATCH:,} a request)", "batch_rows_per_s"),
        ("others' CPU, latency phase, cores", "paced_foreign_cpu_cores"),
    ]
    print(f"{'':<36}{'Vigil':>14}{'reference':>14}")
    for label, key in rows:
        cells = [figures.get(f"{name}_{key}", float("nan")) for name in ("vigil", "reference")]
        print(f"{label:<36}{cells[0]:>14,.3f}{cells[1]:>14,.3f}")
    print(f"{'speedup (requests/s)':<36}{figures['speedup_vs_reference']:>14.2f}")
    print(f"{'score max abs diff':<36}{figures['score_max_abs_diff']:>14.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=500.0, help="requests/s of the open loop")
    parser.add_argument("--seconds", type=float, default=10.0, help="of each phase")
    parser.add_argument("--connections", type=int, default=16, help="of the closed loop")
    parser.add_argument("--train-rows", type=int, default=100_000)
    args = parser.parse_args()
    records = card_records(args.train_rows)
    scored = unlabelled(records)
    with tempfile.TemporaryDirectory() as tmp, database() as url:
        settings = settings_for(Path(tmp), url)
        try:
            model_file = Path(tmp) / "reference.pickle"
            card = trained(settings, records, model_file)
            key = registered(settings, card)
            with serving(settings, key, model_file, card) as servers:
                figures = uvloop.run(compared(servers, scored, args))
        finally:
            uvloop.run(cleanup(settings))
    print_table(figures)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
