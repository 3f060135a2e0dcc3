"""Raw-httpx helpers for the Seedance and Grok conformance tests."""

from __future__ import annotations

from typing import Any

import httpx

from ._sandbox_helpers import TEAM, auth, wait_done

__all__ = ["GROK", "SEEDANCE", "grok_body", "post_ok", "seedance_body", "wait_done"]

SEEDANCE = "/api/v3/contents/generations/tasks"
GROK = "/v1/videos/generations"


def seedance_body(prompt: str = "a paper boat on a rainy street", **fields: Any) -> dict[str, Any]:
    """A valid Seedance text-only body (lowercase, the prompt as a text part)."""
    body: dict[str, Any] = {
        "model": "seedance-2.0",
        "content": [{"type": "text", "text": prompt}],
        "duration": 4,
        "resolution": "480p",
    }
    body.update(fields)
    return body


def grok_body(prompt: str = "a lighthouse in a storm", **fields: Any) -> dict[str, Any]:
    """A valid Grok text body."""
    body: dict[str, Any] = {
        "model": "grok-imagine-video",
        "prompt": prompt,
        "duration": 2,
        "resolution": "480p",
    }
    body.update(fields)
    return body


async def post_ok(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], key: str = TEAM
) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=auth(key))
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def new_asset(
    client: httpx.AsyncClient, data: bytes, filename: str, key: str = TEAM
) -> dict[str, Any]:
    """Create a group and upload one image into it; return the asset body."""
    group = await post_ok(client, "/v1/asset-groups", {"name": "refs"}, key)
    response = await client.post(
        f"/v1/asset-groups/{group['id']}/assets",
        files={"file": (filename, data, "application/octet-stream")},
        headers=auth(key),
    )
    assert response.status_code == 200, response.text
    asset: dict[str, Any] = response.json()
    return asset
