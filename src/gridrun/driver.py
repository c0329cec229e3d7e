"""The driver: runs a recorded run's queued experiments to the end, recording every change.

One loop, one thread: launch what the scheduler allows, then wait in the inbox for the next
event (an experiment exited, a signal arrived, a metric was reported) or the next deadline (a
timeout, a SIGKILL after the grace period, a look at the store for stop requests).
Everything it learns in one wake-up goes to the store at once, in one transaction, so that
readers see it and nothing is lost if the driver dies.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from gridrun.backends.base import Backend, Exited, Handle, Launch
from gridrun.inbox import Inbox
from gridrun.ingest import MetricsIngestor
from gridrun.paths import ARTIFACTS_NAME, METRICS_NAME
from gridrun.progress import Reporter
from gridrun.scheduler import Allocation, Scheduler
from gridrun.store.base import Store
from gridrun.store.records import ExperimentRecord, RunRecord, RunState, State

if TYPE_CHECKING:
    from gridrun.tuning.proposer import BayesianProposer
    from gridrun.tuning.pruning import PruningRule
    from gridrun.tuning.targets import Target

STOP_POLL_S = 0.5
ACTION_FAILURE_NAME = ".gridrun-action-failure"
EXIT_INTERRUPTED = 130


class DriveOptions(NamedTuple):
    """How to drive: per-experiment limits and the grace period of a stop."""

    retries: int = 0
    timeout_s: float | None = None
    grace_s: float = 10.0
    on_experiment_start: tuple[str, ...] = ()
    on_experiment_end: tuple[str, ...] = ()
    auto_resume: bool = False
    """A SIGTERM to the driver preempts: experiments that then exit 0 are `preempted`."""
    isolated_subdir: str | None = None
    """Set in an isolated run: each experiment runs in this folder of its own snapshot."""
    max_time_s: float | None = None
    """The sweep's wall-clock budget (this drive's): then nothing more starts, the rest stops."""
    command_prefix: tuple[str, ...] = ()
    """What comes before the script's arguments (for the values an adaptive strategy chooses)."""

    @property
    def has_actions(self) -> bool:
        return bool(self.on_experiment_start or self.on_experiment_end)


class Running:
    """An experiment whose process is out."""

    __slots__ = (
        "allocation",
        "deadline",
        "handle",
        "kill_at",
        "pruned_at",
        "record",
        "reports",
        "started",
        "stop_reason",
        "stop_state",
    )

    def __init__(
        self,
        record: ExperimentRecord,
        handle: Handle,
        allocation: Allocation,
        started: float,
        deadline: float | None,
    ) -> None:
        self.record = record
        self.handle = handle
        self.allocation = allocation
        self.started = started
        self.deadline = deadline
        self.stop_reason: str | None = None
        """Why we asked it to stop (`timeout ...`, `stopped ...`); None while left alone."""
        self.stop_state: State | None = None
        self.kill_at: float | None = None
        self.pruned_at: tuple[float, float] | None = None
        """(step, value) at which early stopping stopped it."""
        self.reports = 0
        """How many values of the early-stopping metric it reported (the step of a value
        that has none)."""


class Reported(NamedTuple):
    """New values of watched metrics, recorded for an experiment (from the metrics thread)."""

    experiment_id: int
    rows: list[tuple[str, float | None, float, float]]


class Outcome(NamedTuple):
    """How the drive ended."""

    run_state: RunState
    exit_code: int
    counts: dict[str, int]


