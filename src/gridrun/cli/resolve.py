"""Turning what a user typed into a run or an experiment: exact names, unambiguous
prefixes (`brave-otter`), and short experiment names (`exp3`, `otter-042-exp3`)."""

from __future__ import annotations

from gridrun.errors import UserError
from gridrun.store.base import Store
from gridrun.store.records import ExperimentRecord, RunRecord

SHOWN_CANDIDATES = 6


def _pick(kind: str, text: str, candidates: list[str]) -> str:
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        hint = "grid history lists the runs" if kind == "run" else "grid status RUN lists them"
        raise UserError(f"no {kind} named {text!r} ({hint})")
    shown = ", ".join(candidates[:SHOWN_CANDIDATES])
    more = f" and {len(candidates) - SHOWN_CANDIDATES} more" if len(candidates) > 6 else ""
    raise UserError(f"{text!r} could be the {kind} {shown}{more}; give more of its name")


def _check_name(kind: str, text: str) -> None:
    if not text.strip():
        raise UserError(f"an empty {kind} name matches nothing; give a {kind}'s name")


def resolve_run(store: Store, text: str) -> RunRecord:
    """The run named `text`, or the only one whose name starts with it."""
    _check_name("run", text)
    run = store.get_run(text)
    if run is None:
        run = store.get_run(_pick("run", text, store.run_names(text)))
    assert run is not None
    return run


def resolve_experiment(store: Store, text: str) -> ExperimentRecord:
    """The experiment named `text`, else the only one whose name starts with it, else the
    only one whose name ends with `-text`."""
    _check_name("experiment", text)
    record = store.get_experiment(text)
    if record is not None:
        return record
    candidates = store.experiment_names(text)
    if not candidates:
        candidates = store.experiment_names("-" + text, suffix=True)
    record = store.get_experiment(_pick("experiment", text, candidates))
    assert record is not None
    return record


def find_run(store: Store, text: str) -> RunRecord | None:
    """Like `resolve_run`, but None when nothing matches (an ambiguity is still an error)."""
    _check_name("run", text)
    if store.get_run(text) is not None or store.run_names(text):
        return resolve_run(store, text)
    return None
