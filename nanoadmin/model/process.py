"""This process's CPU and memory, as NanoMQ's /metrics and /prometheus compute the broker's.

NanoMQ (nanomq/nanomq rest_api.c get_cpu_time, update_process_info) divides the process's CPU
ticks since the previous sample by the whole machine's ticks since then (the first line of
/proc/stat: every core's, so 100% is all cores busy), and keeps the previous sample in statics
that /metrics and /prometheus share. The first sample compares with boot; two samples in the
same tick show 0.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable

# Both files are a line or two of text; a read of this many bytes holds either whole.
_PROC_READ_BYTES = 4096
_PROC_FLAGS = os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)


def read_proc(path: str) -> bytes | None:
    """The start of a /proc file (one bounded read), or None when it cannot be read."""
    try:
        fd = os.open(path, _PROC_FLAGS)
    except OSError:
        return None
    try:
        return os.read(fd, _PROC_READ_BYTES)
    except OSError:
        return None
    finally:
        os.close(fd)


def machine_ticks(stat: bytes | None) -> int | None:
    """The sum of the first eight counters of /proc/stat's ``cpu`` line, in NanoMQ's uint32
    arithmetic (it wraps); None where NanoMQ's sscanf would not read eight numbers."""
    if stat is None:
        return None
    fields = stat.split(b"\n", 1)[0].split()[1:9]
    if len(fields) != 8 or not all(field.isdigit() for field in fields):
        return None
    return sum(int(field) & 0xFFFFFFFF for field in fields) & 0xFFFFFFFF


def process_ticks(stat: bytes | None) -> tuple[int, int] | None:
    """utime+stime+cutime+cstime and rss (pages) from /proc/self/stat, or None."""
    if stat is None:
        return None
    # The command name is in parentheses and may hold spaces; the fields after it are fixed.
    fields = stat[stat.rfind(b")") + 2 :].split()
    try:
        # Fields 14-17 and 24 of the whole line; the rest starts at field 3.
        ticks = sum(int(fields[index]) for index in (11, 12, 13, 14))
        return ticks, int(fields[21])
    except (IndexError, ValueError):
        return None


def as_float32(value: float) -> float:
    # NanoMQ keeps the percentage in a C float.
    return float(struct.unpack("f", struct.pack("f", value))[0])


class ProcessUsage:
    """CPU percent since the previous sample (of either endpoint), memory now, and the maxima
    /prometheus has shown. ``read`` is how a /proc file is read (tests give their own)."""

    def __init__(self, read: Callable[[str], bytes | None] = read_proc) -> None:
        self._read = read
        self._last_machine = 0
        self._last_process = 0
        self._page_size = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        self.cpu_max = 0.0
        self.memory_max = 0

    def sample(self) -> tuple[float, int]:
        return self._sample()

    def record_max(self, percent: float, memory: int) -> None:
        """The maxima /prometheus shows: NanoMQ updates them at each of its scrapes only
        (nanomq/nanomq rest_api.c get_prometheus, update_max_stats)."""
        self.cpu_max = max(self.cpu_max, percent)
        self.memory_max = max(self.memory_max, memory)

    def _sample(self) -> tuple[float, int]:
        machine = machine_ticks(self._read("/proc/stat"))
        if machine is None:
            # NanoMQ: get_cpu_time() gave -1 ("-1.00%"); off Linux it reports "0.00%" and "0".
            return (-1.0 if os.path.isdir("/proc") else 0.0), 0
        process = process_ticks(self._read("/proc/self/stat"))
        if process is None:
            # NanoMQ returns early with both at 0 and keeps its previous sample.
            return 0.0, 0
        ticks, rss_pages = process
        elapsed = machine - self._last_machine
        percent = 100.0 * (ticks - self._last_process) / (elapsed if elapsed != 0 else -1)
        self._last_machine, self._last_process = machine, ticks
        return as_float32(percent if percent > 0 else 0.0), rss_pages * self._page_size
