"""The `kling-nb` command: demo, generate, log, resume, ledger migrate, sandbox."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import traceback
import webbrowser
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import KlingError, ValidationError
from ._families import FAMILIES, AnyRequest, GrokVideo, SeedanceVideo, request_kind
from ._models import MODES
from ._requests import ImageToVideo, OmniVideo, Request, TextToVideo

if TYPE_CHECKING:
    from ._jobs import Job

__all__ = ["main"]

DEMO_PROMPT = "A paper boat drifting down a rain-soaked street at dusk, cinematic"
LEDGER_NAME = "kling_runs.sqlite"


class UsageError(Exception):
    """Invalid command-line input, found before anything is sent (exit status 2)."""


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except where there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def _progress(job: Job) -> None:
    fields = job.snapshot()
    line = (fields["status"], fields["task_id"])
    if _LAST_SHOWN.get(job.job_id) == line:  # a poll or download progress, not a new state
        return
    _LAST_SHOWN[job.job_id] = line
    task = f" task {fields['task_id']}" if fields["task_id"] else ""
    print(f"  {fields['elapsed_s']:6.1f}s  {fields['status']}{task}", flush=True)


_LAST_SHOWN: dict[str, tuple[object, object]] = {}


def _build_request(args: argparse.Namespace) -> AnyRequest:
    family = _family_of_model(args.model)
    if family != "kling":
        _refuse_kling_only(args, family)
    if family == "seedance":
        images = (args.image,) if args.image else ()
        return SeedanceVideo(
            args.prompt,
            model=args.model,
            images=images,
            duration=args.duration,
            ratio=args.aspect_ratio,
            resolution=args.resolution,
        )
    if family == "grok":
        return GrokVideo(
            args.prompt,
            model=args.model,
            duration=6 if args.duration is None else args.duration,
            resolution=args.resolution or "720p",
            image=args.image,
        )
    if args.resolution:
        raise UsageError("--resolution: Seedance and Grok only (Kling has --mode std|pro)")
    return _kling_request(args)


def _family_of_model(model: str | None) -> str:
    for family in FAMILIES:
        if model in family.models:
            return family.name
    return "kling"  # no --model (argparse has checked the choices)


def _refuse_kling_only(args: argparse.Namespace, family: str) -> None:
    if args.omni:
        raise UsageError(f"--omni: Kling only, not with the {family} model {args.model}")
    if args.mode is not None:
        raise UsageError(f"--mode: Kling only; {family} takes --resolution")
    if family == "grok" and args.aspect_ratio is not None:
        raise UsageError("--aspect-ratio: Grok has none (it takes --resolution)")


def _kling_request(args: argparse.Namespace) -> Request:
    image = args.image
    mode = args.mode or "std"
    duration = 5 if args.duration is None else args.duration
    ratio = args.aspect_ratio or "16:9"
    if args.omni or args.model == "kling-v3-omni":
        # An explicit --model with --omni is checked by OmniVideo (only kling-v3-omni is valid).
        return OmniVideo(
            args.prompt,
            model=args.model or "kling-v3-omni",
            first_frame=image,
            duration=duration,
            mode=mode,
            aspect_ratio=ratio,
        )
    model = args.model or "kling-v3"
    if image:
        return ImageToVideo(image, args.prompt, model=model, duration=duration, mode=mode)
    return TextToVideo(args.prompt, model=model, duration=duration, mode=mode, aspect_ratio=ratio)


def _output_target(output: str, job_id: str) -> Path:
    """Where `-o` puts the video: into a folder as <job_id>.mp4, else at that path."""
    if output.endswith(("/", os.sep)) or Path(output).is_dir():
        return Path(output) / f"{job_id}.mp4"
    return Path(output)


def _run_one(studio_kwargs: dict[str, Any], request: AnyRequest, out: str | None) -> Path:
    from ._studio import Studio

    with Studio(**studio_kwargs) as studio:
        model, tier, seconds = request_kind(request)
        estimate = studio.pricing.estimate(model, tier, seconds)
        print(f"estimated cost: {studio.pricing.format(estimate)} ({studio.pricing.source})")
        job = studio.submit(request)
        print(f"job {job.job_id}: {request.route} {model} {seconds}s")
        job.on_change(_progress)
        path = job.result()
        if out:
            target = _output_target(out, job.job_id)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            path = target
        row = studio.log.row(job.job_id) or {}
        print(f"video: {path} ({row.get('video_bytes')} bytes)")
        return path


def _cmd_demo(args: argparse.Namespace) -> int:
    from .sandbox import Sandbox

    print("kling-nb demo: generating one video on the embedded sandbox (no key, no credit)")
    request = TextToVideo(args.prompt, mode="pro", duration=5)
    with Sandbox() as sandbox:
        path = _run_one(
            {"api_key": sandbox.api_key, "base_url": sandbox.base_url, "root": args.root},
            request,
            args.output,
        )
    print(f"done: {path.resolve()}")
    if args.open:
        webbrowser.open(path.resolve().as_uri())
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    if args.output and not args.wait:
        raise UsageError("-o/--output needs --wait (without it the video is not downloaded)")
    request = _build_request(args)
    if args.wait:
        _run_one({"root": args.root, "ledger": args.ledger}, request, args.output)
        return 0
    from ._studio import Studio

    with Studio(root=args.root, ledger=args.ledger) as studio:
        job = studio.submit(request)
        job.on_change(_progress)
        # Wait for the create answer so the task id is in the ledger for `kling-nb resume`.
        task_id = job.wait_created()
        if task_id is None:
            job.result()  # refused at create: raises the job's error
            raise KlingError(f"job {job.job_id} ended without a task")
        print(f"job {job.job_id} submitted as task {task_id}; `kling-nb resume` finishes it")
    return 0


def _existing_ledger(root: str, ledger: str | None = None) -> str | Path:
    from ._ledger import ENV_LEDGER, ledger_location

    where = ledger_location(ledger, Path(root).expanduser())
    if isinstance(where, str):
        return where  # a PostgreSQL URL: Ledger() says clearly if it cannot be reached
    if ledger is not None or os.environ.get(ENV_LEDGER):
        if not where.is_file():
            raise UsageError(f"--ledger {where}: no such ledger file")
        return where
    folder = Path(root).expanduser()
    if not folder.is_dir():
        raise UsageError(f"--root {root}: no such folder")
    if not where.is_file():
        raise UsageError(f"--root {root}: no {LEDGER_NAME} there (nothing generated yet)")
    return where


def _cmd_log(args: argparse.Namespace) -> int:
    import pandas as pd

    from ._ledger import Ledger

    ledger = Ledger(_existing_ledger(args.root, args.ledger))
    frame = ledger.df
    if args.member:
        frame = frame[frame["member"] == args.member]
    if args.csv:
        frame.to_csv(args.csv, index=False)
        print(f"wrote {len(frame)} rows to {args.csv}")
        return 0
    columns = ["job_id", "member", "status", "model", "mode", "duration", "total_s"]
    with pd.option_context("display.width", 160, "display.max_colwidth", 40):
        print(frame[[*columns, "prompt"]].to_string(index=False) if len(frame) else "(empty)")
    return 0


def _cmd_resume(args: argparse.Namespace) -> int:
    from ._studio import Studio

    _existing_ledger(args.root, args.ledger)
    with Studio(root=args.root, ledger=args.ledger) as studio:
        jobs = studio.resume()
        print(f"resumed {len(jobs)} job(s)")
        for job in jobs:
            job.on_change(_progress)
        studio.wait(jobs)
        for job in jobs:
            fields = job.snapshot()
            where = fields["video_path"] or fields["error"] or ""
            print(f"{job.job_id}: {fields['status']} {where}")
    return 0


def _cmd_ledger_migrate(args: argparse.Namespace) -> int:
    from ._ledger import Ledger, copy_ledger, is_url

    source = args.source
    if not is_url(source) and not Path(source).expanduser().is_file():
        raise UsageError(f"--from {source}: no such ledger file")
    with (
        Ledger(source if is_url(source) else Path(source).expanduser()) as personal,
        Ledger(args.to, member=args.member) as team,
    ):
        report = copy_ledger(personal, team)
        print(f"{report} (into {team.url or team.path})")
    return 0


def _subparser(
    sub: Any, name: str, summary: str, func: Callable[[argparse.Namespace], int]
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=summary, description=summary, formatter_class=_HelpFormatter
    )
    # SUPPRESS: a subcommand's default must not overwrite `kling-nb -v <command>`.
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=_VERBOSE_HELP
    )
    parser.set_defaults(func=func)
    return parser


_VERBOSE_HELP = "print the full traceback when something fails"
_ROOT_HELP = "folder of the ledger (kling_runs.sqlite) and kling_outputs/"
_LEDGER_HELP = (
    "the ledger: a SQLite file or postgresql://user@host:port/db "
    "(default: $KLING_NB_LEDGER, else ROOT/kling_runs.sqlite)"
)


def _add_generate_options(gen: argparse.ArgumentParser) -> None:
    gen.add_argument("prompt", help="what the video shows")
    gen.add_argument(
        "--model",
        choices=[model for family in FAMILIES for model in family.models],
        help="model, of any family (default: kling-v3; with --omni: kling-v3-omni)",
    )
    gen.add_argument(
        "--mode", choices=MODES, help="Kling's quality mode (default std; pro costs more)"
    )
    gen.add_argument(
        "--duration",
        type=int,
        help="seconds of video (default: Kling 5, Grok 6, Seedance the server's)",
    )
    gen.add_argument("--aspect-ratio", help="frame shape, Kling and Seedance (default: Kling 16:9)")
    gen.add_argument("--resolution", help="Seedance and Grok: 480p or 720p (Seedance also 1080p)")
    gen.add_argument(
        "--image", help="first frame (Kling) or reference image: an http(s) URL or a local file"
    )
    gen.add_argument("--omni", action="store_true", help="use the omni-video route")
    gen.add_argument("--wait", action="store_true", help="wait for the video and download it")
    gen.add_argument(
        "-o", "--output", help="with --wait: copy the video to this file, or into this folder/"
    )
    gen.add_argument("--root", default=".", help=_ROOT_HELP)
    gen.add_argument("--ledger", help=_LEDGER_HELP)


def _add_ledger_commands(sub: Any) -> None:
    ledger = sub.add_parser("ledger", help="manage ledgers (see its --help)")
    commands = ledger.add_subparsers(dest="ledger_command", required=True, metavar="ACTION")
    what = "copy a personal ledger into a team ledger (jobs already there are kept as they are)"
    migrate = _subparser(commands, "migrate", what, _cmd_ledger_migrate)
    migrate.add_argument("--from", dest="source", required=True, help="the ledger to copy")
    migrate.add_argument("--to", required=True, help="the team ledger (a URL or a file)")
    migrate.add_argument(
        "--member", help="who the copied jobs were run by, where not recorded (default: OS user)"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kling-nb", description=__doc__, formatter_class=_HelpFormatter
    )
    parser.add_argument("-v", "--verbose", action="store_true", help=_VERBOSE_HELP)
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", help="what to do (each has --help)"
    )

    demo = _subparser(sub, "demo", "generate one video on an embedded sandbox", _cmd_demo)
    demo.add_argument("--prompt", default=DEMO_PROMPT, help="what the video shows")
    demo.add_argument("--root", default=".", help=_ROOT_HELP)
    demo.add_argument("-o", "--output", help="also copy the video to this file, or into folder/")
    demo.add_argument("--open", action="store_true", help="open the video when done")

    what = "generate a video (the real API if WORLDROUTER_API_KEY is set)"
    gen = _subparser(sub, "generate", what, _cmd_generate)
    _add_generate_options(gen)

    log_cmd = _subparser(sub, "log", "print the ledger of an existing --root", _cmd_log)
    log_cmd.add_argument("--root", default=".", help=_ROOT_HELP)
    log_cmd.add_argument("--csv", help="write the ledger to this CSV file instead")
    log_cmd.add_argument("--ledger", help=_LEDGER_HELP)
    log_cmd.add_argument("--member", help="only the jobs this team member ran")

    resume = _subparser(sub, "resume", "finish the jobs a crash left unfinished", _cmd_resume)
    resume.add_argument("--root", default=".", help=_ROOT_HELP)
    resume.add_argument("--ledger", help=_LEDGER_HELP)
    _add_ledger_commands(sub)

    sub.add_parser(
        "sandbox", help="serve the local WorldRouter sandbox (see its --help)", add_help=False
    )
    return parser


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, (UsageError, ValidationError)):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _dispatch(args_list: list[str]) -> int:
    if args_list[:1] == ["sandbox"]:
        from .sandbox._cli import main as sandbox_main

        return sandbox_main(args_list[1:])
    args = _parser().parse_args(args_list)
    return int(args.func(args))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kling-nb` command: every failure is one line on stderr.

    Exit status: 0 done, 1 failed, 2 invalid input (nothing was sent), 130 interrupted.
    `-v` / `--verbose` (anywhere on the line) also prints the traceback.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    verbose = bool({"-v", "--verbose"} & set(args_list))
    try:
        return _dispatch(args_list)
    except KeyboardInterrupt:
        print("kling-nb: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if verbose:
            traceback.print_exc()
        invalid = isinstance(exc, (UsageError, ValidationError))
        prefix = "invalid input: " if invalid else ""
        print(f"kling-nb: {prefix}{_one_line(exc)}", file=sys.stderr)
        return 2 if invalid else 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
