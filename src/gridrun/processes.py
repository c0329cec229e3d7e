"""Process identity and signals: who drives a run, is it alive, stop a process group."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable

from gridrun.store.records import Driver


def _stat_fields(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name ([] where /proc is missing)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def process_start_time(pid: int) -> str:
    """When process `pid` started, as the kernel counts it ('' where /proc is missing)."""
    fields = _stat_fields(pid)
    return fields[19] if len(fields) > 19 else ""


def this_driver() -> Driver:
    """This process, as the driver of a run."""
    pid = os.getpid()
    return Driver(pid, os.uname().nodename, process_start_time(pid))


def driver_alive(driver: Driver) -> bool:
    """Whether `driver` still runs. A driver on another host is assumed alive."""
    if driver.host != os.uname().nodename:
        return True
    try:
        os.kill(driver.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    fields = _stat_fields(driver.pid)
    if fields and fields[0] in ("Z", "X"):  # a zombie: dead, not yet reaped
        return False
    started = fields[19] if len(fields) > 19 else ""
    return not (driver.started and started and started != driver.started)


def signal_group(pgid: int, signum: int) -> bool:
    """Send `signum` to process group `pgid`; False if the group is gone (or not a group
    of an experiment: 0 and 1 would be our own group and init's)."""
    if pgid <= 1:
        return False
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def group_alive(pgid: int) -> bool:
    return signal_group(pgid, 0)


DRIVER_VARIABLE = "GRIDRUN_DRIVER"
"""Set in every experiment's environment: which driver started it (see `driver_marker`)."""


def driver_marker(driver: Driver) -> str:
    """The value of GRIDRUN_DRIVER in the experiments `driver` starts."""
    return f"{driver.host}:{driver.pid}:{driver.started}"


def groups_with_marker(marker: str) -> set[int]:
    """Process groups of this user's processes whose environment has GRIDRUN_DRIVER=`marker`
    (Linux; empty elsewhere)."""
    needle = f"\0{DRIVER_VARIABLE}={marker}\0".encode()
    found: set[int] = set()
    own = os.getpgid(0)
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return found
    for entry in entries:
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                data = b"\0" + environ.read() + b"\0"
            if needle in data:
                pgid = os.getpgid(int(entry))
                if pgid != own:
                    found.add(pgid)
        except OSError:
            continue
    return found


def stop_groups(groups: Iterable[int], marker: str | None, grace_s: float) -> None:
    """SIGTERM the groups (and those carrying `marker`), SIGKILL what is left after grace."""
    targets = set(groups) | (groups_with_marker(marker) if marker else set())
    for pgid in targets:
        signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(group_alive(g) for g in targets):
        time.sleep(0.05)
    for pgid in targets | (groups_with_marker(marker) if marker else set()):
        signal_group(pgid, signal.SIGKILL)
