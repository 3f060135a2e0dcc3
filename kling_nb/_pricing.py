"""Cost estimates from a rate card: price per generated second, by model and mode (or resolution).

contract.md assumption 6: WorldRouter publishes no price list in its API and no cost field in
task responses, so cost is estimated locally. The default card is a placeholder, clearly
marked as such; set your own from the Models page (live pricing) with `RateCard({...})`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from ._errors import ValidationError
from ._models import MODELS, MODES

__all__ = [
    "DEFAULT_RATES",
    "GROK_RATES",
    "SANDBOX_RATES",
    "SEEDANCE_RATES",
    "RateCard",
    "reported_cost",
]

SANDBOX_RATES: Final[Mapping[str, float]] = MappingProxyType({"std": 0.07, "pro": 0.112})
"""What the embedded sandbox bills, in sandbox credits per generated second, by mode."""

SEEDANCE_RATES: Final[Mapping[str, Mapping[str, float]]] = MappingProxyType(
    {
        "seedance-2.0": {"480p": 0.06, "720p": 0.12},
        "seedance-2.0-fast": {"480p": 0.036, "720p": 0.072},
    }
)
"""PLACEHOLDER Seedance prices per generated second, by model and resolution: WorldRouter
publishes none (contract-families.md: usage is reported in output tokens). Equal to the
sandbox's `SEEDANCE_PRICE_NANO_PER_SECOND` (a test checks)."""

GROK_RATES: Final[Mapping[str, Mapping[str, float]]] = MappingProxyType(
    {
        "grok-imagine-video": {"480p": 0.05, "720p": 0.08},
        "grok-imagine-video-1.5-preview": {"480p": 0.06, "720p": 0.1},
    }
)
"""PLACEHOLDER Grok prices per generated second, by model and resolution: Grok's billing is
*unknown* (contract-families.md). Equal to the sandbox's `GROK_PRICE_NANO_PER_SECOND`."""

DEFAULT_RATES: Final[Mapping[tuple[str, str], float]] = MappingProxyType(
    {
        **{(model, mode): SANDBOX_RATES[mode] for model in MODELS for mode in MODES},
        **{
            (model, resolution): rate
            for table in (SEEDANCE_RATES, GROK_RATES)
            for model, by_resolution in table.items()
            for resolution, rate in by_resolution.items()
        },
    }
)
"""The placeholder card: Kling by (model, mode), Seedance and Grok by (model, resolution)."""

_DEFAULT_TIER: Final = {
    **dict.fromkeys(MODELS, "std"),
    **dict.fromkeys((*SEEDANCE_RATES, *GROK_RATES), "720p"),
}


@dataclass(frozen=True)
class RateCard:
    """Price per generated second for each (model, mode), in `unit`.

    Seedance and Grok have no mode: their second key is the resolution (`480p`, `720p`),
    which is what `Job.mode` and the ledger's `mode` column hold for them.

    `source` says where the numbers come from; the default card's numbers equal the sandbox's
    prices and are NOT WorldRouter's real prices (which are not published in the API).
    """

    rates: Mapping[tuple[str, str], float] = field(default_factory=lambda: dict(DEFAULT_RATES))
    unit: str = "credits"
    source: str = "placeholder (sandbox prices; real prices: WorldRouter's Models page)"

    def __post_init__(self) -> None:
        checked: dict[tuple[str, str], float] = {}
        for key, value in dict(self.rates).items():
            if not (isinstance(key, tuple) and len(key) == 2):
                raise ValidationError("rates", key, "keys of the form (model, mode)")
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValidationError("rates", value, "a non-negative price per second")
            checked[(str(key[0]), str(key[1]))] = float(value)
        object.__setattr__(self, "rates", MappingProxyType(checked))

    def rate(self, model: str, mode: str | None) -> float | None:
        """Price per second, or None when the card has no entry for this model and mode.

        No mode means the model's default: `std` for Kling, `720p` for Seedance and Grok
        (Grok's documented fallback; Seedance's assumed, as in `kling_nb._families`).
        """
        return self.rates.get((model, mode or _DEFAULT_TIER.get(model, "std")))

    def estimate(self, model: str, mode: str | None, duration: int) -> float | None:
        """Estimated cost of one video, or None when the rate is unknown."""
        per_second = self.rate(model, mode)
        return None if per_second is None else round(per_second * int(duration), 6)

    def total(self, items: Iterable[tuple[str, str | None, int]]) -> float:
        """Sum of the estimates of (model, mode, duration) items; unknown rates count as 0."""
        return round(sum(self.estimate(m, mo, d) or 0.0 for m, mo, d in items), 6)

    def format(self, amount: float | None) -> str:
        """`amount` in this card's unit, e.g. '10.00 credits', or 'unknown'."""
        return "unknown" if amount is None else f"{amount:,.2f} {self.unit}"


def reported_cost(raw: Mapping[str, Any]) -> float | None:
    """A cost the server reported in a status body, if any (no such field is documented)."""
    candidates: list[object] = [raw.get("cost"), raw.get("credits"), raw.get("price")]
    usage = raw.get("usage")
    if isinstance(usage, Mapping):
        candidates += [usage.get("credits"), usage.get("cost"), usage.get("total_cost")]
    for value in candidates:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None
