"""WorldRouter's video families as data: one module per family, one registry here.

Adding a family (the site also documents PixVerse) is one new module exposing a `Family`
record and its request class, plus one line in `FAMILIES`.
"""

from __future__ import annotations

from typing import Final

from .._errors import ValidationError
from ._family import Family, Uploader, VideoRequest
from ._grok import GROK, GrokVideo
from ._kling import KLING
from ._rows import (
    REQUEST_TYPES,
    AnyRequest,
    family_name,
    request_duration,
    request_fields,
    request_from_row,
    request_kind,
    request_tier,
)
from ._seedance import SEEDANCE, SeedanceVideo

__all__ = [
    "FAMILIES",
    "GROK",
    "KLING",
    "REQUEST_TYPES",
    "SEEDANCE",
    "AnyRequest",
    "Family",
    "GrokVideo",
    "SeedanceVideo",
    "Uploader",
    "VideoRequest",
    "all_routes",
    "family_name",
    "family_of",
    "request_duration",
    "request_fields",
    "request_from_row",
    "request_kind",
    "request_tier",
]

FAMILIES: Final[tuple[Family, ...]] = (KLING, SEEDANCE, GROK)

_BY_ROUTE: Final[dict[str, Family]] = {
    route: family for family in FAMILIES for route in family.routes
}
assert len(_BY_ROUTE) == sum(len(f.routes) for f in FAMILIES), "route keys must be unique"


def all_routes() -> tuple[str, ...]:
    """Every route key of every family, Kling's first."""
    return tuple(_BY_ROUTE)


def family_of(route: object) -> Family:
    """The family that owns route key `route`, or `ValidationError`."""
    family = _BY_ROUTE.get(route) if isinstance(route, str) else None
    if family is None:
        raise ValidationError("route", route, f"the create route: one of {', '.join(_BY_ROUTE)}")
    return family
