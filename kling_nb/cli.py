"""The `kling-nb` command: demo, generate, log, resume, sandbox."""

from __future__ import annotations

import argparse
import shutil
import sys
import webbrowser
from collections.abc import Sequence
from pathlib import Path

from ._errors import KlingError, ValidationError
from ._jobs import Job
from ._models import ASPECT_RATIOS, DURATIONS, MODELS, MODES
from ._requests import ImageToVideo, OmniVideo, Request, TextToVideo

__all__ = ["main"]

DEMO_PROMPT = "A paper boat drifting down a rain-soaked street at dusk, cinematic"


def _progress(job: Job) -> None:
    task = f" task {job.task.id}" if job.task else ""
    print(f"  {job.elapsed:6.1f}s  {job.status}{task}", flush=True)


def _build_request(args: argparse.Namespace) -> Request:
    image = args.image
    if args.omni or args.model == "kling-v3-omni":
        return OmniVideo(
            args.prompt,
            first_frame=image,
            duration=args.duration,
            mode=args.mode,
            aspect_ratio=args.aspect_ratio,
        )
    if image:
        return ImageToVideo(
            image, args.prompt, model=args.model, duration=args.duration, mode=args.mode
        )
    return TextToVideo(
        args.prompt,
        model=args.model,
        duration=args.duration,
        mode=args.mode,
        aspect_ratio=args.aspect_ratio,
    )


def _run_one(studio_kwargs: dict[str, object], request: Request, out: str | None) -> Path:
    from ._studio import Studio

    with Studio(**studio_kwargs) as studio:  # type: ignore[arg-type]
        estimate = studio.pricing.estimate(request.model, request.mode, request.duration)
        print(f"estimated cost: {studio.pricing.format(estimate)} ({studio.pricing.source})")
        job = studio.submit(request)
        print(f"job {job.job_id}: {request.route} {request.model} {request.duration}s")
        job.on_change(_progress)
        path = job.result()
        if out:
            target = Path(out)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            path = target
        row = studio.log.row(job.job_id) or {}
        print(f"video: {path} ({row.get('video_bytes')} bytes)")
        return path


def _cmd_demo(args: argparse.Namespace) -> int:
    from .sandbox import Sandbox

    print("kling-nb demo: generating one video on the embedded sandbox (no key, no credit)")
    with Sandbox() as sandbox:
        request = TextToVideo(args.prompt, mode="pro", duration=5)
        path = _run_one(
            {"api_key": "sk-sandbox-team", "base_url": sandbox.base_url, "root": args.root},
            request,
            args.output,
        )
    print(f"done: {path.resolve()}")
    if args.open:
        webbrowser.open(path.resolve().as_uri())
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    request = _build_request(args)
    kwargs: dict[str, object] = {"root": args.root}
    if not args.wait:
        from ._studio import Studio

        with Studio(**kwargs) as studio:  # type: ignore[arg-type]
            job = studio.submit(request)
            job.on_change(_progress)
            # Wait for the create answer so the task id is in the ledger for `kling-nb resume`.
            while job.status in ("waiting", "creating"):
                studio._runner.run(_sleep(0.1))
            print(f"job {job.job_id} submitted ({job.status}); `kling-nb resume` finishes it")
        return 0
    _run_one(kwargs, request, args.output)
    return 0


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


def _cmd_log(args: argparse.Namespace) -> int:
    import pandas as pd

    from ._ledger import Ledger

    ledger = Ledger(Path(args.root) / "kling_runs.sqlite")
    frame = ledger.df
    if args.csv:
        ledger.to_csv(args.csv)
        print(f"wrote {len(frame)} rows to {args.csv}")
        return 0
    columns = ["job_id", "status", "model", "mode", "duration", "total_s", "cost_estimate"]
    with pd.option_context("display.width", 160, "display.max_colwidth", 40):
        print(frame[[*columns, "prompt"]].to_string(index=False) if len(frame) else "(empty)")
    return 0


def _cmd_resume(args: argparse.Namespace) -> int:
    from ._studio import Studio

    with Studio(root=args.root) as studio:
        jobs = studio.resume()
        print(f"resumed {len(jobs)} job(s)")
        for job in jobs:
            job.on_change(_progress)
        studio.wait(jobs)
        for job in jobs:
            where = job.video_path or job.error
            print(f"{job.job_id}: {job.status} {where or ''}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kling-nb", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="generate one video on the embedded sandbox")
    demo.add_argument("--prompt", default=DEMO_PROMPT)
    demo.add_argument("--root", default=".", help="where the ledger and kling_outputs/ go")
    demo.add_argument("-o", "--output", help="also copy the video here")
    demo.add_argument("--open", action="store_true", help="open the video when done")
    demo.set_defaults(func=_cmd_demo)

    gen = sub.add_parser("generate", help="generate a video (real API if WORLDROUTER_API_KEY)")
    gen.add_argument("prompt")
    gen.add_argument("--model", default="kling-v3", choices=sorted(MODELS))
    gen.add_argument("--mode", default="std", choices=MODES)
    gen.add_argument("--duration", type=int, default=5, choices=DURATIONS)
    gen.add_argument("--aspect-ratio", default="16:9", choices=ASPECT_RATIOS)
    gen.add_argument("--image", help="first frame: an http(s) URL or a local file")
    gen.add_argument("--omni", action="store_true", help="use kling-v3-omni")
    gen.add_argument("--wait", action="store_true", help="wait and download the video")
    gen.add_argument("-o", "--output", help="copy the video here (with --wait)")
    gen.add_argument("--root", default=".")
    gen.set_defaults(func=_cmd_generate)

    log_cmd = sub.add_parser("log", help="print the ledger")
    log_cmd.add_argument("--root", default=".")
    log_cmd.add_argument("--csv", help="write it as CSV instead")
    log_cmd.set_defaults(func=_cmd_log)

    resume = sub.add_parser("resume", help="finish the jobs a crash left unfinished")
    resume.add_argument("--root", default=".")
    resume.set_defaults(func=_cmd_resume)

    sub.add_parser(
        "sandbox", help="serve the local WorldRouter sandbox (see --help)", add_help=False
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kling-nb` command."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["sandbox"]:
        from .sandbox._cli import main as sandbox_main

        return sandbox_main(args_list[1:])
    args = _parser().parse_args(args_list)
    try:
        return int(args.func(args))
    except ValidationError as exc:
        print(f"kling-nb: invalid input: {exc}", file=sys.stderr)
        return 2
    except KlingError as exc:
        print(f"kling-nb: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
