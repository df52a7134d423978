"""Faces to boxes as Stash runs it: the image page's Faces, one new plugin process per click.

    .venv/bin/python benchmarks/bench_ui_operations.py                 # 8 clicks per case, old path from main
    .venv/bin/python benchmarks/bench_ui_operations.py --clicks 4 --before HEAD~5

Each click is what Stash does on ``runPluginOperation``: a new process of this interpreter running
``<pluginDir>/compreface.py`` of an assembled plugin folder, fed the operation's stdin JSON (tests'
``stash_runner.run_plugin``: Go's encoding, the session cookie as a full ``net/http.Cookie``, PYTHONPATH as
Stash builds it), against the Stash and CompreFace doubles (real HTTP servers on 127.0.0.1). The plugin runs
in this interpreter (``STASH_COMPREFACE_NO_VENV``): Stash's run re-executes into the plugin's venv first,
one more interpreter start (the ``python -c pass`` row) on top of every figure. Cases, round-robin so a
machine busy with other work weighs on each alike:

* ``python -c pass``: the interpreter's start-up, the floor of any click;
* recognised image, kept look: ``identifyImage cached=true`` on an image looked at before (what the page
  now sends): the kept look, its links read again from Stash, no download, no detection;
* recognised image, old path: the page's click before kept looks (``identifyImage`` of ``--before``'s plugin
  folder, default ``main``): a full look every time;
* fresh look: ``identifyImage cached=true`` on an image never looked at (a new one per click): the look,
  its modules imported on demand.

Per case: wall time per click (start to exit, what the page waits for) and the process's CPU time (user +
system, from ``getrusage(RUSAGE_CHILDREN)`` deltas: each figure is one plugin process). The machine is
shared: the load average is printed, and CPU time is the figure that does not depend on it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from baseline import extract  # noqa: E402  (benchmarks/, beside this script)

COOKIE = "benchmark-session-cookie"


@dataclass
class Case:
    label: str
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)

    def timed(self, work: Any) -> Any:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        result = work()
        self.walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
        return result

    def row(self) -> str:
        w, c = sorted(self.walls), sorted(self.cpus)
        p90 = w[min(len(w) - 1, int(0.9 * len(w)))]
        return (f"{self.label:<44} {statistics.median(w):8.2f} {p90:6.2f} {min(w):6.2f}   "
                f"{statistics.median(c):8.2f} {min(c):6.2f}")


def old_plugin(ref: str, dest: Path) -> Path:
    """The plugin folder of git revision ``ref``, assembled as a user installs it."""
    from scripts.build_plugin import assemble

    return assemble(dest / "plugins" / "community", repo=extract(ref, dest / "tree"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clicks", type=int, default=8, help="clicks per case (default 8)")
    parser.add_argument("--before", default="main", help="git revision of the old path (default main)")
    ns = parser.parse_args()

    from scripts.build_plugin import assemble
    from testdoubles.compreface import RECOGNITION_KEY, CompreFaceDouble
    from testdoubles.stash import StashDouble
    from testdoubles.stash_runner import run_plugin
    from testdoubles.synthetic import SyntheticFace, draw_image

    def photo(*persons: int, seed: int) -> bytes:
        faces = [SyntheticFace(p, 30 + 230 * i, 60 + 10 * i, 200 if i == 0 else 140) for i, p in enumerate(persons)]
        return draw_image(1024, 768, faces, seed=seed)

    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp, contextlib.ExitStack() as doubles:
        root = Path(tmp)
        stash = doubles.enter_context(StashDouble.running(session_cookie=COOKIE))
        compreface = doubles.enter_context(CompreFaceDouble.running())
        stash.configure_plugin("compreface", {"faceEngine": "compreface", "comprefaceUrl": compreface.url,
                                              "recognitionApiKey": RECOGNITION_KEY, "stateDir": str(root / "state")})
        for person, name in ((1, "Alice"), (2, "Bob")):
            subject = f"Person 0 {name.upper():A<16.16}"
            stash.add_performer(name, aliases=[subject])
            compreface.add_subject_example(subject, draw_image(420, 520, [SyntheticFace(person, 110, 120, 200)],
                                                               seed=900 + person))
        new_dir = assemble(root / "plugins" / "community")
        old_dir = old_plugin(ns.before, root / "old")
        env = {"STASH_COMPREFACE_NO_VENV": "1"}

        def click(plugin_dir: Path, **args: str) -> Any:
            run = run_plugin(plugin_dir, args={"mode": "identifyImage", "associateExisting": "false", **args},
                             port=stash.port, cookie=COOKIE, env=dict(env))
            if run.error is not None or not (run.output or {}).get("faces"):
                raise SystemExit(f"{args}: {run.error or run.output}\n" + "\n".join(m for _, m in run.logs[-10:]))
            return run.output

        recognised = stash.add_image(photo(1, 2, 3, seed=1))
        first = click(new_dir, imageId=recognised)  # the look the page keeps
        assert not first.get("cached") and first["faces"], first
        fresh = [stash.add_image(photo(1, 2, 3, seed=10 + n)) for n in range(ns.clicks)]

        bare = Case("python -c pass (start-up only)")
        kept = Case("recognised image, kept look (cached)")
        old = Case(f"recognised image, old path ({ns.before})")
        new = Case("fresh look (cached=true, never looked at)")
        for n in range(ns.clicks):
            bare.timed(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))
            out = kept.timed(lambda: click(new_dir, imageId=recognised, cached="true"))
            assert out.get("cached") and len(out["faces"]) == len(first["faces"]), out
            out = old.timed(lambda: click(old_dir, imageId=recognised))
            assert len(out["faces"]) == len(first["faces"])
            out = new.timed(lambda: click(new_dir, imageId=fresh[n], cached="true"))  # noqa: B023
            assert not out.get("cached") and len(out["faces"]) == len(first["faces"]), out
        load = os.getloadavg()

    print(f"{ns.clicks} clicks per case, round-robin; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load "
          f"average {load[0]:.1f} / {load[2]:.1f} (1 / 15 min) at the end: the machine is shared, CPU s is the "
          "steadier figure")
    print(f"\n{'case':<44} {'wall s':>8} {'p90':>6} {'min':>6}   {'CPU s':>8} {'min':>6}")
    for case in (bare, kept, old, new):
        print(case.row())
    ratio = statistics.median(kept.walls) / statistics.median(old.walls)
    cpu_ratio = statistics.median(kept.cpus) / statistics.median(old.cpus)
    print(f"\nFaces on a recognised image: {statistics.median(kept.walls):.2f} s wall (goal <= 1.0 s), "
          f"{ratio:.2f}x the old path's wall time, {cpu_ratio:.2f}x its CPU time")
    print(f"Fresh look: {statistics.median(new.walls):.2f} s wall (goal <= 2.5 s), "
          f"{statistics.median(new.walls) / statistics.median(old.walls):.2f}x the old path's")
    print("(each figure plus one interpreter start for the re-exec into the plugin's venv in Stash)")


if __name__ == "__main__":
    main()
