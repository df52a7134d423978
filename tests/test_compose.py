"""The example docker-compose.yaml and the plugin's defaults agree: with comprefaceUrl empty, the plugin in the
Stash container reaches the CompreFace the compose file starts, and the file is fit to run unattended."""

from __future__ import annotations

from pathlib import Path

import yaml

from stash_compreface.settings import COMPREFACE_AUTO_URLS, parse_settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yaml").read_text(encoding="utf-8"))
SERVICES: dict = COMPOSE["services"]


def _compreface_entry() -> tuple[str, dict]:
    """The service that answers CompreFace's API: its front end (multi-container) or the single container."""
    entries = [(name, service) for name, service in SERVICES.items()
               if service["image"].split(":")[0] in ("exadel/compreface-fe", "exadel/compreface")]
    assert len(entries) == 1, entries
    return entries[0]


def _port_mapping(service: dict) -> tuple[int, int]:
    """(host port, container port) of a "host:container" ports entry."""
    (mapping,) = service["ports"]
    host, container = str(mapping).split(":")[-2:]
    return int(host), int(container)


def test_the_default_addresses_reach_the_compreface_of_the_compose_file() -> None:
    name, service = _compreface_entry()
    host_port, container_port = _port_mapping(service)
    defaults = parse_settings({}).compreface_candidates()
    assert defaults == COMPREFACE_AUTO_URLS
    assert f"http://{name}:{container_port}" in defaults  # from the Stash container, on the compose network
    assert f"http://localhost:{host_port}" in defaults  # from the host (the command line, a Stash outside Docker)
    assert "stash" in SERVICES and name in SERVICES["stash"].get("depends_on", [])


def test_a_bare_host_of_the_compose_file_reaches_its_port() -> None:
    """A user who types the service name alone (no port) still reaches it: the bare host tries port 80 first."""
    name, service = _compreface_entry()
    _, container_port = _port_mapping(service)
    assert f"http://{name}:{container_port}" in parse_settings({"comprefaceUrl": name}).compreface_candidates()
    assert f"http://{name}:{container_port}" in parse_settings({"comprefaceUrl": f"http://{name}"}) \
        .compreface_candidates()


def test_the_compose_comment_names_the_address_the_plugin_uses() -> None:
    name, service = _compreface_entry()
    _, container_port = _port_mapping(service)
    text = (ROOT / "docker-compose.yaml").read_text(encoding="utf-8")
    assert f"http://{name}:{container_port}" in text and "compreface:8000" not in text
    assert "AVX" in text  # CompreFace's CPU requirement, said before the first start fails


def test_images_are_pinned_logs_are_capped_and_compreface_has_a_healthcheck() -> None:
    for name, service in SERVICES.items():
        image, _, tag = service["image"].partition(":")
        assert tag and tag != "latest", f"{name}: pin {image} to a version"
        options = service.get("logging", {}).get("options", {})
        assert options.get("max-size") and options.get("max-file"), f"{name}: cap its log"
    _, compreface = _compreface_entry()
    assert compreface["healthcheck"]["test"] and compreface["healthcheck"]["start_period"]
