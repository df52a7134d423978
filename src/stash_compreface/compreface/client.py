"""CompreFace REST client: recognition, subjects, examples, detection, verification, embeddings.

Errors are mapped once, in ``_raise_for``. CompreFace behind nginx answers 413/502/504 in HTML, and
code 10's message repeats the API key, so no response text is forwarded without redaction and no
error assumes a JSON body. 5xx answers and timeouts are retried with backoff.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from .. import imaging
from ..errors import AuthError, CompreFaceError, ServiceError, ServiceUnavailable
from ..faces.models import Box, Face, Pose, SubjectMatch
from ..redact import register_secret
from .codes import CODES, NO_FACE_FOUND

T = TypeVar("T")
DEFAULT_MAX_FILE_BYTES = 5 * 1024 * 1024
FACE_PLUGINS = "age,gender,pose,landmarks"
_KEY_SETTING = {
    "recognition": "recognitionApiKey",
    "detection": "detectionApiKey",
    "verification": "verificationApiKey",
}


class NoFace(Exception):
    """Internal signal for 400/28; callers turn it into ``[]`` or an item error."""


def parse_face(item: dict[str, Any]) -> Face:
    box = item.get("box") or {}
    pose = item.get("pose")
    age = item.get("age")
    gender = item.get("gender")
    seen: set[str] = set()
    matches: list[SubjectMatch] = []
    # prediction_count ranks examples, not subjects: keep the best entry of each subject.
    for entry in item.get("subjects") or item.get("similarities") or []:
        name = str(entry.get("subject", ""))
        if name and name not in seen:
            seen.add(name)
            matches.append(SubjectMatch(name, float(entry.get("similarity", 0.0))))
    return Face(
        box=Box(int(box.get("x_min", 0)), int(box.get("y_min", 0)), int(box.get("x_max", 0)),
                int(box.get("y_max", 0))),
        probability=float(box.get("probability", 0.0)),
        matches=tuple(sorted(matches, key=lambda m: -m.similarity)),
        pose=Pose(float(pose.get("yaw", 0)), float(pose.get("pitch", 0)), float(pose.get("roll", 0)))
        if isinstance(pose, dict) else None,
        age=(int(age.get("low", 0)), int(age.get("high", 0))) if isinstance(age, dict) else None,
        gender=str(gender.get("value")) if isinstance(gender, dict) and gender.get("value") else None,
    )


class CompreFaceClient:
    def __init__(
        self,
        base_url: str,
        *,
        recognition_key: str,
        detection_key: str = "",
        verification_key: str = "",
        timeout_s: float = 90.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        max_connections: int = 16,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._keys = {"recognition": recognition_key, "detection": detection_key,
                      "verification": verification_key}
        for key in self._keys.values():
            register_secret(key)
        self._retries = retries
        self._backoff_s = backoff_s
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=10.0),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )
        self._limit_lock = threading.Lock()
        self._max_file_bytes: int | None = None
        self.calls = 0

    def close(self) -> None:
        self._http.close()

    # -- transport -------------------------------------------------------------------------------

    @property
    def max_upload_bytes(self) -> int:
        """The server's multipart file limit (read once from the key-less ``/api/v1/config``)."""
        with self._limit_lock:
            if self._max_file_bytes is None:
                self._max_file_bytes = self._read_limit()
            return self._max_file_bytes

    def _read_limit(self) -> int:
        try:
            response = self._http.get(f"{self.base_url}/api/v1/config")
            value = int(response.json().get("clientMaxFileSize") or 0)
        except (httpx.HTTPError, ValueError, AttributeError):
            value = 0
        return value if value > 0 else DEFAULT_MAX_FILE_BYTES

    def check(self) -> None:
        """Fail fast with a message naming the setting: unreachable URL or refused key."""
        try:
            self._http.get(f"{self.base_url}/api/v1/config")
        except httpx.HTTPError as exc:
            raise self._unavailable(exc) from exc
        self.list_subjects()

    def _unavailable(self, exc: Exception) -> ServiceUnavailable:
        return ServiceUnavailable(
            f"Cannot reach CompreFace at {self.base_url} ({type(exc).__name__}). Check comprefaceUrl and "
            "that CompreFace is running",
            service="compreface",
            setting="comprefaceUrl",
        )

    def _request(self, service: str, method: str, path: str, *, parse: Callable[[httpx.Response], T],
                 **kwargs: Any) -> T:
        key = self._keys[service]
        if not key:
            raise AuthError(f"{_KEY_SETTING[service]} is not set, but this task needs the CompreFace "
                            f"{service} service", service="compreface", setting=_KEY_SETTING[service])
        headers = {"x-api-key": key, **kwargs.pop("headers", {})}
        url = f"{self.base_url}{path}"
        last: Exception | None = None
        for attempt in range(self._retries + 1):
            if attempt:
                time.sleep(self._backoff_s * 2 ** (attempt - 1))
            self.calls += 1
            try:
                response = self._http.request(method, url, headers=headers, **kwargs)
            except httpx.ConnectError as exc:
                last = self._unavailable(exc)
                continue
            except httpx.TimeoutException as exc:
                last = ServiceError(f"CompreFace did not answer {path} in time", service="compreface")
                last.__cause__ = exc
                continue
            except httpx.HTTPError as exc:
                last = ServiceError(f"CompreFace request {path} failed: {type(exc).__name__}",
                                    service="compreface")
                continue
            if response.status_code < 400:
                return parse(response)
            try:
                self._raise_for(response, service)
            except ServiceError as exc:
                if not exc.retryable:
                    raise
                last = exc
        assert last is not None
        raise last

    def _raise_for(self, response: httpx.Response, service: str) -> None:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        code = body.get("code") if isinstance(body, dict) else None
        message = str(body.get("message", "")) if isinstance(body, dict) else ""
        setting = _KEY_SETTING[service]
        if status in (401, 403) or code in (10, 20) or (code == 26 and "api key" in message.lower()):
            raise AuthError(
                f"CompreFace refused the {service} API key (HTTP {status}, code {code}): check {setting}",
                service="compreface",
                setting=setting,
            )
        if code == NO_FACE_FOUND:
            raise NoFace()
        cls = CODES.get(code, (CompreFaceError, ""))[0] if code is not None else CompreFaceError
        if cls is None or not issubclass(cls, CompreFaceError):
            cls = CompreFaceError
        detail = message if message else ("an HTML error page" if "html" in response.headers.get(
            "content-type", "") else "no details")
        raise cls(f"CompreFace answered HTTP {status}" + (f" code {code}" if code is not None else "")
                  + f": {detail}", service="compreface", status=status, code=code)

    def _upload(self, image: bytes) -> dict[str, Any]:
        data = imaging.fit_for_upload(image, self.max_upload_bytes)
        return {"files": {"file": ("face.jpg", data, "image/jpeg")}}

    # -- recognition -----------------------------------------------------------------------------

    def recognize(self, image: bytes, *, min_probability: float, candidates: int = 5) -> list[Face]:
        params = {"prediction_count": str(max(1, candidates) * 3), "face_plugins": FACE_PLUGINS,
                  "det_prob_threshold": f"{min_probability:.3f}"}
        try:
            return self._request("recognition", "POST", "/api/v1/recognition/recognize", params=params,
                                 parse=lambda r: [parse_face(i) for i in r.json().get("result") or []],
                                 **self._upload(image))
        except NoFace:
            return []

    def detect(self, image: bytes, *, min_probability: float) -> list[Face]:
        """Detection service when its key is set, else the recognition service (which detects too)."""
        if not self._keys["detection"]:
            return self.recognize(image, min_probability=min_probability, candidates=1)
        params = {"face_plugins": FACE_PLUGINS, "det_prob_threshold": f"{min_probability:.3f}"}
        try:
            return self._request("detection", "POST", "/api/v1/detection/detect", params=params,
                                 parse=lambda r: [parse_face(i) for i in r.json().get("result") or []],
                                 **self._upload(image))
        except NoFace:
            return []

    def recognize_embeddings(self, embeddings: list[list[float]], *, candidates: int = 5) -> list[Face]:
        try:
            return self._request(
                "recognition", "POST", "/api/v1/recognition/embeddings/recognize",
                params={"prediction_count": str(max(1, candidates) * 3)},
                json={"embeddings": embeddings},
                parse=lambda r: [parse_face(i) for i in r.json().get("result") or []],
            )
        except NoFace:
            return []

    # -- subjects and examples -------------------------------------------------------------------

    def add_example(self, subject: str, image: bytes) -> str:
        try:
            return self._request(
                "recognition", "POST", "/api/v1/recognition/faces", params={"subject": subject},
                parse=lambda r: str(r.json().get("image_id", "")), **self._upload(image),
            )
        except NoFace:
            raise CompreFaceError("CompreFace found no face in the example image", service="compreface",
                                  status=400, code=NO_FACE_FOUND) from None

    def list_subjects(self) -> list[str]:
        return self._request("recognition", "GET", "/api/v1/recognition/subjects",
                             parse=lambda r: [str(s) for s in r.json().get("subjects") or []])

    def create_subject(self, subject: str) -> None:
        self._request("recognition", "POST", "/api/v1/recognition/subjects", json={"subject": subject},
                      parse=lambda r: None)

    def rename_subject(self, old: str, new: str) -> bool:
        return self._request("recognition", "PUT", f"/api/v1/recognition/subjects/{quote(old, safe='')}",
                             json={"subject": new}, parse=lambda r: bool(r.json().get("updated")))

    def delete_subject(self, subject: str) -> None:
        self._request("recognition", "DELETE", f"/api/v1/recognition/subjects/{quote(subject, safe='')}",
                      parse=lambda r: None)

    def list_examples(self, subject: str | None = None, *, page: int = 0, size: int = 100) -> dict[str, Any]:
        params = {"page": str(page), "size": str(size)}
        if subject is not None:
            params["subject"] = subject
        return self._request("recognition", "GET", "/api/v1/recognition/faces", params=params,
                             parse=lambda r: dict(r.json()))

    def count_examples(self, subject: str) -> int:
        return int(self.list_examples(subject, size=1).get("total_elements") or 0)

    def delete_example(self, example_id: str) -> None:
        self._request("recognition", "DELETE", f"/api/v1/recognition/faces/{quote(example_id, safe='')}",
                      parse=lambda r: None)

    def verify_example(self, example_id: str, image: bytes) -> list[Face]:
        """Similarity of each face in ``image`` to one stored example."""

        def parse(r: httpx.Response) -> list[Face]:
            faces = []
            for item in r.json().get("result") or []:
                item = dict(item)
                item["subjects"] = [{"subject": item.get("subject", ""), "similarity": item.get("similarity", 0)}]
                faces.append(parse_face(item))
            return faces

        try:
            return self._request("recognition", "POST",
                                 f"/api/v1/recognition/faces/{quote(example_id, safe='')}/verify",
                                 parse=parse, **self._upload(image))
        except NoFace:
            return []

    def verify(self, source: bytes, target: bytes) -> list[float]:
        """Verification service: similarity of each face in ``target`` to the one face in ``source``."""
        limit = self.max_upload_bytes
        files = {
            "source_image": ("source.jpg", imaging.fit_for_upload(source, limit), "image/jpeg"),
            "target_image": ("target.jpg", imaging.fit_for_upload(target, limit), "image/jpeg"),
        }

        def parse(r: httpx.Response) -> list[float]:
            result = (r.json().get("result") or [{}])[0]
            return [float(m.get("similarity", 0.0)) for m in result.get("face_matches") or []]

        try:
            return self._request("verification", "POST", "/api/v1/verification/verify", files=files,
                                 parse=parse)
        except NoFace:
            return []

