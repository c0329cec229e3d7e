"""The SQLite store: WAL journal, one writer and many readers, migrations by user_version.

Readers never block in WAL mode; writers take the lock with `BEGIN IMMEDIATE` and wait for
it (busy timeout) instead of failing with "database is locked".
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gridrun.errors import GridrunError, UserError
from gridrun.store.base import Store
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
from gridrun.store.schema import MIGRATIONS, SCHEMA_VERSION

BUSY_TIMEOUT_S = 60.0

RUN_COLUMNS = (
    "id, name, state, invocation, script, script_args, space, strategy, seed, num_trials, "
    "options, cwd, git_commit, git_dirty, created_at, started_at, ended_at, driver_pid, "
    "driver_host, driver_started, num_experiments, stop_requested"
)
EXPERIMENT_COLUMNS = (
    "e.id, e.run_id, r.name, e.idx, e.name, e.params, e.args, e.command, e.state, e.exit_code, "
    "e.signal, e.attempts, e.started_at, e.ended_at, e.pid, e.log_path, e.gpus, e.reason, "
    "e.stop_requested, e.pruned_step, e.pruned_value"
)


class StoreVersionError(GridrunError):
    """The store was written by a newer gridrun than this one."""


class SQLiteStore(Store):
    """The store in one SQLite file (created, and migrated, on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._in_batch = False
        self._batch_begun = False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.connection = sqlite3.connect(
                str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            self.connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self.connection.execute("PRAGMA foreign_keys = ON")
            self.connection.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except (OSError, sqlite3.DatabaseError) as error:
            raise UserError(
                f"cannot open the store {path}: {error} (GRIDRUN_HOME={path.parent})"
            ) from None

    # -- plumbing ------------------------------------------------------------------------------
    def _migrate(self) -> None:
        version = self.connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreVersionError(
                f"the store {self.path} has schema version {version}, newer than this "
                f"gridrun's {SCHEMA_VERSION}: upgrade gridrun"
            )
        if version == SCHEMA_VERSION:
            return
        if self.connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self.connection.execute("PRAGMA journal_mode = WAL")
        with self._write():
            version = self.connection.execute("PRAGMA user_version").fetchone()[0]
            for number in range(version, SCHEMA_VERSION):
                for statement in _statements(MIGRATIONS[number]):
                    self.connection.execute(statement)
                self.connection.execute(f"PRAGMA user_version = {number + 1}")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: the lock taken at once, committed or rolled back whole
        (inside a `batch`, part of the batch's transaction, begun by its first write)."""
        if self._in_batch:
            if not self._batch_begun:
                self.connection.execute("BEGIN IMMEDIATE")
                self._batch_begun = True
            self.connection.execute("SAVEPOINT write")
            try:
                yield self.connection
            except BaseException:
                self.connection.execute("ROLLBACK TO write")
                self.connection.execute("RELEASE write")
                raise
            self.connection.execute("RELEASE write")
            return
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield self.connection
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    @contextmanager
    def batch(self) -> Iterator[None]:
        if self._in_batch:  # already in one: part of it
            yield
            return
        self._in_batch, self._batch_begun = True, False
        try:
            yield
        finally:  # even after an error: what was recorded before it happened
            self._in_batch = False
            if self._batch_begun:
                self._batch_begun = False
                self.connection.execute("COMMIT")

    def commit_batch(self) -> None:
        if self._batch_begun:
            self._batch_begun = False
            self.connection.execute("COMMIT")

    def _write_one(self, sql: str, parameters: Sequence[Any]) -> None:
        """One statement: a transaction of its own (SQLite makes each statement whole), or
        part of the batch's."""
        if self._in_batch and not self._batch_begun:
            self.connection.execute("BEGIN IMMEDIATE")
            self._batch_begun = True
        self.connection.execute(sql, parameters)

    def _read(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.connection.execute(sql, parameters).fetchall()

    def close(self) -> None:
        self.connection.close()

    # -- the driver's writes ---------------------------------------------------------------------
    def create_run(
        self,
        run: NewRun,
        experiments: Iterable[NewExperiment],
        log_paths: Sequence[str],
        now: float,
    ) -> RunRecord:
        rows = (
            (
                e.index,
                e.name,
                json.dumps(e.params),
                json.dumps(e.args),
                json.dumps(e.command),
                State.QUEUED.value,
                log_path,
            )
            for e, log_path in zip(experiments, log_paths, strict=True)
        )
        with self._write() as db:
            if db.execute("SELECT 1 FROM runs WHERE name = ?", (run.name,)).fetchone():
                raise UserError(
                    f"a run named {run.name!r} exists; choose another --name, "
                    f"or `grid resume {run.name}` to finish it"
                )
            cursor = db.execute(
                "INSERT INTO runs (name, state, invocation, script, script_args, space, "
                "strategy, seed, num_trials, options, cwd, git_commit, git_dirty, created_at, "
                "num_experiments) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.name,
                    RunState.RUNNING.value,
                    json.dumps(run.invocation),
                    run.script,
                    json.dumps(run.script_args),
                    json.dumps(run.space),
                    run.strategy,
                    run.seed,
                    run.num_trials,
                    json.dumps(run.options),
                    run.cwd,
                    run.git_commit,
                    None if run.git_dirty is None else int(run.git_dirty),
                    now,
                    len(log_paths),
                ),
            )
            run_id = cursor.lastrowid
            db.executemany(
                f"INSERT INTO experiments (run_id, idx, name, params, args, command, state, "
                f"log_path) VALUES ({run_id}, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        record = self.get_run_by_id(int(run_id or 0))
        assert record is not None
        return record

    def claim_run(self, run_id: int, driver: Driver, now: float) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE runs SET state = ?, driver_pid = ?, driver_host = ?, driver_started = ?, "
                "started_at = COALESCE(started_at, ?), ended_at = NULL, stop_requested = 0 "
                "WHERE id = ?",
                (RunState.RUNNING.value, driver.pid, driver.host, driver.started, now, run_id),
            )

    def take_over(self, run_id: int, previous: Driver | None, driver: Driver, now: float) -> bool:
        before = (
            (None, None, None)
            if previous is None
            else (previous.pid, previous.host, previous.started)
        )
        with self._write() as db:
            cursor = db.execute(
                "UPDATE runs SET state = ?, driver_pid = ?, driver_host = ?, driver_started = ?, "
                "ended_at = NULL, stop_requested = 0 WHERE id = ? AND driver_pid IS ? AND "
                "driver_host IS ? AND driver_started IS ?",
                (RunState.RUNNING.value, driver.pid, driver.host, driver.started, run_id, *before),
            )
            return cursor.rowcount == 1

    def mark_started(self, experiment_id: int, pid: int, gpus: str | None, now: float) -> None:
        self._write_one(
            "UPDATE experiments SET state = ?, pid = ?, gpus = ?, started_at = ?, "
            "ended_at = NULL, exit_code = NULL, signal = NULL, reason = NULL, "
            "pruned_step = NULL, pruned_value = NULL, attempts = attempts + 1 WHERE id = ?",
            (State.RUNNING.value, pid, gpus, now, experiment_id),
        )

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
        step, value = pruned_at if pruned_at is not None else (None, None)
        if value is not None and math.isnan(value):
            value = None
        update = (
            "UPDATE experiments SET state = ?, exit_code = ?, signal = ?, reason = ?, "
            "ended_at = ?, pruned_step = ?, pruned_value = ? WHERE id = ?"
        )
        parameters = (state.value, exit_code, signal, reason, now, step, value, experiment_id)
        if state is not State.QUEUED:
            self._write_one(update, parameters)
            return
        with self._write() as db:  # to be retried: its next attempt starts afresh
            _forget_metrics(db, [experiment_id])
            db.execute(update, parameters)

    def assign_experiment(
        self, experiment_id: int, params: dict[str, str], args: list[str], command: list[str]
    ) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE experiments SET params = ?, args = ?, command = ? WHERE id = ?",
                (json.dumps(params), json.dumps(args), json.dumps(command), experiment_id),
            )

    def finish_run(self, run_id: int, state: RunState, now: float) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE runs SET state = ?, ended_at = ?, stop_requested = 0 WHERE id = ?",
                (state.value, now, run_id),
            )

    def requeue(self, run_id: int, states: Sequence[State]) -> list[ExperimentRecord]:
        marks = ", ".join("?" for _ in states)
        with self._write() as db:
            ids = [
                row[0]
                for row in db.execute(
                    f"SELECT id FROM experiments WHERE run_id = ? AND state IN ({marks})",
                    (run_id, *(s.value for s in states)),
                )
            ]
            _forget_metrics(db, ids)
            db.execute(
                f"UPDATE experiments SET state = ?, stop_requested = 0, attempts = 0, "
                f"exit_code = NULL, signal = NULL, reason = NULL, pid = NULL, "
                f"started_at = NULL, ended_at = NULL, pruned_step = NULL, pruned_value = NULL "
                f"WHERE run_id = ? AND state IN ({marks})",
                (State.QUEUED.value, run_id, *(s.value for s in states)),
            )
        return self.experiments(run_id, [State.QUEUED])

    def add_metrics(
        self,
        experiment_id: int,
        rows: Sequence[tuple[str, float | None, float, float]],
        source: str,
    ) -> None:
        if not rows:
            return
        summaries: dict[str, list[Any]] = {}
        isfinite = math.isfinite
        for name, step, value, when in rows:
            summary = summaries.get(name)
            if summary is None:
                summary = summaries[name] = [value, step, None, None, 0, when]
            else:
                summary[0], summary[1], summary[5] = value, step, when
            summary[4] += 1
            if isfinite(value):
                low, high = summary[2], summary[3]
                if low is None or value < low:
                    summary[2] = value
                if high is None or value > high:
                    summary[3] = value
        with self._write() as db:
            db.executemany(
                f"INSERT INTO metrics (experiment_id, name, step, value, time, source) "
                f"VALUES ({int(experiment_id)}, ?, ?, ?, ?, '{_source(source)}')",
                rows,
            )
            db.executemany(
                "INSERT INTO metric_summaries (experiment_id, name, last, last_step, min, max, "
                "count, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (experiment_id, name) DO UPDATE SET last = excluded.last, "
                "last_step = excluded.last_step, "
                "min = MIN(COALESCE(min, excluded.min), COALESCE(excluded.min, min)), "
                "max = MAX(COALESCE(max, excluded.max), COALESCE(excluded.max, max)), "
                "count = count + excluded.count, updated_at = excluded.updated_at",
                [(experiment_id, name, *summary) for name, summary in summaries.items()],
            )

    # -- requests from other processes -----------------------------------------------------------
    def request_stop(self, run_id: int, experiment_ids: Sequence[int] | None = None) -> None:
        with self._write() as db:
            if experiment_ids is None:
                db.execute("UPDATE runs SET stop_requested = 1 WHERE id = ?", (run_id,))
                db.execute(
                    "UPDATE experiments SET stop_requested = 1 WHERE run_id = ? AND state IN "
                    "(?, ?)",
                    (run_id, State.QUEUED.value, State.RUNNING.value),
                )
            else:
                db.executemany(
                    "UPDATE experiments SET stop_requested = 1 WHERE id = ?",
                    [(i,) for i in experiment_ids],
                )

    def stop_requests(self, run_id: int) -> tuple[bool, set[int]]:
        run = self._read("SELECT stop_requested FROM runs WHERE id = ?", (run_id,))
        rows = self._read(
            "SELECT id FROM experiments WHERE run_id = ? AND stop_requested = 1 AND state IN "
            "(?, ?)",
            (run_id, State.QUEUED.value, State.RUNNING.value),
        )
        return bool(run and run[0][0]), {row[0] for row in rows}

    def stop_queued(self, run_id: int, experiment_ids: Sequence[int], now: float) -> None:
        with self._write() as db:
            db.executemany(
                "UPDATE experiments SET state = ?, reason = ?, ended_at = ? "
                "WHERE id = ? AND state = ?",
                [
                    (State.STOPPED.value, "stopped before it started", now, i, State.QUEUED.value)
                    for i in experiment_ids
                ],
            )

    def delete_run(self, run_id: int) -> None:
        with self._write() as db:
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    def delete_experiments(self, experiment_ids: Sequence[int]) -> None:
        with self._write() as db:
            for experiment_id in experiment_ids:
                row = db.execute(
                    "SELECT run_id FROM experiments WHERE id = ?", (experiment_id,)
                ).fetchone()
                if row is None:
                    continue
                db.execute("DELETE FROM experiments WHERE id = ?", (experiment_id,))
                db.execute(
                    "UPDATE runs SET num_experiments = num_experiments - 1 WHERE id = ?",
                    (row[0],),
                )

    def mark_lost(self, run_id: int, driver: Driver, now: float) -> int:
        with self._write() as db:
            owner = db.execute(
                "SELECT driver_pid, driver_host, driver_started, state FROM runs WHERE id = ?",
                (run_id,),
            ).fetchone()
            if owner is None or tuple(owner[:3]) != (driver.pid, driver.host, driver.started):
                return 0
            cursor = db.execute(
                "UPDATE experiments SET state = ?, reason = ?, ended_at = ? "
                "WHERE run_id = ? AND state = ?",
                (State.LOST.value, "its driver died", now, run_id, State.RUNNING.value),
            )
            lost = cursor.rowcount
            db.execute(
                "UPDATE experiments SET state = ?, reason = ?, ended_at = ? "
                "WHERE run_id = ? AND state = ?",
                (
                    State.STOPPED.value,
                    "its driver died before it started",
                    now,
                    run_id,
                    State.QUEUED.value,
                ),
            )
            if owner[3] == RunState.RUNNING.value:
                db.execute(
                    "UPDATE runs SET state = ?, ended_at = ? WHERE id = ?",
                    (RunState.LOST.value, now, run_id),
                )
            return lost

    # -- reads -------------------------------------------------------------------------------------
    def get_run(self, name: str) -> RunRecord | None:
        rows = self._read(f"SELECT {RUN_COLUMNS} FROM runs WHERE name = ?", (name,))
        return self._runs(rows)[0] if rows else None

    def get_run_by_id(self, run_id: int) -> RunRecord | None:
        rows = self._read(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,))
        return self._runs(rows)[0] if rows else None

    def list_runs(self, states: Sequence[RunState] | None = None) -> list[RunRecord]:
        sql = f"SELECT {RUN_COLUMNS} FROM runs"
        parameters: list[str] = []
        if states:
            sql += f" WHERE state IN ({', '.join('?' for _ in states)})"
            parameters = [s.value for s in states]
        return self._runs(self._read(sql + " ORDER BY created_at DESC, id DESC", parameters))

    def experiments(
        self, run_id: int, states: Sequence[State] | None = None
    ) -> list[ExperimentRecord]:
        sql = (
            f"SELECT {EXPERIMENT_COLUMNS} FROM experiments e JOIN runs r ON r.id = e.run_id "
            "WHERE e.run_id = ?"
        )
        parameters: list[Any] = [run_id]
        if states:
            sql += f" AND e.state IN ({', '.join('?' for _ in states)})"
            parameters += [s.value for s in states]
        return [_experiment(row) for row in self._read(sql + " ORDER BY e.idx", parameters)]

    def get_experiment(self, name: str) -> ExperimentRecord | None:
        rows = self._read(
            f"SELECT {EXPERIMENT_COLUMNS} FROM experiments e JOIN runs r ON r.id = e.run_id "
            "WHERE e.name = ?",
            (name,),
        )
        return _experiment(rows[0]) if rows else None

    def get_experiment_by_id(self, experiment_id: int) -> ExperimentRecord | None:
        rows = self._read(
            f"SELECT {EXPERIMENT_COLUMNS} FROM experiments e JOIN runs r ON r.id = e.run_id "
            "WHERE e.id = ?",
            (experiment_id,),
        )
        return _experiment(rows[0]) if rows else None

    def experiment_summaries(self, experiment_id: int) -> dict[str, MetricSummary]:
        rows = self._read(
            "SELECT name, last, last_step, min, max, count FROM metric_summaries "
            "WHERE experiment_id = ? ORDER BY name",
            (experiment_id,),
        )
        return {
            name: MetricSummary(name, _nan_if_null(last), *fields) for name, last, *fields in rows
        }

    def metric_summaries(self, run_id: int) -> dict[int, dict[str, MetricSummary]]:
        rows = self._read(
            "SELECT s.experiment_id, s.name, s.last, s.last_step, s.min, s.max, s.count "
            "FROM metric_summaries s JOIN experiments e ON e.id = s.experiment_id "
            "WHERE e.run_id = ? ORDER BY s.name",
            (run_id,),
        )
        summaries: dict[int, dict[str, MetricSummary]] = {}
        for experiment_id, name, last, *fields in rows:
            summaries.setdefault(experiment_id, {})[name] = MetricSummary(
                name, _nan_if_null(last), *fields
            )
        return summaries

    def overview(self, run_id: int) -> list[ExperimentOverview]:
        last: dict[int, dict[str, float]] = {}
        for experiment_id, name, value in self._read(
            "SELECT s.experiment_id, s.name, s.last FROM metric_summaries s "
            "JOIN experiments e ON e.id = s.experiment_id WHERE e.run_id = ?",
            (run_id,),
        ):
            last.setdefault(experiment_id, {})[name] = math.nan if value is None else value
        rows = self._read(
            "SELECT id, name, state, params, exit_code, signal, started_at, ended_at "
            "FROM experiments WHERE run_id = ? ORDER BY idx",
            (run_id,),
        )
        return [
            ExperimentOverview(
                id_, name, State(state), json.loads(params), *fields, last.get(id_, {})
            )
            for id_, name, state, params, *fields in rows
        ]

    def metric_history(
        self, experiment_ids: Sequence[int], name: str | None = None
    ) -> dict[int, list[MetricPoint]]:
        history: dict[int, list[MetricPoint]] = {i: [] for i in experiment_ids}
        for start in range(0, len(experiment_ids), 500):
            chunk = list(experiment_ids[start : start + 500])
            sql = (
                "SELECT experiment_id, name, value, step, time FROM metrics WHERE "
                f"experiment_id IN ({', '.join('?' for _ in chunk)})"
            )
            parameters: list[Any] = chunk
            if name is not None:
                sql += " AND name = ?"
                parameters = [*chunk, name]
            for experiment_id, name_, value, step, when in self._read(
                sql + " ORDER BY rowid", parameters
            ):
                history[experiment_id].append(MetricPoint(name_, _nan_if_null(value), step, when))
        return history

    def run_names(self, like: str) -> list[str]:
        rows = self._read(
            "SELECT name FROM runs WHERE substr(name, 1, ?) = ? ORDER BY name",
            (len(like), like),
        )
        return [row[0] for row in rows]

    def experiment_names(self, like: str, suffix: bool = False) -> list[str]:
        if suffix:
            sql = "SELECT name FROM experiments WHERE substr(name, -?) = ? ORDER BY id"
        else:
            sql = "SELECT name FROM experiments WHERE substr(name, 1, ?) = ? ORDER BY id"
        return [row[0] for row in self._read(sql, (len(like), like))]

    def _runs(self, rows: list[tuple[Any, ...]]) -> list[RunRecord]:
        if not rows:
            return []
        ids = [row[0] for row in rows]
        counts: dict[int, dict[str, int]] = {i: {} for i in ids}
        for run_id, state, count in self._read(
            f"SELECT run_id, state, COUNT(*) FROM experiments WHERE run_id IN "
            f"({', '.join('?' for _ in ids)}) GROUP BY run_id, state",
            ids,
        ):
            counts[run_id][state] = count
        return [_run(row, counts[row[0]]) for row in rows]


