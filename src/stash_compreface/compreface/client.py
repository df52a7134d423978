"""CompreFace REST client: recognition, subjects, examples, detection, embeddings.

Transport failures are mapped, retried and counted by ``transport``; error answers are classified by
the code table in ``codes`` (``_raise_for``) into the engine-neutral ``faceservice`` errors, so the
tasks never see a CompreFace code. CompreFace behind nginx answers 413/502/504 in HTML, and
code 10's message repeats the API key, so no error assumes a JSON body and no key-error text is
forwarded. A 200 whose body is not the documented JSON (an HTML page, empty, ``result`` not a list, a
face without a box) is a ``ProtocolError``, never "no faces".
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from .. import imaging
from ..errors import AuthError, PluginError, ProtocolError, ServiceError, ServiceUnavailable
from ..faces.models import Box, Face, Pose, SubjectMatch
from ..faceservice import ExampleRef, FaceServiceError, NoFaceFound
from ..redact import register_secret
from ..transport import (
    CONNECT_TIMEOUT_S,
    DEFAULT_ATTEMPTS,
    DEFAULT_TIMEOUT_S,
    Breaker,
    Service,
    Transport,
    body_kind,
    json_object,
    protocol_error,
)
from .codes import error_class

T = TypeVar("T")
COMPREFACE = Service("CompreFace", "compreface", "comprefaceUrl")
DEFAULT_MAX_FILE_BYTES = 5 * 1024 * 1024
EXAMPLES_PAGE_SIZE = 100
FACE_PLUGINS = "age,gender,pose,landmarks"
EMBEDDING_PLUGIN = "calculator"  # the face's embedding: only where faces are grouped (scenes), it is big
_KEY_SETTING = {
    "recognition": "recognitionApiKey",
    "detection": "detectionApiKey",
}


def _number(data: dict[str, Any], key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(f"CompreFace answered a face whose box has no numeric {key}", service="compreface",
                            setting=COMPREFACE.setting, status=200)
    return float(value)


def parse_face(item: Any) -> Face:
    """One face of a ``result`` list; anything without a box is not the protocol."""
    if not isinstance(item, dict) or not isinstance(item.get("box"), dict):
        raise ProtocolError("CompreFace answered a face without a box", service="compreface",
                            setting=COMPREFACE.setting, status=200)
    box = item["box"]
    pose = item.get("pose")
    age = item.get("age")
    gender = item.get("gender")
    seen: set[str] = set()
    matches: list[SubjectMatch] = []
    # prediction_count ranks examples, not subjects: keep the best entry of each subject.
    for entry in item.get("subjects") or item.get("similarities") or []:
        if not isinstance(entry, dict):
            continue
        name = str(entry.get("subject", ""))
        if name and name not in seen:
            seen.add(name)
            matches.append(SubjectMatch(name, float(entry.get("similarity", 0.0))))
    return Face(
        box=Box(int(_number(box, "x_min")), int(_number(box, "y_min")), int(_number(box, "x_max")),
                int(_number(box, "y_max"))),
        probability=float(box.get("probability", 0.0)),
        matches=tuple(sorted(matches, key=lambda m: -m.similarity)),
        pose=Pose(float(pose.get("yaw", 0)), float(pose.get("pitch", 0)), float(pose.get("roll", 0)))
        if isinstance(pose, dict) else None,
        age=(int(age.get("low", 0)), int(age.get("high", 0))) if isinstance(age, dict) else None,
        gender=str(gender.get("value")) if isinstance(gender, dict) and gender.get("value") else None,
        landmarks=_landmarks(item.get("landmarks")),
        embedding=_embedding(item.get("embedding")),
    )


def _embedding(value: Any) -> tuple[float, ...] | None:
    """The calculator plugin's vector; anything else is treated as absent (the face is then not grouped)."""
    if not isinstance(value, list) or not value:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return None
    return tuple(float(v) for v in value)


