"""Peak memory of preparing huge and ordinary images in parallel threads: today's decode against imaging.prepare.

    python benchmarks/bench_memory.py                       # four 15000x15000 PNGs, 200 ordinary images
    python benchmarks/bench_memory.py --side 8000 --ordinary 50   # quicker

Each case runs in a fresh subprocess that prepares its files in ``--threads`` worker threads (the task runner's
default concurrency is 4) and reports the kernel's high-water mark of its resident memory (VmHWM). "baseline"
is the code path before bounded decoding: Image.open + load at full size (JPEG draft only), EXIF transpose, RGB,
LANCZOS shrink, JPEG. "bounded" is imaging.prepare at default settings (band-decoded PNGs, pixel budget).
"idle" is the floor: the interpreter with Pillow and the plugin imported, nothing decoded.

The huge PNGs are written row by row (a flat background, one synthetic face), so making them costs little memory;
they are a few hundred kilobytes on disk and 225 MP each decoded.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from stash_compreface import imaging
from testdoubles.synthetic import SyntheticFace, draw_image, render

BACKGROUND = (196, 178, 160)
_CHANNELS = {"L": 1, "RGB": 3, "RGBA": 4, "P": 1}
_COLOR_TYPE = {"L": 0, "RGB": 2, "RGBA": 6, "P": 3}


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def write_huge_png(path: Path, side: int, mode: str = "RGB") -> None:
    """A ``side`` x ``side`` PNG in ``mode``, streamed row by row: flat background, one face of side/10 px."""
    face_px = side // 10
    patch = render(face_px + 40, face_px + 40, [SyntheticFace(1, 20, 20, face_px)], background=BACKGROUND)
    palette = None
    if mode == "P":
        patch = patch.quantize(255)
        palette = patch.getpalette() or []
        palette = (palette + [0] * 768)[:765] + list(BACKGROUND)  # index 255: the background
    elif mode != "RGB":
        patch = patch.convert(mode)
    top = left = side // 3
    bg = {"RGB": bytes(BACKGROUND), "RGBA": bytes(BACKGROUND) + b"\xff", "L": bytes([180]), "P": b"\xff"}[mode]
    flat = b"\0" + bg * side
    compressor = zlib.compressobj(6)
    with path.open("wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n")
        out.write(_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, _COLOR_TYPE[mode], 0, 0, 0)))
        if palette is not None:
            out.write(_chunk(b"PLTE", bytes(palette)))
        pending = b""
        for y in range(side):
            if top <= y < top + patch.height:
                row = patch.crop((0, y - top, patch.width, y - top + 1)).tobytes()
                line = b"\0" + bg * left + row + bg * (side - left - patch.width)
            else:
                line = flat
            pending += compressor.compress(line)
            if len(pending) >= 1 << 16:
                out.write(_chunk(b"IDAT", pending))
                pending = b""
        pending += compressor.flush()
        out.write(_chunk(b"IDAT", pending))
        out.write(_chunk(b"IEND", b""))


def write_ordinary(directory: Path, count: int) -> list[Path]:
    """Photos and screenshots of everyday sizes, a few of each kind, repeated to ``count`` files."""
    kinds = [(1920, 1080, "JPEG"), (4000, 3000, "JPEG"), (6000, 4000, "JPEG"), (1280, 720, "PNG"),
             (2560, 1440, "PNG"), (3000, 2000, "WEBP")]
    samples = []
    for index, (width, height, fmt) in enumerate(kinds):
        face = SyntheticFace(index, width // 3, height // 4, height // 3)
        path = directory / f"ordinary_{index}.{fmt.lower()}"
        path.write_bytes(draw_image(width, height, [face], fmt=fmt, seed=index))
        samples.append(path)
    return [samples[i % len(samples)] for i in range(count)]


def vm_hwm_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def baseline_prepare(data: bytes) -> bytes:
    """The decode before bounded memory: whole picture in memory, JPEG draft only."""
    image = Image.open(io.BytesIO(data))
    if image.format == "JPEG":
        image.draft("RGB", (imaging.DETECT_MAX_SIDE, imaging.DETECT_MAX_SIDE))
    image.load()
    upright = ImageOps.exif_transpose(image) or image
    small = imaging._shrink(imaging._to_rgb(upright), imaging.DETECT_MAX_SIDE)
    return imaging.encode_jpeg(small)


def bounded_prepare(data: bytes) -> bytes:
    return imaging.prepare(data).jpeg


def child(path_kind: str, files: list[str], threads: int) -> None:
    """One case, in its own process: prepare every file in ``threads`` threads, report peak RSS."""
    work = {"baseline": baseline_prepare, "bounded": bounded_prepare}.get(path_kind)
    errors: list[str] = []
    started = time.perf_counter()
    if work is not None:
        def one(name: str) -> None:
            try:
                work(Path(name).read_bytes())
            except Exception as exc:
                errors.append(f"{Path(name).name}: {exc}")

        with cf.ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(one, files))
    print(json.dumps({"peak_kib": vm_hwm_kib(), "seconds": time.perf_counter() - started, "errors": errors,
                      "budget_peak_mp": imaging.BUDGET.peak / 1e6, "budget_waits": imaging.BUDGET.waits}))


def run_case(path_kind: str, files: list[Path], threads: int) -> dict[str, Any]:
    listing = json.dumps([str(f) for f in files])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parents[1] / "src"),
                                                                      os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, __file__, "--child", path_kind, "--threads", str(threads)],
                            input=listing, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        return {"peak_kib": 0, "seconds": 0.0, "errors": [result.stderr.strip()[-500:] or f"exit {result.returncode}"]}
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", type=int, default=15000, help="side of the huge PNGs (default 15000)")
    parser.add_argument("--huge", type=int, default=4, help="how many huge PNGs (default 4)")
    parser.add_argument("--ordinary", type=int, default=200, help="how many ordinary images (default 200)")
    parser.add_argument("--threads", type=int, default=4, help="worker threads (the plugin's default is 4)")
    parser.add_argument("--modes", default="RGB,RGBA,P,L",
                        help="PNG modes for the extra bounded-only case (default RGB,RGBA,P,L; '' skips it)")
    parser.add_argument("--skip-baseline", action="store_true", help="measure only the bounded path")
    parser.add_argument("--child", choices=["baseline", "bounded", "idle"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, json.loads(sys.stdin.read()), args.threads)
        return

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        huge = []
        for index in range(args.huge):
            path = directory / f"huge_{index}.png"
            write_huge_png(path, args.side, "RGB")
            huge.append(path)
        mixed = []
        for mode in filter(None, args.modes.split(",")):
            path = directory / f"huge_{mode}.png"
            write_huge_png(path, args.side, mode)
            mixed.append(path)
        ordinary = write_ordinary(directory, args.ordinary)
        size_mb = sum(p.stat().st_size for p in huge) / max(1, len(huge)) / 1e6
        print(f"generated {len(huge)} PNGs of {args.side}x{args.side} ({size_mb:.2f} MB each on disk) and "
              f"{len(ordinary)} ordinary images in {time.perf_counter() - started:.0f} s; {args.threads} threads\n")

        cases = [("idle", "idle", [])]
        for label, files in ((f"{len(huge)} huge PNG (RGB)", huge), (f"{len(ordinary)} ordinary", ordinary)):
            if not args.skip_baseline:
                cases.append((label, "baseline", files))
            cases.append((label, "bounded", files))
        if mixed:
            cases.append((f"{len(mixed)} huge PNG ({args.modes})", "bounded", mixed))
        if huge and ordinary:
            cases.append((f"huge + {len(ordinary)} ordinary", "bounded", huge + ordinary))

        results: dict[tuple[str, str], dict[str, Any]] = {}
        print(f"{'case':<34} {'path':<9} {'peak RSS':>10} {'seconds':>8}  budget peak / waits")
        for label, kind, files in cases:
            result = run_case(kind, files, args.threads)
            results[(label, kind)] = result
            peak = int(result["peak_kib"]) / 1024
            budget = (f"{float(result.get('budget_peak_mp', 0)):.1f} MP / {result.get('budget_waits', 0)}"
                      if kind == "bounded" else "")
            print(f"{label:<34} {kind:<9} {peak:>7.0f} MB {float(result['seconds']):>8.1f}  {budget}")
            for error in result["errors"][:3]:
                print(f"    error: {error}")

        print()
        for label in dict.fromkeys(label for label, _, _ in cases):
            before, after = results.get((label, "baseline")), results.get((label, "bounded"))
            if before and after and int(after["peak_kib"]):
                ratio = int(before["peak_kib"]) / int(after["peak_kib"])
                print(f"{label}: baseline / bounded peak RSS = {ratio:.1f}x")


if __name__ == "__main__":
    main()
