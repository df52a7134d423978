from __future__ import annotations

import pytest

from stash_compreface.errors import SettingError
from stash_compreface.settings import (
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
    assert s.cooldown_s == 0 and s.min_quality == 0


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


def test_missing_recognition_key_names_the_setting() -> None:
    with pytest.raises(SettingError, match="recognitionApiKey is not set") as info:
        parse_settings({}).require_recognition_key()
    assert info.value.setting == "recognitionApiKey"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("compreface", "http://compreface:8000"),
        ("http://10.0.0.5", "http://10.0.0.5:8000"),
        ("https://faces.example.com/compreface/", "https://faces.example.com/compreface"),
        ("http://proxy/compreface", "http://proxy/compreface"),
        ("http://[fd00::5]:8000", "http://[fd00::5]:8000"),
        ("https://faces.example.com", "https://faces.example.com"),
    ],
)
def test_urls_keep_scheme_host_and_path(raw: str, expected: str) -> None:
    assert normalize_url(raw, "comprefaceUrl", 8000) == expected


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
