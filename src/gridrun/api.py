"""The Python API: read what gridrun recorded."""

from __future__ import annotations

from pathlib import Path

from gridrun.export import RunRecords, experiment_rows


def load_run(name: str, home: str | Path | None = None, history: bool = False) -> RunRecords:
    """The experiments of run `name` (or of the only run whose name starts with it), one
    plain dict per experiment, as `grid export` writes them; `.to_pandas()` gives a
    DataFrame. `home` defaults to GRIDRUN_HOME.
    """
    from gridrun.cli.resolve import resolve_run
    from gridrun.cli.views import run_json
    from gridrun.store import open_store

    store = open_store(Path(home) if home is not None else None)
    try:
        run = resolve_run(store, name)
        experiments = store.experiments(run.id)
        rows = experiment_rows(run, experiments, store, history=history)
        return RunRecords(rows, run_json(run))
    finally:
        store.close()
