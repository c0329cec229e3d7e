"""Every example of Grid's sweep-syntax documentation, exactly as written there, gives the
documented experiments through `grid --output json run --dry_run` (one test per example).

The commands are copied from `shared/grid-sweep-syntax.md` and split as a shell would.
"""

from __future__ import annotations

import json
import shlex
import sys

import pytest


def shell_words(command: str) -> list[str]:
    """The words a POSIX shell makes of `command`, line continuations included."""
    return shlex.split(command.replace("\\\n", " "))


@pytest.fixture
def doc_example(grid):
    """Run a documented `grid run ...` command as a JSON dry run; return its JSON object."""

    def run(command: str, *extra: str) -> dict:
        words = shell_words(command)
        assert words[:2] == ["grid", "run"], command
        result = grid("--output", "json", "run", "--dry_run", *extra, *words[2:], check=True)
        return json.loads(result.stdout)

    return run


def args_of(plan: dict) -> list[list[str]]:
    return [experiment["args"] for experiment in plan["experiments"]]


def test_bare_flag_is_a_boolean(doc_example):
    plan = doc_example("grid run main.py --do_something")
    assert plan["num_experiments"] == 1
    [experiment] = plan["experiments"]
    assert experiment["args"] == ["--do_something"]
    assert experiment["params"] == {}
    assert experiment["command"] == [sys.executable, "main.py", "--do_something"]


def test_indicator_values(doc_example):
    plan = doc_example("grid run foo.py --bar 1 --barry 0")
    assert args_of(plan) == [["--bar", "1", "--barry", "0"]]


def test_indicator_grid_search(doc_example):
    plan = doc_example("grid run foo.py --bar '[True, False]'")
    assert args_of(plan) == [["--bar", "True"], ["--bar", "False"]]
    assert [e["params"] for e in plan["experiments"]] == [{"--bar": "True"}, {"--bar": "False"}]


@pytest.mark.parametrize(
    ("command", "value"),
    [
        ("grid run main.py --learning_rate 0.01", "0.01"),
        ("grid run main.py --learning_rate 1e-2", "1e-2"),
    ],
)
def test_float(doc_example, command, value):
    assert args_of(doc_example(command)) == [["--learning_rate", value]]


def test_int(doc_example):
    assert args_of(doc_example("grid run main.py --batch_size 32")) == [["--batch_size", "32"]]


@pytest.mark.parametrize(
    "command",
    [
        "grid run main.py --model bert",
        "grid run main.py --model 'bert'",
        'grid run main.py --model "bert"',
    ],
)
def test_string(doc_example, command):
    assert args_of(doc_example(command)) == [["--model", "bert"]]


def test_distribution(doc_example):
    command = 'grid run main.py --alpha "uniform(1e-5, 1e-1, 3)"'
    plan = doc_example(command, "--seed", "42")
    assert plan["num_experiments"] == 3
    values = [float(e["params"]["--alpha"]) for e in plan["experiments"]]
    assert all(1e-5 <= v < 1e-1 for v in values)
    assert len(set(values)) == 3
    assert args_of(plan) == [["--alpha", e["params"]["--alpha"]] for e in plan["experiments"]]
    again = doc_example(command, "--seed", "42")
    assert args_of(again) == args_of(plan)
    other = doc_example(command, "--seed", "43")
    assert args_of(other) != args_of(plan)


def test_list(doc_example):
    plan = doc_example('grid run main.py --layers "[32, 64, 128]"')
    assert args_of(plan) == [["--layers", "32"], ["--layers", "64"], ["--layers", "128"]]


def test_range(doc_example):
    plan = doc_example('grid run main.py --layers "range(1, 10, 2)"')
    assert [e["params"]["--layers"] for e in plan["experiments"]] == ["1", "3", "5", "7", "9"]


def test_string_list(doc_example):
    plan = doc_example("grid run main.py --model \"['resnet18' 'transformer', 'resnet50']\"")
    assert args_of(plan) == [
        ["--model", "resnet18"],
        ["--model", "transformer"],
        ["--model", "resnet50"],
    ]


def test_grid_search(doc_example):
    command = 'grid run main.py --alpha "uniform(1e-5, 1e-1, 3)" --beta "[1, 2, 3, 4]"'
    plan = doc_example(command, "--seed", "7")
    assert plan["num_experiments"] == 12
    assert plan["strategy"] == "grid_search"
    params = [e["params"] for e in plan["experiments"]]
    alphas = list(dict.fromkeys(p["--alpha"] for p in params))
    assert len(alphas) == 3
    assert params == [{"--alpha": a, "--beta": b} for a in alphas for b in ["1", "2", "3", "4"]]
    assert [e["name"] for e in plan["experiments"]] == [f"{plan['run']}-exp{i}" for i in range(12)]
    assert [e["index"] for e in plan["experiments"]] == list(range(12))


def test_random_search(doc_example):
    command = """grid run --strategy random_search \\
         --num_trials 3 \\
         main.py \\
         --alpha "uniform(1e-5, 1e-1, 3)" \\
         --beta "[1, 2, 3, 4]"
    """
    words = shell_words(command)
    seeded = " ".join(shlex.quote(w) for w in [*words[:2], "--seed", "11", *words[2:]])
    plan = doc_example(seeded)
    assert plan["strategy"] == "random_search"
    assert plan["seed"] == 11
    assert plan["num_experiments"] == 3
    full = doc_example(
        'grid run main.py --alpha "uniform(1e-5, 1e-1, 3)" --beta "[1, 2, 3, 4]"', "--seed", "11"
    )
    grid_args = args_of(full)
    chosen = args_of(plan)
    assert len({tuple(a) for a in chosen}) == 3
    positions = [grid_args.index(a) for a in chosen]
    assert positions == sorted(positions), "random search lists its experiments in grid order"
    assert args_of(doc_example(seeded)) == chosen
