"""`gridrun.log`: report metrics from a script, in one line, with no dependency.

    import gridrun
    gridrun.log(step=epoch, loss=loss, acc=acc)

Each call appends one JSON line to the file named by GRID_METRICS_FILE, which gridrun sets for
every experiment (and which its subprocesses inherit). Outside gridrun the variable is not
set and the call does nothing, so a script can keep its calls when run by hand.
"""

from __future__ import annotations

import json
import os
import time

METRICS_FILE_VARIABLE = "GRID_METRICS_FILE"


def log(step: int | float | None = None, **metrics: float) -> None:
    """Record `metrics` (name=number) at `step`. Does nothing outside gridrun.

    Values may be any type `float()` accepts (numpy scalars, 0-d tensors); a value that is
    not a number raises TypeError naming it.
    """
    path = os.environ.get(METRICS_FILE_VARIABLE)
    if not path or not metrics:
        return
    values: dict[str, float] = {}
    for name, value in metrics.items():
        try:
            values[name] = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"gridrun.log: {name}={value!r} is not a number") from None
    if step is not None:
        try:
            step = float(step) if not isinstance(step, int) else step
        except (TypeError, ValueError):
            raise TypeError(f"gridrun.log: step={step!r} is not a number") from None
    line = json.dumps({"time": time.time(), "step": step, "metrics": values}) + "\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line.encode("utf-8"))  # one write: lines never interleave
    finally:
        os.close(descriptor)
