"""`grid run --isolate`: each experiment in its own copy of the project, taken once.

When the run starts, the project is copied into `runs/<run>/snapshot/`: in a git checkout the
files git tracks plus the untracked ones it does not ignore (from the top of the checkout),
elsewhere the whole folder where `grid run` was called (less the store, when it lies inside).
Each experiment then gets `runs/<run>/<experiment>/workdir/`, made from the snapshot when it
first starts: small files are copied, large ones hard-linked (so 200 experiments of a 50 MB
project do not copy 10 GB; an experiment must not rewrite a large project file in place).
Editing the project while the sweep runs changes nothing; files an experiment creates or
changes in its folder are its artifacts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gridrun.artifacts import MANIFEST_NAME, WORKDIR_NAME
from gridrun.errors import UserError

SNAPSHOT_NAME = "snapshot"
LINKS_NAME = "links.json"
LINK_FROM_BYTES = 1 << 20
"""Files of this size or more are hard-linked into each experiment's folder, not copied."""
SKIPPED_FOLDERS = {".git", "__pycache__", "grid_artifacts", ".gridrun"}


@dataclass(frozen=True)
class Snapshot:
    """Where the copy lies, and which of its folders the experiments run in."""

    root: Path
    subdir: str


def project_files(cwd: Path, home: Path) -> tuple[Path, list[str]]:
    """The project's top folder and its files (relative paths) to snapshot."""
    git = shutil.which("git")
    if git is not None:
        top = subprocess.run(
            [git, "rev-parse", "--show-toplevel"], cwd=cwd, capture_output=True, text=True
        )
        if top.returncode == 0:
            root = Path(top.stdout.strip())
            listed = subprocess.run(
                [git, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                cwd=root,
                capture_output=True,
            )
            if listed.returncode == 0:
                names = [n for n in os.fsdecode(listed.stdout).split("\0") if n]
                inside = _relative(home.resolve(), root)
                return root, [
                    n
                    for n in names
                    if ((root / n).is_file() or (root / n).is_symlink())
                    and not (inside and n.startswith(inside + "/"))
                ]
    files: list[str] = []
    home = home.resolve()
    for folder, directories, names in os.walk(cwd):
        links = [d for d in directories if (Path(folder) / d).is_symlink()]
        directories[:] = sorted(
            d
            for d in directories
            if d not in SKIPPED_FOLDERS and d not in links and (Path(folder) / d).resolve() != home
        )
        for name in sorted([*names, *links]):
            path = Path(folder) / name
            if path.is_file() or path.is_symlink():
                files.append(path.relative_to(cwd).as_posix())
    return cwd, files


def _relative(path: Path, root: Path) -> str | None:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return None


def take_snapshot(cwd: Path, run_folder: Path, home: Path) -> Snapshot:
    """Copy the project into the run's folder, once, with a manifest of its files."""
    root, files = project_files(cwd.resolve(), home)
    target = run_folder / SNAPSHOT_NAME
    manifest: dict[str, list[float]] = {}
    links: dict[str, str] = {}
    for name in files:
        source = root / name
        copy = target / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():  # kept a link, to where it pointed (data folders, mostly)
            links[name] = os.path.realpath(source)
            os.symlink(links[name], copy)
            continue
        shutil.copy2(source, copy)
        stat = copy.stat()
        manifest[name] = [stat.st_size, stat.st_mtime]
    target.mkdir(parents=True, exist_ok=True)
    (target / MANIFEST_NAME).write_text(json.dumps(manifest))
    (target / LINKS_NAME).write_text(json.dumps(links))
    try:
        subdir = cwd.resolve().relative_to(root).as_posix()
    except ValueError:
        raise UserError(f"{cwd} is not inside the project {root}") from None
    return Snapshot(target, "" if subdir == "." else subdir)


def experiment_workdir(run_folder: Path, experiment_folder: Path, subdir: str) -> Path:
    """The experiment's own copy of the snapshot (made once); the folder it runs in."""
    workdir = experiment_folder / WORKDIR_NAME
    if not workdir.is_dir():
        snapshot = run_folder / SNAPSHOT_NAME
        manifest = json.loads((snapshot / MANIFEST_NAME).read_text())
        building = experiment_folder / (WORKDIR_NAME + ".partial")
        shutil.rmtree(building, ignore_errors=True)
        for name, (size, _) in manifest.items():
            source = snapshot / name
            copy = building / name
            copy.parent.mkdir(parents=True, exist_ok=True)
            if size >= LINK_FROM_BYTES:
                try:
                    os.link(source, copy)
                    continue
                except OSError:
                    pass
            shutil.copy2(source, copy)
        for name, pointed in json.loads((snapshot / LINKS_NAME).read_text()).items():
            link = building / name
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(pointed, link)
        building.mkdir(parents=True, exist_ok=True)
        building.rename(workdir)
    folder = workdir / subdir if subdir else workdir
    folder.mkdir(parents=True, exist_ok=True)
    return folder