SOURCES = ("stdout", "log", "tensorboard")


def _source(source: str) -> str:
    if source not in SOURCES:
        raise ValueError(f"unknown metric source {source!r}")
    return source


def _forget_metrics(db: sqlite3.Connection, experiment_ids: Sequence[int]) -> None:
    """An earlier attempt's metrics: not those of the attempt to come."""
    rows = [(i,) for i in experiment_ids]
    db.executemany("DELETE FROM metrics WHERE experiment_id = ?", rows)
    db.executemany("DELETE FROM metric_summaries WHERE experiment_id = ?", rows)


def _nan_if_null(value: float | None) -> float:
    return math.nan if value is None else value


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _run(row: tuple[Any, ...], counts: dict[str, int]) -> RunRecord:
    driver = Driver(row[17], row[18], row[19]) if row[17] is not None else None
    return RunRecord(
        id=row[0],
        name=row[1],
        state=RunState(row[2]),
        invocation=json.loads(row[3]),
        script=row[4],
        script_args=json.loads(row[5]),
        space=json.loads(row[6]),
        strategy=row[7],
        seed=row[8],
        num_trials=row[9],
        options=json.loads(row[10]),
        cwd=row[11],
        git_commit=row[12],
        git_dirty=None if row[13] is None else bool(row[13]),
        created_at=row[14],
        started_at=row[15],
        ended_at=row[16],
        driver=driver,
        num_experiments=row[20],
        stop_requested=bool(row[21]),
        counts=counts,
    )


def _experiment(row: tuple[Any, ...]) -> ExperimentRecord:
    return ExperimentRecord(
        id=row[0],
        run_id=row[1],
        run=row[2],
        index=row[3],
        name=row[4],
        params=json.loads(row[5]),
        args=json.loads(row[6]),
        command=json.loads(row[7]),
        state=State(row[8]),
        exit_code=row[9],
        signal=row[10],
        attempts=row[11],
        started_at=row[12],
        ended_at=row[13],
        pid=row[14],
        log_path=row[15],
        gpus=row[16],
        reason=row[17],
        stop_requested=bool(row[18]),
        pruned_step=row[19],
        pruned_value=_nan_if_null(row[20]) if row[19] is not None else None,
    )
