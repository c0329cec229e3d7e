"""The Ray backend: each experiment attempt is a Ray task on whichever node Ray picks.

The task (`ray_worker.run_experiment`, a streaming generator) runs the experiment's command
as a subprocess in its own session on that node and yields its output, the new lines of its
`gridrun.log()` metrics file and, at the end, its artifacts. One thread of the driver per
running experiment writes them to the experiment's files here, where the metrics ingestor
and `grid logs -f` find them as with the local backend, then queues the `Exited` event.

- Code: Ray's `working_dir` runtime environment (the run's folder, uploaded once per run),
  or with `shared_fs` the same folder on every node. A local Ray started for the run is this
  machine: its folders are shared.
- Stop: the driver posts SIGTERM (then SIGKILL) on the run's `StopBoard` actor, where a
  thread of each task waits; it signals the process group on its node, so the experiment's
  last output still comes back. Before the task has started, `ray.cancel`.
- A node that dies (or a worker that crashes) surfaces as a Ray error: the attempt is
  `lost`, and the driver retries it elsewhere when `--retries` allows.

Ray itself is imported when a run connects (`import_ray`): only `--backend ray` does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridrun.backends import ray_worker
from gridrun.backends.base import Backend, Exited, Handle, Launch
from gridrun.errors import UserError
from gridrun.inbox import Inbox
from gridrun.scheduler import EPSILON, Allocation, Request

INSTALL_HINT = "--backend ray needs Ray: pip install 'gridrun[ray]'"
MAX_ARTIFACT_BYTES = 1024**3
"""The most an experiment's artifacts may weigh to be brought back from a worker (1 GiB);
beyond that, use a shared filesystem (`--shared_fs`)."""
LOCAL_OBJECT_STORE_BYTES = 100 * 1024**2
"""The object store of a local Ray started for the run: only output chunks pass there."""
CAPACITY_REFRESH_S = 2.0
CONNECT_TIMEOUT_S = 10.0


def import_ray() -> Any:
    """The `ray` module, or a UserError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    return ray


@dataclass(frozen=True)
class Connection:
    """What the driver is connected to."""

    address: str
    """The cluster's address, or "local" for a Ray started for the run."""
    shared: bool
    """Whether the driver's folders are valid on every node (no working_dir upload)."""
    nodes: int
    cpus: float
    gpus: float


def connect(address: str | None, cwd: str, home: Path, shared_fs: bool) -> Connection:
    """Connect to the Ray cluster at `address`, or start a small local Ray for the run.

    With a cluster and no shared filesystem, the run's folder `cwd` reaches the workers as
    Ray's `working_dir` (`.gitignore`d files, `.git` and GRIDRUN_HOME left out)."""
    ray = import_ray()
    common: dict[str, Any] = {
        "log_to_driver": False,
        "logging_level": logging.ERROR,
        "ignore_reinit_error": True,
    }
    try:
        if address is None:
            cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
            ray.init(
                address="local",
                num_cpus=cpus or os.cpu_count() or 1,
                object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                include_dashboard=False,
                **common,
            )
            shared = True
        else:
            check_reachable(address)
            shared = shared_fs
            runtime_env = None
            if not shared:
                excludes = [".git"]
                with contextlib.suppress(ValueError):
                    inside = home.resolve().relative_to(Path(cwd).resolve())
                    excludes.append(f"/{inside.as_posix()}")
                runtime_env = {"working_dir": cwd, "excludes": excludes}
            ray.init(address=address, runtime_env=runtime_env, **common)
    except ConnectionError as error:
        raise UserError(f"cannot connect to the Ray cluster at {address}: {error}") from None
    except ValueError as error:  # e.g. a working_dir too big to upload
        raise UserError(f"Ray: {error}") from None
    resources = ray.cluster_resources()
    nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
    return Connection(
        address or "local",
        shared,
        nodes,
        float(resources.get("CPU", 0)),
        float(resources.get("GPU", 0)),
    )


