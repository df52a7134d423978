"""Client of the Vision Service (stash-auto-vision): the v1.0 job API and the frame server.

The service groups the faces of a video into clusters; we only read clusters, timestamps and boxes, and
fetch single frames back to recognize the faces through CompreFace. Quirks handled here (vision-api.md
§0): a fresh job answers 404 until its worker starts, results answer 409 until completed, and the frame
route moved from ``/extract-frame`` to ``/frames/extract-frame``. Transport failures are mapped, retried
and counted by ``transport``, like the other clients'.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from ..errors import ItemError, MediaError, ServiceError, ServiceUnavailable, Stopped
from ..faces.models import Box
from ..transport import (
    CONNECT_TIMEOUT_S,
    DEFAULT_ATTEMPTS,
    DEFAULT_TIMEOUT_S,
    Breaker,
    Service,
    Transport,
    json_object,
    protocol_error,
)

VISION = Service("the Vision Service", "vision", "visionServiceUrl")
FRAMES = Service("the frame server", "vision", "frameServerUrl")
FRAME_ROUTES = ("/frames/extract-frame", "/extract-frame")
JOB_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class Enhancement:
    """Face enhancement of each cluster's representative frame (vision-api.md §6.3): the service re-detects
    the face on a restored, 2x frame when its quality is under ``quality_trigger``. Defaults: the reference
    plugin's (CodeFormer, fidelity 0.25, trigger 0.5); the service skips it in sprite mode."""

    enabled: bool = True
    quality_trigger: float = 0.5
    model: str = "codeformer"
    fidelity_weight: float = 0.25

    def as_json(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "quality_trigger": self.quality_trigger, "model": self.model,
                "fidelity_weight": self.fidelity_weight}


@dataclass(frozen=True)
class Sprites:
    """Stash's sprite sheet and VTT: the service then analyses the thumbnails instead of the video (§5).
    It downloads both URLs itself, without credentials."""

    vtt_url: str
    image_url: str


@dataclass(frozen=True)
class Detection:
    """A face in one frame; ``box`` is in the pixels of what the service analysed: the frame, the sprite
    tile, or the enhanced (2x) frame when ``enhanced``."""

    timestamp_s: float
    box: Box
    confidence: float
    enhanced: bool = False


@dataclass(frozen=True)
class FaceCluster:
    """One person as the Vision Service grouped them across frames."""

    face_id: str
    detections: tuple[Detection, ...]
    representative: Detection


def _detection(data: dict[str, Any]) -> Detection:
    box = data.get("bbox") or {}
    return Detection(
        timestamp_s=float(data.get("timestamp") or 0.0),
        box=Box(int(box.get("x_min", 0)), int(box.get("y_min", 0)), int(box.get("x_max", 0)),
                int(box.get("y_max", 0))),
        confidence=float(data.get("confidence") or 0.0),
        enhanced=data.get("enhanced") is True,
    )


@dataclass(frozen=True)
class FacesResult:
    """What a completed job says about faces."""

    clusters: list[FaceCluster]
    source: str | None
    sprites: bool  # boxes are in sprite-tile pixels
    enhancement: Enhancement | None  # as the job ran it: frames of enhanced detections are fetched likewise


def parse_faces(results: dict[str, Any]) -> FacesResult:
    clusters, source = parse_clusters(results)
    metadata = (results.get("faces") or {}).get("metadata") or {}
    echo = metadata.get("frame_enhancement")
    enhancement = None
    if isinstance(echo, dict) and echo.get("enabled"):
        default = Enhancement()
        enhancement = Enhancement(True, float(echo.get("quality_trigger", default.quality_trigger)),
                                  str(echo.get("model", default.model)),
                                  float(echo.get("fidelity_weight", default.fidelity_weight)))
    return FacesResult(clusters, source, metadata.get("method") == "sprites", enhancement)


def parse_clusters(results: dict[str, Any]) -> tuple[list[FaceCluster], str | None]:
    """Face clusters of a completed job, and the path the service analysed."""
    faces = results.get("faces")
    if not isinstance(faces, dict):
        raise ItemError("the Vision Service job completed without a faces result")
    clusters = []
    for item in faces.get("faces") or []:
        detections = tuple(_detection(d) for d in item.get("detections") or [])
        representative = item.get("representative_detection")
        rep = _detection(representative) if isinstance(representative, dict) else (detections[0] if detections
                                                                                     else None)
        if rep is not None:
            clusters.append(FaceCluster(str(item.get("face_id", "")), detections or (rep,), rep))
    source = (faces.get("metadata") or {}).get("source")
    return clusters, source if isinstance(source, str) else None


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("detail", "")) if isinstance(body, dict) else ""


