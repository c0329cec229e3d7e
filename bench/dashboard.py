"""Dashboard benchmark: how fast `grid view` opens a run of 10,000 experiments.

Run by hand, never as a test:

    .venv/bin/python bench/dashboard.py [--repeat N] [--profile]

The goal (from the issue): a run of 10,000 experiments opens in under 2 seconds.

A store is made in-process through the Store API (plus one transaction of direct SQL that
marks the experiments succeeded, as bench/launch.py does): the run `big`, 10,000 succeeded
experiments sweeping three flags (`--optimizer` of 4 names, `--lr` and `--dropout` of 50
numbers each), each with the metrics train_loss, val_acc and val_loss at 5 steps (history and
summaries), ranked by val_loss; and 20 small runs of 100 such experiments. Then
`PY -m gridrun view --no_browser --port P` serves it, and headless Chromium (Debian's, driven
by Playwright's sync API) loads its pages. One untimed round, then `--repeat` rounds of:

  run cold    a fresh browser context (empty cache) goes to `/#/run/big` until the page is
              fully drawn: the experiments table has its rows AND the parallel-coordinates
              plot (parcoords.js, a 2D canvas and an SVG: one line per experiment) has been
              painted, which the page tells by setting `data-drawn` on `#parcoords` in a task
              queued from the next animation frame after drawing (so after that frame's paint);
  run warm    the same in one context kept across loads (the page's scripts from the cache);
  refresh     that warm page's refresh (what its timer does: `route()`), from the call to the
              plot drawn again;
  small cold  as run cold, for a run of 100 experiments: the page's fixed cost;
  runs list   a fresh context goes to `/` until every run's row is there;
  api run     `GET /api/runs/big` alone (urllib, the whole body read);
  api runs    `GET /api/runs` alone (the runs list computes each run's best experiment);
  handler     the `/api/runs/{name}` handler called in-process (no HTTP), JSON body included.

The page cases are timed from Python (`page.goto` until Playwright has seen the conditions) and
in the page, from navigation start (`performance.now()`), by a script Playwright adds before the
page's own: a MutationObserver for the first row and for `data-drawn`, wrappers of
Response.json and of the page's render functions. They give the client-side breakdown below
the table. The server-side breakdown times the handler's steps in-process one by one (a copy
of its code, checked to answer the same bytes). `--profile` adds cProfile's view of the
handler, and Chromium's CPU profile (through CDP) and trace of a cold load each.

Checked every time: the API's JSON (10,000 experiments, succeeded, their params, each metric's
last value as recorded, the best experiment), the page (1,000 rows shown of 10,000, the best
experiment marked where shown, the plot's 4 axes named after the params and the metric, its
10,000 lines, the best one highlighted, Plotly.js never requested, no page error) and the runs
list (every run, the big run's best experiment).

Standard library and gridrun, plus Playwright (the Python package, never `playwright install`)
driving /usr/bin/chromium; the dashboard needs starlette and uvicorn (plotly only for curves).
"""

from __future__ import annotations

import collections
import cProfile
import gc
import io
import json
import math
import pstats
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import _common as common
from _common import Result, Timing, check
from launch import SUCCEEDED_SQL, execute_in_one_transaction

import gridrun
from gridrun.paths import LOG_NAME, experiment_dir
from gridrun.processes import this_driver
from gridrun.runner import RunOptions
from gridrun.store import NewExperiment, NewRun, RunState, SQLiteStore, open_store

BIG = "big"
SMALL = "small-00"
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
LRS = tuple(repr(round(10 ** (-4 + 3 * i / 49), 8)) for i in range(50))
DROPOUTS = tuple(repr(i / 100) for i in range(50))
SIZE = len(OPTIMIZERS) * len(LRS) * len(DROPOUTS)
METRICS = ("train_loss", "val_acc", "val_loss")
STEPS = 5
SMALL_RUNS = 20
SMALL_SIZE = 100
MAX_ROWS = 1000
GOAL_S = 2.0
SCRIPT = "train.py"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}
ROW = "#experiments-table tbody tr.experiment-row"
PLOT = "#parcoords[data-drawn]"
RUN_ROW = "#runs-table tbody tr.run-row"
TIMEOUT_MS = 120_000

