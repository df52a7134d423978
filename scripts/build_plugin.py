"""Build the Stash plugin folder and the plugin-source package (``index.yml`` + ``compreface.zip``).

``assemble`` makes the folder exactly as a user installs it, self-contained (manifest, bootstrap,
requirements, the UI files, a copy of the ``stash_compreface`` package, the folder's README, the licence
and the third-party notices), so the end-to-end tests run what users run. ``package`` zips that folder the
way Stash's package manager expects (files at the zip root) and writes the one-entry ``index.yml`` that a
user adds as a plugin source in Stash, in the shape of CommunityScripts' build_site.sh
(stash-platform.md §7.4), with one difference: ``index.yml`` changes only when the packaged files do.

* The zip is byte-reproducible: entries in name order, one fixed time stamp and mode, fixed compression.
* ``version`` is the manifest version plus the first 10 hex digits of a SHA-256 over the packaged files'
  names and bytes (not the zip's, so another zlib cannot change it): the same files, the same version.
* ``date`` (Stash offers an upgrade only when it is later) is ``SOURCE_DATE_EPOCH`` when set; else, in
  this repository's git checkout with the packaged sources committed, the commit time of the last commit
  that touched them; else (edited sources, or no git) the newest modification time among them. So two
  builds of one tree write the same ``index.yml``, and editing a packaged file moves ``date`` forward.

Standard library only, so it runs from a bare checkout.

Usage: ``python scripts/build_plugin.py [--out dist]``
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLUGIN_SRC = REPO / "plugin"
PACKAGE_SRC = REPO / "src" / "stash_compreface"
PLUGIN_ID = "compreface"
# requirements-glibc/-musl.txt: the face engine's pins, one of which compreface.py installs per platform.
PLUGIN_FILES = ("compreface.yml", "compreface.py", "requirements.txt", "requirements-glibc.txt",
                "requirements-musl.txt")
# The manifest's ui: javascript/css files, loaded by Stash's web UI (relative to the plugin folder).
UI_FILES = ("ui/compreface.js", "ui/compreface.css")
# Repository files copied to the plugin folder's root: the AGPL-3.0 text and the model licences (the ncnn
# graphs in the package derive from the YuNet and SFace models).
LEGAL_FILES = ("LICENSE", "THIRD-PARTY-NOTICES.md")
# The plugin folder's README.md: what a user who opens the installed folder needs.
FOLDER_README = Path("docs") / "plugin-folder-README.md"
# Fixed time stamp and mode for every zip entry, so the same sources give the same bytes.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
ZIP_FILE_MODE = 0o100644
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"  # the layout Stash parses index.yml's date with (UTC)
# index.yml is written unquoted, like build_site.sh does; these would change its meaning.
_YAML_INDICATORS = tuple("-?:,[]{}#&*!|>'\"%@`")


def _package_files(package: Path) -> list[Path]:
    """The files of ``package`` that the plugin folder gets (no bytecode or build leftovers), sorted."""
    return sorted(p for p in package.rglob("*") if p.is_file()
                  and not any(part == "__pycache__" or part.endswith(".egg-info") for part in p.parts)
                  and not p.name.endswith((".pyc", ".pyo")))


def sources(repo: Path = REPO) -> dict[str, Path]:
    """Every file of the plugin folder (its path there, in POSIX form) and the repository file it copies."""
    repo = Path(repo)
    files = {name: repo / "plugin" / name for name in (*PLUGIN_FILES, *UI_FILES)}
    files.update({name: repo / name for name in LEGAL_FILES})
    files["README.md"] = repo / FOLDER_README
    package = repo / "src" / "stash_compreface"
    files.update({f"stash_compreface/{p.relative_to(package).as_posix()}": p for p in _package_files(package)})
    return dict(sorted(files.items()))


def assemble(dest: Path, repo: Path = REPO) -> Path:
    """Create ``<dest>/compreface/`` as a user installs it from ``repo``'s files; an existing venv is kept."""
    repo = Path(repo)
    target = Path(dest) / PLUGIN_ID
    target.mkdir(parents=True, exist_ok=True)
    package_dir = target / "stash_compreface"
    if package_dir.exists():
        shutil.rmtree(package_dir)
    for name, source in sources(repo).items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target / name)
    # Stash loads every *.yml under its plugins folder as a manifest.
    extra = sorted(str(p.relative_to(target)) for p in target.rglob("*.yml")
                   if p.name != f"{PLUGIN_ID}.yml" and "venv" not in p.relative_to(target).parts)
    if extra:
        raise ValueError(f"the plugin folder must hold no other .yml file than the manifest: {extra}")
    return target


