"""The Stash raw-plugin entry: read stdin once, run the task, print exactly one JSON object.

Logs and progress go to stderr in Stash's protocol. Every failure, including a bug, ends as
``{"output": null, "error": "..."}`` with the details in the log; nothing else ever reaches stdout.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any

from .. import hookqueue
from ..errors import FatalError, PluginError
from ..redact import redact, register_secret
from ..settings import parse_args
from ..tasks import run, task_for
from .hook_cache import HookCache
from .reporter import StashReporter
from .session import task_context

DEFAULT_PORT = 9999


class InputError(FatalError):
    """Stash's stdin is not the plugin input it documents; the message names every bad field."""


def _kind(value: Any) -> str:
    """A JSON type name for messages: never the value itself, which may be a session cookie."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else type(value).__name__


def _shown(value: Any) -> str:
    """Show a non-secret value (Port, Scheme), short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _port(value: Any, problems: list[str]) -> int:
    if value is None or value == "":
        return DEFAULT_PORT
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number is None or not 1 <= number <= 65535:
        problems.append(f"server_connection.Port must be a port number 1..65535, got {_shown(value)}")
        return DEFAULT_PORT
    return number


def _cookie(value: Any, problems: list[str]) -> dict[str, str] | None:
    """Only Name and Value matter (Go's http.Cookie carries a dozen zero-valued attributes)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.append(f"server_connection.SessionCookie must be an object with Name and Value, got {_kind(value)}")
        return None
    name, cookie_value = value.get("Name"), value.get("Value")
    bad = False
    if name is not None and not isinstance(name, str):
        problems.append(f"server_connection.SessionCookie.Name must be a string, got {_kind(name)}")
        bad = True
    if cookie_value is not None and not isinstance(cookie_value, str):
        problems.append(f"server_connection.SessionCookie.Value must be a string, got {_kind(cookie_value)}")
        bad = True
    if bad or not cookie_value:
        return None
    return {"Name": name or "session", "Value": cookie_value}


def check_connection(value: Any) -> tuple[dict[str, Any], list[str]]:
    """``server_connection`` with checked types and defaults filled in, plus the problems found."""
    problems: list[str] = []
    if value is None:
        value = {}
    if not isinstance(value, dict):
        return {}, [f"server_connection must be an object, got {_kind(value)}"]
    connection: dict[str, Any] = {}
    scheme = value.get("Scheme")
    if scheme is None or scheme == "":
        connection["Scheme"] = "http"
    elif isinstance(scheme, str) and scheme.strip().lower() in ("http", "https"):
        connection["Scheme"] = scheme.strip().lower()
    else:
        shown = _shown(scheme) if isinstance(scheme, str) else _kind(scheme)
        problems.append(f'server_connection.Scheme must be "http" or "https", got {shown}')
    for key in ("Host", "PluginDir", "Dir"):
        field = value.get(key)
        if field is not None and not isinstance(field, str):
            problems.append(f"server_connection.{key} must be a string, got {_kind(field)}")
        elif field:
            connection[key] = field
    connection["Port"] = _port(value.get("Port"), problems)
    connection["SessionCookie"] = _cookie(value.get("SessionCookie"), problems)
    return connection, problems


def read_input(raw: bytes | str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Parse Stash's stdin into ``(server_connection, args)``; raises :class:`InputError` naming each bad field.

    Stash always sends an object with both keys, but a hand-made ``runPluginOperation``, another tool or a
    future Stash may not: say which field is wrong instead of failing somewhere later.
    """
    if not raw.strip():
        return check_connection(None)[0], {}
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise InputError(f"Plugin input from Stash is not JSON: {exc}") from None
    except RecursionError:
        raise InputError("Plugin input from Stash is not usable JSON: nested too deeply") from None
    if not isinstance(payload, dict):
        raise InputError(f"Plugin input from Stash must be a JSON object, got {_kind(payload)}")
    connection, problems = check_connection(payload.get("server_connection"))
    args = payload.get("args")
    if args is None:
        args = {}
    elif not isinstance(args, dict):
        problems.append(f"args must be an object, got {_kind(args)}")
    if problems:
        raise InputError("Plugin input from Stash is unusable: " + "; ".join(problems))
    return connection, args


def base_url(connection: dict[str, Any]) -> str:
    """Stash passes its bind address; 0.0.0.0, :: or nothing mean "this machine" (the hooks' address too)."""
    return hookqueue.stash_base_url(connection)


def session_cookie(connection: dict[str, Any]) -> str | None:
    cookie = connection.get("SessionCookie")
    if isinstance(cookie, dict) and cookie.get("Value"):
        return str(cookie["Value"])
    return None


def state_dir(connection: dict[str, Any]) -> Path:
    """``<plugin folder>/data``: kept across plugin upgrades. The ``stateDir`` setting overrides it."""
    return Path(hookqueue.plugin_folder(connection)) / hookqueue.DATA_DIR


def _emit(output: Any, error: str | None) -> None:
    try:
        sys.stdout.write(json.dumps({"output": output, "error": error}))
        sys.stdout.flush()
    except BrokenPipeError:
        pass


def _read_stdin() -> bytes | str:
    buffer = getattr(sys.stdin, "buffer", None)
    return buffer.read() if buffer is not None else sys.stdin.read()


def main() -> int:
    reporter = StashReporter()
    try:
        connection, raw_args = read_input(_read_stdin())
    except (InputError, OSError) as exc:
        message = str(exc) if isinstance(exc, InputError) else f"Cannot read the plugin input from Stash: {exc}"
        reporter.log("error", message)
        _emit(None, message)
        return 0
    register_secret(session_cookie(connection))
    try:
        args = parse_args(raw_args)
        writes = task_for(args.mode).writes_with(args)
        reporter.log("debug", f"compreface plugin: mode {args.mode}")
        hooks = HookCache.prepare(connection)  # before the settings are read
        with task_context(stash_url=base_url(connection), reporter=reporter, state_dir=state_dir(connection),
                          session_cookie=session_cookie(connection), take_lock=writes) as ctx:
            if not ctx.settings.dry_run:  # a dry run writes nothing, this copy of the settings included
                hooks.store(ctx.settings, reporter.log)
            output = run(args.mode, ctx, args)
        _emit(output, None)
    except PluginError as exc:
        reporter.log("error", str(exc))
        _emit(None, str(exc))
    except Exception as exc:
        reporter.log("error", traceback.format_exc())
        _emit(None, redact(f"{type(exc).__name__}: {exc}"))
    return 0
