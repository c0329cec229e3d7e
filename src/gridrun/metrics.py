"""Metrics from an experiment's output, with no change to its code.

Two sources:

- A line of its output made only of `name=value` or `name: value` pairs whose values are
  numbers: `loss=0.31 acc=0.9`, `val_loss: 0.25`, `epoch=3 loss=0.2` (pairs may also be
  separated by `,`, `;` or `|`). `step` names the step of the others, else `epoch` does.
  Anything else — a progress bar, a sentence, `epoch 3: loss=0.2`, a log line with a
  timestamp — is not a metric line.
- The JSON lines that `gridrun.log(step=3, loss=0.31)` appends to GRID_METRICS_FILE.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

NAME = r"[A-Za-z_][A-Za-z0-9_./\-]*"
NUMBER = r"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|nan)"
"""A number matches one way only: a line that is not a metric line fails in linear time."""
PAIR = rf"(?:{NAME}\s*=\s*{NUMBER}|{NAME}:\s*{NUMBER})"
SEPARATOR = r"(?:\s*[,;|]\s*|\s+)"
METRIC_LINE = re.compile(rf"\s*{PAIR}(?:{SEPARATOR}{PAIR})*\s*[,;]?\s*")
PAIRS = re.compile(rf"({NAME})(?:\s*=\s*|:\s*)({NUMBER})")
STEP_NAMES = ("step", "epoch")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
MAX_METRIC_NAME = 200


def parse_metric_line(line: str) -> tuple[dict[str, float], float | None] | None:
    """The metrics of one output line and its step, or None if it is not a metric line."""
    if "=" not in line and ":" not in line:
        return None
    if not METRIC_LINE.fullmatch(line):
        return None
    values: dict[str, float] = {}
    for name, text in PAIRS.findall(line):
        values[name] = float(text)
    step = None
    for step_name in STEP_NAMES:
        if step_name in values:
            step = values.pop(step_name)
            break
    if not values:  # a line of nothing but a step (`epoch=3`) is still that metric
        name = "step" if step is not None and "step" in line else "epoch"
        return ({name: step}, step) if step is not None else None
    return values, step


Row = tuple[str, float | None, float, float]
"""A metric value as the store takes it: (name, step, value, time)."""


def output_segments(lines: list[str]) -> Iterator[str]:
    """What a terminal would show of each line: colour codes removed, and each part written
    over the line with a carriage return taken on its own."""
    for line in lines:
        if "\x1b" in line:
            line = ANSI_ESCAPE.sub("", line)
        if "\r" in line:
            yield from line.split("\r")
        else:
            yield line


def points_from_output(lines: list[str], now: float) -> list[Row]:
    """The metric values of some output lines, all stamped `now`."""
    rows: list[Row] = []
    append = rows.append
    for line in output_segments(lines):
        parsed = parse_metric_line(line)
        if parsed is None:
            continue
        values, step = parsed
        for name, value in values.items():
            append((name[:MAX_METRIC_NAME], step, value, now))
    return rows


def points_from_json_lines(lines: list[str], now: float) -> list[Row]:
    """The metric values of JSON lines written by `gridrun.log` (bad lines are skipped)."""
    rows: list[Row] = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        step = record.get("step")
        step = float(step) if _is_number(step) else None
        when = record.get("time")
        when = float(when) if _is_number(when) else now
        metrics = record.get("metrics")
        if not isinstance(metrics, dict):
            continue
        for name, value in metrics.items():
            if _is_number(value):
                rows.append((str(name)[:MAX_METRIC_NAME], step, float(value), when))
    return rows


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
