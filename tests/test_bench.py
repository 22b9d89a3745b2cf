"""The benchmark script runs in smoke mode; its figures are judged in the benchmark, not here."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import PROJECT


@pytest.mark.slow  # every benchmark case, about 15 s
def test_benchmark_smoke_mode_prints_every_case() -> None:
    # wrk when it is installed; otherwise the script's own Python load generator (no apt here:
    # `make bench` installs wrk). No figure is asserted.
    result = subprocess.run(
        [sys.executable, str(PROJECT / "bench" / "run.py"), "--smoke", "--no-install"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=PROJECT,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    lines = result.stdout.splitlines()
    for case in ("(a)", "(b)", "(c)", "(d)", "(e)", "(f)", "(g)"):
        assert any(line.startswith(case) for line in lines), case
    assert "start to first 200" in result.stdout
    assert "resident memory" in result.stdout
    assert "around one unpaged /clients" in result.stdout
    assert "errors or non-2xx" not in result.stdout, result.stdout
