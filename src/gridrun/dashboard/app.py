"""The dashboard's web app: one page (its own scripts; Plotly.js from the `plotly` package for
the metric curves alone, loaded when they are asked for: no CDN, it works offline) and a
read-only JSON API.

Every route is a GET that reads the store or a log file; the only write is the one every
reader makes: a run whose driver died is recorded as lost. Runs and
experiments are found by name in the store, and a log is read only if its recorded path lies
inside GRIDRUN_HOME; logs are served in bounded pieces from an offset, so a 1 GB log is never
loaded whole. The page builds its DOM with `textContent`, so names, values and log lines show
as text, whatever they hold.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from gridrun.cli.inspect import json_safe
from gridrun.cli.views import run_json
from gridrun.store import open_store
from gridrun.store.records import ExperimentOverview

STATIC = Path(__file__).parent / "static"
STATIC_FILES = {
    "app.js": "text/javascript",
    "parcoords.js": "text/javascript",
    "style.css": "text/css",
}
LOG_PIECE_BYTES = 256 * 1024
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def plotly_js() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


class Api:
    """The JSON views, each opening the store for the request (readers never block)."""

    def __init__(self, home: Path) -> None:
        self.home = home.resolve()

    def _store(self) -> Any:
        return open_store(self.home)

    def runs(self, request: Request) -> Response:
        from gridrun.results import Objective, best

        store = self._store()
        try:
            from gridrun.runner import reconcile

            reconcile(store)
            rows = []
            for run in store.list_runs():
                data = run_json(run)
                metric = run.options.get("metric")
                data["metric"] = metric
                data["best"] = None
                if metric:
                    objective = Objective(metric, run.options.get("mode") or "min")
                    summaries = store.metric_summaries(run.id)
                    winner = best(store.experiments(run.id), summaries, objective)
                    if winner is not None:
                        value = objective.value(summaries[winner.id].get(metric))
                        data["best"] = {"experiment": winner.name, "value": value}
                rows.append(data)
            return _json({"runs": rows, "now": time.time()})
        finally:
            store.close()

    def run(self, request: Request) -> Response:
        store = self._store()
        try:
            run = store.get_run(request.path_params["name"])
            if run is None:
                return _json({"error": "no such run"}, 404)
            data = run_json(run)
            data.update(experiment_rows(run.space, store.overview(run.id), time.time()))
            return _json(data, finite=True)
        finally:
            store.close()

    def curves(self, request: Request) -> Response:
        store = self._store()
        try:
            run = store.get_run(request.path_params["name"])
            if run is None:
                return _json({"error": "no such run"}, 404)
            metric = request.query_params.get("metric") or None
            wanted = set(filter(None, request.query_params.get("experiments", "").split(",")))
            experiments = [e for e in store.experiments(run.id) if e.name in wanted]
            history = store.metric_history([e.id for e in experiments], metric)
            curves = {
                e.name: [[p.step, p.value, p.time] for p in history.get(e.id, [])]
                for e in experiments
            }
            return _json({"metric": metric, "curves": curves})
        finally:
            store.close()

    def log(self, request: Request) -> Response:
        store = self._store()
        try:
            record = store.get_experiment(request.path_params["name"])
            if record is None:
                return _json({"error": "no such experiment"}, 404)
            path = Path(record.log_path).resolve()
            if not path.is_relative_to(self.home):
                return _json({"error": "log outside the store"}, 403)
            try:
                offset = int(request.query_params.get("offset", "-65536"))
            except ValueError:
                return _json({"error": "offset must be an integer"}, 400)
            try:
                size = path.stat().st_size
            except OSError:
                size = 0
            if offset < 0:
                offset = max(0, size + offset)
            offset = min(offset, size)
            text = b""
            if size > offset:
                with open(path, "rb") as log:
                    log.seek(offset)
                    text = log.read(LOG_PIECE_BYTES)
                skipped = _leading_continuation(text) if offset else 0
                offset += skipped
                text = _whole_characters(text[skipped:])
            return _json(
                {
                    "experiment": record.name,
                    "state": record.state.value,
                    "offset": offset + len(text),
                    "start": offset,
                    "size": size,
                    "text": text.decode("utf-8", errors="replace"),
                }
            )
        finally:
            store.close()


ROW_COLUMNS = ["name", "state", "exit_code", "signal", "duration_s", "params", "metrics"]
"""What each row of the run page's `experiments` holds, in order."""


