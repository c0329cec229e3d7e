"""`--backend ray`, end to end: the real CLI in subprocesses against a real Ray cluster of
several nodes on this machine (one cluster for the whole module: a head and a worker, one CPU
each, each with its own custom resource; a third node joins, then dies, in the node-death
test). Every wait is on a condition, never a fixed sleep.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import wait_until

if os.environ.get("CI"):
    import ray  # in CI these tests must run, never be skipped
else:
    ray = pytest.importorskip("ray")

from ray.cluster_utils import Cluster

OBJECT_STORE = 80 * 1024**2
GRID_RAY = [sys.executable, "-m", "gridrun", "run", "--backend", "ray"]
DOOMED_ARGS = ["probe.py", "--together", "3", "--gate", "--x", "[1, 2, 3]"]
HEADER = re.compile(r"^gridrun: on Ray node ([0-9a-f]+), ")

PROBE = r"""
import json, os, sys, time
import gridrun

args = sys.argv[1:]
probes = os.environ["PROBE_DIR"]
name = os.environ["GRID_EXPERIMENT_NAME"]
with open(os.path.join(probes, name + ".attempts"), "a") as counter:
    counter.write("x")
with open(os.path.join(probes, name + ".attempts")) as counter:
    attempt = len(counter.read())
record = {
    "args": args, "pid": os.getpid(), "cwd": os.getcwd(), "attempt": attempt,
    "files": sorted(os.listdir(".")),
    "env": {k: v for k, v in os.environ.items()
            if k.startswith("GRID_") or k in ("CUDA_VISIBLE_DEVICES", "PYTHONUNBUFFERED")},
}
with open(os.path.join(probes, f"{name}.{attempt}.json"), "w") as out:
    json.dump(record, out)
print("started", name, "attempt", attempt, flush=True)
for step in range(3):
    print(f"step={step} loss={1.0 / (step + 1)}", flush=True)
    gridrun.log(step=step, acc=0.5 + step / 10)


def wait(condition):
    deadline = time.time() + 120
    while not condition():
        if time.time() > deadline:
            print("gave up waiting", flush=True)
            sys.exit(9)
        time.sleep(0.05)


if "--together" in args:  # wait until N experiments run at once
    count = int(args[args.index("--together") + 1])
    wait(lambda: len([f for f in os.listdir(probes) if f.endswith(".json")]) >= count)
if "--gate" in args:  # wait until the test opens the gate
    wait(lambda: os.path.exists(os.path.join(probes, "gate")))
if "--fail_first" in args and attempt == 1:
    print("failing on purpose", flush=True)
    sys.exit(3)
folder = os.path.join(os.environ["GRID_ARTIFACTS_DIR"], "out")
os.makedirs(folder, exist_ok=True)
with open(os.path.join(folder, name + ".txt"), "w") as artifact:
    artifact.write("artifact of " + name)
if "--big" in args:
    with open(os.path.join(folder, "big.bin"), "wb") as artifact:
        artifact.write(bytes(range(256)) * (6 * 4096))  # 6 MiB: several chunks
print("done", name, flush=True)
"""

STUBBORN = r"""
import os, signal, sys, time
def on_term(signum, frame):
    print("got SIGTERM, saving", flush=True)
    print("saved", flush=True)
    sys.exit(3)
if "--ignore" in sys.argv:
    signal.signal(signal.SIGTERM, lambda *a: print("ignoring SIGTERM", flush=True))
else:
    signal.signal(signal.SIGTERM, on_term)
with open(os.path.join(os.environ["PROBE_DIR"], os.environ["GRID_EXPERIMENT_NAME"]), "w") as f:
    f.write(str(os.getpid()))
print("start", flush=True)
time.sleep(300)
"""


@pytest.fixture(scope="module")
def cluster():
    """A head and a worker node, one CPU each, on this machine."""
    common = {
        "num_cpus": 1,
        "object_store_memory": OBJECT_STORE,
    }
    cluster = Cluster(
        initialize_head=True,
        head_node_args={**common, "resources": {"head": 1}, "include_dashboard": False},
    )
    try:
        cluster.add_node(**common, resources={"worker": 1})
        cluster.wait_for_nodes()
        yield cluster
    finally:
        cluster.shutdown()


def alive_node_ids(cluster: Cluster) -> set[str]:
    nodes = [cluster.head_node, *cluster.worker_nodes]
    return {node.node_id for node in nodes}


@pytest.fixture
def env(grid_env: dict[str, str], cluster: Cluster, tmp_path: Path) -> dict[str, str]:
    """`grid`'s environment: RAY_ADDRESS points at the cluster, PROBE_DIR at a folder."""
    grid_env["RAY_ADDRESS"] = cluster.address
    probes = tmp_path / "probes"
    probes.mkdir()
    grid_env["PROBE_DIR"] = str(probes)
    return grid_env


