"""The benchmark script runs in smoke mode; its figures are judged in the benchmark, not here."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import PROJECT


def test_benchmark_smoke_mode_prints_every_case() -> None:
    result = subprocess.run(
        [sys.executable, str(PROJECT / "bench" / "run.py"), "--smoke", "--no-install"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=PROJECT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for case in ("(a)", "(b)", "(c)", "(d)", "(e)", "(f)"):
        assert case in result.stdout, case
    assert "start to first 200" in result.stdout
    assert "resident memory" in result.stdout
