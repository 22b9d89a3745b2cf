"""Every bound and deadline of the HTTP listener, in one place."""

from __future__ import annotations

# -- the request head, read before anything is known about the client ---------------------------

# One header line (name and value) or the request line: large enough that a 100 KB
# Authorization header reaches auth and gets a JSON 401.
MAX_FIELD_SIZE = 128 * 1024
MAX_LINE_SIZE = 128 * 1024

# -- routing --------------------------------------------------------------------------------------

# Resolved (method, request-target) pairs the router remembers, and the longest target it
# remembers: the same few targets come again and again.
RESOLVED_MAX = 4096
RESOLVED_TARGET_MAX = 512

# -- the listener -------------------------------------------------------------------------------

# aiohttp's default is 128: a burst of new connections (a test suite opening 200 at once) past
# it has SYNs dropped, and a client then waits a second or three for the kernel to retry.
LISTEN_BACKLOG = 1024
# How long a stop waits for the requests in flight.
SHUTDOWN_TIMEOUT = 10.0
