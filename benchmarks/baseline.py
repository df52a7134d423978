"""The "before" side of a benchmark: the repository's code at another git revision, run in the same run.

``git archive`` extracts it into a folder of the caller's, so the repository, its index and its worktrees
stay untouched, and the baseline is exactly what that commit shipped (no hand-kept copy that could drift).
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class NoBaseline(RuntimeError):
    """The revision could not be extracted (unknown revision, not a git checkout); the message says why."""


def extract(rev: str, into: Path, *paths: str) -> Path:
    """The tree of ``rev`` (only ``paths`` of it, when given) extracted into ``into``, which is returned."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev, *paths], capture_output=True,
                             check=False)
    if archive.returncode != 0:
        raise NoBaseline(f"git archive {rev} failed: {archive.stderr.decode(errors='replace').strip()}")
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


def src_tree(rev: str, into: Path) -> Path | None:
    """``src/`` of ``rev`` extracted into ``into`` (for ``PYTHONPATH``); None, saying why, when it cannot be."""
    try:
        return extract(rev, into, "src") / "src"
    except NoBaseline as exc:
        print(f"no baseline: {exc}")
        return None
