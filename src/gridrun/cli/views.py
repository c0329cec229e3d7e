"""How runs and experiments are shown: JSON records for programs, rich tables for people."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from gridrun.progress import describe_exit, format_duration
from gridrun.results import Objective, format_value, sparkline
from gridrun.store.records import (
    ExperimentRecord,
    MetricPoint,
    MetricSummary,
    RunRecord,
    State,
)

MAX_METRIC_COLUMNS = 6

STATE_STYLES = {
    "queued": "dim",
    "running": "yellow",
    "succeeded": "green",
    "failed": "red",
    "stopped": "magenta",
    "lost": "red",
    "preempted": "blue",
    "pruned": "cyan",
}


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


def local_time(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def styled(state: str) -> str:
    return f"[{STATE_STYLES.get(state, '')}]{state}[/]"


def run_duration(run: RunRecord, now: float) -> float | None:
    if run.started_at is None:
        return None
    return (run.ended_at or now) - run.started_at


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def summary_json(summaries: dict[str, MetricSummary] | None) -> dict[str, Any]:
    """Metric summaries for JSON (NaN and infinities as null)."""
    return {
        name: {
            "last": _finite(s.last),
            "step": s.last_step,
            "min": _finite(s.min),
            "max": _finite(s.max),
            "count": s.count,
        }
        for name, s in (summaries or {}).items()
    }


def experiment_json(
    record: ExperimentRecord, now: float, summaries: dict[str, MetricSummary] | None = None
) -> dict[str, Any]:
    return {
        "name": record.name,
        "run": record.run,
        "index": record.index,
        "state": record.state.value,
        "params": record.params,
        "args": record.args,
        "command": record.command,
        "exit_code": record.exit_code,
        "signal": record.signal,
        "reason": record.reason,
        "pruned_step": record.pruned_step,
        "pruned_value": record.pruned_value,
        "attempts": record.attempts,
        "retries": record.retries,
        "started_at": iso(record.started_at),
        "ended_at": iso(record.ended_at),
        "duration_s": record.duration_s(now),
        "pid": record.pid,
        "gpus": record.gpus,
        "log_path": record.log_path,
        "metrics": summary_json(summaries),
    }


def artifacts_json(record: ExperimentRecord) -> list[dict[str, Any]]:
    from gridrun.artifacts import experiment_artifacts

    return [{"path": a.path, "size": a.size} for a in experiment_artifacts(record)]


def run_json(
    run: RunRecord,
    experiments: Sequence[ExperimentRecord] | None = None,
    summaries: dict[int, dict[str, MetricSummary]] | None = None,
) -> dict[str, Any]:
    now = time.time()
    data: dict[str, Any] = {
        "name": run.name,
        "state": run.state.value,
        "strategy": run.strategy,
        "seed": run.seed,
        "num_trials": run.num_trials,
        "num_experiments": run.num_experiments,
        "counts": {state.value: run.count(state) for state in State},
        "command": run.invocation,
        "script": run.script,
        "script_args": run.script_args,
        "space": run.space,
        "options": run.options,
        "cwd": run.cwd,
        "git_commit": run.git_commit,
        "git_dirty": run.git_dirty,
        "created_at": iso(run.created_at),
        "started_at": iso(run.started_at),
        "ended_at": iso(run.ended_at),
        "duration_s": run_duration(run, now),
        "driver_pid": run.driver.pid if run.driver else None,
    }
    if experiments is not None:
        summaries = summaries or {}
        data["experiments"] = [experiment_json(e, now, summaries.get(e.id)) for e in experiments]
    return data


def counts_text(run: RunRecord) -> str:
    parts = [f"{styled(state.value)} {run.count(state)}" for state in State if run.count(state)]
    return "  ".join(parts)


def runs_table(runs: Sequence[RunRecord], title: str | None = None) -> Any:
    from rich.table import Table

    now = time.time()
    table = Table(title=title, header_style="bold", title_justify="left")
    for column in ("run", "state", "experiments", "started", "duration", "strategy"):
        table.add_column(column, no_wrap=column != "experiments")
    for run in runs:
        table.add_row(
            f"[cyan]{run.name}[/]",
            styled(run.state.value),
            f"{run.num_experiments}: {counts_text(run)}",
            local_time(run.started_at or run.created_at),
            format_duration(run_duration(run, now)),
            run.strategy,
        )
    return table


def shown_metrics(
    summaries: dict[int, dict[str, MetricSummary]], objective: Objective | None
) -> list[str]:
    """The metric columns: the objective's first, then the others, at most a few."""
    names = sorted({n for per in summaries.values() for n in per} - {"step", "epoch"})
    if objective is not None and objective.metric in names:
        names.remove(objective.metric)
        names.insert(0, objective.metric)
    return names[:MAX_METRIC_COLUMNS]


