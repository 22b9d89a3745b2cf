"""nanoadmin's benchmark: one command, loopback only, bounded in time.

    .venv/bin/python bench/run.py              # full run: 5 s per wrk run, 3 runs each, ~3 min
    .venv/bin/python bench/run.py --smoke      # 1 s runs, 1 repetition, small data sets

It starts each server as its own process on a free 127.0.0.1 port, then drives it with
``wrk -t1 -c32 --latency`` (installed from Debian's packages when missing; a tiny Python load
generator stands in where that is impossible, and says so). Cases:

  (a) a bare aiohttp app answering /api/v4/brokers, no auth: the limit of the stack
  (b) nanoadmin, GET /api/v4/brokers, Basic
  (c) nanoadmin, GET /api/v4/brokers, JWT with the verified-token cache
  (d) nanoadmin, GET /api/v4/brokers, JWT with the cache off (RS256 verified every request)
  (e) nanoadmin, GET /api/v4/clients?_page=1&_limit=100 with --mock-clients 100000
  (f) nanoadmin, POST /api/v4/mqtt/publish with 10 000 mock clients subscribed
  (g) nanoadmin, /clients pages 1..1000 of 100 in turn, 100 000 clients (no page asked twice
      in a row: what the whole-body cache cannot help)
  (h) as (b) with --control: the request journal on at its default size, no fault rules; also
      paired with (b) itself, that ratio reported against a 0.9 target

Each case runs ``--repeat`` times, and every run of (b)..(f) is paired with a run of (a): the
two take turns in 1 s slices (a, X, X, a, a, X, ...) until each has had ``--duration`` seconds.
A shared machine's speed swings by half within seconds here; a pair's slices see the same
machine, and every server runs pinned to the same CPU (the load generator to the others). The
table shows each case's median req/s and p99 latency over its runs (a run's p99: its median
slice's), its ratio to (a) as the median of its paired ratios, and the server's CPU time per
request.
It also reports the time from process start to the first 200 on /status and the resident memory
(VmRSS) after start with 0 and with 100 000 mock clients. Exit status 0 when every case ran; with
``--check``, 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
PYTHON = sys.executable
HOST = "127.0.0.1"
BASIC = "Basic YWRtaW46cHVibGlj"  # admin:public, nanoadmin's defaults
PUBLISH_BODY = json.dumps(
    # Matches site/1/+/+/temp, site/1/#, $share/dashboards/site/1/+/+/temp and
    # $share/ingest/site/+/+/+/temp in the mock fleet: a fan-out, not a dropped message.
    {"topic": "site/1/hall/dev-7/temp", "payload": "21.5", "qos": 1, "clientid": "bench"},
    separators=(",", ":"),
)
START_TIMEOUT = 60.0
# (h), the journal on, against (b), off.
JOURNAL_TARGET = 0.9


def _cpus() -> tuple[set[int] | None, set[int] | None]:
    """The CPU every server runs on and the CPUs the load generator runs on: the last CPU this
    process may use, and the rest. The two vCPUs of a shared VM need not be equally fast, and a
    pair of runs must not differ by where the scheduler put each server. None off Linux or on
    a single CPU."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None, None
    return {allowed[-1]}, set(allowed[:-1])


SERVER_CPUS, LOAD_CPUS = _cpus()


def pinned(cpus: set[int] | None) -> Callable[[], None] | None:
    """A preexec_fn that pins the child to ``cpus`` before it runs anything."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


# -- servers -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def status_is_200(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5) as sock:
            sock.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return sock.recv(12).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


@dataclass
class Server:
    name: str
    argv: list[str]
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    startup_s: float = 0.0
    rss_bytes: int = 0

    def start(self) -> None:
        """Start, and time the span from Popen to the first 200 on /status."""
        argv = [part.replace("{port}", str(self.port)) for part in self.argv]
        env = {k: v for k, v in os.environ.items() if not k.startswith("NANOMQ_")}
        with self.log.open("wb") as log:
            began = time.perf_counter()
            self.process = subprocess.Popen(
                argv,
                cwd=PROJECT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=pinned(SERVER_CPUS),
            )
        deadline = began + START_TIMEOUT
        while not status_is_200(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.process.returncode}: {self.tail()}")
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{self.name} did not answer /status in {START_TIMEOUT:.0f} s")
            time.sleep(0.002)
        self.startup_s = time.perf_counter() - began
        self.rss_bytes = self.status_kib("VmRSS") * 1024

    def status_kib(self, key: str) -> int:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        return 0

    def event_loop(self) -> str:
        """The server's event loop: uvloop when its process has uvloop loaded, else asyncio."""
        assert self.process is not None
        maps = Path(f"/proc/{self.process.pid}/maps").read_text()
        return "uvloop" if "/uvloop/" in maps else "asyncio"

    def cpu_seconds(self) -> float:
        """User + system CPU time the server has used so far."""
        assert self.process is not None
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:].strip()
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def nanoadmin(name: str, conf: Path, log_dir: Path, mock_clients: int, *extra: str) -> Server:
    argv = [PYTHON, "-m", "nanoadmin", "start", "--conf", str(conf), "-p", "{port}"]
    argv += ["--log-level", "warning", "--mock-clients", str(mock_clients), *extra]
    return Server(name, argv, log_dir / f"{name}.log")


