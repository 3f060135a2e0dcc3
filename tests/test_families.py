"""Seedance and Grok requests: validation before any request, bodies, and the family records."""

from __future__ import annotations

from pathlib import Path

import pytest
from _mock import write_png

import kling_nb as kn
from kling_nb._families import FAMILIES, GROK, KLING, SEEDANCE, all_routes, family_of


def test_every_route_key_belongs_to_exactly_one_family() -> None:
    assert all_routes() == ("text2video", "image2video", "omni-video", "seedance", "grok")
    for family in FAMILIES:
        for route in family.routes:
            assert family_of(route) is family
    with pytest.raises(kn.ValidationError) as info:
        family_of("pixverse")
    assert info.value.field == "route"


def test_paths_are_the_documented_ones() -> None:
    assert KLING.create_path("omni-video") == "/v1/videos/omni-video"
    assert KLING.status_path("image2video", "t/1") == "/v1/videos/image2video/t%2F1"
    assert SEEDANCE.create_path("seedance") == "/api/v3/contents/generations/tasks"
    assert SEEDANCE.status_path("seedance", "cgt-1") == "/api/v3/contents/generations/tasks/cgt-1"
    assert GROK.create_path("grok") == "/v1/videos/generations"
    assert GROK.status_path("grok", "vid 1") == "/v1/videos/generations/vid%201"


def test_seedance_text_body_holds_only_documented_fields() -> None:
    request = kn.SeedanceVideo("a heron lands")
    assert request.route == "seedance"
    assert request.to_body() == {
        "model": "seedance-2.0",
        "content": [{"type": "text", "text": "a heron lands"}],
    }


def test_seedance_options_and_extra_are_lowercase_top_level_fields() -> None:
    request = kn.SeedanceVideo(
        "fog",
        model="seedance-2.0-fast",
        images=["https://assets.example/a.png", "asset://asset-9"],
        duration="8",
        ratio="9:16",
        resolution="480p",
        extra={"seed": 7, "watermark": False},
    )
    body = request.to_body()
    assert body["model"] == "seedance-2.0-fast"
    assert body["duration"] == 8
    assert (body["ratio"], body["resolution"], body["seed"]) == ("9:16", "480p", 7)
    assert body["content"][1:] == [
        {
            "type": "image_url",
            "image_url": {"url": "https://assets.example/a.png"},
            "role": "reference_image",
        },
        {"type": "image_url", "image_url": {"url": "asset://asset-9"}, "role": "reference_image"},
    ]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"prompt": "  "}, "prompt"),
        ({"model": "kling-v3"}, "model"),
        ({"duration": 3}, "duration"),
        ({"duration": 16}, "duration"),
        ({"duration": True}, "duration"),
        ({"ratio": "2:1"}, "ratio"),
        ({"resolution": "4k"}, "resolution"),
        ({"images": "https://a.example/x.png"}, "images"),
        ({"images": ["ftp://a.example/x.png"]}, "images[0]"),
        ({"images": ["https://a.example/x.png"] * 10}, "images"),
        ({"extra": {"Model": "x"}}, "extra"),
        ({"extra": {"content": []}}, "extra"),
        ({"extra": {"duration": 5}}, "extra"),
        ({"extra": {"seed": float("nan")}}, "extra"),
    ],
)
def test_seedance_rejects_bad_input(kwargs: dict[str, object], field: str) -> None:
    args = {"prompt": "a heron", **kwargs}
    with pytest.raises(kn.ValidationError) as info:
        kn.SeedanceVideo(**args)  # type: ignore[arg-type]
    assert info.value.field == field


def test_seedance_local_images_are_replaced_by_their_asset_urls_in_order(tmp_path: Path) -> None:
    first = write_png(tmp_path / "a.png")
    second = write_png(tmp_path / "b.png")
    request = kn.SeedanceVideo(
        "two refs", images=[first, "https://assets.example/kept.png", str(second)]
    )
    assert request.local_images == (first.resolve(), second.resolve())
    with pytest.raises(kn.ValidationError, match="uploaded first"):
        request.to_body()
    done = SEEDANCE.with_uploads(request, ["https://assets.example/1", "https://assets.example/2"])
    urls = [part["image_url"]["url"] for part in done.to_body()["content"][1:]]
    assert urls == [
        "https://assets.example/1",
        "https://assets.example/kept.png",
        "https://assets.example/2",
    ]
    assert SEEDANCE.local_images(done) == ()


def test_grok_defaults_are_the_documented_example() -> None:
    request = kn.GrokVideo("a comet")
    assert request.route == "grok"
    assert request.to_body() == {
        "model": "grok-imagine-video",
        "prompt": "a comet",
        "duration": 6,
        "resolution": "720p",
    }


def test_grok_image_needs_the_image_guided_model_and_the_reverse(tmp_path: Path) -> None:
    image = write_png(tmp_path / "frame.png")
    with pytest.raises(kn.ValidationError) as info:
        kn.GrokVideo("x", image=image)
    assert info.value.field == "model"
    with pytest.raises(kn.ValidationError) as info:
        kn.GrokVideo("x", model="grok-imagine-video-1.5-preview")
    assert info.value.field == "image"
    request = kn.GrokVideo("x", model="grok-imagine-video-1.5-preview", image=image)
    assert GROK.local_images(request) == (image.resolve(),)
    done = GROK.with_uploads(request, ["https://up.example/frame.png"])
    assert done.to_body()["image_url"] == "https://up.example/frame.png"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"resolution": "1080p"}, "resolution"),  # the router would silently make it 720p
        ({"resolution": None}, "resolution"),
        ({"duration": 0}, "duration"),
        ({"duration": None}, "duration"),
        ({"model": "seedance-2.0"}, "model"),
        ({"extra": {"prompt": "y"}}, "extra"),
        ({"extra": {"aspectRatio": "1:1"}}, "extra"),
    ],
)
def test_grok_rejects_bad_input(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(kn.ValidationError) as info:
        kn.GrokVideo("a comet", **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_requests_are_frozen_and_extra_is_copied() -> None:
    nested = {"camera": {"move": "pan"}}
    request = kn.GrokVideo("a comet", extra=nested)
    nested["camera"]["move"] = "tilt"
    assert request.to_body()["camera"] == {"move": "pan"}
    with pytest.raises(AttributeError):
        request.prompt = "other"  # type: ignore[misc]
