"""The embedded store: the `Store` contract and its SQLite implementation."""

from __future__ import annotations

from pathlib import Path

from gridrun.paths import database_path
from gridrun.store.base import Store
from gridrun.store.records import (
    Driver,
    ExperimentRecord,
    NewExperiment,
    NewRun,
    RunRecord,
    RunState,
    State,
)
from gridrun.store.sqlite import SQLiteStore


def open_store(home: Path | None = None) -> SQLiteStore:
    """The store under `home` (default: GRIDRUN_HOME), created on first use."""
    return SQLiteStore(database_path(home))


__all__ = [
    "Driver",
    "ExperimentRecord",
    "NewExperiment",
    "NewRun",
    "RunRecord",
    "RunState",
    "SQLiteStore",
    "State",
    "Store",
    "open_store",
]