def _manifest_field(text: str, key: str) -> str:
    """The top-level ``key:`` value as build_site.sh reads it: raw text, CR and outer quotes removed."""
    match = re.search(rf"^{key}:[ \t]*(.*)$", text, re.MULTILINE)
    if not match:
        raise ValueError(f"compreface.yml has no top-level {key}")
    value = match.group(1).replace("\r", "").strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value


def _check_plain(key: str, value: str) -> None:
    if not value or ": " in value or " #" in value or value.startswith(_YAML_INDICATORS):
        raise ValueError(f"manifest {key} {value!r} cannot be written unquoted into index.yml")


def content_hash(files: dict[str, Path]) -> str:
    """SHA-256 over the plugin folder's names and bytes, in name order (what the zip holds, not how)."""
    digest = hashlib.sha256()
    for name, path in sorted(files.items()):
        data = path.read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _git(repo: Path, *args: str) -> str | None:
    """git's stdout in ``repo``, or None when git is missing or fails."""
    try:
        proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)
    except OSError:
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _committed_time(repo: Path, files: dict[str, Path]) -> int | None:
    """Commit time of the last commit touching the packaged sources, when ``repo`` is its own git checkout
    and none of them differs from it (edited, added or deleted); else None."""
    top = _git(repo, "rev-parse", "--show-toplevel")
    if not top or Path(top).resolve() != repo.resolve():
        return None
    # The package folder as a whole, so that a file deleted from it counts as a change too.
    paths = sorted({path.relative_to(repo).as_posix() for name, path in files.items()
                    if not name.startswith("stash_compreface/")} | {"src/stash_compreface"})
    status = _git(repo, "status", "--porcelain", "--untracked-files=all", "--", *paths)
    if status is None or status:
        return None
    stamp = _git(repo, "log", "-1", "--format=%ct", "HEAD", "--", *paths)
    return int(stamp) if stamp else None


def build_date(files: dict[str, Path], repo: Path = REPO) -> str:
    """index.yml's ``date`` for these packaged files (UTC, Stash's layout); see the module docstring."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        stamp = int(epoch)
    else:
        committed = _committed_time(Path(repo), files)
        stamp = committed if committed is not None else max(int(p.stat().st_mtime) for p in files.values())
    return time.strftime(DATE_FORMAT, time.gmtime(stamp))


def _write_zip(folder: Path, zip_path: Path) -> None:
    files = sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.relative_to(folder).as_posix())
    with zipfile.ZipFile(zip_path, "w") as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=ZIP_DATE_TIME)
            info.create_system = 3  # Unix, so Stash's Go unzip takes the mode below (0 would mean no access)
            info.external_attr = ZIP_FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)


def package(out: Path, repo: Path = REPO) -> tuple[Path, Path]:
    """Write ``<out>/compreface.zip`` and ``<out>/index.yml`` from ``repo``'s files; returns both paths."""
    out, repo = Path(out), Path(repo)
    out.mkdir(parents=True, exist_ok=True)
    manifest = (repo / "plugin" / f"{PLUGIN_ID}.yml").read_text(encoding="utf-8")
    name = _manifest_field(manifest, "name")
    description = _manifest_field(manifest, "description")
    version = _manifest_field(manifest, "version")
    for key, value in (("name", name), ("description", description)):
        _check_plain(key, value)
    if not re.fullmatch(r"\d+(\.\d+)?(\.\d+)?", version):
        raise ValueError(f"manifest version {version!r} must look like 1.2.3")
    files = sources(repo)

    zip_path = out / f"{PLUGIN_ID}.zip"
    with tempfile.TemporaryDirectory() as tmp:
        _write_zip(assemble(Path(tmp), repo), zip_path)
    sha256 = hashlib.sha256(zip_path.read_bytes()).hexdigest()

    index_path = out / "index.yml"
    index_path.write_text(
        f"- id: {PLUGIN_ID}\n"
        f"  name: {name}\n"
        f"  metadata:\n"
        f"    description: {description}\n"
        f"  version: {version}-{content_hash(files)[:10]}\n"
        f"  date: {build_date(files, repo)}\n"
        f"  path: {zip_path.name}\n"
        f"  sha256: {sha256}\n"
        f"\n",
        encoding="utf-8",
    )
    return zip_path, index_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Stash plugin folder, zip and index.yml")
    parser.add_argument("--out", type=Path, default=Path("dist"), help="output folder (default: dist)")
    args = parser.parse_args(argv)
    folder = assemble(args.out)
    zip_path, index_path = package(args.out)
    for path in (folder, zip_path, index_path):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
