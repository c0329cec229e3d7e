"""End to end: `grid view` served over a real store, driven in headless Chromium.

A store is made once for the module by real sweeps through the CLI; `python -m gridrun view`
serves it in a subprocess, and Playwright's sync API drives Debian's Chromium (never a
downloaded browser) against it. The pure API checks use httpx and, for paths a client would
normalise, a raw HTTP request.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip(f"the dashboard tests need Chromium at {CHROMIUM}", allow_module_level=True)
try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:
    pytest.skip("the dashboard tests need playwright (Python)", allow_module_level=True)

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
WAIT_MS = 10_000
HOSTILE = ["<script>alert(1)</script>", "<img src=x onerror=alert(2)>"]
LOG_PIECE_BYTES = 256 * 1024

# Any flags (parse_known_args); one metric line per epoch, then what the flags ask for.
SCRIPT = """\
import argparse
import os
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--layers", type=int, default=1)
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--sleep", type=float, default=0.0)
parser.add_argument("--fail", type=int, default=0)
parser.add_argument("--big", type=int, default=0)
parser.add_argument("--tag", default="")
parser.add_argument("--until", default="", help="go on (up to --epochs) until this file is")
parser.add_argument("--utf8_at", type=int, default=0, help="'é' from this byte of the log on")
args, _ = parser.parse_known_args()
for epoch in range(args.epochs):
    loss = args.lr * args.layers / (epoch + 1)
    print(f"epoch={epoch} loss={loss:.6g} acc={1 - loss / 10:.6g}", flush=True)
    if args.until and os.path.exists(args.until):
        break
    if args.sleep:
        time.sleep(args.sleep)
if args.tag:
    print("tag is", args.tag, flush=True)
