"""The Stash-like runner itself: argv, stdin, stderr parsing and kill behave as Stash's raw.go does."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from testdoubles.stash_runner import run_plugin

MANIFEST = """\
name: Fake
exec:
  - python
  - "{pluginDir}/fake.py"
interface: raw
errLog: warning
tasks:
  - name: Go
    description: test task
    defaultArgs:
      mode: go
      limit: 0
      flag: false
      imageId: null
"""

SCRIPT = """\
import json, os, sys, time
data = json.loads(sys.stdin.read())
args = data["args"]
behaviour = args.get("behaviour", "")
sys.stderr.write("\\x01i\\x02hello\\n")
sys.stderr.write("not prefixed\\n")
if behaviour == "long":
    sys.stderr.write("\\x01i\\x02" + "x" * 70000 + "\\n")
for i in range(1, 6):
    sys.stderr.write(f"\\x01p\\x02{i / 5}\\n")
    sys.stderr.flush()
    time.sleep(0.05)
report = {"args": args, "cwd": os.getcwd(), "pythonpath": os.environ.get("PYTHONPATH", ""),
          "connection": data["server_connection"]}
sys.stdout.write("raw text" if behaviour == "text" else json.dumps({"output": report, "error": None}))
"""


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    folder = tmp_path / "plugins" / "fake"
    folder.mkdir(parents=True)
    (folder / "fake.yml").write_text(MANIFEST)
    (folder / "fake.py").write_text(textwrap.dedent(SCRIPT))
    return folder


def test_task_args_and_stdin_look_like_stash(fake: Path) -> None:
    run = run_plugin(fake, task="Go", args={"limit": 5}, port=9999, cookie="abc")
    assert run.error is None
    report = run.output
    assert report["args"] == {"mode": "go", "limit": 5, "flag": "false", "imageId": ""}
    assert report["cwd"] != str(fake)
    assert report["pythonpath"].split(":")[-1] == str(fake.parent)
    connection = report["connection"]
    assert connection["Host"] == "0.0.0.0" and connection["Port"] == 9999
    assert connection["SessionCookie"]["Name"] == "session" and connection["SessionCookie"]["Value"] == "abc"
    assert connection["PluginDir"] == str(fake)
    assert run.argv[1] == f"{fake}/fake.py"


def test_log_levels_progress_and_unprefixed_lines(fake: Path) -> None:
    run = run_plugin(fake, task="Go", port=9999)
    assert ("info", "hello") in run.logs
    assert ("warning", "not prefixed") in run.logs  # errLog decides
    assert run.progress == [0.2, 0.4, 0.6, 0.8, 1.0]


def test_kill_at_progress(fake: Path) -> None:
    run = run_plugin(fake, task="Go", port=9999, kill_at_progress=2)
    assert run.killed and run.error == "signal: killed"
    assert run.progress[:2] == [0.2, 0.4]


def test_a_line_over_64k_stops_the_reader(fake: Path) -> None:
    run = run_plugin(fake, task="Go", args={"behaviour": "long"}, port=9999)
    assert run.scanner_overflow


def test_non_json_stdout_becomes_the_output_string(fake: Path) -> None:
    run = run_plugin(fake, task="Go", args={"behaviour": "text"}, port=9999)
    assert run.output == "raw text" and run.error is None