def check_reachable(address: str) -> None:
    """Fail at once (Ray itself retries for minutes) when nothing listens at `address`."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit() or address == "auto":
        return  # "auto", or a form Ray understands and we do not: Ray will tell
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise UserError(
            f"cannot reach the Ray cluster at {address}: {error.strerror or error}"
        ) from None


def disconnect() -> None:
    """Leave the cluster (and stop a local Ray started for the run)."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


def node_capacity(resources: dict[str, float], request: Request) -> int:
    """How many experiments of `request` fit on a node that offers `resources`."""
    fits = [int(resources.get("CPU", 0.0) / request.cpus + EPSILON)]
    if request.gpus:
        fits.append(int(resources.get("GPU", 0.0) / request.gpus + EPSILON))
    if request.memory_gb:
        fits.append(int(resources.get("memory", 0.0) / (request.memory_gb * 1024**3) + EPSILON))
    return max(0, min(fits))


@dataclass
class RayScheduler:
    """How many experiments may be out at once on the cluster: `max_parallel`, else what its
    alive nodes fit (looked at again every few seconds: nodes come and go). Ray places them.
    Same interface as `Scheduler`."""

    request: Request
    max_parallel: int | None = None
    nodes: Callable[[], list[dict[str, Any]]] = field(default=lambda: [])
    monotonic: Callable[[], float] = time.monotonic
    notices: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.max_parallel is not None and self.max_parallel < 1:
            raise UserError(f"--max_parallel must be at least 1, got {self.max_parallel}")
        self.active = 0
        self.checked_at = -1e18
        self.fits = 0
        if self._cluster_fits() == 0:
            offers = "; ".join(
                _describe(node["Resources"]) for node in self.nodes() if node.get("Alive")
            )
            problem = (
                f"no node of the Ray cluster can run an experiment that needs --cpus "
                f"{self.request.cpus:g}, --gpus {self.request.gpus:g}"
                + (f", --memory {self.request.memory_gb:g}G" if self.request.memory_gb else "")
                + f" (the nodes offer: {offers or 'nothing'})"
            )
            if self.max_parallel is None:
                raise UserError(problem)
            # --max_parallel sends them anyway, for an autoscaler to see: say why they wait.
            self.notices.append(
                f"{problem}: with --max_parallel the experiments wait in Ray's queue until "
                "such a node joins (Ctrl-C or `grid stop` to give up)"
            )

    def _cluster_fits(self) -> int:
        now = self.monotonic()
        if now - self.checked_at >= CAPACITY_REFRESH_S:
            self.checked_at = now
            self.fits = sum(
                node_capacity(node.get("Resources", {}), self.request)
                for node in self.nodes()
                if node.get("Alive")
            )
        return self.fits

    @property
    def capacity(self) -> int:
        if self.max_parallel is not None:
            return self.max_parallel
        return max(1, self._cluster_fits())  # none now: one waits in Ray's queue for a node

    def allocate(self) -> Allocation | None:
        if self.active >= self.capacity:
            return None
        self.active += 1
        return Allocation(self.request.cpus, (), self.request.memory_gb or 0.0)

    def release(self, allocation: Allocation) -> None:
        self.active -= 1


@dataclass
class Attempt:
    """One experiment attempt out on the cluster."""

    spec: Launch
    key: str
    """Its name on the run's StopBoard."""
    generator: Any
    node: str | None = None
    started: bool = False
    ended: bool = False


