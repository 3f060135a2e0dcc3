"""The sandbox's world: who may do what, tasks and their billing, uploads, counters.

All methods are thread-safe (one re-entrant lock): the server thread mutates state while
the caller's thread may read `stats()`. Billing (`_billing`), uploads (`_uploads`) and task
records (`_tasks`) are plain parts this class locks and persists.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .._models import Status
from ._assets import AssetGroup, AssetRecord, Assets
from ._billing import Billing
from ._config import KEYS, KeySpec, SandboxConfig
from ._families import FAMILIES, TaskPlan
from ._faults import FaultInjector, Faults, StatusFault
from ._lifecycle import TaskRecord
from ._problems import SandboxHTTPError
from ._store import Store, UploadRecord
from ._tasks import kling_plan, new_task
from ._uploads import ResolvedImage, Uploads
from ._validate import CreateSpec

__all__ = ["ResolvedImage", "SandboxState"]


@dataclass
class _Counters:
    create_attempts: Counter[str] = field(default_factory=Counter)
    creates_by_key: Counter[str] = field(default_factory=Counter)
    creates_by_team: Counter[str] = field(default_factory=Counter)
    responses: Counter[int] = field(default_factory=Counter)
    status_reads: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    uploads: int = 0
    media_reads: int = 0
    media_ranges: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    renders: int = 0
    render_seconds_total: float = 0.0
    render_seconds_max: float = 0.0


class SandboxState:
    """Tasks, teams, uploads and counters of one sandbox, optionally persisted to SQLite."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._lock = threading.RLock()
        self._rng = random.Random(config.seed)
        self._faults = FaultInjector(config.faults)
        self._tasks: dict[str, TaskRecord] = {}
        self._billing = Billing(config.initial_balances())
        self._uploads = Uploads()
        self._assets = Assets()
        self._counters = _Counters()
        self._store = Store(config.state_path) if config.state_path is not None else None
        if self._store is not None:
            self._load(self._store)

    def _load(self, store: Store) -> None:
        snap = store.load()
        if snap.secret is None:
            store.put_secret(self._uploads.secret)
        else:
            self._uploads.secret = snap.secret
        self._billing.restore(snap.balances)
        store.put_balances(self._billing.balances)
        for task in snap.tasks:
            self._tasks[task.id] = task
            if not task.settled:
                self._billing.hold(task)
        for upload, data in snap.uploads:
            self._uploads.records[upload.id] = (upload, data)

    def close(self) -> None:
        """Close the state file, if any (idempotent)."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    # -- clock, keys, faults ---------------------------------------------------------------

    def now(self) -> float:
        """Wall-clock seconds from the configured clock."""
        return self.config.clock()

    @property
    def faults(self) -> Faults:
        """The faults currently injected."""
        return self._faults.faults

    def set_faults(self, faults: Faults) -> None:
        """Replace the injected faults (their dice restart from `faults.seed`)."""
        with self._lock:
            self._faults = FaultInjector(faults)

    def authenticate(self, key: str | None) -> KeySpec:
        """The key's spec; 401 `invalid_api_key` for a missing or unknown key."""
        spec = KEYS.get(key or "")
        if spec is None:
            # Never echo the key: an unknown one may be somebody's real secret.
            raise SandboxHTTPError(
                401,
                "invalid_api_key",
                "missing or unknown API key: send Authorization: Bearer <key> "
                "(sandbox keys: " + ", ".join(KEYS) + ")",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return spec

    def status_fault(self) -> StatusFault | None:
        """Roll the dice for one status read, and count what fired."""
        with self._lock:
            fault = self._faults.status_fault()
            if fault is not None:
                self._counters.faults[f"status_{fault.kind}"] += 1
            return fault

    # -- tasks -----------------------------------------------------------------------------

    def create_task(
        self, key: str, spec: CreateSpec, image: ResolvedImage | None, *, request_id: str
    ) -> TaskRecord:
        """Create a Kling task (see `create_planned`)."""
        return self.create_planned(key, kling_plan(spec, image), request_id=request_id)

    def create_planned(self, key: str, plan: TaskPlan, *, request_id: str) -> TaskRecord:
        """Create and bill-hold a task of any family, or raise 403 / 429 / 402 / 424 (in order).

        Codes carry the family prefix (`kling_team_required`, `seedance_balance_too_low`, ...);
        the pending cap counts the team's unsettled tasks of the same family only.
        """
        owner = self.authenticate(key)
        family = FAMILIES[plan.family]
        with self._lock:
            self._counters.create_attempts[key] += 1
            if owner.team is None:
                raise SandboxHTTPError(
                    403,
                    family.code("team_required"),
                    f"this API key is not scoped to a team; {family.label} needs a team-scoped key",
                )
            team = owner.team
            now = self.now()
            self._settle_due(now)
            pending = self._billing.pending(team, family.name)
            cap = self.config.cap_for(family.name)
            if pending >= cap:
                raise SandboxHTTPError(
                    429,
                    family.code("too_many_pending_tasks"),
                    f"too many pending {family.label} tasks for this team ({pending} of "
                    f"{cap}); wait for one to finish, then create again",
                    extra={"pending": pending, "limit": cap},
                )
            cost = plan.cost_nano
            available = self._billing.available(team)
            if available < cost:
                raise SandboxHTTPError(
                    402,
                    family.code("balance_too_low"),
                    f"team balance too low: needs {cost} nano-credits, has {available} available",
                    extra={"required_available_nano": cost, "available_nano": available},
                )
            upstream = self._faults.create_upstream_error()
            if upstream is not None:
                self._counters.faults["upstream_424"] += 1
                status, code = upstream
                raise SandboxHTTPError(
                    424,
                    family.code("upstream_error"),
                    f"the upstream video provider answered {status} ({code}); "
                    "no task was created and nothing was billed",
                    extra={"upstream_status": status, "upstream_code": code},
                )
            task = new_task(
                plan,
                owner=(key, team),
                now=now,
                request_id=request_id,
                rng=self._rng,
                faults=self._faults,
                fault_counts=self._counters.faults,
                time_scale=self.config.time_scale,
            )
            self._tasks[task.id] = task
            self._billing.hold(task)
            self._billing.note_peak(team)
            self._counters.creates_by_key[key] += 1
            self._counters.creates_by_team[team] += 1
            if self._store is not None:
                self._store.put_task(task)
            return task

    def _settle_due(self, now: float) -> None:
        """Settle every task whose terminal time has passed, and persist what changed."""
        settled = self._billing.settle_due(now, self._tasks)
        if settled and self._store is not None:
            for task in settled:
                self._store.put_task(task)
            self._store.put_balances(self._billing.balances)

    def read_task(
        self, key: str, route: str, task_id: str, *, where: str | None = None
    ) -> tuple[TaskRecord, Status]:
        """A task and its status now; 404 if not on this route, 403 if another owner's.

        `route` is the Kling route or the family name (`TaskRecord.route`); `where` names the
        status path in the 404 message (default: the Kling route's).
        """
        owner = self.authenticate(key)
        with self._lock:
            self._counters.status_reads[route] += 1
            now = self.now()
            self._settle_due(now)
            task = self._tasks.get(task_id)
            if task is None or task.route != route:
                # contract.md assumption 12: a task read on another route is not found.
                raise SandboxHTTPError(
                    404,
                    "not_found",
                    f"no task {task_id[:80]!r} on {where or '/v1/videos/' + route} "
                    "(status reads must use the route the task was created on)",
                )
            if task.team != owner.team:
                raise SandboxHTTPError(
                    403,
                    "media_resource_access_denied",
                    "this task belongs to another owner; poll with the account, team or "
                    "API key that created it",
                )
            return task, task.status_at(now)

    def tasks(self) -> list[TaskRecord]:
        """Every task, oldest first (the records themselves: treat them as read-only)."""
        with self._lock:
            return sorted(self._tasks.values(), key=lambda task: task.created_at)

    def succeeded_task(self, task_id: str) -> TaskRecord | None:
        """The task if it exists and has succeeded (what the media route serves)."""
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None or task.status_at(self.now()) is not Status.SUCCEEDED:
                return None
            return task

    # -- uploads, images and signed URLs ---------------------------------------------------

    def add_upload(self, content_type: str, data: bytes, width: int, height: int) -> UploadRecord:
        """Keep an uploaded image; it is served for seven days."""
        with self._lock:
            upload = self._uploads.add(content_type, data, width, height, self.now())
            self._counters.uploads += 1
            if self._store is not None:
                self._store.put_upload(upload, data)
            return upload

    def upload(self, upload_id: str) -> tuple[UploadRecord, bytes] | None:
        """An upload and its bytes, if known."""
        with self._lock:
            return self._uploads.records.get(upload_id)

    def sign(self, kind: str, ident: str) -> str:
        """An HMAC signature for a served URL."""
        return self._uploads.sign(kind, ident)

    def verify(self, kind: str, ident: str, signature: str | None) -> bool:
        """True if `signature` is this sandbox's signature for `kind:ident`."""
        return self._uploads.verify(kind, ident, signature)

    def resolve_image_url(self, url: str, own_netlocs: frozenset[str]) -> ResolvedImage | None:
        """What an ImageUrl points at, or None if the sandbox cannot fetch it (see `Uploads`)."""
        with self._lock:
            return self._uploads.resolve(url, own_netlocs, self.now())

    def image_bytes(self, ref: str) -> bytes | None:
        """The bytes behind a `ResolvedImage.ref`."""
        with self._lock:
            if ref.startswith("asset:"):
                return self._assets.image_bytes(ref.removeprefix("asset:"))
            return self._uploads.image_bytes(ref)

    # -- Seedance asset groups (owner-scoped) ------------------------------------------------

    def owner_of(self, key: str) -> str:
        """Who owns what `key` creates: its team, or the key itself when it has none."""
        team = self.authenticate(key).team
        # A team-less key owns its own assets; the owner id never leaves the sandbox.
        return team if team is not None else "key:" + key

    def add_asset_group(self, key: str, name: str) -> AssetGroup:
        """Create an asset group owned by `key`'s owner."""
        owner = self.owner_of(key)
        with self._lock:
            return self._assets.add_group(owner, name, self.now())

    def asset_group(self, key: str, group_id: str) -> tuple[AssetGroup, list[AssetRecord]]:
        """A group and its assets: 404 if unknown, 403 if another owner's."""
        owner = self.owner_of(key)
        with self._lock:
            group = self._assets.group(owner, group_id)
            return group, self._assets.assets_of(group.id)

    def add_asset(
        self, key: str, group_id: str, content_type: str, data: bytes, size: tuple[int, int]
    ) -> AssetRecord:
        """Add an image to one of the owner's groups (404 / 403 as `asset_group`)."""
        owner = self.owner_of(key)
        with self._lock:
            group = self._assets.group(owner, group_id)
            return self._assets.add(group, content_type, data, size, self.now())

    def served_asset(self, name: str) -> tuple[AssetRecord, bytes] | None:
        """The asset served under `<id>.<ext>`."""
        with self._lock:
            return self._assets.served(name)

    def resolve_asset_url(
        self, key: str, url: str, field: str, own_netlocs: frozenset[str]
    ) -> ResolvedImage:
        """The asset an image part names: 400 if it is no asset URL, 403 if not the owner's."""
        owner = self.owner_of(key)
        with self._lock:
            return self._assets.resolve(url, field, owner, own_netlocs, self.verify)

    # -- counters --------------------------------------------------------------------------

    def count_response(self, status: int) -> None:
        """Count one completed response by HTTP status."""
        with self._lock:
            self._counters.responses[status] += 1

    def count_media_read(self, task_id: str, first: int, last: int) -> None:
        """Count one download of a task's video that served bytes `first` to `last`."""
        with self._lock:
            self._counters.media_reads += 1
            self._counters.media_ranges.setdefault(task_id, []).append((first, last))

    def count_render(self, seconds: float) -> None:
        """Count one MP4 rendering and how long it took."""
        with self._lock:
            self._counters.renders += 1
            self._counters.render_seconds_total += seconds
            self._counters.render_seconds_max = max(self._counters.render_seconds_max, seconds)

    def stats(self) -> dict[str, Any]:
        """A JSON-ready snapshot of the counters, balances and task states.

        Keys: `tasks`, `tasks_by_status`, `create_attempts` / `creates_by_key` (per demo key),
        `creates_by_team`, `pending` and `max_pending` (per team), `pending_by_family`
        ("team/family"), `pending_cap` (Kling's) and `pending_caps` (per family),
        `asset_groups` / `assets`,
        `too_many_pending` (429s answered), `responses` (count per HTTP status),
        `status_reads` (reads that reached a task lookup) and `status_reads_by_route`,
        `faults` (count per injected fault), `uploads`, `media_reads`, `media_ranges` (per task
        id, the `[first, last]` byte ranges its video GETs served, in order), `renders`,
        `render_seconds_max` / `render_seconds_mean`, `balances` (per team: `balance_nano`,
        `held_nano`, `available_nano`, `charged_nano`, `released_nano`), `time_scale`.
        """
        with self._lock:
            now = self.now()
            self._settle_due(now)
            c = self._counters
            billing = self._billing.stats()
            by_status = Counter(task.status_at(now).value for task in self._tasks.values())
            return {
                "tasks": len(self._tasks),
                "tasks_by_status": dict(by_status),
                "create_attempts": dict(c.create_attempts),
                "creates_by_key": dict(c.creates_by_key),
                "creates_by_team": dict(c.creates_by_team),
                **billing,
                "pending_cap": self.config.pending_cap,
                "pending_caps": {name: self.config.cap_for(name) for name in FAMILIES},
                "asset_groups": len(self._assets.groups),
                "assets": len(self._assets.records),
                "too_many_pending": c.responses[429],
                "responses": {str(code): n for code, n in sorted(c.responses.items())},
                "status_reads": sum(c.status_reads.values()),
                "status_reads_by_route": dict(c.status_reads),
                "faults": dict(c.faults),
                "uploads": c.uploads,
                "media_reads": c.media_reads,
                "media_ranges": {t: [list(r) for r in rs] for t, rs in c.media_ranges.items()},
                "renders": c.renders,
                "render_seconds_max": c.render_seconds_max,
                "render_seconds_mean": c.render_seconds_total / c.renders if c.renders else 0.0,
                "time_scale": self.config.time_scale,
            }
