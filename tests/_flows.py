"""End-to-end client flows that run against any backend: the in-memory fake or the live sandbox.

`test_client.py` runs `ClientFlows` over `httpx.MockTransport`; `test_client_live.py` runs the
very same methods over real HTTP against `kling_nb.sandbox`. A backend is a `Backend`: how to
build a client for a demo key, the poll schedule that suits its speed, and how to switch on
faults (424 on create, failing tasks, flaky status reads).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from _mock import BROKE_KEY, SOLO_KEY, TEAM2_KEY, TEAM_KEY

import kling_nb as kn
from kling_nb._download import safe_name

FaultSwitch = Callable[..., AbstractAsyncContextManager["Backend"]]


@dataclass
class Backend:
    """One server the flows can talk to."""

    name: str
    base_url: str
    transport: httpx.AsyncBaseTransport | None
    schedule: kn.PollSchedule
    wait_timeout: float
    faults: FaultSwitch
    made: list[kn.AsyncClient] = field(default_factory=list)

    def client(self, api_key: str = TEAM_KEY, **kwargs: Any) -> kn.AsyncClient:
        kwargs.setdefault("transport", self.transport)
        made = kn.AsyncClient(api_key, base_url=self.base_url, **kwargs)
        self.made.append(made)
        return made

    async def aclose(self) -> None:
        for made in self.made:
            await made.aclose()


def unchecked(request: Any, **changes: Any) -> Any:
    """A copy of a request with fields the validator would refuse (to reach server-side errors)."""
    clone = copy.copy(request)
    for name, value in changes.items():
        object.__setattr__(clone, name, value)
    return clone


def is_mp4(data: bytes) -> bool:
    """An ISO BMFF file starts with a box whose type is `ftyp`."""
    return len(data) > 8 and data[4:8] == b"ftyp"


def assert_api_error(error: kn.APIError, status: int, code: str | None = None) -> None:
    assert error.status_code == status
    if code is not None:
        assert error.code == code
    assert error.message
    assert error.body is not None
    assert f"HTTP {status}" in str(error)


class ClientFlows:
    """Flows shared by both backends; a subclass supplies the `backend` fixture."""

    # -- happy paths ----------------------------------------------------------------------

    async def test_text2video_create_wait_download(self, backend: Backend, tmp_path: Path) -> None:
        client = backend.client()
        request = kn.TextToVideo("a paper boat on a river", duration=5, mode="std")
        task = await client.create(request)
        assert task.id
        assert task.route == "text2video"
        assert task.model == "kling-v3"
        assert task.status in (kn.Status.QUEUED, kn.Status.RUNNING)
        assert task.video_url is None  # never read from the create response
        assert not task.done

        updates: list[kn.Task] = []
        final = await client.wait(
            task, timeout=backend.wait_timeout, schedule=backend.schedule, on_update=updates.append
        )
        assert final.status is kn.Status.SUCCEEDED
        assert final.done
        assert final.succeeded
        assert final.id == task.id
        assert final.route == "text2video"
        assert final.video_url is not None
        assert final.video_url.startswith(("http://", "https://"))
        assert updates
        assert updates[-1] == final

        path = await client.download(final, tmp_path)
        assert path == tmp_path / f"{safe_name(task.id)}.mp4"
        data = path.read_bytes()
        assert is_mp4(data)
        assert not list(tmp_path.glob("*.part"))

    async def test_download_file_reports_size_and_sha256(
        self, backend: Backend, tmp_path: Path
    ) -> None:
        client = backend.client()
        task = await client.create(kn.TextToVideo("a lighthouse at night", aspect_ratio="1:1"))
        final = await client.wait(task, timeout=backend.wait_timeout, schedule=backend.schedule)
        target = tmp_path / "nested" / "clip.mp4"
        result = await client.download_file(final, target)
        assert result.path == target
        data = target.read_bytes()
        assert result.size == len(data) > 0
        assert result.sha256 == hashlib.sha256(data).hexdigest()
        assert is_mp4(data)

    async def test_get_by_task_and_by_id_and_route(self, backend: Backend) -> None:
        client = backend.client()
        task = await client.create(kn.TextToVideo("a kite", model="kling-v2-6"))
        by_task = await client.get(task)
        by_id = await client.get(task.id, route="text2video")
        for read in (by_task, by_id):
            assert read.id == task.id
            assert read.route == "text2video"
            assert read.model == "kling-v2-6"
            assert isinstance(read.raw, dict)
            assert read.raw["id"] == task.id

    async def test_image2video_with_a_local_png(
        self, backend: Backend, png_path: Path, tmp_path: Path
    ) -> None:
        client = backend.client()
        task = await client.create(kn.ImageToVideo(png_path, "slow dolly-in", duration="5"))
        assert task.route == "image2video"
        final = await client.wait(task, timeout=backend.wait_timeout, schedule=backend.schedule)
        path = await client.download(final, tmp_path / "out")
        assert is_mp4(path.read_bytes())

    async def test_upload_then_image2video_with_the_url(
        self, backend: Backend, png_path: Path
    ) -> None:
        client = backend.client()
        url = await client.upload_image(png_path)
        assert url.startswith(("http://", "https://"))
        task = await client.create(kn.ImageToVideo(url, mode="pro", model="kling-v2-6"))
        final = await client.wait(task, timeout=backend.wait_timeout, schedule=backend.schedule)
        assert final.succeeded

    async def test_omni_without_first_frame(self, backend: Backend, tmp_path: Path) -> None:
        client = backend.client()
        task = await client.create(kn.OmniVideo("a fox in snow", aspect_ratio="9:16"))
        assert task.route == "omni-video"
        assert task.model == "kling-v3-omni"
        final = await client.wait(task, timeout=backend.wait_timeout, schedule=backend.schedule)
        assert is_mp4((await client.download(final, tmp_path)).read_bytes())

    async def test_omni_with_a_local_first_frame(
        self, backend: Backend, png_path: Path, tmp_path: Path
    ) -> None:
        client = backend.client()
        task = await client.create(kn.OmniVideo("the frame comes alive", first_frame=png_path))
        final = await client.wait(task, timeout=backend.wait_timeout, schedule=backend.schedule)
        assert final.route == "omni-video"
        assert is_mp4((await client.download(final, tmp_path)).read_bytes())

    # -- every troubleshooting row ----------------------------------------------------------

    async def test_row_400_wrong_model_for_the_route(self, backend: Backend) -> None:
        client = backend.client()
        bad = unchecked(kn.TextToVideo("x"), model="kling-v3-omni")
        with pytest.raises(kn.UnsupportedModelError) as info:
            await client.create(bad)
        assert_api_error(info.value, 400)
        assert isinstance(info.value, kn.BadRequestError)

    async def test_row_401_unknown_key(self, backend: Backend) -> None:
        client = backend.client("sk-not-a-real-key")
        with pytest.raises(kn.AuthenticationError) as info:
            await client.create(kn.TextToVideo("x"))
        assert_api_error(info.value, 401)
        with pytest.raises(kn.AuthenticationError):
            await client.get("task-1", route="text2video")

    async def test_row_402_broke_team(self, backend: Backend) -> None:
        client = backend.client(BROKE_KEY)
        with pytest.raises(kn.InsufficientBalanceError) as info:
            await client.create(kn.TextToVideo("x"))
        assert_api_error(info.value, 402, "kling_balance_too_low")
        error = info.value
        if error.required is not None and error.available is not None:
            assert f"needs {error.required}" in str(error)
            assert f"has {error.available}" in str(error)

    async def test_row_403_key_not_team_scoped(self, backend: Backend) -> None:
        client = backend.client(SOLO_KEY)
        with pytest.raises(kn.TeamRequiredError) as info:
            await client.create(kn.TextToVideo("x"))
        assert_api_error(info.value, 403, "kling_team_required")

    async def test_row_403_another_owners_task(self, backend: Backend) -> None:
        task = await backend.client().create(kn.TextToVideo("mine"))
        other = backend.client(TEAM2_KEY)
        with pytest.raises(kn.AccessDeniedError) as info:
            await other.get(task)
        assert_api_error(info.value, 403, "media_resource_access_denied")
        with pytest.raises(kn.AccessDeniedError):  # wait() raises at once, too
            await other.wait(task, timeout=backend.wait_timeout, schedule=backend.schedule)

    async def test_row_404_status_on_the_wrong_route(self, backend: Backend) -> None:
        client = backend.client()
        task = await client.create(kn.TextToVideo("x"))
        with pytest.raises(kn.NotFoundError) as info:
            await client.get(task.id, route="image2video")
        assert_api_error(info.value, 404)
        with pytest.raises(kn.NotFoundError):
            await client.get("no-such-task", route="text2video")

    async def test_row_429_pending_cap(self, backend: Backend) -> None:
        client = backend.client(TEAM2_KEY)
        created: list[kn.Task] = []
        refused: kn.TooManyPendingTasksError | None = None
        for _ in range(64):
            try:
                created.append(await client.create(kn.TextToVideo("one more", mode="pro")))
            except kn.TooManyPendingTasksError as error:
                refused = error
                break
        assert refused is not None, f"no 429 after {len(created)} pending tasks"
        assert created  # the cap is above zero
        assert_api_error(refused, 429, "kling_too_many_pending_tasks")

    async def test_row_424_upstream_error_on_create(self, backend: Backend) -> None:
        async with backend.faults(upstream_424=1.0) as faulty:
            client = faulty.client()
            with pytest.raises(kn.UpstreamError) as info:
                await client.create(kn.TextToVideo("x"))
            error = info.value
            assert_api_error(error, 424)
            assert error.upstream_status is not None
            assert 400 <= error.upstream_status <= 599
            assert error.upstream_code

    async def test_failed_task_raises_task_failed(self, backend: Backend) -> None:
        async with backend.faults(task_fail=1.0) as faulty:
            client = faulty.client()
            task = await client.create(kn.TextToVideo("x"))
            with pytest.raises(kn.TaskFailedError) as info:
                await client.wait(task, timeout=faulty.wait_timeout, schedule=faulty.schedule)
            assert info.value.task.id == task.id
            assert info.value.task.status is kn.Status.FAILED
            assert info.value.task.error

    async def test_wait_survives_flaky_status_reads(self, backend: Backend) -> None:
        async with backend.faults(status_5xx=0.5) as faulty:
            client = faulty.client(max_retries=0)
            task = await client.create(kn.TextToVideo("x"))
            final = await client.wait(task, timeout=faulty.wait_timeout, schedule=faulty.schedule)
            assert final.succeeded
