"""plugin/compreface.yml against Stash's strict manifest loader (pkg/plugin/config.go, yaml.v2 SetStrict).

A manifest Stash rejects makes the whole plugin vanish from the UI with one line in Stash's log, so the
loader's rules are emulated here: the allowed keys are the yaml tags of the Go structs, at every depth.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.build_plugin import assemble
from testdoubles.stash_runner import build_argv, default_args

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "plugin" / "compreface.yml"

# yaml tags of the Go structs in pkg/plugin/config.go (stash-platform.md §1.3).
CONFIG_KEYS = {"name", "description", "url", "version", "interface", "exec", "errLog", "tasks", "hooks", "ui",
               "settings"}
OPERATION_KEYS = {"name", "description", "execArgs", "defaultArgs"}
HOOK_KEYS = OPERATION_KEYS | {"triggeredBy"}
UI_KEYS = {"requires", "csp", "javascript", "css", "assets"}
CSP_KEYS = {"script-src", "style-src", "connect-src"}
SETTING_KEYS = {"type", "displayName", "description"}
SETTING_TYPES = {"STRING", "NUMBER", "BOOLEAN"}
ERRLOG_LEVELS = {"trace", "debug", "info", "warning", "error", "progress", "none"}

# PRODUCT.md §2 with the defaultArgs the brief fixes, as Stash hands them over (strings): the modes a click
# in Settings > Tasks can run (PRODUCT.md §3 "Cheap when idle": no mode that needs an id).
EXPECTED_TASKS: dict[str, dict[str, str]] = {
    "synchronizePerformers": {"limit": "0"},
    "recognizeImagesHQ": {"limit": "0"},
    "recognizeImagesLQ": {"limit": "0"},
    "identifyImagesAll": {"limit": "0"},
    "identifyImagesNew": {"limit": "0"},
    "resetUnmatchedImages": {"limit": "0"},
    "resetUnmatchedScenes": {"limit": "0"},
    "recognizeNewScenes": {"limit": "0"},
    "recognizeAllScenes": {"limit": "0"},
    "recognizeNewSceneSprites": {"limit": "0"},
    "recognizeAllSceneSprites": {"limit": "0"},
    "importFromCompreFace": {"limit": "0"},
    "exportToCompreFace": {"limit": "0"},
    "recognizeQueued": {"limit": "0"},
}
# Operations: they need the id of what to act on (or are the review page's read), so they are not listed;
# the UI plugin runs them with runPluginOperation and the CLI with --arg.
EXPECTED_OPERATIONS = {"identifyImage", "createPerformerFromImage", "identifyScene", "identifyGallery", "rejectMatch",
                       "confirmMatch", "undoRun", "nameCandidate", "mergeIntoPerformer", "rejectCandidate",
                       "reviewData", "assignFace", "nameFace", "notThisFace",
                       "candidateFaces", "mergeCandidates", "performerFaces", "removeFace"}
# PRODUCT.md §4 with the types the brief fixes (an oracle independent of the settings table), less
# verificationApiKey, which no task ever used (issue 15): a saved value is ignored.
EXPECTED_SETTINGS = {
    "faceEngine": "STRING",
    **dict.fromkeys(("comprefaceUrl", "recognitionApiKey", "detectionApiKey", "visionServiceUrl",
                     "frameServerUrl", "stashHostUrl", "scannedTagName", "matchedTagName",
                     "unidentifiedTagName", "stateDir"),
                    "STRING"),
    **dict.fromkeys(("cooldownSeconds", "maxBatchSize", "maxConcurrency", "minFaceSize",
                     "minFacesForNewPerformer", "requestTimeout", "frameInterval", "journalRuns"), "NUMBER"),
    **dict.fromkeys(("minSimilarity", "minConfidenceScore", "minQualityScore", "minProcessingQualityScore"),
                    "STRING"),
    "dryRun": "BOOLEAN",
    "autoRecognize": "BOOLEAN",
}
FRACTIONS = ("minSimilarity", "minConfidenceScore", "minQualityScore", "minProcessingQualityScore")
_YAML_INDICATORS = tuple("-?:,[]{}#&*!|>'\"%@`")


class StrictLoader(yaml.SafeLoader):
    """yaml.v2 strict mode also rejects duplicate keys, which PyYAML silently accepts."""


def _no_duplicates(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


@pytest.fixture(scope="module")
def text() -> str:
    return MANIFEST.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def manifest(text: str) -> dict[str, Any]:
    return yaml.load(text, Loader=StrictLoader)  # a SafeLoader subclass


def _unknown(mapping: Any, allowed: set[str], where: str) -> list[str]:
    if mapping is None:
        return []
    assert isinstance(mapping, dict), f"{where} must be a mapping"
    return [f"{where}.{key}" for key in mapping if key not in allowed]


def strict_problems(manifest: dict[str, Any]) -> list[str]:
    """What Stash's loader would reject: unknown keys at any depth, bad interface or setting type."""
    problems = _unknown(manifest, CONFIG_KEYS, "<top>")
    for i, task in enumerate(manifest.get("tasks") or []):
        problems += _unknown(task, OPERATION_KEYS, f"tasks[{i}]")
    for i, hook in enumerate(manifest.get("hooks") or []):
        problems += _unknown(hook, HOOK_KEYS, f"hooks[{i}]")
    ui = manifest.get("ui")
    problems += _unknown(ui, UI_KEYS, "ui")
    if isinstance(ui, dict):
        problems += _unknown(ui.get("csp"), CSP_KEYS, "ui.csp")
    for key, setting in (manifest.get("settings") or {}).items():
        problems += _unknown(setting, SETTING_KEYS, f"settings.{key}")
        if (setting or {}).get("type", "STRING") not in SETTING_TYPES:
            problems.append(f"settings.{key}.type")
    if manifest.get("interface", "raw") not in ("rpc", "raw", "js"):
        problems.append("interface")
    return problems


