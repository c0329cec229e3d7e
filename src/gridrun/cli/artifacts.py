"""`grid artifacts`: copy the files experiments wrote out of the store."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from gridrun.cli.inspect import echo_json, open_reader
from gridrun.cli.options import option


@click.command("artifacts")
@click.argument("names", nargs=-1, required=True, metavar="RUNS_OR_EXPERIMENTS...")
@click.option(
    "-m",
    "--match_regex",
    "--match-regex",
    "pattern",
    metavar="REGEX",
    help="Only artifacts whose path matches REGEX.",
)
@option(
    "download_dir",
    metavar="DIR",
    default="grid_artifacts",
    show_default=True,
    help="Where to copy them: DIR/<experiment>/<path>.",
)
@click.pass_obj
def artifacts_command(
    settings: Any, names: tuple[str, ...], pattern: str | None, download_dir: str
) -> None:
    """Copy the artifacts of runs or experiments to DIR/<experiment>/..."""
    from gridrun.artifacts import copy_artifact, experiment_artifacts
    from gridrun.cli.resolve import find_run, resolve_experiment
    from gridrun.errors import UserError

    try:
        matcher = re.compile(pattern) if pattern else None
    except re.error as error:
        raise UserError(f"-m {pattern!r} is not a valid regular expression: {error}") from None
    store = open_reader()
    experiments = []
    for name in names:
        run = find_run(store, name)
        experiments.extend(store.experiments(run.id) if run else [resolve_experiment(store, name)])
    copied = []
    root = Path(download_dir)
    for record in experiments:
        for artifact in experiment_artifacts(record):
            if matcher is not None and not matcher.search(artifact.path):
                continue
            target = copy_artifact(artifact, root / record.name)
            copied.append(
                {
                    "experiment": record.name,
                    "path": artifact.path,
                    "size": artifact.size,
                    "to": str(target),
                }
            )
    if settings.json:
        echo_json({"artifacts": copied})
        return
    total = sum(item["size"] for item in copied)
    for item in copied:
        click.echo(f"{item['experiment']}: {item['path']} ({item['size']:,} bytes)")
    click.echo(f"copied {len(copied)} file(s), {total:,} bytes, to {root}/")
