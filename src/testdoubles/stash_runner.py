"""Run a plugin folder the way Stash's raw plugin runner does, for end-to-end tests.

Mirrors pkg/plugin (config.go getExecCommand, raw.go, args.go), pkg/python and pkg/logger/plugin.go at
the Stash revision in stash-platform.md: the argv and PYTHONPATH Stash builds, the stdin JSON in Go's
encoding (the session cookie as a full ``net/http.Cookie``), defaultArgs as yaml.v2 strings, the
stderr log protocol with its 64 KiB scanner limit, SIGKILL as the only way to stop, and how stdout
and the exit status become the task's ``output``/``error``. A test that passes here sees what a user's
Stash would see.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# bufio.Scanner's default maximum token size: a line (without "\n") of this many bytes stops it.
SCANNER_MAX_TOKEN = 64 * 1024
LEVELS = {"t": "trace", "d": "debug", "i": "info", "w": "warning", "e": "error", "p": "progress"}
# errLog values Stash knows (pkg/logger/plugin.go); anything else means error, "none" drops the line.
ERRLOG_LEVELS = {"trace", "debug", "info", "warning", "error", "progress", "none"}
# Go's os/exec error text for a process ended by a signal ("signal: killed").
_GO_SIGNAL_NAMES = {
    signal.SIGKILL: "killed",
    signal.SIGTERM: "terminated",
    signal.SIGINT: "interrupt",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGPIPE: "broken pipe",
    signal.SIGHUP: "hangup",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGQUIT: "quit",
}
DEFAULT_COOKIE = "MTczMjQ2MjQwMHxEdi1CQkFFQ180SUFBUkFCRUFBQV8tMF9nZ0FCQm5OMGNtbHVad3dJQUFaMWMyVnlTVVE9fGZha2U="


@dataclass
class PluginRun:
    """What Stash would have seen of one plugin run."""

    output: Any
    error: str | None
    logs: list[tuple[str, str]]
    progress: list[float]
    returncode: int
    killed: bool
    scanner_overflow: bool
    stdout: str
    argv: list[str]
    stdin_json: str
    unprefixed: list[str] = field(default_factory=list)  # stderr lines without a valid level prefix
    duration_s: float = 0.0

    def messages(self, level: str | None = None) -> list[str]:
        return [message for lv, message in self.logs if level is None or lv == level]


# ---------------------------------------------------------------------------------------------
# Manifest


def find_manifest(plugin_dir: Path) -> Path:
    manifests = sorted(Path(plugin_dir).glob("*.yml"))
    if len(manifests) != 1:
        raise ValueError(f"expected exactly one manifest in {plugin_dir}, found {manifests}")
    return manifests[0]


def _node_get(mapping: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(mapping, yaml.MappingNode):
        return None
    for key_node, value_node in mapping.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return value_node
    return None


def _go_string(node: yaml.Node) -> str:
    """yaml.v2 decoding a scalar into a Go string: its raw text, or "" for null."""
    if not isinstance(node, yaml.ScalarNode):
        raise TypeError(f"defaultArgs values must be scalars for map[string]string, got {node.id}")
    if node.tag == "tag:yaml.org,2002:null":
        return ""
    return node.value


@functools.lru_cache(maxsize=8)
def _composed(manifest_text: str) -> yaml.Node | None:
    """The manifest's node tree, parsed once per text (tests ask for defaultArgs on every run)."""
    return yaml.compose(manifest_text)


@functools.lru_cache(maxsize=8)
def _loaded(manifest_text: str) -> dict[str, Any]:
    """The manifest as data, parsed once per text; callers only read it."""
    return yaml.safe_load(manifest_text) or {}


