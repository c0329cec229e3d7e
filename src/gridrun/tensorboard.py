"""TensorBoard scalars an experiment wrote under GRID_ARTIFACTS_DIR, as metric points.

Needs the `tensorboard` package (`pip install gridrun[tensorboard]`); without it, or without
event files, there is nothing to read. Scalars of a sub-folder are named after it:
`artifacts/tb/train/events...` with tag `loss` gives `train/loss` when `tb/` holds several.
"""

from __future__ import annotations

import os
from pathlib import Path

from gridrun.metrics import Row

EVENT_MARK = "tfevents"


def event_folders(root: Path) -> list[Path]:
    """The folders under `root` that hold TensorBoard event files."""
    found = []
    for folder, _, files in os.walk(root):
        if any(EVENT_MARK in name for name in files):
            found.append(Path(folder))
    return sorted(found)


def read_scalars(root: Path) -> list[Row]:
    """Every scalar of every event file under `root` ([] without tensorboard or files)."""
    folders = event_folders(root) if root.is_dir() else []
    if not folders:
        return []
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        return []
    base = os.path.commonpath([str(f) for f in folders]) if len(folders) > 1 else str(folders[0])
    points: list[Row] = []
    for folder in folders:
        prefix = os.path.relpath(folder, base)
        prefix = "" if prefix == "." else prefix.replace(os.sep, "/") + "/"
        accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
        accumulator.Reload()
        tags = accumulator.Tags()
        for tag in tags.get("scalars", []):
            for event in accumulator.Scalars(tag):
                points.append(
                    (prefix + tag, float(event.step), float(event.value), event.wall_time)
                )
        for tag in tags.get("tensors", []):
            points.extend(_tensor_scalars(accumulator, tag, prefix))
    return points


def _tensor_scalars(accumulator, tag: str, prefix: str) -> list[Row]:
    """TF2's `tf.summary.scalar` stores scalars as 0-d tensors."""
    from tensorboard.util import tensor_util

    points = []
    for event in accumulator.Tensors(tag):
        value = tensor_util.make_ndarray(event.tensor_proto)
        if value.shape == () and value.dtype.kind in "fiu":
            points.append((prefix + tag, float(event.step), float(value), event.wall_time))
    return points
