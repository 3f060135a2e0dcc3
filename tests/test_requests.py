"""Requests: validated at construction (before any I/O), immutable, serialized as the guide says."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from _mock import write_png

import kling_nb as kn
from kling_nb._errors import ValidationError
from kling_nb._requests import (
    MAX_IMAGE_BYTES,
    request_fields,
    request_from_row,
    sniff_image_type,
)

# -- the guide's two example bodies ---------------------------------------------------------


def test_text2video_body_is_the_guides_example() -> None:
    request = kn.TextToVideo(
        "A cinematic shot of a city street at sunset.",
        model="kling-v3",
        duration=5,
        mode="std",
        aspect_ratio="16:9",
    )
    assert request.route == "text2video"
    assert request.to_body() == {
        "Model": "kling-v3",
        "Prompt": "A cinematic shot of a city street at sunset.",
        "Duration": "5",
        "Mode": "std",
        "AspectRatio": "16:9",
    }


def test_image2video_body_is_the_guides_example() -> None:
    request = kn.ImageToVideo(
        "https://your-host.example.com/first-frame.png",
        "Animate this scene with a slow dolly-in.",
        model="kling-v3",
        duration=5,
        mode="std",
    )
    assert request.route == "image2video"
    body = request.to_body()
    assert body == {
        "Model": "kling-v3",
        "Prompt": "Animate this scene with a slow dolly-in.",
        "Duration": "5",
        "Mode": "std",
        "ImageList": [
            {"ImageUrl": "https://your-host.example.com/first-frame.png", "Type": "first_frame"}
        ],
    }
    assert "AspectRatio" not in body  # image2video derives the ratio from the image


def test_defaults() -> None:
    body = kn.TextToVideo("a fox").to_body()
    assert body == {
        "Model": "kling-v3",
        "Prompt": "a fox",
        "Duration": "5",
        "Mode": "std",
        "AspectRatio": "16:9",
    }
    omni = kn.OmniVideo("a fox")
    assert omni.route == "omni-video"
    assert omni.to_body() == {"Model": "kling-v3-omni", "Prompt": "a fox", "Duration": "5"}


@pytest.mark.parametrize("duration", [10, "10", " 10 "])
def test_duration_ten_in_any_form_is_the_string_ten(duration: object) -> None:
    for request in (
        kn.TextToVideo("x", duration=duration),  # type: ignore[arg-type]
        kn.ImageToVideo("https://h.example/a.png", duration=duration),  # type: ignore[arg-type]
        kn.OmniVideo("x", duration=duration),  # type: ignore[arg-type]
    ):
        assert request.duration == 10
        assert request.to_body()["Duration"] == "10"


@pytest.mark.parametrize("duration", [5, "5"])
def test_duration_five_is_the_string_five(duration: object) -> None:
    assert kn.TextToVideo("x", duration=duration).to_body()["Duration"] == "5"  # type: ignore[arg-type]


def test_image2video_pro_kling_v2_6_and_empty_prompt() -> None:
    body = kn.ImageToVideo("http://h.example/a.jpg", model="kling-v2-6", mode="pro").to_body()
    assert body == {
        "Model": "kling-v2-6",
        "Duration": "5",
        "Mode": "pro",
        "ImageList": [{"ImageUrl": "http://h.example/a.jpg", "Type": "first_frame"}],
    }


def test_omni_without_first_frame_has_no_image_list() -> None:
    body = kn.OmniVideo("a kite", mode="pro", aspect_ratio="9:16", duration="10").to_body()
    assert body == {
        "Model": "kling-v3-omni",
        "Prompt": "a kite",
        "Duration": "10",
        "Mode": "pro",
        "AspectRatio": "9:16",
    }


def test_omni_with_first_frame_url() -> None:
    body = kn.OmniVideo("a kite", first_frame="https://h.example/f.webp").to_body()
    assert body == {
        "Model": "kling-v3-omni",
        "Prompt": "a kite",
        "Duration": "5",
        "ImageList": [{"ImageUrl": "https://h.example/f.webp", "Type": "first_frame"}],
    }


def test_extra_passes_through_unchanged() -> None:
    extra = {"NegativePrompt": "blurry", "CfgScale": 0.5, "Sound": True, "Camera": {"Zoom": [1, 2]}}
    for request in (
        kn.TextToVideo("x", extra=extra),
        kn.ImageToVideo("https://h.example/a.png", extra=extra),
        kn.OmniVideo("x", extra=extra),
    ):
        body = request.to_body()
        for key, value in extra.items():
            assert body[key] == value
        assert set(body) - set(extra) <= {
            "Model",
            "Prompt",
            "Duration",
            "Mode",
            "AspectRatio",
            "ImageList",
        }


def test_local_image_is_kept_as_a_path_and_must_be_uploaded_first(png_path: Path) -> None:
    request = kn.ImageToVideo(png_path, "go")
    assert request.local_image == png_path
    with pytest.raises(kn.ValidationError) as info:
        request.to_body()
    assert info.value.field == "image"
    uploaded = request.with_image_url("https://media.example/u.png")
    assert uploaded.local_image is None
    assert uploaded.to_body()["ImageList"][0]["ImageUrl"] == "https://media.example/u.png"
    omni = kn.OmniVideo("go", first_frame=str(png_path))
    assert omni.local_image == png_path
    assert kn.TextToVideo("x").local_image is None


def test_requests_are_immutable() -> None:
    request = kn.TextToVideo("x", extra={"CfgScale": 0.5})
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.prompt = "y"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.duration = 10  # type: ignore[misc]
    with pytest.raises(TypeError):
        request.extra["CfgScale"] = 0.9  # type: ignore[index]
    image = kn.ImageToVideo("https://h.example/a.png")
    with pytest.raises(dataclasses.FrozenInstanceError):
        image.image = "https://h.example/b.png"  # type: ignore[misc]
    omni = kn.OmniVideo("x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        omni.first_frame = "https://h.example/b.png"  # type: ignore[misc]


def test_extra_is_copied_so_later_changes_to_the_callers_dict_do_not_leak_in() -> None:
    extra = {"CfgScale": 0.5}
    request = kn.TextToVideo("x", extra=extra)
    extra["CfgScale"] = 0.9
    extra["Sound"] = True
    assert request.to_body()["CfgScale"] == 0.5
    assert "Sound" not in request.to_body()


def test_nested_extra_values_are_copied_both_ways() -> None:
    extra = {"Camera": {"Zoom": [1]}}
    request = kn.TextToVideo("x", extra=extra)
    extra["Camera"]["Zoom"].append(2)  # the caller's dict changes later
    body = request.to_body()
    body["Camera"]["Zoom"].append(3)  # a body is edited before sending
    assert request.to_body()["Camera"] == {"Zoom": [1]}


def test_requests_are_hashable() -> None:
    a = kn.TextToVideo("x", extra={"CfgScale": 0.5})
    b = kn.TextToVideo("x", extra={"CfgScale": 0.5})
    assert hash(a) == hash(b)
    assert len({a, b, kn.OmniVideo("x"), kn.ImageToVideo("https://h.example/a.png")}) == 3


def test_to_body_returns_a_fresh_dict() -> None:
    request = kn.OmniVideo("x", first_frame="https://h.example/f.png")
    body = request.to_body()
    body["Model"] = "changed"
    body["ImageList"][0]["ImageUrl"] = "changed"
    assert request.to_body()["Model"] == "kling-v3-omni"
    assert request.to_body()["ImageList"][0]["ImageUrl"] == "https://h.example/f.png"


def test_replace_revalidates() -> None:
    request = kn.TextToVideo("x")
    assert dataclasses.replace(request, duration="10").to_body()["Duration"] == "10"
    with pytest.raises(kn.ValidationError):
        dataclasses.replace(request, duration=7)


def test_equal_requests_compare_equal() -> None:
    assert kn.TextToVideo("x", duration="5") == kn.TextToVideo("x", duration=5)
    assert kn.TextToVideo("x") != kn.TextToVideo("y")


def test_windows_drive_path_is_a_path_not_a_url(tmp_path: Path) -> None:
    # "C:\\..." has a one-letter "scheme": it must be checked as a file, not refused as a URL.
    with pytest.raises(kn.ValidationError) as info:
        kn.ImageToVideo("C:\\frames\\missing.png")
    assert "existing local image file" in str(info.value)


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 8, "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 12, "image/jpeg"),
        (b"RIFF\0\0\0\0WEBPVP8 ", "image/webp"),
        (b"GIF89a" + b"\0" * 10, "image/gif"),
        (b"GIF87a" + b"\0" * 10, "image/gif"),
        (b"\x00\x00\x00\x18ftypisom", None),
        (b"", None),
    ],
)
def test_sniff_image_type(head: bytes, kind: str | None) -> None:
    assert sniff_image_type(head) == kind


@pytest.mark.parametrize("suffix", ["png", "jpeg", "webp", "gif"])
def test_every_accepted_image_kind_passes(tmp_path: Path, suffix: str) -> None:
    from PIL import Image

    path = tmp_path / f"a.{suffix}"
    Image.new("RGB", (8, 8)).save(path, format=suffix.upper())
    assert kn.ImageToVideo(path).local_image == path


# -- the table of bad inputs ----------------------------------------------------------------

Maker = Callable[[Path], Any]


def _files(tmp: Path) -> dict[str, Path]:
    text = tmp / "notes.txt"
    text.write_text("not an image, just words")
    big = tmp / "huge.png"
    with big.open("wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n")
        handle.truncate(MAX_IMAGE_BYTES + 1)
    folder = tmp / "a-folder.png"
    folder.mkdir()
    return {"text": text, "big": big, "folder": folder}


LONG = "x" * 2501
URL = "https://h.example/a.png"

# (id, field, the bad value as shown, what "allowed" must mention, constructor)
BAD: list[tuple[str, str, Any, str, Maker]] = [
    # model
    (
        "t2v-omni-model",
        "model",
        "kling-v3-omni",
        "kling-v3",
        lambda p: kn.TextToVideo("x", model="kling-v3-omni"),
    ),
    (
        "i2v-omni-model",
        "model",
        "kling-v3-omni",
        "kling-v2-6",
        lambda p: kn.ImageToVideo(URL, model="kling-v3-omni"),
    ),
    (
        "omni-v3-model",
        "model",
        "kling-v3",
        "kling-v3-omni",
        lambda p: kn.OmniVideo("x", model="kling-v3"),
    ),
    (
        "unknown-model",
        "model",
        "kling-v9",
        "kling-v3",
        lambda p: kn.TextToVideo("x", model="kling-v9"),
    ),
    (
        "model-case",
        "model",
        "Kling-V3",
        "kling-v3",
        lambda p: kn.TextToVideo("x", model="Kling-V3"),
    ),
    ("model-none", "model", None, "kling-v3", lambda p: kn.TextToVideo("x", model=None)),
    # duration
    ("duration-7", "duration", 7, "5 or 10", lambda p: kn.TextToVideo("x", duration=7)),
    ("duration-'7'", "duration", "7", "5 or 10", lambda p: kn.TextToVideo("x", duration="7")),
    ("duration-5.5", "duration", 5.5, "5 or 10", lambda p: kn.TextToVideo("x", duration=5.5)),
    ("duration-5.0", "duration", 5.0, "5 or 10", lambda p: kn.ImageToVideo(URL, duration=5.0)),
    ("duration-True", "duration", True, "5 or 10", lambda p: kn.TextToVideo("x", duration=True)),
    ("duration-None", "duration", None, "5 or 10", lambda p: kn.OmniVideo("x", duration=None)),
    ("duration-0", "duration", 0, "5 or 10", lambda p: kn.OmniVideo("x", duration=0)),
    ("duration-'5s'", "duration", "5s", "5 or 10", lambda p: kn.TextToVideo("x", duration="5s")),
    (
        "duration-superscript",
        "duration",
        "²",
        "5 or 10",
        lambda p: kn.TextToVideo("x", duration="²"),
    ),
    ("duration-'-5'", "duration", "-5", "5 or 10", lambda p: kn.TextToVideo("x", duration="-5")),
    # mode
    ("mode-fast", "mode", "fast", "std, pro", lambda p: kn.TextToVideo("x", mode="fast")),
    ("mode-STD", "mode", "STD", "std, pro", lambda p: kn.ImageToVideo(URL, mode="STD")),
    ("mode-omni-fast", "mode", "fast", "std, pro", lambda p: kn.OmniVideo("x", mode="fast")),
    ("mode-none-t2v", "mode", None, "std, pro", lambda p: kn.TextToVideo("x", mode=None)),
    # aspect ratio
    ("ratio-4:3", "aspect_ratio", "4:3", "16:9", lambda p: kn.TextToVideo("x", aspect_ratio="4:3")),
    (
        "ratio-omni-4:3",
        "aspect_ratio",
        "4:3",
        "9:16",
        lambda p: kn.OmniVideo("x", aspect_ratio="4:3"),
    ),
    (
        "ratio-16/9",
        "aspect_ratio",
        "16/9",
        "1:1",
        lambda p: kn.TextToVideo("x", aspect_ratio="16/9"),
    ),
    # prompt
    ("prompt-empty", "prompt", "", "non-empty", lambda p: kn.TextToVideo("")),
    ("prompt-spaces", "prompt", "   \n\t", "non-empty", lambda p: kn.TextToVideo("   \n\t")),
    ("omni-prompt-empty", "prompt", "", "non-empty", lambda p: kn.OmniVideo("")),
    ("prompt-2501", "prompt", LONG, "2500", lambda p: kn.TextToVideo(LONG)),
    ("i2v-prompt-2501", "prompt", LONG, "2500", lambda p: kn.ImageToVideo(URL, LONG)),
    ("prompt-int", "prompt", 42, "a string", lambda p: kn.TextToVideo(42)),
    ("prompt-bytes", "prompt", b"a fox", "a string", lambda p: kn.OmniVideo(b"a fox")),
    ("prompt-none", "prompt", None, "a string", lambda p: kn.TextToVideo(None)),
    # image
    (
        "image-ftp",
        "image",
        "ftp://h.example/a.png",
        "http(s) URL",
        lambda p: kn.ImageToVideo("ftp://h.example/a.png"),
    ),
    (
        "image-javascript",
        "image",
        "javascript:alert(1)",
        "http(s) URL",
        lambda p: kn.ImageToVideo("javascript:alert(1)"),
    ),
    (
        "image-data-url",
        "image",
        "data:image/png;base64,AAAA",
        "http(s) URL",
        lambda p: kn.ImageToVideo("data:image/png;base64,AAAA"),
    ),
    (
        "image-no-host",
        "image",
        "https:///a.png",
        "http(s) URL",
        lambda p: kn.ImageToVideo("https:///a.png"),
    ),
    (
        "image-space",
        "image",
        "https://h.example/a b.png",
        "without spaces",
        lambda p: kn.ImageToVideo("https://h.example/a b.png"),
    ),
    (
        "image-missing",
        "image",
        "MISSING",
        "existing local image file",
        lambda p: kn.ImageToVideo(p / "missing.png"),
    ),
    (
        "image-directory",
        "image",
        "FOLDER",
        "existing local image file",
        lambda p: kn.ImageToVideo(_files(p)["folder"]),
    ),
    (
        "image-not-image",
        "image",
        "TEXT",
        "PNG, JPEG, WebP or GIF",
        lambda p: kn.ImageToVideo(_files(p)["text"]),
    ),
    ("image-too-big", "image", "BIG", "10 MiB", lambda p: kn.ImageToVideo(_files(p)["big"])),
    ("image-int", "image", 123, "http(s) URL", lambda p: kn.ImageToVideo(123)),
    ("image-bytes", "image", b"\x89PNG", "http(s) URL", lambda p: kn.ImageToVideo(b"\x89PNG")),
    ("image-none", "image", None, "http(s) URL", lambda p: kn.ImageToVideo(None)),
    (
        "first-frame-ftp",
        "first_frame",
        "ftp://h.example/a.png",
        "http(s) URL",
        lambda p: kn.OmniVideo("x", first_frame="ftp://h.example/a.png"),
    ),
    (
        "first-frame-missing",
        "first_frame",
        "MISSING",
        "existing local image file",
        lambda p: kn.OmniVideo("x", first_frame=str(p / "missing.png")),
    ),
    (
        "first-frame-not-image",
        "first_frame",
        "TEXT",
        "PNG, JPEG, WebP or GIF",
        lambda p: kn.OmniVideo("x", first_frame=_files(p)["text"]),
    ),
    # extra
    (
        "extra-lowercase",
        "extra",
        "negative_prompt",
        "PascalCase",
        lambda p: kn.TextToVideo("x", extra={"negative_prompt": "blur"}),
    ),
    (
        "extra-camel",
        "extra",
        "negativePrompt",
        "PascalCase",
        lambda p: kn.TextToVideo("x", extra={"negativePrompt": "blur"}),
    ),
    (
        "extra-non-str-key",
        "extra",
        1,
        "PascalCase",
        lambda p: kn.TextToVideo("x", extra={1: "blur"}),
    ),
    (
        "extra-Model",
        "extra",
        "Model",
        "own arguments",
        lambda p: kn.TextToVideo("x", extra={"Model": "kling-v3-omni"}),
    ),
    (
        "extra-Prompt",
        "extra",
        "Prompt",
        "own arguments",
        lambda p: kn.OmniVideo("x", extra={"Prompt": "y"}),
    ),
    (
        "extra-Duration",
        "extra",
        "Duration",
        "own arguments",
        lambda p: kn.TextToVideo("x", extra={"Duration": "7"}),
    ),
    (
        "extra-ImageList-t2v",
        "extra",
        "ImageList",
        "own arguments",
        lambda p: kn.TextToVideo("x", extra={"ImageList": []}),
    ),
    (
        "extra-ImageList-i2v",
        "extra",
        "ImageList",
        "own arguments",
        lambda p: kn.ImageToVideo(URL, extra={"ImageList": []}),
    ),
    (
        "extra-AspectRatio-i2v",
        "extra",
        "AspectRatio",
        "own arguments",
        lambda p: kn.ImageToVideo(URL, extra={"AspectRatio": "1:1"}),
    ),
    (
        "extra-Mode",
        "extra",
        "Mode",
        "own arguments",
        lambda p: kn.OmniVideo("x", extra={"Mode": "fast"}),
    ),
    (
        "extra-list",
        "extra",
        ["NegativePrompt"],
        "a mapping",
        lambda p: kn.TextToVideo("x", extra=["NegativePrompt"]),
    ),
    (
        "extra-str",
        "extra",
        "NegativePrompt=blur",
        "a mapping",
        lambda p: kn.TextToVideo("x", extra="NegativePrompt=blur"),
    ),
    (
        "extra-set-value",
        "extra",
        {"Tags": {1, 2}},
        "JSON-serializable",
        lambda p: kn.TextToVideo("x", extra={"Tags": {1, 2}}),
    ),
    (
        "extra-object-value",
        "extra",
        "Seed",
        "JSON-serializable",
        lambda p: kn.TextToVideo("x", extra={"Seed": object()}),
    ),
    (
        "extra-nan-value",
        "extra",
        "CfgScale",
        "JSON-serializable",
        lambda p: kn.OmniVideo("x", extra={"CfgScale": math.nan}),
    ),
    (
        "extra-bytes-value",
        "extra",
        "NegativePrompt",
        "JSON-serializable",
        lambda p: kn.ImageToVideo(URL, extra={"NegativePrompt": b"x"}),
    ),
]


def _shown(value: Any, tmp: Path) -> str:
    """The text a message must contain to name the bad value."""
    placeholders = {
        "MISSING": str(tmp / "missing.png"),
        "FOLDER": str(tmp / "a-folder.png"),
        "TEXT": str(tmp / "notes.txt"),
        "BIG": str(tmp / "huge.png"),
    }
    if isinstance(value, str) and value in placeholders:
        return placeholders[value]
    if isinstance(value, str) and not isinstance(value, bool):
        # long values are shortened in messages: the start is enough to recognise them
        return repr(value)[:40] if len(value) < 80 else value[:40]
    return repr(value)[:40] if not isinstance(value, (dict, list)) else str(next(iter(value)))


def test_the_table_is_big_enough() -> None:
    assert len(BAD) >= 30
    assert len({row[0] for row in BAD}) == len(BAD)


@pytest.mark.parametrize(
    ("field", "value", "allowed", "make"),
    [pytest.param(*row[1:], id=row[0]) for row in BAD],
)
async def test_invalid_input_raises_before_any_request(
    tmp_path: Path,
    recorder: tuple[list[httpx.Request], httpx.MockTransport],
    field: str,
    value: Any,
    allowed: str,
    make: Maker,
) -> None:
    calls, transport = recorder
    async with kn.AsyncClient(
        "sk-test", base_url="https://api.test", transport=transport
    ) as client:
        with pytest.raises(kn.ValidationError) as info:
            await client.create(make(tmp_path))
    error = info.value
    assert isinstance(error, ValueError)
    assert isinstance(error, kn.KlingError)
    assert error.field == field
    message = str(error)
    assert message.startswith(f"{field}="), message
    assert _shown(value, tmp_path) in message, message
    assert allowed in message, message
    assert allowed in error.allowed
    assert calls == []  # nothing was sent


def test_wrong_model_message_says_where_it_belongs() -> None:
    with pytest.raises(kn.ValidationError) as info:
        kn.TextToVideo("x", model="kling-v3-omni")
    assert "omni-video" in str(info.value)
    assert "kling-v2-6" in str(info.value)


def test_prompt_of_exactly_2500_chars_is_fine() -> None:
    assert len(kn.TextToVideo("y" * 2500).prompt) == 2500


def test_image_of_exactly_10_mib_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "edge.png"
    with path.open("wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n")
        handle.truncate(MAX_IMAGE_BYTES)
    assert kn.ImageToVideo(path).local_image == path


def test_home_relative_paths_are_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    write_png(tmp_path / "me.png")
    assert kn.ImageToVideo("~/me.png").local_image == tmp_path / "me.png"
    assert kn.ImageToVideo(os.path.join("~", "me.png")).local_image == tmp_path / "me.png"


@pytest.mark.parametrize(
    "request_",
    [
        kn.TextToVideo("a kite", mode="pro", aspect_ratio="1:1", extra={"CfgScale": 0.5}),
        kn.ImageToVideo("https://h.example/a.png", "a kite", model="kling-v2-6", duration=10),
        kn.OmniVideo("a kite", first_frame="https://h.example/f.webp", aspect_ratio="9:16"),
        kn.OmniVideo("a kite"),
    ],
    ids=["text2video", "image2video", "omni-first-frame", "omni"],
)
def test_a_ledger_row_rebuilds_the_same_request(request_: kn.Request) -> None:
    row = {**request_fields(request_), "request": request_.to_body()}
    assert request_from_row(row) == request_


def test_a_row_whose_image_was_not_uploaded_yet_rebuilds_from_the_local_path(
    png_path: Path,
) -> None:
    request_ = kn.ImageToVideo(png_path, "a kite")
    assert request_from_row({**request_fields(request_), "request": None}) == request_


@pytest.mark.parametrize(
    ("change", "field"),
    [({"route": "image2video", "image": None}, "image"), ({"route": "list"}, "route")],
)
def test_a_row_that_cannot_be_a_request_is_refused(change: dict[str, Any], field: str) -> None:
    row = {**request_fields(kn.TextToVideo("a kite")), "request": None, **change}
    with pytest.raises(ValidationError, match=field):
        request_from_row(row)


def test_only_requests_with_an_image_take_an_uploaded_url(png_path: Path) -> None:
    with pytest.raises(ValidationError, match="no image on a text2video request"):
        kn.TextToVideo("a kite").with_image_url("https://media.example/u.png")
    omni = kn.OmniVideo("a kite", first_frame=png_path)
    assert omni.local_image == png_path
    uploaded = omni.with_image_url("https://media.example/u.png")
    assert uploaded.local_image is None
    assert uploaded.to_body()["ImageList"][0]["ImageUrl"] == "https://media.example/u.png"