line = "x" * 99 + "\\n"
for _ in range(args.big // len(line)):
    sys.stdout.write(line)
sys.stdout.flush()
if args.utf8_at:
    pad = "x" * 99 + "\\n"
    text = pad * (args.utf8_at // 100) + "x" * (args.utf8_at % 100) + "é" * 1000 + "\\n"
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.flush()
sys.exit(3 if args.fail else 0)
"""

# The swept values of the run `sweep`, and each experiment's last loss (lr * layers / 3).
SWEEP_LR = ["0.3", "0.1", "0.2"]
SWEEP_LAYERS = ["1", "5"]
# The run `wide`: learning rates over four decades (a log axis), and a text flag.
WIDE_LR = ["0.0001", "0.01", "1"]
RUNS = ["sweep", "mixed", "allfail", "hostile", "biglog", "utf8log", "wide"]


class Dashboard:
    """The served store: its URL, GRIDRUN_HOME, the folder runs start in, and `grid`."""

    def __init__(self, url: str, home: Path, workdir: Path, env: dict[str, str]) -> None:
        self.url = url
        self.home = home
        self.workdir = workdir
        self.env = env

    def grid(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "gridrun", *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"grid {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def api(self, path: str) -> Any:
        response = httpx.get(self.url + path, timeout=10)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(process: subprocess.Popen, url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"grid view exited {process.returncode}:\n{output}")
        try:
            if httpx.get(url + "/api/runs", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"grid view did not answer at {url} within {timeout}s")


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """Real sweeps in a fresh GRIDRUN_HOME, and `grid view` serving it."""
    root = tmp_path_factory.mktemp("dashboard")
    home, workdir = root / "home", root / "work"
    workdir.mkdir()
    (workdir / "train.py").write_text(SCRIPT)
    env = dict(os.environ)
    env["GRIDRUN_HOME"] = str(home)
    env.pop("GRIDRUN_DEBUG", None)
    env["COLUMNS"] = "200"
    port = free_port()
    board = Dashboard(f"http://127.0.0.1:{port}", home, workdir, env)

    # The sweeps, all at once (each its own `grid run`, as from several terminals).
    sweeps = {
        "sweep": ["--metric", "loss", "train.py", "--lr", f"[{', '.join(SWEEP_LR)}]",
                  "--layers", f"[{', '.join(SWEEP_LAYERS)}]"],
        "mixed": ["train.py", "--fail", "[0, 1]", "--lr", "[1, 2]"],
        "allfail": ["train.py", "--fail", "1", "--lr", "[1, 2]"],
        "utf8log": ["train.py", "--epochs", "0", "--utf8_at", str(LOG_PIECE_BYTES - 1)],
        "hostile": ["train.py", "--tag", repr(HOSTILE).replace('"', "'")],
        "biglog": ["train.py", "--big", str(LOG_PIECE_BYTES * 2 + 1000)],
        "wide": ["--metric", "acc", "--mode", "max", "train.py",
                 "--lr", f"[{', '.join(WIDE_LR)}]", "--tag", "[a, b]"],
    }  # fmt: skip
    started = {
        name: subprocess.Popen(
            [sys.executable, "-m", "gridrun", "run", "--name", name, *args],
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, args in sweeps.items()
    }
    for name, sweep in started.items():
        output, _ = sweep.communicate(timeout=120)
        expected = 1 if name in ("mixed", "allfail") else 0  # (some of) their experiments fail
        assert sweep.returncode == expected, f"grid run {name}: {sweep.returncode}\n{output}"

    process = subprocess.Popen(
        [sys.executable, "-m", "gridrun", "view", "--no_browser", "--port", str(port),
         "--host", "127.0.0.1"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        wait_until_serving(process, board.url)
        yield board
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


class Watched:
    """What the page did that it should not: dialogs opened and uncaught script errors."""

    def __init__(self) -> None:
        self.dialogs: list[str] = []
        self.errors: list[str] = []


@pytest.fixture(scope="module")
def shared_page(browser: Browser, dashboard: Dashboard) -> Iterator[tuple[Page, Watched]]:
    """One tab for the module: Plotly.js (4 MB) is parsed once, not once per test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    watched = Watched()

    def on_dialog(dialog: Any) -> None:
        watched.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    try:
        yield page, watched
    finally:
        context.close()


@pytest.fixture
def page(shared_page: tuple[Page, Watched], dashboard: Dashboard) -> Page:
    """The shared tab, on the runs list (leaving a run's view resets it), nothing seen yet."""
    page, watched = shared_page
    if page.url.startswith(dashboard.url):
        page.goto(dashboard.url + "/#/")
    else:
        page.goto(dashboard.url + "/")
    expect(page.locator("#runs-table tbody tr.run-row").first).to_be_visible()
    watched.dialogs.clear()
    watched.errors.clear()
    page.watched = watched  # type: ignore[attr-defined]
    return page


def assert_clean(page: Page) -> None:
    watched: Watched = page.watched  # type: ignore[attr-defined]
    assert watched.dialogs == [], watched.dialogs
    assert watched.errors == [], watched.errors


def open_run(page: Page, board: Dashboard, name: str) -> None:
    page.goto(f"{board.url}/#/run/{name}")
    expect(page.locator("#run-title")).to_have_text(name)
    expect(page.locator("#experiments-table tbody tr.experiment-row").first).to_be_visible()


def column(page: Page, key: str) -> list[str]:
    cells = page.locator(f'#experiments-table tbody tr.experiment-row td[data-key="{key}"]')
    return cells.all_inner_texts()


def row(page: Page, name: str) -> Any:
    return page.locator(f'#experiments-table tbody tr.experiment-row[data-name="{name}"]')


# ------------------------------------------------------------------------ runs list


def test_runs_list_shows_runs_and_opens_one(page: Page, dashboard: Dashboard) -> None:
    page.reload()  # a whole load of the page, as a browser opening the dashboard does
    rows = page.locator("#runs-table tbody tr.run-row")
    expect(rows.first).to_be_visible()
    names = {rows.nth(i).get_attribute("data-name") for i in range(rows.count())}
    assert names - {"live"} == set(RUNS)
    expect(page.locator('tr.run-row[data-name="mixed"]')).to_contain_text("failed")
    expect(page.locator('tr.run-row[data-name="sweep"]')).to_contain_text("loss")

    page.locator("a.run-link", has_text="sweep").click()
    expect(page.locator("#run-title")).to_have_text("sweep")
    assert page.url.endswith("#/run/sweep")
    expect(page.locator("#experiments-table tbody tr.experiment-row")).to_have_count(6)
    assert_clean(page)


# ------------------------------------------------------------------------ experiments table


def test_table_has_a_row_per_experiment_with_params_and_metrics(
    page: Page, dashboard: Dashboard
) -> None:
    open_run(page, dashboard, "sweep")
    rows = page.locator("#experiments-table tbody tr.experiment-row")
    expect(rows).to_have_count(6)
    headers = page.locator("#experiments-table thead th[data-key]")
    keys = [headers.nth(i).get_attribute("data-key") for i in range(headers.count())]
    for key in ("name", "state", "p:--lr", "p:--layers", "m:loss", "m:acc", "duration", "exit"):
        assert key in keys, keys
    assert column(page, "name") == [f"sweep-exp{i}" for i in range(6)]
    assert column(page, "state") == ["succeeded"] * 6
    assert column(page, "p:--lr") == [lr for lr in SWEEP_LR for _ in SWEEP_LAYERS]
    assert column(page, "p:--layers") == SWEEP_LAYERS * 3
    for lr, layers, loss in zip(
        column(page, "p:--lr"), column(page, "p:--layers"), column(page, "m:loss"), strict=True
    ):
        assert float(loss) == pytest.approx(float(lr) * int(layers) / 3, rel=1e-3)
    for lr, layers, acc in zip(
        column(page, "p:--lr"), column(page, "p:--layers"), column(page, "m:acc"), strict=True
    ):
        assert float(acc) == pytest.approx(1 - float(lr) * int(layers) / 30, rel=1e-3)
    expect(page.locator("#row-count")).to_have_text("6 shown")
    assert_clean(page)


def test_header_click_sorts_ascending_then_descending(page: Page, dashboard: Dashboard) -> None:
    open_run(page, dashboard, "sweep")
    expected = sorted(
        (float(lr) * int(layers) / 3, f"sweep-exp{i}")
        for i, (lr, layers) in enumerate((lr, la) for lr in SWEEP_LR for la in SWEEP_LAYERS)
    )
    header = page.locator('#experiments-table thead th[data-key="m:loss"]')

    header.click()
    expect(header).to_have_class("sorted-asc")
    losses = [float(v) for v in column(page, "m:loss")]
    assert losses == sorted(losses) and len(losses) == 6
    assert column(page, "name") == [name for _, name in expected]

    page.locator('#experiments-table thead th[data-key="m:loss"]').click()
    expect(page.locator('#experiments-table thead th[data-key="m:loss"]')).to_have_class(
        "sorted-desc"
    )
    losses = [float(v) for v in column(page, "m:loss")]
    assert losses == sorted(losses, reverse=True)
    assert column(page, "name") == [name for _, name in reversed(expected)]

    page.locator('#experiments-table thead th[data-key="p:--lr"]').click()
    assert [float(v) for v in column(page, "p:--lr")] == sorted(
        float(lr) for lr in SWEEP_LR for _ in SWEEP_LAYERS
    )
    assert_clean(page)


def test_state_filter(page: Page, dashboard: Dashboard) -> None:
    open_run(page, dashboard, "mixed")
    rows = page.locator("#experiments-table tbody tr.experiment-row")
    expect(rows).to_have_count(4)
    assert sorted(column(page, "state")) == ["failed", "failed", "succeeded", "succeeded"]

    page.locator("#state-filter").select_option("failed")
    expect(rows).to_have_count(2)
    assert column(page, "state") == ["failed", "failed"]
    assert column(page, "exit") == ["3", "3"]
    assert column(page, "p:--fail") == ["1", "1"]
    expect(page.locator("#row-count")).to_have_text("2 shown")

    page.locator("#state-filter").select_option("succeeded")
    expect(rows).to_have_count(2)
    assert column(page, "state") == ["succeeded", "succeeded"]
    assert column(page, "p:--fail") == ["0", "0"]

    page.locator("#state-filter").select_option("running")
    expect(rows).to_have_count(0)
    expect(page.locator("#row-count")).to_have_text("0 shown")

    page.locator("#state-filter").select_option("")
    expect(rows).to_have_count(4)
    assert_clean(page)


def test_text_filter(page: Page, dashboard: Dashboard) -> None:
    open_run(page, dashboard, "sweep")
    rows = page.locator("#experiments-table tbody tr.experiment-row")
    text = page.locator("#text-filter")

    text.fill("0.3")  # a value of --lr
    expect(rows).to_have_count(2)
    assert column(page, "p:--lr") == ["0.3", "0.3"]

    text.fill("EXP4")  # a name, whatever the case
    expect(rows).to_have_count(1)
    assert column(page, "name") == ["sweep-exp4"]

    text.fill("no such thing")
    expect(rows).to_have_count(0)

    text.fill("")
    expect(rows).to_have_count(6)
    assert_clean(page)


# ------------------------------------------------------------------------ plots


def wait_drawn(page: Page, after: int = 0) -> int:
    """Wait until the parallel coordinates have been drawn (again, if `after` counts an earlier
    drawing) and painted; return the count of drawings the page has made."""
    plot = page.locator("#parcoords[data-drawn]")
    expect(plot).to_be_attached()
    page.wait_for_function(
        f"Number(document.getElementById('parcoords').dataset.drawn) > {after}", timeout=WAIT_MS
    )
    return int(plot.get_attribute("data-drawn") or 0)


def axis_labels(page: Page) -> list[str]:
    return page.locator("#parcoords .pc-axis .pc-label").all_text_contents()


def tick_labels(page: Page, key: str) -> list[str]:
    selector = f'#parcoords .pc-axis[data-key="{key}"] .pc-tick-label'
    return page.locator(selector).all_text_contents()


# The canvas' colour under line `name`, a fraction f of the way from axis k to axis k + 1 (its
# pixels are CSS pixels times devicePixelRatio), and where that is in CSS pixels of the page.
PIXEL_JS = """([name, k, f]) => {
  const target = document.getElementById("parcoords");
  const pc = target.parcoords, i = pc.names.indexOf(name);
  const x = pc.xs[k] + (pc.xs[k + 1] - pc.xs[k]) * f;
  const y = pc.ys[i * pc.axes + k] + (pc.ys[i * pc.axes + k + 1] - pc.ys[i * pc.axes + k]) * f;
  const canvas = target.querySelector("canvas.pc-lines"), ratio = window.devicePixelRatio;
  const rgba = canvas.getContext("2d")
    .getImageData(Math.round(x * ratio), Math.round(y * ratio), 1, 1).data;
  const box = canvas.getBoundingClientRect();
  return { rgba: [...rgba], x: box.left + x, y: box.top + y };
}"""


def test_parcoords_draws_every_experiment_with_an_axis_per_param_and_the_metric(
    browser: Browser, dashboard: Dashboard
) -> None:
    # A page of its own, at devicePixelRatio 2: the canvas must be drawn at that resolution.
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, device_scale_factor=2)
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{dashboard.url}/#/run/sweep")
        wait_drawn(page)
        plot = page.locator("#parcoords")
        assert axis_labels(page) == ["--lr", "--layers", "loss"]
        assert plot.get_attribute("data-lines") == "6"
        assert plot.get_attribute("data-selected") == "6"
        assert plot.get_attribute("data-best") == "sweep-exp2"  # lr 0.1 x 1 layer: least loss
        scales = page.locator("#parcoords .pc-axis").evaluate_all(
            "(axes) => axes.map((a) => a.dataset.scale)"
        )
        assert scales == ["linear", "linear", "linear"]
        # a few values: each named, bottom up
        assert tick_labels(page, "p:--layers") == SWEEP_LAYERS
        assert tick_labels(page, "p:--lr") == sorted(SWEEP_LR)
        losses = sorted(float(lr) * int(la) / 3 for lr in SWEEP_LR for la in SWEEP_LAYERS)
        loss_ticks = [float(t) for t in tick_labels(page, "m:loss")]
        assert loss_ticks == pytest.approx(losses, rel=1e-3)
        expect(page.locator("#pc-legend")).to_contain_text("the best in red: sweep-exp2")

        # The canvas holds devicePixelRatio pixels per CSS pixel, and the lines are on it:
        # the best one in red, the others in the colours of the scale.
        size = page.evaluate(
            "() => { const c = document.querySelector('#parcoords canvas.pc-lines');"
            " return [c.width, c.height, c.getBoundingClientRect().width,"
            " c.getBoundingClientRect().height]; }"
        )
        assert size[0] == 2 * round(size[2]) and size[1] == 2 * round(size[3]), size
        best = page.evaluate(PIXEL_JS, ["sweep-exp2", 0, 0.5])["rgba"]
        assert best[0] > 180 and best[1] < 80 and best[2] < 80 and best[3] == 255, best
        for name in ("sweep-exp1", "sweep-exp4"):  # the worst (lr 0.3 x 5) and another
            other = page.evaluate(PIXEL_JS, [name, 1, 0.5])["rgba"]
            assert other[3] > 0 and not (other[0] > 180 and other[1] < 80), (name, other)

        # A narrower window: the plot is drawn again to its panel's new width.
        drawn = int(plot.get_attribute("data-drawn") or 0)
        wide = int(plot.get_attribute("data-width") or 0)
        page.set_viewport_size({"width": 1000, "height": 1000})
        wait_drawn(page, drawn)
        narrow = int(plot.get_attribute("data-width") or 0)
        assert 0 < narrow < wide - 100, (narrow, wide)
        assert (
            page.evaluate("document.querySelector('#parcoords canvas.pc-lines').width")
            == 2 * narrow
        )
        assert errors == []
    finally:
        context.close()


def test_parcoords_log_axes_text_axes_and_another_metric(page: Page, dashboard: Dashboard) -> None:
    open_run(page, dashboard, "wide")
    drawn = wait_drawn(page)
    assert axis_labels(page) == ["--lr", "--tag", "acc"]
    lr = page.locator('#parcoords .pc-axis[data-key="p:--lr"]')
    expect(lr).to_have_attribute("data-scale", "log")  # 1e-4 to 1: four decades
    assert tick_labels(page, "p:--lr") == WIDE_LR
    expect(lr.locator(".pc-scale")).to_have_text("log")
    tag = page.locator('#parcoords .pc-axis[data-key="p:--tag"]')
    expect(tag).to_have_attribute("data-scale", "category")
    assert tick_labels(page, "p:--tag") == ["a", "b"]  # evenly spaced, in the sweep's order
    ys = [float(y) for y in tag.locator(".pc-tick").evaluate_all(
        "(ticks) => ticks.map((t) => t.getAttribute('y1'))")]  # fmt: skip
    assert len(ys) == 2 and ys[0] > ys[1]  # the first at the bottom
    # ranked by acc, highest first: the smallest learning rate (tag a and b tie: the first)
    expect(page.locator("#parcoords")).to_have_attribute("data-best", "wide-exp0")
    expect(page.locator("#pc-legend")).to_contain_text("higher is better")

    page.locator("#metric-select").select_option("loss")
    wait_drawn(page, drawn)
    assert axis_labels(page) == ["--lr", "--tag", "loss"]
    metric = page.locator('#parcoords .pc-axis[data-key="m:loss"]')
    expect(metric).to_have_attribute("data-scale", "log")  # lr / 3: four decades too
    expect(page.locator("#parcoords")).to_have_attribute("data-lines", "6")
    expect(page.locator("#pc-legend")).to_contain_text("lower is better")

    # brushes on a text axis (the categories in the range) and on a log axis
    rows = page.locator("#experiments-table tbody tr.experiment-row")
    drag_on_axis(page, "p:--tag", 0.6, 1.1)
    expect(rows).to_have_count(3)
    assert column(page, "p:--tag") == ["b", "b", "b"]
    drag_on_axis(page, "p:--lr", 0.6, 1.1)  # 10^-1.6 and up: lr 1 alone
    expect(rows).to_have_count(1)
    assert column(page, "name") == ["wide-exp5"]
    page.locator("#pc-clear").click()
    expect(rows).to_have_count(6)
    assert_clean(page)


def test_parcoords_scales(page: Page) -> None:
    # parcoords.js' scales, on values no sweep above has: many numbers, spans, texts
    scale = page.evaluate(
        """(cases) => cases.map((values) => {
             const s = pcScale(values);
             return { kind: s.kind, ticks: s.ticks.map((t) => [t.text, t.t]) };
           })""",
        [
            [str(i / 10) for i in range(0, 101)],  # 0 to 10: round ticks and both ends
            [10 ** (i / 10 - 3) for i in range(0, 61)],  # 1e-3 to 1e3: decades
            [1, 5, 90],  # two decades, but 1 to 90 only: linear
            [-1, 10, 1000],  # not all positive: linear
            ["7", "x", "7", None, "y"],  # a text among numbers: categories, none as such
            [3, 3, 3],  # one value: in the middle
        ],
    )
    kinds = [case["kind"] for case in scale]
    assert kinds == ["linear", "log", "linear", "linear", "category", "linear"]
    assert [t[0] for t in scale[0]["ticks"]] == ["0", "2", "4", "6", "8", "10"]
    assert [t[0] for t in scale[1]["ticks"]] == ["0.001", "0.01", "0.1", "1", "10", "100", "1000"]
    assert [t[1] for t in scale[1]["ticks"]] == pytest.approx([i / 6 for i in range(7)])
    assert [t[0] for t in scale[2]["ticks"]] == ["1", "5", "90"]
    assert [t[0] for t in scale[4]["ticks"]] == ["7", "x", "(none)", "y"]
    assert [t[1] for t in scale[4]["ticks"]] == pytest.approx([0, 1 / 3, 2 / 3, 1])
    assert scale[5]["ticks"] == [["3", 0.5]]


def drag_on_axis(page: Page, key: str, t0: float, t1: float) -> None:
    """Drag along axis `key` from t0 to t1 (0: its bottom, 1: its top; beyond: past its end)."""
    box = page.locator(f'#parcoords .pc-axis[data-key="{key}"] .pc-domain').bounding_box()
    assert box is not None
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + (1 - t0) * box["height"])
    page.mouse.down()
    page.mouse.move(x, box["y"] + (1 - (t0 + t1) / 2) * box["height"], steps=3)
    page.mouse.move(x, box["y"] + (1 - t1) * box["height"], steps=3)
    page.mouse.up()


