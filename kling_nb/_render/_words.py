"""Numbers in words: durations, costs, rates, nano-credits, the spec line, short ids."""

from __future__ import annotations

import re
from typing import Final

from ._html import Snapshot, num

__all__ = [
    "NANO_PER_CREDIT",
    "cost_text",
    "credits_from_nano",
    "format_amount",
    "format_rate",
    "format_seconds",
    "short_id",
    "since_create",
    "spec_text",
    "taken",
]

NANO_PER_CREDIT: Final = 1_000_000_000
"""The router counts balances in nano-credits: 1 credit = 1e9 nano (contract.md, 402 body)."""

_DATED_ID = re.compile(r"^\d{8}-\d{6}-([A-Za-z0-9]+)$")


def format_seconds(seconds: float | None) -> str:
    """'42 s', '3 min 05 s', '1 h 02 min'; '?' when unknown."""
    value = num(seconds)
    if value is None:
        return "?"
    value = max(value, 0.0)
    if value < 60:
        return f"{value:.0f} s"
    if value < 3600:
        minutes, secs = divmod(round(value), 60)
        return f"{minutes} min {secs:02d} s"
    hours, rest = divmod(round(value), 3600)
    return f"{hours} h {rest // 60:02d} min"


def format_amount(amount: object, unit: object = "credits") -> str:
    """'1.12 credits' (two decimals, thousands separated); '?' when not a number."""
    value = num(amount)
    if value is None:
        return "?"
    return f"{value:,.2f} {unit or 'credits'}"


def format_rate(rate: float, unit: str = "credits") -> str:
    """A per-second rate with the digits it has: '0.112 credits/s', '0.5 USD/s'."""
    digits = f"{rate:,.4f}".rstrip("0").rstrip(".")
    return f"{digits} {unit}/s"


def credits_from_nano(value: object) -> float | None:
    """A nano-credit amount from an error body as credits; None if it is not a number."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    amount = num(value)
    return None if amount is None else amount / NANO_PER_CREDIT


def cost_text(snapshot: Snapshot) -> str:
    """'cost 1.12 credits' when the server reported it, else 'est. 1.12 credits'."""
    unit = snapshot.get("cost_unit") or "credits"
    reported = num(snapshot.get("cost_reported"))
    if reported is not None:
        return f"cost {format_amount(reported, unit)}"
    estimate = num(snapshot.get("cost_estimate"))
    if estimate is None:
        return "cost unknown"
    return f"est. {format_amount(estimate, unit)}"


def spec_text(snapshot: Snapshot) -> str:
    """'kling-v3 · pro · 10 s video · 16:9': what was asked for, each number labelled."""
    parts = [str(snapshot.get("model") or "?")]
    if snapshot.get("mode"):
        parts.append(str(snapshot["mode"]))
    duration = num(snapshot.get("duration"))
    if duration:
        parts.append(f"{duration:g} s video")
    if snapshot.get("aspect_ratio"):
        parts.append(str(snapshot["aspect_ratio"]))
    return " · ".join(parts)


def since_create(snapshot: Snapshot) -> float | None:
    """Seconds since the task was created (the part of `elapsed_s` the ETA is about)."""
    elapsed = num(snapshot.get("elapsed_s"))
    created = num(snapshot.get("created_at"))
    submitted = num(snapshot.get("submitted_at"))
    if elapsed is None:
        return None
    if created is not None and submitted is not None:
        return max(elapsed - max(created - submitted, 0.0), 0.0)
    return elapsed


def taken(snapshot: Snapshot) -> float | None:
    """Seconds from create to finish (or the elapsed time when either is unknown)."""
    created = num(snapshot.get("created_at"))
    finished = num(snapshot.get("finished_at"))
    if created is not None and finished is not None:
        return max(finished - created, 0.0)
    return num(snapshot.get("elapsed_s"))


def short_id(value: object) -> str:
    """A job or task id short enough for a table cell: 8 characters that tell ids apart.

    kling_nb's job ids are '<date>-<time>-<random>': the first 8 characters are the date, the
    same for a whole sweep, so the random tail is shown; any other id shows its first 8.
    """
    text = "" if value is None else str(value)
    found = _DATED_ID.match(text)
    if found:
        return found[1][:8]
    return text[:8]