# Added before each page's own scripts; every mark in ms from navigation start.
INSTRUMENT_JS = """
(() => {
  const now = () => performance.now();
  const marks = window.__bench = { rows: null, runs: null, drawn: [], json: [], calls: {},
    errors: [] };
  window.addEventListener("error", (e) => marks.errors.push(String(e.message)));
  window.addEventListener("unhandledrejection", (e) => marks.errors.push(String(e.reason)));
  new MutationObserver((changes) => {
    if (marks.rows === null && document.querySelector("ROW")) marks.rows = now();
    if (marks.runs === null && document.querySelector("RUN_ROW")) marks.runs = now();
    for (const change of changes) {
      if (change.type === "attributes" && change.target.id === "parcoords") {
        marks.drawn.push({ at: now(), count: change.target.dataset.drawn });
      }
    }
  }).observe(document, { childList: true, subtree: true, attributes: true,
                         attributeFilter: ["data-drawn"] });
  // Response.json as text then JSON.parse, to time the parse apart from the body's arrival
  Response.prototype.json = async function () {
    const start = now();
    const text = await this.text();
    const read = now();
    const value = JSON.parse(text);
    marks.json.push({ url: this.url, start, read, end: now(), chars: text.length });
    return value;
  };
  const timed = (name, fn) => function (...args) {
    const start = now();
    try { return fn.apply(this, args); } finally {
      (marks.calls[name] = marks.calls[name] || []).push([start, now() - start]);
    }
  };
  window.addEventListener("DOMContentLoaded", () => {
    for (const name of ["renderRun", "renderTable", "renderParcoords", "drawParcoords"]) {
      if (typeof window[name] === "function") window[name] = timed(name, window[name]);
    }
  });
})();
""".replace("RUN_ROW", RUN_ROW).replace("ROW", ROW)

PAGE_FACTS_JS = """() => {
  const plot = document.getElementById("parcoords");
  return {
    title: document.getElementById("run-title").textContent,
    rows: document.querySelectorAll("ROW").length,
    count: document.getElementById("row-count").textContent,
    best: [...document.querySelectorAll("ROW.best")].map((r) => r.dataset.name),
    axes: [...plot.querySelectorAll(".pc-axis .pc-label")].map((t) => t.textContent),
    lines: Number(plot.dataset.lines),
    bestLine: plot.dataset.best,
    plotly: typeof window.Plotly !== "undefined" ||
      performance.getEntriesByType("resource").some((r) => r.name.endsWith("/plotly.min.js")),
  };
}""".replace("ROW", ROW)

TIMINGS_JS = """() => {
  const n = performance.getEntriesByType("navigation")[0];
  return {
    marks: window.__bench,
    domContentLoaded: n.domContentLoadedEventEnd,
    resources: performance.getEntriesByType("resource").map((r) => ({ name: r.name,
      start: r.startTime, firstByte: r.responseStart, end: r.responseEnd })),
  };
}"""


# -- the store ---------------------------------------------------------------------------------


def metric_rows(rng: random.Random, params: dict[str, str]) -> list[tuple]:
    """One experiment's metric values as `add_metrics` takes them: (name, step, value, time),
    STEPS steps of each metric, falling towards a final value set by the params."""
    lr, dropout = float(params["--lr"]), float(params["--dropout"])
    quality = abs(math.log10(lr) + 1.8) + 0.6 * abs(dropout - 0.2)
    final = 0.25 + 0.12 * (quality + OPTIMIZERS.index(params["--optimizer"])) + rng.random() / 50
    rows = []
    for step in range(1, STEPS + 1):
        decay = (STEPS - step) / STEPS
        val = round(final * (1 + 0.8 * decay), 6)
        values = (round(final * (1 + decay) - 0.03, 6), round(max(0.0, 1 - val / 2), 6), val)
        rows += [(m, float(step), v, 1.7e9 + step) for m, v in zip(METRICS, values, strict=True)]
    return rows


