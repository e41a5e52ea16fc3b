"""Real-time scoring: a caller hands over records and waits for the decision on each.

A record scored here goes the way an ingested one goes, minus the stream: checked against the
model's source contract and tokenised (Admission), its window features computed in the window
store, which remembers it (so the entity's next record sees it, and the same record ingested
later counts once), scored by the line's champion, and decided with the tenant's published
rules. Nothing is raised: the caller decides what to do with the answer. The champion, the rules
and the contract are read at most every `refresh_seconds` (a second), so a promotion reaches
the API within that time and a request in between reads no store.

Every record of a request is admitted before any is scored, so a request with a record the
contract refuses leaves no trace in the windows. One the pipeline cannot make features of (a
field it needs is null, say) is refused after the windows have seen the request's records.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import anyio

from vigil.application.data_sources import CompiledContract
from vigil.application.detection import Detector, ModelRegistry, Rejection
from vigil.application.features import OnlineFeatures, WindowStore
from vigil.application.intake import Admission, Arrival, Refused
from vigil.application.records import RecordEnvelope
from vigil.application.rule_sets import PublishedRules
from vigil.application.scoring import ScoredBatch, score_batch
from vigil.domain.alert import Severity
from vigil.domain.decision import CompiledRules

REFRESH_SECONDS = 1.0


class RecordRefused(Exception):
    """A record of the request does not fit its contract or the model's features; nothing of
    the request was scored (`index` is its place in the request)."""

    def __init__(self, index: int, field: str, reason: str) -> None:
        super().__init__(f"data[{index}].{field}: {reason}")
        self.index = index
        self.field = field
        self.reason = reason


class ExplanationUnavailable(Exception):
    def __init__(self, algorithm: str) -> None:
        super().__init__(f"{algorithm} models have no explanations")
        self.algorithm = algorithm


@dataclass(frozen=True)
class Contribution:
    """One feature's part in a score: its input value and how far it moved the score. The unit
    is the model's: log-odds of fraud for boosted trees, tree levels of the negative mean path
    length for the Isolation Forest, score units against the training rows' median for the
    One-Class SVM, the squared reconstruction error for the autoencoder; positive is always
    towards suspicious."""

    feature: str
    value: float
    contribution: float


class Explainer(Protocol):
    def explains(self, detector: Detector) -> bool:
        """Whether the detector's algorithm has explanations; ExplanationUnavailable, saying
        why, for a version of such an algorithm whose artifact cannot give them (one exported
        before Vigil recorded what they need)."""
        ...

    def explain(
        self, detector: Detector, vectors: Sequence[Sequence[float]], top: int
    ) -> list[list[Contribution]]:
        """Each row's `top` contributions, largest first; ExplanationUnavailable for a model
        whose algorithm has none."""
        ...


@dataclass(frozen=True)
class Verdict:
    record_id: str
    score: float
    threshold: float
    decision: str
    """`alert` when the model (and the rules) would raise an alert, else `pass`."""
    severity: Severity | None
    model_line: str
    model_version: str
    rule_hits: tuple[str, ...]
    explanation: list[Contribution] | None = None


class RealTimeScoring:
    def __init__(
        self,
        models: ModelRegistry,
        admission: Admission,
        windows: WindowStore,
        rules: PublishedRules,
        explainer: Explainer,
        refresh_seconds: float = REFRESH_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.models = models
        self.admission = admission
        self.windows = windows
        self.rules = rules
        self.explainer = explainer
        self.refresh_seconds = refresh_seconds
        self._monotonic = monotonic
        self._deciders: dict[tuple[str, str], _Deciders] = {}

    async def score(
        self,
        tenant_id: str,
        model_line: str,
        records: Sequence[Mapping[str, Any]],
        explain_top: int = 0,
    ) -> tuple[Detector, list[Verdict]]:
        """The champion that decided and a verdict per record, in order, each with its
        `explain_top` largest contributions when asked; RecordRefused for the first record that
        cannot be scored; ModelLineNotFound or NoChampion for a line that cannot score;
        ExplanationUnavailable, before anything is scored, for a model without explanations."""
        deciders = await self._deciding(tenant_id, model_line)
        detector = deciders.detector
        if explain_top and not self.explainer.explains(detector):
            raise ExplanationUnavailable(detector.card.algorithm)
        envelopes = self._admitted(tenant_id, deciders.contract, records)
        features = None
        if detector.pipeline is not None:
            online = OnlineFeatures(detector.pipeline, self.windows)
            features = await online.of_envelopes(envelopes)
            for index, row in enumerate(features):
                if isinstance(row.vector, Rejection):
                    raise RecordRefused(index, row.vector.field, row.vector.reason)
        decided = score_batch(envelopes, detector, {tenant_id: deciders.rules}, features)
        if decided.rejections:
            envelope, rejection = decided.rejections[0]
            raise RecordRefused(envelopes.index(envelope), rejection.field, rejection.reason)
        verdicts = _verdicts(detector, decided)
        if explain_top:
            vectors = [
                _vector(detector, envelope, None if features is None else features[n].vector)
                for n, envelope in enumerate(decided.scored)
            ]
            explained = self.explainer.explain(detector, vectors, explain_top)
            verdicts = [
                replace(verdict, explanation=why)
                for verdict, why in zip(verdicts, explained, strict=True)
            ]
        return detector, verdicts

    async def _deciding(self, tenant_id: str, line: str) -> _Deciders:
        """The line's champion, its source's published rules and contract, read from the stores
        at most every `refresh_seconds`: a promotion reaches the API within that time, and a
        request in between costs no query and no thread."""
        now = self._monotonic()
        known = self._deciders.get((tenant_id, line))
        if known is not None and now - known.read_at < self.refresh_seconds:
            return known
        read = await anyio.to_thread.run_sync(self._read_deciders, tenant_id, line, now)
        self._deciders[tenant_id, line] = read
        return read

    def _read_deciders(self, tenant_id: str, line: str, now: float) -> _Deciders:
        detector = self.models.line_champion(tenant_id, line)
        source = detector.card.source
        rules = self.rules.deciding(tenant_id, source)
        return _Deciders(now, detector, rules, self.admission.contracts.contract(tenant_id, source))

    def _admitted(
        self, tenant_id: str, contract: CompiledContract, records: Sequence[Mapping[str, Any]]
    ) -> list[RecordEnvelope]:
        admission, envelopes = self.admission, []
        for index, record in enumerate(records):
            try:
                envelopes.append(admission.envelope(tenant_id, contract, Arrival(record, "api")))
            except Refused as refused:
                violation = refused.violation
                raise RecordRefused(index, violation.field, violation.reason) from None
        return envelopes


@dataclass(frozen=True)
class _Deciders:
    read_at: float
    detector: Detector
    rules: CompiledRules | None
    contract: CompiledContract


def _verdicts(detector: Detector, decided: ScoredBatch) -> list[Verdict]:
    """A verdict per scored record, in order; decided ones carry their detection's grade."""
    raised = {d.record_id: d for d in decided.detections}
    card = detector.card
    verdicts = []
    for envelope, score in zip(decided.scored, decided.scores, strict=True):
        detection = raised.get(envelope.record_id)
        verdicts.append(
            Verdict(
                record_id=envelope.record_id,
                score=score,
                threshold=card.bands.threshold,
                decision="pass" if detection is None else "alert",
                severity=None if detection is None else detection.severity,
                model_line=card.model_line,
                model_version=card.version,
                rule_hits=() if detection is None else detection.rule_hits,
            )
        )
    return verdicts


def _vector(
    detector: Detector, envelope: RecordEnvelope, vector: list[float] | Rejection | None
) -> list[float]:
    """The model's input of the record: the pipeline's vector, or its raw fields."""
    if isinstance(vector, list):
        return vector
    return [float(envelope.data[name]) for name in detector.card.features]