def test_strict_loader_emulation_catches_what_stash_rejects():
    bad = {"name": "x", "requires": ["y"], "tasks": [{"name": "t", "mode": "m"}],
           "settings": {"a": {"type": "FLOAT", "default": 1}}, "ui": {"csp": {"img-src": []}}}
    assert set(strict_problems(bad)) == {"<top>.requires", "tasks[0].mode", "settings.a.default",
                                         "settings.a.type", "ui.csp.img-src"}
    with pytest.raises(yaml.YAMLError):
        yaml.load("name: a\nname: b\n", Loader=StrictLoader)


def test_manifest_loads_under_the_strict_loader(manifest: dict[str, Any]):
    assert strict_problems(manifest) == []


def test_no_default_key_anywhere(manifest: dict[str, Any]):
    def keys(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [str(k) for k in node] + [k for v in node.values() for k in keys(v)]
        if isinstance(node, list):
            return [k for v in node for k in keys(v)]
        return []

    assert "default" not in keys(manifest)


def test_top_level_fields(manifest: dict[str, Any]):
    assert manifest["interface"] == "raw"
    assert manifest["exec"] == ["python", "{pluginDir}/compreface.py"]
    assert manifest["errLog"] in ERRLOG_LEVELS and manifest["errLog"] == "error"
    assert isinstance(manifest["name"], str) and manifest["name"]
    assert isinstance(manifest["description"], str) and manifest["description"]
    assert re.fullmatch(r"\d+(\.\d+)?(\.\d+)?", str(manifest["version"]))


def test_manifest_version_matches_the_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))["version"] == project["version"]


def test_exec_gives_stash_the_python_command(manifest: dict[str, Any]):
    argv, is_python = build_argv(manifest, Path("/plugins/community/compreface/compreface.yml"), None, "/usr/bin/py")
    assert is_python  # only "python"/"python3" get python_path resolution and the PYTHONPATH entry
    assert argv == ["/usr/bin/py", "/plugins/community/compreface/compreface.py"]


def test_every_mode_once_with_its_default_args(manifest: dict[str, Any], text: str):
    tasks = manifest["tasks"]
    modes = [str(task["defaultArgs"]["mode"]) for task in tasks]
    assert sorted(modes) == sorted(EXPECTED_TASKS)
    assert len(modes) == len(set(modes)) == len(EXPECTED_TASKS)
    names = [task["name"] for task in tasks]
    assert len(names) == len(set(names))  # runPluginTask matches the name
    for task in tasks:
        args = default_args(text, task["name"])  # as yaml.v2 decodes into map[string]string
        mode = args.pop("mode")
        assert args == EXPECTED_TASKS[mode], mode
        assert isinstance(task.get("description"), str) and task["description"]


def test_every_mode_is_a_listed_task_or_an_operation(manifest: dict[str, Any]):
    from stash_compreface import tasks

    listed = {str(task["defaultArgs"]["mode"]) for task in manifest["tasks"]}
    assert listed == set(tasks.LISTED)
    assert set(tasks.OPERATIONS) == EXPECTED_OPERATIONS
    assert not listed & EXPECTED_OPERATIONS
    assert listed | EXPECTED_OPERATIONS == set(tasks.MODES)
    # The manifest's note on what is not listed names every operation.
    note = re.sub(r"\s*\n#\s*", " ", MANIFEST.read_text(encoding="utf-8").split("\ntasks:", 1)[0])
    assert all(re.search(rf"\b{mode}\b", note) for mode in EXPECTED_OPERATIONS)


def test_no_listed_task_needs_an_id(manifest: dict[str, Any], text: str):
    for task in manifest["tasks"]:
        args = default_args(text, task["name"])
        assert not [key for key in args if key.endswith("Id") or key in ("subject", "name")], task["name"]


