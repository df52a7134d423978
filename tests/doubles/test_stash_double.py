"""The Stash double over real HTTP: if it drifts from Stash's semantics, plugin tests prove nothing."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from testdoubles import stash as stash_module
from testdoubles.stash import SCHEMA_PATH, SchemaMissing, StashDouble
from tests import localhttp

DOCS = Path(__file__).resolve().parents[2] / "src" / "stash_compreface" / "stash" / "graphql"


def doc(name: str) -> str:
    return (DOCS / f"{name}.graphql").read_text(encoding="utf-8")


def jpeg(width: int = 32, height: int = 24) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def stash() -> Iterator[StashDouble]:
    with StashDouble.running() as double:
        yield double


@pytest.fixture
def client(stash: StashDouble) -> Iterator[httpx.Client]:
    with localhttp.Client(
        base_url=stash.url, headers={"Accept": "application/json"}, follow_redirects=False, timeout=5
    ) as http:
        yield http


def gql(
    client: httpx.Client, query: str, variables: dict[str, Any] | None = None, operation: str | None = None
) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables or {}, "operationName": operation})
    assert response.status_code == 200, response.text
    return response.json()


def find_images(
    client: httpx.Client, find: dict[str, Any] | None = None, image_filter: dict[str, Any] | None = None
) -> tuple[int, list[str]]:
    body = gql(client, doc("FindImages"), {"filter": find, "image_filter": image_filter}, "FindImages")
    assert "errors" not in body, body
    result = body["data"]["findImages"]
    return result["count"], [image["id"] for image in result["images"]]


def errors_of(body: dict[str, Any]) -> list[str]:
    return [e["message"] for e in body.get("errors") or []]


# ------------------------------------------------------------------------------------- paging


def test_paging_is_one_based_with_stash_per_page_rules(stash, client):
    for _ in range(30):
        stash.add_image(jpeg())
    assert find_images(client, None)[0] == 30
    assert len(find_images(client, None)[1]) == 25, "per_page null means 25, even with no filter"
    assert find_images(client, {"per_page": 10, "page": 0, "sort": "id"}) == find_images(
        client, {"per_page": 10, "page": 1, "sort": "id"}
    )
    assert find_images(client, {"per_page": 10, "page": -3, "sort": "id"})[1][0] == "1"
    assert find_images(client, {"per_page": 10, "page": 3, "sort": "id"})[1] == [str(i) for i in range(21, 31)]
    assert find_images(client, {"per_page": 10, "page": 4, "sort": "id"}) == (30, [])
    assert len(find_images(client, {"per_page": -1, "page": 3})[1]) == 30, "negative means all, page ignored"
    assert find_images(client, {"per_page": 0}) == (30, []), "0 gives an empty page with the true count"
    assert find_images(client, {"per_page": 5, "sort": "id", "direction": "DESC"})[1] == ["30", "29", "28", "27", "26"]


def test_id_cursor_walks_every_image_once(stash, client):
    done = stash.add_tag("done")
    for i in range(53):
        stash.add_image(jpeg(), tags=[done] if i % 4 == 0 else ())
    seen, last = [], 0
    while True:
        count, ids = find_images(
            client,
            {"per_page": 20, "sort": "id"},
            {"id": {"value": last, "modifier": "GREATER_THAN"}, "tags": {"value": [done], "modifier": "EXCLUDES"}},
        )
        if not ids:
            break
        assert count == sum(1 for i in range(last + 1, 54) if (i - 1) % 4 != 0)
        seen += ids
        last = int(ids[-1])
    assert seen == [str(i) for i in range(1, 54) if (i - 1) % 4 != 0]
    assert find_images(client, {"per_page": -1}, {"id": {"value": 5, "value2": 7, "modifier": "BETWEEN"}})[1] == [
        "5",
        "6",
        "7",
    ]
    assert find_images(client, {"per_page": -1}, {"id": {"value": 5, "modifier": "LESS_THAN"}})[0] == 4


def test_unknown_sort_is_an_error_and_root_data_is_null(stash, client):
    stash.add_image(jpeg())
    body = gql(client, doc("FindImages"), {"filter": {"sort": "bogus"}}, "FindImages")
    assert errors_of(body) == ["invalid sort: bogus"]
    assert body["data"] is None, "findImages is non-null, so the whole data goes null"
    assert stash.unsupported == [], "a sort Stash itself refuses is not a gap in the double"


def test_single_lookup_of_unknown_id_is_null_and_non_numeric_is_an_error(stash, client):
    assert gql(client, doc("FindImage"), {"id": "42"}, "FindImage") == {"data": {"findImage": None}}
    body = gql(client, doc("FindImage"), {"id": "abc"}, "FindImage")
    assert errors_of(body) == ['strconv.Atoi: parsing "abc": invalid syntax']
    assert body["data"] == {"findImage": None}


# ------------------------------------------------------------------------------------ filters


@pytest.fixture
def tagged(stash):
    """Images 1..5: {a}, {a, b}, {b}, {}, {c}."""
    a, b, c = stash.add_tag("a"), stash.add_tag("b"), stash.add_tag("c")
    for tags in ([a], [a, b], [b], [], [c]):
        stash.add_image(jpeg(), tags=tags)
    return a, b, c


def tag_filter(client, criterion: dict[str, Any]) -> list[str]:
    return find_images(client, {"per_page": -1, "sort": "id"}, {"tags": criterion})[1]


def test_tag_filter_modifiers_follow_stash(stash, client, tagged):
    a, b, _ = tagged
    assert tag_filter(client, {"value": [a, b], "modifier": "INCLUDES"}) == ["1", "2", "3"]
    assert tag_filter(client, {"value": [a, b], "modifier": "INCLUDES_ALL"}) == ["2"]
    assert tag_filter(client, {"value": [a], "modifier": "EXCLUDES"}) == ["3", "4", "5"], "untagged kept"
    assert tag_filter(client, {"value": [], "modifier": "INCLUDES_ALL", "excludes": [b], "depth": 0}) == ["1", "4", "5"]
    assert tag_filter(client, {"value": [a], "modifier": "INCLUDES", "excludes": [b]}) == ["1"]
    assert tag_filter(client, {"value": [], "modifier": "INCLUDES"}) == ["1", "2", "3", "4", "5"]
    assert tag_filter(client, {"value": ["999"], "modifier": "INCLUDES_ALL"}) == []
    assert tag_filter(client, {"value": [a], "modifier": "INCLUDES", "depth": -1}) == ["1", "2"]


def test_tag_filter_errors_match_stash(stash, client, tagged):
    a = tagged[0]
    body = gql(client, doc("FindImages"), {"image_filter": {"tags": {"value": [a], "modifier": "NOT_EQUALS"}}})
    assert errors_of(body) == ["not equals modifier is not supported for hierarchical multi criterion input"]
    body = gql(client, doc("FindImages"), {"image_filter": {"galleries": {"value": ["1"], "modifier": "NOT_EQUALS"}}})
    assert errors_of(body) == ["not equals modifier is not supported for multi criterion input"]


UNMODELLED = [  # real Stash accepts each of these; the plugin sends none of them
    (doc("FindImages"), {"image_filter": {"studios": {"value": ["1"], "modifier": "INCLUDES"}}}),
    (doc("FindImages"), {"image_filter": {"tags": {"value": ["1"], "modifier": "EQUALS"}}}),
    (doc("FindImages"), {"image_filter": {"is_missing": "cover"}}),
    (doc("FindImages"), {"filter": {"sort": "title"}}),
    (doc("FindImages"), {"filter": {"q": "beach"}}),
    (doc("FindPerformers"), {"performer_filter": {"name": {"value": "x", "modifier": "MATCHES_REGEX"}}}),
    (doc("BulkImageUpdate"), {"input": {"ids": ["1"], "tag_ids": {"ids": ["1"], "mode": "SET"}}}),
    (doc("BulkImageUpdate"), {"input": {"ids": ["1"], "rating100": 80}}),
    (doc("PerformerCreate"), {"input": {"name": "New", "image": "https://example.com/a.jpg"}}),
    (doc("PerformerCreate"), {"input": {"name": "New", "alias_list": ["Newbie"]}}),
    ("query { findImages(ids: [1]) { count } }", {}),
    ("query { findImage(id: 1) { id created_at } }", {}),
    ("query { findImage(id: 1) { id @include(if: true) } }", {}),
    ("mutation { imageUpdate(input: {id: 1, title: \"t\"}) { id } }", {}),
    ("query { version { version } }", {}),
    ("query { ...F } fragment F on Query { findTags { count } }", {}),
]


@pytest.mark.parametrize("query,variables", UNMODELLED)
def test_what_the_plugin_never_sends_fails_loudly(stash, client, tagged, query, variables):
    """A blind SET or any other unmodelled request fails the test that sent it, instead of passing untested."""
    stash.add_image(jpeg())
    body = gql(client, query, variables)
    assert len(errors_of(body)) == 1 and "stash double:" in errors_of(body)[0], body
    assert "is not implemented" in errors_of(body)[0]
    assert stash.unsupported == errors_of(body)
    assert stash.tag_names("image", "1") == {"a"} and stash.performer_by_name("New") is None, "nothing written"


def test_sub_filters_combine_and_at_most_one_per_level(stash, client, tagged):
    a, b, c = tagged
    either = {
        "tags": {"value": [a], "modifier": "INCLUDES_ALL"},
        "OR": {"tags": {"value": [c], "modifier": "INCLUDES"}},
    }
    assert find_images(client, {"per_page": -1, "sort": "id"}, either)[1] == ["1", "2", "5"]
    negated = {"NOT": {"tags": {"value": [a, b], "modifier": "INCLUDES"}}}
    assert find_images(client, {"per_page": -1}, negated)[1] == ["4", "5"]
    both = {"AND": {"tags": {"value": [a], "modifier": "INCLUDES"}}, "OR": {"id": {"value": 1, "modifier": "EQUALS"}}}
    body = gql(client, doc("FindImages"), {"image_filter": both})
    assert errors_of(body) == ["cannot have AND and OR in the same filter"]


def test_string_criteria_use_like_semantics(stash, client):
    for name in ("Beach Day", "beach_night", "Sea"):
        stash.add_performer(name, aliases=["Person 7 ABC"] if name == "Sea" else ())

    def names(criterion: dict[str, Any], key: str = "name") -> list[str]:
        variables = {"filter": {"per_page": -1, "sort": "id"}, "performer_filter": {key: criterion}}
        body = gql(client, doc("FindPerformers"), variables, "FindPerformers")
        return [p["name"] for p in body["data"]["findPerformers"]["performers"]]

    assert names({"value": "beach day", "modifier": "EQUALS"}) == ["Beach Day"], "case-insensitive LIKE"
    assert names({"value": "beach%", "modifier": "EQUALS"}) == ["Beach Day", "beach_night"], "% is a wildcard"
    assert names({"value": "beach_day", "modifier": "EQUALS"}) == ["Beach Day"], "_ matches one character"
    assert names({"value": "night day", "modifier": "INCLUDES"}) == ["Beach Day", "beach_night"], "any word"
    assert names({"value": '"beach day"', "modifier": "INCLUDES"}) == ["Beach Day"], "quoted phrase"
    assert names({"value": "person", "modifier": "INCLUDES"}, "aliases") == ["Sea"]
    bad = {"name": {"value": "x", "modifier": "INCLUDES_ALL"}}
    body = gql(client, doc("FindPerformers"), {"performer_filter": bad})
    assert errors_of(body) == ["Internal system error. Error <unsupported string filter modifier>"]


def test_performer_filters_name_aliases_and_default_order(stash, client):
    stash.add_performer("Bob")
    stash.add_performer("Alice", aliases=["Ally"], image=jpeg())
    stash.add_performer("Carol")

    def names(performer_filter: dict[str, Any]) -> list[str]:
        body = gql(client, doc("FindPerformers"), {"filter": {"per_page": -1}, "performer_filter": performer_filter})
        return [p["name"] for p in body["data"]["findPerformers"]["performers"]]

    assert names({"aliases": {"value": "ally", "modifier": "EQUALS"}}) == ["Alice"]
    assert names({"name": {"value": "BOB", "modifier": "EQUALS"}}) == ["Bob"]
    either = {"name": {"value": "bob", "modifier": "INCLUDES"},
              "OR": {"aliases": {"value": "all", "modifier": "INCLUDES"}}}
    assert names(either) == ["Alice", "Bob"]
    assert names({}) == ["Alice", "Bob", "Carol"], "performers default to name order"


# ---------------------------------------------------------------------------------- mutations


def test_bulk_update_adds_and_removes(stash, client):
    a, b = stash.add_tag("a"), stash.add_tag("b")
    one, two = stash.add_image(jpeg(), tags=[a]), stash.add_image(jpeg())

    def bulk(ids: list[Any], mode: str, tags: list[str]) -> dict[str, Any]:
        return gql(
            client,
            doc("BulkImageUpdate"),
            {"input": {"ids": ids, "tag_ids": {"ids": tags, "mode": mode}}},
            "BulkImageUpdate",
        )

    assert bulk([one, int(two)], "ADD", [b, b])["data"]["bulkImageUpdate"] == [{"id": one}, {"id": two}]
    assert stash.tag_names("image", one) == {"a", "b"} and stash.tag_names("image", two) == {"b"}
    bulk([one, two], "REMOVE", [a, "99"])
    assert stash.tag_names("image", one) == {"b"} and stash.tag_names("image", two) == {"b"}
    assert stash.mutation_count("BulkImageUpdate") == 2 and stash.mutation_count("tagCreate") == 0


def test_bulk_update_is_one_transaction(stash, client):
    a = stash.add_tag("a")
    one = stash.add_image(jpeg())
    body = gql(client, doc("BulkImageUpdate"), {"input": {"ids": [one, "7"], "tag_ids": {"ids": [a], "mode": "ADD"}}})
    assert errors_of(body) == ["image with id 7 not found"] and body["data"] == {"bulkImageUpdate": None}
    body = gql(client, doc("BulkImageUpdate"), {"input": {"ids": [one], "tag_ids": {"ids": [a, "55"], "mode": "ADD"}}})
    assert "FOREIGN KEY constraint failed" in errors_of(body)[0]
    assert stash.tag_names("image", one) == set(), "nothing was written"
    body = gql(client, doc("BulkImageUpdate"), {"input": {"ids": ["x"], "tag_ids": {"ids": [a], "mode": "ADD"}}})
    assert errors_of(body) == ['converting ids: strconv.Atoi: parsing "x": invalid syntax']


def test_tag_create_trims_and_refuses_blank_or_duplicate_names(stash, client):
    body = gql(client, doc("TagCreate"), {"name": "  Faces: Seen  "}, "TagCreate")
    assert body["data"]["tagCreate"] == {"id": "1", "name": "Faces: Seen"}
    assert errors_of(gql(client, doc("TagCreate"), {"name": "faces: seen"})) == [
        "tag with name 'faces: seen' already exists"
    ]
    assert errors_of(gql(client, doc("TagCreate"), {"name": "   "})) == ["tag name must not be blank"]
    stash.add_tag("Person", aliases=["Human"])
    assert errors_of(gql(client, doc("TagCreate"), {"name": "human"})) == ["name 'human' is used as alias for 'Person'"]
    found = gql(client, doc("FindTagByName"), {"name": "FACES: SEEN"})["data"]["findTags"]["tags"]
    assert found == [{"id": "1", "name": "Faces: Seen"}]
    assert stash.tag_id("faces: seen") == "1"


def test_performer_create_and_alias_rules(stash, client):
    stash.add_performer("Alice")
    body = gql(client, doc("PerformerCreate"), {"input": {"name": "ALICE"}}, "PerformerCreate")
    assert errors_of(body) == ["performer with name 'ALICE' already exists"]
    image = "data:image/jpeg;base64," + base64.b64encode(jpeg()).decode()
    body = gql(client, doc("PerformerCreate"), {"input": {"name": " Carol ", "image": image}})
    assert body["data"]["performerCreate"] == {"id": "2", "name": "Carol"}
    assert stash.performer_by_name("carol").image == jpeg()
    bulk = {"input": {"ids": ["2"], "alias_list": {"values": ["Caz", "Caz"], "mode": "ADD"}}}
    assert gql(client, doc("BulkPerformerUpdate"), bulk)["data"]["bulkPerformerUpdate"] == [
        {"id": "2", "alias_list": ["Caz"]}
    ]
    bulk["input"]["alias_list"] = {"values": ["carol"], "mode": "ADD"}
    assert errors_of(gql(client, doc("BulkPerformerUpdate"), bulk)) == ["performer contains duplicate alias 'carol'"]
    assert stash.performers["2"].aliases == ["Caz"]


def test_performer_image_path_marks_and_serves_the_placeholder(stash, client):
    bare = stash.add_performer("Bare")
    pictured = stash.add_performer("Pictured", image=jpeg())
    body = gql(client, doc("FindPerformers"), {"filter": {"per_page": -1, "sort": "id"}})
    paths = [p["image_path"] for p in body["data"]["findPerformers"]["performers"]]
    assert paths[0].endswith("&default=true") and "default=true" not in paths[1]
    placeholder = client.get(f"/performer/{bare}/image")
    assert placeholder.status_code == 200 and placeholder.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(placeholder.content)).size == (200, 300)
    assert client.get(f"/performer/{pictured}/image").content == jpeg()


# ---------------------------------------------------------------------------- media and URLs


def test_media_routes(stash, client):
    big = io.BytesIO()
    Image.new("RGB", (1280, 960)).save(big, "PNG")
    image = stash.add_image(big.getvalue())
    missing = stash.add_image(None)
    unreadable = stash.add_image(None, path="/gone/x.jpg")
    clip = stash.add_image(b"\x00\x00\x00\x18ftypmp42", video=True)
    assert client.get(f"/image/{image}/image").headers["content-type"] == "image/png"
    assert client.get(f"/image/{missing}/image").status_code == 404
    assert client.get(f"/image/{unreadable}/image").status_code == 500
    assert client.get(f"/image/{clip}/image").headers["content-type"] == "video/mp4"
    body = gql(client, doc("FindImage"), {"id": clip})["data"]["findImage"]
    assert body["visual_files"][0]["__typename"] == "VideoFile"

    with_sprite = stash.add_scene("s", sprite=jpeg(), vtt="WEBVTT\n\n")
    stash.add_scene("t")
    scenes = gql(client, doc("FindScenes"), {"filter": {"per_page": -1, "sort": "id"}})["data"]["findScenes"]["scenes"]
    sprite, vtt = (httpx.URL(scenes[0]["paths"][k]).path for k in ("sprite", "vtt"))
    assert client.get(sprite).content == jpeg()
    assert client.get(vtt).headers["content-type"] == "text/vtt"
    assert client.get(httpx.URL(scenes[1]["paths"]["sprite"]).path).status_code == 404
    assert scenes[0]["id"] == with_sprite
    assert scenes[0]["files"] == [{"path": "/data/scenes/000001.mp4", "duration": 60.0}]


def test_external_host_and_stream_api_key_appear_in_paths():
    with StashDouble.running(api_key="k3y", external_host="https://stash.example.com") as stash:
        stash.add_image(jpeg())
        stash.add_scene("s")
        stash.add_performer("p")
        headers = {"ApiKey": "k3y", "Accept": "application/json"}
        with localhttp.Client(base_url=stash.url, headers=headers) as http:
            image = gql(http, doc("FindImage"), {"id": "1"})["data"]["findImage"]
            scene = gql(http, doc("FindScenes"), {})["data"]["findScenes"]["scenes"][0]
            performer = gql(http, doc("FindPerformer"), {"id": "1"})["data"]["findPerformer"]
    assert image["paths"]["image"].startswith("https://stash.example.com/image/1/image?t=")
    assert scene["paths"]["stream"] == "https://stash.example.com/scene/1/stream?apikey=k3y"
    assert performer["image_path"].startswith("https://stash.example.com/performer/1/image?t=")


def test_paths_use_the_request_host_without_external_host(stash, client):
    stash.add_image(jpeg())
    image = gql(client, doc("FindImage"), {"id": "1"})["data"]["findImage"]
    assert image["paths"]["image"].startswith(f"http://127.0.0.1:{stash.port}/image/1/image?t=")


# ------------------------------------------------------------------------ transport and errors


def test_validation_errors_use_422_or_400_by_accept(stash):
    bad = {"query": "{ findImages { nope } }"}
    with localhttp.Client(base_url=stash.url) as http:
        default = http.post("/graphql", json=bad)  # httpx sends Accept: */*
        as_json = http.post("/graphql", json=bad, headers={"Accept": "application/json"})
        bare = http.post("/graphql", json=bad, headers={"Accept": ""})
    assert default.status_code == 400 and default.headers["content-type"] == "application/graphql-response+json"
    assert as_json.status_code == 422 and as_json.headers["content-type"] == "application/json"
    assert bare.status_code == 422
    assert as_json.json()["data"] is None
    assert as_json.json()["errors"][0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert default.headers["cache-control"] == "no-store"


def test_parse_errors_and_transport_errors(stash, client):
    parse = client.post("/graphql", json={"query": "{ findImages("})
    assert parse.status_code == 422
    assert parse.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert parse.json()["errors"][0]["locations"]
    plain = client.post(
        "/graphql", content=b'{"query": "{ findTags { count } }"}', headers={"Content-Type": "text/plain"}
    )
    assert plain.status_code == 400 and plain.json()["errors"][0]["message"] == "transport not supported"
    garbled = client.post("/graphql", content=b"{not json", headers={"Content-Type": "application/json"})
    assert garbled.status_code == 400
    assert garbled.json()["errors"][0]["message"].startswith("json request body could not be decoded")


def test_the_schema_is_the_repositorys_copy_of_develop():
    repository = Path(__file__).resolve().parents[2]
    assert repository / "tests" / "reference" / "stash-schema-develop.graphqls" == SCHEMA_PATH
    assert SCHEMA_PATH.read_text(encoding="utf-8").startswith("# Stash GraphQL schema")


def test_double_refuses_to_start_without_the_schema_file(monkeypatch, tmp_path):
    """No schema, no double: validation never silently stops (a fresh clone checks what CI checks)."""
    monkeypatch.setattr(stash_module, "SCHEMA_PATH", tmp_path / "absent.graphql")
    stash_module.load_schema.cache_clear()
    try:
        with pytest.raises(SchemaMissing, match=r"absent\.graphql is missing"):
            StashDouble()
    finally:
        stash_module.load_schema.cache_clear()


def test_variable_values_are_checked_against_the_schema(stash, client):
    bad_mode = {"input": {"ids": ["1"], "tag_ids": {"ids": ["1"], "mode": "MERGE"}}}
    response = client.post("/graphql", json={"query": doc("BulkImageUpdate"), "variables": bad_mode})
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == ["variable", "input"]
    assert stash.mutation_count() == 0, "an invalid operation never runs"


def test_plugin_configuration_reports_only_non_empty_included_settings():
    settings = {"faces": {"serviceUrl": "http://cf:8000", "dryRun": True}, "other": {}}
    with (
        StashDouble.running(plugin_settings=settings) as stash,
        localhttp.Client(base_url=stash.url, headers={"Accept": "application/json"}) as http,
    ):
        body = gql(http, doc("PluginConfiguration"), {"include": ["faces", "other", "absent"]})
        assert body["data"]["configuration"] == {
            "general": {"apiKey": "", "pluginsPath": "", "databasePath": "/root/.stash/stash-go.sqlite"},
            "plugins": {"faces": {"serviceUrl": "http://cf:8000", "dryRun": True}},
        }
        assert stash.operations[-1] == ("PluginConfiguration", {"include": ["faces", "other", "absent"]})


# ------------------------------------------------------------------------------------------ auth


def test_auth_rules_when_credentials_are_configured():
    with StashDouble.running(api_key="secret", session_cookie="good") as stash:
        stash.add_image(jpeg())
        with localhttp.Client(base_url=stash.url, follow_redirects=False) as http:
            query = {"query": "{ findTags { count } }"}
            anonymous = http.post("/graphql", json=query)
            assert anonymous.status_code == 401 and anonymous.content == b""
            assert anonymous.headers["www-authenticate"] == "FormBased"
            redirect = http.get("/image/1/image")
            assert redirect.status_code == 302
            assert redirect.headers["location"] == "/login?returnURL=%2Fimage%2F1%2Fimage"
            assert http.get("/scene/ab_sprite.jpg").status_code == 401, "paths with an extension get 401"
            assert http.get("/login").headers["content-type"].startswith("text/html")
            assert http.post("/graphql", json=query, headers={"Cookie": "session=stale"}).status_code == 401
            assert (
                http.post("/graphql", json=query, headers={"ApiKey": "wrong", "Cookie": "session=good"}).status_code
                == 401
            )
            ok = http.post("/graphql", json=query, headers={"Cookie": "session=good"})
            assert ok.status_code == 200 and "session=good" in ok.headers["set-cookie"]
            assert http.get("/image/1/image", params={"apikey": "secret"}).status_code == 200
            assert http.get("/image/1/image", headers={"ApiKey": "secret"}).status_code == 200
        assert stash.auth_failures == 5
        # The first four carried no cookie; after the Set-Cookie answer httpx's jar sends it along.
        assert stash.requests_without_cookie == 4


def test_wrong_api_key_is_refused_even_without_credentials(stash, client):
    assert client.post("/graphql", json={"query": "{ findTags { count } }"}).status_code == 200
    refused = client.post("/graphql", json={"query": "{ findTags { count } }"}, headers={"ApiKey": "guess"})
    assert refused.status_code == 401
    assert stash.requests_without_cookie == 2
