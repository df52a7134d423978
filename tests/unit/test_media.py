"""The one memory budget shared by downloads and decodes: a download spills to disk instead of holding memory,
and an item waiting for the budget holds nothing (so workers waiting on each other cannot deadlock)."""

from __future__ import annotations

import io
import threading
import time

import pytest
from PIL import Image, ImageChops

from stash_compreface import imaging
from stash_compreface.errors import MediaError
from stash_compreface.media import MemoryBudget, Spool


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.linear_gradient("L").resize((width, height)).convert("RGB").save(out, "PNG")
    return out.getvalue()


def test_a_small_download_is_held_in_the_budget_until_closed() -> None:
    budget = MemoryBudget(1000)
    with Spool(budget, expected=600) as spool:
        spool.write(b"x" * 600)
        assert spool.in_memory and budget.in_use == 600
    assert budget.in_use == 0


def test_a_download_bigger_than_its_share_goes_to_disk_and_holds_nothing() -> None:
    budget = MemoryBudget(1000)
    with Spool(budget, expected=5000) as announced:  # Content-Length says big: disk from the first byte
        announced.write(b"y" * 5000)
        assert not announced.in_memory and budget.in_use == 0
        assert announced.read() == b"y" * 5000
    with Spool(budget, memory_cap=100) as unannounced:  # no length: in memory until it outgrows its share
        unannounced.write(b"z" * 80)
        assert unannounced.in_memory and budget.in_use == 100
        unannounced.write(b"z" * 80)
        assert not unannounced.in_memory and budget.in_use == 0
        assert unannounced.read() == b"z" * 160


def test_decoding_reads_the_spooled_file_and_gives_the_same_picture() -> None:
    data = _png(900, 700)
    budget = MemoryBudget(64 * 2**20)
    with Spool(budget, expected=len(data) * 2, memory_cap=len(data)) as spool:  # on disk
        spool.write(data)
        assert not spool.in_memory
        from_disk = imaging.prepare(spool, max_side=300, budget=budget)
    from_bytes = imaging.prepare(data, max_side=300, budget=budget)
    assert ImageChops.difference(from_disk.image, from_bytes.image).getbbox() is None
    assert from_disk.original_size == (900, 700) and budget.in_use == 0


def test_an_item_waiting_for_the_budget_gives_its_download_memory_back_first() -> None:
    """Without this, workers each holding a download in memory and each waiting for decode room wait forever."""
    data = _png(300, 200)
    decode = 300 * 200 * imaging.PIXEL_BYTES
    budget = MemoryBudget(decode + len(data))
    spool = Spool.of(data, budget)  # in memory: its bytes are taken from the budget
    budget.acquire(decode)  # another worker decoding: the decode cannot fit beside this download
    result: list[imaging.Prepared] = []
    worker = threading.Thread(target=lambda: result.append(imaging.prepare(spool, budget=budget)))
    worker.start()
    deadline = time.monotonic() + 20  # a guard against a hang, not a timing assertion
    while budget.waiting == 0 and worker.is_alive() and time.monotonic() < deadline:
        time.sleep(0.001)
    assert not spool.in_memory and budget.in_use == decode  # waiting, holding nothing
    budget.release(decode)
    worker.join(20)
    assert result and result[0].original_size == (300, 200)
    spool.close()
    assert budget.in_use == 0


def test_a_webp_too_big_to_decode_within_the_budget_is_refused_before_pillow_allocates_it() -> None:
    """Pillow decodes a WebP whole (its canvas, a copy, the image: ~16 bytes a pixel) and allocates the canvas
    when it opens the file: the refusal comes first, naming the size."""
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (90, 120, 150)).save(out, "WEBP", lossless=True)
    data = out.getvalue()
    needed = len(data) + 800 * 600 * imaging.WEBP_PIXEL_BYTES
    imaging.prepare(data, max_side=200, budget=MemoryBudget(needed))
    with pytest.raises(MediaError, match=r"800x600 \(0.48 MP\), a WebP file that cannot be decoded at reduced "
                                         r"size, and decoding it would hold 7.3 MB, more than the 7.2 MB"):
        imaging.prepare(data, max_side=200, budget=MemoryBudget(needed - 100_000))


def test_a_large_progressive_jpeg_is_drafted_to_its_aspect_and_fits() -> None:
    """A 10000x7000 progressive photo was refused: the draft asked for a square box, so libjpeg decoded at half
    size (7000 px is under 4 x 1920). The same shape, scaled down with its budget: it decodes at a quarter."""
    out = io.BytesIO()
    Image.linear_gradient("L").resize((1000, 700)).convert("RGB").save(out, "JPEG", progressive=True, quality=80)
    coefficients = 1000 * 700 * 3  # 2 bytes each, 4:2:0
    budget = MemoryBudget(coefficients + 250 * 175 * imaging.PIXEL_BYTES)
    prepared = imaging.prepare(out.getvalue(), max_side=192, budget=budget)
    assert prepared.original_size == (1000, 700) and prepared.image.size == (192, 134)
