"""How nanoadmin reads any file it is given: without blocking, regular files only, size-capped.

A path in a config may name a FIFO (opening it for reading waits for a writer), a device
(``/dev/zero`` never ends), a folder, a huge file or a link to any of these. Every file is
opened non-blocking, checked to be a regular file through the open descriptor (so a link is
judged by what it points to, and a swap after the check changes nothing), and read only up
to its cap.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from nanoadmin.config.errors import ConfigError

# The largest files of each kind nanoadmin reads. HOCON parses at about 10 µs a byte, so a
# config (with everything it includes) of 256 KiB parses in a few seconds at most; NanoMQ's own
# largest sample is 55 KB.
MAX_CONFIG_BYTES = 256 * 1024
MAX_KEY_BYTES = 64 * 1024
MAX_PEM_BYTES = 256 * 1024
MAX_SCENARIO_BYTES = 64 * 1024 * 1024

_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)


class FileProblem(ConfigError):
    """A file that exists (or may) but cannot be read as asked; the message names it."""


def read_regular_file(path: Path, *, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of ``path``: FileNotFoundError when it does not exist; FileProblem when it is
    not a regular file, cannot be read, or holds more than ``max_bytes``."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise FileNotFoundError(exc.errno, exc.strerror, str(path)) from None
        raise FileProblem(f"{what} {str(path)!r}: cannot be read: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
            raise FileProblem(f"{what} {str(path)!r}: is {kind}; expected a regular file")
        if info.st_size > max_bytes:
            raise FileProblem(f"{what} {str(path)!r}: is larger than {max_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:
            # A regular file never blocks; the cap holds even if it grows while being read.
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            raise FileProblem(f"{what} {str(path)!r}: is larger than {max_bytes} bytes")
        return b"".join(chunks)
    except OSError as exc:
        raise FileProblem(f"{what} {str(path)!r}: cannot be read: {exc.strerror}") from None
    finally:
        os.close(fd)


def read_text_file(path: Path, *, max_bytes: int, what: str = "file") -> str:
    """:func:`read_regular_file` decoded as UTF-8; FileProblem when it is not UTF-8."""
    data = read_regular_file(path, max_bytes=max_bytes, what=what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FileProblem(f"{what} {str(path)!r}: is not UTF-8 text") from None
