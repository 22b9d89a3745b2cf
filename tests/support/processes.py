"""nanoadmin as a real process on a loopback port: start it, wait for it, stop it, read its log."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tests.support import PROJECT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    port: int
    log: IO[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, signum: signal.Signals = signal.SIGTERM) -> str:
        """Send ``signum``, wait for the exit, and return everything the server logged."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        self.process.wait(timeout=10)
        self.log.seek(0)
        return self.log.read()


def start_process(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    log: IO[str] | None = None,
) -> subprocess.Popen[str]:
    """``python -m nanoadmin ARGS``; stderr to ``log`` when given (a pipe nobody reads fills up)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("NANOMQ_")}
    full_env.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "nanoadmin", *args],
        stdout=subprocess.PIPE if log is None else subprocess.DEVNULL,
        stderr=subprocess.PIPE if log is None else log,
        text=True,
        env=full_env,
        cwd=cwd or PROJECT,
    )


def wait_until_serving(port: int, process: subprocess.Popen[str], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited {process.returncode} before serving")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if sock.recv(12).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("server did not start in time")


@contextmanager
def running_server(
    *args: str, env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[ServerProcess]:
    """``nanoadmin start ARGS -p PORT`` as a real process, logging to a temp file; stopped on exit."""
    port = port or free_port()
    with tempfile.TemporaryFile("w+") as log:
        process = start_process("start", *args, "-p", str(port), env=env, log=log)
        try:
            wait_until_serving(port, process)
            yield ServerProcess(process, port, log)
        finally:
            stop_process(process)


def stop_process(process: subprocess.Popen[str]) -> None:
    """SIGTERM if still running, wait, and close its pipes."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for stream in (process.stdout, process.stderr):
        if stream is not None and not stream.closed:
            stream.close()
