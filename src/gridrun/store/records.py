"""The records the store keeps: runs, experiments, and their states."""

from __future__ import annotations

from enum import Enum
from typing import Any, NamedTuple


class State(str, Enum):
    """An experiment's state. `queued` and `running` are live; the others are final."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"
    LOST = "lost"
    PREEMPTED = "preempted"
    """Stopped by a SIGTERM to the driver under --auto_resume, and exited cleanly: to resume."""
    PRUNED = "pruned"
    """Stopped early by --early_stop because it was losing: neither a failure nor a best."""

    @property
    def final(self) -> bool:
        return self not in (State.QUEUED, State.RUNNING)

    def __str__(self) -> str:
        return self.value


class RunState(str, Enum):
    """A run's state: running while its driver drives it, then how it ended."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"
    LOST = "lost"

    def __str__(self) -> str:
        return self.value


class NewExperiment(NamedTuple):
    """An experiment to record, as planned."""

    index: int
    name: str
    params: dict[str, str]
    args: list[str]
    command: list[str]


class NewRun(NamedTuple):
    """A run to record: everything needed to show it, reproduce it and resume it."""

    name: str
    invocation: list[str]
    """The `grid run ...` command line as typed."""
    script: str
    script_args: list[str]
    space: dict[str, str]
    strategy: str
    seed: int
    num_trials: int | None
    options: dict[str, Any]
    cwd: str
    git_commit: str | None = None
    git_dirty: bool | None = None


class Driver(NamedTuple):
    """Which process drives a run: enough to tell later whether it is still alive."""

    pid: int
    host: str
    started: str
    """The process's start time as the OS reports it (guards against a reused pid)."""


class RunRecord(NamedTuple):
    """A recorded run, with the number of its experiments in each state."""

    id: int
    name: str
    state: RunState
    invocation: list[str]
    script: str
    script_args: list[str]
    space: dict[str, str]
    strategy: str
    seed: int
    num_trials: int | None
    options: dict[str, Any]
    cwd: str
    git_commit: str | None
    git_dirty: bool | None
    created_at: float
    started_at: float | None
    ended_at: float | None
    driver: Driver | None
    num_experiments: int
    stop_requested: bool
    counts: dict[str, int]
    """How many of its experiments are in each state (by the state's value)."""

    def count(self, state: State) -> int:
        return self.counts.get(state.value, 0)


class ExperimentRecord(NamedTuple):
    """A recorded experiment."""

    id: int
    run_id: int
    run: str
    index: int
    name: str
    params: dict[str, str]
    args: list[str]
    command: list[str]
    state: State
    exit_code: int | None
    signal: int | None
    attempts: int
    started_at: float | None
    ended_at: float | None
    pid: int | None
    log_path: str
    gpus: str | None
    reason: str | None
    stop_requested: bool
    pruned_step: float | None = None
    """For a pruned experiment: the step, and the value of the metric, at which it was stopped."""
    pruned_value: float | None = None

    @property
    def retries(self) -> int:
        """How many times it was started again after failing (in this run's life)."""
        return max(0, self.attempts - 1)

    def duration_s(self, now: float) -> float | None:
        """Seconds it ran (so far, if running)."""
        if self.started_at is None:
            return None
        return (self.ended_at if self.ended_at is not None else now) - self.started_at


class ExperimentOverview(NamedTuple):
    """What an overview of many experiments shows of one (the dashboard's run page): far
    cheaper to read for a big run than its ExperimentRecord and MetricSummary objects."""

    id: int
    name: str
    state: State
    params: dict[str, Any]
    exit_code: int | None
    signal: int | None
    started_at: float | None
    ended_at: float | None
    last: dict[str, float]
    """Each metric's last value (NaN where it was not a number)."""

    def duration_s(self, now: float) -> float | None:
        """Seconds it ran (so far, if running)."""
        if self.started_at is None:
            return None
        return (self.ended_at if self.ended_at is not None else now) - self.started_at


class MetricPoint(NamedTuple):
    """One value of one metric, at a step (None when not told) and a time (seconds)."""

    name: str
    value: float
    step: float | None
    time: float


class MetricSummary(NamedTuple):
    """What the store keeps per experiment and metric, so that summaries are cheap."""

    name: str
    last: float
    last_step: float | None
    min: float | None
    max: float | None
    count: int