def click_on_axis(page: Page, key: str) -> None:
    box = page.locator(f'#parcoords .pc-axis[data-key="{key}"] .pc-domain').bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_brushing_axes_filters_the_plot_and_the_table(page: Page, dashboard: Dashboard) -> None:
    open_run(page, dashboard, "sweep")
    drawn = wait_drawn(page)
    plot = page.locator("#parcoords")
    rows = page.locator("#experiments-table tbody tr.experiment-row")
    clear = page.locator("#pc-clear")
    expect(clear).to_be_hidden()

    # --lr runs 0.1 (bottom) to 0.3 (top): the top quarter holds 0.3 alone
    drag_on_axis(page, "p:--lr", 0.75, 1.1)
    drawn = wait_drawn(page, drawn)
    expect(rows).to_have_count(2)
    assert column(page, "p:--lr") == ["0.3", "0.3"]
    expect(plot).to_have_attribute("data-selected", "2")
    expect(plot).to_have_attribute("data-lines", "6")  # the others are drawn, in grey
    expect(page.locator('#parcoords .pc-axis[data-key="p:--lr"] .pc-brush')).to_be_visible()
    expect(page.locator("#row-count")).to_have_text("2 shown (in the ranges selected on the plot)")
    expect(page.locator("#pc-legend")).to_contain_text("2 in the selected ranges")
    expect(clear).to_be_visible()
    # outside the brush: grey; in it: the colours of the scale
    grey = page.evaluate(PIXEL_JS, ["sweep-exp2", 0, 0.5])["rgba"]
    assert grey[3] > 0 and min(grey[:3]) > 180 and max(grey[:3]) - min(grey[:3]) < 24, grey

    # and --layers 5 (the top half): one experiment in both
    drag_on_axis(page, "p:--layers", 0.6, 1.05)
    drawn = wait_drawn(page, drawn)
    expect(rows).to_have_count(1)
    assert column(page, "name") == ["sweep-exp1"]
    expect(plot).to_have_attribute("data-selected", "1")

    # the page's own refresh keeps the selection
    page.evaluate("route()")
    drawn = wait_drawn(page, drawn)
    expect(rows).to_have_count(1)

    # a click on an axis clears its brush: --layers 5 alone is left
    click_on_axis(page, "p:--lr")
    drawn = wait_drawn(page, drawn)
    expect(rows).to_have_count(3)
    assert column(page, "p:--layers") == ["5", "5", "5"]
    expect(page.locator('#parcoords .pc-axis[data-key="p:--lr"] .pc-brush')).to_be_hidden()

    # a brush on the metric's axis: the least loss (1/30, at the bottom; the next is 1/15)
    drag_on_axis(page, "m:loss", 0.05, -0.1)
    drawn = wait_drawn(page, drawn)
    expect(rows).to_have_count(0)  # none has 5 layers and so little loss
    click_on_axis(page, "p:--layers")
    drawn = wait_drawn(page, drawn)
    expect(rows).to_have_count(1)
    assert column(page, "name") == ["sweep-exp2"]

    clear.click()
    wait_drawn(page, drawn)
    expect(rows).to_have_count(6)
    expect(plot).to_have_attribute("data-selected", "6")
    expect(clear).to_be_hidden()
    expect(page.locator("#row-count")).to_have_text("6 shown")
    assert_clean(page)


