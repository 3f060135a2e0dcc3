"""`kling-nb sandbox`: serve the sandbox in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
import threading

from ._config import DEFAULT_TIME_SCALE, NANO, PRICE_NANO_PER_SECOND, SandboxConfig
from ._faults import Faults
from ._server import Sandbox

__all__ = ["build_parser", "main"]


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except where there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def build_parser(prog: str = "kling-nb sandbox") -> argparse.ArgumentParser:
    """The argument parser of `kling-nb sandbox`."""
    p = argparse.ArgumentParser(
        prog=prog,
        description="Serve a local WorldRouter-compatible Kling API that makes real MP4s.",
        formatter_class=_HelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind")
    p.add_argument("--port", type=int, default=8765, help="port (0 picks a free one)")
    p.add_argument(
        "--time-scale",
        type=float,
        default=DEFAULT_TIME_SCALE,
        help="multiplies realistic task times (1 is real time, 0 finishes at once)",
    )
    p.add_argument("--pending-cap", type=int, default=4, help="pending tasks allowed per team")
    p.add_argument(
        "--credits",
        type=float,
        default=SandboxConfig.team_credit_nano / NANO,
        help="starting credit of each of the two funded demo teams",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of task timings and faults")
    for name, what in (
        ("424", "share of creates answered 424 (no task, not billed)"),
        ("fail", "share of tasks that end failed"),
        ("expire", "share of tasks that end expired"),
        ("5xx", "share of status reads answered 500/502/503"),
        ("slow", "share of status reads delayed by --slow-seconds"),
        ("reset", "share of status reads whose connection is aborted"),
    ):
        p.add_argument(f"--fault-{name}", type=float, default=0.0, metavar="R", help=what)
    p.add_argument("--slow-seconds", type=float, default=2.0, help="delay of a slow status read")
    p.add_argument(
        "--state", metavar="PATH", help="SQLite file to keep state in (default: memory only)"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the sandbox until interrupted; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        faults = Faults(
            upstream_424=args.fault_424,
            task_fail=args.fault_fail,
            task_expire=args.fault_expire,
            status_5xx=args.fault_5xx,
            status_slow=args.fault_slow,
            slow_seconds=args.slow_seconds,
            status_reset=args.fault_reset,
            seed=args.seed,
        )
        sandbox = Sandbox(
            host=args.host,
            port=args.port,
            time_scale=args.time_scale,
            pending_cap=args.pending_cap,
            seed=args.seed,
            faults=faults,
            state_path=args.state,
            team_credit_nano=round(args.credits * NANO),
        )
        sandbox.start()
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"kling-nb sandbox: {exc}", file=sys.stderr)
        return 2
    out = sys.stdout
    print(f"kling_nb sandbox serving at {sandbox.base_url}", file=out)
    print(f"  export WORLDROUTER_BASE_URL={sandbox.base_url}", file=out)
    print("  keys (Authorization: Bearer <key>):", file=out)
    for key, purpose in sandbox.keys.items():
        print(f"    {key:<18} {purpose}", file=out)
    prices = ", ".join(f"{mode} {nano / 1e9:g}" for mode, nano in PRICE_NANO_PER_SECOND.items())
    print(f"  prices (credits per generated second): {prices}", file=out)
    print(f"  each funded team starts with {args.credits:g} credits", file=out)
    print(f"  sample first frame: {sandbox.sample_url()}", file=out)
    if faults.any:
        print(f"  faults: {faults}", file=out)
    if args.state:
        print(f"  state kept in {args.state}", file=out)
    print("Press Ctrl-C to stop.", file=out, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("stopping", file=out)
    finally:
        sandbox.stop()
    return 0