def new_run(name: str, size: int, cwd: Path, home: Path) -> tuple[NewRun, list, list[str]]:
    space = {
        "--optimizer": "[" + ", ".join(OPTIMIZERS) + "]",
        "--lr": "[" + ", ".join(LRS) + "]",
        "--dropout": "[" + ", ".join(DROPOUTS) + "]",
    }
    args = [part for flag, syntax in space.items() for part in (flag, syntax)]
    run = NewRun(
        name=name,
        invocation=["grid", "run", "--name", name, "--metric", "val_loss", SCRIPT, *args],
        script=SCRIPT,
        script_args=args,
        space=space,
        strategy="grid_search",
        seed=1,
        num_trials=None,
        options=RunOptions(metric="val_loss").to_json(),
        cwd=str(cwd),
    )
    experiments = []
    for index in range(size):
        rest, dropout = divmod(index, len(DROPOUTS))
        optimizer, lr = divmod(rest, len(LRS))
        params = {
            "--optimizer": OPTIMIZERS[optimizer],
            "--lr": LRS[lr],
            "--dropout": DROPOUTS[dropout],
        }
        argv = [part for flag, value in params.items() for part in (flag, value)]
        command = [sys.executable, SCRIPT, *argv]
        experiments.append(NewExperiment(index, f"{name}-exp{index}", params, argv, command))
    logs = [str(experiment_dir(name, e.name, home) / LOG_NAME) for e in experiments]
    return run, experiments, logs


def record_run(
    store: SQLiteStore, name: str, size: int, cwd: Path, home: Path, at: float
) -> tuple[dict[str, dict[str, tuple[float, int]]], str]:
    """A finished run of `size` succeeded experiments with their metrics; return the summaries
    expected ({experiment: {metric: (last, count)}}) and the best experiment (min val_loss)."""
    record = store.create_run(*new_run(name, size, cwd, home), at)
    store.claim_run(record.id, this_driver(), at)
    execute_in_one_transaction(store, (SUCCEEDED_SQL, (at, at, record.id, size)))
    rng = random.Random(name)
    expected = {}
    for experiment in store.experiments(record.id):
        rows = metric_rows(rng, experiment.params)
        store.add_metrics(experiment.id, rows, "stdout")
        expected[experiment.name] = {m: (v, STEPS) for m, _, v, _ in rows[-len(METRICS) :]}
    store.finish_run(record.id, RunState.SUCCEEDED, at + size * 0.01)
    return expected, min(expected, key=lambda e: expected[e]["val_loss"][0])


def make_store(cwd: Path, home: Path) -> tuple[float, dict, dict[str, str]]:
    """The benchmark's store; return the seconds it took, the big run's expected summaries and
    every run's best experiment."""
    start = time.perf_counter()
    store = open_store(home)
    at = time.time() - 86400
    best = {}
    try:
        for number in range(SMALL_RUNS):
            name = f"small-{number:02d}"
            _, best[name] = record_run(store, name, SMALL_SIZE, cwd, home, at + number * 600)
        expected, best[BIG] = record_run(store, BIG, SIZE, cwd, home, at + 43200)
    finally:
        store.close()
    return time.perf_counter() - start, expected, best


# -- the server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT_MS / 1000) as response:
        check(response.status == 200, f"{url}: HTTP {response.status}")
        return response.read()


class Server:
    """`PY -m gridrun view --no_browser --port P` over the store in `home`, until stopped."""

    def __init__(self, folder: Path, home: Path) -> None:
        self.base = f"http://127.0.0.1:{free_port()}"
        self.log = folder / "view.log"
        env = common.subprocess_env(folder / "pycache", GRIDRUN_HOME=str(home))
        command = [sys.executable, "-m", "gridrun", "view", "--no_browser"]
        port = self.base.rsplit(":", 1)[1]
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [*command, "--port", port],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=folder,
                env=env,
            )
        deadline = time.monotonic() + 60
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise common.BenchError(f"grid view did not start: {self.log.read_text()}")
            time.sleep(0.05)

    def answers(self) -> bool:
        try:
            get(self.base + "/")
        except OSError:
            return False
        return True

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# -- checks ------------------------------------------------------------------------------------


