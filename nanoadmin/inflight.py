"""A count of requests in flight, so a stop can wait for the ones already admitted."""

from __future__ import annotations

import asyncio
import time


class InFlight:
    def __init__(self) -> None:
        self.count = 0
        # Made by the first wait_idle: until a stop waits, a request costs two additions.
        self._idle: asyncio.Event | None = None

    def enter(self) -> None:
        self.count += 1

    def leave(self) -> None:
        self.count -= 1
        if self.count == 0 and self._idle is not None:
            self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """True when no request is in flight, False when ``timeout`` passed first."""
        if self._idle is None:
            self._idle = asyncio.Event()
        deadline = time.monotonic() + timeout
        while self.count:
            self._idle.clear()
            try:
                await asyncio.wait_for(self._idle.wait(), deadline - time.monotonic())
            except TimeoutError:
                return self.count == 0
        return True
