"""The Store contract, run against every implementation (today: SQLite)."""

from __future__ import annotations

import math
import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from gridrun.errors import UserError
from gridrun.store import (
    Driver,
    NewExperiment,
    NewRun,
    RunState,
    SQLiteStore,
    State,
    Store,
    open_store,
)
from gridrun.store.schema import SCHEMA_VERSION

DRIVER = Driver(pid=4242, host="host", started="123")


def new_run(name: str = "r") -> NewRun:
    return NewRun(
        name=name,
        invocation=["grid", "run", "t.py"],
        script="t.py",
        script_args=["--a", "[1, 2]"],
        space={"--a": "[1, 2]"},
        strategy="grid_search",
        seed=2**63 - 1,
        num_trials=None,
        options={"retries": 1},
        cwd="/tmp",
        git_commit="abc",
        git_dirty=True,
    )


def experiments(run: str, count: int) -> list[NewExperiment]:
    return [
        NewExperiment(i, f"{run}-exp{i}", {"--a": str(i)}, ["--a", str(i)], ["t.py", "--a", str(i)])
        for i in range(count)
    ]


@pytest.fixture(params=["sqlite"])
def store(request, tmp_path: Path) -> Store:
    opened = SQLiteStore(tmp_path / "gridrun.db")
    yield opened
    opened.close()


def create(store: Store, name: str = "r", count: int = 3):
    logs = [f"/logs/{name}-exp{i}" for i in range(count)]
    return store.create_run(new_run(name), experiments(name, count), logs, 100.0)


def test_create_and_read_back(store: Store):
    run = create(store)
    assert run.name == "r" and run.state is RunState.RUNNING
    assert run.seed == 2**63 - 1 and run.git_dirty is True and run.options == {"retries": 1}
    assert run.num_experiments == 3 and run.count(State.QUEUED) == 3
    records = store.experiments(run.id)
    assert [e.name for e in records] == ["r-exp0", "r-exp1", "r-exp2"]
    assert records[1].params == {"--a": "1"} and records[1].command == ["t.py", "--a", "1"]
    assert records[1].log_path == "/logs/r-exp1" and records[1].state is State.QUEUED
    assert store.get_experiment("r-exp2").index == 2
    assert store.get_run("missing") is None and store.get_experiment("missing") is None


def test_names_are_unique_and_creation_is_atomic(store: Store):
    create(store)
    with pytest.raises(UserError, match="exists"):
        create(store)
    with pytest.raises(ValueError):  # mismatched log paths: nothing is recorded
        store.create_run(new_run("half"), experiments("half", 3), ["/only-one"], 1.0)
    assert store.get_run("half") is None
    assert [r.name for r in store.list_runs()] == ["r"]


def test_experiment_life_cycle(store: Store):
    run = create(store)
    first, second, _ = store.experiments(run.id)
    store.claim_run(run.id, DRIVER, 101.0)
    store.mark_started(first.id, 11, "0,1", 102.0)
    store.mark_started(second.id, 12, None, 102.0)
    running = store.get_experiment_by_id(first.id)
    assert running.state is State.RUNNING and running.pid == 11 and running.gpus == "0,1"
    assert running.attempts == 1 and running.started_at == 102.0
    store.mark_finished(first.id, State.SUCCEEDED, 0, None, None, 105.0)
    store.mark_finished(second.id, State.FAILED, None, 9, "killed", 106.0)
    done = store.get_experiment_by_id(first.id)
    assert done.state is State.SUCCEEDED and done.exit_code == 0 and done.duration_s(0) == 3.0
    failed = store.get_experiment_by_id(second.id)
    assert failed.signal == 9 and failed.exit_code is None and failed.reason == "killed"
    store.finish_run(run.id, RunState.FAILED, 107.0)
    finished = store.get_run_by_id(run.id)
    assert finished.state is RunState.FAILED and finished.ended_at == 107.0
    assert finished.driver == DRIVER
    assert finished.counts == {"succeeded": 1, "failed": 1, "queued": 1}
    requeued = store.requeue(run.id, [State.FAILED, State.QUEUED])
    assert [e.name for e in requeued] == ["r-exp1", "r-exp2"]
    assert all(e.attempts == 0 and e.exit_code is None for e in requeued)
    assert store.get_experiment_by_id(first.id).state is State.SUCCEEDED