def test_hovering_a_line_names_it_and_clicking_opens_its_log(
    page: Page, dashboard: Dashboard
) -> None:
    open_run(page, dashboard, "sweep")
    wait_drawn(page)
    tip = page.locator("#parcoords .pc-tip")
    expect(tip).to_be_hidden()
    # a quarter of the way from --lr to --layers, where no other line is near
    where = page.evaluate(PIXEL_JS, ["sweep-exp3", 0, 0.25])  # lr 0.1, 5 layers
    page.mouse.move(where["x"], where["y"])
    expect(tip).to_be_visible()
    expect(tip).to_have_attribute("data-name", "sweep-exp3")
    expect(tip).to_contain_text("sweep-exp3")
    expect(tip).to_contain_text("--lr: 0.1")
    expect(tip).to_contain_text("--layers: 5")
    page.mouse.click(where["x"], where["y"])
    expect(page.locator("#log-title")).to_have_text("log: sweep-exp3")
    expect(page.locator("pre#log")).to_contain_text("epoch=2 loss=")

    best = page.evaluate(PIXEL_JS, ["sweep-exp2", 0, 0.25])
    page.mouse.move(best["x"], best["y"])
    expect(tip).to_contain_text("sweep-exp2 (best)")
    page.mouse.move(5, 5)  # off the plot
    expect(tip).to_be_hidden()
    assert_clean(page)


