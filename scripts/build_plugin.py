"""Build the Stash plugin folder and the plugin-source package (``index.yml`` + ``compreface.zip``).

``assemble`` makes the folder exactly as a user installs it, self-contained (manifest, bootstrap,
requirements and a copy of the ``stash_compreface`` package), so the end-to-end tests run what users
run. ``package`` zips that folder the way Stash's package manager expects (files at the zip root) and
writes the one-entry ``index.yml`` that a user adds as a plugin source in Stash. It follows
CommunityScripts' build_site.sh: version = manifest version + git short hash, date = commit time (an
upgrade is offered only when the date is later), name/description copied unquoted from the manifest.

Standard library only, so it runs from a bare checkout.

Usage: ``python scripts/build_plugin.py [--out dist]``
"""

from __future__ import annotations

import argparse
import hashlib
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
# Fixed time stamp and mode for every zip entry, so the same sources give the same sha256.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
ZIP_FILE_MODE = 0o100644
# index.yml is written unquoted, like build_site.sh does; these would change its meaning.
_YAML_INDICATORS = tuple("-?:,[]{}#&*!|>'\"%@`")

README = """\
# CompreFace Face Recognition for Stash

Recognises faces in Stash images, galleries and scenes with CompreFace and links them to performers.

Install: add the plugin source in Stash (Settings > Plugins > Available Plugins > Add Source), or copy
this folder into Stash's plugins folder. Then open Settings > Plugins > CompreFace Face Recognition,
enter the CompreFace URL and the recognition API key, and run the tasks from Settings > Tasks.

On its first run the plugin creates a private Python environment in `venv/` inside this folder and
installs the packages of `requirements.txt` into it, with the built-in face engine's packages for this
platform: `requirements-glibc.txt` (OpenCV) or, on musl Linux such as the official Stash Docker image
and on Intel macOS, `requirements-musl.txt` (ncnn). This needs access to the Python package index and
takes about a minute. Later runs start at once. Delete `venv/` to force a clean reinstall.

Stash runs `python` (or the Python set in Settings > System > Python executable path); Python 3.11 or
newer is needed. Setting the environment variable `STASH_COMPREFACE_NO_VENV=1` skips the private
environment; that is for development only.
"""


def _ignore(directory: str, names: list[str]) -> set[str]:
    """Bytecode and build leftovers; the package itself holds product code only."""
    return {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".pyo", ".egg-info"))}


def assemble(dest: Path) -> Path:
    """Create ``<dest>/compreface/`` as a user installs it; an existing venv there is kept."""
    target = Path(dest) / PLUGIN_ID
    target.mkdir(parents=True, exist_ok=True)
    for name in (*PLUGIN_FILES, *UI_FILES):
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PLUGIN_SRC / name, target / name)
    (target / "README.md").write_text(README, encoding="utf-8")
    package_dir = target / "stash_compreface"
    if package_dir.exists():
        shutil.rmtree(package_dir)
    shutil.copytree(PACKAGE_SRC, package_dir, ignore=_ignore)
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


def _git(*args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False)
    except OSError:
        return None
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None


def _revision() -> tuple[str, str]:
    """(short hash or "dev", UTC date of that commit or now); only this repository's own git counts."""
    top = _git("rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != REPO:
        return "dev", time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    short = _git("rev-parse", "--short", "HEAD")
    stamp = _git("log", "-1", "--format=%ct", "HEAD")
    if short is None or stamp is None:
        return "dev", time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    return short, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(stamp)))


def _write_zip(folder: Path, zip_path: Path) -> None:
    files = sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.relative_to(folder).as_posix())
    with zipfile.ZipFile(zip_path, "w") as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=ZIP_DATE_TIME)
            info.create_system = 3  # Unix, so Stash's Go unzip takes the mode below (0 would mean no access)
            info.external_attr = ZIP_FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)


def package(out: Path) -> tuple[Path, Path]:
    """Write ``<out>/compreface.zip`` and ``<out>/index.yml``; returns both paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = (PLUGIN_SRC / f"{PLUGIN_ID}.yml").read_text(encoding="utf-8")
    name = _manifest_field(manifest, "name")
    description = _manifest_field(manifest, "description")
    version = _manifest_field(manifest, "version")
    for key, value in (("name", name), ("description", description)):
        _check_plain(key, value)
    if not re.fullmatch(r"\d+(\.\d+)?(\.\d+)?", version):
        raise ValueError(f"manifest version {version!r} must look like 1.2.3")
    short, date = _revision()

    zip_path = out / f"{PLUGIN_ID}.zip"
    with tempfile.TemporaryDirectory() as tmp:
        _write_zip(assemble(Path(tmp)), zip_path)
    sha256 = hashlib.sha256(zip_path.read_bytes()).hexdigest()

    index_path = out / "index.yml"
    index_path.write_text(
        f"- id: {PLUGIN_ID}\n"
        f"  name: {name}\n"
        f"  metadata:\n"
        f"    description: {description}\n"
        f"  version: {version}-{short}\n"
        f"  date: {date}\n"
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