def test_overview_tells_what_experiments_and_summaries_tell(store: Store):
    run = create(store, count=4)
    first, second, third, _ = store.experiments(run.id)
    store.claim_run(run.id, DRIVER, 101.0)
    for experiment in (first, second, third):
        store.mark_started(experiment.id, 11, None, 102.0)
    store.add_metrics(first.id, [("loss", 1.0, 0.5, 103.0), ("loss", 2.0, 0.25, 104.0)], "stdout")
    store.add_metrics(first.id, [("acc", None, 0.75, 104.0)], "log")
    store.add_metrics(second.id, [("loss", 1.0, float("nan"), 103.0)], "stdout")
    store.mark_finished(first.id, State.SUCCEEDED, 0, None, None, 105.0)
    store.mark_finished(second.id, State.FAILED, None, 9, "killed", 106.0)
    overview = store.overview(run.id)
    assert [e.name for e in overview] == ["r-exp0", "r-exp1", "r-exp2", "r-exp3"]
    done, failed, running, queued = overview
    assert (done.state, done.exit_code, done.duration_s(0)) == (State.SUCCEEDED, 0, 3.0)
    assert done.params == {"--a": "0"} and done.last == {"loss": 0.25, "acc": 0.75}
    assert (failed.state, failed.signal) == (State.FAILED, 9)
    assert list(failed.last) == ["loss"] and math.isnan(failed.last["loss"])
    assert running.state is State.RUNNING and running.duration_s(110.0) == 8.0
    assert queued.last == {} and queued.duration_s(110.0) is None
    # the same as the contract's own reading, from `experiments` and `metric_summaries`
    default = Store.overview(store, run.id)
    assert [e._replace(last={}) for e in overview] == [e._replace(last={}) for e in default]
    assert [sorted(e.last) for e in overview] == [sorted(e.last) for e in default]
    assert store.overview(run.id + 1000) == []


def test_stop_requests(store: Store):
    run = create(store)
    first, second, third = store.experiments(run.id)
    assert store.stop_requests(run.id) == (False, set())
    store.request_stop(run.id, [second.id])
    assert store.stop_requests(run.id) == (False, {second.id})
    store.request_stop(run.id)
    assert store.stop_requests(run.id) == (True, {first.id, second.id, third.id})
    store.stop_queued(run.id, [third.id], 5.0)
    stopped = store.get_experiment_by_id(third.id)
    assert stopped.state is State.STOPPED and "before it started" in stopped.reason
    store.claim_run(run.id, DRIVER, 6.0)  # a new driver starts with no stale run request
    assert store.stop_requests(run.id)[0] is False


def test_lost_only_for_the_dead_driver(store: Store):
    run = create(store)
    first, *_ = store.experiments(run.id)
    store.claim_run(run.id, DRIVER, 1.0)
    store.mark_started(first.id, 11, None, 2.0)
    other = Driver(pid=1, host="host", started="9")
    assert store.mark_lost(run.id, other, 3.0) == 0
    assert store.mark_lost(run.id, DRIVER, 3.0) == 1
    assert store.get_experiment_by_id(first.id).state is State.LOST
    assert store.get_run_by_id(run.id).state is RunState.LOST


def test_delete(store: Store):
    run = create(store)
    create(store, "keep")
    first, *_ = store.experiments(run.id)
    store.delete_experiments([first.id])
    assert store.get_run_by_id(run.id).num_experiments == 2
    store.delete_run(run.id)
    assert store.get_run("r") is None and store.get_experiment("r-exp1") is None
    assert store.get_experiment("keep-exp0") is not None


def test_name_lookups(store: Store):
    create(store, "brave-otter-001")
    create(store, "brave-owl-002")
    assert store.run_names("brave-o") == ["brave-otter-001", "brave-owl-002"]
    assert store.run_names("brave-ott") == ["brave-otter-001"]
    assert store.experiment_names("brave-owl-002-exp") == [
        f"brave-owl-002-exp{i}" for i in range(3)
    ]
    assert store.experiment_names("-exp2", suffix=True) == [
        "brave-otter-001-exp2",
        "brave-owl-002-exp2",
    ]
    assert store.run_names("%") == [] and store.experiment_names("_", suffix=True) == []


def test_list_runs_newest_first_and_by_state(store: Store):
    one = create(store, "one")
    create(store, "two")
    store.finish_run(one.id, RunState.SUCCEEDED, 5.0)
    assert [r.name for r in store.list_runs()] == ["two", "one"]
    assert [r.name for r in store.list_runs([RunState.RUNNING])] == ["two"]


def test_migrations_set_wal_and_version(tmp_path: Path):
    store = open_store(tmp_path)
    store.close()
    connection = sqlite3.connect(tmp_path / "gridrun.db")
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    connection.close()
    SQLiteStore(tmp_path / "gridrun.db").close()  # opening again migrates nothing


def _hammer_reads(path: str, rounds: int, errors) -> None:
    store = SQLiteStore(Path(path))
    try:
        for _ in range(rounds):
            for run in store.list_runs():
                store.experiments(run.id)
    except Exception as error:
        errors.put(repr(error))
    finally:
        store.close()


def test_readers_never_see_locked_while_a_writer_writes(tmp_path: Path):
    path = tmp_path / "gridrun.db"
    writer = SQLiteStore(path)
    run = writer.create_run(new_run(), experiments("r", 200), [f"/l{i}" for i in range(200)], 1.0)
    context = multiprocessing.get_context("spawn")
    errors = context.Queue()
    readers = [
        context.Process(target=_hammer_reads, args=(str(path), 150, errors)) for _ in range(3)
    ]
    for reader in readers:
        reader.start()
    for record in writer.experiments(run.id):
        writer.mark_started(record.id, 1, None, 2.0)
        writer.mark_finished(record.id, State.SUCCEEDED, 0, None, None, 3.0)
    for reader in readers:
        reader.join(timeout=120)
        assert reader.exitcode == 0
    assert errors.empty(), errors.get()
    assert writer.get_run_by_id(run.id).count(State.SUCCEEDED) == 200
    writer.close()