class RayBackend(Backend):
    """Experiments as Ray tasks (`connect` first)."""

    def __init__(
        self,
        events: Inbox,
        request: Request,
        connection: Connection,
        clock: Callable[[], float] = time.time,
    ) -> None:
        ray = import_ray()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self.ray = ray
        self.events = events
        self.request = request
        self.connection = connection
        self.clock = clock
        self.lock = threading.Lock()
        self.attempts: dict[int, Attempt] = {}
        # Shipped by value: the workers need no gridrun of their own to run an experiment.
        ray.cloudpickle.register_pickle_by_value(ray_worker)
        options: dict[str, Any] = {
            "num_cpus": request.cpus,
            "num_gpus": request.gpus,
            "max_retries": 0,  # gridrun retries, and knows why
            "num_returns": "streaming",
        }
        if request.memory_gb:
            options["memory"] = int(request.memory_gb * 1024**3)
        self.task = ray.remote(**options)(ray_worker.run_experiment)
        here = ray.get_runtime_context().get_node_id()
        self.board = (
            ray.remote(ray_worker.StopBoard)
            .options(
                num_cpus=0,
                max_restarts=-1,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=here, soft=True),
            )
            .remote()
        )

    def launch(self, spec: Launch) -> Handle | None:
        name = spec.env.get("GRID_EXPERIMENT_NAME", str(spec.experiment_id))
        key = f"{spec.experiment_id}-{uuid.uuid4().hex[:12]}"
        task_spec = {
            "key": key,
            "command": list(spec.command),
            "cwd": spec.cwd if self.connection.shared else None,
            "env": dict(spec.env),
            "shared": self.connection.shared,
            "gpus": self.request.gpus,
            "driver_python": sys.executable,
            "max_artifact_bytes": MAX_ARTIFACT_BYTES,
        }
        try:
            generator = self.task.options(name=name).remote(task_spec, self.board)
        except Exception as error:  # nothing went out
            message = f"cannot submit to Ray: {error}"
            with open(spec.log_path, "ab") as log:
                log.write(f"gridrun: {message}\n".encode())
            self.events.put(Exited(spec.experiment_id, 127, message))
            return None
        attempt = Attempt(spec, key, generator)
        with self.lock:
            self.attempts[spec.experiment_id] = attempt
        threading.Thread(
            target=self._follow, args=(attempt,), name=f"gridrun-ray-{name}", daemon=True
        ).start()
        return Handle(spec.experiment_id, 0)

    # -- following an attempt ----------------------------------------------------------------
    def _follow(self, attempt: Attempt) -> None:
        """Write what the task yields to the experiment's files; queue its exit."""
        ray = self.ray
        spec = attempt.spec
        exited: Exited | None = None
        metrics_path = None if self.connection.shared else spec.env.get("GRID_METRICS_FILE")
        artifacts = Path(spec.env["GRID_ARTIFACTS_DIR"])
        metrics_file = None
        artifact_file = None
        try:
            with open(spec.log_path, "ab", buffering=0) as log:
                try:
                    for ref in attempt.generator:
                        chunk = ray.get(ref)
                        if "pid" in chunk:
                            log.write(_header(chunk).encode())
                            self._started(attempt, chunk)
                            continue
                        if chunk.get("out"):
                            log.write(chunk["out"])
                        if chunk.get("metrics") and metrics_path:
                            if metrics_file is None:
                                metrics_file = open(metrics_path, "ab", buffering=0)  # noqa: SIM115
                            metrics_file.write(chunk["metrics"])
                        if "artifact" in chunk:
                            target = _inside(artifacts, chunk["artifact"])
                            if chunk["first"]:
                                if artifact_file is not None:
                                    artifact_file.close()
                                target.parent.mkdir(parents=True, exist_ok=True)
                                artifact_file = open(target, "wb")  # noqa: SIM115
                            if artifact_file is not None:
                                artifact_file.write(chunk["data"])
                        if "exit" in chunk:
                            for note in chunk.get("notes") or ():
                                log.write(f"gridrun: {note}\n".encode())
                            exited = Exited(
                                spec.experiment_id, chunk["exit"], chunk.get("error"), self.clock()
                            )
                except ray.exceptions.TaskCancelledError:
                    exited = Exited(spec.experiment_id, -signal.SIGTERM, None, self.clock())
                except ray.exceptions.RuntimeEnvSetupError as error:
                    message = f"Ray could not set up the runtime environment: {_first_line(error)}"
                    log.write(f"gridrun: {message}\n".encode())
                    exited = Exited(spec.experiment_id, 127, message, self.clock())
                except ray.exceptions.RayTaskError as error:
                    message = f"the Ray task failed: {_first_line(error)}"
                    log.write(f"gridrun: {message}\n".encode())
                    exited = Exited(spec.experiment_id, 1, message, self.clock())
                except ray.exceptions.RayError as error:
                    where = f" on node {attempt.node}" if attempt.node else ""
                    message = f"lost{where}: {type(error).__name__}: {_first_line(error)}"
                    log.write(f"\ngridrun: {message}\n".encode())
                    exited = Exited(spec.experiment_id, -1, message, self.clock(), lost=True)
        except Exception as error:  # our own files: record it rather than hang the driver
            exited = Exited(spec.experiment_id, 1, f"gridrun: {error}", self.clock())
        finally:
            for file in (metrics_file, artifact_file):
                if file is not None:
                    file.close()
            with self.lock:
                attempt.ended = True
                self.attempts.pop(spec.experiment_id, None)
            with contextlib.suppress(Exception):
                self.board.forget.remote(attempt.key)
            if exited is None:
                exited = Exited(spec.experiment_id, -1, "the Ray task ended without an exit code")
            self.events.put(exited)

    def _started(self, attempt: Attempt, chunk: dict[str, Any]) -> None:
        with self.lock:
            attempt.node = chunk.get("node")
            attempt.started = True

    # -- stopping ---------------------------------------------------------------------------------
    def terminate(self, handle: Handle) -> None:
        self._stop(handle, signal.SIGTERM)

    def kill(self, handle: Handle) -> None:
        self._stop(handle, signal.SIGKILL)

    def _stop(self, handle: Handle, signum: int) -> None:
        with self.lock:
            attempt = self.attempts.get(handle.experiment_id)
            if attempt is None or attempt.ended:
                return
            started = attempt.started
        with contextlib.suppress(Exception):
            if started:  # its task waits on the board: it signals the process group
                self.board.post.remote(attempt.key, int(signum), time.monotonic())
            else:  # not running yet (or just now: the task then kills its group itself)
                self.ray.cancel(attempt.generator)


