"""Builders of the values tests are made of: detections, alerts' raw material, and a clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from vigil.application.records import RecordEnvelope
from vigil.domain.alert import Detection, Severity

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
MODEL_VERSION = "ab" * 32


def card_envelope(row: dict[str, Any], tenant_id: str = "default") -> RecordEnvelope:
    """A Fraud Detection Handbook transaction as intake puts it on the records stream."""
    return RecordEnvelope(
        tenant_id=tenant_id,
        source="cards",
        record_id=str(row["TRANSACTION_ID"]),
        data=row,
        entity_id=str(row["CUSTOMER_ID"]),
        occurred_at=datetime.fromisoformat(str(row["TX_DATETIME"])).replace(tzinfo=UTC),
    )


class TickingClock:
    """Each call is one second after the last, so every batch of alerts has its own time."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def detection(record_id: str = "tx-0", **overrides: Any) -> Detection:
    """What a detector saw in one card transaction; any field can be overridden."""
    values: dict[str, Any] = {
        "tenant_id": "default",
        "source": "cards",
        "record_id": record_id,
        "model_line": "cards-iforest",
        "model_version": MODEL_VERSION,
        "score": 0.8125,
        "threshold": 0.6,
        "severity": Severity.HIGH,
        "entity_id": "customer-0",
        "record": {"TX_AMOUNT": 10.5, "TERMINAL_ID": "terminal-0"},
        "occurred_at": T0 - timedelta(hours=1),
    }
    return Detection(**{**values, **overrides})


def detections(
    count: int, start: int = 0, tenant_id: str = "acme", severity: Severity = Severity.HIGH
) -> list[Detection]:
    """Transactions tx-<n> of three customers, amount 10.5 + n at terminal-<n>."""
    return [
        detection(
            f"tx-{n}",
            tenant_id=tenant_id,
            severity=severity,
            entity_id=f"customer-{n % 3}",
            record={"TX_AMOUNT": 10.5 + n, "TERMINAL_ID": f"terminal-{n}"},
            occurred_at=T0,
        )
        for n in range(start, start + count)
    ]
