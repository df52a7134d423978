from __future__ import annotations

import dataclasses
import os

import pytest

from stash_compreface.errors import SettingError
from stash_compreface.settings import (
    SETTING_BY_NAME,
    SETTINGS,
    Settings,
    normalize_url,
    parse_args,
    parse_settings,
    pick_plugin_settings,
)

KEY = "00000000-0000-0000-0000-000000000002"


def test_defaults_when_nothing_saved() -> None:
    s = parse_settings({})
    assert s == Settings()
    assert (s.max_batch_size, s.max_concurrency, s.min_similarity, s.min_face_size_px) == (20, 4, 0.81, 64)
    assert s.min_faces_for_new_performer == 2 and s.cooldown_s == 0 and s.dry_run is False


@pytest.mark.parametrize("value", [0.81, "0.81", 81, "81", "81%", 81.0])
def test_fractions_accept_fraction_string_and_percent(value: object) -> None:
    assert parse_settings({"minSimilarity": value}).min_similarity == pytest.approx(0.81)


def test_zero_is_a_real_value_not_a_default() -> None:
    s = parse_settings({"cooldownSeconds": 0, "minQualityScore": "0"})
    assert s.cooldown_s == 0 and s.min_quality_score == 0


def test_every_bad_value_is_reported_with_its_name_and_range() -> None:
    with pytest.raises(SettingError) as info:
        parse_settings({"minSimilarity": "high", "maxBatchSize": 0, "maxConcurrency": "many", "dryRun": "perhaps"})
    message = str(info.value)
    assert "minSimilarity must be a fraction 0..1" in message
    assert "maxBatchSize must be a whole number in 1..1000, got 0" in message
    assert "maxConcurrency must be a whole number in 1..32" in message
    assert "dryRun must be true or false" in message
    assert info.value.setting == "maxBatchSize"  # the first problem, in settings order


@pytest.mark.parametrize("value", [150, "2.5", -0.1, "nan", "high", True])
def test_out_of_range_or_ambiguous_fractions_rejected(value: object) -> None:
    with pytest.raises(SettingError, match="minConfidenceScore"):
        parse_settings({"minConfidenceScore": value})


def test_api_key_must_be_a_uuid() -> None:
    assert parse_settings({"recognitionApiKey": KEY}).recognition_api_key == KEY
    with pytest.raises(SettingError, match="recognitionApiKey must be the UUID"):
        parse_settings({"recognitionApiKey": "secret"})


@pytest.mark.parametrize("saved", [KEY, "not a uuid at all"])
def test_a_saved_verification_key_is_ignored(saved: str) -> None:
    # verificationApiKey was offered and never used: a value Stash still keeps parses as an unknown key.
    assert "verificationApiKey" not in SETTING_BY_NAME
    assert parse_settings({"verificationApiKey": saved, "recognitionApiKey": KEY}) == Settings(recognition_api_key=KEY)


def test_missing_recognition_key_names_the_setting() -> None:
    with pytest.raises(SettingError, match="recognitionApiKey is not set") as info:
        parse_settings({}).require_recognition_key()
    assert info.value.setting == "recognitionApiKey"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("compreface", "http://compreface:8000"),
        ("http://10.0.0.5", "http://10.0.0.5:8000"),
        ("http://10.0.0.5:80", "http://10.0.0.5:80"),
        ("https://faces.example.com/compreface/", "https://faces.example.com/compreface"),
        ("http://proxy/compreface", "http://proxy/compreface"),
        ("http://[fd00::5]:8000", "http://[fd00::5]:8000"),
        ("https://faces.example.com", "https://faces.example.com"),
    ],
)
def test_urls_keep_scheme_host_and_path(raw: str, expected: str) -> None:
    assert normalize_url(raw, "comprefaceUrl", 8000) == expected


