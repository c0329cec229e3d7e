"""Shared fixtures: the real CLI in a subprocess, in a temporary folder and GRIDRUN_HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

GridRunner = Callable[..., subprocess.CompletedProcess]


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