def check_run_json(data: dict, expected: dict, best: str) -> None:
    rows = data["experiments"]
    check(len(rows) == SIZE, f"{len(rows)} experiments in the API's answer")
    check(data["counts"]["succeeded"] == SIZE, f"counts {data['counts']}")
    check(data["options"]["metric"] == "val_loss", "the run's metric is not val_loss")
    check(data["params"] == ["--optimizer", "--lr", "--dropout"], f"params {data['params']}")
    check(data["metrics"] == list(METRICS), f"metrics {data['metrics']}")
    at = {column: i for i, column in enumerate(data["columns"])}
    name, state, params, metrics = at["name"], at["state"], at["params"], at["metrics"]
    for row in rows:
        check(row[state] == "succeeded", f"{row[name]} is {row[state]}")
        check(len(row[params]) == 3 and all(row[params]), f"{row[name]}: params {row[params]}")
        want = [expected[row[name]][m][0] for m in METRICS]
        check(row[metrics] == want, f"{row[name]}: metrics {row[metrics]}, not {want}")
    val_loss = METRICS.index("val_loss")
    winner = min(rows, key=lambda row: row[metrics][val_loss])
    check(winner[name] == best, f"best {winner[name]}, not {best}")


def check_runs_json(data: dict, best: dict[str, str]) -> None:
    runs = {r["name"]: r for r in data["runs"]}
    check(set(runs) == set(best), f"runs listed: {sorted(runs)}")
    for name, winner in best.items():
        check(runs[name]["best"]["experiment"] == winner, f"{name}: best {runs[name]['best']}")


def check_run_page(facts: dict, name: str, size: int, best: str) -> None:
    check(facts["title"] == name, f"page title {facts['title']!r}")
    shown = min(size, MAX_ROWS)
    check(facts["rows"] == shown, f"{facts['rows']} rows shown")
    count = (
        f"showing {MAX_ROWS} of {size} (filter to narrow)" if size > MAX_ROWS else f"{size} shown"
    )
    check(facts["count"] == count, f"the row count says {facts['count']!r}")
    axes = ["--optimizer", "--lr", "--dropout", "val_loss"]
    check(facts["axes"] == axes, f"plot axes {facts['axes']}")
    check(facts["lines"] == size, f"{facts['lines']} lines drawn, not {size}")
    check(facts["bestLine"] == best, f"the plot highlights {facts['bestLine']}, not {best}")
    check(not facts["plotly"], "the run page loaded Plotly.js")
    in_view = int(best.rsplit("exp", 1)[1]) < MAX_ROWS  # rows are in index order
    check(facts["best"] == ([best] if in_view else []), f"best rows {facts['best']}, not {best}")


# -- the browser -------------------------------------------------------------------------------


class Browser:
    """Headless Chromium through Playwright's sync API."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self.playwright = sync_playwright().start()
        try:
            self.browser = self.playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS
            )
        except BaseException:
            self.playwright.stop()
            raise
        self.warm = self.context()
        self.warm_page = self.warm.new_page()

    def context(self) -> Any:
        context = self.browser.new_context(viewport=VIEWPORT)
        context.add_init_script(INSTRUMENT_JS)
        return context

    def close(self) -> None:
        try:
            self.browser.close()
        finally:
            self.playwright.stop()


def load(page: Any, url: str, ready: Callable[[Any], None]) -> tuple[float, dict]:
    """Go to `url` and wait for `ready`; return the seconds from Python and the page's
    timings (TIMINGS_JS)."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    start = time.perf_counter()
    page.goto(url, wait_until="commit", timeout=TIMEOUT_MS)
    ready(page)
    elapsed = time.perf_counter() - start
    timings = page.evaluate(TIMINGS_JS)
    errors += timings["marks"]["errors"]
    check(not errors, f"page errors: {errors}")
    return elapsed, timings


def run_page_ready(page: Any, drawn: int = 1) -> None:
    """Wait for the rows, then for the plot drawn and painted (`drawn` times in all)."""
    page.wait_for_selector(ROW, state="attached", timeout=TIMEOUT_MS)
    page.wait_for_selector(PLOT, state="attached", timeout=TIMEOUT_MS)
    page.wait_for_function(
        f"() => window.__bench.drawn.length >= {drawn}", timeout=TIMEOUT_MS, polling=10
    )


def runs_page_ready(count: int) -> Callable[[Any], None]:
    def ready(page: Any) -> None:
        page.wait_for_function(
            f"() => document.querySelectorAll('{RUN_ROW}').length === {count}",
            timeout=TIMEOUT_MS,
            polling=10,
        )

    return ready