def test_the_ui_runs_modes_as_operations_and_the_hooks_start_a_listed_task(manifest: dict[str, Any]):
    from stash_compreface import tasks

    script = (ROOT / "plugin" / "ui" / "compreface.js").read_text(encoding="utf-8")
    assert "runPluginTask" not in script  # a listed task would get its defaultArgs, not the page's ids
    assert "runPluginOperation" in script
    called = set(re.findall(r"runMode\(\s*\"(\w+)\"", script))
    assert called and called <= set(tasks.MODES)
    assert not called & set(tasks.LISTED)  # the pages call operations only
    hooks = (ROOT / "plugin" / "compreface.py").read_text(encoding="utf-8")
    queued = re.search(r'^QUEUED_TASK = "([^"]+)"', hooks, re.MULTILINE)
    assert queued is not None
    names = {task["name"]: task["defaultArgs"]["mode"] for task in manifest["tasks"]}
    assert names.get(queued.group(1)) == "recognizeQueued"


def test_every_product_setting_with_its_type(manifest: dict[str, Any]):
    settings = manifest["settings"]
    assert {key: value["type"] for key, value in settings.items()} == EXPECTED_SETTINGS


def test_manifest_settings_are_the_table(manifest: dict[str, Any]):
    from stash_compreface.settings import SETTING_BY_NAME, manifest_settings_yaml

    paste = "\nplugin/compreface.yml should hold (stash-compreface settings --manifest):\n" + manifest_settings_yaml()
    declared = manifest["settings"]
    assert set(declared) == set(SETTING_BY_NAME), paste  # every table entry declared, and nothing else
    for key, setting in declared.items():
        spec = SETTING_BY_NAME[key]
        assert setting["type"] == spec.type, f"{key}: type{paste}"
        assert setting["displayName"] == spec.display_name, f"{key}: displayName{paste}"
        assert setting["description"] == spec.description, f"{key}: description{paste}"


def test_settings_describe_default_and_range(manifest: dict[str, Any]):
    from stash_compreface.settings import SETTING_BY_NAME

    for key, setting in manifest["settings"].items():
        spec = SETTING_BY_NAME[key]
        assert setting["displayName"], key
        description = setting["description"]
        assert f"(default {spec.default_text}" in description, key
        if setting["type"] == "NUMBER" or key in FRACTIONS:
            assert f"; range {spec.range}" in description, key
        elif setting["type"] == "STRING":
            assert f"; accepts {spec.range}" in description, key
    descriptions = {key: setting["description"] for key, setting in manifest["settings"].items()}
    assert "(default 20; range 1-1000)" in descriptions["maxBatchSize"]
    assert "(default 30; range 5-600)" in descriptions["requestTimeout"]
    assert "0.81, or 81 for percent" in descriptions["minSimilarity"]
    # The two descriptions that used to be false: what an empty value really does.
    assert "default empty = frames are sampled locally" in descriptions["visionServiceUrl"]
    assert "(default 10; range 1-600)" in descriptions["frameInterval"]
    assert "(default http://vision-frame-server:5001;" in descriptions["frameServerUrl"]


def test_every_default_arg_is_a_quoted_string(text: str):
    # CommunityScripts' validator types defaultArgs values as strings and rejects 0, false or null.
    root = yaml.compose(text)
    tasks = next(value for key, value in root.value if key.value == "tasks")
    unquoted = []
    for task in tasks.value:
        task_map = {key.value: value for key, value in task.value}
        for key, value in task_map["defaultArgs"].value:
            if not (isinstance(value, yaml.ScalarNode) and value.style in ('"', "'")):
                unquoted.append(f"{task_map['name'].value}: {key.value}")
    assert unquoted == []


def _display_texts(manifest: dict[str, Any]) -> list[tuple[str, str]]:
    texts = [("name", manifest["name"]), ("description", manifest["description"])]
    texts += [(f"task {t['name']}", t[k]) for t in manifest["tasks"] for k in ("name", "description")]
    texts += [(f"setting {k}", s[f]) for k, s in manifest["settings"].items() for f in ("displayName", "description")]
    return texts


def test_texts_survive_being_written_unquoted(manifest: dict[str, Any]):
    # build_site.sh-style index builders echo name/description without quotes.
    for where, value in _display_texts(manifest):
        assert isinstance(value, str) and value.strip() == value, where
        assert ": " not in value and " #" not in value, where
        assert not value.startswith(_YAML_INDICATORS), where


def test_assembled_plugin_tree_has_no_other_yml(tmp_path: Path):
    # Stash parses every *.yml under its plugins folder. The venv is checked after a real install in
    # tests/e2e/test_bootstrap.py (pip, httpx and Pillow ship none).
    plugin = assemble(tmp_path)
    assert [p.relative_to(plugin).as_posix() for p in plugin.rglob("*.yml")] == ["compreface.yml"]
    assert not list(plugin.rglob("__pycache__"))
