"""nanoadmin: NanoMQ's /api/v4 HTTP admin API, served from an in-memory broker model."""

__version__ = "0.1.0"

# The version NanoMQ reports in /brokers and /nodes: the release we imitate.
NANOMQ_VERSION = "0.25.6-8"

__all__ = ("NANOMQ_VERSION", "__version__")