def _header(chunk: dict[str, Any]) -> str:
    """The log's first line: where the attempt runs."""
    where = chunk.get("host", "?")
    if chunk.get("ip"):
        where += f" ({chunk['ip']})"
    return (
        f"gridrun: on Ray node {chunk.get('node', '?')}, {where}, pid {chunk.get('pid')}, "
        f"in {chunk.get('cwd')}\n"
    )


def _describe(resources: dict[str, float]) -> str:
    shown = {"CPU": "CPUs", "GPU": "GPUs"}
    parts = [f"{resources.get(key, 0):g} {label}" for key, label in shown.items()]
    if "memory" in resources:
        parts.append(f"{resources['memory'] / 1024**3:.1f}G memory")
    return ", ".join(parts)


def _first_line(error: BaseException) -> str:
    for line in str(error).splitlines():
        if line.strip():
            return line.strip()
    return type(error).__name__


def _inside(folder: Path, relative: str) -> Path:
    """`folder / relative`, refusing a path that would leave `folder`."""
    target = (folder / relative).resolve()
    if not target.is_relative_to(folder.resolve()):
        raise ValueError(f"artifact path {relative!r} leaves the artifacts folder")
    return target


def open_ray(
    options: Any, run: Any, home: Path, events: Inbox, reporter: Any
) -> tuple[RayBackend, RayScheduler, Callable[[], None]]:
    """Connect for `run` (its RunOptions `options`); the backend, its scheduler, and what
    to call when the run ends."""
    ray = import_ray()
    request = options.request()
    recorded = f"(run {run.name} is recorded: `grid resume {run.name}` runs it later)"
    try:
        connection = connect(options.address, run.cwd, home, options.shared_fs)
    except UserError as error:
        raise UserError(f"{error} {recorded}") from None
    try:
        scheduler = RayScheduler(request, options.max_parallel, nodes=ray.nodes)
        backend = RayBackend(events, request, connection)
    except UserError as error:
        disconnect()
        raise UserError(f"{error} {recorded}") from None
    except BaseException:
        disconnect()
        raise
    where = "a local Ray" if connection.address == "local" else f"Ray at {connection.address}"
    code = "shared folders" if connection.shared else "working_dir"
    reporter.message(
        f"{where}: {connection.nodes} node(s), {connection.cpus:g} CPU(s), "
        f"{connection.gpus:g} GPU(s); code reaches the workers by {code}"
    )
    for notice in scheduler.notices:
        reporter.message(notice)
    return backend, scheduler, disconnect
