"""Errors as data: what every typed error of a mutation result shares."""

from __future__ import annotations

import strawberry


@strawberry.interface(description="Something a caller can fix or must know; nothing was recorded.")
class Error:
    message: str


@strawberry.type(description="An argument is missing, malformed or out of range.")
class InvalidInputError(Error):
    field: str
