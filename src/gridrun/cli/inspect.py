"""`grid status`, `grid history`, `grid logs`: readers of the store and the log files."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import click

from gridrun.cli.options import option

STATUS_ROWS = 100
FOLLOW_POLL_S = 0.2


def open_reader() -> Any:
    """The store, with runs whose driver died shown (and recorded) as lost."""
    from gridrun.runner import reconcile
    from gridrun.store import open_store

    store = open_store()
    reconcile(store)
    return store


def console() -> Any:
    from gridrun.cli.render import make_console

    return make_console(sys.stdout)


def json_safe(data: Any) -> Any:
    """`data` with NaN and infinities as null: strict JSON, which any parser reads."""
    if isinstance(data, float):
        return data if data == data and data not in (float("inf"), float("-inf")) else None
    if isinstance(data, dict):
        return {key: json_safe(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [json_safe(value) for value in data]
    return data


def echo_json(data: Any) -> None:
    click.echo(json.dumps(json_safe(data), indent=None, allow_nan=False))


def objective_options(function: Any) -> Any:
    """--metric, --mode and --scope: which metric ranks experiments, and how."""
    function = option(
        "scope",
        type=click.Choice(["last", "best"]),
        default="last",
        show_default=True,
        help="Rank by each experiment's last value of the metric, or its best over steps.",
    )(function)
    function = option(
        "mode",
        type=click.Choice(["min", "max"]),
        default=None,
        help="Whether lower or higher is better [default: the run's, else min].",
    )(function)
    return option(
        "metric",
        metavar="NAME",
        default=None,
        help="The metric that ranks experiments [default: the run's --metric].",
    )(function)


def run_objective(run: Any, metric: str | None, mode: str | None, scope: str) -> Any:
    """The objective asked for, else the one the run was started with, else none."""
    from gridrun.results import Objective

    metric = metric or run.options.get("metric")
    if not metric:
        return None
    return Objective(metric, mode or run.options.get("mode") or "min", scope)


@click.command("status")
@click.argument("name", required=False, metavar="[RUN|EXPERIMENT]")
@option(
    "state",
    dest="states",
    multiple=True,
    metavar="STATE",
    help="Only experiments in this state (repeatable).",
)
@option("all", dest="show_all", is_flag=True, help="Show every experiment, however many.")
@objective_options
@click.pass_obj
def status_command(
    settings: Any,
    name: str | None,
    states: tuple[str, ...],
    show_all: bool,
    metric: str | None,
    mode: str | None,
    scope: str,
) -> None:
    """Runs in progress; or one run's experiments, their params and metrics; or one
    experiment. With --metric, experiments are ranked by it and the best is marked."""
    from gridrun.cli import views
    from gridrun.cli.resolve import find_run, resolve_experiment
    from gridrun.errors import UserError
    from gridrun.store.records import RunState, State

    store = open_reader()
    if name is None:
        runs = store.list_runs([RunState.RUNNING])
        if settings.json:
            echo_json({"runs": [views.run_json(r) for r in runs]})
        elif not runs:
            click.echo("no runs in progress (grid history lists every run)")
        else:
            console().print(views.runs_table(runs, "runs in progress"))
        return
    wanted = []
    for state in states:
        try:
            wanted.append(State(state))
        except ValueError:
            valid = ", ".join(s.value for s in State)
            raise UserError(f"unknown state {state!r}; expected one of {valid}") from None
    run = find_run(store, name)
    if run is None:
        record = resolve_experiment(store, name)
        summaries = store.metric_summaries(record.run_id).get(record.id, {})
        if settings.json:
            data = views.experiment_json(record, time.time(), summaries)
            data["artifacts"] = views.artifacts_json(record)
            echo_json(data)
            return
        out = console()
        for key, value in views.experiment_lines(record, summaries):
            out.print(f"[bold]{key:>10}[/]  {value}", highlight=False, soft_wrap=True)
        return
    show_run(settings, store, run, wanted, show_all, run_objective(run, metric, mode, scope))


def show_run(
    settings: Any, store: Any, run: Any, wanted: list, show_all: bool, objective: Any
) -> None:
    """A run's header and experiments table (metrics as columns, ranked by `objective`)."""
    from gridrun.cli import views
    from gridrun.results import best, check_metric, ranked
    from gridrun.store.records import State

    experiments = store.experiments(run.id, wanted or None)
    summaries = store.metric_summaries(run.id)
    problem = None
    if objective is not None:
        try:
            check_metric(objective, summaries, run.name)
        except Exception as error:
            problem = str(error)
    if settings.json:
        data = views.run_json(run, experiments, summaries)
        if objective is not None and problem is None:
            winner = best(experiments, summaries, objective)
            data["best"] = winner.name if winner else None
        echo_json(data)
        if problem:
            click.echo(f"warning: {problem}", err=True)
        return
    out = console()
    for line in views.run_header(run):
        out.print(line, highlight=False, soft_wrap=True)
    if problem:
        click.echo(f"{click.style('warning:', fg='yellow', bold=True)} {problem}", err=True)
        objective = None
    winner = best(experiments, summaries, objective) if objective else None
    if objective is not None:
        experiments = ranked(experiments, summaries, objective)
    hidden = 0
    if not show_all and len(experiments) > STATUS_ROWS:
        hidden = len(experiments) - STATUS_ROWS
        if objective is not None:
            experiments = experiments[:STATUS_ROWS]
        else:
            urgent = {State.RUNNING, State.FAILED, State.LOST}
            first = [e for e in experiments if e.state in urgent][:STATUS_ROWS]
            chosen = {e.id for e in first}
            rest = [e for e in experiments if e.id not in chosen]
            shown = first + rest[: STATUS_ROWS - len(first)]
            experiments = sorted(shown, key=lambda e: e.index)
    curves = {}
    if objective is not None:
        curves = store.metric_history([e.id for e in experiments], objective.metric)
    out.print(
        views.experiments_table(run, experiments, summaries, objective, winner, curves, hidden)
    )
    if hidden:
        out.print(f"[dim]{hidden:,} not shown: --all shows every one, --state STATE filters[/]")
    if winner is not None:
        out.print(f"best: [bold]{winner.name}[/] (grid best {run.name} shows how to reproduce it)")


