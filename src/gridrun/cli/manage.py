"""`grid stop` and `grid delete`: the only writes besides a driver's."""

from __future__ import annotations

import shutil
import time
from typing import Any

import click

from gridrun.cli.inspect import echo_json, open_reader

KINDS = click.Choice(["run", "experiment"])


def _targets(store: Any, kind: str, names: tuple[str, ...]) -> list[Any]:
    from gridrun.cli.resolve import resolve_experiment, resolve_run

    resolve = resolve_run if kind == "run" else resolve_experiment
    found = {}
    for name in names:
        record = resolve(store, name)
        found[record.name] = record
    return list(found.values())


def _driven(store: Any, run_id: int) -> bool:
    from gridrun.processes import driver_alive
    from gridrun.store.records import RunState

    run = store.get_run_by_id(run_id)
    return (
        run is not None
        and run.state is RunState.RUNNING
        and run.driver is not None
        and driver_alive(run.driver)
    )


@click.command("stop")
@click.argument("kind", type=KINDS)
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def stop_command(settings: Any, kind: str, names: tuple[str, ...]) -> None:
    """Stop runs or experiments: nothing more starts; running ones get SIGTERM, then SIGKILL."""
    from gridrun.store.records import State

    store = open_reader()
    stopped: list[dict[str, str]] = []
    for target in _targets(store, kind, names):
        run_id = target.id if kind == "run" else target.run_id
        if kind == "run":
            live = store.experiments(run_id, [State.QUEUED, State.RUNNING])
        else:
            live = [target] if not target.state.final else []
        if not live:
            stopped.append({"name": target.name, "result": "already ended"})
            continue
        if _driven(store, run_id):
            if kind == "run":
                store.request_stop(run_id)
            else:
                store.request_stop(run_id, [target.id])
            result = "stop requested"
        else:
            queued = [e.id for e in live if e.state is State.QUEUED]
            store.stop_queued(run_id, queued, time.time())
            result = "stopped"
        stopped.append({"name": target.name, "result": result})
    if settings.json:
        echo_json({"stopped": stopped})
    else:
        for item in stopped:
            click.echo(f"{item['name']}: {item['result']}")


@click.command("delete")
@click.argument("kind", type=KINDS)
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def delete_command(settings: Any, kind: str, names: tuple[str, ...]) -> None:
    """Delete runs or experiments: their records, logs and artifacts."""
    from gridrun.errors import UserError
    from gridrun.paths import experiment_dir, run_dir

    store = open_reader()
    targets = _targets(store, kind, names)
    for target in targets:
        live = target.state.value in ("running", "queued")
        if live and _driven(store, target.id if kind == "run" else target.run_id):
            raise UserError(
                f"{kind} {target.name} is {target.state.value} in a run that is being driven; "
                f"`grid stop {kind} {target.name}` first"
            )
    deleted = []
    for target in targets:
        if kind == "run":
            store.delete_run(target.id)
            shutil.rmtree(run_dir(target.name), ignore_errors=True)
        else:
            store.delete_experiments([target.id])
            shutil.rmtree(experiment_dir(target.run, target.name), ignore_errors=True)
        deleted.append(target.name)
    if settings.json:
        echo_json({"deleted": deleted})
    else:
        for name in deleted:
            click.echo(f"deleted {name}")