def test_run_page_draws_without_plotly_and_loads_it_for_curves(
    browser: Browser, dashboard: Dashboard
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(f"{dashboard.url}/#/run/sweep")
        wait_drawn(page)
        expect(page.locator("#experiments-table tbody tr.experiment-row")).to_have_count(6)
        curves = page.locator("#curves")
        expect(curves).to_contain_text("tick experiments")
        assert not any(url.endswith("/plotly.min.js") for url in requested), requested
        assert page.evaluate("typeof window.Plotly") == "undefined"

        # One click shows the best experiment's curve (and ticks it); Plotly.js loads then.
        page.locator("#show-best").click()
        traces = page.locator("#curves .scatterlayer .trace")
        expect(traces).to_have_count(1)
        expect(row(page, "sweep-exp2").locator("input.pick")).to_be_checked()
        assert any(url.endswith("/plotly.min.js") for url in requested)

        row(page, "sweep-exp0").locator("input.pick").check()
        expect(traces).to_have_count(2)
        row(page, "sweep-exp5").locator("input.pick").check()
        expect(traces).to_have_count(3)
        names = page.evaluate("document.getElementById('curves').data.map((t) => t.name)")
        assert sorted(names) == ["sweep-exp0", "sweep-exp2", "sweep-exp5"]
        points = page.evaluate("document.getElementById('curves').data.map((t) => t.x.length)")
        assert points == [3, 3, 3]
        row(page, "sweep-exp5").locator("input.pick").uncheck()
        expect(traces).to_have_count(2)
    finally:
        context.close()


def test_curves_come_back_after_unticking_everything(page: Page, dashboard: Dashboard) -> None:
    # No experiment succeeded, so none is best and the curves start empty.
    open_run(page, dashboard, "allfail")
    curves = page.locator("#curves")
    traces = page.locator("#curves .scatterlayer .trace")
    expect(curves).to_contain_text("tick experiments")
    pick = row(page, "allfail-exp0").locator("input.pick")
    pick.check()
    expect(traces).to_have_count(1)
    pick.uncheck()
    expect(traces).to_have_count(0)
    expect(curves).to_contain_text("tick experiments")
    pick.check()
    expect(traces).to_have_count(1, timeout=3000)


# ------------------------------------------------------------------------ logs


def test_clicking_an_experiment_shows_its_log(page: Page, dashboard: Dashboard) -> None:
    open_run(page, dashboard, "sweep")
    row(page, "sweep-exp3").locator("a.exp-link").click()
    expect(page.locator("#log-title")).to_have_text("log: sweep-exp3")
    log = page.locator("pre#log")
    expect(log).to_contain_text("epoch=0 loss=")
    expect(log).to_contain_text("epoch=2 loss=")
    expected = (dashboard.home / "runs" / "sweep" / "sweep-exp3" / "stdout.log").read_text()
    assert log.text_content() == expected
    expect(row(page, "sweep-exp3")).to_have_class("experiment-row selected")
    expect(page.locator("#log-state")).to_contain_text("succeeded")
    assert_clean(page)


def test_big_log_shows_its_tail(page: Page, dashboard: Dashboard) -> None:
    open_run(page, dashboard, "biglog")
    row(page, "biglog-exp0").locator("a.exp-link").click()
    log = page.locator("pre#log")
    expect(log).to_contain_text("earlier bytes not shown")
    size = (dashboard.home / "runs" / "biglog" / "biglog-exp0" / "stdout.log").stat().st_size
    expect(page.locator("#log-state")).to_have_text(f"succeeded · {size} bytes")
    assert_clean(page)


def test_live_log_tail_and_states_update_without_reload(page: Page, dashboard: Dashboard) -> None:
    # A line every 0.3 s until the test says stop (or 60 s), so a slow machine misses nothing.
    stop = dashboard.workdir / "stop-live"
    dashboard.grid(
        "run", "--detach", "--name", "live", "train.py",
        "--epochs", "200", "--sleep", "0.3", "--lr", "[0.5]", "--until", str(stop),
    )  # fmt: skip
    try:
        page.goto(f"{dashboard.url}/#/run/live")
        page.evaluate("window.__notReloaded = true")
        state = row(page, "live-exp0").locator('td[data-key="state"]')
        expect(state).to_have_text("running")
        row(page, "live-exp0").locator("a.exp-link").click()
        log = page.locator("pre#log")
        expect(log).to_contain_text("epoch=")
        expect(page.locator("#log-state")).to_contain_text("running")
        for _ in range(3):  # it grows, and grows again, with no reload
            before = len(log.text_content() or "")
            page.wait_for_function(
                f"document.getElementById('log').textContent.length > {before}", timeout=WAIT_MS
            )
    finally:
        stop.touch()
    # The experiment ends; the page notices by itself.
    expect(state).to_have_text("succeeded")
    path = dashboard.home / "runs" / "live" / "live-exp0" / "stdout.log"
    expect(log).to_have_text(path.read_text())
    assert path.read_text().count("epoch=") >= 4
    expect(page.locator("#log-state")).to_contain_text("succeeded")
    expect(page.locator("#run-meta")).to_contain_text("succeeded")
    assert page.evaluate("window.__notReloaded") is True
    assert_clean(page)


# ------------------------------------------------------------------------ hostile text


def test_hostile_values_render_as_text(page: Page, dashboard: Dashboard) -> None:
    open_run(page, dashboard, "hostile")
    rows = page.locator("#experiments-table tbody tr.experiment-row")
    expect(rows).to_have_count(2)
    cells = page.locator('#experiments-table tbody td[data-key="p:--tag"]')
    expect(cells).to_have_text(HOSTILE)
    assert page.locator("#experiments-table tbody img").count() == 0
    assert page.locator("#experiments-table tbody script").count() == 0
    row(page, "hostile-exp1").locator("a.exp-link").click()
    expect(page.locator("pre#log")).to_contain_text(f"tag is {HOSTILE[1]}")
    assert page.locator("pre#log img").count() == 0
    expect(page.locator("#run-meta")).to_contain_text(HOSTILE[0])
    # The parallel coordinates name the text values on their axis' ticks, as text too, and
    # in the tooltip of a line.
    wait_drawn(page)
    assert tick_labels(page, "p:--tag") == HOSTILE
    assert page.locator("#parcoords img").count() == 0
    assert page.locator("#parcoords script").count() == 0
    where = page.evaluate(PIXEL_JS, ["hostile-exp0", 0, 0.25])
    page.mouse.move(where["x"], where["y"])
    expect(page.locator("#parcoords .pc-tip")).to_contain_text(f"--tag: {HOSTILE[0]}")
    assert page.locator("#parcoords .pc-tip *").evaluate_all(
        "(nodes) => nodes.map((n) => n.tagName)"
    ) == ["B", "DIV", "DIV"]
    page.wait_for_timeout(300)  # a dialog would have fired by now
    assert_clean(page)


# ------------------------------------------------------------------------ API


def raw_get(board: Dashboard, path: str) -> tuple[int, bytes]:
    """GET `path` byte for byte (httpx would normalise `..` away)."""
    host, port = board.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_api_is_read_only(dashboard: Dashboard) -> None:
    for path in ("/api/runs", "/api/runs/sweep", "/api/experiments/sweep-exp0/log"):
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            response = httpx.request(method, dashboard.url + path, timeout=10)
            assert response.status_code == 405, (method, path, response.status_code)
    # No CORS: another site's page cannot read the API.
    response = httpx.get(
        dashboard.url + "/api/runs", headers={"Origin": "https://evil.example"}, timeout=10
    )
    assert "access-control-allow-origin" not in response.headers
    # Nothing changed.
    runs = dashboard.api("/api/runs")["runs"]
    assert set(RUNS) <= {r["name"] for r in runs}
    assert len(dashboard.api("/api/runs/sweep")["experiments"]) == 6


def test_run_api_answers_compact_rows(dashboard: Dashboard) -> None:
    data = dashboard.api("/api/runs/sweep")
    assert data["name"] == "sweep" and data["counts"]["succeeded"] == 6
    assert data["options"]["metric"] == "loss"
    assert data["params"] == ["--lr", "--layers"]
    assert data["metrics"] == ["acc", "loss"]
    assert data["columns"] == [
        "name", "state", "exit_code", "signal", "duration_s", "params", "metrics"
    ]  # fmt: skip
    rows = data["experiments"]
    assert [r[0] for r in rows] == [f"sweep-exp{i}" for i in range(6)]
    expected = [(lr, layers) for lr in SWEEP_LR for layers in SWEEP_LAYERS]
    for (name, state, exit_code, signal, duration, params, metrics), (lr, layers) in zip(
        rows, expected, strict=True
    ):
        assert (state, exit_code, signal) == ("succeeded", 0, None), name
        assert isinstance(duration, float) and duration >= 0
        assert params == [lr, layers]
        acc, loss = metrics
        assert loss == pytest.approx(float(lr) * int(layers) / 3, rel=1e-4)
        assert acc == pytest.approx(1 - float(lr) * int(layers) / 30, rel=1e-4)

    failed = dashboard.api("/api/runs/mixed")
    assert failed["params"] == ["--fail", "--lr"]
    states = {r[0]: (r[1], r[2], r[5]) for r in failed["experiments"]}
    assert states["mixed-exp2"] == ("failed", 3, ["1", "1"])
    assert states["mixed-exp0"] == ("succeeded", 0, ["0", "1"])
    hostile = dashboard.api("/api/runs/hostile")
    assert [r[5] for r in hostile["experiments"]] == [[value] for value in HOSTILE]


@pytest.mark.parametrize(
    "path",
    [
        "/static/../app.py",
        "/static/../../gridrun/dashboard/app.py",
        "/static/..%2fapp.py",
        "/static/%2e%2e%2fapp.py",
        "/static/%2E%2E/app.py",
        "/static/..",
        "/static/index.html",
        "/static/nope.js",
        "/static/app.js%00",
        "/static/",
    ],
)
def test_static_serves_only_its_files(dashboard: Dashboard, path: str) -> None:
    status, body = raw_get(dashboard, path)
    assert status == 404, (path, status, body[:200])
    assert b"import" not in body


def test_static_files_and_plotly_are_served(dashboard: Dashboard) -> None:
    for path, kind in (
        ("/", "text/html"),
        ("/static/app.js", "text/javascript"),
        ("/static/style.css", "text/css"),
        ("/plotly.min.js", "text/javascript"),
    ):
        response = httpx.get(dashboard.url + path, timeout=10)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith(kind), (path, response.headers)


def test_log_api_edges(dashboard: Dashboard) -> None:
    missing = httpx.get(dashboard.url + "/api/experiments/no-such-exp0/log", timeout=10)
    assert missing.status_code == 404
    assert httpx.get(dashboard.url + "/api/runs/no-such-run", timeout=10).status_code == 404
    bad = httpx.get(dashboard.url + "/api/experiments/sweep-exp0/log?offset=x", timeout=10)
    assert bad.status_code == 400

    path = dashboard.home / "runs" / "sweep" / "sweep-exp0" / "stdout.log"
    size = path.stat().st_size
    whole = dashboard.api("/api/experiments/sweep-exp0/log?offset=0")
    assert whole["text"] == path.read_text()
    assert (whole["start"], whole["offset"], whole["size"]) == (0, size, size)
    past = dashboard.api(f"/api/experiments/sweep-exp0/log?offset={size + 1000}")
    assert past["text"] == ""
    assert past["offset"] == size
    tail = dashboard.api("/api/experiments/sweep-exp0/log?offset=-10")
    assert tail["text"] == path.read_text()[-10:]


def test_big_log_is_served_in_pieces(dashboard: Dashboard) -> None:
    path = dashboard.home / "runs" / "biglog" / "biglog-exp0" / "stdout.log"
    content = path.read_bytes()
    assert len(content) > 2 * LOG_PIECE_BYTES
    offset, pieces, requests = 0, [], 0
    while True:
        data = dashboard.api(f"/api/experiments/biglog-exp0/log?offset={offset}")
        requests += 1
        piece = data["text"].encode()
        assert len(piece) <= LOG_PIECE_BYTES
        assert data["start"] == offset
        assert data["offset"] == offset + len(piece)
        assert data["size"] == len(content)
        if not piece:
            break
        pieces.append(piece)
        offset = data["offset"]
        assert requests < 10
    assert b"".join(pieces) == content
    assert len(pieces) == 3
    assert len(pieces[0]) == LOG_PIECE_BYTES


def test_log_pieces_keep_multibyte_characters_whole(dashboard: Dashboard) -> None:
    path = dashboard.home / "runs" / "utf8log" / "utf8log-exp0" / "stdout.log"
    content = path.read_bytes()
    assert content[LOG_PIECE_BYTES - 1 : LOG_PIECE_BYTES + 1] == "é".encode()  # across
    offset, text = 0, ""
    for _ in range(10):
        data = dashboard.api(f"/api/experiments/utf8log-exp0/log?offset={offset}")
        if not data["text"]:
            break
        text += data["text"]
        offset = data["offset"]
    assert "\ufffd" not in text
    assert text == content.decode("utf-8")


def test_curves_api(dashboard: Dashboard) -> None:
    data = dashboard.api("/api/runs/sweep/curves?metric=loss&experiments=sweep-exp0,sweep-exp1")
    assert set(data["curves"]) == {"sweep-exp0", "sweep-exp1"}
    assert data["metric"] == "loss"
    assert [point[0] for point in data["curves"]["sweep-exp0"]] == [0, 1, 2]
    assert [point[1] for point in data["curves"]["sweep-exp1"]] == pytest.approx(
        [1.5, 0.75, 0.5]
    )  # lr 0.3 x 5 layers / (epoch + 1)


def test_only_loopback_host_names_are_answered(dashboard: Dashboard) -> None:
    # A page elsewhere that rebinds its own name to 127.0.0.1 must not read the store.
    rebound = httpx.get(dashboard.url + "/api/runs", headers={"Host": "evil.example:80"})
    assert rebound.status_code == 400
    assert httpx.get(dashboard.url + "/api/runs").status_code == 200
