"""The web console: one page and its assets, read from the package once and served from memory."""

from __future__ import annotations

import hashlib
from importlib import resources

from aiohttp import web
from multidict import CIMultiDict

from nanoadmin.errors import NotFound

CONSOLE_PREFIX = "/_nanoadmin/console/"
INDEX = "index.html"
# The only names served: a request's path is looked up here, never opened as a file.
ASSETS = {
    INDEX: "text/html; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
}
# The page holds no inline script or style, so the policy can forbid both.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidated on every load (the ETag makes that a 304), so an upgrade shows at once.
    "Cache-Control": "no-cache",
}


class Console:
    """The console's files by name, each with its headers and ETag."""

    def __init__(self) -> None:
        package = resources.files(__name__)
        self._files: dict[str, tuple[bytes, CIMultiDict[str]]] = {}
        for name, kind in ASSETS.items():
            data = package.joinpath(name).read_bytes()
            headers = CIMultiDict(SECURITY_HEADERS)
            headers["Content-Type"] = kind
            headers["ETag"] = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
            self._files[name] = (data, headers)

    def asset_name(self, path: str) -> str:
        """The asset ``path`` (``/``, or below CONSOLE_PREFIX) names; NotFound for any other."""
        if path in ("/", CONSOLE_PREFIX):
            return INDEX
        name = path[len(CONSOLE_PREFIX) :] if path.startswith(CONSOLE_PREFIX) else ""
        if name not in self._files:
            raise NotFound(f"no such console file: {path}")
        return name

    async def respond(self, request: web.BaseRequest, path: str) -> web.StreamResponse:
        data, headers = self._files[self.asset_name(path)]
        if request.headers.get("If-None-Match") == headers["ETag"]:
            return web.Response(status=304, headers=SECURITY_HEADERS | {"ETag": headers["ETag"]})
        return web.Response(body=data, headers=headers)
