"""The scan hooks' queue and settings cache: one definition, shared by the bootstrap and the plugin.

Stash starts the plugin once per new image or scene during a scan (``Image.Create.Post``,
``Scene.Create.Post``) and waits for each. The bootstrap (``plugin/compreface.py``) answers those hooks
before any venv exists, with whatever Python Stash found, so this module uses the standard library only and
imports nothing else of the package but ``oslock`` (``stash_compreface/__init__.py`` imports nothing): the bootstrap
puts the plugin folder on ``sys.path`` and imports it, and the plugin (``tasks.recognize_queued``,
``runtime.hook_cache``, ``tasks.state``, ``settings``; ``stash.models`` for the item encoding) imports the same
file. It imports at its top only what a hook needs (``python -X importtime``), and is written for any Python 3
a Stash host may run it with.

What lives here:

* **The state folder** (:func:`choose_state_folder`): the ``stateDir`` setting; else ``<pluginDir>/data``
  when it is writable (:func:`folder_is_writable`); else the per-user folder of this Stash
  (:func:`user_state_dir`). ``tasks.state.locate_state`` and the hooks both choose with it, so the queue is
  written where the task reads it.
* **The queue** (:class:`HookQueue`, ``<state folder>/hook-queue/``): a hook appends ``image:<id>`` or
  ``scene:<id>`` (:func:`queue_entry`, read by :func:`parse_entry`: the plugin's one encoding of an item, which
  ``stash.models.ItemRef`` writes and reads through them) to ``queue.txt`` under an OS file lock
  (``queue.lock``: flock, msvcrt on Windows; the OS drops it with a killed process), and the first hook that
  finds no pending task writes ``task-pending.json`` under the same lock and starts the "Recognize Queued
  Items" task. The task takes the queue (renamed to ``taken-*.txt``) and removes the marker in one locked
  step, so an item queued while it runs starts the next task instead of being lost; a taken file is deleted
  only once processed, so a killed run leaves it for the next. :meth:`HookQueue.peek` reads the queue without
  taking it (a dry run).
* **The hooks' settings cache** (``<pluginDir>/data/hook-settings.json``; a read-only plugin folder: the
  per-user state folder). A hook needs two settings, ``autoRecognize`` and ``stateDir``
  (:func:`hook_view`). The file holds them (``version``, ``autoRecognize``, ``stateDir``, ``writtenAt``) and
  what they are valid for: ``stash`` (Stash's GraphQL address), ``configDir`` (``server_connection.Dir``) and
  ``configStamp`` (``[mtime_ns, size, inode]`` of ``<Dir>/config.yml``). Stash rewrites config.yml whenever
  plugin settings are saved, so the cache is trusted while that stamp is unchanged and the file is at most
  HOOK_CACHE_MAX_AGE_S old; without a config.yml, HOOK_CACHE_BLIND_MAX_AGE_S (:func:`read_cache`).
  Otherwise the hook asks Stash and rewrites the file (:func:`cached_view`); every task the plugin runs
  rewrites it too, with the settings it has just read (``runtime.hook_cache``). A cache that is missing,
  unreadable, corrupt or of another Stash is ignored; one that cannot be written only costs a request.
* **Reading settings as the tasks do**: :func:`read_bool` (``settings.parse_bool`` is built on it) and
  :func:`read_folder` (``settings``' folder paths), and Stash's address from ``server_connection``
  (:func:`stash_base_url`, also ``runtime.plugin.base_url``).
"""

from __future__ import annotations

import contextlib
import json
import os
import time

from .oslock import file_lock

# typing is not imported at run time: it costs a hook a few milliseconds.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from typing import Any, TypeVar

    Folder = TypeVar("Folder")  # str or Path: what the caller passes in, it gets back

PLUGIN_ID = "compreface"  # the manifest's file name is the plugin id

# -- the state folder
APP_DIR = "stash-compreface"  # the per-user folder's name under XDG_DATA_HOME / LOCALAPPDATA
STATE_FILE = "state.sqlite3"
DATA_DIR = "data"  # <pluginDir>/data: the default state folder, kept across plugin upgrades
DEFAULT_STASH_PORT = 9999

