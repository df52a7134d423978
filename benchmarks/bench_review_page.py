"""The review page opened in Stash's own frontend (its v0.30.1 build), with the plugin run as Stash runs it.

    .venv/bin/python benchmarks/bench_review_page.py                    # 10,000 candidates, 3 opens per case
    .venv/bin/python benchmarks/bench_review_page.py --candidates 100 --opens 2 --before HEAD~3

Stash's web UI is served over the doubles by tests/ui/stash_frontend.py, in headless Chromium at 1440x900;
each ``runPluginOperation`` the page sends is what Stash does with it: a new process of this interpreter
running ``<pluginDir>/compreface.py`` of an assembled plugin folder (``testdoubles.stash_runner.run_plugin``),
so every figure includes the plugin's start-up, as a user waits for it. The state holds ``--candidates``
unknown people (1 to 5 sightings each); CompreFace (the double) holds a face for the 100 most seen.

Each open starts on Stash's images page, clicks the navbar's "Faces" entry (inside the app, as a user does)
and times in the page (``performance.now``) until:

* open: the first page is drawn (the new page: 40 cards and idle; the old one: its candidate list, idle);
* faces: every card on screen shows its face (the new page fetches them after it opened; the old page's
  answer carried them, so its two figures are one).

The baseline is the page of ``--before`` (default main): its plugin folder and its compreface.js, on the same
state, round-robin with the new one. Also printed: the bytes of the page's answers (reviewData, and the
new page's candidateFaces), from the last open of each.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from baseline import extract  # noqa: E402  (benchmarks/, beside this script)

NEW_OPEN = ("document.querySelectorAll('.cf-card').length >= Math.min(40, CF_COUNT) && "
            "!document.querySelector('.cf-review').classList.contains('cf-busy')")
OLD_OPEN = ("document.querySelectorAll('.cf-candidate').length > 0 && "
            "!document.querySelector('.cf-review').classList.contains('cf-busy')")
FACES_SHOWN = ("[...document.querySelectorAll('.cf-card')].filter(c => c.getBoundingClientRect().top < innerHeight)"
               ".every(c => !c.querySelector('.cf-loading'))")


@dataclass
class Case:
    label: str
    opens: list[float] = field(default_factory=list)
    faces: list[float] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)

    def row(self) -> str:
        return (f"{self.label:<34} {statistics.median(self.opens):9.2f} {max(self.opens):6.2f}   "
                f"{statistics.median(self.faces):9.2f} {max(self.faces):6.2f}   "
                + ", ".join(f"{k} {v / 1024:.1f} KB" for k, v in sorted(self.sizes.items())))


def old_tree(ref: str, dest: Path) -> Path:
    return extract(ref, dest)


def seed_state(state_dir: Path, candidates: int) -> list[str]:
    """``candidates`` open candidates with 1-5 sightings each; the subjects, the most seen first."""
    from stash_compreface.stash.models import ItemKind, ItemRef
    from stash_compreface.tasks.state import STATE_FILE, StateStore

    rng = random.Random(7)
    store = StateStore(state_dir / STATE_FILE)
    seen = {}
    for n in range(candidates):
        subject = f"Person {n} {'BENCH':A<16}"
        seen[subject] = rng.randint(1, 5)
        for i in range(seen[subject]):
            store.candidates.record_sighting(subject, ItemRef(ItemKind.IMAGE, str(10 * n + i + 1)))
    store.close()
    return sorted(seen, key=lambda s: -seen[s])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", type=int, default=10_000)
    parser.add_argument("--opens", type=int, default=3, help="opens per case (default 3)")
    parser.add_argument("--before", default="main", help="git revision of the old page (default main)")
    ns = parser.parse_args()

    from scripts.build_plugin import assemble
    from testdoubles.compreface import RECOGNITION_KEY, CompreFaceDouble
    from testdoubles.stash import StashDouble
    from testdoubles.stash_runner import run_plugin
    from testdoubles.synthetic import SyntheticFace, draw_image
    from tests.tasks.conftest import COOKIE, TaskWorld
    from tests.ui.cdp import Browser
    from tests.ui.stash_frontend import StashWeb, handler, stash_ui_build

    build, why = stash_ui_build()
    if build is None:
        raise SystemExit(why)

    class AsStash(StashWeb):
        """Each operation a new plugin process, from ``plugin_dir``; the UI files from ``ui_dir``."""

        plugin_dir: Path
        ui_dir: Path

        def _run_plugin_operation(self, plugin_id: str, args: dict[str, Any] | None = None) -> Any:
            import graphql

            run = run_plugin(self.plugin_dir, args=dict(args or {}), port=self.world.stash.port, cookie=COOKIE,
                             env={"STASH_COMPREFACE_NO_VENV": "1"})
            self.operations.append((str((args or {}).get("mode")), dict(args or {}), run.output, run.error))
            if run.error is not None:
                raise graphql.GraphQLError(run.error)
            return run.output

        def get(self, path: str, headers: Any) -> tuple[int, bytes, dict[str, str]]:
            if path in ("/plugin/compreface/javascript", "/plugin/compreface/css"):
                name = "compreface.js" if path.endswith("javascript") else "compreface.css"
                ctype = "text/javascript" if name.endswith(".js") else "text/css"
                return 200, (self.ui_dir / name).read_bytes(), {"Content-Type": ctype}
            return super().get(path, headers)

    with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp, contextlib.ExitStack() as stack:
        root = Path(tmp)
        stash = stack.enter_context(StashDouble.running(session_cookie=COOKIE))
        compreface = stack.enter_context(CompreFaceDouble.running())
        subjects = seed_state(root / "state", ns.candidates)
        for n, subject in enumerate(subjects[:100]):
            compreface.add_subject_example(subject, draw_image(300, 360, [SyntheticFace(n % 40, 70, 80, 160)],
                                                               seed=n))
        stash.configure_plugin("compreface", {"faceEngine": "compreface", "comprefaceUrl": compreface.url,
                                              "recognitionApiKey": RECOGNITION_KEY, "stateDir": str(root / "state")})
        old = old_tree(ns.before, root / "old")
        plugins = {"new": (assemble(root / "plugins-new"), ROOT / "plugin" / "ui"),
                   "old": (assemble(root / "plugins-old", repo=old), old / "plugin" / "ui")}
        world = TaskWorld(stash=stash, compreface=compreface, state_dir=root / "state")
        web = AsStash(world, build)
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler(lambda: web))
        web.url = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        stack.callback(server.shutdown)
        browser = Browser(root / "profile", root / "chromium.log", width=1440, height=900)
        stack.callback(browser.close)

        cases = {"new": Case(f"this page ({ns.candidates:,} candidates)"),
                 "old": Case(f"page of {ns.before} ({ns.candidates:,})")}

        def open_page(which: str) -> None:
            web.plugin_dir, web.ui_dir = plugins[which]
            browser.goto(f"{web.url}/images")
            browser.wait_for("!!document.querySelector('a.nav-utility .cf-nav')")
            opened = (NEW_OPEN if which == "new" else OLD_OPEN).replace("CF_COUNT", str(ns.candidates))
            faces = FACES_SHOWN if which == "new" else "true"
            browser.eval(f"""window.cfTimes = new Promise((resolve) => {{
                const t0 = performance.now(); let open = null;
                const tick = () => {{
                    const review = document.querySelector('.cf-review');
                    if (open === null && review && ({opened})) open = performance.now() - t0;
                    if (open !== null && ({faces})) return resolve([open, performance.now() - t0]);
                    requestAnimationFrame(tick);
                }};
                tick();
            }}), true""")
            web.operations.clear()
            browser.click("a.nav-utility .cf-nav")
            open_ms, faces_ms = browser.eval("window.cfTimes")
            case = cases[which]
            case.opens.append(open_ms / 1000)
            case.faces.append(faces_ms / 1000)
            for mode, _args, output, error in web.operations:
                if error is None:
                    case.sizes[mode] = max(case.sizes.get(mode, 0), len(json.dumps(output)))

        for _ in range(ns.opens):
            for which in ("new", "old"):
                open_page(which)
        load = os.getloadavg()

    print(f"{ns.opens} opens per case, round-robin, in Stash's v0.30.1 frontend (headless Chromium 1440x900), "
          f"each plugin call a new process; {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[2]:.1f}")
    print(f"\n{'case':<34} {'open s':>9} {'max':>6}   {'faces s':>9} {'max':>6}   answers")
    for case in cases.values():
        print(case.row())
    new, old_case = cases["new"], cases["old"]
    print(f"\n{ns.candidates:,} candidates open in {statistics.median(new.opens):.2f} s (goal <= 1.5 s), "
          f"{statistics.median(new.opens) / statistics.median(old_case.opens):.2f}x the old page's open; faces on "
          f"screen after {statistics.median(new.faces):.2f} s, "
          f"{statistics.median(new.faces) / statistics.median(old_case.faces):.2f}x")


if __name__ == "__main__":
    main()
