"""Scoring throughput and latency of the ONNX detector on FDH card transactions.

Trains the demo model (amount only, 50,000 rows) into a temporary folder, then scores real FDH
records through OnnxDetector: batches of 1,000 (clean, and with 1% bad records), and one record
at a time. For reference it also times skl2onnx's own graph of the same forest on a bare matrix.
Prints a short table, then one JSON line. (`benchmarks/scoring.py` measures the REST endpoint.)

Usage: python benchmarks/onnx_scoring.py
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.ensemble import IsolationForest

from vigil.infrastructure.detector_training import TrainingRequest, train_isolation_forest
from vigil.infrastructure.model_store import ModelStore
from vigil.infrastructure.onnx_detector import OnnxDetector
from vigil.infrastructure.record_files import iter_records

FDH = Path(__file__).resolve().parents[2] / "shared" / "data" / "fdh_simulated_transactions.csv.gz"
TRAIN_ROWS = 50_000
RECORDS = 50_000
BATCH = 1_000
SINGLE_CALLS = 2_000
MIN_SECONDS = 2.0


def per_second(run: Callable[[], int]) -> float:
    """Items per second of `run` (which returns how many it handled), over at least MIN_SECONDS."""
    run()  # warm-up
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < MIN_SECONDS:
        done += run()
    return done / elapsed


def batches_per_second(detector: OnnxDetector, records: Sequence[dict[str, Any]]) -> float:
    batches = [records[i : i + BATCH] for i in range(0, len(records), BATCH)]

    def run() -> int:
        for batch in batches:
            detector.score(batch)
        return len(records)

    return per_second(run)


def single_latencies_ms(detector: OnnxDetector, records: Sequence[dict[str, Any]]) -> list[float]:
    for record in records[:100]:
        detector.score([record])
    latencies = []
    for record in records[:SINGLE_CALLS]:
        start = time.perf_counter_ns()
        detector.score([record])
        latencies.append((time.perf_counter_ns() - start) / 1e6)
    return latencies


def skl2onnx_rows_per_second(records: Sequence[dict[str, Any]]) -> float:
    """skl2onnx's graph of an equal forest, fed a ready matrix: the conversion we did not ship."""
    matrix = np.array([[r["TX_AMOUNT"]] for r in records[:TRAIN_ROWS]], dtype=np.float32)
    forest = IsolationForest(n_estimators=100, random_state=7).fit(matrix)
    graph = to_onnx(
        forest,
        initial_types=[("input", FloatTensorType([None, 1]))],
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(graph.SerializeToString(), options)
    chunks = [matrix[i : i + BATCH] for i in range(0, len(matrix), BATCH)]

    def run() -> int:
        for chunk in chunks:
            session.run(["scores"], {"input": chunk})
        return len(matrix)

    return per_second(run)


def main() -> int:
    records = list(islice(iter_records(FDH), RECORDS))
    with tempfile.TemporaryDirectory() as folder:
        store = ModelStore(Path(folder))
        request = TrainingRequest(
            source="cards",
            data=FDH,
            rows=TRAIN_ROWS,
            label="TX_FRAUD",
            exclude=("TX_FRAUD_SCENARIO", "TX_TIME_SECONDS", "TX_TIME_DAYS"),
        )
        card = train_isolation_forest(request, store)
        path = store.artifact_path(card.version)
        one, two = OnnxDetector(card, path, threads=1), OnnxDetector(card, path, threads=2)
    spoiled = [dict(r) for r in records]
    for record in spoiled[::100]:
        record["TX_AMOUNT"] = None
    figures = {
        "benchmark": "onnx_scoring",
        "rows": len(records),
        "batch_size": BATCH,
        "features": len(card.features),
        "trees": card.parameters["n_estimators"],
        "batch_records_per_s": round(batches_per_second(one, records)),
        "batch_records_per_s_2_threads": round(batches_per_second(two, records)),
        "batch_with_1pct_rejections_records_per_s": round(batches_per_second(one, spoiled)),
        "skl2onnx_graph_batch_rows_per_s": round(skl2onnx_rows_per_second(records)),
    }
    quantiles = statistics.quantiles(single_latencies_ms(one, records), n=100)
    figures["single_p50_ms"] = round(quantiles[49], 4)
    figures["single_p99_ms"] = round(quantiles[98], 4)
    print_table(figures)
    print(json.dumps(figures))
    return 0


def print_table(figures: dict[str, Any]) -> None:
    print(f"{'measure':<44}{'value':>14}")
    for key, value in figures.items():
        if key != "benchmark":
            print(f"{key:<44}{value:>14,}")


if __name__ == "__main__":
    sys.exit(main())
