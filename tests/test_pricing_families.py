"""The placeholder rate card for Seedance and Grok: equal to what the sandbox bills, per family."""

from __future__ import annotations

import pytest

import kling_nb as kn
from kling_nb._families import request_kind
from kling_nb._pricing import DEFAULT_RATES, GROK_RATES, SEEDANCE_RATES, RateCard
from kling_nb.sandbox import GROK_PRICE_NANO_PER_SECOND, NANO, SEEDANCE_PRICE_NANO_PER_SECOND


@pytest.mark.parametrize(
    ("card", "sandbox"),
    [(SEEDANCE_RATES, SEEDANCE_PRICE_NANO_PER_SECOND), (GROK_RATES, GROK_PRICE_NANO_PER_SECOND)],
)
def test_family_placeholders_mirror_the_sandbox_prices(
    card: dict[str, dict[str, float]], sandbox: dict[str, dict[str, int]]
) -> None:
    assert {
        model: {res: round(rate * NANO) for res, rate in by_res.items()}
        for model, by_res in card.items()
    } == {model: dict(by_res) for model, by_res in sandbox.items()}
    for model, by_res in card.items():
        for resolution, rate in by_res.items():
            assert DEFAULT_RATES[(model, resolution)] == rate


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (kn.TextToVideo("a", model="kling-v3", mode="pro", duration=10), 1.12),
        (kn.SeedanceVideo("a", resolution="480p", duration=8), 0.48),
        # Unset: Seedance's assumed defaults, 5 s at 720p.
        (kn.SeedanceVideo("a", model="seedance-2.0-fast"), 0.36),
        (kn.GrokVideo("a", duration=6), 0.48),
        (kn.GrokVideo("a", resolution="480p", duration=3), 0.15),
    ],
)
def test_every_family_is_estimated(request_: object, expected: float) -> None:
    assert RateCard().estimate(*request_kind(request_)) == pytest.approx(expected)


def test_no_mode_means_the_models_default_tier() -> None:
    card = RateCard()
    assert card.rate("grok-imagine-video", None) == GROK_RATES["grok-imagine-video"]["720p"]
    assert card.rate("kling-v3", None) == card.rate("kling-v3", "std")
    assert card.rate("seedance-2.0", "1080p") is None  # no placeholder: unknown, not zero
