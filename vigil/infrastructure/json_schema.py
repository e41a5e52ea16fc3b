"""Record validation by JSON Schema (draft 7), compiled to Python by fastjsonschema: about 3
microseconds a record, where an interpreting validator takes ten times that on the hot path.

The schema itself is checked against draft 7's meta-schema by `jsonschema` when a contract is
applied, so a mistake is refused with its path before any record meets it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import fastjsonschema
from jsonschema import Draft7Validator
from jsonschema.exceptions import SchemaError

from vigil.application.data_sources import RecordValidator, Violation
from vigil.domain.errors import InvalidCommand

_QUOTED = re.compile(r"'([^']*)'")


class FastJsonSchemaCompiler:
    def compile(self, schema: Mapping[str, Any]) -> RecordValidator:
        try:
            Draft7Validator.check_schema(dict(schema))
        except SchemaError as error:
            where = ".".join(["schema", *(str(part) for part in error.absolute_path)])
            raise InvalidCommand(where, error.message) from None
        try:
            check = fastjsonschema.compile(dict(schema))
        except fastjsonschema.JsonSchemaDefinitionException as error:
            raise InvalidCommand("schema", str(error)) from None
        return _Validator(check)


class _Validator:
    def __init__(self, check: Any) -> None:
        self._check = check

    def __call__(self, record: Mapping[str, Any]) -> Violation | None:
        try:
            self._check(record)
        except fastjsonschema.JsonSchemaValueException as error:
            return _violation(record, error)
        return None


def _violation(
    record: Mapping[str, Any], error: fastjsonschema.JsonSchemaValueException
) -> Violation:
    path = list((error.path or ["data"])[1:])
    field = _field(path)
    reason = error.message.removeprefix(error.name or "data").strip()
    where = _at(record, path)
    if error.rule == "required" and isinstance(where, Mapping):
        missing = [name for name in error.rule_definition or () if name not in where]
        if missing:
            return Violation(_field([*path, missing[0]]), "is required but missing")
    if error.rule == "additionalProperties":
        extra = _QUOTED.search(reason)
        if extra:
            return Violation(_field([*path, extra.group(1)]), "is not a field of the schema")
    return Violation(field or "record", reason)


def _field(path: list[Any]) -> str:
    text = ""
    for part in path:
        if str(part).isdigit():
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _at(record: Any, path: list[Any]) -> Any:
    for part in path:
        if isinstance(record, Mapping):
            record = record.get(str(part))
        elif isinstance(record, list) and str(part).isdigit() and int(part) < len(record):
            record = record[int(part)]
        else:
            return None
    return record
