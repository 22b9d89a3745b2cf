"""A tiny HTTP/1.1 keep-alive load generator, used only where wrk cannot be installed.

It runs as its own process (so it never shares a loop with a server), keeps ``--connections``
connections busy for ``--duration`` seconds and prints one JSON line:
``{"requests": N, "errors": N, "non2xx": N, "seconds": S, "rps": R, "p99_ms": P}``.
Its figures are far below what wrk can drive and are not comparable with them: the benchmark
prints which generator produced a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time


def build_request(method: str, path: str, headers: list[str], body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += headers
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _connection(
    port: int,
    requests: list[bytes],
    deadline: float,
    latencies: list[float],
    counts: dict[str, int],
) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        counts["errors"] += 1
        return
    try:
        turn = 0
        while time.monotonic() < deadline:
            sent = time.monotonic()
            writer.write(requests[turn % len(requests)])
            turn += 1
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            latencies.append(time.monotonic() - sent)
            if not head.startswith((b"HTTP/1.1 2", b"HTTP/1.0 2")):
                counts["non2xx"] += 1
    except (OSError, asyncio.IncompleteReadError, ValueError):
        counts["errors"] += 1
    finally:
        writer.close()


async def _run(args: argparse.Namespace) -> dict[str, float]:
    body = args.body.encode() if args.body else b""
    pages = range(1, args.pages + 1) if args.pages else [1]
    requests = [
        build_request(args.method, args.path.replace("{page}", str(page)), args.header, body)
        for page in pages
    ]
    latencies: list[float] = []
    counts = {"errors": 0, "non2xx": 0}
    started = time.monotonic()
    deadline = started + args.duration
    await asyncio.gather(
        *(
            _connection(args.port, requests, deadline, latencies, counts)
            for _ in range(args.connections)
        )
    )
    seconds = time.monotonic() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0
    return {
        "requests": len(latencies),
        "errors": counts["errors"],
        "non2xx": counts["non2xx"],
        "seconds": seconds,
        "rps": len(latencies) / seconds if seconds else 0.0,
        "p99_ms": p99 * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--header", action="append", default=[], help="'Name: value'")
    parser.add_argument("--body", default="")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--pages", type=int, default=0, help="walk {page} in --path 1..N")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(_run(args))))


if __name__ == "__main__":
    main()
