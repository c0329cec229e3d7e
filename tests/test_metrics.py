"""Metrics: which output lines are metrics, gridrun.log, and what the store keeps of them."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import words
from gridrun.metrics import parse_metric_line, points_from_json_lines, points_from_output
from gridrun.results import sparkline
from gridrun.store.records import MetricPoint

ACCEPTED = [
    ("loss=0.31 acc=0.9", {"loss": 0.31, "acc": 0.9}, None),
    ("val_loss: 0.25", {"val_loss": 0.25}, None),
    ("epoch=3 loss=0.2", {"loss": 0.2}, 3.0),
    ("step=10 epoch=2 loss=0.5", {"loss": 0.5, "epoch": 2.0}, 10.0),
    ("step: 7, loss: 0.5, lr: 1e-3", {"loss": 0.5, "lr": 0.001}, 7.0),
    ("  Loss = 1.5e+2  ", {"Loss": 150.0}, None),
    ("val/acc=0.75 | train/loss=0.1", {"val/acc": 0.75, "train/loss": 0.1}, None),
    ("loss=-0.5; grad_norm=.25;", {"loss": -0.5, "grad_norm": 0.25}, None),
    ("epoch=4", {"epoch": 4.0}, 4.0),
]

REJECTED = [
    "epoch 3: loss=0.2",
    "100%|██████████| 10/10 [00:01<00:00,  9.80it/s]",
    "Epoch 1:  50%|█████     | 5/10 [00:00<00:00, 12.3it/s, loss=0.234, v_num=0]",
    "938/938 [==============================] - 2s 2ms/step - loss: 0.2973 - accuracy: 0.9143",
    "2024-01-01 12:00:00,123 INFO loss=0.3",
    "[12:00:01] step=5 loss=0.3",
    "INFO:root:step 3 loss 0.2",
    "The learning rate is 0.01",
    "Saving model to ./ckpt-3 with loss=0.2",
    "loss=0.2 saved",
    "acc=90%",
    "time: 12:30:45",
    "loss=0.1.2",
    "│         test_loss         │          0.2345           │",
    "┃        Test metric        ┃       DataLoader 0        ┃",
    "  | Name  | Type   | Params",
    "0 | layer | Linear | 1.2 K",
    '{"loss": 0.3, "step": 1}',
    "{'loss': 0.3, 'epoch': 0.5}",
    "loss",
    "",
    "=0.3",
    "3=4",
]


@pytest.mark.parametrize(("line", "values", "step"), ACCEPTED)
def test_metric_lines(line, values, step):
    assert parse_metric_line(line) == (values, step)


@pytest.mark.parametrize("line", REJECTED)
def test_lines_that_are_not_metrics(line):
    assert parse_metric_line(line) is None


def test_colours_and_carriage_returns():
    lines = [
        "\x1b[32mloss=0.5\x1b[0m acc=1",
        " 10%|█         | 1/10\r 20%|██        | 2/10\rstep=2 loss=0.25",
        "loss=0.125\r",
    ]
    assert points_from_output(lines, 1.0) == [
        ("loss", None, 0.5, 1.0),
        ("acc", None, 1.0, 1.0),
        ("loss", 2.0, 0.25, 1.0),
        ("loss", None, 0.125, 1.0),
    ]


def test_non_finite_values_are_kept():
    values, _ = parse_metric_line("loss=nan grad=inf")
    assert math.isnan(values["loss"]) and values["grad"] == math.inf


def test_json_lines_of_gridrun_log():
    lines = [
        json.dumps({"time": 5.0, "step": 2, "metrics": {"loss": 0.5, "acc": 1}}),
        "not json",
        json.dumps({"metrics": {"loss": "text", "ok": True, "x": 3}}),
        json.dumps([1, 2]),
    ]
    assert points_from_json_lines(lines, 9.0) == [
        ("loss", 2.0, 0.5, 5.0),
        ("acc", 2.0, 1.0, 5.0),
        ("x", None, 3.0, 9.0),
    ]


def test_sparkline():
    points = [MetricPoint("l", v, i, 0) for i, v in enumerate([3, 2, 1, 0])]
    assert sparkline(points) == "█▆▃▁"
    assert sparkline([]) == ""
    assert len(sparkline([MetricPoint("l", i, i, 0) for i in range(100)], width=20)) == 20


def history(grid, run: str) -> dict[str, dict[str, list]]:
    rows = json.loads(
        grid("export", run, "--format", "json", "--metrics_history", check=True).stdout
    )
    return {row["name"]: row["history"] for row in rows}


def test_capture_from_output_exactly(grid, run_status, workdir):
    lines = [line for line, _, _ in ACCEPTED] + REJECTED
    (workdir / "talk.py").write_text(
        "import sys\n"
        f"for line in {lines!r}:\n"
        "    print(line)\n"
        "sys.stderr.write('stderr_metric=7\\n')\n"
    )
    grid("run", "--name", "cap", "talk.py", check=True)
    stored = history(grid, "cap")["cap-exp0"]
    expected: dict[str, list] = {}
    for _, values, step in ACCEPTED:
        for name, value in values.items():
            expected.setdefault(name, []).append((step, value))
    expected["stderr_metric"] = [(None, 7.0)]
    assert {name: [(s, v) for s, v, _ in points] for name, points in stored.items()} == expected
    summary = run_status("cap-exp0")["metrics"]
    assert summary["loss"] == {"last": -0.5, "step": None, "min": -0.5, "max": 0.5, "count": 5}


def test_gridrun_log_in_a_subprocess_of_a_subprocess(grid, workdir):
    (workdir / "child.py").write_text(
        "import gridrun\n"
        "for step in range(3):\n"
        "    gridrun.log(step=step, child_loss=1.0 / (step + 1))\n"
    )
    (workdir / "parent.py").write_text(
        "import subprocess, sys, gridrun\n"
        "gridrun.log(step=0, parent_acc=0.5)\n"
        "subprocess.run([sys.executable, '-c', "
        "'import subprocess, sys; subprocess.run([sys.executable, \"child.py\"], check=True)'],"
        " check=True)\n"
        "gridrun.log(parent_acc=0.75)\n"
    )
    grid("run", "--name", "nested", "parent.py", check=True)
    stored = history(grid, "nested")["nested-exp0"]
    assert [(s, v) for s, v, _ in stored["parent_acc"]] == [(0.0, 0.5), (None, 0.75)]
    assert [(s, v) for s, v, _ in stored["child_loss"]] == [(0.0, 1.0), (1.0, 0.5), (2.0, 1 / 3)]
    times = [t for _, _, t in stored["child_loss"]]
    assert times == sorted(times) and all(t > 1e9 for t in times)


def test_gridrun_log_outside_gridrun_does_nothing(workdir, grid_env, tmp_path):
    env = {k: v for k, v in grid_env.items() if k != "GRID_METRICS_FILE"}
    env["GRIDRUN_HOME"] = str(tmp_path / "absent-home")
    script = "import gridrun\ngridrun.log(step=1, loss=0.5)\nprint('ok')\n"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=workdir, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout == "ok\n", result.stderr
    assert not (tmp_path / "absent-home").exists()
    assert list(workdir.iterdir()) == []


def test_gridrun_log_rejects_non_numbers(tmp_path, monkeypatch):
    import gridrun

    monkeypatch.setenv("GRID_METRICS_FILE", str(tmp_path / "m.jsonl"))
    with pytest.raises(TypeError, match="loss='high'"):
        gridrun.log(loss="high")
    gridrun.log(step=2, loss=0.5)
    record = json.loads((tmp_path / "m.jsonl").read_text())
    assert record["step"] == 2 and record["metrics"] == {"loss": 0.5}


SWEEP = (
    "import sys\n"
    "lr = float(sys.argv[2])\n"
    "for epoch in range(1, 4):\n"
    "    print(f'epoch={epoch} loss={abs(lr - 0.1) + 1 / epoch:.4f} acc={1 - abs(lr - 0.1):.3f}')\n"
)


@pytest.fixture
def swept(grid, workdir):
    (workdir / "fit.py").write_text(SWEEP)
    grid("run", *words("--name fit --metric loss fit.py --lr"), "[0.5, 0.1, 0.3]", check=True)
    return "fit"


def test_status_ranks_by_metric_and_marks_the_best(grid, run_status, swept):
    table = grid("status", swept, check=True).stdout
    lines = [line for line in table.splitlines() if "fit-exp" in line]
    assert ["fit-exp1" in lines[0], "fit-exp2" in lines[1], "fit-exp0" in lines[2]] == [True] * 3
    assert "★ fit-exp1" in lines[0]
    assert "loss ↓" in table and "loss curve" in table
    assert "best: fit-exp1" in table
    by_acc = grid("status", swept, "--metric", "acc", "--mode", "max", check=True).stdout
    assert "★ fit-exp1" in by_acc and "acc ↑" in by_acc
    data = run_status(swept)
    assert data["best"] == "fit-exp1"
    assert data["experiments"][1]["metrics"]["loss"]["last"] == pytest.approx(1 / 3, abs=1e-4)


def test_best_prints_the_command_to_reproduce(grid, swept, workdir):
    out = grid("best", swept, check=True).stdout
    assert "fit-exp1" in out and "--lr 0.1" in out
    assert f"cd {workdir} && {sys.executable} fit.py --lr 0.1" in out
    data = json.loads(grid("--output", "json", "best", swept, "--scope", "best", check=True).stdout)
    assert data["name"] == "fit-exp1" and data["scope"] == "best"
    assert data["reproduce"] == f"{sys.executable} fit.py --lr 0.1"
    assert data["value"] == pytest.approx(1 / 3, abs=1e-4)


def test_a_misspelled_metric_does_not_pass_silently(grid, swept):
    best = grid("best", swept, "--metric", "los")
    assert best.returncode == 2
    assert "no experiment of fit reported the metric 'los'" in best.stderr
    assert "acc, loss" in best.stderr
    shown = grid("status", swept, "--metric", "los")
    assert shown.returncode == 0 and "reported the metric 'los'" in shown.stderr
    run = grid("run", "--name", "typo", "--metric", "los", "fit.py", "--lr", "0.1")
    assert run.returncode == 0 and "reported the metric 'los'" in run.stderr


def test_export_csv_and_json(grid, swept, tmp_path):
    out = tmp_path / "fit.csv"
    grid("export", swept, "--format", "csv", "--output_file", str(out), check=True)
    rows = list(csv.DictReader(out.open()))
    assert [r["name"] for r in rows] == ["fit-exp0", "fit-exp1", "fit-exp2"]
    assert rows[1]["--lr"] == "0.1" and rows[1]["state"] == "succeeded"
    assert rows[1]["exit_code"] == "0" and float(rows[1]["duration_s"]) > 0
    assert float(rows[1]["loss"]) == pytest.approx(0.3333, abs=1e-4)
    assert float(rows[1]["loss.min"]) == pytest.approx(0.3333, abs=1e-4)
    assert float(rows[1]["loss.max"]) == pytest.approx(1.0)
    long = grid("export", swept, "--metrics_history", check=True).stdout
    values = list(csv.DictReader(io.StringIO(long)))
    assert len(values) == 3 * 3 * 2  # experiments x epochs x metrics
    assert {"name", "--lr", "metric", "step", "value"} <= set(values[0])
    rows_json = json.loads(grid("export", swept, "--format", "json", check=True).stdout)
    assert rows_json[2]["--lr"] == "0.3" and rows_json[2]["acc"] == pytest.approx(0.8)


def test_export_reads_into_pandas(grid, swept, tmp_path):
    pandas = pytest.importorskip("pandas")
    out = tmp_path / "fit.csv"
    grid("export", swept, "--output_file", str(out), check=True)
    frame = pandas.read_csv(out)
    assert frame.loc[frame["loss"].idxmin(), "name"] == "fit-exp1"
    assert frame["--lr"].tolist() == [0.5, 0.1, 0.3]
    frame_json = pandas.read_json(io.StringIO(grid("export", swept, "--format", "json").stdout))
    assert frame_json["acc"].max() == pytest.approx(1.0)


def test_load_run_api(grid, swept, grid_env):
    code = (
        "import gridrun, json\n"
        "rows = gridrun.load_run('fit')\n"
        "print(json.dumps({'names': [r['name'] for r in rows], 'lr': rows[1]['--lr'],"
        " 'state': rows.run['state'], 'hist': len(gridrun.load_run('fi', history=True)[0]"
        "['history']['loss'])}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=grid_env, check=True
    )
    assert json.loads(out.stdout) == {
        "names": ["fit-exp0", "fit-exp1", "fit-exp2"],
        "lr": "0.1",
        "state": "succeeded",
        "hist": 3,
    }


def test_load_run_to_pandas(grid, swept, grid_env, monkeypatch):
    pytest.importorskip("pandas")
    import gridrun

    monkeypatch.setenv("GRIDRUN_HOME", grid_env["GRIDRUN_HOME"])
    frame = gridrun.load_run("fit").to_pandas()
    assert frame.loc["fit-exp1", "loss"] == pytest.approx(1 / 3, abs=1e-4)


def test_a_retry_starts_its_metrics_afresh(grid, run_status, workdir):
    (workdir / "flaky.py").write_text(
        "import os, sys\n"
        "first = not os.path.exists('tried')\n"
        "open('tried', 'w').close()\n"
        "print('loss=9' if first else 'loss=1')\n"
        "sys.exit(1 if first else 0)\n"
    )
    grid("run", "--name", "flaky", "--retries", "1", "flaky.py", check=True)
    stored = history(grid, "flaky")["flaky-exp0"]
    assert [v for _, v, _ in stored["loss"]] == [1.0]
    folder = Path(run_status("flaky-exp0")["log_path"]).parent
    assert (folder / "stdout.attempt1.log").read_text() == "loss=9\n"


def test_many_metric_lines_are_all_kept(grid, run_status, workdir):
    (workdir / "chatty.py").write_text(
        "for i in range(20000):\n    print(f'step={i} loss={1 / (i + 1)}')\n"
    )
    grid("run", "--name", "chatty", "chatty.py", check=True)
    summary = run_status("chatty-exp0")["metrics"]["loss"]
    assert summary["count"] == 20000 and summary["step"] == 19999.0
    assert summary["min"] == pytest.approx(1 / 20000) and summary["max"] == 1.0


@pytest.mark.skipif(os.name != "posix", reason="posix paths")
def test_status_of_an_experiment_lists_its_metrics(grid, swept):
    out = grid("status", "fit-exp2", check=True).stdout
    assert "loss" in out and "at step 3" in out and "3 values" in out


def test_tensorboard_scalars_under_the_artifacts_dir(grid, workdir):
    pytest.importorskip("tensorboard")
    (workdir / "tb.py").write_text(
        "import os, time\n"
        "from tensorboard.summary.writer.event_file_writer import EventFileWriter\n"
        "from tensorboard.compat.proto.event_pb2 import Event\n"
        "from tensorboard.compat.proto.summary_pb2 import Summary\n"
        "root = os.environ['GRID_ARTIFACTS_DIR']\n"
        "for split in ('train', 'val'):\n"
        "    writer = EventFileWriter(os.path.join(root, 'tb', split))\n"
        "    for step in range(3):\n"
        "        value = Summary.Value(tag='loss', simple_value=(step + 1) * 0.5)\n"
        "        writer.add_event(Event(wall_time=time.time(), step=step,\n"
        "                               summary=Summary(value=[value])))\n"
        "    writer.close()\n"
    )
    grid("run", "--name", "tb", "tb.py", check=True)
    stored = history(grid, "tb")["tb-exp0"]
    assert sorted(stored) == ["train/loss", "val/loss"]
    assert [(s, v) for s, v, _ in stored["train/loss"]] == [(0.0, 0.5), (1.0, 1.0), (2.0, 1.5)]
