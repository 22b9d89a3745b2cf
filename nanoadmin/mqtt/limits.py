"""Every bound and deadline of the MQTT listener, in one place.

Whatever a client can make the listener hold is bounded here, or by the config's
``mqtt.max_packet_size`` and ``mqtt.max_mqueue_len`` (capped below).
"""

from __future__ import annotations

# -- connections ---------------------------------------------------------------------------
# Open MQTT connections at once; one more is closed as soon as it is accepted.
MAX_CONNECTIONS = 10_000
# Accepted connections that have not yet been answered a CONNACK (a CONNECT flood).
MAX_HANDSHAKES = 1_000
# From accept to a complete CONNECT; a connection that sends nothing (or half of it) closes.
CONNECT_TIMEOUT = 10.0
# A connection whose peer takes none of what it is sent for this long closes.
WRITE_STALL_TIMEOUT = 30.0
# How often deadlines (CONNECT, keepalive, stalls, session expiry) are checked.
SWEEP_INTERVAL = 0.5

# -- bytes ---------------------------------------------------------------------------------
# MQTT's own ceiling on a packet's remaining length.
PROTOCOL_MAX_PACKET = 268_435_455
# Bytes of packets not yet complete, over all connections; the one that would pass it closes.
MAX_BUFFERED_BYTES = 256 * 1024 * 1024
# Bytes not yet taken by the kernel from one connection: above it, QoS 0 messages to it are
# dropped, QoS 1/2 ones wait in its session's queue, and its packets are not read.
MAX_WRITE_BUFFER = 4 * 1024 * 1024

# -- sessions and messages -----------------------------------------------------------------
# QoS 1/2 messages sent to one client and not yet acknowledged (less if it asks for less).
MAX_INFLIGHT = 32
# QoS 2 messages from one client awaiting its PUBREL: the Receive Maximum a v5 CONNACK says.
RECEIVE_MAXIMUM = 32
# Messages waiting for one session (offline, or its in-flight window full); the config's
# mqtt.max_mqueue_len, at most this.
MAX_QUEUED_MESSAGES = 10_000
# Payload bytes waiting in one session's queue, and in all of them.
MAX_QUEUED_BYTES = 16 * 1024 * 1024
MAX_QUEUED_BYTES_TOTAL = 256 * 1024 * 1024
# Persistent sessions of real clients kept while they are offline; past it the oldest goes.
MAX_OFFLINE_SESSIONS = 10_000
# An MQTT 5 session expiry interval above this is taken as this (one week).
MAX_SESSION_EXPIRY = 7 * 24 * 3600

# -- topics --------------------------------------------------------------------------------
# Subscriptions one real client may hold through its own SUBSCRIBEs, and all real clients.
MAX_SUBSCRIPTIONS_PER_CLIENT = 100
MAX_SUBSCRIPTIONS = 100_000
# Filters in one SUBSCRIBE or UNSUBSCRIBE (each may cost a scan of the retained messages).
MAX_FILTERS_PER_PACKET = 100
# A topic name or filter from a real client: its UTF-8 bytes and its levels.
MAX_TOPIC_BYTES = 1024
MAX_TOPIC_LEVELS = 32
# Client identifiers longer than this are refused (MQTT allows 65535 bytes).
MAX_CLIENT_ID_BYTES = 256
# Retained messages real clients may add, counted over the whole model.
MAX_RETAINED_MESSAGES = 10_000
MAX_RETAINED_BYTES = 64 * 1024 * 1024
# MQTT 5 topic aliases one client may set up (the Topic Alias Maximum a CONNACK says).
TOPIC_ALIAS_MAXIMUM = 16
# A packet begun must be complete within this many seconds (a slow drip of a large one).
PACKET_TIMEOUT = 60.0
