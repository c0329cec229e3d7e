"""The `Store` contract: what the driver writes and what every reader may rely on.

One writer at a time drives a run (the driver, or `grid resume` after it); any number of
readers (`status`, `logs`, `history`, `export`, the dashboard) read at the same time without
waiting for it and without ever seeing a half-written change. `stop` and `delete` are the
only other writers: they record a request or remove what has ended.

Names are unique across the store. Every method that takes a name takes it exactly;
`resolve_*` turn what a user typed (a prefix, a short name) into exact names.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from gridrun.store.records import (
    Driver,
    ExperimentOverview,
    ExperimentRecord,
    MetricPoint,
    MetricSummary,
    NewExperiment,
    NewRun,
    RunRecord,
    RunState,
    State,
)


class Store(ABC):
    """Runs and experiments, durable and shared between processes."""

    # -- the driver's writes -----------------------------------------------------------------
    @contextmanager
    def batch(self) -> Iterator[None]:
        """Make the writes inside one transaction, committed at the end, even when an
        error ends the batch early (each write is then whole or absent). The driver
        batches what it learns in one wake-up (an exit, the launch that fills the freed
        slot), so that each wake-up costs one commit."""
        yield

    def commit_batch(self) -> None:
        """Inside a `batch`: commit what it wrote so far, and let go of the store's write
        lock (the batch goes on; its next write begins another transaction). For a caller
        about to wait on another connection, which may itself wait for that lock, or to
        work a long while (other writers wait at most the busy timeout)."""
        return  # a store without batches has nothing held

    @abstractmethod
    def create_run(
        self,
        run: NewRun,
        experiments: Iterable[NewExperiment],
        log_paths: Sequence[str],
        now: float,
    ) -> RunRecord:
        """Record a run and all its experiments (queued), atomically: all or nothing.

        Raises `UserError` if a run of that name exists.
        """

    @abstractmethod
    def claim_run(self, run_id: int, driver: Driver, now: float) -> None:
        """Make `driver` the run's driver: the run is `running` from now on."""

    @abstractmethod
    def take_over(self, run_id: int, previous: Driver | None, driver: Driver, now: float) -> bool:
        """Make `driver` the run's driver only if `previous` still is (compare and set):
        of two processes resuming the same run, one wins. Returns whether it did."""

    @abstractmethod
    def mark_started(self, experiment_id: int, pid: int, gpus: str | None, now: float) -> None:
        """A queued experiment started (one more attempt)."""

    @abstractmethod
    def mark_finished(
        self,
        experiment_id: int,
        state: State,
        exit_code: int | None,
        signal: int | None,
        reason: str | None,
        now: float,
        pruned_at: tuple[float, float] | None = None,
    ) -> None:
        """A running experiment ended, in a final state (or `queued` again, to be retried);
        `pruned_at` is the (step, value) at which a pruned one was stopped."""

    @abstractmethod
    def assign_experiment(
        self, experiment_id: int, params: dict[str, str], args: list[str], command: list[str]
    ) -> None:
        """Give a queued experiment its values, its arguments and its command (an adaptive
        strategy chooses them as the experiment starts)."""

    @abstractmethod
    def finish_run(self, run_id: int, state: RunState, now: float) -> None:
        """The driver let go of the run, which ended in `state`."""

    @abstractmethod
    def requeue(self, run_id: int, states: Sequence[State]) -> list[ExperimentRecord]:
        """Put the run's experiments in `states` back in the queue (for resume); return them."""

    @abstractmethod
    def add_metrics(
        self,
        experiment_id: int,
        rows: Sequence[tuple[str, float | None, float, float]],
        source: str,
    ) -> None:
        """Record metric values of an experiment, rows of (name, step, value, time) in the
        order they were reported, and update its summaries: last value and step, min and max
        (of finite values), count. `source` is stdout, log or tensorboard."""

    # -- requests from other processes -------------------------------------------------------
    @abstractmethod
    def request_stop(self, run_id: int, experiment_ids: Sequence[int] | None = None) -> None:
        """Ask the run's driver to stop the run (all of it when `experiment_ids` is None)."""

    @abstractmethod
    def stop_requests(self, run_id: int) -> tuple[bool, set[int]]:
        """Whether the whole run is asked to stop, and which of its live experiments are."""

    @abstractmethod
    def stop_queued(self, run_id: int, experiment_ids: Sequence[int], now: float) -> None:
        """Queued experiments that will never start are recorded as stopped."""

    @abstractmethod
    def delete_run(self, run_id: int) -> None:
        """Remove a run and its experiments' records."""

    @abstractmethod
    def delete_experiments(self, experiment_ids: Sequence[int]) -> None:
        """Remove experiments' records."""

    @abstractmethod
    def mark_lost(self, run_id: int, driver: Driver, now: float) -> int:
        """The run's `driver` is gone: its running experiments are lost, its queued ones
        stopped (they will not start); return how many were lost.

        Does nothing if another driver has claimed the run since.
        """

    # -- reads ---------------------------------------------------------------------------------
    @abstractmethod
    def get_run(self, name: str) -> RunRecord | None: ...

    @abstractmethod
    def get_run_by_id(self, run_id: int) -> RunRecord | None: ...

    @abstractmethod
    def list_runs(self, states: Sequence[RunState] | None = None) -> list[RunRecord]:
        """Runs, newest first, optionally only those in `states`."""

    @abstractmethod
    def experiments(
        self, run_id: int, states: Sequence[State] | None = None
    ) -> list[ExperimentRecord]:
        """A run's experiments in index order, optionally only those in `states`."""

    @abstractmethod
    def get_experiment(self, name: str) -> ExperimentRecord | None: ...

    @abstractmethod
    def get_experiment_by_id(self, experiment_id: int) -> ExperimentRecord | None: ...

    @abstractmethod
    def experiment_summaries(self, experiment_id: int) -> dict[str, MetricSummary]:
        """The summaries of one experiment's metrics, by name."""

    @abstractmethod
    def metric_summaries(self, run_id: int) -> dict[int, dict[str, MetricSummary]]:
        """Per experiment id, per metric name: its summary."""

    def overview(self, run_id: int) -> list[ExperimentOverview]:
        """A run's experiments in index order, each with the last value of each of its metrics:
        what `experiments` and `metric_summaries` tell of them, less what an overview of
        thousands does not show. Implementations may read it faster than this default."""
        summaries = self.metric_summaries(run_id)
        return [
            ExperimentOverview(
                e.id,
                e.name,
                e.state,
                e.params,
                e.exit_code,
                e.signal,
                e.started_at,
                e.ended_at,
                {name: s.last for name, s in summaries.get(e.id, {}).items()},
            )
            for e in self.experiments(run_id)
        ]

    @abstractmethod
    def metric_history(
        self, experiment_ids: Sequence[int], name: str | None = None
    ) -> dict[int, list[MetricPoint]]:
        """Per experiment id: every recorded value (of metric `name`, or of all), in order."""

    @abstractmethod
    def run_names(self, like: str) -> list[str]:
        """Names of runs that start with `like`."""

    @abstractmethod
    def experiment_names(self, like: str, suffix: bool = False) -> list[str]:
        """Names of experiments that start with (or, with `suffix`, end with) `like`."""

    @abstractmethod
    def close(self) -> None: ...
