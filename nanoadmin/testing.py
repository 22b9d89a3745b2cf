"""A nanoadmin server for a test: started in-process on a free port, steered through a handle."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from nanoadmin.app import create_app
from nanoadmin.appkeys import RUNTIME_KEY
from nanoadmin.http.server import serve
from nanoadmin.model.mock import generate_mock_clients
from nanoadmin.model.scenario import Scenario, load_scenario, parse_scenario
from nanoadmin.settings import Settings, load_settings

__all__ = ("ApiAnswer", "NanoadminServer", "running")

AuthChoice = Literal["basic", "jwt", "no_auth"]
START_TIMEOUT = 15.0
REQUEST_TIMEOUT = 30.0
USERNAME, PASSWORD = "admin", "public"


@dataclass(frozen=True, slots=True)
class ApiAnswer:
    status: int
    body: Any

    @property
    def code(self) -> object:
        return self.body.get("code") if isinstance(self.body, dict) else None


class ControlError(RuntimeError):
    """The control API refused a call: its status and answer."""


class NanoadminServer:
    """A running server: its URL and credentials, and its journal, faults, state and clock."""

    def __init__(
        self, url: str, settings: Settings, private_key: Path | None, key_name: str | None
    ) -> None:
        self.url = url
        self.settings = settings
        self.auth_type = settings.http_server.auth_type
        self.basic = (settings.http_server.username, settings.http_server.password)
        self._private_key = private_key
        self._key_name = key_name
        self._clock_offset = 0.0

    def token(self, ttl: int = 3600, **claims: object) -> str:
        """A JWT the server accepts now (RS256, ``iss`` the public key's file name, ``iat``
        and ``exp`` on the server's clock, moved or not); ``claims`` add or replace any."""
        if self._private_key is None or self._key_name is None:
            raise RuntimeError("token() needs a server started with auth='jwt'")
        from nanoadmin.auth.jwt_tools import mint_token

        now = int(time.time() + self._clock_offset)
        issued = {"iat": now, "exp": now + ttl, **claims}
        return mint_token(self._private_key, self._key_name, ttl, issued)

    def auth_header(self) -> dict[str, str]:
        """The Authorization header this server accepts: Bearer for JWT, else Basic."""
        if self.auth_type == "jwt":
            return {"Authorization": f"Bearer {self.token()}"}
        user, password = self.basic
        encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {encoded}"}

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
    ) -> ApiAnswer:
        """``method path`` (e.g. ``/api/v4/clients``) with a JSON body; never raises for a
        status, only for a connection that fails."""
        data = None if body is None else json.dumps(body).encode()
        sent = dict(self.auth_header() if authenticated else {})
        sent.update(headers or {})
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        call = urllib.request.Request(self.url + path, data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(call, timeout=REQUEST_TIMEOUT) as answer:
                status, raw = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        try:
            parsed: Any = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        return ApiAnswer(status, parsed)

    def get(self, path: str) -> ApiAnswer:
        return self.request("GET", path)

    def _control(self, method: str, path: str, body: object = None) -> Any:
        answer = self.request(method, "/_nanoadmin/v1" + path, body)
        if answer.status != 200:
            raise ControlError(f"{method} /_nanoadmin/v1{path}: {answer.status} {answer.body}")
        return answer.body.get("data")

    def journal(self, **filters: object) -> list[dict[str, Any]]:
        """The journal's entries, oldest first; ``filters``: method, path, status, since."""
        query = urllib.parse.urlencode({k: v for k, v in filters.items() if v is not None})
        entries: list[dict[str, Any]] = self._control("GET", "/requests?" + query)
        return entries

    def clear_journal(self) -> None:
        self._control("DELETE", "/requests")

    @contextlib.contextmanager
    def faults(self, *rules: Mapping[str, object], seed: int = 0) -> Iterator[list[Any]]:
        """Apply ``rules`` (PUT /faults) for the block, then clear them; yields the rules as
        the server shows them (``fired`` counts as of entering)."""
        view = self._control("PUT", "/faults", {"seed": seed, "rules": list(rules)})
        try:
            yield view["rules"]
        finally:
            self._control("DELETE", "/faults")

    def fault_view(self) -> dict[str, Any]:
        view: dict[str, Any] = self._control("GET", "/faults")
        return view

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self._control("GET", "/state")
        return state

    def put_state(self, tree: Mapping[str, object]) -> None:
        self._control("PUT", "/state", tree)

    def reset(self) -> None:
        self._control("POST", "/reset")
        self._clock_offset = 0.0

    def set_clock(self, offset_s: float) -> None:
        """Move the server's clock (JWT ``exp``, uptime) by ``offset_s`` seconds."""
        self._control("PUT", "/clock", {"offset_s": offset_s})
        self._clock_offset = float(offset_s)

    def add_client(self, client_id: str, **entry: object) -> dict[str, Any]:
        client: dict[str, Any] = self._control(
            "POST", "/clients", {"client_id": client_id, **entry}
        )
        return client


def _scenario(scenario: Scenario | Path | str | Mapping[str, object] | None) -> Scenario | None:
    if scenario is None or isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, Mapping):
        return parse_scenario(scenario, "scenario")
    return load_scenario(Path(scenario))