def _server_error(service: Service, what: str, response: httpx.Response) -> None:
    """5xx is the service's fault: raise a retryable ServiceError (counted by the breaker)."""
    if response.status_code >= 500:
        raise ServiceError(f"{service.name} answered {what} with HTTP {response.status_code}", service=service.key,
                           setting=service.setting, status=response.status_code)


# The first wait for a job's result; later waits grow by half up to ``max_poll_s``. Read at construction, like
# transport.DEFAULT_BACKOFF_S, so a test harness can shorten it.
FIRST_POLL_S = 0.5


class VisionClient:
    def __init__(
        self,
        base_url: str,
        frame_url: str | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        first_poll_s: float | None = None,
        max_poll_s: float = 5.0,
        retries: int = DEFAULT_ATTEMPTS - 1,
        backoff_s: float | None = None,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        breaker: Breaker | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.frame_url = (frame_url or base_url).rstrip("/")
        self._transport = Transport(VISION, timeout_s=timeout_s, connect_timeout_s=connect_timeout_s,
                                    attempts=retries + 1, backoff_s=backoff_s, breaker=breaker, stop=stop,
                                    urls=(self.base_url, self.frame_url))
        self._first_poll_s = FIRST_POLL_S if first_poll_s is None else first_poll_s
        self._max_poll_s = max_poll_s
        self._frame_route: str | None = None

    @property
    def breaker(self) -> Breaker:
        return self._transport.breaker

    def close(self) -> None:
        self._transport.close()

    def _get(self, url: str, what: str, *, service: Service = VISION, stop: threading.Event | None = None,
             **kwargs: Any) -> httpx.Response:
        """A GET retried on 5xx and transport failures; any other answer is the caller's to read."""

        def attempt() -> httpx.Response:
            response = self._transport.request("GET", url, service=service, what=what, **kwargs)
            _server_error(service, what, response)
            return response

        return self._transport.call(attempt, service=service, stop=stop)

    def health(self) -> None:
        response = self._get(f"{self.base_url}/vision/health", "/vision/health")
        if response.status_code != 200:
            raise ServiceUnavailable(f"the Vision Service health check answered HTTP {response.status_code}: "
                                     "check visionServiceUrl", service="vision", setting="visionServiceUrl")

    def analyze(self, source: str, source_id: str, *, min_confidence: float, min_quality: float = 0.0,
                sampling_interval_s: float = 2.0, sprites: Sprites | None = None,
                enhancement: Enhancement | None = None) -> str:
        """Submit a faces job; its id. Scene detection is switched off (on by default in the service, it
        would run over the whole video first, and switch sampling to three frames per shot); the key names
        are the ones the orchestrator reads (§2.1), not the reference plugin's ignored ones."""
        parameters: dict[str, Any] = {
            "face_min_confidence": min_confidence,
            "face_sampling_interval": min(10.0, max(0.1, sampling_interval_s)),
            "enable_deduplication": True,
            "similarity_threshold": 0.6,
            "use_sprites": sprites is not None,
        }
        if min_quality > 0:
            parameters["face_min_quality"] = min_quality
        if sprites is not None:
            parameters["sprite_vtt_url"] = sprites.vtt_url
            parameters["sprite_image_url"] = sprites.image_url
        if enhancement is not None and sprites is None:  # the service never enhances sprite tiles (§5)
            parameters["enhancement"] = enhancement.as_json()
        body = {
            "source": source,
            "source_id": source_id,
            "processing_mode": "sequential",
            "modules": {"scenes": {"enabled": False, "parameters": {}},
                        "faces": {"enabled": True, "parameters": parameters}},
        }
        what = "/vision/analyze"

        def attempt() -> str:
            response = self._transport.request("POST", f"{self.base_url}{what}", what=what, json=body)
            _server_error(VISION, what, response)
            if response.status_code == 404 and _detail(response) == "Not Found":
                raise ServiceUnavailable(f"{self.base_url} has no {what} route: check visionServiceUrl",
                                         service="vision", setting="visionServiceUrl")
            if response.status_code == 404:
                raise MediaError(f"the Vision Service cannot see the video file {source} (it must mount the media "
                                 "at the same path as Stash)")
            if response.status_code != 202:
                raise ServiceError(f"the Vision Service refused the job (HTTP {response.status_code})",
                                   service="vision", status=response.status_code)
            job_id = json_object(response, VISION, what).get("job_id")
            if not isinstance(job_id, str | int) or isinstance(job_id, bool) or job_id == "":
                raise protocol_error(VISION, what, "no job_id", status=response.status_code)
            return str(job_id)

        # Not idempotent: a job sent twice runs twice; resent only when the service refused it.
        return self._transport.call(attempt, idempotent=False)

    def wait(self, job_id: str, stop: threading.Event | None = None, *,
             timeout_s: float = JOB_TIMEOUT_S) -> dict[str, Any]:
        """Poll with growing pauses until the job completes, then fetch results. ``stop`` (by default the
        client's) interrupts the pauses and retries with ``Stopped``."""
        stop = stop if stop is not None else self._transport.stop
        deadline = time.monotonic() + timeout_s
        pause = self._first_poll_s
        unknown_since: float | None = None
        status_what, results_what = f"/vision/jobs/{job_id}/status", f"/vision/jobs/{job_id}/results"
        while time.monotonic() < deadline:
            if stop.is_set():
                raise Stopped("stopped while waiting for the Vision Service")
            response = self._get(f"{self.base_url}{status_what}", status_what, stop=stop)
            if response.status_code == 404:
                # The worker has not written the job yet; give it a while before calling it lost.
                unknown_since = unknown_since or time.monotonic()
                if time.monotonic() - unknown_since > 60:
                    raise ServiceError(f"the Vision Service lost job {job_id}", service="vision", status=404)
            elif response.status_code == 200:
                status = json_object(response, VISION, status_what)
                if status.get("status") == "failed":
                    raise ItemError(f"the Vision Service job failed: {status.get('error') or 'no reason given'}")
                if status.get("status") == "completed":
                    results = self._get(f"{self.base_url}{results_what}", results_what, stop=stop)
                    if results.status_code == 200:
                        return json_object(results, VISION, results_what)
                    if results.status_code != 409:
                        raise ServiceError(f"Vision Service results answered HTTP {results.status_code}",
                                           service="vision", status=results.status_code)
            else:
                raise ServiceError(f"Vision Service status answered HTTP {response.status_code}",
                                   service="vision", status=response.status_code)
            if stop.wait(pause):
                raise Stopped("stopped while waiting for the Vision Service")
            pause = min(self._max_poll_s, pause * 1.5)
        raise ServiceError(f"the Vision Service job {job_id} did not finish in {timeout_s:.0f} s", service="vision")

    def extract_frame(self, video_path: str, timestamp_s: float, *, enhancement: Enhancement | None = None) -> bytes:
        """One frame as JPEG; the newer route first, the older one if this server predates it. With
        ``enhancement`` (the job's, for an ``enhanced`` detection) the frame is restored the same way, so the
        detection's box lands on the face. The timestamp is sent unrounded (§8)."""
        params = {"video_path": video_path, "timestamp": repr(max(0.0, timestamp_s)), "output_format": "jpeg",
                  "quality": "95"}
        if enhancement is not None and enhancement.enabled:
            params |= {"enhance": "1", "model": enhancement.model, "fidelity_weight": str(enhancement.fidelity_weight)}
        routes = (self._frame_route,) if self._frame_route else FRAME_ROUTES
        for route in routes:
            response = self._get(f"{self.frame_url}{route}", route, service=FRAMES, params=params)
            if response.status_code == 200 and response.content:
                self._frame_route = route
                return response.content
            if response.status_code == 404 and _detail(response) == "Not Found":
                continue  # this server has the other route
            raise MediaError(f"the frame server could not extract {timestamp_s:.2f} s (HTTP {response.status_code})")
        raise ServiceUnavailable("the frame server has no extract-frame route: check frameServerUrl",
                                 service="vision", setting="frameServerUrl")
