"""The synthetic face engine's speed (the CompreFace and Vision doubles' detector), in one run.

    PYTHONPATH=src python benchmarks/bench_synthetic.py              # 25 rounds
    PYTHONPATH=src python benchmarks/bench_synthetic.py --rounds 100

The doubles run ``SyntheticEngine.detect`` on every image a test or benchmark sends, so it must stay cheap
next to what any consumer of the same bytes pays anyway. It times, on the tests' 1080p JPEG scene (five faces,
tests/doubles/test_synthetic.py) and a 640x360 one, the median of ``--rounds`` calls of:

* ``detect``: the engine (a reduced-scale JPEG decode, the face mask, decoding each face's markers);
* baseline: a plain full decode of the same bytes with Pillow (``Image.open(...).load()``), measured in the
  same run, so the ratio means the same on a fast or a loaded machine.

This replaced a test that asserted a 1080p detect took under 50 ms, which failed on a loaded machine. The figure
to compare between two versions is the ratio; the milliseconds are for reference. On the project's 2-core
machine (load about 3) it printed: 1080p detect 63 ms, decode 15 ms, ratio 4.2x; 640x360 detect 16.5 ms,
decode 1.1 ms, ratio 15x (the engine's fixed cost per image dominates small pictures).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time
from collections.abc import Callable

from PIL import Image

from testdoubles.synthetic import SyntheticEngine, SyntheticFace, draw_image

SCENE = [
    SyntheticFace(1234, 100, 100, 200),
    SyntheticFace(7, 600, 300, 120, probability=0.9),
    SyntheticFace(4095, 1200, 200, 300, yaw=30, probability=0.5),
    SyntheticFace(0, 1500, 600, 100, blur=0.05),
    SyntheticFace(2000, 400, 700, 90, yaw=45, probability=0.86),
]
SMALL = [SyntheticFace(4, 100, 60, 150)]


def median_s(call: Callable[[], object], rounds: int) -> float:
    call()  # warm: first-call imports and allocations are not what is measured
    timings = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def full_decode(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as image:
        image.load()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=25)
    ns = parser.parse_args()
    engine = SyntheticEngine(cache=False)  # the same bytes every round: time the work, not the memo
    print(f"SyntheticEngine.detect, median of {ns.rounds} calls; {os.cpu_count()} CPUs")
    for label, data, faces in (("1920x1080, 5 faces", draw_image(1920, 1080, SCENE), len(SCENE)),
                               ("640x360, 1 face", draw_image(640, 360, SMALL, seed=1), len(SMALL))):
        found = len(engine.detect(data))
        assert found == faces, f"{label}: detected {found} faces, drew {faces}"
        detect = median_s(lambda data=data: engine.detect(data), ns.rounds)
        decode = median_s(lambda data=data: full_decode(data), ns.rounds)
        print(f"  {label:<19} detect {1000 * detect:6.1f} ms  full Pillow decode {1000 * decode:6.1f} ms  "
              f"ratio detect/decode {detect / decode:5.2f}x  ({len(data) // 1024} KiB JPEG)")


if __name__ == "__main__":
    main()