class RunDriver:
    """Drives one run's queued experiments. Clocks and the environment are injected."""

    def __init__(
        self,
        store: Store,
        run: RunRecord,
        backend: Backend,
        inbox: Inbox,
        scheduler: Scheduler,
        options: DriveOptions,
        reporter: Reporter,
        home: Path,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        on_started: Callable[[int], None] | None = None,
        on_ended: Callable[[int], None] | None = None,
        ingestor: MetricsIngestor | None = None,
        proposer: BayesianProposer | None = None,
        pruner: PruningRule | None = None,
        target: Target | None = None,
    ) -> None:
        self.store = store
        self.run = run
        self.backend = backend
        self.inbox = inbox
        self.scheduler = scheduler
        self.options = options
        self.reporter = reporter
        self.home = home
        self.base_env = dict(os.environ if env is None else env)
        self.run_environment: dict[str, str] = run.options.get("environment") or {}
        self.clock = clock
        self.monotonic = monotonic
        self.on_started = on_started or (lambda pid: None)
        self.on_ended = on_ended or (lambda pid: None)
        self.ingestor = ingestor
        self.proposer = proposer
        self.pruner = pruner
        self.target = target
        self.ended_early: str | None = None
        """Why the sweep ended before its last experiment (a budget, a target met)."""
        self.budget_deadline: float | None = None
        self.queue: deque[ExperimentRecord] = deque()
        self.running: dict[int, Running] = {}
        self.interrupted = 0
        self.stop_all = False
        self.next_poll = 0.0

    # -- public ------------------------------------------------------------------------------
    def drive(self) -> Outcome:
        """Run every queued experiment of the run; return how the run ended."""
        self.queue.extend(self.store.experiments(self.run.id, [State.QUEUED]))
        self.reporter.run_started(self.run, len(self.queue), self.scheduler.capacity)
        if self.options.max_time_s is not None:
            self.budget_deadline = self.monotonic() + self.options.max_time_s
        previous = self._install_signal_handlers()
        try:
            self._loop()
        finally:
            self._restore_signal_handlers(previous)
        return self._finish()

    # -- the loop ------------------------------------------------------------------------------
    def _loop(self) -> None:
        if not self.stop_all:
            with self.store.batch():
                self._launch_what_fits()
        while self.running or (self.queue and not self.stop_all):
            event = self.inbox.get(max(0.0, self._next_wakeup() - self.monotonic()))
            with self.store.batch():  # one commit for all this wake-up learns and starts
                while event is not None:
                    self._dispatch(event)
                    # Handle every event already waiting (another exit) before launching.
                    event = self.inbox.get(0)
                self._check_deadlines()
                if not self.stop_all:
                    self._launch_what_fits()

    def _dispatch(self, event: object) -> None:
        if isinstance(event, Exited):
            self._handle_exit(event)
        elif isinstance(event, Reported):
            self._handle_reports(event)
        elif isinstance(event, int):  # a signal number
            self._interrupt(event)

    def _next_wakeup(self) -> float:
        now = self.monotonic()
        wakeups = [self.next_poll if self.next_poll > now else now + STOP_POLL_S]
        for running in self.running.values():
            if running.kill_at is not None:
                wakeups.append(running.kill_at)
            elif running.deadline is not None and running.stop_reason is None:
                wakeups.append(running.deadline)
        if self.budget_deadline is not None and self.ended_early is None:
            wakeups.append(self.budget_deadline)
        wakeups.append(now + self.reporter.refresh_s)
        return min(wakeups)

    # -- launching -----------------------------------------------------------------------------
    def _launch_what_fits(self) -> None:
        while self.queue:
            allocation = self.scheduler.allocate()
            if allocation is None:
                return
            self._launch(self.queue.popleft(), allocation)

    def _launch(self, record: ExperimentRecord, allocation: Allocation) -> None:
        if self.proposer is not None:
            record = self._propose(record)
        log_path = record.log_path
        folder = os.path.dirname(log_path)
        artifacts = os.path.join(folder, ARTIFACTS_NAME)
        metrics_path = os.path.join(folder, METRICS_NAME)
        if not _made_new_folders(folder, artifacts):  # an earlier attempt's files are kept
            _keep_earlier_attempt(Path(log_path), Path(metrics_path))
        env = self._environment(record, allocation, artifacts, metrics_path)
        if self.ingestor is not None:
            self.ingestor.follow(record.id, log_path, metrics_path, artifacts)
        command = record.command
        if self.options.has_actions:
            command = self._with_actions(record, Path(folder))
        cwd = self.run.cwd
        if self.options.isolated_subdir is not None:
            from gridrun.isolation import experiment_workdir

            where = Path(folder)
            cwd = str(experiment_workdir(where.parent, where, self.options.isolated_subdir))
        now = self.clock()
        handle = self.backend.launch(Launch(record.id, command, cwd, env, log_path))
        if handle is None:  # could not start: its Exited event is queued
            self.store.mark_started(record.id, 0, allocation.cuda_visible_devices or None, now)
            self.running[record.id] = Running(record, Handle(record.id, 0), allocation, now, None)
            return
        self.on_started(handle.pid)
        gpus = allocation.cuda_visible_devices if allocation.gpu_shares else None
        self.store.mark_started(record.id, handle.pid, gpus, now)
        deadline = None
        if self.options.timeout_s is not None:
            deadline = self.monotonic() + self.options.timeout_s
        self.running[record.id] = Running(record, handle, allocation, now, deadline)
        self.reporter.experiment_started(record, gpus)

    def _propose(self, record: ExperimentRecord) -> ExperimentRecord:
        """An adaptive strategy's values for the experiment, recorded before it starts."""
        assert self.proposer is not None
        params, args = self.proposer.propose(record)
        command = [*self.options.command_prefix, *args]
        if (params, args, command) != (record.params, record.args, record.command):
            self.store.assign_experiment(record.id, params, args, command)
        return record._replace(params=params, args=args, command=command)

    def _with_actions(self, record: ExperimentRecord, folder: Path) -> list[str]:
        """The experiment's command wrapped by `gridrun.actions` (start and end actions)."""
        import json
        import sys

        failure_file = folder / ACTION_FAILURE_NAME
        failure_file.unlink(missing_ok=True)
        spec = {
            "start": list(self.options.on_experiment_start),
            "end": list(self.options.on_experiment_end),
            "command": list(record.command),
            "failure_file": str(failure_file),
        }
        return [sys.executable, "-m", "gridrun.actions", json.dumps(spec)]

    def _environment(
        self, record: ExperimentRecord, allocation: Allocation, artifacts: str, metrics: str
    ) -> dict[str, str]:
        env = dict(self.base_env)
        env.update(self.run_environment)
        env["GRID_RUN_NAME"] = self.run.name
        env["GRID_EXPERIMENT_NAME"] = record.name
        env["GRID_EXPERIMENT_ID"] = str(record.index)
        env["GRID_ARTIFACTS_DIR"] = artifacts
        env["GRID_METRICS_FILE"] = metrics
        env["CUDA_VISIBLE_DEVICES"] = allocation.cuda_visible_devices
        env.setdefault("PYTHONUNBUFFERED", "1")
        if "OMP_NUM_THREADS" not in env:
            env["OMP_NUM_THREADS"] = str(max(1, int(allocation.cpus)))
        return env

    # -- exits -----------------------------------------------------------------------------------
    def _handle_exit(self, event: Exited) -> None:
        """Record an exit. The freed slot is filled first, the bookkeeping done after, so
        that no CPU or GPU waits for the store, the metrics or the display."""
        running = self.running.pop(event.experiment_id, None)
        if running is None:
            return
        self.scheduler.release(running.allocation)
        if running.stop_reason is not None:  # what is left of its group ignored SIGTERM
            self.backend.kill(running.handle)
        record = running.record
        now = event.ended_at if event.ended_at is not None else self.clock()
        code = event.returncode
        exit_code, signum = (None, -code) if code < 0 else (code, None)
        if event.lost:
            exit_code, signum = None, None
        if running.stop_state is State.PREEMPTED and code != 0:
            state, reason = State.STOPPED, running.stop_reason
        elif running.stop_state is not None:
            state, reason = running.stop_state, running.stop_reason
        elif event.lost:
            state, reason = State.LOST, event.error
        elif code == 0:
            state, reason = State.SUCCEEDED, None
        else:
            state, reason = State.FAILED, event.error or self._action_failure(record)
        attempts = record.attempts + 1
        retry = (
            state in (State.FAILED, State.LOST)
            and attempts <= self.options.retries
            and not self.stop_all
        )
        if not retry and not self.stop_all and self.proposer is None:
            # Its files are its own: safe before the bookkeeping. (An adaptive strategy
            # waits: its next proposal learns from this result.)
            self._launch_what_fits()
        if running.handle.pid:
            self.on_ended(running.handle.pid)
        if self.ingestor is not None:  # every metric is recorded before the final state
            try:
                self.ingestor.finish(record.id, self.store)
            except Exception as error:
                self.reporter.message(f"metrics of {record.name} not recorded: {error}")
        if self.proposer is not None or self.pruner is not None or self.target is not None:
            self._learn(running, State.FAILED if retry else state)
        if retry:
            why = running.stop_reason or event.error or _describe_exit(exit_code, signum)
            self.store.mark_finished(
                record.id, State.QUEUED, exit_code, signum, f"retrying after {why}", now
            )
            self.reporter.experiment_retrying(record, attempts, why)
            self.queue.appendleft(_with_attempts(record, attempts))
            return
        self.store.mark_finished(
            record.id, state, exit_code, signum, reason, now, running.pruned_at
        )
        self.reporter.experiment_ended(record, state, exit_code, signum, now - running.started)

    def _learn(self, running: Running, state: State) -> None:
        """An attempt ended: the proposer, the pruning rule and the target learn its result."""
        record = running.record
        summary = self.store.experiment_summaries(record.id)
        if self.proposer is not None:
            self.proposer.tell(record.id, state, summary, running.pruned_at)
        if self.pruner is not None:
            points = None
            if running.pruned_at is None:  # every value of this attempt, read to its end
                history = self.store.metric_history([record.id], self.pruner.metric)[record.id]
                points = [
                    (p.step if p.step is not None else float(n), p.value)
                    for n, p in enumerate(history, start=1)
                ]
            self.pruner.finished(record.id, state is State.SUCCEEDED, points)
        if self.target is not None and self.ended_early is None:
            found = summary.get(self.target.metric)
            if found is not None:
                values = (found.last, found.min, found.max)
                if any(v is not None and self.target.met(v) for v in values):
                    self._end_early(f"target {self.target} met by {record.name}")

    # -- early stopping and targets ----------------------------------------------------------------
    def _handle_reports(self, event: Reported) -> None:
        """New values of the watched metrics: prune a losing experiment; end the sweep when
        the target is met."""
        running = self.running.get(event.experiment_id)
        for name, step, value, _ in event.rows:
            if (
                self.target is not None
                and name == self.target.metric
                and self.ended_early is None
                and self.target.met(value)
            ):
                who = running.record.name if running is not None else "an experiment"
                self._end_early(f"target {self.target} met by {who}", spare=running)
            if self.pruner is None or name != self.pruner.metric or running is None:
                continue
            running.reports += 1
            if running.stop_state is not None:
                continue
            decision = self.pruner.report(
                running.record.id, step if step is not None else float(running.reports), value
            )
            if decision is not None:
                running.pruned_at = (decision.step, decision.value)
                self._stop(running, State.PRUNED, decision.reason)
                self.reporter.message(f"{running.record.name}: {decision.reason}")

    def _end_early(self, reason: str, spare: Running | None = None) -> None:
        """End the sweep before its last experiment, as asked (a budget ran out, a target was
        met): nothing more starts, the running experiments stop (all but `spare`, the one that
        met the target, which finishes its work)."""
        self.ended_early = reason
        self.stop_all = True
        self.reporter.message(f"{reason}: launching nothing more")
        for running in self.running.values():
            if running is not spare and running.stop_state is None:
                self._stop(running, State.STOPPED, f"stopped: {reason}")

    def _action_failure(self, record: ExperimentRecord) -> str | None:
        if not self.options.has_actions:
            return None
        try:
            return (Path(record.log_path).parent / ACTION_FAILURE_NAME).read_text()
        except OSError:
            return None

    # -- stopping --------------------------------------------------------------------------------
    def _check_deadlines(self) -> None:
        now = self.monotonic()
        if (
            self.budget_deadline is not None
            and self.ended_early is None
            and now >= self.budget_deadline
        ):
            budget = self.options.max_time_s or 0
            self._end_early(f"the time budget --max_time {budget:g}s ran out")
        if now >= self.next_poll:
            self.next_poll = now + STOP_POLL_S
            self._poll_stop_requests()
        for running in list(self.running.values()):
            if running.kill_at is not None and now >= running.kill_at:
                self.backend.kill(running.handle)
                running.kill_at = None
            elif (
                running.stop_reason is None
                and running.deadline is not None
                and now >= running.deadline
            ):
                timeout = self.options.timeout_s or 0
                self._stop(running, State.FAILED, f"timed out after {timeout:g}s")

    def _poll_stop_requests(self) -> None:
        whole_run, experiment_ids = self.store.stop_requests(self.run.id)
        if whole_run and not self.stop_all:
            self.stop_all = True
            self.reporter.message("stop requested: launching nothing more")
            self._stop_everything("stopped by grid stop")
            return
        for experiment_id in experiment_ids:
            running = self.running.get(experiment_id)
            if running is not None and running.stop_state is None:
                self._stop(running, State.STOPPED, "stopped by grid stop")
                continue
            queued = next((r for r in self.queue if r.id == experiment_id), None)
            if queued is not None:
                self.queue.remove(queued)
                self.store.stop_queued(self.run.id, [experiment_id], self.clock())
                self.reporter.experiment_ended(queued, State.STOPPED, None, None, 0.0)

    def _stop(self, running: Running, state: State, reason: str) -> None:
        running.stop_state = state
        running.stop_reason = reason
        running.kill_at = self.monotonic() + self.options.grace_s
        self.backend.terminate(running.handle)

    def _stop_everything(self, reason: str) -> None:
        for running in self.running.values():
            if running.stop_state is None or running.stop_state is State.FAILED:
                self._stop(running, State.STOPPED, reason)

    def _interrupt(self, signum: int) -> None:
        self.interrupted += 1
        self.stop_all = True
        name = signal.Signals(signum).name
        if self.interrupted == 1:
            self.reporter.message(
                f"{name}: launching nothing more, stopping {len(self.running)} running "
                f"experiment(s) (again to kill them now)"
            )
            if signum == signal.SIGTERM and self.options.auto_resume:
                for running in self.running.values():
                    self._stop(running, State.PREEMPTED, "preempted: SIGTERM to the driver")
            else:
                self._stop_everything(f"stopped by {name} to the driver")
        else:
            for running in self.running.values():
                self.backend.kill(running.handle)

    def _install_signal_handlers(self) -> dict[int, Any]:
        previous: dict[int, Any] = {}

        def handler(signum: int, frame: object) -> None:
            self.inbox.put(signum)

        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread
                previous[signum] = signal.signal(signum, handler)
        return previous

    @staticmethod
    def _restore_signal_handlers(previous: dict[int, Any]) -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    # -- the end -----------------------------------------------------------------------------------
    def _finish(self) -> Outcome:
        if self.stop_all and self.queue:  # never started: stopped before they ran
            self.store.stop_queued(self.run.id, [r.id for r in self.queue], self.clock())
            self.queue.clear()
        run = self.store.get_run_by_id(self.run.id)
        assert run is not None
        counts = run.counts
        if self.ended_early is not None and not self.interrupted:
            failed = counts.get(State.FAILED.value) or counts.get(State.LOST.value)
            state = RunState.FAILED if failed else RunState.SUCCEEDED
        elif self.interrupted or self.stop_all:
            state = RunState.STOPPED
        elif counts.get(State.FAILED.value) or counts.get(State.LOST.value):
            state = RunState.FAILED
        elif counts.get(State.STOPPED.value) or counts.get(State.QUEUED.value):
            state = RunState.STOPPED
        else:
            state = RunState.SUCCEEDED
        self.store.finish_run(self.run.id, state, self.clock())
        code = 0 if state is RunState.SUCCEEDED else 1
        if self.interrupted:
            code = EXIT_INTERRUPTED
        outcome = Outcome(state, code, counts)
        final = self.store.get_run_by_id(self.run.id)
        assert final is not None
        failed = self.store.experiments(self.run.id, [State.FAILED, State.LOST])
        self.reporter.run_ended(final, failed)
        return outcome