def _write_conf(folder: Path, auth: AuthChoice) -> tuple[Path, Path | None, str | None]:
    lines = [f'  username = "{USERNAME}"', f'  password = "{PASSWORD}"', f"  auth_type = {auth}"]
    private_key, key_name = None, None
    if auth == "jwt":
        from nanoadmin.auth.jwt_tools import generate_keypair

        private_key, public_key = generate_keypair(folder, "nanomq")
        key_name = public_key.name
        lines.append(f'  jwt {{ public.keyfile = "{public_key}" }}')
    conf = folder / "nanomq.conf"
    conf.write_text("http_server {\n" + "\n".join(lines) + "\n}\n")
    return conf, private_key, key_name


@contextlib.contextmanager
def running(
    conf: Path | str | None = None,
    *,
    auth: AuthChoice = "basic",
    scenario: Scenario | Path | str | Mapping[str, object] | None = None,
    mock_clients: int | None = None,
    control: bool = True,
    journal_size: int | None = None,
) -> Iterator[NanoadminServer]:
    """A server on 127.0.0.1 and a free port for the ``with`` block, its control API on.

    ``conf``: a NanoMQ config file; without one, ``http_server`` with ``auth`` (admin/public
    for Basic; for JWT a key pair made for the server, so that ``token()`` works).
    """
    with tempfile.TemporaryDirectory(prefix="nanoadmin-") as folder:
        private_key: Path | None = None
        key_name: str | None = None
        if conf is None:
            conf, private_key, key_name = _write_conf(Path(folder), auth)
        settings = load_settings(str(conf), control=control, environ={})
        if journal_size is not None:
            settings = replace(
                settings, nanoadmin=replace(settings.nanoadmin, journal_size=journal_size)
            )
        chosen = generate_mock_clients(mock_clients) if mock_clients else _scenario(scenario)
        app = create_app(settings, chosen)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        started = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            try:
                loop.run_until_complete(serve(app, sock=sock, signals=False, ready=started.set))
            except BaseException as exc:  # reported to the caller below
                failure.append(exc)
            finally:
                started.set()
                loop.close()

        thread = threading.Thread(target=run, name=f"nanoadmin-{port}", daemon=True)
        thread.start()
        if not started.wait(START_TIMEOUT) or failure:
            raise RuntimeError(f"nanoadmin did not start: {failure[0] if failure else 'timeout'}")
        try:
            yield NanoadminServer(f"http://127.0.0.1:{port}", settings, private_key, key_name)
        finally:
            loop.call_soon_threadsafe(app[RUNTIME_KEY].stop_event.set)
            thread.join(START_TIMEOUT)
            sock.close()