@pytest.mark.parametrize(
    ("raw", "candidates"),
    [
        (None, ("http://compreface:80", "http://compreface-fe:80", "http://localhost:8000")),
        ("compreface-fe", ("http://compreface-fe:80", "http://compreface-fe:8000")),
        ("http://nas", ("http://nas:80", "http://nas:8000")),
        ("http://nas:8000", ("http://nas:8000",)),
        ("https://faces.example.com", ("https://faces.example.com",)),
        ("http://proxy/compreface", ("http://proxy/compreface",)),
    ],
)
def test_a_bare_compreface_host_tries_the_ports_compreface_listens_on(raw, candidates) -> None:
    assert parse_settings({"comprefaceUrl": raw}).compreface_candidates() == candidates


def test_url_setting_rejects_garbage() -> None:
    with pytest.raises(SettingError, match="comprefaceUrl"):
        parse_settings({"comprefaceUrl": "ftp://x"})


def test_settings_fall_back_to_the_original_plugin_id() -> None:
    assert pick_plugin_settings({"compreface-rpc": {"maxBatchSize": 5}}) == {"maxBatchSize": 5}
    assert pick_plugin_settings({"compreface": {"maxBatchSize": 7}, "compreface-rpc": {"maxBatchSize": 5}}) == {
        "maxBatchSize": 7
    }
    assert pick_plugin_settings({}) == {}


def test_task_args_arrive_as_strings_from_the_ui() -> None:
    args = parse_args({"mode": "identifyImage", "imageId": "12", "createPerformer": "false",
                       "associateExisting": "true", "limit": "0"})
    assert (args.image_id, args.create_performer, args.associate_existing, args.limit) == ("12", False, True, 0)


def test_task_args_typed_from_the_api() -> None:
    args = parse_args({"mode": "createPerformerFromImage", "imageId": 12, "faceIndex": 2.0,
                       "createPerformer": True})
    assert (args.image_id, args.face_index, args.create_performer) == ("12", 2, True)


def test_null_default_args_become_empty() -> None:
    assert parse_args({"mode": "identifyImage", "imageId": ""}).image_id == ""


def test_bad_task_args() -> None:
    with pytest.raises(SettingError, match="limit must be a whole number"):
        parse_args({"mode": "recognizeImagesHQ", "limit": "-3"})
    with pytest.raises(SettingError, match="imageId must be a Stash id"):
        parse_args({"mode": "identifyImage", "imageId": "abc"})
    with pytest.raises(SettingError, match="mode"):
        parse_args({})


def test_settings_defaults_are_the_table() -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    assert defaults == {spec.attr: spec.default for spec in SETTINGS}
    assert len({spec.name for spec in SETTINGS}) == len(SETTINGS) == len(defaults)


def test_every_setting_parses_its_own_default_shape() -> None:
    # Saving the documented default explicitly changes nothing (the UI stores numbers, strings, bools).
    raw = {spec.name: spec.default for spec in SETTINGS if spec.default not in (None, "")}
    assert parse_settings(raw) == Settings()


def test_frame_server_has_a_documented_default() -> None:
    assert parse_settings({}).frame_server_url == "http://vision-frame-server:5001"
    assert parse_settings({"frameServerUrl": ""}).frame_server_url == "http://vision-frame-server:5001"
    assert parse_settings({"frameServerUrl": "frames"}).frame_server_url == "http://frames:5001"


def test_request_timeout_setting() -> None:
    assert parse_settings({}).request_timeout_s == 30
    assert parse_settings({"requestTimeout": 120}).request_timeout_s == 120
    assert parse_settings({"requestTimeout": "7.5"}).request_timeout_s == 7.5
    for bad in (4, 601, "soon", True, [30]):
        with pytest.raises(SettingError, match=r"requestTimeout must be a number in 5\.\.600") as info:
            parse_settings({"requestTimeout": bad})
        assert info.value.setting == "requestTimeout"


