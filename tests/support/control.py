"""Servers with the control API on, and calls to it with admin credentials."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from nanoadmin.settings import Settings, load_settings
from tests.support import Client
from tests.support.api import AUTH, RULES_CONF

CONTROL = "/_nanoadmin/v1"


def control_settings(tmp_path: Path, conf: str = RULES_CONF, **nanoadmin: Any) -> Settings:
    """``conf`` (Basic admin/public, rules and a bridge by default) with --control."""
    path = tmp_path / "nanomq.conf"
    path.write_text(conf)
    settings = load_settings(str(path), control=True, environ={})
    return replace(settings, nanoadmin=replace(settings.nanoadmin, **nanoadmin))


async def call(
    client: Client, method: str, path: str, body: Any = None, *, status: int = 200
) -> Any:
    """``method path`` with admin credentials; asserts the status, returns the JSON."""
    data = None if body is None else body if isinstance(body, str | bytes) else json.dumps(body)
    response = await client.request(method, path, data=data, headers=AUTH)
    text = await response.text()
    assert response.status == status, (method, path, response.status, text)
    return json.loads(text) if text else None
