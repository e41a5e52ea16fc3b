"""A data source's contract: what its records look like, which fields are personal, how they
arrive. Checked whole when applied, with every refusal naming the field path at fault
(`schema.properties.TX_AMOUNT`, `config.topics[1]`), so the YAML loader can name the line.

Whether `schema` is a valid JSON Schema is the schema compiler's to say (an adapter); this module
checks what Vigil itself relies on: an object schema whose `required` and personal fields are
among its properties, and the fields that identify, place and time each record.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

from vigil.domain.errors import InvalidCommand
from vigil.domain.text import bounded_text

SOURCE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
"""Also a subject token on NATS (`vigil.records.<source>`), so no dots, spaces or wildcards."""

_KEYS = frozenset({"name", "source_type", "description", "config", "schema", "pii_fields"})
_COMMON_CONFIG = frozenset({"record_id", "entity", "event_time", "drop"})


class SourceType(StrEnum):
    """How records reach Vigil. Adding Kafka means one more member and one adapter."""

    CSV = "csv"
    PARQUET = "parquet"
    REST = "rest"
    WEBHOOK = "webhook"
    MQTT = "mqtt"
    NATS = "nats"


_TYPE_CONFIG: Mapping[SourceType, frozenset[str]] = {
    SourceType.CSV: frozenset({"delimiter"}),
    SourceType.PARQUET: frozenset(),
    SourceType.REST: frozenset(),
    SourceType.WEBHOOK: frozenset({"tolerance_seconds"}),
    SourceType.MQTT: frozenset({"topics", "qos"}),
    SourceType.NATS: frozenset({"subject"}),
}


@dataclass(frozen=True)
class SourceContract:
    name: str
    source_type: SourceType
    schema: Mapping[str, Any]
    """A JSON Schema for one record, as applied; records are validated against it on ingest."""
    pii_fields: tuple[str, ...] = ()
    """Replaced by keyed tokens before a record leaves the ingest step."""
    config: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def record_id_field(self) -> str | None:
        return self.config.get("record_id")

    @property
    def entity_field(self) -> str | None:
        return self.config.get("entity")

    @property
    def event_time_field(self) -> str | None:
        return self.config.get("event_time")

    @cached_property
    def dropped(self) -> frozenset[str]:
        """Fields that never enter the platform, such as a label an analyst must not see."""
        return frozenset(self.config.get("drop", ()))

    @property
    def properties(self) -> Mapping[str, Any]:
        return self.schema.get("properties") or {}

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {"name": self.name, "source_type": str(self.source_type)}
        if self.description:
            document["description"] = self.description
        document["config"] = dict(self.config)
        document["schema"] = dict(self.schema)
        document["pii_fields"] = list(self.pii_fields)
        return document

    @classmethod
    def from_document(cls, document: object) -> SourceContract:
        """The contract the document describes, or InvalidCommand naming the first fault."""
        if not isinstance(document, Mapping):
            raise InvalidCommand("document", "a data source is a mapping of keys to values")
        _known_keys("", document, _KEYS)
        name = _name(document.get("name"))
        source_type = _source_type(document.get("source_type"))
        schema = _schema(document.get("schema"))
        properties = schema.get("properties") or {}
        pii = _field_list("pii_fields", document.get("pii_fields", []), properties)
        config = _config(document.get("config", {}), source_type, properties)
        description = document.get("description", "")
        if not isinstance(description, str):
            raise InvalidCommand("description", "must be text")
        return cls(
            name=name,
            source_type=source_type,
            schema=schema,
            pii_fields=pii,
            config=config,
            description=bounded_text("description", description),
        )


def source_name(field: str, value: object) -> str:
    """A source's name as stored: 1-64 of a-z, 0-9, '_' and '-', starting with a letter or
    digit."""
    if not isinstance(value, str) or not SOURCE_NAME.fullmatch(value.strip()):
        raise InvalidCommand(
            field, f"{value!r} is not a source name: use 1-64 of a-z, 0-9, '_' and '-'"
        )
    return value.strip()


def _name(value: object) -> str:
    if value is None:
        raise InvalidCommand("name", "is required")
    return source_name("name", value)


def _source_type(value: object) -> SourceType:
    if value is None:
        raise InvalidCommand("source_type", "is required")
    try:
        return SourceType(str(value))
    except ValueError:
        allowed = ", ".join(str(kind) for kind in SourceType)
        raise InvalidCommand("source_type", f"{value!r} is not one of {allowed}") from None


def _schema(value: object) -> dict[str, Any]:
    if value is None:
        raise InvalidCommand("schema", "is required: a JSON Schema for one record")
    if not isinstance(value, Mapping):
        raise InvalidCommand("schema", "must be a JSON Schema object")
    if value.get("type") != "object":
        raise InvalidCommand("schema.type", "must be 'object': a record is a JSON object")
    properties = value.get("properties")
    if properties is None or not isinstance(properties, Mapping) or not properties:
        raise InvalidCommand("schema.properties", "must name the record's fields")
    for name, rule in properties.items():
        if not isinstance(rule, Mapping):
            raise InvalidCommand(f"schema.properties.{name}", "must be a JSON Schema object")
    _field_list("schema.required", value.get("required", []), properties)
    return dict(value)


def _config(
    value: object, source_type: SourceType, properties: Mapping[str, Any]
) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidCommand("config", "must be a mapping")
    _known_keys("config.", value, _COMMON_CONFIG | _TYPE_CONFIG[source_type])
    config = dict(value)
    for key in ("record_id", "entity", "event_time"):
        if key in config:
            config[key] = _property(f"config.{key}", config[key], properties)
    if "drop" in config:
        config["drop"] = list(_field_list("config.drop", config["drop"], properties))
    if source_type is SourceType.MQTT:
        config["topics"] = _mqtt_topics(config.get("topics"))
        config["qos"] = _choice("config.qos", config.get("qos", 1), (0, 1, 2))
    if source_type is SourceType.NATS:
        config["subject"] = _nats_subject(config.get("subject"))
    if source_type is SourceType.CSV and "delimiter" in config:
        delimiter = config["delimiter"]
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            raise InvalidCommand("config.delimiter", "must be one character")
    if source_type is SourceType.WEBHOOK and "tolerance_seconds" in config:
        tolerance = config["tolerance_seconds"]
        if isinstance(tolerance, bool) or not isinstance(tolerance, int) or tolerance < 1:
            raise InvalidCommand("config.tolerance_seconds", "must be a whole number above 0")
    return config


def _known_keys(prefix: str, mapping: Mapping[Any, Any], known: frozenset[str]) -> None:
    for key in mapping:
        if key not in known:
            allowed = ", ".join(sorted(known))
            raise InvalidCommand(f"{prefix}{key}", f"is not a known key (known: {allowed})")


def _property(field: str, value: object, properties: Mapping[str, Any]) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidCommand(field, "must name a field of the schema")
    if value not in properties:
        raise InvalidCommand(field, f"{value!r} is not among schema.properties")
    return value


def _field_list(field: str, value: object, properties: Mapping[str, Any]) -> tuple[str, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise InvalidCommand(field, "must be a list of field names")
    names = tuple(_property(f"{field}[{i}]", name, properties) for i, name in enumerate(value))
    for index, name in enumerate(names):
        if names.index(name) != index:
            raise InvalidCommand(f"{field}[{index}]", f"{name!r} is listed twice")
    return names


def _mqtt_topics(value: object) -> list[str]:
    if not isinstance(value, Sequence) or isinstance(value, str) or not value:
        raise InvalidCommand("config.topics", "an mqtt source subscribes to a list of topics")
    topics = []
    for index, topic in enumerate(value):
        levels = topic.split("/") if isinstance(topic, str) and topic else None
        if (
            levels is None
            or any(
                ("+" in level and level != "+") or ("#" in level and level != "#")
                for level in levels
            )
            or "#" in levels[:-1]
        ):
            raise InvalidCommand(
                f"config.topics[{index}]", f"{topic!r} is not an MQTT topic filter"
            )
        topics.append(topic)
    return topics


def _nats_subject(value: object) -> str:
    tokens = value.split(".") if isinstance(value, str) else [""]
    if (
        any(
            not token
            or any(c.isspace() for c in token)
            or (("*" in token or ">" in token) and token not in ("*", ">"))
            for token in tokens
        )
        or ">" in tokens[:-1]
    ):
        raise InvalidCommand("config.subject", f"{value!r} is not a NATS subject")
    return str(value)


def _choice(field: str, value: object, allowed: tuple[int, ...]) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value in allowed:
        return value
    raise InvalidCommand(field, f"must be one of {', '.join(map(str, allowed))}")
