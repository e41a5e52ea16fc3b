"""The reference scoring server of `benchmarks/scoring.py`: FastAPI on uvicorn, calling the
native LightGBM model's scikit-learn API per request, as a team would serve it without Vigil.

It takes Vigil's request bodies (`{"model_name", "data", "include_explanations"}`) on
`POST /score` and `POST /score/batch`, checks them with pydantic, scores with `predict_proba`
(explanations with `predict(..., pred_contrib=True)`) and answers score, decision and threshold.
The routes are `async def`: with one worker and CPU-bound work, that spares the reference
starlette's thread-pool hop, so it is the faster of FastAPI's two ways.

Usage: python benchmarks/scoring_reference.py MODEL_PICKLE THRESHOLD FEATURE,... PORT
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel


class ScoreRequest(BaseModel):
    model_name: str
    data: dict[str, float | int | str | None]
    include_explanations: bool = False


class BatchRequest(BaseModel):
    model_name: str
    data: list[dict[str, float | int | str | None]]
    include_explanations: bool = False


class Scored(BaseModel):
    score: float
    decision: str
    threshold: float
    explanations: dict[str, float] | None = None


class BatchScored(BaseModel):
    results: list[Scored]


def create_app(model: Any, threshold: float, features: tuple[str, ...]) -> FastAPI:
    app = FastAPI()

    def matrix(records: list[dict[str, Any]]) -> np.ndarray:
        return np.array([[r[name] for name in features] for r in records], dtype=np.float32)

    def scored(score: float, contributions: np.ndarray | None) -> Scored:
        explained = None
        if contributions is not None:  # LightGBM puts the base value last
            explained = dict(zip(features, contributions[:-1].tolist(), strict=True))
        decision = "alert" if score >= threshold else "pass"
        return Scored(score=score, decision=decision, threshold=threshold, explanations=explained)

    def answers(records: list[dict[str, Any]], explain: bool) -> list[Scored]:
        rows = matrix(records)
        scores = model.predict_proba(rows)[:, 1].tolist()
        contributions = model.predict(rows, pred_contrib=True) if explain else [None] * len(rows)
        return [scored(s, c) for s, c in zip(scores, contributions, strict=True)]

    @app.post("/score")
    async def score(request: ScoreRequest) -> Scored:
        return answers([request.data], request.include_explanations)[0]

    @app.post("/score/batch")
    async def score_batch(request: BatchRequest) -> BatchScored:
        return BatchScored(results=answers(request.data, request.include_explanations))

    return app


def main() -> None:
    path, threshold, features, port = sys.argv[1:5]
    model = pickle.loads(Path(path).read_bytes())  # noqa: S301 - the benchmark's own file, just written
    app = create_app(model, float(threshold), tuple(features.split(",")))
    # As `vigil serve` runs Vigil: uvloop and httptools, no access log.
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