def experiment_rows(
    space: dict[str, Any], experiments: list[ExperimentOverview], now: float
) -> dict[str, Any]:
    """The run page's rows, as compact arrays: only what its table and plots show of each
    experiment (a 10,000-experiment run is about 1 MB of JSON, not 4.5 MB of dicts).

    `params`: the param names (the run's space, then any other an experiment has), `metrics`:
    the metric names (sorted), `columns`: ROW_COLUMNS, and `experiments`: one array per
    experiment, in index order, of its name, state, exit code, signal, duration (ms
    precision), its values of `params` (null where it has none) and the last values of
    `metrics` (null where it has none, or not finite)."""
    params = list(space)
    known = set(params)
    metric_names: set[str] = set()
    for e in experiments:
        if not known.issuperset(e.params):
            params += [name for name in e.params if name not in known]
            known.update(e.params)
        metric_names.update(e.last)
    metrics = sorted(metric_names)
    isfinite = math.isfinite
    rows = []
    for e in experiments:
        values, last = e.params, e.last
        duration = e.duration_s(now)
        rows.append(
            [
                e.name,
                e.state.value,
                e.exit_code,
                e.signal,
                None if duration is None else round(duration, 3),
                [values.get(name) for name in params],
                [v if (v := last.get(m)) is not None and isfinite(v) else None for m in metrics],
            ]
        )
    return {"params": params, "metrics": metrics, "columns": ROW_COLUMNS, "experiments": rows}


def _leading_continuation(data: bytes) -> int:
    """How many bytes at the start of `data` continue a UTF-8 character begun before it."""
    count = 0
    while count < min(3, len(data)) and data[count] & 0xC0 == 0x80:
        count += 1
    return count


def _whole_characters(data: bytes) -> bytes:
    """`data` less an incomplete UTF-8 character at its end (the next piece starts there)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # the last character's first byte
            needed = 2 if byte >= 0xC0 else 1
            needed = 3 if byte >= 0xE0 else needed
            needed = 4 if byte >= 0xF0 else needed
            return data[:-back] if needed > back else data
    return data


def _json(data: Any, status: int = 200, finite: bool = False) -> Response:
    """A JSON answer; `finite` when `data` is known to hold no NaN (no copy needed)."""
    return JSONResponse(data if finite else json_safe(data), status_code=status, headers=HEADERS)


def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers=HEADERS)


def static(request: Request) -> Response:
    name = request.path_params["file"]
    if name not in STATIC_FILES:
        return Response("not found", status_code=404)
    return FileResponse(STATIC / name, media_type=STATIC_FILES[name], headers=HEADERS)


def plotly(request: Request) -> Response:
    return FileResponse(plotly_js(), media_type="text/javascript")


LOOPBACK_NAMES = ["127.0.0.1", "localhost", "::1", "[::1]"]


def create_app(home: Path, host: str = "127.0.0.1") -> Starlette:
    """The dashboard over the store in `home`. On loopback, only requests naming a loopback
    host are answered (a web page elsewhere cannot reach it through DNS rebinding)."""
    api = Api(home)
    routes = [
        Route("/", index),
        Route("/static/{file}", static),
        Route("/plotly.min.js", plotly),
        Route("/api/runs", api.runs),
        Route("/api/runs/{name}", api.run),
        Route("/api/runs/{name}/curves", api.curves),
        Route("/api/experiments/{name}/log", api.log),
    ]
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    allowed = LOOPBACK_NAMES if host in LOOPBACK_NAMES else ["*"]
    return Starlette(
        routes=routes, middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=allowed)]
    )


def serve(home: Path, host: str, port: int) -> None:
    """Serve until interrupted."""
    import uvicorn

    os.environ.setdefault("GRIDRUN_HOME", str(home))
    uvicorn.run(create_app(home, host), host=host, port=port, log_level="warning")
