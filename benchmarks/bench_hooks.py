"""What one scan hook costs: the real plugin/compreface.py started as Stash starts it, against the Stash double.

    .venv/bin/python benchmarks/bench_hooks.py                     # 200 hooks per case
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
* with ``--before REF``, off / on with the bootstrap of git revision REF (e.g. the commit before the cache),
  run from the same plugin folder: the old script as it was, top-level imports included.

Per case: wall time per hook (start to exit, as the scan worker waits) and the process's own CPU time (user +
system, from ``resource.getrusage(RUSAGE_CHILDREN)`` deltas around each run: every figure is one hook
process, nothing else is a child of this script), plus GraphQL requests per hook as the Stash double counted
them. The double answers in-process, faster than a real Stash; the 0.4-0.7 s measured on a user's
machine per hook included Stash's own work. Nothing here needs the network.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

COOKIE = "benchmark-session-cookie"
CACHE = Path("data") / "hook-settings.json"  # in the plugin folder (plugin/compreface.py HOOK_CACHE_FILE)


class Hooks:
    """Runs hooks the way Stash's raw plugin runner does (argv, PYTHONPATH, cwd, stdin JSON), one at a time."""

    def __init__(self, python: str, plugin_dir: Path, config_dir: Path, port: int, cwd: Path) -> None:
        self.python = python
        self.plugin_dir = plugin_dir
        self.config_dir = config_dir
        self.port = port
        self.cwd = cwd
        self.env = dict(os.environ)
        # pkg/python/env.go: Stash appends the plugin's parent folder to PYTHONPATH.
        self.env["PYTHONPATH"] = os.pathsep.join(p for p in (self.env.get("PYTHONPATH"), str(plugin_dir.parent)) if p)

    def stdin(self, image_id: int) -> bytes:
        from testdoubles.stash_runner import build_stdin

        return build_stdin(host="0.0.0.0", port=self.port, cookie=COOKIE, config_dir=self.config_dir,
                           plugin_dir=self.plugin_dir,
                           args={"hookContext": {"type": "Image.Create.Post", "id": image_id, "input": None}}
                           ).encode("utf-8")

    def run(self, argv: list[str], stdin: bytes) -> tuple[float, float, bytes]:
        """(wall s, CPU s, stdout) of one process."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(argv, input=stdin, capture_output=True, cwd=self.cwd, env=self.env, check=False)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"{argv} exited with {done.returncode}:\n{done.stderr.decode(errors='replace')[-2000:]}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, cpu, done.stdout

    def hook(self, image_id: int, script: str = "compreface.py") -> tuple[float, float, dict[str, Any]]:
        wall, cpu, stdout = self.run([self.python, str(self.plugin_dir / script)], self.stdin(image_id))
        result = json.loads(stdout)
        if result.get("error") is not None or not isinstance(result.get("output"), dict):
            raise SystemExit(f"hook failed: {result}")
        return wall, cpu, result["output"]


def summary(label: str, walls: list[float], cpus: list[float], requests: int, n: int) -> dict[str, Any]:
    walls_ms = sorted(w * 1000 for w in walls)
    cpus_ms = sorted(c * 1000 for c in cpus)
    return {"label": label, "n": n, "wall_median": statistics.median(walls_ms),
            "wall_p90": walls_ms[int(0.9 * (len(walls_ms) - 1))], "wall_mean": statistics.fmean(walls_ms),
            "cpu_median": statistics.median(cpus_ms), "cpu_p90": cpus_ms[int(0.9 * (len(cpus_ms) - 1))],
            "cpu_mean": statistics.fmean(cpus_ms), "requests": requests / n}


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

    with tempfile.TemporaryDirectory(prefix="bench-hooks-") as tmp, \
            StashDouble.running(session_cookie=COOKIE) as stash:
        root = Path(tmp)
        plugin_dir = assemble(root / "plugins" / "community")
        config_dir = root / "stash"
        (root / "cwd").mkdir()
        config_dir.mkdir()
        state_dir = root / "state"
        config = config_dir / "config.yml"

        def save_settings(**settings: Any) -> None:
            """configurePlugin: Stash stores the map and rewrites config.yml."""
            stored = {"stateDir": str(state_dir), **settings}
            stash.configure_plugin("compreface", stored)
            lines = [f"    {key}: {json.dumps(value)}" for key, value in stored.items()]
            config.write_text("plugins:\n  settings:\n   compreface:\n" + "\n".join(lines) + "\n", encoding="utf-8")

        hooks = Hooks(ns.python, plugin_dir, config_dir, stash.port, root / "cwd")
        if before_script is not None:
            (plugin_dir / "compreface_before.py").write_bytes(before_script)
        images = [int(stash.add_image(b"not decoded by a hook")) for _ in range(ns.hooks)]
        results = []

        walls, cpus = [], []
        for _ in range(ns.hooks):
            wall, cpu, _ = hooks.run([ns.python, "-c", "pass"], b"")
            walls.append(wall)
            cpus.append(cpu)
        results.append(summary("python -c pass (start-up only)", walls, cpus, 0, ns.hooks))

        for auto in (False, True):
            save_settings(autoRecognize=auto)
            for cached in (True, False):
                (plugin_dir / CACHE).unlink(missing_ok=True)
                (state_dir / "hook-queue").mkdir(parents=True, exist_ok=True)
                for leftover in (state_dir / "hook-queue").iterdir():
                    leftover.unlink()
                walls, cpus = [], []
                requests = stash.operation_count()
                sources: dict[str, int] = {}
                for image_id in images:
                    if not cached:
                        (plugin_dir / CACHE).unlink(missing_ok=True)
                    wall, cpu, output = hooks.hook(image_id)
                    walls.append(wall)
                    cpus.append(cpu)
                    sources[output.get("settings", "?")] = sources.get(output.get("settings", "?"), 0) + 1
                    if (output.get("queued") is not None) != auto:
                        raise SystemExit(f"unexpected hook output with autoRecognize {auto}: {output}")
                label = f"autoRecognize {'on ' if auto else 'off'}, {'cached' if cached else 'no cache (asks Stash)'}"
                results.append({**summary(label, walls, cpus, stash.operation_count() - requests, ns.hooks),
                                "sources": sources})
                if auto:
                    queued = (state_dir / "hook-queue" / "queue.txt").read_text(encoding="utf-8").split()
                    assert len(queued) == ns.hooks, len(queued)
            if before_script is None:
                continue
            walls, cpus = [], []
            requests = stash.operation_count()
            for image_id in images:
                wall, cpu, output = hooks.hook(image_id, "compreface_before.py")
                walls.append(wall)
                cpus.append(cpu)
                if (output.get("queued") is not None) != auto:
                    raise SystemExit(f"unexpected hook output with autoRecognize {auto}: {output}")
            label = f"autoRecognize {'on ' if auto else 'off'}, before ({ns.before})"
            results.append(summary(label, walls, cpus, stash.operation_count() - requests, ns.hooks))

    print(f"{ns.hooks} hooks per case, interpreter {ns.python} (Python {sys.version.split()[0]}), "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"\n{'case':<44} {'wall ms median':>14} {'p90':>7} {'mean':>7} {'CPU ms median':>14} {'p90':>7} "
          f"{'mean':>7} {'requests/hook':>14}")
    for r in results:
        print(f"{r['label']:<44} {r['wall_median']:14.1f} {r['wall_p90']:7.1f} {r['wall_mean']:7.1f} "
              f"{r['cpu_median']:14.1f} {r['cpu_p90']:7.1f} {r['cpu_mean']:7.1f} {r['requests']:14.2f}")
    by = {r["label"]: r for r in results}
    bare = results[0]
    print()
    for auto in ("off", "on "):
        cached = by[f"autoRecognize {auto}, cached"]
        old = by[f"autoRecognize {auto}, no cache (asks Stash)"]
        own, own_old = cached["cpu_median"] - bare["cpu_median"], old["cpu_median"] - bare["cpu_median"]
        wall_ratio, cpu_ratio = cached["wall_median"] / old["wall_median"], cached["cpu_median"] / old["cpu_median"]
        print(f"autoRecognize {auto.strip()}: cached / no cache: wall {wall_ratio:.2f}x, CPU {cpu_ratio:.2f}x; "
              f"CPU above start-up {own:.1f} ms cached, {own_old:.1f} ms asking Stash; settings from "
              f"{cached['sources']} / {old['sources']}")
        if ns.before:
            then = by[f"autoRecognize {auto}, before ({ns.before})"]
            print(f"  against {ns.before}: wall {cached['wall_median'] / then['wall_median']:.2f}x, CPU "
                  f"{cached['cpu_median'] / then['cpu_median']:.2f}x (CPU above start-up then "
                  f"{then['cpu_median'] - bare['cpu_median']:.1f} ms)")
    off = by["autoRecognize off, cached"]
    verdict = "under" if off["cpu_p90"] < 50 else "NOT under"
    print(f"\nautoRecognize off, cached: p90 CPU {off['cpu_p90']:.1f} ms per hook, {verdict} the 50 ms budget")


if __name__ == "__main__":
    main()
