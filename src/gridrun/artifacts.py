"""An experiment's artifacts: the files it wrote under GRID_ARTIFACTS_DIR, and, in an
isolated run, the files it created in its own working folder."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gridrun.paths import ARTIFACTS_NAME
from gridrun.store.records import ExperimentRecord

WORKDIR_NAME = "workdir"
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class Artifact:
    """One file: where it is, its path as shown and copied (relative), its size."""

    source: Path
    path: str
    size: int


def _files(root: Path) -> Iterator[Path]:
    """Regular files under `root` (symbolic links are not followed nor listed)."""
    for folder, directories, files in os.walk(root):
        directories.sort()
        for name in sorted(files):
            candidate = Path(folder) / name
            if not candidate.is_symlink() and candidate.is_file():
                yield candidate


def snapshot_manifest(run_folder: Path) -> dict[str, list[float]] | None:
    """The isolated run's snapshot: relative path -> [size, mtime] (None if not isolated)."""
    try:
        return json.loads((run_folder / "snapshot" / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return None


def experiment_artifacts(record: ExperimentRecord) -> list[Artifact]:
    """Every artifact of `record`, sorted by path."""
    folder = Path(record.log_path).parent
    found = [
        Artifact(path, path.relative_to(folder / ARTIFACTS_NAME).as_posix(), path.stat().st_size)
        for path in _files(folder / ARTIFACTS_NAME)
    ]
    workdir = folder / WORKDIR_NAME
    manifest = snapshot_manifest(folder.parent) if workdir.is_dir() else None
    if manifest is not None:
        for path in _files(workdir):
            relative = path.relative_to(workdir).as_posix()
            stat = path.stat()
            known = manifest.get(relative)
            if known is None or known[0] != stat.st_size or known[1] != stat.st_mtime:
                found.append(Artifact(path, relative, stat.st_size))
    return sorted(found, key=lambda a: a.path)


def copy_artifact(artifact: Artifact, destination: Path) -> Path:
    """Copy one artifact under `destination`, keeping its relative path."""
    target = destination / artifact.path
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(artifact.source, target)
    return target
