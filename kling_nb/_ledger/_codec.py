"""How Python values become column values and back (JSON for lists and dicts)."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["JSON_COLUMNS", "decode_row", "encode", "loads"]

JSON_COLUMNS: Final = ("tags", "request", "error_detail")
"""Columns holding JSON text, decoded by `decode_row`."""


def encode(value: object) -> object:
    """A value the database stores as is (None, str, int, float), or its JSON text."""
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None or isinstance(value, (str, int, float)):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def loads(text: object) -> object:
    """JSON text decoded; anything else (or text that is not JSON) unchanged."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def decode_row(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A jobs row as a dict, its JSON columns decoded (`tags` is always a list)."""
    data = dict(row)
    for name in JSON_COLUMNS:
        if name in data:
            data[name] = loads(data[name])
    data["tags"] = data.get("tags") or []
    return data