def default_args(manifest_text: str, task: str) -> dict[str, str]:
    """The task's defaultArgs as Stash's ``map[string]string`` holds them (``0`` -> "0", null -> "")."""
    root = _composed(manifest_text)
    tasks = _node_get(root, "tasks")
    for task_node in tasks.value if isinstance(tasks, yaml.SequenceNode) else []:
        name = _node_get(task_node, "name")
        if isinstance(name, yaml.ScalarNode) and name.value == task:
            args = _node_get(task_node, "defaultArgs")
            if args is None or (isinstance(args, yaml.ScalarNode) and args.tag.endswith(":null")):
                return {}
            return {key.value: _go_string(value) for key, value in args.value}
    raise KeyError(f"no task named {task!r} in the manifest")


def listed_task(plugin_dir: Path, mode: str) -> str | None:
    """The task name whose defaultArgs select ``mode``; None when Settings > Tasks does not list the mode
    (an operation, which the UI plugin runs with runPluginOperation)."""
    manifest = _loaded(find_manifest(plugin_dir).read_text(encoding="utf-8"))
    for task in manifest.get("tasks") or []:
        if str((task.get("defaultArgs") or {}).get("mode")) == mode:
            return str(task["name"])
    return None


def task_for_mode(plugin_dir: Path, mode: str) -> str:
    """The task name whose defaultArgs select ``mode`` (tests think in modes, Stash in task names)."""
    task = listed_task(plugin_dir, mode)
    if task is None:
        raise KeyError(f"no task with mode {mode!r}")
    return task


def mode_call(plugin_dir: Path, mode: str, args: dict[str, Any] | None = None) -> tuple[str | None, dict[str, Any]]:
    """How Stash's UI starts ``mode``: ``(task name, args)`` for runPluginTask when the manifest lists it (the
    defaultArgs give the mode), else ``(None, args with the mode)`` for runPluginOperation."""
    task = listed_task(plugin_dir, mode)
    return (task, dict(args or {})) if task is not None else (None, {"mode": mode, **(args or {})})


def build_argv(manifest: dict[str, Any], manifest_path: Path, task: dict[str, Any] | None,
               python: str) -> tuple[list[str], bool]:
    """config.go getExecCommand + raw.go: returns (argv, is_python_command)."""
    argv = [str(a) for a in manifest.get("exec") or []]
    if task is not None:
        argv += [str(a) for a in task.get("execArgs") or []]
    if not argv:
        raise ValueError("manifest has no exec")
    plugin_dir = str(manifest_path.parent)
    is_python = argv[0] in ("python", "python3")
    if not is_python and shutil.which(argv[0]) is None:
        argv[0] = os.path.join(plugin_dir, argv[0])
    argv = [argv[0]] + [a.replace("{pluginDir}", plugin_dir) for a in argv[1:]]
    if is_python:
        argv[0] = python  # python.Resolve: Stash's python_path setting, else python3/python on PATH
    return argv, is_python


# ---------------------------------------------------------------------------------------------
# stdin


def go_cookie(value: str) -> dict[str, Any]:
    """net/http.Cookie as encoding/json writes it (Go 1.24 field order), as MakePluginCookie fills it."""
    return {
        "Name": "session",
        "Value": value,
        "Quoted": False,
        "Path": "",
        "Domain": "",
        "Expires": "0001-01-01T00:00:00Z",
        "RawExpires": "",
        "MaxAge": 0,
        "Secure": False,
        "HttpOnly": False,
        "SameSite": 0,
        "Partitioned": False,
        "Raw": "",
        "Unparsed": None,
    }