# -- the queue, in <state folder>/hook-queue
QUEUE_DIR_NAME = "hook-queue"
QUEUE_FILE = "queue.txt"
QUEUE_LOCK_FILE = "queue.lock"
PENDING_FILE = "task-pending.json"
TAKEN_PREFIX = "taken-"
ITEM_KINDS = ("image", "scene")
# A pending marker older than this is taken to belong to a task Stash lost (a cancelled queue): the next
# hook starts a new one. A second task for one queue is harmless (it finds the queue empty). A marker
# whose Stash process is gone (Stash restarted: its queued tasks with it) is taken over at once.
PENDING_STALE_S = 6 * 60 * 60

# -- the hooks' settings cache
HOOK_CACHE_FILE = "hook-settings.json"
HOOK_CACHE_VERSION = 1
HOOK_CACHE_MAX_AGE_S = 10 * 60
HOOK_CACHE_BLIND_MAX_AGE_S = 60  # when Stash's config.yml cannot be seen, so changes cannot be noticed
STASH_CONFIG_FILE = "config.yml"  # in server_connection.Dir; Stash rewrites it whenever settings are saved

# -- settings as Stash stores them (strings from the UI, typed from the API)
TRUE_WORDS = frozenset({"true", "1", "yes", "on", "y", "t"})
FALSE_WORDS = frozenset({"false", "0", "no", "off", "n", "f", ""})


# ---------------------------------------------------------------------------------------------------------------
# Settings as the tasks read them


def read_bool(value: object) -> bool | None:
    """A boolean setting or argument: True, False, or None when ``value`` is not one (then the tasks refuse it,
    with a message, and a hook counts it as off)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    return None


def read_folder(value: str) -> str | None:
    """An absolute folder path, ``~`` expanded and normalised; None for a relative or unusable one (a relative
    folder would depend on Stash's working directory)."""
    path = os.path.expanduser(value.strip())
    if "\x00" in path or not os.path.isabs(path):
        return None
    return os.path.normpath(path)


def hook_view(settings: Mapping[str, Any]) -> dict[str, Any]:
    """What a hook needs of the saved settings, read as the tasks read them (``settings.parse_settings``):
    ``autoRecognize`` a bool (what the tasks would refuse counts as off), ``stateDir`` a folder or None."""
    state = settings.get("stateDir")
    folder = read_folder(state) if isinstance(state, str) and state.strip() else None
    return {"autoRecognize": read_bool(settings.get("autoRecognize")) is True, "stateDir": folder}


# ---------------------------------------------------------------------------------------------------------------
# Stash and the state folder


def stash_base_url(connection: Mapping[str, Any]) -> str:
    """Stash's address from ``server_connection``: the bind address 0.0.0.0 (or ::, empty) means loopback."""
    host = str(connection.get("Host") or "").strip()
    if host in ("", "0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    scheme = "https" if str(connection.get("Scheme") or "http").strip().lower() == "https" else "http"
    return f"{scheme}://{host}:{int(connection.get('Port') or DEFAULT_STASH_PORT)}"


def stash_graphql_url(connection: Mapping[str, Any]) -> str:
    return stash_base_url(connection) + "/graphql"


def plugin_folder(connection: Mapping[str, Any]) -> str:
    """The plugin folder Stash names (``PluginDir``), else the one this file was copied into."""
    folder = connection.get("PluginDir")
    if isinstance(folder, str) and folder:
        return folder
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def instance_name(stash_url: str) -> str:
    """A folder name for one Stash server: its host and port, e.g. ``127_0_0_1_9999``."""
    safe = "".join(c if c.isalnum() else "_" for c in stash_url.split("://", 1)[-1]).strip("_")
    return safe or "default"


def user_state_dir(stash_url: str, *, environ: Mapping[str, str] | None = None, windows: bool | None = None) -> str:
    """The per-user state folder, for a read-only plugin folder: ``%LOCALAPPDATA%\\stash-compreface\\<instance>``
    on Windows, else ``$XDG_DATA_HOME/stash-compreface/<instance>`` (default ``~/.local/share``)."""
    env = os.environ if environ is None else environ
    if windows is None:
        windows = os.name == "nt"
    if windows:
        base = env.get("LOCALAPPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Local")
    else:
        base = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, APP_DIR, instance_name(stash_url))


def folder_is_writable(folder: str | os.PathLike[str]) -> bool:
    """Can the state be created and written in ``folder``? Creates the folder if it can.

    Probes with a real file: ``os.access`` says yes to root on a chmod'ed folder and cannot see every read-only
    mount; an existing state file must open for writing too.
    """
    folder = os.fspath(folder)
    probe = os.path.join(folder, f".write-test-{os.getpid()}-{time.time_ns()}")
    try:
        os.makedirs(folder, exist_ok=True)
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
        existing = os.path.join(folder, STATE_FILE)
        if os.path.exists(existing):
            with open(existing, "r+b"):
                pass
    except OSError:
        return False
    return True


def choose_state_folder(configured: Folder | None, preferred: Folder | None, fallback: Folder,
                        writable: Callable[[Folder], bool]) -> tuple[Folder, str]:
    """The state folder and why: ``configured`` (the stateDir setting) when set, "configured"; else
    ``preferred`` (the plugin folder's ``data/``) when ``writable``, "preferred"; else the per-user
    ``fallback``, "fallback". Whether a configured or fallback folder can be written is the caller's to judge:
    the tasks stop with a message, a hook's write fails."""
    if configured:
        return configured, "configured"
    if preferred is not None and writable(preferred):
        return preferred, "preferred"
    return fallback, "fallback"


def hook_state_folder(connection: Mapping[str, Any], view: Mapping[str, Any]) -> str:
    """The state folder a task started from this connection uses, for :func:`hook_view`'s settings."""
    folder, _ = choose_state_folder(view.get("stateDir"), os.path.join(plugin_folder(connection), DATA_DIR),
                                    user_state_dir(stash_base_url(connection)), folder_is_writable)
    return folder


# ---------------------------------------------------------------------------------------------------------------
# The queue


def process_start(pid: int) -> str | None:
    """When process ``pid`` started (``/proc/<pid>/stat``'s start time), "" when there is no such process, None
    when this system cannot tell (no /proc: macOS, Windows), so a pid is never mistaken for the same process
    after a reboot or a container restart reused it."""
    if not os.path.isdir("/proc/self"):
        return None
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="utf-8", errors="replace") as handle:
            fields = handle.read().rpartition(")")[2].split()
    except (OSError, ValueError):
        return ""
    return fields[19] if len(fields) > 19 else None