def client_phases(timings: dict) -> dict[str, float]:
    """One cold load of the big run, in ms: when things happened (from navigation start) and
    how long the page's main thread spent in each step."""
    marks = timings["marks"]

    def resource(suffix: str) -> dict:
        return next(r for r in timings["resources"] if r["name"].endswith(suffix))

    def spent(name: str) -> float:
        return marks["calls"][name][0][1]

    app, api = resource("/static/app.js"), resource(f"/api/runs/{BIG}")
    parsed = next(j for j in marks["json"] if j["url"].endswith(f"/api/runs/{BIG}"))
    return {
        "at: app.js received": app["end"],
        "at: DOMContentLoaded": timings["domContentLoaded"],
        f"at: `/api/runs/{BIG}` requested": api["start"],
        f"at: `/api/runs/{BIG}` first byte": api["firstByte"],
        f"at: `/api/runs/{BIG}` last byte": api["end"],
        "spent: JSON.parse of the answer": parsed["end"] - parsed["read"],
        "spent: `renderRun` in all (one task)": spent("renderRun"),
        "spent: of which `renderTable` (1,000 rows)": spent("renderTable"),
        "spent: of which `renderParcoords` (10,000 lines)": spent("renderParcoords"),
        "spent: of which `drawParcoords` (the canvas and SVG)": spent("drawParcoords"),
        "at: first row seen (after that task)": marks["rows"],
        "at: the page fully drawn (`data-drawn`)": marks["drawn"][0]["at"],
    }


def cpu_profile(browser: Browser, url: str, top: int = 20) -> str:
    """Chromium's CPU profile of one cold load of `url`: the functions with the most self
    time (with their file:line:column)."""
    context = browser.context()
    try:
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Profiler.enable")
        cdp.send("Profiler.setSamplingInterval", {"interval": 500})
        cdp.send("Profiler.start")
        load(page, url, run_page_ready)
        profile = cdp.send("Profiler.stop")["profile"]
    finally:
        context.close()
    nodes = {node["id"]: node["callFrame"] for node in profile["nodes"]}
    own: collections.Counter = collections.Counter()
    for node, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        frame = nodes[node]
        where = frame["url"].rsplit("/", 1)[-1]
        if where:
            where += f":{frame['lineNumber'] + 1}:{frame['columnNumber'] + 1}"
        own[(frame["functionName"] or "(anonymous)", where)] += delta / 1e3
    total = sum(profile["timeDeltas"]) / 1e3
    lines = [f"{total:8.0f} ms  profiled, from navigation to the plot drawn"]
    for (name, where), ms in own.most_common(top):
        lines.append(f"{ms:8.0f} ms  {name}  {where}")
    return "\n".join(lines)


def trace_summary(browser: Browser, url: str, folder: Path, top: int = 12) -> str:
    """Chromium's trace of one cold load of `url`: per thread of the page (its main thread) and
    of the GPU process (which composites, here in software), the events with the most time.
    Events nest, so the times of one thread overlap and do not add up."""
    path = folder / "trace.json"
    categories = ["devtools.timeline", "disabled-by-default-devtools.timeline", "v8", "gpu"]
    context = browser.context()
    try:
        page = context.new_page()
        browser.browser.start_tracing(page=page, path=str(path), categories=categories)
        try:
            load(page, url, run_page_ready)
        finally:
            browser.browser.stop_tracing()
    finally:
        context.close()
    data = json.loads(path.read_text())
    events = data["traceEvents"] if isinstance(data, dict) else data
    names = {
        (e["pid"], e["tid"]): e["args"]["name"]
        for e in events
        if e.get("ph") == "M" and e.get("name") == "thread_name"
    }
    spent: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for e in events:
        if e.get("ph") == "X" and "dur" in e:
            spent[names.get((e["pid"], e["tid"]), "")][e["name"]] += e["dur"] / 1e3
    lines = []
    for thread in ("CrRendererMain", "CrGpuMain"):
        lines.append(f"{thread}:")
        lines += [f"{ms:8.0f} ms  {name}" for name, ms in spent[thread].most_common(top)]
    return "\n".join(lines)