def go_json(value: Any) -> str:
    """encoding/json.Marshal: compact, UTF-8 kept, HTML characters and U+2028/9 escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text


def _sorted(item: Any) -> Any:
    """Go marshals map keys sorted."""
    if isinstance(item, dict):
        return {str(k): _sorted(item[k]) for k in sorted(item, key=str)}
    if isinstance(item, list):
        return [_sorted(v) for v in item]
    return item


def build_stdin(*, host: str, port: int, cookie: str | None, config_dir: Path, plugin_dir: Path,
                args: dict[str, Any], scheme: str = "http") -> str:
    """PluginInput: struct fields in declaration order, the args map with sorted keys."""
    payload = {
        "server_connection": {
            "Scheme": scheme,
            "Host": host,
            "Port": port,
            "SessionCookie": go_cookie(cookie) if cookie is not None else None,
            "Dir": str(config_dir),
            "PluginDir": str(plugin_dir),
        },
        "args": _sorted(args),
    }
    return go_json(payload)


# ---------------------------------------------------------------------------------------------
# stderr and stdout


class _StderrReader:
    """pkg/logger/plugin.go: a bufio.Scanner over stderr, one log entry per line."""

    def __init__(self, stream: Any, errlog: str, proc: subprocess.Popen[bytes],
                 kill_at_progress: int | None) -> None:
        self.stream = stream
        self.errlog = errlog
        self.proc = proc
        self.kill_at_progress = kill_at_progress
        self.logs: list[tuple[str, str]] = []
        self.progress: list[float] = []
        self.unprefixed: list[str] = []
        self.overflow = False
        self.killed = False

    def run(self) -> None:
        pending = b""
        try:
            while True:
                chunk = self.stream.read1(65536) if hasattr(self.stream, "read1") else self.stream.read(65536)
                if not chunk:
                    break
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    if len(line) >= SCANNER_MAX_TOKEN:
                        self._overflow()
                        return
                    self._line(line)
                if len(pending) >= SCANNER_MAX_TOKEN:
                    self._overflow()
                    return
            if pending:
                self._line(pending)
        finally:
            if not self.stream.closed:
                self.stream.close()

    def _overflow(self) -> None:
        # The scanner stops with ErrTooLong and Stash closes the pipe: later writes get EPIPE.
        self.overflow = True
        self.stream.close()

    def _line(self, raw: bytes) -> None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not raw:
            return
        text = raw.decode("utf-8", "replace")
        if len(raw) >= 4 and raw[0] == 1 and raw[2] == 2 and raw[1] == 0:
            return  # the "none" level has char 0: recognized, then logged nowhere
        if len(raw) >= 4 and raw[0] == 1 and raw[2] == 2 and chr(raw[1]) in LEVELS:
            level = LEVELS[chr(raw[1])]
            message = raw[3:].decode("utf-8", "replace").strip()
        else:
            self.unprefixed.append(text)
            if self.errlog == "none":
                return
            level, message = self.errlog, text
        if level == "progress":
            try:
                value = float(message)
            except ValueError:
                self.logs.append(("error", f"error parsing progress value {message!r}"))
                return
            self.progress.append(value)
            if self.kill_at_progress is not None and len(self.progress) == self.kill_at_progress:
                self._kill()
            return
        self.logs.append((level, message))

    def _kill(self) -> None:
        # raw.go Stop(): os.Process.Kill, SIGKILL to the child only, no process group.
        if self.proc.poll() is None:
            self.proc.kill()
            self.killed = True


def decode_output(stdout: str) -> tuple[Any, str | None]:
    """raw.go getOutput: json.Unmarshal into PluginOutput, else the whole stdout is the output."""
    try:
        decoded = json.loads(stdout)
    except ValueError:
        return stdout, None
    if decoded is None:
        return None, None
    if not isinstance(decoded, dict):
        return stdout, None  # Go cannot unmarshal an array/string/number into the struct
    fields: dict[str, Any] = {}
    for key, value in decoded.items():  # Go matches field names case-insensitively, exact match wins
        lowered = key.lower()
        if lowered in ("output", "error") and (key == lowered or lowered not in decoded):
            fields[lowered] = value
    error = fields.get("error")
    if error is not None and not isinstance(error, str):
        return stdout, None  # type mismatch: json.Unmarshal fails
    return fields.get("output"), error


def _exit_error(returncode: int) -> str:
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode)
        except ValueError:
            return f"signal: {-returncode}"
        return f"signal: {_GO_SIGNAL_NAMES.get(sig, sig.name)}"
    return f"exit status {returncode}"


# ---------------------------------------------------------------------------------------------
# The run


def run_plugin(
    plugin_dir: Path,
    *,
    task: str | None = None,
    args: dict[str, Any] | None = None,
    port: int,
    host: str = "0.0.0.0",
    cookie: str | None = DEFAULT_COOKIE,
    config_dir: Path | None = None,
    kill_at_progress: int | None = None,
    timeout: float = 300,
    python: str = sys.executable,
    env: dict[str, str | None] | None = None,
) -> PluginRun:
    """Run the plugin once like Stash: ``task`` set = runPluginTask, None = runPluginOperation."""
    plugin_dir = Path(plugin_dir).resolve()
    manifest_path = find_manifest(plugin_dir)
    manifest_text = manifest_path.read_text(encoding="utf-8")
    manifest = _loaded(manifest_text)  # read only: parsed once per text (a scan starts hundreds of hooks)
    task_config = None
    merged: dict[str, Any] = dict(args or {})
    if task is not None:
        task_config = next((t for t in manifest.get("tasks") or [] if t.get("name") == task), None)
        if task_config is None:
            raise KeyError(f"no task named {task!r} in {manifest_path}")
        for key, value in default_args(manifest_text, task).items():  # args.go: only missing keys
            merged.setdefault(key, value)
    argv, is_python = build_argv(manifest, manifest_path, task_config, python)
    errlog = str(manifest.get("errLog") or "error")
    if errlog not in ERRLOG_LEVELS:
        errlog = "error"

    child_env: dict[str, str] = dict(os.environ)
    for key, override in (env or {}).items():
        if override is None:
            child_env.pop(key, None)
        else:
            child_env[key] = override
    if is_python:  # pkg/python/env.go AppendPythonPath: existing entries first
        extra = str(plugin_dir.parent)
        existing = child_env.get("PYTHONPATH")
        child_env["PYTHONPATH"] = f"{existing}{os.pathsep}{extra}" if existing else extra

    with tempfile.TemporaryDirectory(prefix="stash-cwd-") as cwd:
        stdin_json = build_stdin(host=host, port=port, cookie=cookie,
                                 config_dir=Path(config_dir) if config_dir else Path(cwd),
                                 plugin_dir=plugin_dir, args=merged)
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=cwd, env=child_env)
        reader = _StderrReader(proc.stderr, errlog, proc, kill_at_progress)
        stdout_chunks: list[bytes] = []

        def write_stdin() -> None:  # a goroutine in raw.go; the plugin may never read it
            try:
                assert proc.stdin is not None
                proc.stdin.write(stdin_json.encode("utf-8"))
                proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass

        def read_stdout() -> None:
            assert proc.stdout is not None
            stdout_chunks.append(proc.stdout.read())

        threads = [threading.Thread(target=fn, daemon=True) for fn in (write_stdin, read_stdout, reader.run)]
        for thread in threads:
            thread.start()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            for thread in threads:
                thread.join(5)
            raise TimeoutError(
                f"plugin did not finish within {timeout} s; last log lines: {reader.logs[-10:]}"
            ) from None
        for thread in threads:
            thread.join(30)
        duration = time.monotonic() - started

    stdout = b"".join(stdout_chunks).decode("utf-8", "replace")
    output, error = decode_output(stdout)
    if proc.returncode != 0 and error is None:
        error = _exit_error(proc.returncode)
    return PluginRun(
        output=output,
        error=error,
        logs=reader.logs,
        progress=reader.progress,
        returncode=proc.returncode,
        killed=reader.killed,
        scanner_overflow=reader.overflow,
        stdout=stdout,
        argv=argv,
        stdin_json=stdin_json,
        unprefixed=reader.unprefixed,
        duration_s=duration,
    )
