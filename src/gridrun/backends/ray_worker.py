"""What runs on a Ray worker: one experiment's process, its output streamed back in chunks.

Standard library only (and `ray`, already there on a worker): the driver ships these
functions to the workers by value, so a worker needs gridrun installed only for what the
experiment itself imports (`gridrun.log`, actions).

`run_experiment` is a streaming generator task. It starts the command in its own session
and yields dicts, in this order:

    {"node", "ip", "host", "pid", "cwd"}        once, as soon as the process started
    {"out": bytes, "metrics": bytes}            while it runs, batched by time and size
    {"artifact": path, "data": bytes, "first"}  after it ended: its artifacts, in pieces
    {"exit": code, "error", "notes"}            last

The driver stops an experiment by posting a signal on the run's `StopBoard` (SIGTERM, then
SIGKILL); a thread of the task waits there and signals the process group: the generator
then sees the process end and reports its exit as usual.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any

BATCH_S = 0.1
"""Output is sent at most this long after it was written (one object per batch)."""
CHUNK_BYTES = 4 * 1024 * 1024
"""The most one chunk carries (output, metrics, or a piece of an artifact)."""
DRAIN_S = 2.0
"""After the process ended, how long its group may keep the output pipe open."""

MACHINE_VARIABLES = frozenset(
    {
        "PATH",
        "HOME",
        "PWD",
        "OLDPWD",
        "SHELL",
        "USER",
        "LOGNAME",
        "HOSTNAME",
        "TMPDIR",
        "LD_LIBRARY_PATH",
        "LD_PRELOAD",
        "VIRTUAL_ENV",
        "PYTHONHOME",
        "PYTHONPATH",
        "CONDA_PREFIX",
        "CONDA_DEFAULT_ENV",
        "CONDA_EXE",
        "CONDA_PYTHON_EXE",
        "_",
    }
)
"""Variables that describe the driver's machine, not the experiment: on another node (no
shared filesystem) the worker's own values are kept (its PATH and libraries, and the
PYTHONPATH entry Ray adds for the working_dir); everything else comes from the driver."""


def _die_with_parent() -> Any:
    """A `preexec_fn` by which the experiment's process dies if the Ray worker that runs it
    dies (a node lost, a force-cancel): SIGKILL on parent death (Linux; None elsewhere)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def set_death_signal() -> None:  # pragma: no cover - in the child, before exec
        prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

    return set_death_signal


def _node_info() -> dict[str, Any]:
    import socket

    import ray

    info: dict[str, Any] = {"host": socket.gethostname()}
    with contextlib.suppress(Exception):
        info["node"] = ray.get_runtime_context().get_node_id()
    with contextlib.suppress(Exception):
        info["ip"] = ray.util.get_node_ip_address()
    return info


def _gpu_ids() -> str:
    """The GPUs Ray gave this task, as CUDA_VISIBLE_DEVICES lists them."""
    import ray

    try:
        ids = ray.get_runtime_context().get_accelerator_ids().get("GPU", [])
    except Exception:
        return os.environ.get("CUDA_VISIBLE_DEVICES", "")
    return ",".join(str(i) for i in ids)


