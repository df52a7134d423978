"""What one scan hook costs: the real plugin/compreface.py started as Stash starts it, against the Stash double.

    .venv/bin/python benchmarks/bench_hooks.py                     # 200 hooks per case
    .venv/bin/python benchmarks/bench_hooks.py --before 58ee6b7    # also the bootstrap before the cache
    .venv/bin/python benchmarks/bench_hooks.py --hooks 50 --python /usr/bin/python3

Stash runs the plugin once per new image or scene during a scan (``Image.Create.Post``/``Scene.Create.Post``)
and waits for each. Every hook here is that: a new process of ``--python`` (the interpreter Stash would find,
default this one) running ``<pluginDir>/compreface.py`` of a freshly assembled plugin folder (no venv: hooks
never need one), fed the stdin JSON Stash writes for the hook (tests' ``build_stdin``: Go's encoding, the
session cookie as a full ``net/http.Cookie``, ``Dir`` a folder holding Stash's ``config.yml``). Cases:

* ``python -c pass``: the interpreter's own start-up, the floor of any hook;
* off / on, cached: ``autoRecognize`` off or on, the hooks' settings cache in place (the first hook of the
  case writes it); "on" queues every item and starts one queued task;
* off / on, no cache: the cache file removed before every hook, so each one asks Stash for the settings
  (one GraphQL request) and writes the cache again: the behaviour before the cache, plus that write;
* with ``--before REF``, off / on with the bootstrap of git revision REF (e.g. the commit before the cache):
  the old script as it was, its top-level imports included.

The cases run round-robin (one hook of each, then the next round), each with a plugin folder of its own and
"off" and "on" each with a Stash double of its own, so a machine busy with other work weighs on every case
alike. Per case: wall time per hook (start to exit, as the scan worker waits), the process's own CPU time
(user + system, from ``resource.getrusage(RUSAGE_CHILDREN)`` deltas around each run: every figure is one hook
process, nothing else is a child of this script), and GraphQL requests per hook as the Stash doubles counted
them. The doubles answer in-process, faster than a real Stash: the 0.4-0.7 s measured per hook on a user's
machine included Stash's own work. Nothing here needs the network.
"""

from __future__ import annotations

import argparse
import contextlib
import json
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

COOKIE = "benchmark-session-cookie"
CACHE = Path("data") / "hook-settings.json"  # in the plugin folder (stash_compreface/hookqueue.py HOOK_CACHE_FILE)


