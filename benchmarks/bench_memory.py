"""Peak memory of downloading and preparing images in parallel threads, against a baseline measured in the same run.

    python benchmarks/bench_memory.py                       # the adversarial set over HTTP, 4/8/16/32 workers
    python benchmarks/bench_memory.py --decode-only         # the decode-only cases below (no HTTP)
    python benchmarks/bench_memory.py --decode-only --side 8000 --ordinary 50   # quicker

The default run is the download path as a task runs it: a local HTTP server (in this process, not measured)
serves the adversarial set, 232 MiB PNGs of noise (9000x9000, stored), a 64 MP lossless WebP and 15000x15000
PNGs, and a fresh subprocess downloads and prepares them in N worker threads (``StashClient.download`` then
``imaging.prepare``, what ``ImageRecognizer.load`` does), for N = 4, 8, 16, 32, with at least N noise PNGs in
flight. It reports the peak resident memory of the subprocess and its children (VmHWM, ru_maxrss). "bounded"
is this tree's code; "baseline" is the code of ``--baseline-rev`` (the commit before downloads were spooled:
whole-bytes downloads), extracted with ``git archive`` and run the same way, at the concurrencies of
``--baseline-at`` only (4 and 8 by default: at 16 it needs ~6 GB, at 32 over 12 GB).

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
import contextlib
import http.server
import io
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from baseline import src_tree
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
                      "budget_peak_mb": imaging.BUDGET.peak / 2**20, "budget_waits": imaging.BUDGET.waits}))


def run_case(path_kind: str, files: list[Path] | list[str], threads: int, src: Path | None = None) -> dict[str, Any]:
    listing = json.dumps([str(f) for f in files])
    src = src or Path(__file__).parents[1] / "src"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, __file__, "--child", path_kind, "--threads", str(threads)],
                            input=listing, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        return {"peak_kib": 0, "seconds": 0.0, "errors": [result.stderr.strip()[-500:] or f"exit {result.returncode}"]}
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


# -- the download path: the adversarial set over HTTP -------------------------------------------------

BASELINE_REV = "ad83aca"  # the last commit whose downloads returned whole bytes


def write_noise_png(path: Path, side: int) -> None:
    """A ``side`` x ``side`` RGB PNG of noise, stored (zlib level 0): 9000 px gives a 232 MiB file."""
    compressor = zlib.compressobj(0)
    with path.open("wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n")
        out.write(_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)))
        pending = b""
        for _ in range(side):
            pending += compressor.compress(b"\0" + os.urandom(side * 3))
            if len(pending) >= 1 << 20:
                out.write(_chunk(b"IDAT", pending))
                pending = b""
        out.write(_chunk(b"IDAT", pending + compressor.flush()))
        out.write(_chunk(b"IEND", b""))


def write_lossless_webp(path: Path, side: int) -> None:
    face_px = side // 5
    picture = Image.linear_gradient("L").resize((side, side)).convert("RGB")
    picture.paste(render(face_px + 40, face_px + 40, [SyntheticFace(1, 20, 20, face_px)]), (side // 3, side // 3))
    picture.save(path, "WEBP", lossless=True, method=0, quality=0)


@contextlib.contextmanager
def serving(directory: Path) -> Iterator[str]:
    """Files of ``directory`` over HTTP, streamed from disk with their Content-Length, as Stash serves media:
    ``/image/<n>/<name>`` is the file ``<name>`` (one file may stand for many images)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = directory / self.path.rsplit("/", 1)[-1]
            if not path.is_file():
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(path.stat().st_size))
            self.end_headers()
            with path.open("rb") as source, contextlib.suppress(OSError):
                shutil.copyfileobj(source, self.wfile, 1 << 20)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def tree_peak_kib() -> int:
    """Peak resident memory of this process plus the largest of its finished children (none here: the HTTP path
    spawns nothing; ffmpeg would be one)."""
    return vm_hwm_kib() + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def http_child(urls: list[str], threads: int) -> None:
    """One case, in its own process: download and prepare every URL in ``threads`` threads, as a task does."""
    from stash_compreface.stash.client import StashClient

    errors: list[str] = []
    started = time.perf_counter()
    client = StashClient(urls[0].split("/image/")[0], max_connections=threads, timeout_s=600)

    def one(url: str) -> None:
        try:
            media = client.download(url, what="image file")
            if isinstance(media, bytes):  # the baseline's download
                imaging.prepare(media)
            else:
                with media:
                    imaging.prepare(media)
        except Exception as exc:
            errors.append(f"{url.rsplit('/', 1)[-1]}: {exc}")

    with cf.ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, urls))
    client.close()
    budget = getattr(imaging, "BUDGET", None)
    print(json.dumps({"peak_kib": tree_peak_kib(), "seconds": time.perf_counter() - started,
                      "errors": sorted(set(errors)), "budget_peak_mb": getattr(budget, "peak", 0) / 2**20,
                      "budget_waits": getattr(budget, "waits", 0)}))


