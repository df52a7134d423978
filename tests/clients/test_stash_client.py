"""The Stash client against the Stash double, over real HTTP."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from typing import Any

import httpx
import pytest

from stash_compreface.errors import (
    AuthError,
    GraphQLError,
    MediaError,
    ProtocolError,
    ServiceError,
    ServiceUnavailable,
    Stopped,
)
from stash_compreface.stash.client import StashClient
from stash_compreface.stash.models import ItemKind
from testdoubles.stash import StashDouble, StashHandler
from tests.timeouts import ANSWERED_S, HUNG_ONLY_S

COOKIE = "MTcz-session-cookie-value"
LOCKED = "error executing `INSERT INTO images_tags`: sql: database is locked"


class ScriptedStash(StashDouble):
    """The Stash double plus dropped connections (a reset, a crashing proxy): a test-local hook."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.drop = 0  # close the next connections without an answer

    @property
    def seen(self) -> Counter[str]:
        return Counter(name for name, _ in self.operations)


class DroppingHandler(StashHandler):
    double: ScriptedStash  # type: ignore[assignment]

    def handle_request(self, method: str) -> None:
        with self.double.lock:
            drop = self.double.drop > 0
            self.double.drop -= drop
        if drop:
            self.read_body()
            self.close_connection = True
            return
        super().handle_request(method)


ScriptedStash.handler_class = DroppingHandler


@pytest.fixture
def stash():
    with ScriptedStash.running(session_cookie=COOKIE, external_host="http://stash.example.invalid:443") as double:
        yield double


@pytest.fixture
def client(stash):
    with StashClient(stash.url, session_cookie=COOKIE, retries=2, backoff_s=0.001, timeout_s=2) as c:
        yield c


def test_every_request_carries_the_cookie_and_json_accept(stash, client) -> None:
    client.plugin_configuration(["compreface"])
    client.find_images({"per_page": 5}, {})
    assert stash.requests_without_cookie == 0
    assert stash.auth_failures == 0


def test_plugin_settings_stash_api_key_and_plugins_folder(stash, client) -> None:
    stash.configure_plugin("compreface", {"maxBatchSize": 7})
    stash.plugins_path = "/root/.stash/plugins"
    config = client.plugin_configuration(["compreface", "compreface-rpc"])
    assert config.plugins == {"compreface": {"maxBatchSize": 7}}
    assert config.api_key == ""
    assert config.plugins_path == "/root/.stash/plugins"


def test_bulk_add_keeps_what_the_user_set(stash, client) -> None:
    user_tag = stash.add_tag("Favourite")
    alice = stash.add_performer("Alice")
    image = stash.add_image(b"x", tags=[user_tag], performers=[alice])
    ours = client.create_tag("Compreface Scanned")
    bob = stash.add_performer("Bob")
    client.update_items(ItemKind.IMAGE, [image], add_tags=[ours], add_performers=[bob])
    assert stash.tag_names("image", image) == {"Favourite", "Compreface Scanned"}
    assert set(stash.images[image].performer_ids) == {alice, bob}


def test_remove_and_add_of_tags_become_two_mutations(stash, client) -> None:
    a, b = stash.add_tag("A"), stash.add_tag("B")
    image = stash.add_image(b"x", tags=[a])
    before = stash.mutation_count()
    client.update_items(ItemKind.IMAGE, [image], add_tags=[b], remove_tags=[a])
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
    assert client.download(found.url, what="image").read() == b"\xff\xd8jpeg-bytes"


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
    assert stash.calls["POST /graphql"] == 3


def test_a_locked_database_is_retried_and_the_write_lands_once(stash, client) -> None:
    user_tag, ours = stash.add_tag("Favourite"), stash.add_tag("Compreface Scanned")
    image = stash.add_image(b"x", tags=[user_tag])
    stash.fail_operation("BulkImageUpdate", LOCKED, times=2)
    client.update_items(ItemKind.IMAGE, [image], add_tags=[ours])
    assert stash.seen["BulkImageUpdate"] == 3
    assert stash.tag_names("image", image) == {"Favourite", "Compreface Scanned"}
    assert not client.breaker.tripped and client.breaker.consecutive_failures == 0


