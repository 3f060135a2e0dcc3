"""Local image files for the upload routes, and the URLs their answers carry (no I/O on the wire).

Kling (and, assumed, Grok) upload through `/v1/images/uploads` (contract.md); Seedance through an
asset group's assets (contract-families.md). Both take the same checked file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlsplit

import httpx

from ._download import safe_name
from ._errors import InvalidResponseError, ValidationError
from ._requests import MAX_IMAGE_BYTES, sniff_image_type
from ._wire import valid_task_id

__all__ = ["ASSET_SCHEMES", "IMAGE_SCHEMES", "Uploads", "group_id_of", "image_file", "url_of"]

IMAGE_SCHEMES: Final = ("http", "https")
# Assumed: an asset's "returned asset URL" (contract-families.md) is an http(s) URL; the
# upstream's own `asset://<id>` form is accepted too.
ASSET_SCHEMES: Final = ("http", "https", "asset")


def image_file(path: str | os.PathLike[str]) -> tuple[str, bytes, str]:
    """`(file name, bytes, MIME type)` of a local PNG/JPEG/WebP/GIF of at most 10 MiB."""
    file = Path(path).expanduser()
    try:
        data = file.read_bytes()
    except OSError:
        raise ValidationError(
            "image", str(path), "an existing, readable local image file"
        ) from None
    kind = sniff_image_type(data[:16])
    if kind is None:
        raise ValidationError("image", str(path), "a PNG, JPEG, WebP or GIF image")
    if len(data) > MAX_IMAGE_BYTES:
        raise ValidationError("image", str(path), "an image of at most 10 MiB")
    return safe_name(file.stem, default="image") + "." + kind.split("/")[1], data, kind


def url_of(
    body: Mapping[str, Any], status_code: int, *, keys: tuple[str, ...], schemes: tuple[str, ...]
) -> str:
    """The first of `keys` in an upload answer holding a URL of one of `schemes`."""
    for key in keys:
        url = body.get(key)
        if isinstance(url, str) and urlsplit(url).scheme in schemes and len(url) <= 4096:
            return url
    raise InvalidResponseError(
        f"the upload response has no {keys[0]}", status_code=status_code, body=dict(body)
    )


def group_id_of(body: Mapping[str, Any], status_code: int) -> str:
    """The id of a new asset group: `id` (assumed; `group_id` accepted too)."""
    for key in ("id", "group_id"):
        value = body.get(key)
        if isinstance(value, str) and value and value.isprintable() and "/" not in value:
            return value
    raise InvalidResponseError(
        "the asset group response has no id", status_code=status_code, body=dict(body)
    )


class Uploads:
    """The client's upload routes (mixed into `AsyncClient`, which provides the wire)."""

    max_retries: int

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        retries: int,
        codes: Mapping[str, type[Any]] | None = None,
    ) -> httpx.Response:
        raise NotImplementedError

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        raise NotImplementedError

    async def upload_image(self, path: str | os.PathLike[str]) -> str:
        """Upload a local PNG/JPEG/WebP/GIF (<= 10 MiB); return its presigned URL (7 days)."""
        response = await self._send(
            "POST",
            "/v1/images/uploads",
            files={"image": image_file(path)},
            retries=self.max_retries,
        )
        return url_of(
            self._json(response), response.status_code, keys=("url",), schemes=IMAGE_SCHEMES
        )

    async def _upload_images(self, paths: Sequence[Path]) -> list[str]:
        return [await self.upload_image(path) for path in paths]

    async def create_asset_group(self, name: str = "kling-nb") -> str:
        """Create a Seedance asset group (`POST /v1/asset-groups`); return its id.

        contract-families.md documents the route, not its body: a JSON `{"name"}` answered
        with the group's `id` is assumed. Groups are owner-scoped.
        """
        response = await self._send(
            "POST", "/v1/asset-groups", json={"name": name}, retries=self.max_retries
        )
        return group_id_of(self._json(response), response.status_code)

    async def upload_asset(self, group_id: str, path: str | os.PathLike[str]) -> str:
        """Upload a local image into asset group `group_id`; return the asset's URL.

        `POST /v1/asset-groups/{id}/assets` (contract-families.md); the multipart field `file`
        and the answer's `url` are assumed (the copy of the guide is cut there).
        """
        if not valid_task_id(group_id):
            raise ValidationError("group_id", group_id, "an asset group id from the server")
        response = await self._send(
            "POST",
            f"/v1/asset-groups/{quote(group_id, safe='')}/assets",
            files={"file": image_file(path)},
            retries=self.max_retries,
        )
        return url_of(
            self._json(response),
            response.status_code,
            keys=("url", "asset_url"),
            schemes=ASSET_SCHEMES,
        )

    async def upload_assets(self, paths: Sequence[str | os.PathLike[str]]) -> list[str]:
        """Upload local images as the assets of one new group; return their URLs, in order.

        What a `SeedanceVideo` with local images needs: `create` calls it for them.
        """
        if not paths:
            return []
        group_id = await self.create_asset_group()
        return [await self.upload_asset(group_id, path) for path in paths]
