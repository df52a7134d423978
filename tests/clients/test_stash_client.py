"""The Stash client against the Stash double, over real HTTP."""

from __future__ import annotations

import socket

import pytest

from stash_compreface.errors import AuthError, GraphQLError, MediaError, ServiceUnavailable
from stash_compreface.stash.client import StashClient
from testdoubles.stash import StashDouble

COOKIE = "MTcz-session-cookie-value"


@pytest.fixture
def stash():
    with StashDouble.running(session_cookie=COOKIE, external_host="http://stash.example.invalid:443") as double:
        yield double


@pytest.fixture
def client(stash):
    with StashClient(stash.url, session_cookie=COOKIE, retries=2) as c:
        yield c


def test_every_request_carries_the_cookie_and_json_accept(stash, client) -> None:
    client.plugin_configuration(["compreface"])
    client.find_images({"per_page": 5}, {})
    assert stash.requests_without_cookie == 0
    assert stash.auth_failures == 0


def test_plugin_settings_and_stash_api_key(stash, client) -> None:
    stash.configure_plugin("compreface", {"maxBatchSize": 7})
    api_key, plugins = client.plugin_configuration(["compreface", "compreface-rpc"])
    assert plugins == {"compreface": {"maxBatchSize": 7}}
    assert api_key == ""


def test_bulk_add_keeps_what_the_user_set(stash, client) -> None:
    user_tag = stash.add_tag("Favourite")
    alice = stash.add_performer("Alice")
    image = stash.add_image(b"x", tags=[user_tag], performers=[alice])
    ours = client.create_tag("Compreface Scanned")
    bob = stash.add_performer("Bob")
    client.update_images([image], add_tags=[ours], add_performers=[bob])
    assert stash.tag_names("image", image) == {"Favourite", "Compreface Scanned"}
    assert set(stash.images[image].performer_ids) == {alice, bob}


def test_remove_and_add_of_tags_become_two_mutations(stash, client) -> None:
    a, b = stash.add_tag("A"), stash.add_tag("B")
    image = stash.add_image(b"x", tags=[a])
    before = stash.mutation_count()
    client.update_images([image], add_tags=[b], remove_tags=[a])
    assert stash.mutation_count() - before == 2
    assert stash.tag_names("image", image) == {"B"}


def test_graphql_errors_are_raised_typed(stash, client) -> None:
    stash.add_tag("Dup")
    with pytest.raises(GraphQLError, match="already exists"):
        client.create_tag("Dup")


def test_tag_lookup_is_exact_despite_like_wildcards(stash, client) -> None:
    stash.add_tag("Compreface_Scanned")
    assert client.find_tag("Compreface Scanned") is None


def test_media_urls_are_rebased_onto_our_base(stash, client) -> None:
    image = stash.add_image(b"\xff\xd8jpeg-bytes")
    found = client.find_image(image)
    assert found is not None and found.url.startswith("http://stash.example.invalid")
    assert client.download(found.url, what="image") == b"\xff\xd8jpeg-bytes"


def test_missing_file_is_a_media_error(stash, client) -> None:
    image = stash.add_image(None)
    found = client.find_image(image)
    with pytest.raises(MediaError, match="404"):
        client.download(found.url, what="image file")


def test_login_redirect_is_an_auth_error_not_an_image(stash) -> None:
    image = stash.add_image(b"x")
    with StashClient(stash.url, session_cookie="expired") as client, pytest.raises(AuthError):
        client.download(f"{stash.url}/image/{image}/image", what="image file")


def test_401_on_graphql_is_an_auth_error(stash) -> None:
    with StashClient(stash.url, session_cookie=None) as client, pytest.raises(AuthError, match="session"):
        client.find_images({"per_page": 1}, {})


def test_5xx_is_retried_then_succeeds(stash, client) -> None:
    stash.fail_next("/graphql", 502, times=2)
    count, _ = client.find_images({"per_page": 1}, {})
    assert count == 0


def test_unreachable_stash_names_the_setting() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with StashClient(f"http://127.0.0.1:{port}") as client, pytest.raises(ServiceUnavailable) as info:
        client.find_images({"per_page": 1}, {})
    assert info.value.setting == "stashHostUrl"


def test_fresh_session_cookie_is_kept(stash, client) -> None:
    client.find_images({"per_page": 1}, {})
    new = stash.rotate_session_cookie(expire_old=True)
    client._cookie = new  # what Set-Cookie would have delivered
    client.find_images({"per_page": 1}, {})
    assert stash.auth_failures == 0


def test_performer_aliases_added_not_replaced(stash, client) -> None:
    p = stash.add_performer("Jane", aliases=["Janey"])
    client.update_performers([p], add_aliases=["Person 1 ABCDEFGHIJKLMNOP"])
    assert list(stash.performers[p].aliases) == ["Janey", "Person 1 ABCDEFGHIJKLMNOP"]
    assert [x.id for x in client.find_performers_named("Person 1 ABCDEFGHIJKLMNOP")] == [p]
