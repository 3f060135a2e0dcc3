"""What bench/kernel.py runs inside the kernel: a loop-lag probe, GC timing, slow callbacks.

`PROBE` is executed as a cell. It adds, on the kernel's own event loop:

- `_probe()`: sleeps 10 ms and records how late it woke (the loop's lag) with the process CPU
  time spent meanwhile (a stall with CPU ~ wall was the kernel busy; far less, it was waiting
  for a core or the GIL);
- a `gc.callbacks` timer (generation and duration of every collection);
- a timer around every loop callback (`asyncio.events.Handle._run`): while `_trace[0]` is
  set, each callback over 2 ms is kept with its name (a task step is named by the coroutine
  it runs and the innermost coroutine it waits in afterwards), its wall and its thread CPU.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

PROBE = """
import asyncio as _asyncio, asyncio.events as _events, gc as _gc, time as _time
_lag, _gc_pauses, _gc_t, _slow, _trace = [], [], [0.0], [], [False]
def _gc_watch(phase, info):
    if phase == 'start':
        _gc_t[0] = _time.perf_counter()
    else:
        _gc_pauses.append((info['generation'], _time.perf_counter() - _gc_t[0]))
_gc.callbacks.append(_gc_watch)
async def _probe():
    while True:
        t, c = _time.perf_counter(), _time.process_time()
        await _asyncio.sleep(0.010)
        _lag.append((_time.perf_counter() - t - 0.010, _time.process_time() - c))
def _cb_name(handle):
    cb = handle._callback
    task = getattr(cb, '__self__', None)
    if isinstance(task, _asyncio.Task):
        coro = task.get_coro()
        name, inner = getattr(coro, '__qualname__', '?'), coro
        while getattr(inner, 'cr_await', None) is not None and hasattr(inner.cr_await, 'cr_await'):
            inner = inner.cr_await
        waits = getattr(inner, '__qualname__', '')
        return f'task {name}' + (f' (now in {waits})' if waits and waits != name else '')
    return getattr(cb, '__qualname__', type(cb).__name__)
_run_plain = _events.Handle._run
def _run_timed(self):
    if not _trace[0]:
        return _run_plain(self)
    t, c = _time.perf_counter(), _time.thread_time()
    try:
        return _run_plain(self)
    finally:
        wall = _time.perf_counter() - t
        if wall > 0.002:
            _slow.append((_cb_name(self), wall, _time.thread_time() - c))
_events.Handle._run = _run_timed
_probe_task = _asyncio.get_running_loop().create_task(_probe())
"""

RESET = "_lag.clear(); _gc_pauses.clear(); _slow.clear(); _trace[0] = True"


def slow_table(slow: Sequence[Sequence[Any]], top: int = 10) -> list[list[object]]:
    """Slow callbacks (name, wall s, cpu s) grouped by name, the most total time first."""
    groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for name, wall, cpu in slow:
        groups[str(name)].append((float(wall), float(cpu)))
    rows = sorted(groups.items(), key=lambda kv: -sum(w for w, _ in kv[1]))[:top]
    return [
        [
            name[:90],
            len(calls),
            f"{sum(w for w, _ in calls) * 1000:.0f}",
            f"{max(w for w, _ in calls) * 1000:.1f}",
            f"{sum(c for _, c in calls) / max(sum(w for w, _ in calls), 1e-9) * 100:.0f} %",
        ]
        for name, calls in rows
    ]
