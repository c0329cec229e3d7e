"""The backend contract: start an experiment's process somewhere, stop it, report its exit.

A backend launches `Launch` specs and, whenever one ends, delivers an `Exited` event to the
driver's inbox; the driver does everything else (the store, the schedule, retries).
Stopping is staged: `terminate` asks (SIGTERM to the whole process group), `kill` insists
(SIGKILL). Both are safe to call on an experiment that already ended. An attempt whose
machine went away (a Ray node that died) ends with `lost` set: the driver records it as lost
and retries it when `--retries` allows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import NamedTuple


class Launch(NamedTuple):
    """One attempt of one experiment."""

    experiment_id: int
    command: Sequence[str]
    cwd: str
    env: Mapping[str, str]
    log_path: str


class Exited(NamedTuple):
    """An experiment's process ended: its exit code, or the signal (negative code) that
    killed it; `error` when it could not start at all, or why it was lost."""

    experiment_id: int
    returncode: int
    error: str | None = None
    ended_at: float | None = None
    """When the process ended (the backend's clock), if known."""
    lost: bool = False
    """Its outcome is unknown: the node (or the worker) that ran it died. No exit code."""


class Handle(NamedTuple):
    """A started experiment: what the backend needs to stop it (`pid` 0 when its process is
    not on this machine)."""

    experiment_id: int
    pid: int


class Backend(ABC):
    """Runs experiments' processes."""

    @abstractmethod
    def launch(self, spec: Launch) -> Handle | None:
        """Start the experiment. Returns None when it could not start (an `Exited` event
        with `error` set is queued then)."""

    @abstractmethod
    def terminate(self, handle: Handle) -> None:
        """Ask the experiment to stop (SIGTERM to its process group)."""

    @abstractmethod
    def kill(self, handle: Handle) -> None:
        """Stop the experiment now (SIGKILL to its process group)."""