def _landmarks(value: Any) -> tuple[tuple[float, float], ...]:
    """The landmarks plugin's five [x, y] points (eyes, nose, mouth corners); anything else is ignored,
    so the quality library falls back to the box."""
    if not isinstance(value, list) or len(value) != 5:
        return ()
    points = []
    for point in value:
        if not (isinstance(point, list | tuple) and len(point) == 2
                and all(isinstance(v, int | float) and not isinstance(v, bool) for v in point)):
            return ()
        points.append((float(point[0]), float(point[1])))
    return tuple(points)


def _result(response: httpx.Response, what: str) -> list[Any]:
    result = json_object(response, COMPREFACE, what).get("result")
    if not isinstance(result, list):
        raise protocol_error(COMPREFACE, what, "JSON without a `result` list")
    return result


class CompreFaceClient:
    name = "CompreFace"

    def __init__(
        self,
        base_url: str,
        *,
        recognition_key: str,
        detection_key: str = "",
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_ATTEMPTS - 1,
        backoff_s: float | None = None,
        max_connections: int = 16,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        breaker: Breaker | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._keys = {"recognition": recognition_key, "detection": detection_key}
        for key in self._keys.values():
            register_secret(key)
        self._transport = Transport(COMPREFACE, timeout_s=timeout_s, connect_timeout_s=connect_timeout_s,
                                    attempts=retries + 1, backoff_s=backoff_s, breaker=breaker, stop=stop,
                                    max_connections=max_connections, urls=(self.base_url,))
        self._limit_lock = threading.Lock()
        self._max_file_bytes: int | None = None

    @property
    def breaker(self) -> Breaker:
        return self._transport.breaker

    def close(self) -> None:
        self._transport.close()

    # -- transport -------------------------------------------------------------------------------

    @property
    def max_upload_bytes(self) -> int:
        """The server's multipart file limit (read once from the key-less ``/api/v1/config``)."""
        with self._limit_lock:
            if self._max_file_bytes is None:
                self._max_file_bytes = self._read_limit()
            return self._max_file_bytes

    def _read_limit(self) -> int:
        path = "/api/v1/config"

        def attempt() -> int:
            response = self._transport.request("GET", f"{self.base_url}{path}", what=path)
            if response.status_code >= 500:
                raise ServiceError(f"CompreFace answered {path} with HTTP {response.status_code}",
                                   service="compreface", setting=COMPREFACE.setting,
                                   status=response.status_code)
            if response.status_code != 200:
                return 0  # a CompreFace older than this route
            value = json_object(response, COMPREFACE, path).get("clientMaxFileSize")
            return value if isinstance(value, int) and not isinstance(value, bool) else 0

        value = self._transport.call(attempt)
        return value if value > 0 else DEFAULT_MAX_FILE_BYTES

    @classmethod
    def answers(cls, base_url: str, *, timeout_s: float = 5.0) -> bool:
        """Whether CompreFace answers its key-less config route at ``base_url`` (address discovery)."""
        probe = cls(base_url, recognition_key="", timeout_s=timeout_s, connect_timeout_s=timeout_s, retries=0)
        try:
            probe._read_limit()
            return True
        except PluginError:
            return False
        finally:
            probe.close()

    def check(self) -> None:
        """Fail fast with a message naming the setting: unreachable or wrong URL, or a refused key."""
        try:
            _ = self.max_upload_bytes  # a URL that is not CompreFace fails here, before the key is sent
            self.list_subjects()
        except ServiceError as exc:
            raise ServiceUnavailable(f"CompreFace at {self.base_url} is not usable: {exc}",
                                     service="compreface", setting=COMPREFACE.setting) from exc

    def _request(self, service: str, method: str, path: str, *, parse: Callable[[httpx.Response], T],
                 idempotent: bool = True, **kwargs: Any) -> T:
        key = self._keys[service]
        if not key:
            raise AuthError(f"{_KEY_SETTING[service]} is not set, but this task needs the CompreFace "
                            f"{service} service", service="compreface", setting=_KEY_SETTING[service])
        headers = {"x-api-key": key, **kwargs.pop("headers", {})}
        url = f"{self.base_url}{path}"
        what = path.split("?")[0]

        def attempt() -> T:
            response = self._transport.request(method, url, what=what, headers=headers, **kwargs)
            if response.status_code >= 400:
                self._raise_for(response, service)
            if response.status_code >= 300:
                raise protocol_error(COMPREFACE, what, f"a redirect (HTTP {response.status_code})",
                                     status=response.status_code)
            return parse(response)

        return self._transport.call(attempt, idempotent=idempotent)

    def _raise_for(self, response: httpx.Response, service: str) -> None:
        """Raise what the code table says for an error answer (``NoFaceFound`` for 400/28, which
        recognition and detection turn into ``[]``)."""
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        raw_code = body.get("code") if isinstance(body, dict) else None
        code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
        message = str(body.get("message") or "") if isinstance(body, dict) else ""
        cls = error_class(status, code, message)
        setting = _KEY_SETTING[service]
        if issubclass(cls, AuthError):
            # Code 10's message repeats the key: say which setting, never what the server said.
            raise AuthError(
                f"CompreFace refused the {service} API key (HTTP {status}, code {code}): check {setting}",
                service="compreface",
                setting=setting,
            )
        if message:
            detail = message
        elif isinstance(body, dict):
            detail = str(body.get("error") or "no details")
        else:
            detail = body_kind(response)
        text = f"CompreFace answered HTTP {status}" + (f" code {code}" if code is not None else "") + f": {detail}"
        if issubclass(cls, FaceServiceError):
            # CompreFace's own failure (its core, HTTP 5xx) is worth another try; its refusals are not.
            raise cls(text, service="compreface", status=status, code=code, retryable=status >= 500)
        if issubclass(cls, ServiceError):  # no code: a proxy's page, Spring's empty answer
            raise cls(text, service="compreface", setting=COMPREFACE.setting, status=status)
        raise cls(text, service="compreface")

    def _upload(self, image: bytes) -> dict[str, Any]:
        data = imaging.fit_for_upload(image, self.max_upload_bytes)
        return {"files": {"file": ("face.jpg", data, "image/jpeg")}}

    # -- recognition -----------------------------------------------------------------------------

    def recognize(self, image: bytes, *, min_probability: float, candidates: int = 5,
                  embeddings: bool = False, min_face_px: int = 0) -> list[Face]:
        """``embeddings`` asks for the calculator plugin, so each face carries its vector (for grouping).
        CompreFace has no minimum face size to ask for: ``min_face_px`` changes nothing here."""
        plugins = f"{FACE_PLUGINS},{EMBEDDING_PLUGIN}" if embeddings else FACE_PLUGINS
        params = {"prediction_count": str(max(1, candidates) * 3), "face_plugins": plugins,
                  "det_prob_threshold": f"{min_probability:.3f}"}
        return self._faces("recognition", "/api/v1/recognition/recognize", params, image)

    def detect(self, image: bytes, *, min_probability: float, embeddings: bool = False) -> list[Face]:
        """Detection service when its key is set, else the recognition service (which detects too);
        ``embeddings`` adds the calculator plugin, as for ``recognize``."""
        if not self._keys["detection"]:
            return self.recognize(image, min_probability=min_probability, candidates=1, embeddings=embeddings)
        plugins = f"{FACE_PLUGINS},{EMBEDDING_PLUGIN}" if embeddings else FACE_PLUGINS
        params = {"face_plugins": plugins, "det_prob_threshold": f"{min_probability:.3f}"}
        return self._faces("detection", "/api/v1/detection/detect", params, image)

    def _faces(self, service: str, path: str, params: dict[str, str], image: bytes) -> list[Face]:
        """The faces CompreFace finds in ``image`` (``[]`` for its "no face found" answer)."""
        try:
            return self._request(service, "POST", path, params=params,
                                 parse=lambda r: [parse_face(i) for i in _result(r, path)], **self._upload(image))
        except NoFaceFound:
            return []

    def recognize_embeddings(self, embeddings: list[list[float]], *, candidates: int = 5) -> list[Face]:
        path = "/api/v1/recognition/embeddings/recognize"

        def parse(r: httpx.Response) -> list[Face]:
            faces = []
            for item in _result(r, path):
                if not isinstance(item, dict):
                    raise protocol_error(COMPREFACE, path, "a result that is not an object")
                # Embeddings carry no box: the face is the embedding itself.
                faces.append(parse_face({**item, "box": {"x_min": 0, "y_min": 0, "x_max": 0, "y_max": 0}}))
            return faces

        try:
            return self._request("recognition", "POST", path, params={"prediction_count": str(max(1, candidates) * 3)},
                                 json={"embeddings": embeddings}, parse=parse)
        except NoFaceFound:
            return []

    # -- subjects and examples -------------------------------------------------------------------

    def add_example(self, subject: str, image: bytes) -> str:
        path = "/api/v1/recognition/faces"

        def parse(r: httpx.Response) -> str:
            image_id = json_object(r, COMPREFACE, path).get("image_id")
            if not isinstance(image_id, str) or not image_id:
                raise protocol_error(COMPREFACE, path, "no image_id for the new example")
            return image_id

        # Not idempotent: sent again only when CompreFace said it failed, or a duplicate could appear.
        return self._request("recognition", "POST", path, params={"subject": subject}, parse=parse,
                             idempotent=False, **self._upload(image))

    def list_subjects(self) -> list[str]:
        path = "/api/v1/recognition/subjects"

        def parse(r: httpx.Response) -> list[str]:
            subjects = json_object(r, COMPREFACE, path).get("subjects")
            if not isinstance(subjects, list):
                raise protocol_error(COMPREFACE, path, "JSON without a `subjects` list")
            return [str(s) for s in subjects]

        return self._request("recognition", "GET", path, parse=parse)

    def delete_subject(self, subject: str) -> None:
        self._request("recognition", "DELETE", f"/api/v1/recognition/subjects/{quote(subject, safe='')}",
                      parse=lambda r: None, idempotent=False)

    def examples_page(self, subject: str | None = None, *, page: int = 0, size: int = 100) -> dict[str, Any]:
        """One page of ``GET /faces`` as CompreFace answers it (``faces``, ``total_elements``, ``total_pages``)."""
        params = {"page": str(page), "size": str(size)}
        if subject is not None:
            params["subject"] = subject
        path = "/api/v1/recognition/faces"

        def parse(r: httpx.Response) -> dict[str, Any]:
            body = json_object(r, COMPREFACE, path)
            if not isinstance(body.get("faces"), list):
                raise protocol_error(COMPREFACE, path, "JSON without a `faces` list")
            return body

        return self._request("recognition", "GET", path, params=params, parse=parse)

    def count_examples(self, subject: str) -> int:
        total = self.examples_page(subject, size=1).get("total_elements")
        if isinstance(total, bool) or not isinstance(total, int):
            raise protocol_error(COMPREFACE, "/api/v1/recognition/faces", "no `total_elements` count")
        return total

    def list_examples(self, subject: str) -> list[ExampleRef]:
        """Every example of ``subject``, page by page (CompreFace's filter is an exact subject match)."""
        examples: list[ExampleRef] = []
        page = 0
        while True:
            body = self.examples_page(subject, page=page, size=EXAMPLES_PAGE_SIZE)
            faces = body["faces"]
            for face in faces:
                if not isinstance(face, dict) or not isinstance(face.get("image_id"), str):
                    raise protocol_error(COMPREFACE, "/api/v1/recognition/faces", "a face without an image_id")
                examples.append(ExampleRef(face["image_id"], str(face.get("subject", subject))))
            total_pages = body.get("total_pages")
            page += 1
            if not faces or not isinstance(total_pages, int) or page >= total_pages:
                return examples

    def example_image(self, example_id: str) -> bytes:
        """The image CompreFace stored for an example (``GET /faces/{image_id}/img``)."""
        path = f"/api/v1/recognition/faces/{quote(example_id, safe='')}/img"

        def parse(r: httpx.Response) -> bytes:
            if not r.content or r.headers.get("content-type", "").startswith(("text/", "application/json")):
                raise protocol_error(COMPREFACE, "/api/v1/recognition/faces/{image_id}/img", "no image")
            return r.content

        return self._request("recognition", "GET", path, parse=parse)

    def delete_example(self, example_id: str) -> None:
        self._request("recognition", "DELETE", f"/api/v1/recognition/faces/{quote(example_id, safe='')}",
                      parse=lambda r: None, idempotent=False)
