"""JSON on the hot path: orjson where it can, the standard library where orjson refuses.

orjson reads and writes a record several times faster than `json`. It refuses what the standard
library takes (NaN and Infinity, integers beyond 64 bits, keys that are not strings), so such a
document falls back to `json`, which also words the error when there is one. One difference
remains, on purpose: orjson writes a float NaN as null, since NaN is not JSON (`json` writes
`NaN` in a document that falls back for another reason).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_SERIALIZE_NUMPY
"""Times go through `str`, as with `json.dumps(default=str)`: `2018-04-01 00:00:31`; numpy's
numbers are numbers."""
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)
"""Made once: `json.dumps` with options builds an encoder per call."""


def dumps(value: Any) -> bytes:
    """Compact JSON; a value JSON cannot hold goes through `str`."""
    try:
        return orjson.dumps(value, default=str, option=_OPTIONS)
    except orjson.JSONEncodeError:
        return _ENCODER.encode(value).encode()


def loads(data: bytes) -> Any:
    """The document in `data`; `UnicodeDecodeError` or `json.JSONDecodeError` when it is none."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data.decode("utf-8"))
