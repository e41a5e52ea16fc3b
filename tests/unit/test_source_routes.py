"""Which source a message off a subject or topic belongs to; what NATS and MQTT patterns take."""

from __future__ import annotations

import pytest

from vigil.application.source_routes import RoutedSource, SourceRoutes, Unrouted
from vigil.domain.source_contract import SourceType
from vigil.domain.subject_patterns import (
    mqtt_topic_matches,
    nats_pattern_covers,
    nats_patterns_collide,
    nats_subject_matches,
)
from vigil.infrastructure.nats.intake_feed import capturable


@pytest.mark.parametrize(
    ("pattern", "subject", "taken"),
    [
        ("payments.eu", "payments.eu", True),
        ("payments.*", "payments.eu", True),
        ("payments.*", "payments.eu.sepa", False),
        ("payments.>", "payments.eu.sepa", True),
        ("payments.>", "payments", False),
        ("payments.*.sepa", "payments.eu.card", False),
    ],
)
def test_a_nats_pattern_takes_the_subjects_its_wildcards_allow(
    pattern: str, subject: str, taken: bool
) -> None:
    assert nats_subject_matches(pattern, subject) is taken


@pytest.mark.parametrize(
    ("one", "other", "covers", "collide"),
    [
        ("a.>", "a.b.*", True, True),
        ("a.*", "a.>", False, True),
        ("a.*.c", "a.b.*", False, True),
        ("a.b", "a.c", False, False),
        ("a.>", "a", False, False),
    ],
)
def test_nats_patterns_cover_and_collide_as_jetstream_sees_them(
    one: str, other: str, covers: bool, collide: bool
) -> None:
    assert nats_pattern_covers(one, other) is covers
    assert nats_patterns_collide(one, other) is collide
    assert nats_patterns_collide(other, one) is collide


@pytest.mark.parametrize(
    ("topic_filter", "topic", "taken"),
    [
        ("sensors/+/reading", "sensors/boiler/reading", True),
        ("sensors/+/reading", "sensors/boiler/2/reading", False),
        ("sensors/#", "sensors", True),
        ("sensors/#", "sensors/boiler/reading", True),
        ("#", "$SYS/broker/uptime", False),
        ("+/uptime", "$SYS/uptime", False),
    ],
)
def test_an_mqtt_filter_takes_the_topics_its_wildcards_allow(
    topic_filter: str, topic: str, taken: bool
) -> None:
    assert mqtt_topic_matches(topic_filter, topic) is taken


PAYMENTS = RoutedSource("acme", "payments", ("payments.>",))
REFUNDS = RoutedSource("acme", "refunds", ("payments.refunds",))


def test_a_subject_one_source_takes_is_routed_to_it() -> None:
    routes = SourceRoutes(SourceType.NATS, [PAYMENTS], "default")
    assert routes.route("payments.eu") == PAYMENTS


def test_a_subject_no_source_takes_is_unrouted_for_the_default_tenant() -> None:
    routes = SourceRoutes(SourceType.NATS, [PAYMENTS], "default")
    assert routes.route("orders.new") == Unrouted(
        "subject", "no nats source takes the subject 'orders.new'", "default"
    )


def test_a_subject_two_sources_of_one_tenant_take_is_unrouted_for_that_tenant() -> None:
    routes = SourceRoutes(SourceType.NATS, [PAYMENTS, REFUNDS], "default")
    unrouted = routes.route("payments.refunds")
    assert isinstance(unrouted, Unrouted)
    assert unrouted.tenant_id == "acme"
    assert "acme/payments, acme/refunds" in unrouted.reason


def test_a_topic_filter_is_followed_at_the_highest_qos_a_source_asks() -> None:
    sources = [
        RoutedSource("acme", "boilers", ("sensors/#",), qos=0),
        RoutedSource("acme", "meters", ("sensors/#", "meters/+"), qos=1),
    ]
    routes = SourceRoutes(SourceType.MQTT, sources, "default")
    assert routes.patterns() == {"sensors/#": 1, "meters/+": 1}


def test_one_stream_captures_the_widest_of_overlapping_subjects_and_never_vigils_own() -> None:
    own = ["vigil.records.>", "vigil.dlq.>"]
    patterns = ["payments.eu", "payments.>", "payments.us.*", "vigil.*.cards", "a.*.c", "a.b.*"]
    assert capturable(patterns, own) == ["payments.>", "a.*.c"]
