"""Make docs/dashboard.png, the README's picture of `grid view`, from a real sweep.

    .venv/bin/python docs/make_screenshot.py [--out docs/dashboard.png]

In a temporary GRIDRUN_HOME, `grid run` sweeps examples/train.py (its learning rate, weight
decay and batch size: 12 experiments, ranked by val_loss), then `grid view --no_browser` serves
the store and headless Chromium (Debian's /usr/bin/chromium, driven by Playwright; never
`playwright install`) opens the run's page at 1400x1000: the table sorted by val_loss (the best
experiment first, marked), the best and the worst experiment ticked so that the curves panel
compares them, the worst one clicked so that its log shows. The whole page is saved as a PNG.

The page reloads an open run every 5 s; once it has loaded, that timer is turned off, so that
nothing is re-drawn while the picture is taken.

Needs gridrun with its dashboard packages (starlette, uvicorn, and plotly for the curves) and
Playwright.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SWEEP = [
    "examples/train.py",
    "--learning_rate",
    "[0.01, 0.1, 0.4]",
    "--l2",
    "[0, 0.01]",
    "--batch_size",
    "[16, 128]",
]
EXPERIMENTS = 12
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
TIMEOUT_MS = 60_000
ROW = "#experiments-table tbody tr.experiment-row"


def grid() -> list[str]:
    """The `grid` beside this interpreter (so that the page shows `grid run ...`)."""
    script = Path(sys.executable).with_name("grid")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "gridrun"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def sweep(env: dict[str, str]) -> None:
    """Run the sweep through the CLI (the run named as gridrun names it)."""
    command = [*grid(), "run", "--seed", "7", "--metric", "val_loss", *SWEEP]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"grid run failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def the_run(base: str) -> str:
    """The sweep's name, once the dashboard shows it whole and succeeded."""
    runs = get_json(f"{base}/api/runs")["runs"]
    if len(runs) != 1 or runs[0]["counts"]["succeeded"] != EXPERIMENTS:
        sys.exit(f"the store does not hold the sweep, all succeeded: {runs}")
    return runs[0]["name"]


def serve(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    """Start `grid view` and wait until it answers; return it and its address."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        server = subprocess.Popen(
            [*grid(), "view", "--no_browser", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            get_json(f"{base}/api/runs")
            return server, base
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                server.wait()
                sys.exit(f"grid view did not start:\n{log.read_text()}")
            time.sleep(0.1)


def pick(run: dict) -> tuple[str, str]:
    """The best experiment (lowest val_loss) and the worst: the two curves to compare."""
    name, metrics = run["columns"].index("name"), run["columns"].index("metrics")
    val_loss = run["metrics"].index("val_loss")
    ranked = sorted(run["experiments"], key=lambda row: row[metrics][val_loss])
    return ranked[0][name], ranked[-1][name]


def screenshot(base: str, run: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    best, worst = pick(get_json(f"{base}/api/runs/{run}"))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{base}/#/run/{run}", timeout=TIMEOUT_MS)
            page.wait_for_function(
                f"document.querySelectorAll('{ROW}').length === {EXPERIMENTS}",
                timeout=TIMEOUT_MS,
            )
            page.wait_for_selector("#parcoords[data-drawn]", timeout=TIMEOUT_MS)
            # no more reloads every 5 s: nothing is re-drawn while the picture is taken
            page.evaluate("() => { window.schedule = () => {}; clearTimeout(timer); }")
            page.click("#experiments-table th[data-key='m:val_loss']")  # sort: best first
            for name in (best, worst):
                page.check(f"{ROW}[data-name='{name}'] input.pick")
            page.wait_for_function(
                "document.querySelectorAll('#curves .scatterlayer .trace').length === 2",
                timeout=TIMEOUT_MS,
            )
            page.click(f"{ROW}[data-name='{worst}'] a.exp-link")
            page.wait_for_function(
                "document.getElementById('log').textContent.includes('epoch=10 ')",
                timeout=TIMEOUT_MS,
            )
            page.wait_for_function(
                "document.getElementById('log-state').textContent.startsWith('succeeded')",
                timeout=TIMEOUT_MS,
            )
            page.mouse.move(0, 0)
            page.evaluate("() => { document.querySelector('.table-wrap').scrollTop = 0; }")
            # let Plotly finish drawing the curves: two animation frames, then a moment
            page.evaluate(
                "() => new Promise((done) => requestAnimationFrame(() => "
                "requestAnimationFrame(() => setTimeout(done, 500))))"
            )
            check_page(page, best, worst)
            if errors:
                sys.exit(f"errors in the page: {errors}")
            page.screenshot(path=str(out), full_page=True)
        finally:
            browser.close()


def check_page(page, best: str, worst: str) -> None:
    """What the picture must show, or no picture."""
    facts = page.evaluate(
        f"""() => ({{
          first: document.querySelector("{ROW}").dataset.name,
          best: [...document.querySelectorAll("{ROW}.best")].map((r) => r.dataset.name),
          selected: [...document.querySelectorAll("{ROW}.selected")].map((r) => r.dataset.name),
          ticked: [...document.querySelectorAll("{ROW} input.pick")].filter((b) => b.checked)
            .map((b) => b.closest("tr").dataset.name),
          curves: [...document.querySelectorAll("#curves .legendtext")].map((t) => t.textContent),
          axes: document.querySelectorAll("#parcoords .pc-axis").length,
          lines: Number(document.getElementById("parcoords").dataset.lines),
          bestLine: document.getElementById("parcoords").dataset.best,
        }})"""
    )
    wanted = {
        "first": best,
        "best": [best],
        "selected": [worst],
        "ticked": [best, worst],
        "curves": [best, worst],
        "axes": 4,
        "lines": EXPERIMENTS,
        "bestLine": best,
    }
    for key, value in wanted.items():
        got = facts[key]
        if key in ("ticked", "curves"):
            got, value = sorted(got), sorted(value)
        if got != value:
            sys.exit(f"the page is not as planned: {key} is {facts[key]}, not {wanted[key]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "dashboard.png")
    options = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="gridrun-screenshot-") as folder:
        env = {**os.environ, "GRIDRUN_HOME": str(Path(folder) / "home")}
        sweep(env)
        server, base = serve(env, Path(folder) / "view.log")
        try:
            partial = Path(folder) / "dashboard.png"
            screenshot(base, the_run(base), partial)
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        options.out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(partial, options.out)
    print(f"wrote {options.out}")


if __name__ == "__main__":
    main()
