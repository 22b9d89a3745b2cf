"""schemathesis against live servers (Basic and JWT) on loopback: every check, zero failures.

Each server is a real ``nanoadmin start`` process; the schemathesis CLI runs against its
``/openapi.json`` with a fixed seed and a fixed number of examples per operation, so a run is
bounded and repeatable. The document has to describe the server exactly for this to pass: statuses,
bodies, headers, and which requests the server accepts (a request the schema calls invalid must get a
4xx; one it calls valid must not get a 400).

What is not fuzzed, and why:

- ``POST /api/v4/ctrl/{action}``: ``stop`` would end the server under test (and ``restart`` re-seeds
  it mid-run). Excluded with schemathesis's operation filter; test_openapi_exchanges.py covers it.
- The control API's steering operations (``NOT_FUZZED``): faults, clock, state, reset and mock
  clients would change the server under the fuzzer's feet. Its reading and clearing ones run.

The hooks (tests/support/fuzz_hooks.py) keep the fuzzer from changing the server under its own
feet; they narrow what is sent, never what is checked:

- ``POST /configuration[/{section}]`` can change ``http_server`` username, password and auth_type,
  which takes effect on the next request and would lock the fuzzer out (or, on the Basic server,
  ask for jwt without keys: 400). Those three keys are dropped from generated bodies.
- ``POST /config_update`` replaces the config file, which the next ``POST /reload`` reads: a fuzzed
  file would switch the JWT server to Basic. The original file is put back after each call.

Checks adjusted for single operations (``SCHEMATHESIS_TOML``) say why each is there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import PROJECT, KeyPair
from tests.support.fuzz_hooks import FUZZ_CONF_ENV
from tests.support.openapi import load_document, operations
from tests.support.processes import running_server

MAX_EXAMPLES = 20
SEED = 20260819
RUN_TIMEOUT = 240

# The operations that steer the test double: a fuzzed fault rule would hang or drop the
# fuzzer's own requests, a fuzzed clock would expire its token, a fuzzed state or reset would
# replace the model under it. test_openapi_exchanges.py covers each of them.
NOT_FUZZED = (
    "ctrl",
    "putFaults",
    "addFault",
    "putClock",
    "putState",
    "resetState",
    "addMockClient",
)
# running_server logs to a temporary file that nobody reads during the run: no need for the
# thousands of access log lines a run makes. Warnings and errors still go there.
QUIET = ("--log-level", "warning")

# A bridge so the bridge operations reach their code, named as the document's example.
BRIDGE = """
bridges.mqtt.emqx {
  server = "mqtt-tcp://broker.example:1883"
  proto_ver = 4
  forwards = [ { remote_topic = "fwd/t", local_topic = "t/#" } ]
  subscription = [ { remote_topic = "cmd/1", local_topic = "c1", qos = 1 } ]
}
"""

SCHEMATHESIS_TOML = """
hooks = "{hooks}"

# Every check schemathesis has. Set here rather than with --checks all, which would override the
# per-operation settings below.
[checks]
enabled = true

# Where a check cannot be satisfied without breaking NanoMQ compatibility, it is adjusted for that
# operation only:

# POST /config_update takes HOCON text. Which strings are valid HOCON cannot be said in JSON Schema,
# so a "schema-valid" random string is rightly refused with 400 code 117. Every other check runs.
[[operations]]
include-operation-id = "configUpdate"
checks.positive_data_acceptance.enabled = false

# PUT /bridges/{name} needs the body's key to equal the path's {name} (else 400 code 108, checked
# before the bridge is looked up, as NanoMQ). OpenAPI cannot tie a body key to a path parameter,
# so a random schema-valid body names some other key: 400 is expected as well.
[[operations]]
include-operation-id = "putBridge"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "404"]

# NanoMQ's lookups are filters: a client, subscription list or bridge that is gone reads as 200 with
# an empty list, never 404 (and with the rule engine off every rule request is 200 code 111). The
# document says so; the use-after-free check, which wants 404 after a DELETE, cannot be satisfied.
[[operations]]
include-operation-id = "getClient"
checks.use_after_free.enabled = false

[[operations]]
include-operation-id = "getClientSubscriptions"
checks.use_after_free.enabled = false

[[operations]]
include-operation-id = "getBridge"
checks.use_after_free.enabled = false

[[operations]]
include-operation-id = "getRule"
checks.use_after_free.enabled = false

