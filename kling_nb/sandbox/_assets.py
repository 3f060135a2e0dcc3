"""Seedance's asset groups: owner-scoped folders of uploaded reference images.

contract-families.md: Seedance reference images must be uploaded as assets first
(`POST /v1/asset-groups`, then `POST /v1/asset-groups/{id}/assets`), the returned asset URL is
what an image part uses, and asset groups and assets are owner-scoped. Assumed where the copy
is cut: a group is created from an optional JSON `{"name"}`; an asset is sent as multipart field
`file` (`image` accepted too), checked like `/v1/images/uploads`; the asset URL is a signed URL
this sandbox serves. Assets live in memory only (not in the state file).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from ._images import EXTENSIONS
from ._problems import SandboxHTTPError, invalid
from ._uploads import ResolvedImage

__all__ = ["AssetGroup", "AssetRecord", "Assets", "is_asset_path"]

ASSET_PATH = "/assets/"


@dataclass(frozen=True)
class AssetGroup:
    """A named group of assets, owned by a team (or by a key that has no team)."""

    id: str
    owner: str
    name: str
    created_at: int


@dataclass(frozen=True)
class AssetRecord:
    """One uploaded reference image."""

    id: str
    group_id: str
    owner: str
    content_type: str
    extension: str
    size_bytes: int
    width: int
    height: int
    created_at: int


def is_asset_path(path: str) -> bool:
    """True for a path under this sandbox's asset route."""
    return path.startswith(ASSET_PATH)


def _denied(what: str) -> SandboxHTTPError:
    return SandboxHTTPError(
        403,
        "media_resource_access_denied",
        f"this {what} belongs to another owner; use the account, team or API key that created it",
    )


class Assets:
    """Asset groups and assets by id (not locked: `SandboxState` locks it)."""

    def __init__(self) -> None:
        self.groups: dict[str, AssetGroup] = {}
        self.records: dict[str, tuple[AssetRecord, bytes]] = {}

    def add_group(self, owner: str, name: str, now: float) -> AssetGroup:
        """Create an empty group."""
        group = AssetGroup("ag_" + secrets.token_hex(12), owner, name, int(now))
        self.groups[group.id] = group
        return group

    def group(self, owner: str, group_id: str) -> AssetGroup:
        """The group if `owner` owns it: 404 if unknown, 403 if another owner's."""
        group = self.groups.get(group_id)
        if group is None:
            raise SandboxHTTPError(404, "not_found", f"no asset group {group_id[:80]!r}")
        if group.owner != owner:
            raise _denied("asset group")
        return group

    def assets_of(self, group_id: str) -> list[AssetRecord]:
        """The group's assets, oldest first."""
        found = [rec for rec, _ in self.records.values() if rec.group_id == group_id]
        return sorted(found, key=lambda rec: rec.created_at)

    def add(
        self,
        group: AssetGroup,
        content_type: str,
        data: bytes,
        size: tuple[int, int],
        now: float,
    ) -> AssetRecord:
        """Keep an uploaded image in `group`."""
        record = AssetRecord(
            id="asset_" + secrets.token_hex(12),
            group_id=group.id,
            owner=group.owner,
            content_type=content_type,
            extension=EXTENSIONS[content_type],
            size_bytes=len(data),
            width=size[0],
            height=size[1],
            created_at=int(now),
        )
        self.records[record.id] = (record, data)
        return record

    def served(self, name: str) -> tuple[AssetRecord, bytes] | None:
        """The asset served under `<id>.<ext>`, if any."""
        asset_id, _, ext = name.partition(".")
        found = self.records.get(asset_id)
        if found is None or found[0].extension != ext:
            return None
        return found

    def resolve(
        self,
        url: str,
        field: str,
        owner: str,
        own_netlocs: frozenset[str],
        verify: Callable[[str, str, str | None], bool],
    ) -> ResolvedImage:
        """The image an asset URL names, for `owner`; 400 for anything else, 403 if not theirs.

        contract-families.md: public image URLs are rejected with 400 `invalid_request`.
        """
        parts = urlsplit(url)
        if parts.netloc.lower() not in own_netlocs or not is_asset_path(parts.path):
            raise invalid(
                field,
                "public image URLs are not accepted: upload the image as an asset "
                "(POST /v1/asset-groups, then POST /v1/asset-groups/{id}/assets) and use its url",
            )
        found = self.served(parts.path.removeprefix(ASSET_PATH))
        signature = parse_qs(parts.query).get("sig", [None])[0]
        if found is None or not verify("asset", found[0].id, signature):
            raise invalid(field, "is not the url of an asset of this account")
        record = found[0]
        if record.owner != owner:
            raise _denied("asset")
        return ResolvedImage("asset:" + record.id, record.width, record.height)

    def image_bytes(self, asset_id: str) -> bytes | None:
        """The bytes of an asset."""
        found = self.records.get(asset_id)
        return found[1] if found else None