def _describe_exit(exit_code: int | None, signum: int | None) -> str:
    if signum is not None:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(signum).name}"
        return f"signal {signum}"
    return f"exit code {exit_code}"


def _made_new_folders(folder: str, artifacts: str) -> bool:
    """Make the experiment's folder and its artifacts folder; whether the experiment's
    folder is new (two mkdir calls in the usual case: then no earlier attempt left files)."""
    try:
        os.mkdir(folder)
    except FileExistsError:
        os.makedirs(artifacts, exist_ok=True)
        return False
    except FileNotFoundError:  # the run's folder too is missing
        os.makedirs(artifacts)
        return True
    os.mkdir(artifacts)
    return True


def _keep_earlier_attempt(log_path: Path, metrics_path: Path) -> None:
    """Rename an earlier attempt's files to `stdout.attemptN.log`, `metrics.attemptN.jsonl`."""
    if not (log_path.exists() or metrics_path.exists()):
        return
    number = 1
    while (
        log_path.with_name(f"stdout.attempt{number}.log").exists()
        or metrics_path.with_name(f"metrics.attempt{number}.jsonl").exists()
    ):
        number += 1
    if log_path.exists():
        log_path.rename(log_path.with_name(f"stdout.attempt{number}.log"))
    if metrics_path.exists():
        metrics_path.rename(metrics_path.with_name(f"metrics.attempt{number}.jsonl"))


def _with_attempts(record: ExperimentRecord, attempts: int) -> ExperimentRecord:
    return record._replace(attempts=attempts)
