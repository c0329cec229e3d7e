"""Grid's run spec (`grid run --config FILE.yml`), read into what a local run uses.

    compute:
      provider: {...}                       # Grid's cloud: accepted, no effect here
      train:
        cpus: 2
        gpus: 1
        memory: 8G
        environment: {NAME: value}
        actions:
          on_experiment_start: [command, ...]
          on_experiment_end: [command, ...]
    hyper_params:
      settings:
        strategy: random_search
        strategy_options: {num_trials: 10, seed: 42}
      params:
        learning_rate: uniform(1e-4, 1e-1, 20)   # appended to the script's arguments
        layers: [2, 4, 8]                        # a YAML list is a sweep list

Keys that only mean something in Grid's cloud are accepted with a notice; any other unknown
key is an error that names it and the valid keys. Command-line options win over the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridrun.errors import UserError

CLOUD_ONLY = "cloud"
TRAIN_KEYS: dict[str, Any] = {
    "cpus": (int, float),
    "gpus": (int, float),
    "memory": (int, float, str),
    "environment": dict,
    "actions": {
        "on_experiment_start": list,
        "on_experiment_end": list,
        "on_build_start": CLOUD_ONLY,
        "on_build_end": CLOUD_ONLY,
        "on_image_build": CLOUD_ONLY,
        "on_before_training_start": CLOUD_ONLY,
    },
    "instance": CLOUD_ONLY,
    "datastore_name": CLOUD_ONLY,
    "datastore_version": CLOUD_ONLY,
    "datastore_mount_dir": CLOUD_ONLY,
    "use_spot": CLOUD_ONLY,
    "framework": CLOUD_ONLY,
    "disk_size": CLOUD_ONLY,
    "nodes": CLOUD_ONLY,
    "dockerfile": CLOUD_ONLY,
    "scratch": CLOUD_ONLY,
}
SPEC: dict[str, Any] = {
    "compute": {"provider": CLOUD_ONLY, "train": TRAIN_KEYS},
    "hyper_params": {
        "settings": {
            "strategy": str,
            "strategy_options": {"num_trials": int, "seed": int},
        },
        "params": dict,
    },
}


@dataclass(frozen=True)
class RunConfig:
    """What a config file asks of a run; None where it says nothing."""

    path: str
    cpus: float | None = None
    gpus: float | None = None
    memory: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    on_experiment_start: tuple[str, ...] = ()
    on_experiment_end: tuple[str, ...] = ()
    strategy: str | None = None
    num_trials: int | None = None
    seed: int | None = None
    params: tuple[tuple[str, str | None], ...] = ()
    """(flag, value) pairs to append to the script's arguments, each value one argument
    (None: a bare flag)."""
    notices: tuple[str, ...] = ()


def load_config(path: str) -> RunConfig:
    """Read and check a config file. Raises `UserError` with the file, the key and why."""
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise UserError(f"cannot read the config file {path}: {error.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise UserError(f"{path}{where}: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of keys (compute, hyper_params) at the top")
    cloud_keys: list[str] = []
    _check(data, SPEC, path, "", cloud_keys)
    notices = []
    if cloud_keys:
        notices.append(
            f"{path}: {', '.join(cloud_keys)} only mean something in Grid's cloud; "
            "no effect locally"
        )
    train = (data.get("compute") or {}).get("train") or {}
    actions = train.get("actions") or {}
    settings = (data.get("hyper_params") or {}).get("settings") or {}
    options = settings.get("strategy_options") or {}
    params = (data.get("hyper_params") or {}).get("params") or {}
    return RunConfig(
        path=path,
        cpus=_number(train.get("cpus")),
        gpus=_number(train.get("gpus")),
        memory=None if train.get("memory") is None else str(train["memory"]),
        environment={str(k): _text(v) for k, v in (train.get("environment") or {}).items()},
        on_experiment_start=_commands(actions.get("on_experiment_start"), path, "start"),
        on_experiment_end=_commands(actions.get("on_experiment_end"), path, "end"),
        strategy=settings.get("strategy"),
        num_trials=options.get("num_trials"),
        seed=options.get("seed"),
        params=tuple(_param(str(k), v) for k, v in params.items()),
        notices=tuple(notices),
    )


def _check(
    data: Mapping[str, Any], spec: Mapping[str, Any], path: str, prefix: str, notices: list[str]
) -> None:
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        expected = spec.get(key) if isinstance(key, str) else None
        if expected is None:
            valid = ", ".join(spec)
            where = f" under {prefix[:-1]}" if prefix else ""
            raise UserError(f"{path}: unknown key {dotted!r}; valid keys{where}: {valid}")
        if expected == CLOUD_ONLY:
            if value not in (None, False, [], {}):
                notices.append(
                    f"{path}: {dotted} only means something in Grid's cloud; "
                    "it has no effect locally"
                )
            continue
        if value is None:
            continue
        if isinstance(expected, dict):
            if not isinstance(value, dict):
                raise UserError(
                    f"{path}: {dotted} must be a mapping of keys ({', '.join(expected)})"
                )
            _check(value, expected, path, dotted + ".", notices)
        elif not isinstance(value, expected) or isinstance(value, bool):
            names = (
                expected.__name__
                if isinstance(expected, type)
                else " or ".join(t.__name__ for t in expected)
            )
            raise UserError(f"{path}: {dotted} must be {_article(names)}, got {value!r}")


def _article(names: str) -> str:
    return {"dict": "a mapping", "list": "a list", "str": "a string"}.get(names, f"a {names}")


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _text(value: Any) -> str:
    """A YAML scalar as the text a script or an environment variable gets."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _commands(value: Any, path: str, which: str) -> tuple[str, ...]:
    if value is None:
        return ()
    commands = []
    for item in value:
        if not isinstance(item, str | int | float) or isinstance(item, bool):
            raise UserError(
                f"{path}: compute.train.actions.on_experiment_{which} must list commands "
                f"(strings), got {item!r}"
            )
        commands.append(str(item).strip())
    return tuple(c for c in commands if c)


def _param(key: str, value: Any) -> tuple[str, str | None]:
    """A params entry as (flag, one argument): a YAML list becomes a sweep list."""
    flag = key if key.startswith("-") else f"--{key}"
    if isinstance(value, list):
        from gridrun.spec.syntax import list_item

        if not value:
            raise UserError(f"hyper_params.params.{key}: an empty list sweeps nothing")
        return flag, "[" + ", ".join(list_item(_text(item)) for item in value) + "]"
    if isinstance(value, dict):
        raise UserError(f"hyper_params.params.{key}: expected a value or a list, got a mapping")
    return flag, None if value is None else _text(value)
