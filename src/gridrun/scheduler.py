"""Which experiment may start now, and on what: CPU slots, GPU ids and memory.

Every experiment asks for the same `Request` (`--cpus`, `--gpus`, `--memory`). The
`Scheduler` hands out `Allocation`s while the machine's `Inventory` has room and fewer than
`max_parallel` are out (an explicit `max_parallel` may oversubscribe the CPUs, never the
GPUs nor memory). GPUs are handed out whole and distinct; a fractional request
(`--gpus 0.5`) packs experiments onto a GPU up to its capacity of 1.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from gridrun.errors import UserError

NVIDIA_PROC = Path("/proc/driver/nvidia/gpus")
EPSILON = 1e-9


class Request:
    """What one experiment needs; checked when made (`UserError` for what cannot be met)."""

    __slots__ = ("cpus", "gpus", "memory_gb")

    def __init__(
        self, cpus: float = 1.0, gpus: float = 0.0, memory_gb: float | None = None
    ) -> None:
        for name, value in (("cpus", cpus), ("gpus", gpus), ("memory", memory_gb)):
            if value is not None and not (math.isfinite(value) and (value == 0 or value >= 0.01)):
                raise UserError(f"--{name} must be a finite number, 0.01 or more, got {value:g}")
        if cpus <= 0:
            raise UserError(f"--cpus must be positive, got {cpus:g}")
        if gpus < 0:
            raise UserError(f"--gpus must be 0 or more, got {gpus:g}")
        if gpus > 1 and not float(gpus).is_integer():
            raise UserError(f"--gpus {gpus:g}: above 1, GPUs are given whole; expected an integer")
        if memory_gb is not None and memory_gb <= 0:
            raise UserError(f"--memory must be positive, got {memory_gb:g} GB")
        self.cpus = cpus
        self.gpus = gpus
        self.memory_gb = memory_gb


class Inventory(NamedTuple):
    """What this machine offers: CPU slots, GPU ids (as CUDA names them), memory."""

    cpu_slots: float
    gpu_ids: tuple[str, ...]
    memory_gb: float
    gpu_source: str = "none"

    @classmethod
    def detect(cls, env: Mapping[str, str] | None = None) -> Inventory:
        """This machine: the CPUs we may use, the caller's CUDA_VISIBLE_DEVICES or the GPUs
        the NVIDIA driver lists, and physical memory."""
        env = os.environ if env is None else env
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        gpus, source = detect_gpus(env)
        return cls(float(cpus or 1), gpus, physical_memory_gb(), source)


def detect_gpus(env: Mapping[str, str]) -> tuple[tuple[str, ...], str]:
    """GPU ids from CUDA_VISIBLE_DEVICES when set (even empty), else from the NVIDIA driver."""
    if "CUDA_VISIBLE_DEVICES" in env:
        ids = tuple(i.strip() for i in env["CUDA_VISIBLE_DEVICES"].split(",") if i.strip())
        if ids and ids[0].startswith("-"):  # CUDA stops at the first invalid id: -1 hides all
            ids = ()
        return ids, "CUDA_VISIBLE_DEVICES"
    try:
        count = sum(1 for _ in NVIDIA_PROC.iterdir())
    except OSError:
        return (), "none"
    return tuple(str(i) for i in range(count)), "nvidia driver"


def physical_memory_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    except (ValueError, OSError, AttributeError):
        return math.inf


class Allocation(NamedTuple):
    """What one running experiment holds."""

    cpus: float
    gpu_shares: tuple[tuple[str, float], ...]
    memory_gb: float

    @property
    def cuda_visible_devices(self) -> str:
        return ",".join(gpu for gpu, _ in self.gpu_shares)


class Scheduler:
    """Hands out allocations while the inventory has room (not thread-safe: one driver)."""

    def __init__(
        self, inventory: Inventory, request: Request, max_parallel: int | None = None
    ) -> None:
        self.inventory = inventory
        self.request = request
        self.max_parallel = max_parallel
        self.notices: list[str] = []
        if request.gpus > len(inventory.gpu_ids):
            have = ", ".join(inventory.gpu_ids) or "none"
            raise UserError(
                f"--gpus {request.gpus:g} per experiment, but this machine offers "
                f"{len(inventory.gpu_ids)} GPU(s) ({inventory.gpu_source}: {have})"
            )
        if self.max_parallel is not None and self.max_parallel < 1:
            raise UserError(f"--max_parallel must be at least 1, got {self.max_parallel}")
        if inventory.gpu_ids and not request.gpus:
            self.notices.append(
                f"{len(inventory.gpu_ids)} GPU(s) here ({inventory.gpu_source}); experiments "
                "get none unless you ask with --gpus N"
            )
        if request.cpus > inventory.cpu_slots + EPSILON:
            self.notices.append(
                f"--cpus {request.cpus:g} is more than the {inventory.cpu_slots:g} CPUs here; "
                "running one experiment at a time"
            )
        if request.memory_gb and request.memory_gb > inventory.memory_gb:
            self.notices.append(
                f"--memory {request.memory_gb:g}G is more than the {inventory.memory_gb:.1f}G "
                "here; running one experiment at a time"
            )
        self.free_cpus = inventory.cpu_slots
        self.free_memory = inventory.memory_gb
        self.gpu_free = {gpu: 1.0 for gpu in inventory.gpu_ids}
        self.active = 0

    @property
    def capacity(self) -> int:
        """How many experiments can run at once."""
        limits = []
        if self.max_parallel is None:  # an explicit --max_parallel may oversubscribe CPUs
            limits.append(max(1, int(self.inventory.cpu_slots / self.request.cpus + EPSILON)))
        if self.request.gpus:
            per_gpu = 1 if self.request.gpus >= 1 else int(1 / self.request.gpus + EPSILON)
            whole = max(1, int(self.request.gpus))
            limits.append(len(self.inventory.gpu_ids) // whole * per_gpu)
        if self.request.memory_gb:
            limits.append(max(1, int(self.inventory.memory_gb / self.request.memory_gb)))
        if self.max_parallel is not None:
            limits.append(self.max_parallel)
        return max(1, min(limits)) if limits else 1

    def allocate(self) -> Allocation | None:
        """An allocation for one more experiment, or None when there is no room now."""
        request = self.request
        if self.active >= self.capacity:
            return None
        alone = self.active == 0
        cpus = min(request.cpus, self.inventory.cpu_slots)
        if self.free_cpus + EPSILON < cpus and not alone and self.max_parallel is None:
            return None
        memory = request.memory_gb or 0.0
        if memory and self.free_memory + EPSILON < memory and not alone:
            return None
        shares = self._gpu_shares()
        if shares is None:
            return None
        for gpu, share in shares:
            self.gpu_free[gpu] -= share
        self.free_cpus -= cpus
        self.free_memory -= memory
        self.active += 1
        return Allocation(cpus, shares, memory)

    def release(self, allocation: Allocation) -> None:
        for gpu, share in allocation.gpu_shares:
            self.gpu_free[gpu] += share
        self.free_cpus += allocation.cpus
        self.free_memory += allocation.memory_gb
        self.active -= 1

    def _gpu_shares(self) -> tuple[tuple[str, float], ...] | None:
        wanted = self.request.gpus
        if not wanted:
            return ()
        if wanted >= 1:
            free = [gpu for gpu, room in self.gpu_free.items() if room >= 1 - EPSILON]
            count = int(wanted)
            return tuple((gpu, 1.0) for gpu in free[:count]) if len(free) >= count else None
        fitting = [(room, gpu) for gpu, room in self.gpu_free.items() if room + EPSILON >= wanted]
        if not fitting:
            return None
        # The GPU with the most room: experiments spread over the GPUs before they share one.
        _, gpu = min(fitting, key=lambda pair: (-pair[0], self.inventory.gpu_ids.index(pair[1])))
        return ((gpu, wanted),)


SIZE = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?i?b?)?\s*", re.IGNORECASE)
SIZE_FACTORS_GB = {"": 1.0, "k": 1 / 1024**2, "m": 1 / 1024, "g": 1.0, "t": 1024.0}
DURATION_PART = re.compile(r"([0-9]*\.?[0-9]+)\s*(ms|s|m|h|d)?", re.IGNORECASE)
DURATION_FACTORS = {"ms": 0.001, "s": 1, "": 1, "m": 60, "h": 3600, "d": 86400}


def parse_memory_gb(text: str) -> float:
    """`8G`, `512M`, `1.5GB`, `16GiB` or a plain number of GB, in GB."""
    match = SIZE.fullmatch(text)
    if not match:
        raise UserError(f"--memory {text!r}: expected a size like 8G, 512M or 16GiB")
    unit = (match.group(2) or "").lower().rstrip("b").rstrip("i")
    return float(match.group(1)) * SIZE_FACTORS_GB[unit]


def parse_duration_s(text: str, option: str = "--timeout") -> float:
    """`90s`, `2h`, `1h30m`, `45m`, `1d` or a plain number of seconds, in seconds."""
    compact = text.strip().replace(" ", "")
    parts = list(DURATION_PART.finditer(compact))
    if not compact or "".join(p.group(0) for p in parts) != compact:
        raise UserError(f"{option} {text!r}: expected a duration like 90s, 30m, 2h or 1h30m")
    seconds = sum(float(p.group(1)) * DURATION_FACTORS[(p.group(2) or "").lower()] for p in parts)
    if seconds <= 0:
        raise UserError(f"{option} {text!r}: expected a positive duration")
    return seconds
