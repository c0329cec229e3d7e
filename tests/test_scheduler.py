"""The scheduler, pure: capacity, distinct GPUs, fractional packing, memory, parsing."""

from __future__ import annotations

import pytest

from gridrun.errors import UserError
from gridrun.scheduler import (
    Inventory,
    Request,
    Scheduler,
    detect_gpus,
    parse_duration_s,
    parse_memory_gb,
)


def inventory(cpus: float = 8, gpus: str = "", memory: float = 64) -> Inventory:
    ids = tuple(g for g in gpus.split(",") if g)
    return Inventory(cpus, ids, memory, "test")


def drain(scheduler: Scheduler) -> list:
    taken = []
    while (allocation := scheduler.allocate()) is not None:
        taken.append(allocation)
    return taken


def test_cpu_slots_bound_the_default_parallelism():
    scheduler = Scheduler(inventory(cpus=8), Request(cpus=2))
    assert scheduler.capacity == 4
    assert len(drain(scheduler)) == 4


def test_max_parallel_caps_and_may_oversubscribe_cpus():
    assert Scheduler(inventory(cpus=8), Request(), max_parallel=3).capacity == 3
    assert len(drain(Scheduler(inventory(cpus=2), Request(), max_parallel=5))) == 5
    with pytest.raises(UserError, match="max_parallel"):
        Scheduler(inventory(), Request(), max_parallel=0)


def test_whole_gpus_are_distinct_and_released():
    scheduler = Scheduler(inventory(gpus="0,1,2,3"), Request(gpus=1))
    taken = drain(scheduler)
    assert [a.cuda_visible_devices for a in taken] == ["0", "1", "2", "3"]
    scheduler.release(taken[2])
    assert scheduler.allocate().cuda_visible_devices == "2"
    pairs = drain(Scheduler(inventory(gpus="0,1,2,3"), Request(gpus=2)))
    assert [a.cuda_visible_devices for a in pairs] == ["0,1", "2,3"]


def test_fractional_gpus_pack_two_per_gpu():
    taken = drain(Scheduler(inventory(cpus=16, gpus="0,1"), Request(gpus=0.5)))
    assert sorted(a.cuda_visible_devices for a in taken) == ["0", "0", "1", "1"]


def test_no_gpu_requested_hides_the_gpus():
    allocation = Scheduler(inventory(gpus="0,1"), Request()).allocate()
    assert allocation.cuda_visible_devices == ""


def test_impossible_requests():
    with pytest.raises(UserError, match="offers 1 GPU"):
        Scheduler(inventory(gpus="0"), Request(gpus=2))
    with pytest.raises(UserError, match="integer"):
        Request(gpus=1.5)
    with pytest.raises(UserError, match="--cpus"):
        Request(cpus=0)
    big = Scheduler(inventory(cpus=2), Request(cpus=4))
    assert big.notices and len(drain(big)) == 1


def test_memory_bounds_parallelism():
    scheduler = Scheduler(inventory(cpus=16, memory=32), Request(memory_gb=10))
    assert scheduler.capacity == 3 and len(drain(scheduler)) == 3


def test_gpu_detection_from_cuda_visible_devices():
    assert detect_gpus({"CUDA_VISIBLE_DEVICES": "0,1,2,3"})[0] == ("0", "1", "2", "3")
    assert detect_gpus({"CUDA_VISIBLE_DEVICES": " 2, 5 "})[0] == ("2", "5")
    assert detect_gpus({"CUDA_VISIBLE_DEVICES": ""})[0] == ()
    assert detect_gpus({"CUDA_VISIBLE_DEVICES": "-1"})[0] == ()
    assert detect_gpus({"CUDA_VISIBLE_DEVICES": "GPU-abc,GPU-def"})[0] == ("GPU-abc", "GPU-def")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("2h", 7200),
        ("30m", 1800),
        ("1h30m", 5400),
        ("1d", 86400),
        ("45", 45),
        ("0.5s", 0.5),
        ("250ms", 0.25),
    ],
)
def test_durations(text, seconds):
    assert parse_duration_s(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "1x", "-5s", "0s", "h"])
def test_bad_durations(text):
    with pytest.raises(UserError, match="--timeout"):
        parse_duration_s(text)


@pytest.mark.parametrize(
    ("text", "gb"),
    [("8G", 8), ("8GB", 8), ("16GiB", 16), ("512M", 0.5), ("1.5g", 1.5), ("2", 2), ("1T", 1024)],
)
def test_memory_sizes(text, gb):
    assert parse_memory_gb(text) == pytest.approx(gb)


def test_bad_memory():
    with pytest.raises(UserError, match="--memory"):
        parse_memory_gb("lots")