# -- load --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    server: Server
    path: str
    headers: tuple[str, ...] = ()
    body: str = ""
    target: float | None = None  # minimum ratio to (a)
    pages: int = 0  # > 0: ``path`` has a {page}, walked 1..pages in turn, request by request

    @property
    def method(self) -> str:
        return "POST" if self.body else "GET"


@dataclass(frozen=True)
class Sample:
    rps: float
    p99_ms: float
    requests: int
    bad: int  # non-2xx responses and socket errors
    cpu_us: float  # server CPU time per request


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def parse_wrk(output: str) -> tuple[float, float, int, int]:
    """req/s, p99 in ms, requests and bad responses from ``wrk --latency`` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.MULTILINE)
    total = re.search(r"(\d+) requests in", output)
    if not (rps and p99 and total):
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    bad = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    bad += int(non2xx.group(1)) if non2xx else 0
    p99_ms = float(p99.group(1)) * _UNITS_MS[p99.group(2)]
    return float(rps.group(1)), p99_ms, int(total.group(1)), bad


class LoadGenerator:
    def __init__(self, wrk: str | None, threads: int, connections: int, tmp: Path) -> None:
        self.wrk = wrk
        self.threads = threads
        self.connections = connections
        self.tmp = tmp

    def describe(self) -> str:
        if self.wrk is None:
            return f"bench/loadgen.py (Python, wrk unavailable) -c{self.connections}"
        version = subprocess.run([self.wrk, "-v"], capture_output=True, text=True).stdout
        words = version.split()
        name = f"wrk {words[1]}" if len(words) > 1 else "wrk"
        return f"{name} -t{self.threads} -c{self.connections} --latency"

    def run(self, case: Case, seconds: int) -> Sample:
        server = case.server
        cpu_before = server.cpu_seconds()
        if self.wrk is not None:
            rps, p99, requests, bad = self._wrk(case, seconds)
        else:
            rps, p99, requests, bad = self._python(case, seconds)
        cpu = server.cpu_seconds() - cpu_before
        return Sample(rps, p99, requests, bad, cpu / requests * 1e6 if requests else 0.0)

    def run_pair(self, base: Case, case: Case, seconds: int) -> tuple[Sample, Sample]:
        """``seconds`` of load on each of two cases, in 1 s slices that take turns, so that both
        see the same machine; each sample sums its slices (p99: the median slice's)."""
        slices: dict[str, list[Sample]] = {base.key: [], case.key: []}
        for index in range(seconds):
            for turn in (base, case) if index % 2 == 0 else (case, base):
                slices[turn.key].append(self.run(turn, 1))
        return combine(slices[base.key]), combine(slices[case.key])

    def _wrk(self, case: Case, seconds: int) -> tuple[float, float, int, int]:
        assert self.wrk is not None
        argv = [self.wrk, f"-t{self.threads}", f"-c{self.connections}", f"-d{seconds}s"]
        argv += ["--latency", "--timeout", "5s"]
        for header in case.headers:
            argv += ["-H", header]
        if case.body:
            script = self.tmp / f"{case.key}.lua"
            lines = ['wrk.method = "POST"', f"wrk.body = {lua_string(case.body)}"]
            lines.append('wrk.headers["Content-Type"] = "application/json"')
            script.write_text("\n".join(lines) + "\n")
            argv += ["-s", str(script)]
        if case.pages:
            script = self.tmp / f"{case.key}.lua"
            before, _, after = case.path.partition("{page}")
            script.write_text(
                "counter = 0\nrequest = function()\n  counter = counter + 1\n"
                f"  local page = counter % {case.pages} + 1\n"
                f"  return wrk.format(nil, {lua_string(before)} .. page .. {lua_string(after)})\n"
                "end\n"
            )
            argv += ["-s", str(script)]
        argv.append(f"http://{HOST}:{case.server.port}{case.path.replace('{page}', '1')}")
        return parse_wrk(run_load("wrk", argv, seconds))

    def _python(self, case: Case, seconds: int) -> tuple[float, float, int, int]:
        argv = [PYTHON, str(BENCH / "loadgen.py"), "--port", str(case.server.port)]
        argv += ["--path", case.path, "--method", case.method, "--pages", str(case.pages)]
        argv += ["--connections", str(self.connections), "--duration", str(seconds)]
        for header in case.headers:
            argv += ["--header", header]
        if case.body:
            argv += ["--header", "Content-Type: application/json", "--body", case.body]
        out = json.loads(run_load("loadgen", argv, seconds))
        bad = int(out["errors"]) + int(out["non2xx"])
        return float(out["rps"]), float(out["p99_ms"]), int(out["requests"]), bad


def run_load(name: str, argv: list[str], seconds: int) -> str:
    """Run a load generator on the load CPUs for ``seconds``; its standard output."""
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        preexec_fn=pinned(LOAD_CPUS),
    )
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def combine(slices: list[Sample]) -> Sample:
    requests = sum(s.requests for s in slices)
    cpu_us = sum(s.cpu_us * s.requests for s in slices)
    return Sample(
        rps=statistics.fmean(s.rps for s in slices),
        p99_ms=statistics.median(s.p99_ms for s in slices),
        requests=requests,
        bad=sum(s.bad for s in slices),
        cpu_us=cpu_us / requests if requests else 0.0,
    )


def lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def find_wrk(install: bool) -> str | None:
    """wrk on PATH; else, as root with apt, install Debian's package; else None."""
    found = shutil.which("wrk")
    if found or not install:
        return found
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        print("wrk is missing and cannot be installed here (needs root and apt-get)")
        return None
    print("wrk is missing: installing Debian's wrk package ...", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")

    def apt_get(*args: str) -> int:
        done = subprocess.run(
            [apt, *args, "-q"],
            timeout=300,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        return done.returncode

    try:
        if apt_get("install", "-y", "wrk") != 0:  # the package lists may be missing or stale
            apt_get("update")
            apt_get("install", "-y", "wrk")
    except subprocess.TimeoutExpired:
        print("apt-get timed out")
    found = shutil.which("wrk")
    if found is None:
        print("wrk could not be installed")
    return found


def check(server: Server, case: Case) -> None:
    """One request before the load: it must be a 200 with code 0, or the figures mean nothing."""
    path = case.path.replace("{page}", str(case.pages))  # the last page, for a walk
    request = f"{case.method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    for header in case.headers:
        request += header + "\r\n"
    if case.body:
        request += f"Content-Type: application/json\r\nContent-Length: {len(case.body)}\r\n"
    raw = (request + "\r\n" + case.body).encode()
    with socket.create_connection((HOST, server.port), timeout=10) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200") or b'"code":0' not in body:
        answer = f"{head[:40]!r} {body[:200]!r}"
        raise RuntimeError(f"({case.key}) {case.method} {case.path} answered {answer}")


# -- the run -----------------------------------------------------------------------------------


def make_tokens_and_confs(tmp: Path) -> tuple[dict[str, Path], str]:
    def conf(name: str, body: str) -> Path:
        path = tmp / f"{name}.conf"
        path.write_text(f'http_server {{\n  port = 8081\n  ip_addr = "{HOST}"\n{body}}}\n')
        return path

    run = [PYTHON, "-m", "nanoadmin"]
    subprocess.run(
        [*run, "keygen", "--out", str(tmp), "--name", "nanomq"],
        cwd=PROJECT,
        check=True,
        capture_output=True,
        timeout=60,
    )
    token = subprocess.run(
        [*run, "token", "--key", str(tmp / "nanomq.key"), "--iss", "nanomq.pub", "--ttl", "1h"],
        cwd=PROJECT,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    jwt = "  auth_type = jwt\n  jwt {{\n"
    jwt += '    public.keyfile = "{}"\n    token_cache_size = {}\n  }}\n'
    keyfile = tmp / "nanomq.pub"
    confs = {
        "basic": conf("basic", "  username = admin\n  password = public\n  auth_type = basic\n"),
        "jwt-cache": conf("jwt-cache", jwt.format(keyfile, 10000)),
        "jwt-nocache": conf("jwt-nocache", jwt.format(keyfile, 0)),
    }
    return confs, token


def fmt_int(value: float) -> str:
    return f"{value:,.0f}"


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Linux {platform.release()}"


def versions() -> str:
    probe = (
        "import sys, aiohttp, orjson;"
        "print(f'Python {sys.version.split()[0]}, aiohttp {aiohttp.__version__}, "
        "orjson {orjson.__version__}')"
    )
    done = subprocess.run([PYTHON, "-c", probe], cwd=PROJECT, capture_output=True, text=True)
    return done.stdout.strip() or "versions unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="nanoadmin's benchmark (see the module docstring)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (median reported)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per case")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clients", type=int, default=100_000, help="mock clients for (e)")
    parser.add_argument("--publish-clients", type=int, default=10_000, help="mock clients for (f)")
    parser.add_argument(
        "--smoke", action="store_true", help="1 s runs, 1 repetition, no warm-up, small data sets"
    )
    parser.add_argument(
        "--loadgen", choices=("auto", "wrk", "python"), default="auto", help="load generator"
    )
    parser.add_argument("--no-install", action="store_true", help="never apt-get install wrk")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.smoke:
        args.duration, args.repeat, args.warmup = 1, 1, 0
        args.clients, args.publish_clients = 2000, 500
    if args.duration < 1 or args.repeat < 1 or args.warmup < 0:
        parser.error("--duration and --repeat must be at least 1, --warmup at least 0")

    wrk = None if args.loadgen == "python" else find_wrk(install=not args.no_install)
    if wrk is None and args.loadgen == "wrk":
        print("bench: wrk is required (--loadgen wrk) but unavailable", file=sys.stderr)
        return 2
    load = os.getloadavg()[0]

    with tempfile.TemporaryDirectory(prefix="nanoadmin-bench-") as tmp_name:
        tmp = Path(tmp_name)
        confs, token = make_tokens_and_confs(tmp)
        bearer = f"Authorization: Bearer {token}"
        basic = f"Authorization: {BASIC}"
        bare_argv = [PYTHON, str(BENCH / "bare_app.py"), "-p", "{port}"]
        bare = Server("bare", bare_argv, tmp / "bare.log")
        s_basic = nanoadmin("basic", confs["basic"], tmp, 0)
        s_cache = nanoadmin("jwt-cache", confs["jwt-cache"], tmp, 0)
        s_nocache = nanoadmin("jwt-nocache", confs["jwt-nocache"], tmp, 0)
        s_clients = nanoadmin("clients", confs["basic"], tmp, args.clients)
        s_publish = nanoadmin("publish", confs["basic"], tmp, args.publish_clients)
        s_journal = nanoadmin("journal", confs["basic"], tmp, 0, "--control")
        servers = [s_basic, s_cache, s_nocache, s_clients, s_publish, s_journal, bare]
        brokers = "/api/v4/brokers"
        n_pub = f"{args.publish_clients:,}"
        cases = [
            Case("a", "bare aiohttp, /brokers, no auth", bare, brokers),
            Case("b", "nanoadmin /brokers, Basic", s_basic, brokers, (basic,), target=0.85),
            Case("c", "nanoadmin /brokers, JWT cached", s_cache, brokers, (bearer,), target=0.85),
            Case("d", "nanoadmin /brokers, JWT no cache", s_nocache, brokers, (bearer,)),
            Case(
                "e",
                f"/clients?_page=1&_limit=100, {args.clients:,} clients",
                s_clients,
                "/api/v4/clients?_page=1&_limit=100",
                (basic,),
                target=0.5,
            ),
            Case(
                "f",
                f"POST /mqtt/publish, {n_pub} clients",
                s_publish,
                "/api/v4/mqtt/publish",
                (basic,),
                PUBLISH_BODY,
                target=0.5,
            ),
            Case(
                "g",
                f"/clients?_page=1..{max(1, args.clients // 100)}&_limit=100, "
                f"{args.clients:,} clients",
                s_clients,
                "/api/v4/clients?_page={page}&_limit=100",
                (basic,),
                target=0.5,
                pages=max(1, args.clients // 100),
            ),
            Case("h", "nanoadmin /brokers, Basic, journal on", s_journal, brokers, (basic,)),
        ]
        generator = LoadGenerator(wrk, args.threads, args.connections, tmp)
        samples: dict[str, list[Sample]] = {case.key: [] for case in cases}
        began = time.monotonic()
        loop = "asyncio"
        try:
            # One at a time, so each start-up is timed on a quiet machine; the bare app last,
            # on the event loop nanoadmin turned out to run.
            for server in servers:
                if server is bare:
                    loop = s_basic.event_loop()
                    bare.argv += ["--loop", loop]
                server.start()
            for case in cases:
                check(case.server, case)
                if args.warmup:
                    generator.run(case, args.warmup)
            for _ in range(args.repeat):
                for case in cases[1:]:
                    base_sample, case_sample = generator.run_pair(cases[0], case, args.duration)
                    samples[cases[0].key].append(base_sample)
                    samples[case.key].append(case_sample)
            # The journal's cost, side by side: (h) paired with (b) itself, not through (a).
            by_key = {case.key: case for case in cases}
            journal_pairs = [
                generator.run_pair(by_key["b"], by_key["h"], args.duration)
                for _ in range(args.repeat)
            ]
            journal_ratio = statistics.median(
                on.rps / off.rps if off.rps else 0.0 for off, on in journal_pairs
            )
            unpaged = unpaged_rss(s_clients, basic)
        finally:
            for server in servers:
                server.stop()
        elapsed = time.monotonic() - began

    return report(
        args, cases, samples, generator, servers, load, elapsed, loop, unpaged, journal_ratio
    )


def unpaged_rss(server: Server, auth: str) -> tuple[float, float, int]:
    """The server's resident MB before and after one unpaged GET /api/v4/clients, and the size
    of that answer: what an unpaged listing keeps."""
    before = server.status_kib("VmRSS") / 1024
    name, _, value = auth.partition(": ")
    request = urllib.request.Request(
        f"http://{HOST}:{server.port}/api/v4/clients", headers={name: value}
    )
    with urllib.request.urlopen(request, timeout=60) as reply:
        size = len(reply.read())
    time.sleep(0.5)
    return before, server.status_kib("VmRSS") / 1024, size


def paired_ratios(cases: list[Case], samples: dict[str, list[Sample]]) -> dict[str, float]:
    """Each case's median ratio to (a), run by run: (a) has one run paired with each run of
    every other case, so its run ``i * k + j`` pairs with case ``j`` (of ``k``) in round ``i``."""
    base_runs = samples[cases[0].key]
    others = len(cases) - 1
    ratios = {cases[0].key: 1.0}
    for index, case in enumerate(cases[1:]):
        pairs = [
            (run.rps, base_runs[round_number * others + index].rps)
            for round_number, run in enumerate(samples[case.key])
        ]
        ratios[case.key] = statistics.median(rps / base if base else 0.0 for rps, base in pairs)
    return ratios


def report(
    args: argparse.Namespace,
    cases: list[Case],
    samples: dict[str, list[Sample]],
    generator: LoadGenerator,
    servers: list[Server],
    load: float,
    elapsed: float,
    loop: str,
    unpaged: tuple[float, float, int],
    journal_ratio: float,
) -> int:
    by_name = {server.name: server for server in servers}
    medians = {
        key: (
            statistics.median(s.rps for s in runs),
            statistics.median(s.p99_ms for s in runs),
            statistics.median(s.cpu_us for s in runs),
            sum(s.bad for s in runs),
        )
        for key, runs in samples.items()
    }
    ratios = paired_ratios(cases, samples)
    missed: list[str] = []
    mode = " (smoke mode: figures are not meaningful)" if args.smoke else ""
    print()
    print(f"nanoadmin benchmark{mode}")
    runs_a = len(samples[cases[0].key])
    print(
        f"  load:    {generator.describe()}, {args.duration} s a run, "
        f"median of {args.repeat} ({runs_a} for (a))"
    )
    print(
        "  × (a):   median of the ratios of each run to its paired run of (a), 1 s slices in turn"
    )
    print(f"  machine: {machine()}, load average {load:.2f} at start")
    if SERVER_CPUS is not None and LOAD_CPUS is not None:
        load_cpus = ",".join(map(str, sorted(LOAD_CPUS)))
        print(f"  pinned:  every server on CPU {min(SERVER_CPUS)}, the load on CPU {load_cpus}")
    print(f"  stack:   {versions()}, event loop {loop} (nanoadmin's, and so the bare app's)")
    print()
    header = f"{'case':<50} {'req/s':>9} {'p99 ms':>8} {'× (a)':>6} {'target':<12}"
    header += f" {'CPU µs/req':>10}  runs (req/s)"
    print(header)
    print("-" * len(header))
    for case in cases:
        rps, p99, cpu, bad = medians[case.key]
        ratio = ratios[case.key]
        verdict = ""
        if case.target is not None:
            ok = ratio >= case.target
            verdict = f"≥{case.target:.2f} {'ok' if ok else 'MISSED'}"
            if not ok:
                missed.append(f"({case.key}) {ratio:.2f} < {case.target:.2f}")
        runs = " ".join(fmt_int(s.rps) for s in samples[case.key])
        line = f"({case.key}) {case.title:<46} {fmt_int(rps):>9} {p99:>8.2f} {ratio:>6.2f}"
        line += f" {verdict:<12} {cpu:>10.0f}  {runs}"
        if bad:
            line += f"  [{bad} errors or non-2xx]"
            missed.append(f"({case.key}) {bad} errors or non-2xx responses")
        print(line)
    ok_journal = journal_ratio >= JOURNAL_TARGET
    if not ok_journal:
        missed.append(f"journal on/off {journal_ratio:.2f} < {JOURNAL_TARGET:.2f}")
    print(
        f"journal on (h) / off (b), paired with each other: {journal_ratio:.2f} of the throughput "
        f"(target ≥ {JOURNAL_TARGET:.2f} {'ok' if ok_journal else 'MISSED'})"
    )
    print()
    startup0 = by_name["basic"].startup_s
    startup_n = by_name["clients"].startup_s
    rss0 = by_name["basic"].rss_bytes / 2**20
    rss_n = by_name["clients"].rss_bytes / 2**20
    n = f"{args.clients:,}"
    ok_start = startup0 <= 1.0
    ok_rss = rss_n <= 150.0
    if not ok_start:
        missed.append(f"start {startup0:.2f} s > 1 s")
    if not ok_rss:
        missed.append(f"RSS {rss_n:.0f} MB > 150 MB")
    print(
        f"start to first 200 on /status: {startup0:.2f} s with 0 clients "
        f"(target ≤ 1 s {'ok' if ok_start else 'MISSED'}), {startup_n:.2f} s with {n} clients"
    )
    print(
        f"resident memory after start:   {rss0:.1f} MB with 0 clients, {rss_n:.1f} MB with {n} "
        f"clients (target ≤ 150 MB {'ok' if ok_rss else 'MISSED'})"
    )
    print(
        f"resident memory around one unpaged /clients ({unpaged[2] / 2**20:.1f} MB of JSON): "
        f"{unpaged[0]:.1f} MB before, {unpaged[1]:.1f} MB after"
    )
    print(
        "all servers (start s / RSS MB): "
        + ", ".join(f"{s.name} {s.startup_s:.2f}/{s.rss_bytes / 2**20:.0f}" for s in servers)
    )
    print(f"benchmark took {elapsed:.0f} s; targets missed: {', '.join(missed) or 'none'}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "cases": {
                        c.key: {
                            "title": c.title,
                            "rps": medians[c.key][0],
                            "p99_ms": medians[c.key][1],
                            "cpu_us_per_request": medians[c.key][2],
                            "ratio": ratios[c.key],
                            "runs": [s.rps for s in samples[c.key]],
                        }
                        for c in cases
                    },
                    "startup_s": {s.name: s.startup_s for s in servers},
                    "rss_bytes": {s.name: s.rss_bytes for s in servers},
                    "unpaged_rss_mb": {"before": unpaged[0], "after": unpaged[1]},
                    "journal_ratio": journal_ratio,
                    "missed": missed,
                },
                indent=2,
            )
        )
    # The MQTT listener's case runs as its own script, after the HTTP cases.
    mqtt_argv = [PYTHON, str(BENCH / "mqtt_load.py")]
    mqtt_argv += ["--smoke"] * args.smoke + ["--check"] * args.check
    sys.stdout.flush()
    mqtt = subprocess.run(mqtt_argv, timeout=600)
    return 1 if (args.check and missed) or mqtt.returncode else 0


if __name__ == "__main__":
    sys.exit(main())
