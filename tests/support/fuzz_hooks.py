"""The schemathesis hooks of test_schemathesis.py, run inside the schemathesis process.

They keep the fuzzer from changing the server under its own feet; they narrow what is sent, never
what is checked (the reasons are in test_schemathesis.py's docstring).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# The server's config file, which the hooks put back after each POST /config_update.
FUZZ_CONF_ENV = "NANOADMIN_FUZZ_CONF"

CREDENTIAL_KEYS = ("username", "password", "auth_type")


def register_fuzz_hooks() -> None:
    """Register the hooks in the schemathesis process (loaded through the config's ``hooks``)."""
    import schemathesis

    conf_path = Path(os.environ[FUZZ_CONF_ENV])
    original = conf_path.read_bytes()

    @schemathesis.hook
    def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
        method, path, body = case.operation.method.upper(), case.operation.path, case.body
        if method == "POST" and path.startswith("/api/v4/configuration") and isinstance(body, dict):
            data = body.get("data")
            http = data.get("http_server") if isinstance(data, dict) else None
            if isinstance(http, dict):
                for key in CREDENTIAL_KEYS:
                    http.pop(key, None)

    @schemathesis.hook
    def after_call(context: Any, case: Any, response: Any) -> None:
        if case.operation.path == "/api/v4/config_update":
            temp = conf_path.with_name(conf_path.name + ".restore")
            temp.write_bytes(original)
            os.replace(temp, conf_path)
