"""scripts/build_plugin.py: the zip and index.yml a Stash plugin source serves (stash-platform.md §7.4)."""

from __future__ import annotations

import hashlib
import re
import time
import zipfile
from pathlib import Path

import pytest
import yaml

from scripts import build_plugin

ROOT = Path(__file__).resolve().parents[1]
# What a user's plugin folder needs besides the package: the bootstrap picks one engine file per platform.
PLUGIN_FILES = ("compreface.yml", "compreface.py", "requirements.txt", "requirements-glibc.txt",
                "requirements-musl.txt")
INDEX_KEYS = ["id", "name", "metadata", "version", "date", "path", "sha256"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_plugin.package(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load((ROOT / "plugin" / "compreface.yml").read_text(encoding="utf-8"))


def _package_files() -> set[str]:
    """The package as the plugin runs it (product code only: the doubles live in ``src/testdoubles``)."""
    src = ROOT / "src"
    return {p.relative_to(src).as_posix() for p in (src / "stash_compreface").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")}


def test_zip_holds_the_plugin_folder_at_its_root(built: tuple[Path, Path]):
    zip_path, _ = built
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        assert archive.testzip() is None
        infos = archive.infolist()
    assert names == sorted(names)
    assert {*PLUGIN_FILES, "README.md"} <= set(names)
    assert set(names) - {*PLUGIN_FILES, *build_plugin.UI_FILES, "README.md"} == _package_files()
    assert any(n.startswith("stash_compreface/stash/graphql/") and n.endswith(".graphql") for n in names)
    assert "stash_compreface/runtime/plugin.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or n.startswith(("venv/", "/"))]
    assert [n for n in names if n.endswith(".yml")] == ["compreface.yml"]
    for info in infos:
        assert info.date_time == build_plugin.ZIP_DATE_TIME
        # Stash's Go unzip creates each file with the entry's mode: it must be readable.
        assert info.create_system == 3 and (info.external_attr >> 16) == 0o100644


def test_zip_files_are_the_sources(built: tuple[Path, Path]):
    zip_path, _ = built
    with zipfile.ZipFile(zip_path) as archive:
        for name in PLUGIN_FILES:
            assert archive.read(name) == (ROOT / "plugin" / name).read_bytes()
        assert archive.read("stash_compreface/__init__.py") == (ROOT / "src/stash_compreface/__init__.py").read_bytes()


def test_build_is_deterministic(built: tuple[Path, Path], tmp_path: Path):
    again, _ = build_plugin.package(tmp_path)
    assert again.read_bytes() == built[0].read_bytes()


def test_index_yml_shape(built: tuple[Path, Path], manifest: dict):
    zip_path, index_path = built
    text = index_path.read_text(encoding="utf-8")
    entries = yaml.safe_load(text)
    assert isinstance(entries, list) and len(entries) == 1
    entry = entries[0]
    assert list(entry) == INDEX_KEYS  # and no requires: the plugin needs no other package
    assert entry["id"] == "compreface"
    assert entry["name"] == manifest["name"]
    assert entry["metadata"] == {"description": manifest["description"]}
    assert re.fullmatch(re.escape(str(manifest["version"])) + r"-([0-9a-f]{7,40}|dev)", entry["version"])
    time.strptime(str(entry["date"]), "%Y-%m-%d %H:%M:%S")
    assert entry["path"] == zip_path.name == "compreface.zip"
    assert entry["sha256"] == hashlib.sha256(zip_path.read_bytes()).hexdigest()
    # Line shape exactly as build_site.sh writes it, entry followed by a blank line.
    lines = text.split("\n")
    assert [line.split(":")[0] for line in lines[:8]] == [
        "- id", "  name", "  metadata", "    description", "  version", "  date", "  path", "  sha256"]
    assert text.endswith("\n\n")


def test_date_is_a_plain_string_for_stash(built: tuple[Path, Path]):
    # Stash parses date with layout "2006-01-02 15:04:05"; PyYAML turning it into a datetime is fine,
    # the raw text is what matters.
    text = built[1].read_text(encoding="utf-8")
    assert re.search(r"^  date: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", text, re.MULTILINE)


def test_assemble_keeps_the_venv_and_replaces_the_package(tmp_path: Path):
    plugin = build_plugin.assemble(tmp_path)
    (plugin / "venv").mkdir()
    (plugin / "venv" / "keep").write_text("x", encoding="utf-8")
    (plugin / "stash_compreface" / "stale.py").write_text("x", encoding="utf-8")
    again = build_plugin.assemble(tmp_path)
    assert again == plugin
    assert (plugin / "venv" / "keep").exists()
    assert not (plugin / "stash_compreface" / "stale.py").exists()
    assert (plugin / "README.md").read_text(encoding="utf-8").startswith("# ")


def test_cli_builds_everything(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert build_plugin.main(["--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(tmp_path / "compreface"), str(tmp_path / "compreface.zip"), str(tmp_path / "index.yml")]
    assert all(Path(p).exists() for p in printed)


def test_unquotable_manifest_text_is_refused():
    with pytest.raises(ValueError):
        build_plugin._check_plain("description", "Faces: found")
    with pytest.raises(ValueError):
        build_plugin._check_plain("name", "[beta] Faces")
    build_plugin._check_plain("name", "CompreFace Face Recognition")


@pytest.mark.network(reason="pip wheel builds in an isolated environment: setuptools comes from the index")
def test_the_wheel_holds_the_product_only(tmp_path: Path):
    """The test doubles and the demo (src/testdoubles) never reach a user's install."""
    import shutil
    import subprocess
    import sys

    source = tmp_path / "source"  # a clean copy: no build/ left over from an earlier build
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("stash_compreface-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packages = {name.split("/", 1)[0] for name in archive.namelist() if not name.startswith("stash_compreface-")}
        names = archive.namelist()
    assert packages == {"stash_compreface"}
    assert "stash_compreface/stash/graphql/FindImages.graphql" in names
    assert not [n for n in names if "testdoubles" in n or "/testing/" in n]


def test_every_requirements_file_the_bootstrap_can_choose_is_shipped(built: tuple[Path, Path]):
    text = (ROOT / "plugin" / "compreface.py").read_text(encoding="utf-8")
    flavours = re.search(r"for flavour in \(([^)]*)\)", text)
    assert flavours is not None
    chosen = {f"requirements-{name.strip().strip(chr(34))}.txt" for name in flavours.group(1).split(",")}
    assert chosen == {"requirements-glibc.txt", "requirements-musl.txt"}
    with zipfile.ZipFile(built[0]) as archive:
        assert chosen <= set(archive.namelist())
