"""nanoadmin as a real process on a loopback port: start it, wait for it, stop it, read its log."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tests.support import PROJECT
from tests.support.rawhttp import log_records


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


# -- the load and fault tests' servers, and what their logs say ---------------------------------

# The http_server section of the servers the load and fault tests start.
HTTP_SERVER = """  port = 8081
  ip_addr = "127.0.0.1"
  username = admin
  password = public
  auth_type = basic
  max_body = 1MB"""

ACCESS_LINE = re.compile(r'nanoadmin\.access: \S+ "(\S+) (\S*)" (\d{3}) ')

RID = re.compile(r"[?&]rid=(\d+)")


@contextmanager
def logged_server(conf: Path, log: Path, *args: str) -> Iterator[ServerProcess]:
    """``nanoadmin start`` on a free loopback port, its log in a file (a pipe nobody reads
    would fill up under load and stall the server), SIGTERM on exit."""
    port = free_port()
    with log.open("a+") as log_file:
        process = start_process(
            "start",
            "--conf",
            str(conf),
            "-p",
            str(port),
            "--log-level",
            "info",
            *args,
            log=log_file,
        )
        try:
            wait_until_serving(port, process)
            yield ServerProcess(process, port, log_file)
        finally:
            stop_process(process)


@dataclass
class LogSummary:
    """A server log sorted into what the tests care about."""

    records: int = 0
    malformed_lines: int = 0
    disconnect_tracebacks: int = 0
    other_multiline: list[str] = field(default_factory=list)
    access: list[tuple[str, str, int]] = field(default_factory=list, repr=False)

    @classmethod
    def read(cls, log: Path) -> LogSummary:
        summary = cls()
        for record in log_records(log.read_text(errors="replace")):
            summary.records += 1
            match = ACCESS_LINE.search(record)
            if match is not None and "\n" not in record:
                summary.access.append((match[1], match[2], int(match[3])))
            if "\n" not in record and "Traceback" not in record:
                if "malformed HTTP request from" in record:
                    summary.malformed_lines += 1
                continue
            first_line = record.split("\n", 1)[0]
            last_line = record.rstrip().rsplit("\n", 1)[-1]
            if "nanoadmin.errors: unhandled error" in first_line and last_line.startswith(
                "ConnectionResetError"
            ):
                summary.disconnect_tracebacks += 1  # a finding: see test_client_disconnect_*
            else:
                summary.other_multiline.append(record)
        return summary

    def rid_counts(self) -> Counter[int]:
        return Counter(int(m[1]) for _, target, _ in self.access for m in RID.finditer(target))

    def statuses(self) -> Counter[int]:
        return Counter(status for _, _, status in self.access)