@click.command("history")
@option("limit", type=click.IntRange(min=1), default=None, help="Only the N newest runs.")
@click.pass_obj
def history_command(settings: Any, limit: int | None) -> None:
    """Every run, newest first."""
    from gridrun.cli import views

    store = open_reader()
    runs = store.list_runs()
    if limit is not None:
        runs = runs[:limit]
    if settings.json:
        echo_json({"runs": [views.run_json(r) for r in runs]})
    elif not runs:
        click.echo("no runs yet: grid run SCRIPT ... starts one")
    else:
        console().print(views.runs_table(runs))


@click.command("logs")
@click.argument("name", metavar="EXPERIMENT")
@click.option("-l", "--lines", "lines", type=int, default=None, help="Only the last N lines.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing what it writes, until it ends.")
@click.pass_obj
def logs_command(settings: Any, name: str, lines: int | None, follow: bool) -> None:
    """Print an experiment's output (stdout and stderr)."""
    from gridrun.cli.resolve import resolve_experiment

    store = open_reader()
    record = resolve_experiment(store, name)
    path = record.log_path
    emit = _json_line_writer(record.name) if settings.json else _raw_writer()
    position = _print_existing(path, lines, emit)
    if not follow:
        emit(b"", True)
        return
    from gridrun.runner import reconcile

    while True:
        position = _print_new(path, position, emit)
        current = store.get_experiment_by_id(record.id)
        if current is not None and not current.state.final:
            reconcile(store)  # a driver that died ends the follow too
            current = store.get_experiment_by_id(record.id)
        if current is None or current.state.final:
            _print_new(path, position, emit)
            emit(b"", True)
            return
        time.sleep(FOLLOW_POLL_S)


def _raw_writer() -> Any:
    out = sys.stdout.buffer

    def write(data: bytes, end: bool = False) -> None:
        out.write(data)
        out.flush()

    return write


def _json_line_writer(experiment: str) -> Any:
    pending = bytearray()

    def write(data: bytes, end: bool = False) -> None:
        pending.extend(data)
        *complete, rest = bytes(pending).split(b"\n")
        pending[:] = rest
        if end and rest:  # the last line, even without its newline
            complete.append(rest)
            pending.clear()
        for line in complete:
            text = line.decode("utf-8", errors="replace")
            click.echo(json.dumps({"experiment": experiment, "line": text}))

    return write


def _print_existing(path: str, lines: int | None, emit: Any) -> int:
    """Print the whole log, or its last `lines`, streaming; return where it ended."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return 0
    start = 0 if lines is None else _start_of_last_lines(path, size, lines)
    with open(path, "rb") as log:
        log.seek(start)
        while chunk := log.read(1 << 16):
            emit(chunk)
        return log.tell()


def _start_of_last_lines(path: str, size: int, lines: int) -> int:
    """The offset where the last `lines` lines of the file begin, reading from its end."""
    if lines <= 0:
        return size
    block = 1 << 16
    position = size
    newlines = 0
    with open(path, "rb") as log:
        log.seek(max(0, size - 1))
        ends_with_newline = log.read(1) == b"\n"
        wanted = lines + (1 if ends_with_newline else 0)
        while position > 0:
            step = min(block, position)
            position -= step
            log.seek(position)
            data = log.read(step)
            for index in range(len(data) - 1, -1, -1):
                if data[index] == 0x0A:
                    newlines += 1
                    if newlines == wanted:
                        return position + index + 1
    return 0


def _print_new(path: str, position: int, emit: Any) -> int:
    try:
        size = os.path.getsize(path)
    except OSError:
        return position
    if size < position:  # a new attempt started a new log
        position = 0
    if size == position:
        return position
    with open(path, "rb") as log:
        log.seek(position)
        while chunk := log.read(1 << 16):
            emit(chunk)
        return log.tell()
