"""Static files of one folder, as NanoMQ serves ./dist at ``/`` (``--dist DIR``), made safe.

NanoMQ's directory handler (nanomq/nanomq web_server.c rest_start, nanomq/NanoNNG http_server.c
http_handle_dir) builds the file name from the raw request-target with no dot-segment check.
Here a path is served only when every segment is plain (no ``..``, no dot-files, no
backslash or NUL), it resolves inside the folder (a symbolic link may point within it, never
out of it), and it is a regular file no larger than MAX_STATIC_BYTES, read by
``config/files.py``'s rules in a worker thread; a folder serves its ``index.html`` and is never
listed. Everything else is a JSON 404 (D7).

:class:`StaticFiles` knows nothing of where it is mounted: ``respond`` takes the path below
its mount point, so the same folder can be served at ``/`` or below a prefix.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
from pathlib import Path

from aiohttp import web

from nanoadmin.config import ConfigError
from nanoadmin.config.files import read_regular_file
from nanoadmin.errors import NotFound

# A web console's largest bundle is a few MB; a file over this is not served.
MAX_STATIC_BYTES = 32 * 1024 * 1024
INDEX = "index.html"
_TEXT_TYPES = ("application/javascript", "application/json", "image/svg+xml")


def content_type(name: str) -> str:
    kind, _ = mimetypes.guess_type(name, strict=False)
    if kind is None:
        return "application/octet-stream"
    if kind.startswith("text/") or kind in _TEXT_TYPES:
        return f"{kind}; charset=utf-8"
    return kind


class StaticFiles:
    """The regular files below ``root``, by safe relative path."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.realpath(root))

    def resolve(self, path: str) -> Path | None:
        """The file ``path`` (below the mount point, ``/`` separated) names, or None."""
        segments = [segment for segment in path.split("/") if segment]
        for segment in segments:
            if segment.startswith(".") or "\\" in segment or "\0" in segment:
                return None
        candidate = Path(os.path.realpath(self.root.joinpath(*segments)))
        if candidate.is_dir():
            candidate = Path(os.path.realpath(candidate / INDEX))
        if candidate != self.root and self.root not in candidate.parents:
            return None  # a symbolic link out of the folder
        if any(part.startswith(".") for part in candidate.relative_to(self.root).parts):
            return None  # a link inside the folder to one of its dot-files
        return candidate

    def read(self, path: str) -> tuple[str, bytes] | None:
        """The file's name and bytes, or None: blocking (regular files only), for a thread."""
        found = self.resolve(path)
        if found is None:
            return None
        try:
            data = read_regular_file(found, max_bytes=MAX_STATIC_BYTES, what="static file")
        except (OSError, ConfigError):
            return None
        return found.name, data

    async def respond(self, request: web.BaseRequest, path: str) -> web.StreamResponse:
        found = await asyncio.to_thread(self.read, path)
        if found is None:
            raise NotFound(f"no such file: {path}")
        name, data = found
        return web.Response(
            body=data,
            headers={"Content-Type": content_type(name), "X-Content-Type-Options": "nosniff"},
        )