# -- server side, in-process -------------------------------------------------------------------


def handler_request(name: str) -> Any:
    from starlette.requests import Request

    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": f"/api/runs/{name}",
            "path_params": {"name": name},
            "query_string": b"",
            "headers": [],
        }
    )


def time_handler(home: Path) -> tuple[float, bytes]:
    from gridrun.dashboard.app import Api

    api = Api(home)
    start = time.perf_counter()
    response = api.run(handler_request(BIG))
    elapsed = time.perf_counter() - start
    check(response.status_code == 200, f"the handler answered {response.status_code}")
    return elapsed, bytes(response.body)


def server_steps(home: Path) -> tuple[dict[str, float], bytes]:
    """`Api.run` for the big run, step by step (a copy of its code: the caller checks that it
    answers the same bytes); return seconds per step and the body."""
    from starlette.responses import JSONResponse

    from gridrun.cli.views import run_json
    from gridrun.dashboard.app import experiment_rows

    steps: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        steps[step] = time.perf_counter() - clock
        clock = time.perf_counter()

    store = open_store(home)
    run = store.get_run(BIG)
    assert run is not None
    lap("open the store, `get_run`")
    overview = store.overview(run.id)
    lap(f"`store.overview`: {SIZE:,} experiments, {SIZE * len(METRICS):,} last values")
    data = run_json(run)
    data.update(experiment_rows(run.space, overview, time.time()))
    lap("the answer's rows (`run_json`, `experiment_rows`)")
    body = bytes(JSONResponse(data).body)
    lap("`JSONResponse`: json.dumps and encode")
    store.close()
    lap("close the store")
    return steps, body


def handler_profile(home: Path, top: int = 20) -> str:
    from gridrun.dashboard.app import Api

    api = Api(home)
    profiler = cProfile.Profile()
    profiler.enable()
    api.run(handler_request(BIG))
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    text = out.getvalue().strip().splitlines()
    start = next(i for i, line in enumerate(text) if "function calls" in line)
    return "\n".join(text[start:])


# -- the benchmark -----------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values)