def queue_entry(kind: str, item_id: str | int) -> str:
    """One queue line: ``image:12`` or ``scene:7``. It is how the plugin names an item everywhere
    (``stash.models.ItemRef``, in the state and the journal too): the bootstrap writes it with bare Python,
    so the encoding lives here."""
    return f"{kind}:{item_id}"


def parse_entry(text: str) -> tuple[str, str] | None:
    """``(kind, id)`` of a :func:`queue_entry` (``image:12``: ``("image", "12")``); None for anything else."""
    kind, sep, raw = text.strip().partition(":")
    if sep and kind.isascii() and kind.isalpha() and raw.isascii() and raw.isdigit():
        return kind, raw
    return None


def read_entries(paths: list[str]) -> tuple[list[int], list[int]]:
    """Distinct image and scene ids of queue files, in queue order; lines that are no entry are skipped."""
    found: dict[str, dict[int, None]] = {kind: {} for kind in ITEM_KINDS}
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                lines = handle.read().splitlines()
        except FileNotFoundError:  # taken and processed by another run meanwhile
            continue
        for line in lines:
            entry = parse_entry(line)
            if entry is not None and entry[0] in found:
                found[entry[0]][int(entry[1])] = None
    return list(found["image"]), list(found["scene"])


class HookQueue:
    """The queue in one folder (``<state folder>/hook-queue``): the hooks' end and the task's end."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = os.fspath(folder)

    @classmethod
    def of_state_folder(cls, state_folder: str | os.PathLike[str]) -> HookQueue:
        return cls(os.path.join(os.fspath(state_folder), QUEUE_DIR_NAME))

    def _path(self, name: str) -> str:
        return os.path.join(self.folder, name)

    def lock(self, *, create: bool = True) -> contextlib.AbstractContextManager[None]:
        return file_lock(self._path(QUEUE_LOCK_FILE), create=create)

    # -- the hooks' end

    def enqueue(self, entry: str, *, now: float) -> bool:
        """Append ``entry``; True when this call claimed the pending marker (it must start the task).

        Both happen under the queue lock, so of many hooks running at once exactly one claims the marker, and
        a task taking the queue (which removes the marker in the same locked step) never loses an entry.
        """
        with self.lock():
            with open(self._path(QUEUE_FILE), "a", encoding="utf-8") as handle:
                handle.write(entry + "\n")
            since = self._pending_since()
            if since is not None and now - since < PENDING_STALE_S:
                return False
            tmp = self._path(f"{PENDING_FILE}.{os.getpid()}.tmp")
            stash = os.getppid()  # a hook is Stash's child: the task was queued in this Stash process
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump({"time": now, "pid": os.getpid(), "stash": [stash, process_start(stash)]}, handle)
            os.replace(tmp, self._path(PENDING_FILE))
            return True

    def release_pending(self) -> None:
        """Forget the marker after a failed start, so the next hook tries again."""
        with self.lock(), contextlib.suppress(FileNotFoundError):
            os.remove(self._path(PENDING_FILE))

    def _pending_since(self) -> float | None:
        """When the pending task was started; 0.0 (very old) when the marker is unreadable or the Stash process
        that queued the task is gone (restarted: Stash forgets its queue), so the next hook takes over."""
        try:
            with open(self._path(PENDING_FILE), encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError):
            return 0.0  # unreadable: treat as very old
        if not isinstance(data, dict):
            return 0.0
        stash = data.get("stash")
        if isinstance(stash, list) and len(stash) == 2 and isinstance(stash[0], int) and stash[1] is not None:
            now_started = process_start(stash[0])
            if now_started is not None and now_started != stash[1]:
                return 0.0  # that Stash process is gone (or its pid reused): its queue went with it
        started = data.get("time")
        return float(started) if isinstance(started, (int, float)) else 0.0

    # -- the task's end

    def take(self) -> list[str]:
        """Move the queue aside and clear the pending marker in one locked step; every taken file, oldest first.

        Taken files of an earlier run that was killed are included, so nothing queued is ever dropped.
        """
        with self.lock():
            queue = self._path(QUEUE_FILE)
            self._check_file(queue)
            if os.path.exists(queue):
                os.rename(queue, self._path(f"{TAKEN_PREFIX}{time.time_ns()}-{os.getpid()}.txt"))
            with contextlib.suppress(FileNotFoundError):
                os.remove(self._path(PENDING_FILE))
        return self._taken()

    def peek(self) -> tuple[list[int], list[int]]:
        """The image and scene ids a :meth:`take` would get now, without taking them or writing anything:
        the queue stays, the marker too (a dry run; whether a run has work)."""
        with self.lock(create=False):
            self._check_file(self._path(QUEUE_FILE))
            return read_entries([*self._taken(), self._path(QUEUE_FILE)])

    @staticmethod
    def _check_file(path: str) -> None:
        """A queue that is something else than a file (a folder someone made) is an error saying so."""
        if os.path.exists(path) and not os.path.isfile(path):
            raise NotADirectoryError(f"the hook queue {path} is not a file: remove it (the hooks write it anew)")

    @staticmethod
    def read(taken: list[str]) -> tuple[list[int], list[int]]:
        """The distinct image and scene ids of taken files (:func:`read_entries`)."""
        return read_entries(taken)

    def forget(self, taken: list[str]) -> None:
        """Delete taken files once their items are processed."""
        for path in taken:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)

    def _taken(self) -> list[str]:
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return []
        return sorted(self._path(n) for n in names
                      if n.startswith(TAKEN_PREFIX) and n.endswith(".txt") and os.path.isfile(self._path(n)))


# ---------------------------------------------------------------------------------------------------------------
# The hooks' settings cache


def cache_paths(connection: Mapping[str, Any]) -> Iterator[str]:
    """Where the cache is kept: ``<pluginDir>/data``, then the per-user state folder for a read-only plugin
    folder (worked out only when asked for)."""
    yield os.path.join(plugin_folder(connection), DATA_DIR, HOOK_CACHE_FILE)
    yield os.path.join(user_state_dir(stash_base_url(connection)), HOOK_CACHE_FILE)


def _config_dir(connection: Mapping[str, Any]) -> str | None:
    folder = connection.get("Dir")
    return folder if isinstance(folder, str) and folder else None


def config_stamp(connection: Mapping[str, Any]) -> list[int] | None:
    """``[mtime_ns, size, inode]`` of Stash's ``<Dir>/config.yml``, None when it cannot be seen.

    Stash rewrites that file whenever plugin settings are saved (configurePlugin), so settings read after the
    stamp was taken are current while the stamp is unchanged. Take it *before* reading the settings.
    """
    folder = _config_dir(connection)
    if folder is None:
        return None
    try:
        stat = os.stat(os.path.join(folder, STASH_CONFIG_FILE))
    except (OSError, ValueError):
        return None
    return [stat.st_mtime_ns, stat.st_size, stat.st_ino]


def cache_record(connection: Mapping[str, Any], view: Mapping[str, Any], stamp: list[int] | None,
                 now: float) -> dict[str, Any]:
    """The cache file's content: the settings, and what they are valid for (this Stash, its config.yml)."""
    state = view.get("stateDir")
    return {
        "version": HOOK_CACHE_VERSION,
        "stash": stash_graphql_url(connection),
        "configDir": _config_dir(connection),
        "configStamp": stamp,
        "writtenAt": now,
        "autoRecognize": view.get("autoRecognize") is True,
        "stateDir": state if isinstance(state, str) and state else None,
    }


