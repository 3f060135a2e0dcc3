"""Input checks shared by the lowercase-bodied families (Seedance, Grok).

Each raises `ValidationError(field, value, allowed)` before any request, like `_requests`.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import urlsplit

from .._errors import ValidationError
from .._requests import _check_image

__all__ = ["check_choice", "check_extra", "check_image", "check_int", "check_model", "check_prompt"]

_SNAKE: Final = re.compile(r"^[a-z][a-z0-9_]*$")


def check_prompt(prompt: object) -> str:
    """A non-empty prompt string.

    No length limit is documented for these families (contract-families.md), so none is
    imposed here: the router answers an over-long one with a 400.
    """
    if not isinstance(prompt, str):
        raise ValidationError("prompt", prompt, "a string")
    if not prompt.strip():
        raise ValidationError("prompt", prompt, "a non-empty description of the video")
    return prompt


def check_model(model: object, models: Iterable[str], family: str) -> str:
    """`model` if it is one of the family's documented models."""
    allowed = list(models)
    if not isinstance(model, str) or model not in allowed:
        raise ValidationError("model", model, f"one of {', '.join(allowed)} ({family})")
    return model


def check_choice(name: str, value: object, allowed: tuple[str, ...]) -> str | None:
    """`value` if it is None or one of `allowed`."""
    if value is None:
        return None
    if not isinstance(value, str) or value not in allowed:
        raise ValidationError(name, value, f"one of {', '.join(allowed)} or None")
    return value


def check_int(name: str, value: object, low: int, high: int) -> int | None:
    """`value` as an int in [low, high] (an int or a decimal string), or None."""
    if value is None:
        return None
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdecimal():
        number = int(value.strip())
    if number is None or not low <= number <= high:
        raise ValidationError(name, value, f"whole seconds from {low} to {high}, or None")
    return number


def check_image(name: str, image: object) -> str | Path:
    """An http(s) URL, or the resolved path of a local PNG/JPEG/WebP/GIF of at most 10 MiB."""
    return _check_image(name, image)


def is_asset_ref(value: object) -> bool:
    """True for an `asset://<id>` reference."""
    return isinstance(value, str) and urlsplit(value).scheme == "asset" and len(value) > 8


def check_extra(extra: object, reserved: frozenset[str]) -> Mapping[str, Any]:
    """Extra lowercase body fields, passed through unchanged (contract.md assumption 10).

    The two families' bodies are lowercase (contract-families.md), so extra names are
    snake_case and may not shadow a field that has its own argument.
    """
    if extra is None:
        return MappingProxyType({})
    if not isinstance(extra, Mapping):
        raise ValidationError("extra", extra, "a mapping of extra lowercase fields, or None")
    for key in extra:
        if not isinstance(key, str) or not _SNAKE.match(key):
            raise ValidationError("extra", key, "lowercase field names (e.g. seed, watermark)")
        if key in reserved:
            raise ValidationError(
                "extra",
                key,
                f"fields other than {', '.join(sorted(reserved))} "
                "(set those through their own arguments)",
            )
    try:
        json.dumps(dict(extra), allow_nan=False)
    except (TypeError, ValueError):
        raise ValidationError("extra", dict(extra), "JSON-serializable values") from None
    return MappingProxyType(copy.deepcopy(dict(extra)))
