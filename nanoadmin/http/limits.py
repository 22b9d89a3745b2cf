"""Every bound and deadline of the HTTP listener, in one place.

What a client can make the server hold before it has authenticated is bounded here: the bytes
of a request head, the time to send it, the number of connections, and the time a connection
may sit idle. Bodies are read only after auth, within ``max_body`` (the config's) and
BODY_READ_TIMEOUT.
"""

from __future__ import annotations

# -- the request head, read before anything is known about the client ---------------------------

# One header line (name and value) or the request line: a 16 KiB Authorization header holds
# any RS256 token a user needs (an 8192-bit key's signature is 1.4 KB of base64).
MAX_FIELD_SIZE = 16 * 1024
MAX_LINE_SIZE = 16 * 1024
# Header lines in one request, and the bytes of the whole head (request line and headers):
# a thousand connections that each send a head up to this cap and never finish it hold
# about 50 MB.
MAX_HEADERS = 100
MAX_HEAD_BYTES = 32 * 1024
# From the first byte of a request to the end of its head.
HEAD_READ_TIMEOUT = 10.0
# A Basic credential longer than this is refused before it is decoded: decoding is pure Python.
MAX_BASIC_CREDENTIAL = 4096

# -- the body, read only once the request has authenticated --------------------------------------

BODY_READ_TIMEOUT = 10.0
# After an answer that did not read the body (a 401, a 413), how long the rest of it may still
# arrive, read and thrown away, before the connection closes: a client that sends it is not
# made to start again at once (the connection can be shed meanwhile if another needs room).
UNREAD_BODY_TIMEOUT = BODY_READ_TIMEOUT
# After a refusal written straight to the socket (a head too large or too slow), how long what
# the client still sends is thrown away before the close: closing with unread bytes would reset
# the connection, and the client would lose the answer.
LINGER_TIMEOUT = 1.0

# -- connections --------------------------------------------------------------------------------

# A keep-alive connection with no request in progress is closed after this long.
IDLE_TIMEOUT = 30.0
# Open connections at most (``nanoadmin.max_connections`` changes it): as many connections
# all sending heads up to MAX_HEAD_BYTES hold about 200 MB. At the cap, a new connection sheds
# the longest-idle one, else the slowest head; when every connection has a request in
# progress, the new one is answered 503 and closed.
DEFAULT_MAX_CONNECTIONS = 4096
# File descriptors kept free of connections: config, key and log files, the listening socket.
RESERVED_FILES = 64
# The soft open-files limit is raised towards the hard one at start, up to this.
WANTED_OPEN_FILES = 65536
# A crowd of at least this many connections that shrinks to a quarter of itself gives the
# memory its buffers took back to the system.
TRIM_AFTER_CONNECTIONS = 64

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

# The test double's control API (nanoadmin.control): what its journal and fault list may hold.
DEFAULT_JOURNAL_SIZE = 1000
MAX_JOURNAL_SIZE = 10_000
# A request body and target are kept in the journal up to this many characters (secrets
# masked), then cut: a full journal holds a few MB at most.
JOURNAL_BODY_MAX = 2048
JOURNAL_TARGET_MAX = 1024
MAX_FAULT_RULES = 100
# A delay fault waits at most this long; a hang fault holds the request at most this long.
MAX_FAULT_DELAY_MS = 60_000
FAULT_HANG_MAX = 300.0