@pytest.mark.parametrize("message", ["database is busy", "SQLITE_BUSY: database is locked (5)"])
def test_a_database_that_stays_locked_fails_the_item_only(stash, client, message: str) -> None:
    stash.fail_operation("FindImages", message, times=3)
    with pytest.raises(GraphQLError, match=r"busy|locked") as info:
        client.find_images({"per_page": 1}, {})
    assert info.value.retryable and stash.seen["FindImages"] == 3
    assert not client.breaker.tripped  # Stash answered: it is up
    assert client.find_images({"per_page": 1}, {})[0] == 0


def test_other_graphql_errors_are_not_retried(stash, client) -> None:
    stash.fail_operation("FindImages", "strconv.Atoi: parsing \"x\": invalid syntax", times=10)
    with pytest.raises(GraphQLError, match="invalid syntax") as info:
        client.find_images({"per_page": 1}, {})
    assert not info.value.retryable and stash.seen["FindImages"] == 1


def test_a_create_is_resent_when_refused_but_never_after_a_lost_answer(stash) -> None:
    with StashClient(stash.url, session_cookie=COOKIE, backoff_s=0.001, timeout_s=ANSWERED_S) as client:
        stash.fail_operation("TagCreate", LOCKED, times=1)  # rolled back: safe to send again
        tag_id = client.create_tag("First")
        assert stash.seen["TagCreate"] == 2 and stash.tag_id("First") == tag_id
        stash.hang("/graphql")  # no answer: it may have been created
        with pytest.raises(ServiceError, match="TagCreate in time") as info:
            client.create_tag("Second")
        assert isinstance(info.value.__cause__, httpx.TimeoutException)
        assert stash.wait_for_cut_off("POST /graphql") == 1
        assert stash.calls["POST /graphql"] == 3
        # The contract: the caller looks the tag up by name, then creates it if it is really missing.
        assert client.find_tag("Second") == stash.tag_id("Second")


def test_dropped_connections_and_timeouts_are_retried(stash) -> None:
    with StashClient(stash.url, session_cookie=COOKIE, backoff_s=0.001, timeout_s=ANSWERED_S) as client:
        stash.drop = 2
        assert client.find_images({"per_page": 1}, {})[0] == 0
        assert stash.calls["POST /graphql"] == 3
        stash.hang("/graphql", times=2)
        assert client.find_images({"per_page": 1}, {})[0] == 0
        assert stash.wait_for_cut_off("POST /graphql", 2) == 2, "the client gave up on both hung requests"
        assert stash.calls["POST /graphql"] == 6


@pytest.mark.parametrize(("html", "body", "problem"), [
    (True, None, "web page"),
    (False, None, "empty body"),
    (False, {"data": None}, "no `data`"),
    (False, {"extensions": {}}, "no `data`"),
], ids=["html", "empty", "null-data", "no-data"])
def test_a_200_without_data_is_a_protocol_error(stash, client, html, body, problem) -> None:
    stash.fail_next("/graphql", 200, html=html, body=body, times=3)
    with pytest.raises(ProtocolError, match=problem) as info:
        client.find_images({"per_page": 1}, {})
    assert info.value.retryable and info.value.setting == "stashHostUrl"
    stash.fail_next("/graphql", 200, html=html, body=body, times=1)
    assert client.find_images({"per_page": 1}, {})[0] == 0


def test_an_outage_trips_the_breaker_naming_the_setting(stash, client) -> None:
    stash.fail_next("/graphql", 503, times=1000)
    with pytest.raises(ServiceError):
        client.find_images({"per_page": 1}, {})
    with pytest.raises(ServiceUnavailable) as info:
        client.find_images({"per_page": 1}, {})
    assert str(info.value).startswith("Stash failed 5 times in a row")
    assert info.value.setting == "stashHostUrl" and str(info.value).endswith("stashHostUrl")
    image = stash.add_image(b"x")
    with pytest.raises(ServiceUnavailable):  # media too: it is the same Stash
        client.download(f"{stash.url}/image/{image}/image", what="image file")
    assert stash.calls["POST /graphql"] == 5 and stash.calls[f"GET /image/{image}/image"] == 0


