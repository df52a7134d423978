"""Client of the Vision Service (stash-auto-vision): the v1.0 job API and the frame server.

The service groups the faces of a video into clusters; we only read clusters, timestamps and boxes, and
fetch single frames back to recognise the faces through CompreFace. Quirks handled here (vision-api.md
§0): a fresh job answers 404 until its worker starts, results answer 409 until completed, and the frame
route moved from ``/extract-frame`` to ``/frames/extract-frame``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from ..errors import ItemError, MediaError, ServiceError, ServiceUnavailable
from ..faces.models import Box

FRAME_ROUTES = ("/frames/extract-frame", "/extract-frame")
JOB_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class Detection:
    timestamp_s: float
    box: Box
    confidence: float


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
    )


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


class VisionClient:
    def __init__(self, base_url: str, frame_url: str | None = None, *, timeout_s: float = 120.0,
                 first_poll_s: float = 0.5, max_poll_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.frame_url = (frame_url or base_url).rstrip("/")
        self._http = httpx.Client(timeout=httpx.Timeout(timeout_s, connect=10.0))
        self._first_poll_s = first_poll_s
        self._max_poll_s = max_poll_s
        self._frame_route: str | None = None

    def close(self) -> None:
        self._http.close()

    def _get(self, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.get(url, **kwargs)
        except httpx.ConnectError as exc:
            raise ServiceUnavailable(f"Cannot reach the Vision Service at {url.split('?')[0]}: check "
                                     "visionServiceUrl / frameServerUrl", service="vision",
                                     setting="visionServiceUrl") from exc
        except httpx.HTTPError as exc:
            raise ServiceError(f"Vision Service request failed: {type(exc).__name__}", service="vision") from exc

    def health(self) -> None:
        response = self._get(f"{self.base_url}/vision/health")
        if response.status_code != 200:
            raise ServiceUnavailable(f"the Vision Service health check answered HTTP {response.status_code}: "
                                     "check visionServiceUrl", service="vision", setting="visionServiceUrl")

    def analyze(self, source: str, source_id: str, *, min_confidence: float) -> str:
        body = {
            "source": source,
            "source_id": source_id,
            "processing_mode": "sequential",
            "modules": {"faces": {"enabled": True, "parameters": {
                "face_min_confidence": min_confidence,
                "face_sampling_interval": 2.0,
                "enable_deduplication": True,
                "similarity_threshold": 0.6,
            }}},
        }
        try:
            response = self._http.post(f"{self.base_url}/vision/analyze", json=body)
        except httpx.ConnectError as exc:
            raise ServiceUnavailable("Cannot reach the Vision Service: check visionServiceUrl", service="vision",
                                     setting="visionServiceUrl") from exc
        except httpx.HTTPError as exc:
            raise ServiceError(f"Vision Service request failed: {type(exc).__name__}", service="vision") from exc
        if response.status_code == 404:
            raise MediaError(f"the Vision Service cannot see the video file {source} (it must mount the media at "
                             "the same path as Stash)")
        if response.status_code != 202:
            raise ServiceError(f"the Vision Service refused the job (HTTP {response.status_code})",
                               service="vision", status=response.status_code)
        return str(response.json()["job_id"])

    def wait(self, job_id: str, stop: threading.Event, *, timeout_s: float = JOB_TIMEOUT_S) -> dict[str, Any]:
        """Poll with growing pauses (a stop interrupts them) until the job completes, then fetch results."""
        deadline = time.monotonic() + timeout_s
        pause = self._first_poll_s
        unknown_since: float | None = None
        while time.monotonic() < deadline:
            response = self._get(f"{self.base_url}/vision/jobs/{job_id}/status")
            if response.status_code == 404:
                # The worker has not written the job yet; give it a while before calling it lost.
                unknown_since = unknown_since or time.monotonic()
                if time.monotonic() - unknown_since > 60:
                    raise ServiceError(f"the Vision Service lost job {job_id}", service="vision", status=404)
            elif response.status_code == 200:
                status = response.json()
                if status.get("status") == "failed":
                    raise ItemError(f"the Vision Service job failed: {status.get('error') or 'no reason given'}")
                if status.get("status") == "completed":
                    results = self._get(f"{self.base_url}/vision/jobs/{job_id}/results")
                    if results.status_code == 200:
                        return dict(results.json())
                    if results.status_code != 409:
                        raise ServiceError(f"Vision Service results answered HTTP {results.status_code}",
                                           service="vision", status=results.status_code)
            else:
                raise ServiceError(f"Vision Service status answered HTTP {response.status_code}",
                                   service="vision", status=response.status_code)
            if stop.wait(pause):
                raise ItemError("stopped while waiting for the Vision Service")
            pause = min(self._max_poll_s, pause * 1.5)
        raise ServiceError(f"the Vision Service job {job_id} did not finish in {timeout_s:.0f} s", service="vision")

    def extract_frame(self, video_path: str, timestamp_s: float) -> bytes:
        """One frame as JPEG; the newer route first, the older one if this server predates it."""
        params = {"video_path": video_path, "timestamp": f"{max(0.0, timestamp_s):.2f}", "output_format": "jpeg",
                  "quality": "95"}
        routes = (self._frame_route,) if self._frame_route else FRAME_ROUTES
        for route in routes:
            response = self._get(f"{self.frame_url}{route}", params=params)
            if response.status_code == 200 and response.content:
                self._frame_route = route
                return response.content
            if response.status_code == 404 and _detail(response) == "Not Found":
                continue  # this server has the other route
            raise MediaError(f"the frame server could not extract {timestamp_s:.2f} s (HTTP {response.status_code})")
        raise ServiceUnavailable("the frame server has no extract-frame route: check frameServerUrl",
                                 service="vision", setting="frameServerUrl")
