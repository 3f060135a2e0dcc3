"""The `kling-nb` command: run as a user runs it (a subprocess) against the sandbox, and
in-process for what needs no server (help, input errors, error reporting)."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kling_nb._ledger import Ledger
from kling_nb.cli import _parser, main
from kling_nb.sandbox import NANO, Sandbox
from kling_nb.sandbox._cli import build_parser


def kling_nb(
    *args: str, env: dict[str, str] | None = None, cwd: Path
) -> subprocess.CompletedProcess[str]:
    command = shutil.which("kling-nb")
    argv = [command] if command else [sys.executable, "-m", "kling_nb.cli"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WORLDROUTER_")}
    return subprocess.run(
        [*argv, *args],
        env={**clean, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(time_scale=0.01) as sb:
        yield sb


@pytest.mark.slow
def test_demo_generates_a_real_video(tmp_path: Path) -> None:
    done = kling_nb("demo", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "embedded sandbox" in done.stdout
    [video] = (tmp_path / "kling_outputs").glob("*.mp4")
    assert video.read_bytes()[4:8] == b"ftyp"
    assert str(video.resolve()) in done.stdout


@pytest.mark.slow
def test_generate_wait_then_log(sandbox: Sandbox, tmp_path: Path) -> None:
    env = {"WORLDROUTER_API_KEY": "sk-sandbox-team", "WORLDROUTER_BASE_URL": sandbox.base_url}
    done = kling_nb(
        "generate",
        "a paper boat on a river",
        "--mode",
        "pro",
        "--wait",
        "-o",
        "boat.mp4",
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "boat.mp4").read_bytes()[4:8] == b"ftyp"
    assert "sk-sandbox-team" not in done.stdout + done.stderr
    log = kling_nb("log", cwd=tmp_path)
    assert log.returncode == 0, log.stderr
    assert "succeeded" in log.stdout
    assert "paper boat" in log.stdout


@pytest.mark.slow
def test_generate_without_wait_then_resume(sandbox: Sandbox, tmp_path: Path) -> None:
    env = {"WORLDROUTER_API_KEY": "sk-sandbox-team", "WORLDROUTER_BASE_URL": sandbox.base_url}
    done = kling_nb("generate", "a lighthouse at night", "--duration", "10", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "kling-nb resume" in done.stdout
    resumed = kling_nb("resume", env=env, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed 1 job" in resumed.stdout
    assert "succeeded" in resumed.stdout
    assert sum(sandbox.stats()["creates_by_key"].values()) == 1


@pytest.mark.slow
def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    done = kling_nb("generate", "   ", env={"WORLDROUTER_API_KEY": "sk-x"}, cwd=tmp_path)
    assert done.returncode == 2
    assert "prompt" in done.stderr
    assert "Traceback" not in done.stderr


def sandbox_env(sandbox: Sandbox) -> dict[str, str]:
    return {"WORLDROUTER_API_KEY": sandbox.api_key, "WORLDROUTER_BASE_URL": sandbox.base_url}


@pytest.mark.slow
@pytest.mark.parametrize("how", ["existing folder", "trailing slash"])
def test_generate_wait_into_a_folder_names_the_video_after_the_job(
    sandbox: Sandbox, tmp_path: Path, how: str
) -> None:
    if how == "existing folder":
        (tmp_path / "videos").mkdir()
        output = "videos"
    else:
        output = "videos/"
    done = kling_nb(
        "generate", "a kite", "--wait", "-o", output, env=sandbox_env(sandbox), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    [video] = (tmp_path / "videos").iterdir()
    job_id = Ledger(tmp_path / "kling_runs.sqlite").df["job_id"].iloc[0]
    assert video.name == f"{job_id}.mp4"
    assert video.read_bytes()[4:8] == b"ftyp"


@pytest.mark.parametrize(
    ("options", "family", "mode"),
    [
        (
            ["--model", "seedance-2.0-fast", "--resolution", "480p", "--duration", "4"],
            "seedance",
            "480p",
        ),
        (["--model", "grok-imagine-video", "--resolution", "480p"], "grok", "480p"),
        (["--mode", "pro", "--aspect-ratio", "9:16"], "kling", "pro"),
    ],
)
def test_generate_takes_a_model_of_any_family(
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    family: str,
    mode: str,
) -> None:
    for name, value in sandbox_env(sandbox).items():
        monkeypatch.setenv(name, value)
    argv = ["generate", "a lighthouse at dusk", *options, "--wait", "--root", str(tmp_path)]
    assert main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "estimated cost: " in out
    assert "unknown" not in out.splitlines()[0]
    [row] = Ledger(tmp_path / "kling_runs.sqlite").df.to_dict("records")
    assert (row["family"], row["mode"], row["status"]) == (family, mode, "succeeded")
    assert Path(row["video_path"]).read_bytes()[4:8] == b"ftyp"
    assert sum(sandbox.stats()["create_attempts"].values()) == 1


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["generate", "a kite", "-o", "kite.mp4"], "--wait"),
        (["generate", "a kite", "--omni", "--model", "kling-v2-6"], "kling-v3-omni"),
        (["generate", "a kite", "--omni", "--model", "kling-v3", "--wait"], "kling-v3-omni"),
        (["generate", "a kite", "--model", "seedance-2.0", "--mode", "pro"], "--mode"),
        (["generate", "a kite", "--model", "grok-imagine-video", "--aspect-ratio", "1:1"], "Grok"),
        (["generate", "a kite", "--model", "grok-imagine-video", "--omni"], "--omni"),
        (["generate", "a kite", "--resolution", "720p"], "--resolution"),
        (["generate", "a kite", "--model", "seedance-2.0", "--resolution", "4k"], "resolution"),
        (["generate", "a kite", "--model", "grok-imagine-video", "--duration", "30"], "duration"),
        (["generate", "a kite", "--aspect-ratio", "5:4"], "aspect_ratio"),
    ],
)
def test_input_the_command_cannot_honour_is_refused_before_anything_is_sent(
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    says: str,
) -> None:
    for name, value in sandbox_env(sandbox).items():
        monkeypatch.setenv(name, value)
    assert main([*argv, "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kling-nb: invalid input:")
    assert says in err
    assert err.count("\n") == 1
    assert sandbox.stats()["create_attempts"] == {}
    assert not (tmp_path / "kling_runs.sqlite").exists()


def test_log_of_a_missing_root_is_an_error_not_a_new_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope"
    assert main(["log", "--root", str(missing)]) == 2
    assert f"--root {missing}: no such folder" in capsys.readouterr().err
    assert not missing.exists()
    assert main(["log", "--root", str(tmp_path)]) == 2
    assert "no kling_runs.sqlite there" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_unexpected_failure_is_one_line_and_verbose_shows_the_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "kling_runs.sqlite").write_bytes(b"this is not an SQLite file\n" * 100)
    argv = ["log", "--root", str(tmp_path)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("kling-nb: LedgerError: ledger ")
    assert err.endswith("could not open: the file is not a SQLite database\n")
    assert err.count("\n") == 1
    assert main([*argv, "-v"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.splitlines()[-1].endswith("could not open: the file is not a SQLite database")


def _all_parsers() -> dict[str, argparse.ArgumentParser]:
    parser = _parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    found = {name: p for name, p in sub.choices.items() if name != "sandbox"}
    return {"kling-nb": parser, **found, "sandbox": build_parser()}


@pytest.mark.parametrize("command", ["kling-nb", "demo", "generate", "log", "resume", "sandbox"])
def test_every_option_has_help_and_shows_its_default(command: str) -> None:
    parser = _all_parsers()[command]
    assert parser.description
    text = " ".join(parser.format_help().split())
    for action in parser._actions:
        assert action.help, f"{command} {action.dest} has no help"
        shown = action.default not in (None, False, argparse.SUPPRESS)
        if shown and not isinstance(action, argparse._SubParsersAction):
            assert f"(default: {action.default})" in text, f"{command} {action.dest}"


def test_sandbox_credits_sets_the_demo_teams_starting_balance(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "kling_nb.cli", "sandbox", "--port", "0", "--credits", "250"]
    with subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, text=True) as server:
        assert server.stdout is not None
        base = ""
        for line in server.stdout:
            if "serving at" in line:
                base = line.split()[-1]
                break
        try:
            stats = httpx.get(base + "/_sandbox/stats", timeout=10).json()
        finally:
            server.send_signal(signal.SIGINT)
            rest, _ = server.communicate(timeout=20)
    assert stats["balances"]["team-sandbox"]["balance_nano"] == 250 * NANO
    assert stats["balances"]["team-sandbox-2"]["balance_nano"] == 250 * NANO
    assert stats["balances"]["team-broke"]["balance_nano"] == 0
    assert server.returncode == 0
    assert "stopping" in rest
