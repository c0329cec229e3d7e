"""Where things live: `GRIDRUN_HOME` (default `~/.gridrun`), its store and its run folders.

$GRIDRUN_HOME/gridrun.db                            the store (SQLite)
$GRIDRUN_HOME/runs/<run>/driver.log                 a detached driver's own output
$GRIDRUN_HOME/runs/<run>/<experiment>/stdout.log    the experiment's stdout and stderr
$GRIDRUN_HOME/runs/<run>/<experiment>/artifacts/    GRID_ARTIFACTS_DIR
$GRIDRUN_HOME/runs/<run>/<experiment>/metrics.jsonl GRID_METRICS_FILE
"""

from __future__ import annotations

import os
from pathlib import Path

LOG_NAME = "stdout.log"
ARTIFACTS_NAME = "artifacts"
METRICS_NAME = "metrics.jsonl"


def gridrun_home() -> Path:
    """The folder of the store and the runs, from `GRIDRUN_HOME`."""
    configured = os.environ.get("GRIDRUN_HOME")
    home = Path(configured).expanduser() if configured else Path.home() / ".gridrun"
    return home.absolute()  # experiments may change folder: their paths must be absolute


def database_path(home: Path | None = None) -> Path:
    return (home or gridrun_home()) / "gridrun.db"


def run_dir(run: str, home: Path | None = None) -> Path:
    return (home or gridrun_home()) / "runs" / run


def experiment_dir(run: str, experiment: str, home: Path | None = None) -> Path:
    return run_dir(run, home) / experiment


def log_paths(run: str, experiments: list[str], home: Path) -> list[str]:
    """The log of each experiment of `run` (plain strings: a sweep may have millions)."""
    folder = os.path.join(home, "runs", run)
    return [os.path.join(folder, name, LOG_NAME) for name in experiments]
