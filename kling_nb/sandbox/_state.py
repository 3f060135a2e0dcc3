"""The sandbox's world: teams and balances, tasks and their billing, uploads, counters.

All methods are thread-safe (one re-entrant lock): the server thread mutates state while
the caller's thread may read `stats()`.
"""

from __future__ import annotations

import heapq
import hmac
import random
import secrets
import threading
from collections import Counter
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .._models import Route, Status
from ._config import KEYS, PRICE_NANO_PER_SECOND, UPLOAD_TTL_SECONDS, KeySpec, SandboxConfig
from ._faults import FaultInjector, Faults, StatusFault
from ._images import EXTENSIONS, sample_images
from ._lifecycle import TaskRecord, draw_timeline
from ._problems import SandboxHTTPError
from ._store import Store, UploadRecord
from ._validate import CreateSpec
from ._video import VideoSpec, size_for_image, size_for_ratio

__all__ = ["ResolvedImage", "SandboxState"]


@dataclass(frozen=True)
class ResolvedImage:
    """An ImageUrl that points at something this sandbox serves."""

    ref: str
    width: int
    height: int


@dataclass
class _Counters:
    create_attempts: Counter[str] = field(default_factory=Counter)
    creates_by_key: Counter[str] = field(default_factory=Counter)
    creates_by_team: Counter[str] = field(default_factory=Counter)
    max_pending: Counter[str] = field(default_factory=Counter)
    responses: Counter[int] = field(default_factory=Counter)
    status_reads: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    charged_nano: Counter[str] = field(default_factory=Counter)
    released_nano: Counter[str] = field(default_factory=Counter)
    uploads: int = 0
    media_reads: int = 0
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
        self._due: list[tuple[float, str]] = []
        self._pending: dict[str, set[str]] = {}
        self._balances = config.initial_balances()
        self._held: Counter[str] = Counter()
        self._uploads: dict[str, tuple[UploadRecord, bytes]] = {}
        self._counters = _Counters()
        self._secret = secrets.token_bytes(32)
        self._store = Store(config.state_path) if config.state_path is not None else None
        if self._store is not None:
            self._load(self._store)

    def _load(self, store: Store) -> None:
        snap = store.load()
        if snap.secret is None:
            store.put_secret(self._secret)
        else:
            self._secret = snap.secret
        starting = dict(self._balances)
        self._balances.update(snap.balances)
        # A restart tops a demo team that has spent most of its credit back up to its starting
        # credit, so a notebook re-run many times on one folder does not drift into 402s.
        for team, credit in starting.items():
            if self._balances.get(team, 0) < credit // 4:
                self._balances[team] = credit
        store.put_balances(self._balances)
        for task in snap.tasks:
            self._tasks[task.id] = task
            if not task.settled:
                self._hold(task)
        for upload, data in snap.uploads:
            self._uploads[upload.id] = (upload, data)

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
        """Create and bill-hold a task, or raise 403 / 429 / 402 / 424 (checked in that order)."""
        owner = self.authenticate(key)
        with self._lock:
            self._counters.create_attempts[key] += 1
            if owner.team is None:
                raise SandboxHTTPError(
                    403,
                    "kling_team_required",
                    "this API key is not scoped to a team; Kling needs a team-scoped key",
                )
            team = owner.team
            now = self.now()
            self._settle_due(now)
            pending = len(self._pending.get(team, ()))
            if pending >= self.config.pending_cap:
                raise SandboxHTTPError(
                    429,
                    "kling_too_many_pending_tasks",
                    f"too many pending Kling tasks for this team ({pending} of "
                    f"{self.config.pending_cap}); wait for one to finish, then create again",
                    extra={"pending": pending, "limit": self.config.pending_cap},
                )
            cost = PRICE_NANO_PER_SECOND[spec.mode] * spec.duration
            available = self._balances.get(team, 0) - self._held[team]
            if available < cost:
                raise SandboxHTTPError(
                    402,
                    "kling_balance_too_low",
                    f"team balance too low: needs {cost} nano-credits, has {available} available",
                    extra={"required_available_nano": cost, "available_nano": available},
                )
            upstream = self._faults.create_upstream_error()
            if upstream is not None:
                self._counters.faults["upstream_424"] += 1
                status, code = upstream
                raise SandboxHTTPError(
                    424,
                    "kling_upstream_error",
                    f"the upstream video provider answered {status} ({code}); "
                    "no task was created and nothing was billed",
                    extra={"upstream_status": status, "upstream_code": code},
                )
            task = self._new_task(key, team, spec, image, cost, now, request_id)
            self._tasks[task.id] = task
            self._hold(task)
            self._counters.creates_by_key[key] += 1
            self._counters.creates_by_team[team] += 1
            held_now = len(self._pending[team])
            self._counters.max_pending[team] = max(self._counters.max_pending[team], held_now)
            if self._store is not None:
                self._store.put_task(task)
            return task

    def _new_task(
        self,
        key: str,
        team: str,
        spec: CreateSpec,
        image: ResolvedImage | None,
        cost: int,
        now: float,
        request_id: str,
    ) -> TaskRecord:
        timeline = draw_timeline(
            self._rng,
            model=spec.model,
            mode=spec.mode,
            duration=spec.duration,
            time_scale=self.config.time_scale,
        )
        outcome = self._faults.task_outcome()
        started = now + timeline.queued_s
        finished = started + timeline.running_s
        error: tuple[str, str] | None = None
        if spec.image_url is not None and image is None:
            # The real router fetches the image when the upstream picks the task up.
            outcome, finished = "failed", started
            shown = spec.image_url if len(spec.image_url) <= 200 else spec.image_url[:197] + "..."
            error = ("image_fetch_failed", f"failed to fetch ImageUrl {shown}: not reachable")
        elif outcome == "failed":
            self._counters.faults["task_fail"] += 1
            finished = started + timeline.running_s * (0.3 + 0.5 * self._rng.random())
            error = ("kling_task_failed", "the upstream video provider failed the task")
        elif outcome == "expired":
            self._counters.faults["task_expire"] += 1
            error = ("kling_task_expired", "the upstream task expired before producing a video")
        if spec.aspect_ratio is not None:
            width, height = size_for_ratio(spec.aspect_ratio)
        elif image is not None:
            width, height = size_for_image(image.width, image.height)
        else:
            width, height = size_for_ratio("16:9")
        return TaskRecord(
            id="task_" + secrets.token_hex(12),
            route=spec.route,
            model=spec.model,
            mode=spec.mode,
            duration=spec.duration,
            prompt=spec.prompt,
            aspect_ratio=spec.aspect_ratio,
            width=width,
            height=height,
            team=team,
            key=key,
            request_id=request_id,
            created_at=now,
            started_at=started,
            finished_at=finished,
            outcome=outcome,
            cost_nano=cost,
            image_url=spec.image_url,
            image_ref=image.ref if image is not None else None,
            error_code=error[0] if error else None,
            error_message=error[1] if error else None,
        )

    def _hold(self, task: TaskRecord) -> None:
        self._held[task.team] += task.cost_nano
        self._pending.setdefault(task.team, set()).add(task.id)
        heapq.heappush(self._due, (task.finished_at, task.id))

    def _settle_due(self, now: float) -> None:
        """Settle every task whose terminal time has passed: charge successes, release others."""
        changed = False
        while self._due and self._due[0][0] <= now:
            _, task_id = heapq.heappop(self._due)
            task = self._tasks[task_id]
            if task.settled:
                continue
            self._held[task.team] -= task.cost_nano
            self._pending[task.team].discard(task.id)
            if task.outcome == Status.SUCCEEDED.value:
                self._balances[task.team] -= task.cost_nano
                self._counters.charged_nano[task.team] += task.cost_nano
            else:
                self._counters.released_nano[task.team] += task.cost_nano
            task.settled = True
            changed = True
            if self._store is not None:
                self._store.put_task(task)
        if changed and self._store is not None:
            self._store.put_balances(self._balances)

    def read_task(self, key: str, route: Route, task_id: str) -> tuple[TaskRecord, Status]:
        """A task and its status now; 404 if not on this route, 403 if another owner's."""
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
                    f"no task {task_id[:80]!r} on /v1/videos/{route} "
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

    def video_spec(self, task: TaskRecord) -> VideoSpec:
        """What to render for a task."""
        first_frame = self.image_bytes(task.image_ref) if task.image_ref else None
        return VideoSpec(
            prompt=task.prompt,
            model=task.model,
            mode=task.mode,
            duration=task.duration,
            width=task.width,
            height=task.height,
            fps=self.config.fps,
            first_frame=first_frame,
        )

    # -- uploads, images and signed URLs ---------------------------------------------------

    def add_upload(self, content_type: str, data: bytes, width: int, height: int) -> UploadRecord:
        """Keep an uploaded image; it is served for seven days."""
        with self._lock:
            now = self.now()
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
            self._uploads[upload.id] = (upload, data)
            self._counters.uploads += 1
            if self._store is not None:
                self._store.put_upload(upload, data)
            return upload

    def upload(self, upload_id: str) -> tuple[UploadRecord, bytes] | None:
        """An upload and its bytes, if known."""
        with self._lock:
            return self._uploads.get(upload_id)

    def sign(self, kind: str, ident: str) -> str:
        """An HMAC signature for a served URL."""
        return hmac.new(self._secret, f"{kind}:{ident}".encode(), sha256).hexdigest()

    def verify(self, kind: str, ident: str, signature: str | None) -> bool:
        """True if `signature` is this sandbox's signature for `kind:ident`."""
        return bool(signature) and hmac.compare_digest(self.sign(kind, ident), signature or "")

    def resolve_image_url(self, url: str, own_netlocs: frozenset[str]) -> ResolvedImage | None:
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
            found = self.upload(upload_id)
            signature = parse_qs(parts.query).get("X-Amz-Signature", [None])[0]
            if found is None or found[0].extension != ext:
                return None
            if not self.verify("upload", upload_id, signature) or self.now() > found[0].expires_at:
                return None
            return ResolvedImage("upload:" + upload_id, found[0].width, found[0].height)
        return None

    def image_bytes(self, ref: str) -> bytes | None:
        """The bytes behind a `ResolvedImage.ref`."""
        kind, _, name = ref.partition(":")
        if kind == "sample":
            blob = sample_images().get(name)
            return blob.data if blob else None
        found = self.upload(name)
        return found[1] if found else None

    # -- counters --------------------------------------------------------------------------

    def count_response(self, status: int) -> None:
        """Count one completed response by HTTP status."""
        with self._lock:
            self._counters.responses[status] += 1

    def count_media_read(self) -> None:
        """Count one download of a video."""
        with self._lock:
            self._counters.media_reads += 1

    def count_render(self, seconds: float) -> None:
        """Count one MP4 rendering and how long it took."""
        with self._lock:
            self._counters.renders += 1
            self._counters.render_seconds_total += seconds
            self._counters.render_seconds_max = max(self._counters.render_seconds_max, seconds)

    def stats(self) -> dict[str, Any]:
        """A JSON-ready snapshot of the counters, balances and task states.

        Keys: `tasks`, `tasks_by_status`, `create_attempts` / `creates_by_key` (per demo key),
        `creates_by_team`, `pending` and `max_pending` (per team), `pending_cap`,
        `too_many_pending` (429s answered), `responses` (count per HTTP status),
        `status_reads` (reads that reached a task lookup) and `status_reads_by_route`,
        `faults` (count per injected fault), `uploads`, `media_reads`, `renders`,
        `render_seconds_max` / `render_seconds_mean`, `balances` (per team: `balance_nano`,
        `held_nano`, `available_nano`, `charged_nano`, `released_nano`), `time_scale`.
        """
        with self._lock:
            now = self.now()
            self._settle_due(now)
            c = self._counters
            by_status = Counter(task.status_at(now).value for task in self._tasks.values())
            return {
                "tasks": len(self._tasks),
                "tasks_by_status": dict(by_status),
                "create_attempts": dict(c.create_attempts),
                "creates_by_key": dict(c.creates_by_key),
                "creates_by_team": dict(c.creates_by_team),
                "pending": {team: len(ids) for team, ids in self._pending.items()},
                "max_pending": dict(c.max_pending),
                "pending_cap": self.config.pending_cap,
                "too_many_pending": c.responses[429],
                "responses": {str(code): n for code, n in sorted(c.responses.items())},
                "status_reads": sum(c.status_reads.values()),
                "status_reads_by_route": dict(c.status_reads),
                "faults": dict(c.faults),
                "uploads": c.uploads,
                "media_reads": c.media_reads,
                "renders": c.renders,
                "render_seconds_max": c.render_seconds_max,
                "render_seconds_mean": c.render_seconds_total / c.renders if c.renders else 0.0,
                "balances": {
                    team: {
                        "balance_nano": balance,
                        "held_nano": self._held[team],
                        "available_nano": balance - self._held[team],
                        "charged_nano": c.charged_nano[team],
                        "released_nano": c.released_nano[team],
                    }
                    for team, balance in self._balances.items()
                },
                "time_scale": self.config.time_scale,
            }
