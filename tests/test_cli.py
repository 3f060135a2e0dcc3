"""The `kling-nb` command, run as a user runs it (a subprocess), against the sandbox."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kling_nb.sandbox import Sandbox

pytestmark = pytest.mark.slow


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


def test_demo_generates_a_real_video(tmp_path: Path) -> None:
    done = kling_nb("demo", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "embedded sandbox" in done.stdout
    [video] = (tmp_path / "kling_outputs").glob("*.mp4")
    assert video.read_bytes()[4:8] == b"ftyp"
    assert str(video.resolve()) in done.stdout


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


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    done = kling_nb("generate", "   ", env={"WORLDROUTER_API_KEY": "sk-x"}, cwd=tmp_path)
    assert done.returncode == 2
    assert "prompt" in done.stderr
    assert "Traceback" not in done.stderr