@pytest.fixture
def probes(env: dict[str, str]) -> Path:
    return Path(env["PROBE_DIR"])


@pytest.fixture
def scripts(workdir: Path) -> Path:
    (workdir / "probe.py").write_text(PROBE)
    (workdir / "stubborn.py").write_text(STUBBORN)
    return workdir


def log_lines(record: dict) -> list[str]:
    return Path(record["log_path"]).read_text().splitlines()


def node_of(path: Path) -> str:
    match = HEADER.match(path.read_text())
    assert match, path.read_text()
    return match.group(1)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_a_sweep_lands_on_both_nodes_and_everything_comes_back(
    grid, run_status, env, probes, scripts, cluster
):
    result = grid(
        "run",
        "--backend",
        "ray",
        "--name",
        "both",
        "probe.py",
        "--together",
        "2",
        "--x",
        "[1, 2, 3, 4]",
        timeout=240,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    run = run_status("both")
    assert run["options"]["backend"] == "ray"
    assert run["options"]["address"] == cluster.address  # from RAY_ADDRESS: resume reuses it
    assert run["counts"]["succeeded"] == 4
    nodes = set()
    for index, record in enumerate(run["experiments"]):
        name = f"both-exp{index}"
        lines = log_lines(record)
        nodes.add(node_of(Path(record["log_path"])))
        assert lines[1:] == [
            f"started {name} attempt 1",
            "step=0 loss=1.0",
            "step=1 loss=0.5",
            "step=2 loss=0.3333333333333333",
            f"done {name}",
        ]
        metrics = record["metrics"]
        assert metrics["loss"]["count"] == 3 and metrics["loss"]["min"] == pytest.approx(1 / 3)
        assert metrics["acc"]["count"] == 3 and metrics["acc"]["last"] == pytest.approx(0.7)
        folder = Path(record["log_path"]).parent
        assert (folder / "artifacts" / "out" / f"{name}.txt").read_text() == f"artifact of {name}"
        assert len((folder / "metrics.jsonl").read_text().splitlines()) == 3
        seen = json.loads((probes / f"{name}.1.json").read_text())
        # The code reached the worker as Ray's working_dir: a copy, not this folder.
        assert seen["cwd"] != str(scripts) and "probe.py" in seen["files"]
        assert seen["args"] == ["--together", "2", "--x", str(index + 1)]
        environment = seen["env"]
        assert environment["GRID_RUN_NAME"] == "both"
        assert environment["GRID_EXPERIMENT_NAME"] == name
        assert environment["GRID_EXPERIMENT_ID"] == str(index)
        assert environment["CUDA_VISIBLE_DEVICES"] == ""
        assert environment["PYTHONUNBUFFERED"] == "1"
        # Paths on the worker, not in GRIDRUN_HOME: the files came back through Ray.
        assert not environment["GRID_ARTIFACTS_DIR"].startswith(env["GRIDRUN_HOME"])
    assert nodes == alive_node_ids(cluster)  # both nodes ran experiments
    artifacts = json.loads(grid("--output", "json", "status", "both-exp0", check=True).stdout)
    assert {"path": "out/both-exp0.txt", "size": 21} in artifacts["artifacts"]


def test_shared_filesystem_and_big_artifacts(grid, run_status, env, probes, scripts, cluster):
    result = grid(
        "run",
        "--backend",
        "ray",
        "--address",
        cluster.address,
        "--shared_fs",
        "--name",
        "shared",
        "probe.py",
        "--big",
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    record = run_status("shared")["experiments"][0]
    seen = json.loads((probes / "shared-exp0.1.json").read_text())
    folder = Path(record["log_path"]).parent
    assert seen["cwd"] == str(scripts)
    assert seen["env"]["GRID_ARTIFACTS_DIR"] == str(folder / "artifacts")
    assert (folder / "artifacts" / "out" / "big.bin").read_bytes() == bytes(range(256)) * (6 * 4096)
    assert record["metrics"]["acc"]["count"] == 3
    # Without a shared filesystem, a big artifact comes back in pieces, whole.
    grid("run", "--backend", "ray", "--name", "big", "probe.py", "--big", check=True, timeout=120)
    record = run_status("big")["experiments"][0]
    big = Path(record["log_path"]).parent / "artifacts" / "out" / "big.bin"
    assert big.read_bytes() == bytes(range(256)) * (6 * 4096)


def test_logs_follow_a_ray_experiment_live(grid, run_status, env, probes, scripts):
    started = grid(
        "run", "--backend", "ray", "--detach", "--name", "live", "probe.py", "--gate", check=True
    )
    assert "live" in started.stdout
    follower = subprocess.Popen(
        [sys.executable, "-m", "gridrun", "logs", "live-exp0", "-f"],
        cwd=scripts,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None
        seen = []
        while "step=2 loss=0.3333333333333333" not in seen:  # streamed while it waits
            line = follower.stdout.readline()
            assert line, f"the follow ended early: {seen}"
            seen.append(line.rstrip("\n"))
        assert "done live-exp0" not in seen
        (probes / "gate").write_text("")
        rest = follower.stdout.read().splitlines()
        assert follower.wait(timeout=60) == 0
    finally:
        follower.kill()
    assert rest == ["done live-exp0"]
    wait_until(lambda: run_status("live")["state"] == "succeeded", 120, what="the run to end")


def test_timeout_stops_on_the_worker_then_kills(grid, run_status, env, probes, scripts):
    result = grid(
        "run",
        "--backend",
        "ray",
        "--name",
        "slow",
        "--timeout",
        "6s",  # from the hand-over to Ray: a new job's first workers take seconds to start
        "--grace_period",
        "2s",
        "stubborn.py",
        "--mode",
        "['polite', '--ignore']",
        timeout=120,
    )
    assert result.returncode == 1
    polite, ignoring = run_status("slow")["experiments"]
    assert polite["state"] == "failed" and polite["reason"] == "timed out after 6s"
    assert polite["exit_code"] == 3
    assert log_lines(polite)[1:] == ["start", "got SIGTERM, saving", "saved"]
    assert ignoring["state"] == "failed" and ignoring["signal"] == signal.SIGKILL
    assert log_lines(ignoring)[1:] == ["start", "ignoring SIGTERM"]
    for name in ("slow-exp0", "slow-exp1"):
        assert not alive(int((probes / name).read_text()))


def test_retries_and_resume_reuse_the_cluster(grid, run_status, env, probes, scripts, cluster):
    result = grid(
        "run", "--backend", "ray", "--name", "again", "--retries", "1", "probe.py",
        "--fail_first", timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    record = run_status("again")["experiments"][0]
    assert record["state"] == "succeeded" and record["attempts"] == 2
    folder = Path(record["log_path"]).parent
    assert "failing on purpose" in (folder / "stdout.attempt1.log").read_text()
    assert "done again-exp0" in (folder / "stdout.log").read_text()
    # No retries: it fails; `grid resume` runs it again on the same cluster (RAY_ADDRESS
    # unset now: the recorded address is used).
    result = grid("run", "--backend", "ray", "--name", "later", "probe.py", "--fail_first")
    assert result.returncode == 1
    del env["RAY_ADDRESS"]
    resumed = grid("resume", "later", timeout=120)
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    record = run_status("later")["experiments"][0]
    assert record["state"] == "succeeded"
    assert node_of(Path(record["log_path"])) in alive_node_ids(cluster)


def test_stop_and_ctrl_c(grid, run_status, env, probes, scripts):
    grid("run", "--backend", "ray", "--detach", "--name", "halt", "stubborn.py", check=True)
    wait_until(lambda: (probes / "halt-exp0").exists(), 120, what="the experiment to start")
    grid("stop", "run", "halt", check=True)
    wait_until(lambda: run_status("halt")["state"] != "running", 60, what="the run to stop")
    record = run_status("halt")["experiments"][0]
    assert record["state"] == "stopped"
    wait_until(lambda: "saved" in log_lines(record), 120, what="the last lines of the log")
    assert not alive(int((probes / "halt-exp0").read_text()))

    driver = subprocess.Popen(
        [*GRID_RAY, "--name", "intr", "stubborn.py", "--x", "[1, 2]"],
        cwd=scripts,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(
            lambda: all((probes / f"intr-exp{i}").exists() for i in range(2)),
            120,
            what="both experiments to start",
        )
        driver.send_signal(signal.SIGINT)
        assert driver.wait(timeout=60) == 130, driver.stderr.read() if driver.stderr else ""
    finally:
        driver.kill()
    run = run_status("intr")
    assert run["state"] == "stopped" and run["counts"]["stopped"] == 2
    for index in range(2):
        assert "saved" in log_lines(run["experiments"][index])
        assert not alive(int((probes / f"intr-exp{index}").read_text()))


def test_a_request_no_node_can_meet_says_why_it_waits(grid, run_status, env, probes, scripts):
    """Without --max_parallel it is refused; with it the experiment waits in Ray's queue (an
    autoscaler may add a node), and the run says so instead of waiting silently."""
    result = grid("run", "--backend", "ray", "--gpus", "1", "probe.py")
    assert result.returncode == 2 and "no node of the Ray cluster can run" in result.stderr
    driver = subprocess.Popen(
        [*GRID_RAY, "--name", "nogpu", "--gpus", "1", "--max_parallel", "1", "probe.py"],
        cwd=scripts,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: list[str] = []
        assert driver.stdout is not None
        for line in driver.stdout:
            lines.append(line)
            if "started" in line:
                break
        text = "".join(lines)
        assert "--gpus 1 (the nodes offer: " in text and "wait in Ray's queue" in text, text
        grid("stop", "run", "nogpu", check=True)
        assert driver.wait(timeout=60) == 1
    finally:
        driver.kill()
        driver.wait()
    assert run_status("nogpu")["experiments"][0]["state"] == "stopped"


def test_a_killed_driver_leaves_nothing_running(grid, run_status, env, probes, scripts):
    grid("run", "--backend", "ray", "--detach", "--name", "orphan", "stubborn.py", check=True)
    wait_until(lambda: (probes / "orphan-exp0").exists(), 120, what="the experiment to start")
    pid = int((probes / "orphan-exp0").read_text())
    os.kill(run_status("orphan")["driver_pid"], signal.SIGKILL)
    wait_until(lambda: not alive(pid), 60, what="Ray to end the experiment of a dead driver")
    wait_until(lambda: run_status("orphan")["state"] == "lost", 60, what="the run recorded as lost")
    assert run_status("orphan")["experiments"][0]["state"] == "lost"


def test_without_an_address_a_local_ray_is_started_for_the_run(
    grid, run_status, env, probes, scripts
):
    del env["RAY_ADDRESS"]
    result = grid("run", "--backend", "ray", "--name", "solo", "probe.py", timeout=180)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "a local Ray: 1 node(s)" in result.stdout
    run = run_status("solo")
    assert run["options"]["address"] is None
    record = run["experiments"][0]
    seen = json.loads((probes / "solo-exp0.1.json").read_text())
    folder = Path(record["log_path"]).parent
    assert seen["cwd"] == str(scripts)  # this machine: no upload, its own folders
    assert seen["env"]["GRID_METRICS_FILE"] == str(folder / "metrics.jsonl")
    assert record["metrics"]["acc"]["count"] == 3 and record["metrics"]["loss"]["count"] == 3
    assert (folder / "artifacts" / "out" / "solo-exp0.txt").exists()


def test_a_node_that_dies_loses_its_experiment_which_is_retried_elsewhere(
    grid, run_status, env, probes, scripts, cluster
):
    victim = cluster.add_node(
        num_cpus=1,
        object_store_memory=OBJECT_STORE,
        resources={"victim": 1},
    )
    cluster.wait_for_nodes()
    driver = subprocess.Popen(
        [*GRID_RAY, "--name", "doomed", "--retries", "1", *DOOMED_ARGS],
        cwd=scripts,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        home = Path(env["GRIDRUN_HOME"]) / "runs" / "doomed"
        logs = [home / f"doomed-exp{i}" / "stdout.log" for i in range(3)]

        def all_waiting() -> bool:  # three running at once, one on each node, metrics out
            return all(p.exists() and "step=2" in p.read_text() for p in logs)

        wait_until(all_waiting, 120, what="three experiments on three nodes")
        placed = {node_of(path): index for index, path in enumerate(logs)}
        assert set(placed) == alive_node_ids(cluster)
        doomed = placed[victim.node_id]
        pid = json.loads((probes / f"doomed-exp{doomed}.1.json").read_text())["pid"]
        cluster.remove_node(victim, allow_graceful=False)
        first = logs[doomed].with_name("stdout.attempt1.log")  # once it is retried
        wait_until(lambda: first.exists(), 120, what="the experiment lost, then queued again")
        (probes / "gate").write_text("")  # the survivors end; the lost one runs again
        output, _ = driver.communicate(timeout=120)
    finally:
        driver.kill()
    assert driver.returncode == 0, output
    assert re.search(rf"doomed-exp{doomed} .*lost on node {victim.node_id}", output), output
    assert not alive(pid)  # its process died with its node
    run = run_status("doomed")
    assert run["counts"]["succeeded"] == 3
    record = run["experiments"][doomed]
    assert record["attempts"] == 2
    folder = Path(record["log_path"]).parent
    assert node_of(first) == victim.node_id
    assert "step=2 loss=0.3333333333333333" in first.read_text()
    assert f"lost on node {victim.node_id}" in first.read_text()
    assert node_of(folder / "stdout.log") in alive_node_ids(cluster)
    assert f"done doomed-exp{doomed}" in (folder / "stdout.log").read_text()
    assert (folder / "artifacts" / "out" / f"doomed-exp{doomed}.txt").exists()
    # Nothing recorded is lost: the lost attempt's log and metrics file are kept beside the
    # retry's (the store holds the metrics of the last attempt, as with the local backend).
    assert len((folder / "metrics.attempt1.jsonl").read_text().splitlines()) == 3
    for each in run["experiments"]:
        assert each["metrics"]["loss"]["count"] == 3 and each["metrics"]["acc"]["count"] == 3


def test_without_ray_the_option_says_how_to_install_it(grid, env, scripts, tmp_path):
    blocker = tmp_path / "blocker"
    (blocker / "ray").mkdir(parents=True)
    (blocker / "ray" / "__init__.py").write_text("raise ImportError(\"No module named 'ray'\")\n")
    env["PYTHONPATH"] = str(blocker)
    result = grid("run", "--backend", "ray", "--name", "noray", "probe.py")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: --backend ray needs Ray: pip install 'gridrun[ray]'"
    ]
    assert json.loads(grid("--output", "json", "history", check=True).stdout) == {"runs": []}


def test_an_address_where_nothing_listens_records_nothing(grid, env, scripts):
    result = grid("run", "--backend", "ray", "--address", "127.0.0.1:1", "probe.py")
    assert result.returncode == 2
    assert "cannot reach the Ray cluster at 127.0.0.1:1" in result.stderr
    assert "Traceback" not in result.stderr
    assert json.loads(grid("--output", "json", "history", check=True).stdout) == {"runs": []}


def test_the_local_backend_never_imports_ray(grid, grid_env, workdir):
    (workdir / "t.py").write_text("print('hi')\n")
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gridrun", "run", "t.py", "--x", "[1, 2]"],
        cwd=workdir,
        env=grid_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()]
    assert "gridrun.runner" in imported  # the importtime report is there
    assert not [m for m in imported if m == "ray" or m.startswith(("ray.", "gridrun.backends.ray"))]


def test_the_capacity_is_what_the_alive_nodes_fit():
    from gridrun.backends.ray import RayScheduler, node_capacity
    from gridrun.errors import UserError
    from gridrun.scheduler import Request

    gib = 1024**3
    node = {"CPU": 8.0, "GPU": 2.0, "memory": 30.0 * gib}
    assert node_capacity(node, Request(cpus=1)) == 8
    assert node_capacity(node, Request(cpus=1, gpus=0.5)) == 4
    assert node_capacity(node, Request(cpus=2, gpus=0, memory_gb=16)) == 1
    assert node_capacity({"CPU": 1.0}, Request(cpus=1, gpus=1)) == 0
    nodes = [
        {"Alive": True, "Resources": {"CPU": 4.0}},
        {"Alive": True, "Resources": {"CPU": 3.0}},
        {"Alive": False, "Resources": {"CPU": 64.0}},
    ]
    clock = [0.0]
    scheduler = RayScheduler(Request(cpus=2), nodes=lambda: nodes, monotonic=lambda: clock[0])
    assert scheduler.capacity == 3  # 2 + 1: per node, not 7 / 2
    held = [scheduler.allocate() for _ in range(3)]
    assert None not in held and scheduler.allocate() is None
    nodes.pop(0)  # a node died: seen at the next look
    clock[0] += 5
    assert scheduler.capacity == 1
    scheduler.release(held[0])
    assert scheduler.allocate() is None
    nodes.clear()  # none left: one at a time waits in Ray's queue for a node
    clock[0] += 5
    assert scheduler.capacity == 1
    assert RayScheduler(Request(cpus=2), max_parallel=50, nodes=lambda: nodes).capacity == 50
    with pytest.raises(UserError, match="no node of the Ray cluster can run"):
        RayScheduler(Request(cpus=1, gpus=1), nodes=lambda: [])
    cpu_only = [{"Alive": True, "Resources": {"CPU": 2.0}}]
    waiting = RayScheduler(Request(cpus=1, gpus=1), max_parallel=2, nodes=lambda: cpu_only)
    assert waiting.capacity == 2  # sent anyway, for an autoscaler to see; and said so
    assert "0 GPUs" in waiting.notices[0] and "wait in Ray's queue" in waiting.notices[0]
