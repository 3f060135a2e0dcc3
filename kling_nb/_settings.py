"""Checks of a Studio's settings, the key fingerprint, and the embedded sandbox it may start."""

from __future__ import annotations

import hashlib
import math
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ._errors import ValidationError

if TYPE_CHECKING:
    from .sandbox import Sandbox

__all__ = [
    "check_amount",
    "check_budget",
    "check_count",
    "check_root",
    "check_seconds",
    "check_tags",
    "embedded_sandbox",
    "key_fingerprint",
    "new_owner_id",
    "owner_is_dead",
]


def new_owner_id() -> str:
    """An id for one Studio: host and process (to tell a dead local owner), plus a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def owner_is_dead(owner: object) -> bool:
    """True when `owner` is a Studio of a process on this host that no longer exists.

    A crashed kernel's leases would otherwise hold its jobs until they expire; a process that
    is gone drives nothing, so its jobs are free at once. Owners elsewhere, or ids of another
    shape, are never judged dead here (their leases expire instead).
    """
    if not isinstance(owner, str) or owner.count(":") != 2:
        return False
    host, pid, _ = owner.split(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists (owned by another user, say)
        return False
    return _zombie(int(pid))


def _zombie(pid: int) -> bool:
    """A killed process its parent has not reaped yet still answers kill(pid, 0)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def key_fingerprint(key: str) -> str:
    """A short, non-secret fingerprint of an API key (tells keys apart; reveals nothing)."""
    digest = hashlib.sha256(b"kling_nb key fingerprint\0" + key.encode()).hexdigest()
    return f"fp-{digest[:12]}"


# -- settings checks -------------------------------------------------------------------------------


def check_count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(name, value, "a whole number >= 1")
    return value


def check_seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(name, value, "a number of seconds > 0")
    if not math.isfinite(value) or value <= 0:
        raise ValidationError(name, value, "a finite number of seconds > 0")
    return float(value)


def check_amount(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(name, value, "a non-negative amount, or None")
    if not math.isfinite(value) or value < 0:
        raise ValidationError(name, value, "a finite, non-negative amount, or None")
    return float(value)


def check_budget(
    budget: float | None, committed: float, extra: float, show: Callable[[float], str]
) -> None:
    """Refuse `extra` estimated cost that would take the committed total past `budget`."""
    if budget is None:
        return
    total = committed + extra
    if total > budget + 1e-9:
        raise ValidationError(
            "budget",
            show(total),
            f"at most {show(budget)} in all ({show(committed)} already committed)",
        )


def check_tags(tags: str | Iterable[str] | None) -> tuple[str, ...]:
    if tags is None:
        return ()
    items = [tags] if isinstance(tags, str) else list(tags)
    for tag in items:
        if not isinstance(tag, str) or not tag.strip() or len(tag) > 100:
            raise ValidationError("tags", tag, "non-empty strings of at most 100 characters")
    return tuple(tag.strip() for tag in items)


def check_root(root: object) -> Path:
    if not isinstance(root, (str, os.PathLike)) or not str(root).strip():
        raise ValidationError("root", root, "a folder path")
    path = Path(root).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise ValidationError("root", str(root), "a folder (this is a file)")
    return path


_SANDBOXES: dict[Path, Sandbox] = {}
_SANDBOX_LOCK = threading.Lock()


def embedded_sandbox(root: Path) -> Sandbox:
    """One sandbox per process and root, persisted under root so tasks survive a restart."""
    from .sandbox import Sandbox

    with _SANDBOX_LOCK:
        existing = _SANDBOXES.get(root)
        if existing is not None:
            return existing
        state = Sandbox.prepare_state_dir(root / ".kling_sandbox") / "state.sqlite"
        sandbox = Sandbox(state_path=state)
        sandbox.start()
        _SANDBOXES[root] = sandbox
        return sandbox
