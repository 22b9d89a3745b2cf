"""The ``nanoadmin`` command run in this process: ``main([...])`` as a fresh process would run it.

``run_main`` gives what a process would: the exit status (argparse's ``SystemExit`` included)
and everything written to stdout and stderr. The root logger is emptied for the call, as in a
fresh process, so that ``start``'s ``logging.basicConfig`` and logging's last-resort handler
write to the captured stderr as they would to a real one; it is put back afterwards. The
environment, the working folder and a guard against serving are the ``cli`` fixture's
(tests/conftest.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest

from nanoadmin.cli import main


@dataclass(frozen=True)
class CliResult:
    """What a finished ``nanoadmin`` process leaves: its exit status and its output."""

    returncode: int
    stdout: str
    stderr: str


# The ``cli`` fixture: ``cli(*args, cwd=None)`` runs one command.
Cli = Callable[..., CliResult]


def run_main(args: Sequence[str], capsys: pytest.CaptureFixture[str]) -> CliResult:
    capsys.readouterr()  # only what this command writes
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers.clear()
    try:
        try:
            returncode = main(list(args))
        except SystemExit as exc:  # --version, --help
            returncode = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        root.handlers[:] = handlers
        root.setLevel(level)
    out, err = capsys.readouterr()
    return CliResult(returncode, out, err)


def refuse_to_serve(*args: object, **kwargs: object) -> None:
    """Stands in for the HTTP server: a command under test must stop before it would serve."""
    raise AssertionError("the command got as far as serving")