def run_benchmark(repeat: int, folder: Path, profile: bool) -> tuple[list[str], list[str]]:
    """The report's lines, and the profiles' lines (with `profile`)."""
    cwd = folder / "project"
    cwd.mkdir()
    home = folder / "home"
    made_s, expected, best = make_store(cwd, home)
    size_mb = sum(p.stat().st_size for p in home.glob("gridrun.db*")) / 1e6
    total = SIZE + SMALL_RUNS * SMALL_SIZE
    values = total * len(METRICS) * STEPS
    with sqlite3.connect(home / "gridrun.db") as db:
        counted = db.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
    check(counted == values, f"{counted} metric values in the store, not {values}")
    store_note = (
        f"{SMALL_RUNS + 1} runs, {total:,} experiments, {values:,} metric values, "
        f"{size_mb:.1f} MB, recorded in-process in {made_s:.1f} s"
    )
    print(f"  store: {store_note}", file=sys.stderr)

    results = {
        "run cold": Result(
            "run cold", f"`/#/run/{BIG}` in a fresh context: rows and parallel coordinates drawn"
        ),
        "run warm": Result("run warm", "the same, one context kept (scripts cached)"),
        "refresh": Result(
            "refresh", "the warm page's refresh (`route()`): call to the plot drawn again"
        ),
        "small cold": Result(
            "small cold", f"run cold for `{SMALL}`, {SMALL_SIZE} experiments: the fixed cost"
        ),
        "runs list": Result("runs list", f"`/` in a fresh context: all {SMALL_RUNS + 1} runs"),
        "api run": Result("api run", f"`GET /api/runs/{BIG}` (urllib, body read)"),
        "api runs": Result("api runs", "`GET /api/runs` (urllib, body read)"),
        "handler": Result("handler", "`Api.run` in-process (no HTTP), JSON body included"),
    }
    in_page: dict[str, list[float]] = collections.defaultdict(list)
    phases: list[dict[str, float]] = []
    sizes: dict[str, int] = {}
    profiles: list[str] = []

    # this process's own objects (the expected values, Playwright) stay out of the collector's
    # way when the handler is timed in-process
    gc.collect()
    gc.freeze()
    server = Server(folder, home)
    try:
        browser = Browser()
        try:
            run_url = f"{server.base}/#/run/{BIG}"

            def cold(name: str, size: int) -> tuple[float, dict]:
                context = browser.context()
                try:
                    page = context.new_page()
                    elapsed, timings = load(page, f"{server.base}/#/run/{name}", run_page_ready)
                    check_run_page(page.evaluate(PAGE_FACTS_JS), name, size, best[name])
                finally:
                    context.close()
                return elapsed, timings

            def run_cold() -> float:
                elapsed, timings = cold(BIG, SIZE)
                in_page["run cold"].append(timings["marks"]["drawn"][0]["at"] / 1e3)
                phases.append(client_phases(timings))
                return elapsed

            def small_cold() -> float:
                elapsed, timings = cold(SMALL, SMALL_SIZE)
                in_page["small cold"].append(timings["marks"]["drawn"][0]["at"] / 1e3)
                return elapsed

            refresh_s: list[float] = []

            def run_warm() -> float:
                page = browser.warm_page
                page.goto("about:blank")
                elapsed, timings = load(page, run_url, run_page_ready)
                check_run_page(page.evaluate(PAGE_FACTS_JS), BIG, SIZE, best[BIG])
                in_page["run warm"].append(timings["marks"]["drawn"][0]["at"] / 1e3)
                # then a refresh, as the page's timer makes them (every 30 s for a finished run)
                called = page.evaluate(
                    "() => { const at = performance.now(); route(); return at; }"
                )
                run_page_ready(page, drawn=2)
                timings = page.evaluate(TIMINGS_JS)
                check(not timings["marks"]["errors"], f"errors {timings['marks']['errors']}")
                api = [r for r in timings["resources"] if r["name"].endswith(f"/api/runs/{BIG}")]
                check(len(api) >= 2, "the page did not reload the run")
                check_run_page(page.evaluate(PAGE_FACTS_JS), BIG, SIZE, best[BIG])
                refresh_s.append((timings["marks"]["drawn"][1]["at"] - called) / 1e3)
                in_page["refresh"].append(timings["marks"]["calls"]["renderRun"][1][1] / 1e3)
                page.goto("about:blank")
                return elapsed

            def refresh() -> float:
                return refresh_s[-1]

            def runs_list() -> float:
                context = browser.context()
                try:
                    page = context.new_page()
                    ready = runs_page_ready(SMALL_RUNS + 1)
                    elapsed, timings = load(page, f"{server.base}/", ready)
                    row = f"{RUN_ROW}[data-name='{BIG}'] td:last-child"
                    cell = page.text_content(row) or ""
                    check(best[BIG] in cell, f"the runs list shows as best {cell!r}")
                finally:
                    context.close()
                in_page["runs list"].append(timings["marks"]["runs"] / 1e3)
                return elapsed

            def api_run() -> float:
                start = time.perf_counter()
                body = get(f"{server.base}/api/runs/{BIG}")
                elapsed = time.perf_counter() - start
                check_run_json(json.loads(body), expected, best[BIG])
                sizes["api run"] = len(body)
                return elapsed

            def api_runs() -> float:
                start = time.perf_counter()
                body = get(f"{server.base}/api/runs")
                elapsed = time.perf_counter() - start
                check_runs_json(json.loads(body), best)
                sizes["api runs"] = len(body)
                return elapsed

            def handler() -> float:
                elapsed, body = time_handler(home)
                sizes["handler"] = len(body)
                return elapsed

            work: dict[str, Callable[[], float]] = {
                "run cold": run_cold,
                "run warm": run_warm,
                "refresh": refresh,
                "small cold": small_cold,
                "runs list": runs_list,
                "api run": api_run,
                "api runs": api_runs,
                "handler": handler,
            }
            for round_number in range(repeat + 1):  # round 0: warm-up, untimed
                for case, fn in work.items():
                    elapsed = fn()
                    if round_number:
                        results[case].add(Timing(elapsed, 0.0))
                if round_number == 0:
                    in_page.clear()
                    phases.clear()
                    print("  round 0 (warm-up) done", file=sys.stderr)
                    continue
                done = ", ".join(f"{c} {common.seconds(r.times_s[-1])}" for c, r in results.items())
                print(f"  round {round_number}: {done}", file=sys.stderr)
            if profile:
                profiles += [
                    "Chromium's CPU profile of one cold load of the big run, by self time:",
                    "",
                    "```",
                    cpu_profile(browser, run_url),
                    "```",
                    "",
                    "Chromium's trace of another, by thread and event (nested events overlap):",
                    "",
                    "```",
                    trace_summary(browser, run_url, folder),
                    "```",
                ]
        finally:
            browser.close()
    finally:
        server.stop()

    steps = [server_steps(home) for _ in range(repeat)]
    _, body = time_handler(home)
    check(steps[0][1] == body, "the timed copy of the handler answers other bytes")
    if profile:
        profiles += [
            "",
            f"cProfile of one `/api/runs/{BIG}` handler call, by own time:",
            "",
            "```",
            handler_profile(home),
            "```",
        ]

    for case, values in in_page.items():
        what = "main thread in `renderRun`" if case == "refresh" else "from navigation"
        results[case].note = f"in the page: {common.seconds(median(values))} {what}"
    rows_at = median([p["at: first row seen (after that task)"] for p in phases]) / 1e3
    results["run cold"].note += f"; rows seen at {common.seconds(rows_at)}"
    results["api run"].note = f"{sizes['api run'] / 1e6:.2f} MB of JSON"
    results["api runs"].note = f"{sizes['api runs'] / 1e3:.1f} kB of JSON"
    results["handler"].note = f"{sizes['handler'] / 1e6:.2f} MB body"
    common.print_medians(list(results.values()))

    cold, warm = results["run cold"], results["run warm"]
    met = "met" if cold.median_s < GOAL_S else "MISSED"
    lines = [f"Store: {store_note}.", ""]
    lines += common.table(list(results.values()), repeat)
    lines += [
        "",
        f"Goal: a run of {SIZE:,} experiments opens in under {GOAL_S:g} s: {met} "
        f"(cold {common.seconds(cold.median_s)}, warm {common.seconds(warm.median_s)}).",
        "",
        f"Client side, run cold, median of {repeat} loads (at: ms from navigation start; "
        "spent: ms of the main thread):",
        "",
        "| phase | ms |",
        "| --- | ---: |",
    ]
    lines += [f"| {k} | {median([p[k] for p in phases]):.0f} |" for k in phases[0]]
    lines += [
        "",
        f"Server side, `/api/runs/{BIG}` in-process, step by step, median of {repeat}:",
        "",
        "| step | ms |",
        "| --- | ---: |",
    ]
    medians = {k: median([s[0][k] for s in steps]) for k in steps[0][0]}
    lines += [f"| {k} | {v * 1e3:.1f} |" for k, v in medians.items()]
    lines.append(f"| all | {sum(medians.values()) * 1e3:.1f} |")
    return lines, profiles


