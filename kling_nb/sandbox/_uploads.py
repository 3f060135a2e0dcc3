"""Uploaded images, the signed URLs that serve them, and what an ImageUrl points at."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from hashlib import sha256
from urllib.parse import parse_qs, urlsplit

from ._config import UPLOAD_TTL_SECONDS
from ._images import EXTENSIONS, sample_images
from ._store import UploadRecord

__all__ = ["ResolvedImage", "Uploads"]


@dataclass(frozen=True)
class ResolvedImage:
    """An ImageUrl that points at something this sandbox serves."""

    ref: str
    width: int
    height: int


class Uploads:
    """Uploaded images by id, and the secret that signs their URLs (not locked)."""

    def __init__(self) -> None:
        self.secret = secrets.token_bytes(32)
        self.records: dict[str, tuple[UploadRecord, bytes]] = {}

    def add(
        self, content_type: str, data: bytes, width: int, height: int, now: float
    ) -> UploadRecord:
        """Keep an uploaded image; it is served for seven days."""
        upload = UploadRecord(
            id="img_" + secrets.token_hex(12),
            content_type=content_type,
            extension=EXTENSIONS[content_type],
            size_bytes=len(data),
            width=width,
            height=height,
            created_at=now,
            expires_at=int(now + UPLOAD_TTL_SECONDS),
        )
        self.records[upload.id] = (upload, data)
        return upload

    def sign(self, kind: str, ident: str) -> str:
        """An HMAC signature for a served URL."""
        return hmac.new(self.secret, f"{kind}:{ident}".encode(), sha256).hexdigest()

    def verify(self, kind: str, ident: str, signature: str | None) -> bool:
        """True if `signature` is this sandbox's signature for `kind:ident`."""
        return bool(signature) and hmac.compare_digest(self.sign(kind, ident), signature or "")

    def resolve(self, url: str, own_netlocs: frozenset[str], now: float) -> ResolvedImage | None:
        """What an ImageUrl points at, or None if the sandbox cannot fetch it.

        Only this sandbox's own samples and live, correctly signed uploads are reachable:
        the sandbox makes no outbound requests, and every other URL fails the task
        the way an unreachable URL does on the real service.
        """
        parts = urlsplit(url)
        if parts.netloc.lower() not in own_netlocs:
            return None
        if parts.path.startswith("/samples/"):
            name = parts.path.removeprefix("/samples/")
            blob = sample_images().get(name)
            return ResolvedImage("sample:" + name, blob.width, blob.height) if blob else None
        if parts.path.startswith("/uploads/"):
            upload_id, _, ext = parts.path.removeprefix("/uploads/").partition(".")
            found = self.records.get(upload_id)
            signature = parse_qs(parts.query).get("X-Amz-Signature", [None])[0]
            if found is None or found[0].extension != ext:
                return None
            if not self.verify("upload", upload_id, signature) or now > found[0].expires_at:
                return None
            return ResolvedImage("upload:" + upload_id, found[0].width, found[0].height)
        return None

    def image_bytes(self, ref: str) -> bytes | None:
        """The bytes behind a `ResolvedImage.ref`."""
        kind, _, name = ref.partition(":")
        if kind == "sample":
            blob = sample_images().get(name)
            return blob.data if blob else None
        found = self.records.get(name)
        return found[1] if found else None