def adversarial(args: argparse.Namespace) -> None:
    concurrencies = [int(c) for c in args.concurrency.split(",") if c]
    baseline_at = {int(c) for c in args.baseline_at.split(",") if c}
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        write_noise_png(directory / "noise.png", args.noise_side)
        write_lossless_webp(directory / "lossless.webp", args.webp_side)
        write_huge_png(directory / "huge.png", args.side, "RGB")
        sizes = {p.name: p.stat().st_size for p in directory.iterdir()}
        print(f"adversarial set, made in {time.perf_counter() - started:.0f} s: noise.png {args.noise_side}^2 "
              f"({sizes['noise.png'] / 2**20:.0f} MiB), lossless.webp {args.webp_side}^2 "
              f"({args.webp_side ** 2 / 1e6:.0f} MP, {sizes['lossless.webp'] / 2**20:.0f} MiB), huge.png "
              f"{args.side}^2 ({sizes['huge.png'] / 2**20:.1f} MiB)")
        baseline_src = src_tree(args.baseline_rev, directory / "baseline") if baseline_at else None
        with serving(directory) as base:
            idle = run_case("idle", [], 1)
            print(f"idle (interpreter, Pillow and the plugin imported): {int(idle['peak_kib']) / 1024:.0f} MB\n")
            print(f"{'workers':>7} {'path':<9} {'items':>5} {'peak RSS':>10} {'seconds':>8}  budget peak / waits")
            peaks: dict[tuple[int, str], int] = {}
            for threads in concurrencies:
                names = ["noise.png"] * max(threads, args.min_noise) + ["lossless.webp"] + ["huge.png"] * 2
                urls = [f"{base}/image/{n}/{name}" for n, name in enumerate(names)]
                kinds = [("baseline", baseline_src)] if threads in baseline_at and baseline_src else []
                for kind, src in [*kinds, ("bounded", None)]:
                    result = run_case("http", urls, threads, src)
                    peaks[(threads, kind)] = int(result["peak_kib"])
                    budget = (f"{float(result.get('budget_peak_mb', 0)):.0f} MB / {result.get('budget_waits', 0)}"
                              if kind == "bounded" else "")
                    print(f"{threads:>7} {kind:<9} {len(urls):>5} {int(result['peak_kib']) / 1024:>7.0f} MB "
                          f"{float(result['seconds']):>8.1f}  {budget}")
                    for error in result["errors"][:3]:
                        print(f"    error: {error}")
        print()
        for threads in concurrencies:
            before, after = peaks.get((threads, "baseline")), peaks.get((threads, "bounded"))
            if before and after:
                print(f"{threads} workers: baseline / bounded peak RSS = {before / after:.1f}x")
        worst = max((v for (_, kind), v in peaks.items() if kind == "bounded"), default=0) / 1024
        print(f"bounded, worst peak RSS over {','.join(map(str, concurrencies))} workers: {worst:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decode-only", action="store_true", help="the decode-only cases (files read from disk)")
    parser.add_argument("--concurrency", default="4,8,16,32", help="worker counts of the HTTP run (default 4,8,16,32)")
    parser.add_argument("--baseline-at", default="4,8", help="worker counts the baseline runs at (default 4,8)")
    parser.add_argument("--baseline-rev", default=BASELINE_REV, help=f"git revision of the baseline ({BASELINE_REV})")
    parser.add_argument("--noise-side", type=int, default=9000, help="side of the noise PNGs (9000: 232 MiB)")
    parser.add_argument("--min-noise", type=int, default=4, help="noise PNGs per run, at least (default 4)")
    parser.add_argument("--webp-side", type=int, default=8000, help="side of the lossless WebP (8000: 64 MP)")
    parser.add_argument("--side", type=int, default=15000, help="side of the huge PNGs (default 15000)")
    parser.add_argument("--huge", type=int, default=4, help="how many huge PNGs (default 4)")
    parser.add_argument("--ordinary", type=int, default=200, help="how many ordinary images (default 200)")
    parser.add_argument("--threads", type=int, default=4, help="worker threads (the plugin's default is 4)")
    parser.add_argument("--modes", default="RGB,RGBA,P,L",
                        help="PNG modes for the extra bounded-only case (default RGB,RGBA,P,L; '' skips it)")
    parser.add_argument("--skip-baseline", action="store_true", help="measure only the bounded path")
    parser.add_argument("--child", choices=["baseline", "bounded", "idle", "http"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "http":
        http_child(json.loads(sys.stdin.read()), args.threads)
        return
    if args.child:
        child(args.child, json.loads(sys.stdin.read()), args.threads)
        return
    if not args.decode_only:
        adversarial(args)
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

        cases: list[tuple[str, str, list[Path]]] = [("idle", "idle", [])]
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
            budget = (f"{float(result.get('budget_peak_mb', 0)):.0f} MB / {result.get('budget_waits', 0)}"
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