def read_cache(path: str, connection: Mapping[str, Any], stamp: list[int] | None, now: float) -> dict[str, Any] | None:
    """The cached :func:`hook_view`, or None when the file is missing, unreadable, of another Stash or
    config.yml, or too old (HOOK_CACHE_MAX_AGE_S; HOOK_CACHE_BLIND_MAX_AGE_S without a config.yml)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != HOOK_CACHE_VERSION:
        return None
    written = data.get("writtenAt")
    if isinstance(written, bool) or not isinstance(written, (int, float)):
        return None
    max_age = HOOK_CACHE_MAX_AGE_S if stamp is not None else HOOK_CACHE_BLIND_MAX_AGE_S
    if not 0 <= now - written <= max_age:  # a time in the future: the clock was set back
        return None
    if (data.get("stash") != stash_graphql_url(connection) or data.get("configDir") != _config_dir(connection)
            or data.get("configStamp") != stamp):
        return None
    auto, state = data.get("autoRecognize"), data.get("stateDir")
    if not isinstance(auto, bool) or not (state is None or (isinstance(state, str) and os.path.isabs(state))):
        return None
    return {"autoRecognize": auto, "stateDir": state}


def write_cache(path: str, record: Mapping[str, Any]) -> bool:
    """Replace the cache atomically; False when it cannot be written (read-only folder): never an error."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(record, handle)
        os.replace(tmp, path)
    except (OSError, ValueError, TypeError):
        with contextlib.suppress(OSError):
            os.remove(tmp)
        return False
    return True


def store_settings(connection: Mapping[str, Any], view: Mapping[str, Any], stamp: list[int] | None,
                   now: float) -> bool:
    """Write the cache for ``connection`` where it can be written; ``stamp`` is :func:`config_stamp` taken
    before ``view`` was read from Stash. False when no place could be written."""
    record = cache_record(connection, view, stamp, now)
    return any(write_cache(path, record) for path in cache_paths(connection))


def cached_view(connection: Mapping[str, Any], now: float,
                ask: Callable[[], Mapping[str, Any]]) -> tuple[dict[str, Any], str]:
    """:func:`hook_view` of the saved settings and where it came from: "cache" (no request), or "stash" after
    ``ask`` (the plugin's saved settings, as Stash stores them), whose answer is cached for the next hook."""
    stamp = config_stamp(connection)  # before the query: a change after it makes the cache stale
    for path in cache_paths(connection):
        cached = read_cache(path, connection, stamp, now)
        if cached is not None:
            return cached, "cache"
    view = hook_view(ask())
    store_settings(connection, view, stamp, now)
    return view, "stash"
