"""This process's CPU and memory, as /metrics and /prometheus report the broker's."""

from __future__ import annotations

import os
import resource
import time


def resident_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        # ru_maxrss is KiB on Linux; a peak, but better than nothing off Linux.
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class ProcessUsage:
    """CPU percent since the previous sample, memory now, and their maxima over the process life."""

    def __init__(self) -> None:
        self._last_wall = time.monotonic()
        self._last_cpu = time.process_time()
        self.cpu_max = 0.0
        self.memory_max = 0

    def sample(self) -> tuple[float, int]:
        wall, cpu = time.monotonic(), time.process_time()
        elapsed = wall - self._last_wall
        percent = 100.0 * (cpu - self._last_cpu) / elapsed if elapsed > 0 else 0.0
        self._last_wall, self._last_cpu = wall, cpu
        memory = resident_bytes()
        self.cpu_max = max(self.cpu_max, percent)
        self.memory_max = max(self.memory_max, memory)
        return percent, memory
