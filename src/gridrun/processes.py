"""Process identity and signals: who drives a run, is it alive, stop a process group."""

from __future__ import annotations

import os
import signal
import socket

from gridrun.store.records import Driver


def process_start_time(pid: int) -> str:
    """When process `pid` started, as the kernel counts it ('' where /proc is missing)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return fields[19]
    except (OSError, IndexError):
        return ""


def this_driver() -> Driver:
    """This process, as the driver of a run."""
    pid = os.getpid()
    return Driver(pid, socket.gethostname(), process_start_time(pid))


def driver_alive(driver: Driver) -> bool:
    """Whether `driver` still runs. A driver on another host is assumed alive."""
    if driver.host != socket.gethostname():
        return True
    try:
        os.kill(driver.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    started = process_start_time(driver.pid)
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


SIGNAL_NAMES = {s.value: s.name for s in signal.Signals}
