"""What bench/kernel.py runs inside the kernel: a loop-lag probe, GC timing, slow callbacks.

`PROBE` is executed as a cell. It adds, on the kernel's own event loop:

- `_probe()`: sleeps 10 ms and records how late it woke (the loop's lag) with the process CPU
  time spent meanwhile (a stall with CPU ~ wall was the kernel busy; far less, it was waiting
  for a core or the GIL);
- a `gc.callbacks` timer (generation and duration of every collection);
- a watchdog thread: when the loop has not ticked for 30 ms it takes the loop thread's stack
  (once more every 20 ms the stall lasts), so a stall spent off-CPU (blocked in a system call,
  waiting for the GIL) still shows where the loop thread was;
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
import sys as _sys, threading as _threading, traceback as _traceback
_beat, _stacks, _main_id = [_time.perf_counter()], [], _threading.get_ident()
async def _ticker():
    while True:
        _beat[0] = _time.perf_counter()
        await _asyncio.sleep(0.005)
def _watch():
    while True:
        _time.sleep(0.005)
        late = _time.perf_counter() - _beat[0]
        if late > 0.030 and _trace[0]:
            frame = _sys._current_frames().get(_main_id)
            if frame is not None:
                where = _traceback.extract_stack(frame)[-8:]
                _stacks.append((late, [f'{f.filename.split("site-packages/")[-1]}:{f.lineno} {f.name}' for f in where]))
            _time.sleep(0.020)
_threading.Thread(target=_watch, daemon=True, name='stall-watch').start()
_ticker_task = _asyncio.get_running_loop().create_task(_ticker())
_probe_task = _asyncio.get_running_loop().create_task(_probe())
"""

RESET = "_lag.clear(); _gc_pauses.clear(); _slow.clear(); _stacks.clear(); _trace[0] = True"


def stall_table(stacks: Sequence[Sequence[Any]], top: int = 8) -> list[list[object]]:
    """Watchdog stacks of the loop thread in stalls, grouped by their innermost 3 frames."""
    groups: dict[str, list[float]] = defaultdict(list)
    for late, frames in stacks:
        groups[" < ".join(reversed(list(frames)[-3:]))].append(float(late))
    rows = sorted(groups.items(), key=lambda kv: -len(kv[1]))[:top]
    return [[where[:150], len(lates), f"{max(lates) * 1000:.0f}"] for where, lates in rows]


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