def main(argv: list[str] | None = None) -> int:
    parser = common.argument_parser(__doc__, 5)
    parser.add_argument(
        "--profile", action="store_true", help="add profiles of the page and the API handler"
    )
    options = common.parse_options(parser, argv)
    started = time.perf_counter()
    load_before = common.load_now(pressure=True)
    with tempfile.TemporaryDirectory(prefix="gridrun-bench-") as folder:
        lines, profiles = run_benchmark(options.repeat, Path(folder), options.profile)
    chromium = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True)
    tools = (
        f"- browser: {chromium.stdout.strip()}, headless, no GPU, "
        f"{VIEWPORT['width']}x{VIEWPORT['height']}, driven by Playwright "
        f"{version('playwright')}; server: uvicorn {version('uvicorn')}, starlette "
        f"{version('starlette')}, plotly {version('plotly')}; SQLite {sqlite3.sqlite_version}"
    )
    print("\n".join(common.machine_lines(gridrun.__version__, tools, common.subprocesses_line())))
    load_after = common.load_now(pressure=True)
    print(f"- machine load: {load_before} before; {load_after} after (counting this benchmark)")
    print("\n## Dashboard\n")
    print("\n".join(lines))
    if profiles:
        print("\n" + "\n".join(profiles))
    print(f"\n(benchmark took {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