def test_a_redirected_api_names_the_setting(stash, client) -> None:
    stash.fail_next("/graphql", 301, html=True)
    with pytest.raises(ServiceUnavailable, match="stashHostUrl"):
        client.find_images({"per_page": 1}, {})


def test_a_stop_interrupts_the_backoff(stash) -> None:
    stop = threading.Event()
    with StashClient(stash.url, session_cookie=COOKIE, backoff_s=3600, stop=stop) as client:
        stash.fail_next("/graphql", 502, times=5)
        threading.Timer(0.1, stop.set).start()
        with pytest.raises(Stopped) as info:
            client.find_images({"per_page": 1}, {})
        assert isinstance(info.value.__cause__, ServiceError)
        assert stash.calls["POST /graphql"] == 1


def test_media_gateway_errors_resets_and_timeouts_are_retried(stash) -> None:
    image = stash.add_image(b"\xff\xd8jpeg-bytes")
    url = f"{stash.url}/image/{image}/image"
    with StashClient(stash.url, session_cookie=COOKIE, backoff_s=0.001, timeout_s=ANSWERED_S) as client:
        stash.fail_next(f"/image/{image}/image", 502)
        stash.hang(f"/image/{image}/image")
        assert client.download(url, what="image file").read() == b"\xff\xd8jpeg-bytes"
        assert stash.wait_for_cut_off(f"GET /image/{image}/image") == 1
        stash.drop = 2
        assert client.download(url, what="image file").read() == b"\xff\xd8jpeg-bytes"
    assert stash.calls[f"GET /image/{image}/image"] == 6


def test_an_unreadable_file_is_a_media_error_at_once(stash, client) -> None:
    image = stash.add_image(b"x")
    stash.images[image].data = None  # Stash answers 500 with the error text (routes_image.go)
    with pytest.raises(MediaError, match=r"could not read the image file .*no such file"):
        client.download(f"{stash.url}/image/{image}/image", what="image file")
    assert stash.calls[f"GET /image/{image}/image"] == 1 and client.breaker.consecutive_failures == 0


def test_a_media_timeout_names_the_file(stash) -> None:
    image = stash.add_image(b"x")
    with StashClient(stash.url, session_cookie=COOKIE, backoff_s=0.001, timeout_s=HUNG_ONLY_S) as client:
        stash.hang(f"/image/{image}/image", times=3)
        with pytest.raises(ServiceError, match="did not answer the image file in time") as info:
            client.download(f"{stash.url}/image/{image}/image", what="image file")
        assert isinstance(info.value.__cause__, httpx.TimeoutException)
        assert stash.wait_for_cut_off(f"GET /image/{image}/image", 3) == 3  # default: 3 attempts


def test_unreachable_stash_names_the_setting() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with StashClient(f"http://127.0.0.1:{port}") as client, pytest.raises(ServiceUnavailable) as info:
        client.find_images({"per_page": 1}, {})
    assert info.value.setting == "stashHostUrl"


def test_fresh_session_cookie_is_kept(stash, client) -> None:
    """A run longer than the session: Stash re-issues the cookie, the old one expires, requests still pass."""
    old = stash.session_cookie
    stash.rotate_session_cookie()  # the next answer carries the fresh value in Set-Cookie
    client.find_images({"per_page": 1}, {})
    with stash.lock:
        stash.valid_cookies.discard(old)  # the session the plugin was started with expires
    client.find_images({"per_page": 1}, {})
    assert stash.auth_failures == 0


def test_performer_aliases_added_not_replaced(stash, client) -> None:
    p = stash.add_performer("Jane", aliases=["Janey"])
    client.update_performers([p], add_aliases=["Person 1 ABCDEFGHIJKLMNOP"])
    assert list(stash.performers[p].aliases) == ["Janey", "Person 1 ABCDEFGHIJKLMNOP"]
    assert [x.id for x in client.find_performers_named("Person 1 ABCDEFGHIJKLMNOP")] == [p]
