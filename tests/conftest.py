"""Shared fixtures: the real CLI in a subprocess, in a temporary folder and GRIDRUN_HOME.

Fixtures: `workdir`, `grid_env`, `grid`, `dry_run`, `run_status`, `grid_background`. Plain
helpers, imported by test modules (`from conftest import wait_until, words`): `wait_until`,
`words`, and the `BackgroundGrid` type that `grid_background` returns."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

GridRunner = Callable[..., subprocess.CompletedProcess]
T = TypeVar("T")


def words(text: str) -> list[str]:
    """Options written as one string: `words("--name a --max_parallel 2")` is
    `["--name", "a", "--max_parallel", "2"]`. Split on white space, so no word may hold any."""
    return text.split()


def wait_until(condition: Callable[[], T], timeout_s: float = 30.0, *, what: str) -> T:
    """Poll `condition` every 50 ms until it returns something true, and return that.

    Fails with "timed out after Ns waiting for WHAT" once `timeout_s` has passed. The
    deadline only bounds a wait for something that should happen: keep it generous (tests
    run on small, busy machines) and never assert how long anything took with it."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g}s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty folder to run `grid` in."""
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def grid_env(tmp_path: Path) -> dict[str, str]:
    """The environment `grid` runs with: GRIDRUN_HOME in the test's temporary folder."""
    env = dict(os.environ)
    env["GRIDRUN_HOME"] = str(tmp_path / "home")
    env.pop("GRIDRUN_DEBUG", None)
    env["COLUMNS"] = "200"
    return env


@pytest.fixture
def grid(workdir: Path, grid_env: dict[str, str]) -> GridRunner:
    """Run `python -m gridrun ARGS...` (the real CLI) and return the completed process."""

    def run(*args: str, check: bool = False, timeout: float = 60, **kwargs: Any):
        kwargs.setdefault("cwd", workdir)
        kwargs.setdefault("env", grid_env)
        result = subprocess.run(
            [sys.executable, "-m", "gridrun", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            **kwargs,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"grid {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    return run


@pytest.fixture
def dry_run(grid: GridRunner) -> Callable[..., dict[str, Any]]:
    """`grid --output json run --dry_run ARGS...`, parsed."""

    def run(*args: str) -> dict[str, Any]:
        result = grid("--output", "json", "run", "--dry_run", *args, check=True)
        return json.loads(result.stdout)

    return run


@pytest.fixture
def run_status(grid: GridRunner) -> Callable[..., Any]:
    """`grid --output json status NAME`, parsed: a run's or an experiment's record.

    `run_status(NAME)` fails the test when the command fails; `run_status(NAME, check=False)`
    returns None then instead (to poll for a run that may not be recorded yet). Further
    keyword arguments go to `grid` (an `env=`, say)."""

    def status(name: str, *, check: bool = True, **kwargs: Any) -> dict[str, Any] | None:
        result = grid("--output", "json", "status", name, check=check, **kwargs)
        if result.returncode != 0:
            return None
        return json.loads(result.stdout)

    return status


class BackgroundGrid(subprocess.Popen):
    """A `grid` command running in the background (see the `grid_background` fixture).
    Its stdout and stderr both go to the file `log_path`."""

    log_path: Path

    def output(self) -> str:
        """What the command has written so far, stdout and stderr together."""
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def grid_background(
    workdir: Path, grid_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., BackgroundGrid]]:
    """Start `python -m gridrun ARGS...` (the real CLI, in the same folder and with the same
    environment as `grid`) without waiting for it, and return its `BackgroundGrid` (a Popen).

    It leads a new session (so a signal sent to it, or to its process group, reaches it
    alone, as Ctrl-C reaches a foreground job), reads nothing, and writes its output to a
    file in the test's temporary folder (`process.output()`). Keyword arguments go to Popen.
    At teardown the process group of each command still unreaped is killed and reaped, so a
    failing test leaves no driver behind."""
    started: list[BackgroundGrid] = []

    def start(*args: str, **kwargs: Any) -> BackgroundGrid:
        log_path = tmp_path / f"grid-background-{len(started)}.log"
        kwargs.setdefault("cwd", workdir)
        kwargs.setdefault("env", grid_env)
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.setdefault("start_new_session", True)
        with open(log_path, "wb") as log:
            kwargs.setdefault("stdout", log)
            kwargs.setdefault("stderr", subprocess.STDOUT)
            process = BackgroundGrid([sys.executable, "-m", "gridrun", *args], **kwargs)
        process.log_path = log_path
        started.append(process)
        return process

    yield start
    for process in started:
        if process.returncode is not None:  # reaped: its pid may belong to another by now
            continue
        with contextlib.suppress(ProcessLookupError):
            if os.getpgid(process.pid) == process.pid:  # it leads its group: end them all
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
        process.wait(timeout=30)