def experiments_table(
    run: RunRecord,
    experiments: Sequence[ExperimentRecord],
    summaries: dict[int, dict[str, MetricSummary]] | None = None,
    objective: Objective | None = None,
    winner: ExperimentRecord | None = None,
    curves: dict[int, list[MetricPoint]] | None = None,
    hidden: int = 0,
) -> Any:
    from rich.table import Table

    summaries = summaries or {}
    now = time.time()
    flags = list(run.space)
    metrics = shown_metrics(summaries, objective)
    table = Table(header_style="bold")
    table.add_column("experiment", no_wrap=True)
    table.add_column("state", no_wrap=True)
    for flag in flags:
        table.add_column(flag, no_wrap=True)
    for name in metrics:
        arrow = ""
        if objective is not None and name == objective.metric:
            arrow = " ↓" if objective.mode == "min" else " ↑"
        table.add_column(name + arrow, justify="right", no_wrap=True, style="cyan")
    if curves:
        table.add_column(f"{objective.metric if objective else ''} curve", no_wrap=True)
    table.add_column("duration", justify="right", no_wrap=True)
    table.add_column("exit", no_wrap=True)
    show_retries = any(e.retries for e in experiments)
    if show_retries:
        table.add_column("retries", justify="right")
    for record in experiments:
        exit_text = describe_exit(record.exit_code, record.signal).replace("exit code ", "")
        if record.state is State.PRUNED and record.pruned_step is not None:
            exit_text = f"pruned at step {record.pruned_step:g}"
        elif record.reason and record.state is not State.SUCCEEDED:
            exit_text = f"{exit_text} ({record.reason})" if exit_text else record.reason
        values = summaries.get(record.id, {})
        name = record.name
        if winner is not None and record.id == winner.id:
            name = f"[bold]★ {name}[/]"
        row = [
            name,
            styled(record.state.value),
            *(record.params.get(flag, "") for flag in flags),
            *(
                format_value(
                    objective.value(values.get(m))
                    if objective is not None and m == objective.metric
                    else (values[m].last if m in values else None)
                )
                for m in metrics
            ),
        ]
        if curves:
            row.append(sparkline(curves.get(record.id, [])))
        row += [format_duration(record.duration_s(now)), exit_text]
        if show_retries:
            row.append(str(record.retries))
        table.add_row(*row)
    if hidden:
        table.add_row(f"[dim]… {hidden:,} more[/]", *[""] * (len(table.columns) - 1))
    return table


def run_header(run: RunRecord) -> list[str]:
    import shlex

    now = time.time()
    lines = [
        f"[bold]run[/] [cyan]{run.name}[/]  {styled(run.state.value)}  "
        f"{run.num_experiments} experiments: {counts_text(run)}",
        f"strategy {run.strategy} · seed {run.seed} · started "
        f"{local_time(run.started_at or run.created_at)} · "
        f"{format_duration(run_duration(run, now))}",
        f"command: {shlex.join(run.invocation)}",
        f"in {run.cwd}"
        + (
            f" · git {run.git_commit[:12]}{' (dirty)' if run.git_dirty else ''}"
            if run.git_commit
            else ""
        ),
    ]
    return lines


def experiment_lines(
    record: ExperimentRecord, summaries: dict[str, MetricSummary] | None = None
) -> list[tuple[str, str]]:
    import shlex

    now = time.time()
    rows = [
        ("experiment", record.name),
        ("run", record.run),
        ("state", styled(record.state.value)),
        ("params", "  ".join(f"{k} {v}" for k, v in record.params.items()) or "(none)"),
        ("command", shlex.join(record.command)),
        ("started", local_time(record.started_at)),
        ("ended", local_time(record.ended_at)),
        ("duration", format_duration(record.duration_s(now))),
        ("exit", describe_exit(record.exit_code, record.signal)),
        ("reason", record.reason or ""),
        *(
            [("pruned at", f"step {record.pruned_step:g}: {record.pruned_value}")]
            if record.pruned_step is not None
            else []
        ),
        ("attempts", str(record.attempts)),
        ("gpus", record.gpus or ""),
        ("pid", str(record.pid or "")),
        ("log", record.log_path),
    ]
    for name, summary in (summaries or {}).items():
        step = (
            f" at step {format_value(summary.last_step)}" if summary.last_step is not None else ""
        )
        rows.append(
            (
                name,
                f"{format_value(summary.last)}{step}  (min {format_value(summary.min)}, "
                f"max {format_value(summary.max)}, {summary.count} values)",
            )
        )
    from gridrun.artifacts import experiment_artifacts

    for artifact in experiment_artifacts(record):
        rows.append(("artifact", f"{artifact.path} ({artifact.size:,} bytes)"))
    return [(k, v) for k, v in rows if v]
