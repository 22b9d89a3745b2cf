"""A count of requests in flight, so a stop can wait for the ones already admitted."""

from __future__ import annotations

import asyncio
import time


class InFlight:
    """Admission adds one to ``count`` for each request and takes it away when answered (as
    plain arithmetic: two method calls a request would cost more than the rest of admission);
    after taking it away, it calls :meth:`wake` while a stop is ``draining``."""

    def __init__(self) -> None:
        self.count = 0
        self.draining = False
        self._idle = asyncio.Event()

    def wake(self) -> None:
        if self.count == 0:
            self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """True when no request is in flight, False when ``timeout`` passed first."""
        self.draining = True
        deadline = time.monotonic() + timeout
        while self.count:
            self._idle.clear()
            try:
                await asyncio.wait_for(self._idle.wait(), deadline - time.monotonic())
            except TimeoutError:
                return self.count == 0
        return True
