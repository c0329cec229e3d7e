"""One row per experiment — name, state, exit code, duration, params, final and best metrics —
for `grid export` and `gridrun.load_run`: flat, so pandas reads it with no post-processing.

Columns: `name`, `run`, `index`, `state`, `exit_code`, `signal`, `duration_s`, `attempts`,
each swept flag as written (`--lr`), and for each metric `m`: `m` (its last value),
`m.min`, `m.max` and `m.step` (the step of the last value).
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Sequence
from typing import IO, Any

from gridrun.store.base import Store
from gridrun.store.records import ExperimentRecord, MetricPoint, RunRecord

BASE_COLUMNS = [
    "name",
    "run",
    "index",
    "state",
    "exit_code",
    "signal",
    "duration_s",
    "attempts",
    "pruned_step",
    "pruned_value",
]


class RunRecords(list):
    """The rows of a run (plain dicts), which also convert to a pandas DataFrame."""

    def __init__(self, rows: Sequence[dict[str, Any]], run: dict[str, Any]) -> None:
        super().__init__(rows)
        self.run = run
        """The run's own record (name, state, seed, command, ...)."""

    def to_pandas(self) -> Any:
        """The rows as a pandas DataFrame, indexed by experiment name (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError("to_pandas() needs pandas: pip install pandas") from None
        return pd.DataFrame(list(self)).set_index("name", drop=False)


def experiment_rows(
    run: RunRecord,
    experiments: Sequence[ExperimentRecord],
    store: Store,
    history: bool = False,
) -> list[dict[str, Any]]:
    """The export rows of `experiments`; with `history`, each row's `history` maps a metric
    to its [step, value, time] triples."""
    now = time.time()
    summaries = store.metric_summaries(run.id)
    flags = list(run.space)
    points: dict[int, list[MetricPoint]] = {}
    if history:
        points = store.metric_history([e.id for e in experiments])
    rows = []
    for record in experiments:
        row: dict[str, Any] = {
            "name": record.name,
            "run": record.run,
            "index": record.index,
            "state": record.state.value,
            "exit_code": record.exit_code,
            "signal": record.signal,
            "duration_s": record.duration_s(now),
            "attempts": record.attempts,
            "pruned_step": record.pruned_step,
            "pruned_value": record.pruned_value,
        }
        for flag in flags:
            row[flag] = record.params.get(flag)
        for name, summary in summaries.get(record.id, {}).items():
            row[name] = summary.last
            row[f"{name}.min"] = summary.min
            row[f"{name}.max"] = summary.max
            row[f"{name}.step"] = summary.last_step
        if history:
            curves: dict[str, list[list[float | None]]] = {}
            for point in points.get(record.id, []):
                curves.setdefault(point.name, []).append([point.step, point.value, point.time])
            row["history"] = curves
        rows.append(row)
    return rows


def columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Every column, in a stable order: the base ones, the params, then metrics by name."""
    seen: dict[str, None] = dict.fromkeys(BASE_COLUMNS)
    params = [k for row in rows for k in row if k.startswith("-")]
    seen.update(dict.fromkeys(params))
    metrics = sorted(
        {k for row in rows for k in row if k not in seen and k != "history"},
        key=lambda k: (k.rsplit(".", 1)[0] if k.endswith((".min", ".max", ".step")) else k, k),
    )
    seen.update(dict.fromkeys(metrics))
    return list(seen)


def write_csv(rows: Sequence[dict[str, Any]], stream: IO[str]) -> None:
    writer = csv.DictWriter(stream, fieldnames=columns(rows), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})


def write_history_csv(rows: Sequence[dict[str, Any]], stream: IO[str]) -> None:
    """Long format: one row per recorded value (experiment, params, metric, step, value, time)."""
    params = [c for c in columns(rows) if c.startswith("-")]
    fields = ["name", "state", *params, "metric", "step", "value", "time"]
    writer = csv.DictWriter(stream, fieldnames=fields)
    writer.writeheader()
    for row in rows:
        for metric, points in row.get("history", {}).items():
            for step, value, when in points:
                writer.writerow(
                    {
                        "name": row["name"],
                        "state": row["state"],
                        **{p: row.get(p) or "" for p in params},
                        "metric": metric,
                        "step": "" if step is None else step,
                        "value": value,
                        "time": when,
                    }
                )


def write_json(rows: Sequence[dict[str, Any]], stream: IO[str]) -> None:
    from gridrun.cli.inspect import json_safe

    json.dump(json_safe(list(rows)), stream, indent=1, allow_nan=False)
    stream.write("\n")
