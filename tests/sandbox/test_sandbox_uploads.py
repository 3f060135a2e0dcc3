"""Image uploads: content sniffing, limits, presigned URLs, and uploads as first frames."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from PIL import Image

from kling_nb._errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    PermissionDeniedError,
)
from kling_nb.sandbox import MAX_UPLOAD_BYTES, Sandbox

from ._sandbox_helpers import (
    BROKE,
    SOLO,
    TEAM,
    assert_problem,
    auth,
    create,
    i2v,
    image_bytes,
    probe_mp4,
    wait_terminal,
)

FORMATS = [
    ("PNG", "image/png", "a.png", "png"),
    ("JPEG", "image/jpeg", "a.jpg", "jpg"),
    ("WEBP", "image/webp", "a.webp", "webp"),
    ("GIF", "image/gif", "a.gif", "gif"),
]


async def upload(
    http: httpx.AsyncClient, data: bytes, filename: str, content_type: str, key: str = TEAM
) -> httpx.Response:
    return await http.post(
        "/v1/images/uploads",
        files={"image": (filename, data, content_type)},
        headers=auth(key),
    )


@pytest.mark.parametrize(("fmt", "content_type", "filename", "ext"), FORMATS)
async def test_upload_each_format(
    http: httpx.AsyncClient,
    sandbox: Sandbox,
    fmt: str,
    content_type: str,
    filename: str,
    ext: str,
) -> None:
    data = image_bytes(fmt)
    response = await upload(http, data, filename, content_type)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"object", "id", "url", "content_type", "size_bytes", "expires_at"}
    assert body["object"] == "image.upload"
    assert body["content_type"] == content_type
    assert body["size_bytes"] == len(data)
    assert isinstance(body["expires_at"], int)
    assert body["expires_at"] - sandbox.state.now() == pytest.approx(7 * 24 * 3600, abs=5)
    url = body["url"]
    assert url.startswith(f"{sandbox.base_url}/uploads/{body['id']}.{ext}?")
    assert "X-Amz-Expires=604800" in url
    assert "X-Amz-Signature=" in url
    served = await http.get(url)  # presigned: no auth header
    assert served.status_code == 200
    assert served.content == data
    assert served.headers["content-type"] == content_type
    assert served.headers["accept-ranges"] == "bytes"
    assert sandbox.stats()["uploads"] == 1


async def test_octet_stream_is_sniffed(http: httpx.AsyncClient) -> None:
    response = await upload(http, image_bytes("JPEG"), "frame", "application/octet-stream")
    assert response.status_code == 200
    assert response.json()["content_type"] == "image/jpeg"
    response = await upload(http, image_bytes("JPEG"), "frame.jpeg", "image/jpg")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "words"),
    [
        (image_bytes("JPEG"), "a.png", "image/png", "declared image/png"),
        (image_bytes("PNG"), "a.png", "image/jpeg", "declared image/jpeg"),
        (image_bytes("PNG"), "a.jpg", "application/octet-stream", "name says image/jpeg"),
        (b"%PDF-1.7 not an image", "a.pdf", "application/pdf", "not a PNG"),
        (b"hello", "a.png", "image/png", "not a PNG"),
        (b"", "a.png", "image/png", "empty"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "a.png", "image/png", "decoded"),
    ],
)
async def test_400_mislabeled_or_not_an_image(
    http: httpx.AsyncClient, data: bytes, filename: str, content_type: str, words: str
) -> None:
    response = await upload(http, data, filename, content_type)
    error = assert_problem(response, 400, "invalid_image", BadRequestError)
    assert words in error.message


async def test_400_without_the_image_field(http: httpx.AsyncClient) -> None:
    png = image_bytes("PNG")
    for kwargs in (
        {"files": {"file": ("a.png", png, "image/png")}},
        {"data": {"image": "not a file"}},
        {"json": {"image": "https://example.com/a.png"}},
    ):
        response = await http.post("/v1/images/uploads", headers=auth(TEAM), **kwargs)
        error = assert_problem(response, 400, "invalid_request", BadRequestError)
        assert "image" in error.message


async def test_413_over_10_mib(http: httpx.AsyncClient, sandbox: Sandbox) -> None:
    png = image_bytes("PNG")
    too_big = png + b"\x00" * (MAX_UPLOAD_BYTES + 1 - len(png))
    response = await upload(http, too_big, "big.png", "image/png")
    error = assert_problem(response, 413, "image_too_large", APIError)
    assert "10 MiB" in error.message
    # Exactly 10 MiB of valid PNG (padding after IEND) is accepted.
    at_limit = png + b"\x00" * (MAX_UPLOAD_BYTES - len(png))
    assert (await upload(http, at_limit, "max.png", "image/png")).status_code == 200
    assert sandbox.stats()["uploads"] == 1


async def test_uploads_need_a_valid_key_but_no_team_or_credit(http: httpx.AsyncClient) -> None:
    png = image_bytes("PNG")
    response = await http.post("/v1/images/uploads", files={"image": ("a.png", png, "image/png")})
    assert_problem(response, 401, "invalid_api_key", AuthenticationError)
    for key in (SOLO, BROKE):
        assert (await upload(http, png, "a.png", "image/png", key=key)).status_code == 200


async def test_presigned_url_checks_its_signature(http: httpx.AsyncClient) -> None:
    body = (await upload(http, image_bytes("PNG"), "a.png", "image/png")).json()
    base, _, query = body["url"].partition("?")
    bad = await http.get(base + "?X-Amz-Signature=" + "0" * 64)
    assert_problem(bad, 403, "signature_mismatch", PermissionDeniedError)
    assert (await http.get(base)).status_code == 403
    missing = await http.get(base.replace(body["id"], "img_000") + "?" + query)
    assert missing.status_code == 404
    wrong_ext = await http.get(base.replace(".png", ".jpg") + "?" + query)
    assert wrong_ext.status_code == 404


async def test_uploads_are_not_billed(http: httpx.AsyncClient, sandbox: Sandbox) -> None:
    await upload(http, image_bytes("PNG"), "a.png", "image/png")
    balance = sandbox.stats()["balances"]["team-sandbox"]
    assert balance["balance_nano"] == sandbox.config.team_credit_nano
    assert balance["held_nano"] == 0


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((640, 360), (320, 180)),
        ((360, 640), (180, 320)),
        ((300, 300), (240, 240)),
        ((400, 300), (320, 240)),
    ],
)
async def test_uploaded_first_frame_drives_image2video(
    http: httpx.AsyncClient, size: tuple[int, int], expected: tuple[int, int]
) -> None:
    png = image_bytes("PNG", size=size, colour="orange")
    url = (await upload(http, png, "frame.png", "image/png")).json()["url"]
    task = await create(http, "image2video", i2v(url))
    final = await wait_terminal(http, "image2video", task["id"])
    assert final["status"] == "succeeded", final
    video = (await http.get(final["content"]["video_url"])).content
    info = probe_mp4(video)
    assert (info.width, info.height) == expected
    # The first frame is the uploaded picture: mostly orange.
    import av

    with av.open(io.BytesIO(video)) as container:
        first = next(container.decode(video=0)).to_image()
    pixel = first.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    assert isinstance(pixel, tuple)
    assert pixel[0] > 150  # red
    assert pixel[2] < 120  # blue


async def test_samples_are_served(http: httpx.AsyncClient, sandbox: Sandbox) -> None:
    png = await http.get(sandbox.sample_url("first-frame.png"))
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size == (640, 360)
    jpg = await http.get(sandbox.sample_url("portrait.jpg"))
    assert jpg.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(jpg.content)).size == (360, 640)
    assert (await http.get("/samples/nothing.png")).status_code == 404
    with pytest.raises(ValueError, match="no sample"):
        sandbox.sample_url("nothing.png")


async def test_expired_upload_url_fails(make_sandbox: Any) -> None:
    sandbox = make_sandbox()
    async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
        url = (await upload(http, image_bytes("PNG"), "a.png", "image/png")).json()["url"]
        record = next(iter(sandbox.state._uploads.records.values()))[0]
        object.__setattr__(record, "expires_at", int(sandbox.state.now()) - 1)
        response = await http.get(url)
        assert_problem(response, 403, "request_expired", PermissionDeniedError)
        task = await create(http, "image2video", i2v(url))
        final = await wait_terminal(http, "image2video", task["id"])
        assert final["status"] == "failed"
        assert "not reachable" in final["error"]["message"]
