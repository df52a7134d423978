"""The Stash raw-plugin entry: read stdin once, run the task, print exactly one JSON object.

Logs and progress go to stderr in Stash's protocol. Every failure, including a bug, ends as
``{"output": null, "error": "..."}`` with the details in the log; nothing else ever reaches stdout.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from ..errors import PluginError
from ..redact import redact, register_secret
from ..settings import parse_args
from ..tasks import run, task_for
from .reporter import StashReporter
from .session import task_context

DEFAULT_PORT = 9999


def base_url(connection: dict[str, Any]) -> str:
    """Stash passes its bind address; 0.0.0.0, :: or nothing mean "this machine"."""
    host = str(connection.get("Host") or "").strip()
    if host in ("", "0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    scheme = str(connection.get("Scheme") or "http")
    port = connection.get("Port") or DEFAULT_PORT
    return f"{scheme}://{host}:{port}"


def session_cookie(connection: dict[str, Any]) -> str | None:
    cookie = connection.get("SessionCookie")
    if isinstance(cookie, dict) and cookie.get("Value"):
        return str(cookie["Value"])
    return None


def state_dir(connection: dict[str, Any]) -> Path:
    """``<plugin folder>/data`` (kept across upgrades), or ``STASH_COMPREFACE_STATE_DIR`` when set."""
    override = os.environ.get("STASH_COMPREFACE_STATE_DIR")
    if override:
        return Path(override)
    plugin_dir = connection.get("PluginDir")
    root = Path(plugin_dir) if plugin_dir else Path(__file__).resolve().parents[2]
    return root / "data"


def _emit(output: Any, error: str | None) -> None:
    try:
        sys.stdout.write(json.dumps({"output": output, "error": error}))
        sys.stdout.flush()
    except BrokenPipeError:
        pass


def main() -> int:
    reporter = StashReporter()
    try:
        payload = json.loads(sys.stdin.read() or "{}")
    except ValueError as exc:
        message = f"Plugin input from Stash is not JSON: {exc}"
        reporter.log("error", message)
        _emit(None, message)
        return 0
    connection = payload.get("server_connection") or {}
    raw_args = payload.get("args") or {}
    register_secret(session_cookie(connection))
    try:
        args = parse_args(raw_args)
        task_for(args.mode)
        reporter.log("debug", f"compreface plugin: mode {args.mode}")
        with task_context(stash_url=base_url(connection), reporter=reporter, state_dir=state_dir(connection),
                          session_cookie=session_cookie(connection)) as ctx:
            output = run(args.mode, ctx, args)
        _emit(output, None)
    except PluginError as exc:
        reporter.log("error", str(exc))
        _emit(None, str(exc))
    except Exception as exc:
        reporter.log("error", traceback.format_exc())
        _emit(None, redact(f"{type(exc).__name__}: {exc}"))
    return 0