def timed(argv: list[str], stdin: bytes, cwd: Path, env: dict[str, str]) -> tuple[float, float, bytes]:
    """(wall s, CPU s, stdout) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, input=stdin, capture_output=True, cwd=cwd, env=env, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{argv} exited with {done.returncode}:\n{done.stderr.decode(errors='replace')[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), done.stdout


@dataclass
class Case:
    label: str
    argv: list[str]
    stash: Any = None  # the Stash double the hook talks to; None for the bare start-up
    config_dir: Path | None = None
    plugin_dir: Path | None = None
    auto: bool = False
    no_cache: bool = False
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    sources: dict[str, int] = field(default_factory=dict)
    requests: int = 0

    def stdin(self, image_id: int) -> bytes:
        from testdoubles.stash_runner import build_stdin

        if self.stash is None:
            return b""
        assert self.config_dir is not None and self.plugin_dir is not None
        return build_stdin(host="0.0.0.0", port=self.stash.port, cookie=COOKIE, config_dir=self.config_dir,
                           plugin_dir=self.plugin_dir,
                           args={"hookContext": {"type": "Image.Create.Post", "id": image_id, "input": None}}
                           ).encode("utf-8")

    def run(self, image_id: int, cwd: Path, env: dict[str, str]) -> None:
        if self.no_cache and self.plugin_dir is not None:
            (self.plugin_dir / CACHE).unlink(missing_ok=True)
        requests = self.stash.operation_count() if self.stash is not None else 0
        wall, cpu, stdout = timed(self.argv, self.stdin(image_id), cwd, env)
        self.walls.append(wall)
        self.cpus.append(cpu)
        if self.stash is None:
            return
        self.requests += self.stash.operation_count() - requests
        result = json.loads(stdout)
        output = result.get("output")
        if result.get("error") is not None or not isinstance(output, dict):
            raise SystemExit(f"{self.label}: the hook failed: {result}")
        if (output.get("queued") is not None) != self.auto:
            raise SystemExit(f"{self.label}: unexpected hook output: {output}")
        source = str(output.get("settings", "-"))
        self.sources[source] = self.sources.get(source, 0) + 1

    def summary(self) -> dict[str, Any]:
        walls = sorted(w * 1000 for w in self.walls)
        cpus = sorted(c * 1000 for c in self.cpus)

        def pct(values: list[float], p: float) -> float:
            return values[round(p * (len(values) - 1))]

        return {"wall_median": statistics.median(walls), "wall_p90": pct(walls, 0.9),
                "wall_mean": statistics.fmean(walls), "cpu_p10": pct(cpus, 0.1), "cpu_median": statistics.median(cpus),
                "cpu_p90": pct(cpus, 0.9), "cpu_mean": statistics.fmean(cpus), "requests": self.requests / len(walls)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hooks", type=int, default=200, help="hook invocations per case (default 200)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter Stash runs (default: this one)")
    parser.add_argument("--before", metavar="REF", help="also time plugin/compreface.py of this git revision")
    ns = parser.parse_args()
    before_script = None
    if ns.before:
        before_script = subprocess.run(["git", "-C", str(ROOT), "show", f"{ns.before}:plugin/compreface.py"],
                                       capture_output=True, check=True).stdout

    from scripts.build_plugin import assemble
    from testdoubles.stash import StashDouble

    with tempfile.TemporaryDirectory(prefix="bench-hooks-") as tmp, contextlib.ExitStack() as doubles:
        root = Path(tmp)
        cwd = root / "cwd"  # Stash's working directory, not the plugin's
        cwd.mkdir()
        env = dict(os.environ)
        cases = [Case("python -c pass (start-up only)", [ns.python, "-c", "pass"])]
        for auto in (False, True):
            stash = doubles.enter_context(StashDouble.running(session_cookie=COOKIE))
            name = "on" if auto else "off"
            config_dir = root / f"stash-{name}"
            config_dir.mkdir()
            settings = {"autoRecognize": auto, "stateDir": str(root / f"state-{name}")}
            # configurePlugin: Stash stores the map and rewrites its config.yml.
            stash.configure_plugin("compreface", settings)
            (config_dir / "config.yml").write_text(f"plugins:\n  settings:\n    compreface: {json.dumps(settings)}\n",
                                                   encoding="utf-8")
            variants = [("cached", "compreface.py", False), ("no cache (asks Stash)", "compreface.py", True)]
            if before_script is not None:
                variants.append((f"before ({ns.before})", "compreface_before.py", False))
            for variant, script, no_cache in variants:
                plugin_dir = assemble(root / f"plugins-{name}-{len(cases)}" / "community")
                if before_script is not None:
                    (plugin_dir / "compreface_before.py").write_bytes(before_script)
                cases.append(Case(f"autoRecognize {name:<3}, {variant}", [ns.python, str(plugin_dir / script)],
                                  stash=stash, config_dir=config_dir, plugin_dir=plugin_dir, auto=auto,
                                  no_cache=no_cache))
        # pkg/python/env.go: Stash appends the plugin's parent folder to PYTHONPATH (the same for every case).
        env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(root / "plugins")) if p)
        images = {id(stash): [int(stash.add_image(b"not decoded by a hook")) for _ in range(ns.hooks)]
                  for stash in {id(c.stash): c.stash for c in cases if c.stash is not None}.values()}
        for n in range(ns.hooks):
            for case in cases:
                case.run(images[id(case.stash)][n] if case.stash is not None else 0, cwd, env)
        for auto in ("off", "on"):
            queued = (root / f"state-{auto}" / "hook-queue" / "queue.txt")
            if queued.exists():
                assert auto == "on" and len(queued.read_text(encoding="utf-8").split()) == ns.hooks * (
                    len(cases) - 1) // 2, "every hook with autoRecognize on queued its item"
        load = os.getloadavg()[0]

    print(f"{ns.hooks} hooks per case, round-robin; interpreter {ns.python} (Python {sys.version.split()[0]}), "
          f"{os.cpu_count()} CPUs, load average {load:.2f} at the end")
    print(f"\n{'case':<40} {'wall ms median':>14} {'p90':>6} {'mean':>6}   {'CPU ms p10':>10} {'median':>6} "
          f"{'p90':>6} {'mean':>6}   {'requests/hook':>13}")
    summaries = {case.label: case.summary() for case in cases}
    for case in cases:
        r = summaries[case.label]
        print(f"{case.label:<40} {r['wall_median']:14.1f} {r['wall_p90']:6.1f} {r['wall_mean']:6.1f}   "
              f"{r['cpu_p10']:10.1f} {r['cpu_median']:6.1f} {r['cpu_p90']:6.1f} {r['cpu_mean']:6.1f}   "
              f"{r['requests']:13.3f}")
    bare = summaries[cases[0].label]
    print("\nmedians; 'own' = the hook's CPU above the bare start-up")
    for auto in ("off", "on "):
        cached = summaries[f"autoRecognize {auto}, cached"]
        asks = summaries[f"autoRecognize {auto}, no cache (asks Stash)"]
        sources = next(c.sources for c in cases if c.label == f"autoRecognize {auto}, cached")
        print(f"autoRecognize {auto.strip():<3} cached: {cached['cpu_median']:.1f} ms CPU (own "
              f"{cached['cpu_median'] - bare['cpu_median']:.1f}), {cached['wall_median']:.1f} ms wall; settings from "
              f"{sources}")
        others = [("no cache", asks)]
        if ns.before:
            others.append((ns.before, summaries[f"autoRecognize {auto}, before ({ns.before})"]))
        for label, other in others:
            own = other["cpu_median"] - bare["cpu_median"]
            cpu_ratio = cached["cpu_median"] / other["cpu_median"]
            wall_ratio = cached["wall_median"] / other["wall_median"]
            print(f"  against {label}: {other['cpu_median']:.1f} ms CPU (own {own:.1f}), {other['wall_median']:.1f} ms "
                  f"wall; cached/{label}: CPU {cpu_ratio:.2f}x, wall {wall_ratio:.2f}x")
    off = summaries["autoRecognize off, cached"]
    verdict = "under" if off["cpu_median"] < 50 else "NOT under"
    print(f"\nautoRecognize off, cached: median CPU {off['cpu_median']:.1f} ms per hook ({verdict} the 50 ms budget), "
          f"p90 {off['cpu_p90']:.1f} ms; bare start-up {bare['cpu_median']:.1f} ms")


if __name__ == "__main__":
    main()
