"""The family adapters against the sandbox's family routes, over real HTTP: what one sends the
other accepts, and a video comes back."""

from __future__ import annotations

from pathlib import Path

import pytest
from _mock import write_png

import kling_nb as kn
from kling_nb.sandbox import Sandbox

KEY = "sk-sandbox-team"


@pytest.fixture
def sandbox() -> Sandbox:
    with Sandbox(time_scale=0.01, seed=9) as sb:
        yield sb


def is_mp4(path: Path) -> bool:
    data = path.read_bytes()
    return len(data) > 1000 and data[4:8] == b"ftyp"


async def test_seedance_with_a_local_reference_image(sandbox: Sandbox, tmp_path: Path) -> None:
    image = write_png(tmp_path / "ref.png")
    request = kn.SeedanceVideo("a heron lands on a post", images=[str(image)], duration=4)
    async with kn.AsyncClient(KEY, base_url=sandbox.base_url) as client:
        task = await client.create(request)  # uploads the image as an asset first
        assert task.id
        done = await client.wait(task, timeout=60)
        path = await client.download(done, tmp_path / "out")
    assert is_mp4(path)
    stats = sandbox.stats()
    assert stats["assets"] == 1


async def test_seedance_refuses_a_public_image_url(sandbox: Sandbox) -> None:
    request = kn.SeedanceVideo("a heron", images=["https://example.com/heron.png"])
    async with kn.AsyncClient(KEY, base_url=sandbox.base_url) as client:
        with pytest.raises(kn.BadRequestError, match="invalid_request"):
            await client.create(request)


@pytest.mark.parametrize("resolution", ["480p", "720p"])
async def test_grok_text_to_video(sandbox: Sandbox, tmp_path: Path, resolution: str) -> None:
    request = kn.GrokVideo("a comet over a lake", duration=2, resolution=resolution)
    async with kn.AsyncClient(KEY, base_url=sandbox.base_url) as client:
        task = await client.create(request)
        done = await client.wait(task, timeout=60)
        assert done.raw.get("resolution") == resolution
        path = await client.download(done, tmp_path / "out")
    assert is_mp4(path)


async def test_family_errors_are_typed(sandbox: Sandbox) -> None:
    async with kn.AsyncClient("sk-sandbox-broke", base_url=sandbox.base_url) as client:
        with pytest.raises(kn.InsufficientBalanceError) as info:
            await client.create(kn.GrokVideo("a comet", duration=2))
    assert info.value.code == "grok_balance_too_low"
    async with kn.AsyncClient("sk-sandbox-solo", base_url=sandbox.base_url) as client:
        with pytest.raises(kn.TeamRequiredError):
            await client.create(kn.SeedanceVideo("a heron", duration=4))
