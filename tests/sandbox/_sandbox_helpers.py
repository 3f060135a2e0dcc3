"""Helpers for the sandbox conformance suite: raw-httpx calls, error checks, MP4 probing."""

from __future__ import annotations

import asyncio
import io
import time
from dataclasses import dataclass
from typing import Any

import av
import httpx
import numpy as np
import numpy.typing as npt
from PIL import Image

from kling_nb._errors import APIError, error_from_response

TEAM = "sk-sandbox-team"
TEAM2 = "sk-sandbox-team2"
SOLO = "sk-sandbox-solo"
BROKE = "sk-sandbox-broke"

FAST = 0.002
"""A time_scale at which a 5 s std task finishes in about 0.2 s."""

FROZEN = 1.0
"""A time_scale at which tasks stay queued for the length of any test (real time)."""

TERMINAL = {"succeeded", "failed", "cancelled", "expired"}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def t2v(**changes: Any) -> dict[str, Any]:
    """A valid text2video body, with `changes` applied (None deletes a field)."""
    body: dict[str, Any] = {
        "Model": "kling-v3",
        "Prompt": "A cinematic shot of a city street at sunset.",
        "Duration": "5",
        "Mode": "std",
        "AspectRatio": "16:9",
    }
    return _apply(body, changes)


def i2v(image_url: str, **changes: Any) -> dict[str, Any]:
    """A valid image2video body (the guide's example) for `image_url`."""
    body: dict[str, Any] = {
        "Model": "kling-v3",
        "Prompt": "Animate this scene with a slow dolly-in.",
        "Duration": "5",
        "Mode": "std",
        "ImageList": [{"ImageUrl": image_url, "Type": "first_frame"}],
    }
    return _apply(body, changes)


def omni(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"Model": "kling-v3-omni", "Prompt": "a fox in snow", "Duration": "5"}
    return _apply(body, changes)


def _apply(body: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def assert_problem(
    response: httpx.Response, status: int, code: str, cls: type[APIError]
) -> APIError:
    """The response is the router's error envelope and parses into exactly `cls`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail"}, body
    assert body["detail"]["code"] == code, body
    assert isinstance(body["detail"]["message"], str)
    assert body["detail"]["message"]
    rid = response.headers["x-request-id"]
    assert rid.startswith("req_")
    error = error_from_response(response.status_code, response.text, request_id=rid)
    assert type(error) is cls, (type(error), body)
    assert error.code == code
    assert error.request_id == rid
    return error


async def create(
    client: httpx.AsyncClient, route: str, body: dict[str, Any], key: str = TEAM
) -> dict[str, Any]:
    response = await client.post(f"/v1/videos/{route}", json=body, headers=auth(key))
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def wait_terminal(
    client: httpx.AsyncClient, route: str, task_id: str, key: str = TEAM, timeout: float = 15.0
) -> dict[str, Any]:
    """Poll a Kling task until terminal; return the last status body."""
    return await wait_done(client, f"/v1/videos/{route}", task_id, key, timeout)


async def wait_done(
    client: httpx.AsyncClient, path: str, task_id: str, key: str = TEAM, timeout: float = 20.0
) -> dict[str, Any]:
    """Poll `path/task_id` (any family's status route) until terminal; return the last body."""
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get(f"{path}/{task_id}", headers=auth(key))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in TERMINAL:
            return body
        assert time.monotonic() < deadline, f"task still {body['status']} after {timeout} s"
        await asyncio.sleep(0.02)


@dataclass(frozen=True)
class Mp4Info:
    format: str
    codec: str
    duration: float
    width: int
    height: int
    pix_fmt: str
    frames: int
    fps: float


def probe_mp4(data: bytes) -> Mp4Info:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert container.duration is not None
        return Mp4Info(
            format=container.format.name,
            codec=stream.codec_context.name,
            duration=container.duration / 1_000_000,
            width=stream.width,
            height=stream.height,
            pix_fmt=str(stream.codec_context.pix_fmt),
            frames=frames,
            fps=float(stream.average_rate or 0),
        )


def frame_at(data: bytes, index: int) -> npt.NDArray[np.int16]:
    with av.open(io.BytesIO(data)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                pixels: npt.NDArray[np.int16] = frame.to_ndarray(format="rgb24").astype(np.int16)
                return pixels
    raise AssertionError(f"no frame {index}")


def image_bytes(fmt: str, size: tuple[int, int] = (64, 36), colour: str = "teal") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format=fmt)
    return out.getvalue()
