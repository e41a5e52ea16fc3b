"""The Delivery aggregate and the retry policy: attempts until delivered, refused or the last."""

from __future__ import annotations

from uuid import uuid4

import pytest

from tests.builders import T0
from vigil.application.delivery import RetryPolicy
from vigil.domain.delivery import AttemptOutcome, Delivery, DeliverySettled, idempotency_key

SUBSCRIPTION = uuid4()


def scheduled() -> Delivery:
    alert = uuid4()
    key = idempotency_key(alert, "cards-critical", 15, 1, SUBSCRIPTION, 42)
    return Delivery.schedule(
        "acme", "system:delivery", T0, alert, 2, SUBSCRIPTION, "soc-hook", "webhook", key
    )


def test_the_key_names_the_policy_step_occurrence_and_subscription() -> None:
    alert = uuid4()
    key = idempotency_key(alert, "cards-critical", 15, 2, SUBSCRIPTION, 42)
    assert key == f"{alert}:cards-critical:15:2:{SUBSCRIPTION}"
    assert idempotency_key(alert, None, None, None, SUBSCRIPTION, 42) == (
        f"{alert}:manual:42:{SUBSCRIPTION}"
    )


def test_a_failed_attempt_leaves_the_delivery_open_and_a_success_settles_it() -> None:
    delivery = scheduled()
    delivery.attempt("w", T0, AttemptOutcome.FAILED, 503, "HTTP 503", max_attempts=3)
    assert not delivery.settled
    assert delivery.attempts == 1
    delivery.attempt("w", T0, AttemptOutcome.DELIVERED, 200, "", max_attempts=3)
    assert delivery.delivered
    with pytest.raises(DeliverySettled):
        delivery.attempt("w", T0, AttemptOutcome.DELIVERED, 200, "", max_attempts=3)


def test_a_refusal_dead_letters_at_once_with_the_reason() -> None:
    delivery = scheduled()
    delivery.attempt("w", T0, AttemptOutcome.REFUSED, 404, "HTTP 404: no such hook", 8)
    assert delivery.dead_letter_reason == "refused on attempt 1: HTTP 404: no such hook"


def test_the_last_failed_attempt_dead_letters() -> None:
    delivery = scheduled()
    for _ in range(3):
        delivery.attempt("w", T0, AttemptOutcome.FAILED, None, "connection refused", 3)
    assert delivery.dead_letter_reason == "failed 3 attempts; the last: connection refused"


def test_retries_wait_twice_as_long_each_time_jittered_and_capped() -> None:
    retry = RetryPolicy(max_attempts=8, first_delay_seconds=4, longest_delay_seconds=20)
    assert [retry.delay_after(n, lambda: 1.0) for n in (1, 2, 3, 4)] == [4, 8, 16, 20]
    assert [retry.delay_after(n, lambda: 0.0) for n in (1, 2, 3)] == [2, 4, 8]