# schemathesis leaves out the operation that serves the schema document unless a filter names it;
# this names it, so that GET /openapi.json is tested like every other operation. (A filter must
# set something: it sets what [checks] already says.)
[[operations]]
include-operation-id = "getOpenapi"
checks.unsupported_method.enabled = true
"""

HOOKS_SHIM = """\
from tests.support.fuzz_hooks import register_fuzz_hooks

register_fuzz_hooks()
"""


def schemathesis_command(url: str, auth: list[str], config: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        f"{url}/openapi.json",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--generation-database",
        "none",
        *(arg for op in NOT_FUZZED for arg in ("--exclude-operation-id", op)),
        "--no-color",
        *auth,
    ]


def write_run_files(folder: Path) -> Path:
    """The schemathesis config and the hooks shim it loads; returns the config path."""
    hooks = folder / "fuzz_hooks.py"
    hooks.write_text(HOOKS_SHIM)
    config = folder / "schemathesis.toml"
    config.write_text(SCHEMATHESIS_TOML.replace("{hooks}", str(hooks)))
    return config


def summary(output: str) -> str:
    """schemathesis's closing summary: operations, phases, failures, test cases."""
    marker = output.rfind("= SUMMARY =")
    return output[output.rfind("\n", 0, marker) + 1 :] if marker >= 0 else output[-3000:]


def start_run(command: list[str], conf: Path) -> subprocess.Popen[str]:
    """Run schemathesis beside ``conf``; its output goes to a file there (a pipe could fill)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NANOMQ_", "SCHEMATHESIS_"))}
    env.update({FUZZ_CONF_ENV: str(conf), "PYTHONPATH": str(PROJECT), "NO_COLOR": "1"})
    with (conf.parent / "schemathesis.out").open("w") as out:
        return subprocess.Popen(
            command, cwd=conf.parent, env=env, stdout=out, stderr=subprocess.STDOUT, text=True
        )


def write_conf(folder: Path, http_server: str) -> Path:
    folder.mkdir()
    conf = folder / "nanomq.conf"
    conf.write_text(f"http_server {{\n{http_server}\n}}\n{BRIDGE}")
    return conf


@pytest.mark.slow  # two schemathesis runs, 20-30 s
def test_schemathesis_basic_and_jwt(tmp_path: Path, keypair: KeyPair) -> None:
    basic_conf = write_conf(
        tmp_path / "basic", "  username = admin\n  password = public\n  auth_type = basic"
    )
    jwt_conf = write_conf(
        tmp_path / "jwt", f'  auth_type = jwt\n  jwt {{ public.keyfile = "{keypair.public_path}" }}'
    )
    auth = {
        "basic": ["--auth", "admin:public"],
        "jwt": ["--header", f"Authorization: Bearer {keypair.token(ttl=3600)}"],
    }
    started = time.monotonic()
    with (
        running_server("--conf", str(basic_conf), "--control", *QUIET) as basic,
        running_server("--conf", str(jwt_conf), "--control", *QUIET) as jwt_server,
    ):
        runs = {
            name: start_run(
                schemathesis_command(server.url, auth[name], write_run_files(conf.parent)), conf
            )
            for name, server, conf in (
                ("basic", basic, basic_conf),
                ("jwt", jwt_server, jwt_conf),
            )
        }
        codes: dict[str, int | None] = {}
        for name, process in runs.items():
            try:
                codes[name] = process.wait(
                    timeout=max(1.0, RUN_TIMEOUT - (time.monotonic() - started))
                )
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                codes[name] = None
        for server in (basic, jwt_server):
            assert server.process.poll() is None, "the server under test exited during the run"
    elapsed = time.monotonic() - started
    outputs = {
        name: (tmp_path / name / "schemathesis.out").read_text(errors="replace") for name in runs
    }
    for name, out in outputs.items():
        print(f"--- schemathesis against the {name} server ---\n{summary(out)}")
    print(f"both runs: {elapsed:.1f}s")
    # Every operation but the excluded ones was tested.
    fuzzed = sum(
        1
        for _, _, operation in operations(load_document())
        if operation["operationId"] not in NOT_FUZZED
    )
    for name, out in outputs.items():
        assert codes[name] == 0, (
            f"schemathesis found problems with the {name} server:\n{out[-20000:]}"
        )
        assert f"Tested: {fuzzed}\n" in out, f"not every operation was tested:\n{summary(out)}"
