"""Running a sweep: record the planned run, then drive it here or in a detached driver;
resume a run; tell readers which runs lost their driver.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from gridrun.backends.base import Backend
from gridrun.backends.local import LocalBackend
from gridrun.driver import DriveOptions, Outcome, Reported, RunDriver
from gridrun.errors import UserError
from gridrun.inbox import Inbox
from gridrun.ingest import POLL_S, WATCHED_POLL_S, MetricsIngestor
from gridrun.names import random_run_name
from gridrun.paths import log_paths, run_dir
from gridrun.processes import (
    DRIVER_VARIABLE,
    driver_alive,
    driver_marker,
    stop_groups,
    this_driver,
)
from gridrun.progress import Reporter
from gridrun.scheduler import Inventory, Request, Scheduler
from gridrun.spec.syntax import to_syntax
from gridrun.store import open_store
from gridrun.store.base import Store
from gridrun.store.records import NewExperiment, NewRun, RunRecord, RunState, State
from gridrun.sweep import Plan, SweepRequest
from gridrun.watchdog import Watchdog

if TYPE_CHECKING:
    from gridrun.tuning.proposer import BayesianProposer
    from gridrun.tuning.pruning import PruningRule
    from gridrun.tuning.targets import Target

RESUMABLE = (State.FAILED, State.STOPPED, State.LOST, State.QUEUED, State.PREEMPTED)


class RunOptions(NamedTuple):
    """How a run's experiments run; recorded with the run (resume reuses them)."""

    max_parallel: int | None = None
    cpus: float = 1.0
    gpus: float = 0.0
    memory_gb: float | None = None
    retries: int = 0
    timeout_s: float | None = None
    grace_s: float = 10.0
    environment: dict[str, str] | None = None
    """Variables set for the experiments (None: none)."""
    metric: str | None = None
    mode: str = "min"
    on_experiment_start: Sequence[str] = ()
    on_experiment_end: Sequence[str] = ()
    auto_resume: bool = False
    isolate: bool = False
    isolate_subdir: str = ""
    """In an isolated run: the folder of the snapshot where experiments run."""
    early_stop: str | None = None
    """`median` or `asha`: stop losing experiments early, by --metric."""
    max_time_s: float | None = None
    stop_when: str | None = None
    """A target such as `val_loss<0.1` that ends the sweep once met."""
    command_prefix: Sequence[str] = ()
    """For an adaptive strategy: what comes before the arguments it chooses."""
    backend: str = "local"
    """`local` (this machine) or `ray` (a Ray cluster)."""
    address: str | None = None
    """With `ray`: the cluster's address (None: a local Ray started for the run)."""
    shared_fs: bool = False
    """With `ray`: the run's folder and GRIDRUN_HOME are at the same paths on every node."""

    def to_json(self) -> dict[str, Any]:
        """The options as recorded: the environment a dict and the sequences lists (copies)."""
        return {
            **self._asdict(),
            "environment": dict(self.environment or {}),
            "on_experiment_start": list(self.on_experiment_start),
            "on_experiment_end": list(self.on_experiment_end),
            "command_prefix": list(self.command_prefix),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunOptions:
        known = {k: v for k, v in data.items() if k in cls._fields}
        return cls(**known)

    def request(self) -> Request:
        return Request(self.cpus, self.gpus, self.memory_gb)


def git_state(cwd: str) -> tuple[str | None, bool | None]:
    """The commit checked out in `cwd` and whether the work tree differs from it (the two
    questions are asked of git at the same time)."""
    folder = Path(cwd).resolve()
    if not any((p / ".git").exists() for p in (folder, *folder.parents)):
        return None, None
    import shutil
    import subprocess

    git = shutil.which("git")
    if git is None:
        return None, None
    asks = ([git, "rev-parse", "HEAD"], [git, "status", "--porcelain", "--untracked-files=no"])
    processes: list[subprocess.Popen] = []
    try:
        for argv in asks:
            processes.append(
                subprocess.Popen(
                    argv,
                    cwd=cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
            )
        (head, _), (status, _) = (p.communicate(timeout=30) for p in processes)
    except (OSError, subprocess.TimeoutExpired):
        for process in processes:
            process.kill()
            process.wait()
        return None, None
    if processes[0].returncode != 0:
        return None, None
    return head.strip(), bool(status.strip()) if processes[1].returncode == 0 else None


def check_command(command: tuple[str, ...], script: str, cwd: str) -> None:
    """Fail before recording anything if the script or the program cannot be found."""
    if not script.strip():
        raise UserError("the script is empty: grid run [OPTIONS] SCRIPT [ARGS]...")
    program = command[0]
    if script.endswith((".py", ".sh")) or os.sep in script:
        path = Path(cwd) / script
        if path.is_dir():
            raise UserError(f"{script} is a folder, not a script (in {cwd})")
        if not path.exists():
            raise UserError(f"script not found: {script} (in {cwd})")
    elif not Path(cwd, script).is_file() and not _on_path(script):
        raise UserError(f"command not found: {script!r} (not a file here, nor on PATH)")
    if program != script and os.sep in program and not os.path.exists(program):
        raise UserError(f"interpreter not found: {program}")


def _on_path(program: str) -> bool:
    import shutil

    return shutil.which(program) is not None


def choose_name(store: Store, name: str | None) -> str:
    if name:
        if store.get_run(name) is not None:
            raise UserError(
                f"a run named {name!r} exists; choose another --name, or `grid resume {name}`"
            )
        return name
    for _ in range(100):
        candidate = random_run_name()
        if store.get_run(candidate) is None:
            return candidate
    raise UserError("could not find a free run name; give one with --name")


def record_run(
    store: Store,
    plan: Plan,
    request: SweepRequest,
    options: RunOptions,
    invocation: list[str],
    cwd: str,
    home: Path,
) -> RunRecord:
    """Record the run and its queued experiments, all at once."""
    commit, dirty = git_state(cwd)
    new_run = NewRun(
        name=plan.run,
        invocation=invocation,
        script=request.script,
        script_args=list(request.script_args),
        space={
            flag.name: to_syntax(flag.domain) for _, flag in plan.space.dimensions if flag.domain
        },
        strategy=plan.strategy,
        seed=plan.seed,
        num_trials=request.num_trials,
        options=options.to_json(),
        cwd=cwd,
        git_commit=commit,
        git_dirty=dirty,
    )
    experiments = [
        NewExperiment(e.index, e.name, e.params, list(e.args), list(e.command)) for e in plan
    ]
    logs = log_paths(plan.run, [e.name for e in experiments], home)
    return store.create_run(new_run, experiments, logs, time.time())


def build_scheduler(options: RunOptions, env: dict[str, str] | None = None) -> Scheduler:
    return Scheduler(Inventory.detect(env), options.request(), options.max_parallel)


def check_backend(options: RunOptions) -> None:
    """Fail before anything is recorded if the run cannot run on its backend."""
    if options.backend == "ray":
        from gridrun.backends.ray import check_reachable, import_ray

        import_ray()
        if options.address is not None:
            check_reachable(options.address)  # a typo, a cluster down: nothing recorded
        if options.isolate:
            raise UserError(
                "--isolate does not work with --backend ray: Ray's working_dir already gives "
                "the workers a copy of the project taken when the run starts"
            )
        options.request()  # validates
    else:
        build_scheduler(options)  # resources that cannot fit here


def drive_run(
    store: Store,
    run: RunRecord,
    home: Path,
    reporter: Reporter,
    env: dict[str, str] | None = None,
) -> Outcome:
    """Drive `run` from this process to its end (its experiments must be queued)."""
    options = RunOptions.from_json(run.options)
    inbox = Inbox()
    local = options.backend != "ray"
    backend: Backend | None = None
    scheduler: Any = None
    if local:
        scheduler = build_scheduler(options, env)
        backend = LocalBackend(inbox)
        for notice in scheduler.notices:
            reporter.message(notice)
    driver = this_driver()
    store.claim_run(run.id, driver, time.time())
    env = dict(os.environ if env is None else env)
    env[DRIVER_VARIABLE] = driver_marker(driver)
    watchdog = Watchdog(home, run.id, driver, min(options.grace_s, 30.0))
    proposer, pruner, target = build_tuning(store, run, options)
    watched = frozenset(r.metric for r in (pruner, target) if r is not None)
    ingestor = MetricsIngestor(  # a thread: after the fork
        lambda: open_store(home),
        poll_s=WATCHED_POLL_S if watched else POLL_S,
        watched=watched,
        on_points=(lambda eid, rows: inbox.put(Reported(eid, rows))) if watched else None,
    )
    closing = None
    try:
        if not local:  # after the fork: Ray starts threads
            from gridrun.backends.ray import open_ray

            backend, scheduler, closing = open_ray(options, run, home, inbox, reporter)
        assert backend is not None
        run_driver = RunDriver(
            store=store,
            run=run,
            backend=backend,
            inbox=inbox,
            scheduler=scheduler,
            options=DriveOptions(
                options.retries,
                options.timeout_s,
                options.grace_s,
                tuple(options.on_experiment_start),
                tuple(options.on_experiment_end),
                options.auto_resume,
                options.isolate_subdir if options.isolate else None,
                options.max_time_s,
                tuple(options.command_prefix),
            ),
            reporter=reporter,
            home=home,
            env=env,
            on_started=watchdog.watch if local else None,  # it stops local process groups
            on_ended=watchdog.unwatch if local else None,
            ingestor=ingestor,
            proposer=proposer,
            pruner=pruner,
            target=target,
        )
        outcome = run_driver.drive()
    except BaseException:
        ingestor.close()
        watchdog.abandon()  # its experiments must not outlive a driver that failed
        if closing is not None:
            closing()
        raise
    ingestor.close()
    watchdog.close()
    if closing is not None:
        closing()
    inbox.close()
    return outcome


def build_tuning(
    store: Store, run: RunRecord, options: RunOptions
) -> tuple[BayesianProposer | None, PruningRule | None, Target | None]:
    """The proposer of an adaptive strategy, the early-stopping rule and the target of `run`,
    each rebuilt from what the store holds (so that a resumed run goes on where it was)."""
    proposer = pruner = target = None
    if run.strategy == "bayesian" or options.early_stop:
        from gridrun.results import Objective

        if not options.metric:
            raise UserError(f"run {run.name} has no --metric to optimize")
        objective = Objective(options.metric, options.mode)
        finished = [e for e in store.experiments(run.id) if e.state.final]
        if run.strategy == "bayesian":
            from gridrun.spec.space import SearchSpace
            from gridrun.tuning.proposer import BayesianProposer

            proposer = BayesianProposer(SearchSpace.from_args(run.script_args), objective, run.seed)
            proposer.restore(
                finished,
                store.metric_summaries(run.id),
                {
                    e.id: (e.pruned_step, e.pruned_value)
                    for e in finished
                    if e.pruned_step is not None and e.pruned_value is not None
                },
            )
        if options.early_stop:
            from gridrun.tuning.pruning import make_rule

            pruner = make_rule(options.early_stop, options.metric, options.mode)
            history = store.metric_history([e.id for e in finished], options.metric)
            for record in finished:
                points = [
                    (p.step if p.step is not None else float(n), p.value)
                    for n, p in enumerate(history.get(record.id, []), start=1)
                ]
                if record.pruned_step is not None:
                    points = [pt for pt in points if pt[0] <= record.pruned_step]
                pruner.restore(record.id, points, record.state is State.SUCCEEDED)
    if options.stop_when:
        from gridrun.tuning.targets import Target

        target = Target.parse(options.stop_when)
    return proposer, pruner, target


def detach_driver(store: Store, run: RunRecord, home: Path) -> int:
    """Start a driver for `run` in the background, in its own session; return its pid.

    The caller holds the run (as its driver) until the new process claims it, so that the
    run is never without a driver that readers can check."""
    folder = run_dir(run.name, home)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "driver.log", "ab") as log:
        import subprocess

        process = subprocess.Popen(
            [sys.executable, "-m", "gridrun", "_drive", run.name],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=run.cwd,
            start_new_session=True,
        )
    # Return once the new driver holds the run: a reader must never see it held by the
    # starter, which is about to exit (and would look like a dead driver).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        current = store.get_run_by_id(run.id)
        if current is not None and current.driver is not None and current.driver.pid == process.pid:
            break
        time.sleep(0.005)
    return process.pid


def reconcile(store: Store) -> None:
    """Runs whose driver is gone are lost, and so are their running experiments."""
    for run in store.list_runs([RunState.RUNNING]):
        if run.driver is not None and not driver_alive(run.driver):
            store.mark_lost(run.id, run.driver, time.time())


def prepare_resume(store: Store, run: RunRecord) -> int:
    """Queue again every experiment of `run` that did not succeed; return how many."""
    if run.state is RunState.RUNNING and run.driver is not None and driver_alive(run.driver):
        raise UserError(
            f"run {run.name} is still being driven (pid {run.driver.pid}); "
            f"`grid stop run {run.name}` first"
        )
    if not os.path.isdir(run.cwd):
        raise UserError(f"cannot resume {run.name}: its folder {run.cwd} is gone")
    if run.driver is not None:
        # Whatever the dead driver left behind must end before its experiments start again.
        grace_s = float(run.options.get("grace_s", 10.0))
        stop_groups((), driver_marker(run.driver), min(grace_s, 30.0))
        if run.state is RunState.RUNNING:
            store.mark_lost(run.id, run.driver, time.time())
    if not store.take_over(run.id, run.driver, this_driver(), time.time()):
        raise UserError(f"run {run.name} is being resumed by another process")
    return len(store.requeue(run.id, RESUMABLE))
