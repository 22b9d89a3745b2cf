"""Write a file so that a crash at any moment leaves the old content or the new one."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from pathlib import Path

logger = logging.getLogger("nanoadmin.config")


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


_TEMP_SUFFIX = ".tmp"


def write_atomically(path: Path, data: bytes, mode: int | None = None) -> None:
    """A temp file beside ``path`` (a new, unpredictable name, created exclusively, so that no
    planted file or link is written through), fsync, rename over ``path``, fsync the folder.
    The file keeps its permissions unless ``mode`` is given."""
    folder = path.parent
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
    fd, temp_name = tempfile.mkstemp(dir=folder, prefix=_temp_prefix(path), suffix=_TEMP_SUFFIX)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def remove_leftovers(path: Path) -> int:
    """Delete the temp files a crashed :func:`write_atomically` of ``path`` left beside it
    (regular files only; a link of that name is left alone); how many were removed."""
    removed = 0
    prefix = _temp_prefix(path)
    try:
        names = os.listdir(path.parent)
    except OSError:
        return 0
    for name in names:
        if not (name.startswith(prefix) and name.endswith(_TEMP_SUFFIX)):
            continue
        leftover = path.parent / name
        try:
            if stat.S_ISREG(os.lstat(leftover).st_mode):
                leftover.unlink()
                removed += 1
        except OSError as exc:
            logger.warning("cannot remove %s: %s", leftover, exc.strerror)
    if removed:
        logger.info("removed %d temp files an interrupted write left beside %s", removed, path)
    return removed
