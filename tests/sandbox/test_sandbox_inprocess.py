"""`create_app` in-process over `httpx.ASGITransport`: the same routes, no socket."""

from __future__ import annotations

import httpx

from kling_nb._errors import TeamRequiredError
from kling_nb.sandbox import SandboxConfig, create_app, sandbox_state

from ._sandbox_helpers import SOLO, TEAM, assert_problem, auth, i2v, t2v


async def test_in_process_create_status_download() -> None:
    app = create_app(SandboxConfig(time_scale=0))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as http:
        created = await http.post("/v1/videos/text2video", json=t2v(), headers=auth(TEAM))
        assert created.status_code == 200
        task_id = created.json()["id"]
        status = await http.get(f"/v1/videos/text2video/{task_id}", headers=auth(TEAM))
        body = status.json()
        assert body["status"] == "succeeded"
        url = body["content"]["video_url"]
        assert url.startswith("http://sandbox.test/media/")
        video = await http.get(url)
        assert video.status_code == 200
        assert video.content[4:8] == b"ftyp"
        # Its own sample, under the host this client uses, is reachable.
        first_frame = i2v("http://sandbox.test/samples/first-frame.png")
        created = await http.post("/v1/videos/image2video", json=first_frame, headers=auth(TEAM))
        status = await http.get(
            f"/v1/videos/image2video/{created.json()['id']}", headers=auth(TEAM)
        )
        assert status.json()["status"] == "succeeded"
        denied = await http.post("/v1/videos/text2video", json=t2v(), headers=auth(SOLO))
        assert_problem(denied, 403, "kling_team_required", TeamRequiredError)
    assert sandbox_state(app).stats()["tasks"] == 2