def test_state_dir_setting(tmp_path) -> None:
    assert parse_settings({}).state_dir is None
    assert parse_settings({"stateDir": f" {tmp_path}/ "}).state_dir == str(tmp_path)
    assert parse_settings({"stateDir": "~/faces"}).state_dir == os.path.expanduser("~/faces")
    with pytest.raises(SettingError, match=r"stateDir must be an absolute folder path .*, got 'data'") as info:
        parse_settings({"stateDir": "data"})
    assert info.value.setting == "stateDir"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("comprefaceUrl", 8000, "comprefaceUrl must be an http(s) URL such as http://host:8000, got the number 8000"),
        ("stashHostUrl", ["http://stash:9999"], "stashHostUrl must be an http(s) URL such as http://host:9999, "
                                                "got a list"),
        ("recognitionApiKey", 12345, "recognitionApiKey must be the UUID key shown in CompreFace"),
        ("scannedTagName", {"name": "x"}, "scannedTagName must be a tag name, got an object"),
        ("stateDir", True, "stateDir must be an absolute folder path such as /config/compreface-state, "
                                 "got true (true/false)"),
        ("maxBatchSize", True, "maxBatchSize must be a whole number in 1..1000, got true (true/false)"),
        ("maxConcurrency", [4], "maxConcurrency must be a whole number in 1..32, got a list"),
        ("cooldownSeconds", {"s": 1}, "cooldownSeconds must be a number in 0..3600, got an object"),
        ("minSimilarity", [0.8], "minSimilarity must be a fraction 0..1 (e.g. 0.81) or a percent 0..100 (e.g. 81), "
                                 "got a list"),
        ("dryRun", "maybe", "dryRun must be true or false, got 'maybe'"),
        ("dryRun", {}, "dryRun must be true or false, got an object"),
    ],
)
def test_wrong_json_type_is_one_clear_error(name: str, value: object, message: str) -> None:
    with pytest.raises(SettingError) as info:
        parse_settings({name: value})
    assert str(info.value).startswith(f"Invalid plugin settings: {message}")  # one problem, said plainly
    assert info.value.setting == name


def test_wrong_types_are_reported_together_in_table_order() -> None:
    with pytest.raises(SettingError) as info:
        parse_settings({"dryRun": [], "comprefaceUrl": 8000, "maxBatchSize": {}, "unknownKey": object()})
    message = str(info.value)
    assert message.count(" must be ") == 3
    assert message.index("comprefaceUrl") < message.index("maxBatchSize") < message.index("dryRun")
    assert info.value.setting == "comprefaceUrl"


def test_api_key_errors_never_echo_the_value() -> None:
    with pytest.raises(SettingError) as info:
        parse_settings({"detectionApiKey": "my-secret-key"})
    assert "my-secret-key" not in str(info.value)


def test_url_errors_hide_credentials() -> None:
    with pytest.raises(SettingError) as info:
        parse_settings({"visionServiceUrl": "ftp://bob:hunter2@vision"})
    assert "hunter2" not in str(info.value) and "visionServiceUrl" in str(info.value)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"mode": "recognizeImagesHQ", "limit": [1]}, "limit must be a whole number in >= 0, got a list"),
        ({"mode": "identifyImage", "imageId": {"id": 1}}, "imageId must be a Stash id (a positive whole number), "
                                                          "got an object"),
        ({"mode": "identifyImage", "imageId": True}, "imageId must be a Stash id"),
        ({"mode": "identifyImage", "createPerformer": [True]}, "createPerformer must be true or false, got a list"),
        ({"mode": ["identifyImage"]}, "mode must be the name of a task mode, got a list"),
    ],
)
def test_task_args_of_the_wrong_type(raw: dict[str, object], message: str) -> None:
    with pytest.raises(SettingError, match="Invalid task arguments") as info:
        parse_args(raw)
    assert message in str(info.value)


def test_task_args_problems_reported_together() -> None:
    with pytest.raises(SettingError) as info:
        parse_args({"mode": "createPerformerFromImage", "imageId": [], "faceIndex": "x"})
    assert "imageId must be" in str(info.value) and "faceIndex must be" in str(info.value)
    assert info.value.setting == "imageId"


def test_task_args_that_are_not_an_object() -> None:
    with pytest.raises(SettingError, match="must be an object of names and values, got a list"):
        parse_args(["identifyImage"])  # type: ignore[arg-type]


def test_table_lookup_by_name() -> None:
    assert SETTING_BY_NAME["maxBatchSize"].attr == "max_batch_size"
    assert SETTING_BY_NAME["maxBatchSize"].range == "1-1000"