class _FileTail:
    """New bytes of a file another process appends to."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.offset = 0

    def read(self, limit: int) -> bytes:
        if self.path is None:
            return b""
        try:
            with open(self.path, "rb") as file:
                file.seek(self.offset)
                data = file.read(limit)
        except OSError:
            return b""
        self.offset += len(data)
        return data


def run_experiment(spec: dict[str, Any], board: Any) -> Iterator[dict[str, Any]]:
    """Run one experiment attempt on this node (a streaming generator task).

    `spec`: key (the attempt's name on the `StopBoard` `board`), command, cwd (None: the
    task's own folder, Ray's copy of the working_dir), env, shared (the driver's paths are
    valid here), gpus, driver_python (replaced by this worker's interpreter),
    max_artifact_bytes.
    """
    env = dict(spec["env"])
    scratch = None
    if not spec["shared"]:  # another machine: its own PATH, HOME, libraries and Python win
        kept = {k: v for k, v in env.items() if k not in MACHINE_VARIABLES}
        env = {**os.environ, **kept}
        # the experiment's metrics file and artifacts, on this node
        scratch = tempfile.mkdtemp(prefix="gridrun-")
        env["GRID_ARTIFACTS_DIR"] = os.path.join(scratch, "artifacts")
        env["GRID_METRICS_FILE"] = os.path.join(scratch, "metrics.jsonl")
    os.makedirs(env["GRID_ARTIFACTS_DIR"], exist_ok=True)
    env["CUDA_VISIBLE_DEVICES"] = _gpu_ids() if spec.get("gpus") else ""
    command = list(spec["command"])
    if command and command[0] == spec.get("driver_python"):
        command[0] = sys.executable
    cwd = spec["cwd"] or os.getcwd()
    info = _node_info()
    process = None
    done = threading.Event()
    try:
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
                start_new_session=True,
                close_fds=True,
                preexec_fn=_die_with_parent(),
            )
        except OSError as error:
            message = f"cannot start {command[0]!r} on {info['host']}: {error.strerror or error}"
            yield {**info, "pid": 0, "cwd": cwd}
            yield {"out": f"gridrun: {message}\n".encode(), "exit": 127, "error": message}
            return
        threading.Thread(
            target=_listen, args=(board, spec["key"], process.pid, done), daemon=True
        ).start()
        yield {**info, "pid": process.pid, "cwd": cwd}
        metrics = _FileTail(None if spec["shared"] else env["GRID_METRICS_FILE"])
        yield from _stream(process, metrics)
        code = process.returncode
        notes: list[str] = []
        if scratch is not None:
            yield from _artifacts(env["GRID_ARTIFACTS_DIR"], spec["max_artifact_bytes"], notes)
        yield {"exit": code, "notes": notes}
    finally:  # a cancel (KeyboardInterrupt) or any error: nothing is left running
        done.set()
        if process is not None and process.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _stream(process: subprocess.Popen, metrics: _FileTail) -> Iterator[dict[str, Any]]:
    """Chunks of the process's output and metrics until it ended and its pipe closed (or
    DRAIN_S after it ended: what is left of its group is killed then)."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    os.set_blocking(fd, False)
    buffer = bytearray()
    last_sent = time.monotonic()
    ended_at: float | None = None
    eof = False
    while True:
        now = time.monotonic()
        if not eof:
            wait = max(0.0, last_sent + BATCH_S - now) if buffer else BATCH_S
            if ended_at is not None:
                wait = min(wait, max(0.0, ended_at + DRAIN_S - now))
            readable, _, _ = select.select([fd], [], [], wait)
            if readable:
                try:
                    data = os.read(fd, CHUNK_BYTES)
                except BlockingIOError:
                    data = b""
                else:
                    if not data:
                        eof = True
                buffer += data
        elif ended_at is None:  # it closed its output but runs on: wait, do not spin
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=BATCH_S)
        if ended_at is None and process.poll() is not None:
            ended_at = time.monotonic()
        now = time.monotonic()
        finished = ended_at is not None and (eof or now >= ended_at + DRAIN_S)
        if finished and not eof:  # its group still holds the pipe: it goes with the task
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)
            buffer += _read_available(fd)
        if finished or len(buffer) >= CHUNK_BYTES or (buffer and now - last_sent >= BATCH_S):
            logged = metrics.read(CHUNK_BYTES)
            while finished and len(logged) == CHUNK_BYTES:  # the rest, in pieces
                yield {"out": b"", "metrics": logged}
                logged = metrics.read(CHUNK_BYTES)
            if buffer or logged:
                yield {"out": bytes(buffer), "metrics": logged}
            buffer.clear()
            last_sent = now
        elif now - last_sent >= BATCH_S:  # no output, but maybe gridrun.log() lines
            logged = metrics.read(CHUNK_BYTES)
            if logged:
                yield {"out": b"", "metrics": logged}
            last_sent = now
        if finished:
            process.stdout.close()
            return


def _read_available(fd: int) -> bytes:
    data = bytearray()
    while True:
        try:
            piece = os.read(fd, CHUNK_BYTES)
        except (BlockingIOError, OSError):
            break
        if not piece:
            break
        data += piece
    return bytes(data)


def _artifacts(folder: str, limit: int, notes: list[str]) -> Iterator[dict[str, Any]]:
    """The files under `folder`, in pieces, up to `limit` bytes in all (the rest is named in
    `notes`)."""
    sent = 0
    for root, directories, files in os.walk(folder):
        directories.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            relative = os.path.relpath(path, folder)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            size = os.path.getsize(path)
            if sent + size > limit:
                notes.append(f"artifact {relative} ({size} bytes) not brought back: over the limit")
                continue
            sent += size
            first = True
            with open(path, "rb") as file:
                while True:
                    data = file.read(CHUNK_BYTES)
                    if not data and not first:
                        break
                    yield {"artifact": relative, "data": data, "first": first}
                    first = False
                    if len(data) < CHUNK_BYTES:
                        break


class StopBoard:
    """Where the driver posts signals for running attempts, and where each attempt's task
    waits for them (one asyncio actor per run, near the driver: a stop reaches the
    experiment in milliseconds, with no new worker process to start)."""

    def __init__(self) -> None:
        self.queues: dict[str, Any] = {}

    def _queue(self, key: str) -> Any:
        import asyncio

        if key not in self.queues:
            self.queues[key] = asyncio.Queue()
        return self.queues[key]

    async def wait(self, key: str) -> tuple[int, float]:
        """The next signal for attempt `key` and when the driver sent it (its clock); signal
        0: the attempt ended, stop listening."""
        return await self._queue(key).get()

    async def post(self, key: str, signum: int, sent_at: float) -> None:
        self._queue(key).put_nowait((signum, sent_at))

    async def forget(self, key: str) -> None:
        """Attempt `key` ended: wake its listener with 0 and drop its queue."""
        queue = self.queues.pop(key, None)
        if queue is not None:
            queue.put_nowait((0, 0.0))


def _listen(board: Any, key: str, pgid: int, done: threading.Event) -> None:
    """Deliver the signals posted for attempt `key` to its process group, until it ends."""
    import ray

    failures = 0
    first: tuple[float, float] | None = None  # (here, the driver's clock) at the first signal
    while not done.is_set():
        try:
            signum, sent_at = ray.get(board.wait.remote(key))
        except Exception:  # the board restarting, or going with the driver
            failures += 1
            if failures > 20:
                return
            done.wait(0.5)
            continue
        if not signum or done.is_set():
            return
        if first is None:
            first = (time.monotonic(), sent_at)
        else:  # as far apart as the driver sent them (a SIGTERM may have come in late)
            delay = (sent_at - first[1]) - (time.monotonic() - first[0])
            if delay > 0 and done.wait(delay):
                return
        with contextlib.suppress(OSError):
            os.killpg(pgid, signum)
