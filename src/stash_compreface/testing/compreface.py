"""A CompreFace double: a real HTTP server with CompreFace's routes, key checks, codes and limits.

Behaviour follows compreface-api.md: ``{message, code}`` error bodies with the documented statuses,
400/28 for "no face" (and for any undecodable upload), 400/31 for a second face in an example,
extension whitelist, 5 MB file limit, 10 MiB body limit answered by "nginx" in HTML, case-insensitive
subject lookups, ``prediction_count`` ranking *examples*, and similarity from the FaceNet coefficients.
The face engine is pluggable; by default it is the synthetic engine, which reads faces drawn by
``synthetic.draw_image`` so a test decides who is in a picture.
"""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import json
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote

from .server import DoubleHandler, DoubleServer
from .synthetic import DetectedFace, SyntheticEngine, UndecodableImage

RECOGNITION_KEY = "00000000-0000-0000-0000-000000000002"
DETECTION_KEY = "00000000-0000-0000-0000-000000000003"
VERIFICATION_KEY = "00000000-0000-0000-0000-000000000004"
MAX_FILE = 5 * 1024 * 1024
MAX_BODY = 10 * 1024 * 1024
EXTENSIONS = {"tif", "tiff", "jpg", "jpeg", "png", "bmp", "ico", "gif", "webp"}
C0, C1 = 1.1817961, 5.291995557  # FaceNet 20180402-114759
DEFAULT_THRESHOLD = 0.85
NGINX_413 = b"<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n</body>\r\n</html>"


class Engine(Protocol):
    def detect(self, data: bytes) -> list[DetectedFace]: ...


@dataclass
class Example:
    image_id: str
    subject: str
    embedding: tuple[float, ...]
    image: bytes


class ApiError(Exception):
    def __init__(self, status: int, code: int | None, message: str = "", *, raw: bytes | None = None,
                 content_type: str = "application/json") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.raw, self.content_type = status, code, message, raw, content_type


def similarity(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    cos = sum(x * y for x, y in zip(a, b, strict=True))
    distance = math.sqrt(max(0.0, 2.0 - 2.0 * cos))
    return round((math.tanh((C0 - distance) * C1) + 1) / 2, 5)


def jackson(payload: Any) -> bytes:
    """Jackson's pretty printer style (``"key" : value``); clients must not care, but it is real."""
    return json.dumps(payload, indent=2, separators=(",", " : ")).encode()


class CompreFaceDouble(DoubleServer):
    def __init__(self, *, recognition_key: str = RECOGNITION_KEY, detection_key: str = DETECTION_KEY,
                 verification_key: str = VERIFICATION_KEY, engine: Engine | None = None) -> None:
        self.keys = {"recognition": recognition_key, "detection": detection_key, "verification": verification_key}
        self.engine: Engine = engine or SyntheticEngine()
        self.subjects: dict[str, list[Example]] = {}
        self.recognize_latency_s = 0.0
        self.max_file = MAX_FILE
        super().__init__()

    # -- test-facing helpers ---------------------------------------------------------------------

    def subject_names(self) -> list[str]:
        with self.lock:
            return sorted(self.subjects)

    def example_count(self, subject: str) -> int:
        with self.lock:
            return len(self.subjects.get(subject, []))

    def add_subject_example(self, subject: str, image: bytes) -> str:
        """Seed a subject directly (largest face of ``image``), as if enrolled long ago."""
        face = self.engine.detect(image)[0]
        with self.lock:
            example = Example(str(uuid.uuid4()), subject, face.embedding, image)
            self.subjects.setdefault(subject, []).append(example)
            return example.image_id

    # -- state operations (called with the lock held) --------------------------------------------

    def stored_name(self, subject: str) -> str | None:
        folded = subject.casefold()
        return next((name for name in self.subjects if name.casefold() == folded), None)

    def examples(self) -> list[Example]:
        return [e for items in self.subjects.values() for e in items]

    def find_example(self, image_id: str) -> Example | None:
        return next((e for e in self.examples() if e.image_id == image_id), None)

    def ranked(self, embedding: tuple[float, ...], count: int) -> list[dict[str, Any]]:
        scored = sorted(((similarity(e.embedding, embedding), e.subject) for e in self.examples()),
                        key=lambda item: -item[0])
        return [{"subject": subject, "similarity": score} for score, subject in scored[:count]]


class CompreFaceHandler(DoubleHandler):
    double: CompreFaceDouble  # type: ignore[assignment]

    def handle_request(self, method: str) -> None:
        try:
            self._route(method)
        except ApiError as exc:
            if exc.raw is not None:
                self.send(exc.status, exc.raw, exc.content_type)
            elif exc.code is None:
                self.send(exc.status, b"")
            else:
                self.send(exc.status, jackson({"message": exc.message, "code": exc.code}))

    def reply(self, payload: Any, status: int = 200) -> None:
        self.send(status, jackson(payload))

    # -- routing ---------------------------------------------------------------------------------

    def _route(self, method: str) -> None:
        path = self.path_only.rstrip("/") or "/"
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            raise ApiError(413, None, raw=NGINX_413, content_type="text/html")
        double = self.double
        if path == "/api/v1/config" and method == "GET":
            return self.reply({"clientMaxFileSize": double.max_file, "clientMaxBodySize": MAX_BODY})
        if path == "/api/v1/consistence/status" and method == "GET":
            return self.reply({"demoFaceCollectionIsInconsistent": False, "dbIsInconsistent": False,
                               "saveImagesToDB": True, "status": "OK"})
        if path.startswith("/api/v1/static/") and method == "GET":
            image_id = path.rsplit("/", 1)[-1]
            with double.lock:
                example = double.find_example(image_id)
            return self.send(200, example.image if example else b"", "application/octet-stream")
        if path.startswith("/api/v1/recognition"):
            self._check_key("recognition")
            return self._recognition(method, path[len("/api/v1/recognition"):])
        if path.startswith("/api/v1/detection"):
            self._check_key("detection")
            if path == "/api/v1/detection/detect" and method == "POST":
                return self._detect()
        elif path.startswith("/api/v1/verification"):
            self._check_key("verification")
            if path == "/api/v1/verification/verify" and method == "POST":
                return self._verify_two()
        elif path.startswith("/api/v1/"):
            raise ApiError(500, None, raw=b'{"status":500,"error":"Internal Server Error"}')
        raise ApiError(404, None, raw=json.dumps({"status": 404, "error": "Not Found", "path": path}).encode())

    def _check_key(self, service: str) -> None:
        key = self.headers.get("x-api-key")
        if key is None:
            self.read_body()
            raise ApiError(400, 20, "Missing header: x-api-key")
        try:
            if len(key) < 36:
                raise ValueError
            uuid.UUID(key)
        except ValueError:
            self.read_body()
            raise ApiError(400, 26, "Service API key should be UUID") from None
        if key != self.double.keys[service]:
            self.read_body()
            raise ApiError(404, 10, f"{service.capitalize()} service with API Key {key} not found")

    def _recognition(self, method: str, rest: str) -> None:
        double = self.double
        if rest == "/recognize" and method == "POST":
            return self._recognize()
        if rest == "/subjects":
            if method == "GET":
                with double.lock:
                    return self.reply({"subjects": list(double.subjects)})
            if method == "POST":
                return self._create_subject()
            if method == "DELETE":
                with double.lock:
                    count = len(double.subjects)
                    double.subjects.clear()
                return self.reply({"deleted": count})
        if rest.startswith("/subjects/"):
            name = unquote(rest[len("/subjects/"):])
            if method == "PUT":
                return self._rename_subject(name)
            if method == "DELETE":
                with double.lock:
                    stored = double.stored_name(name)
                    if stored is None:
                        raise ApiError(404, 42, f"Subject {name} not found")
                    del double.subjects[stored]
                return self.reply({"subject": stored})
        if rest == "/faces":
            if method == "POST":
                return self._add_example()
            if method == "GET":
                return self._list_examples()
            if method == "DELETE":
                return self._delete_subject_examples()
        if rest == "/faces/delete" and method == "POST":
            return self._delete_many()
        if rest == "/embeddings/recognize" and method == "POST":
            return self._recognize_embeddings()
        if rest.startswith("/faces/"):
            parts = rest.split("/")
            image_id = parts[2]
            if len(parts) == 3 and method == "DELETE":
                with double.lock:
                    example = double.find_example(image_id)
                    if example is None:
                        raise ApiError(404, 44, f"Image {image_id} not found")
                    double.subjects[example.subject].remove(example)
                return self.reply({"image_id": image_id, "subject": example.subject})
            if len(parts) == 4 and parts[3] == "img" and method == "GET":
                with double.lock:
                    example = double.find_example(image_id)
                return self.send(200, example.image if example else b"", "application/octet-stream")
            if len(parts) == 4 and parts[3] == "verify" and method == "POST":
                return self._verify_example(image_id)
        raise ApiError(404, 0, f"Request method '{method}' not supported")

    # -- request parsing -------------------------------------------------------------------------

    def _int(self, name: str, default: int, minimum: int, message: str) -> int:
        raw = self.q(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(400, None) from None
        if value < minimum:
            raise ApiError(400, 26, message)
        return value

    def _threshold(self) -> float:
        raw = self.q("det_prob_threshold")
        if raw is None or raw == "":
            return DEFAULT_THRESHOLD
        try:
            value = float(raw)
        except ValueError:
            raise ApiError(400, None) from None
        if not 0 <= value <= 1:
            raise ApiError(400, 28, "No face is found in the given image")
        return value

    def _image(self, part: str = "file") -> bytes:
        """The uploaded image of a multipart part or a base64 JSON field, with CompreFace's checks."""
        body = self.read_body()
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("application/json"):
            try:
                payload = json.loads(body or b"null")
            except ValueError:
                raise ApiError(400, None) from None
            value = payload.get(part) if isinstance(payload, dict) else None
            if not value:
                raise ApiError(400, 5, "Field content cannot be empty")
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise ApiError(400, 21, "Provided value is not Base64") from None
        if not content_type.startswith("multipart/form-data"):
            raise ApiError(415, None)
        parts = self._multipart(body, content_type)
        if part not in parts:
            raise ApiError(400, 34, f"Required part {part} is missing")
        filename, data = parts[part]
        extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        if extension not in EXTENSIONS:
            raise ApiError(400, 21, f"File [{filename}] has an unavailable extension")
        if len(data) > self.double.max_file:
            raise ApiError(400, 0, "Something went wrong, please try again")
        return data

    def _images(self) -> tuple[bytes, bytes]:
        body = self.read_body()
        content_type = self.headers.get("Content-Type", "")
        parts = self._multipart(body, content_type)
        found = []
        for name in ("source_image", "target_image"):
            if name not in parts:
                raise ApiError(400, 34, f"Required part {name} is missing")
            found.append(parts[name][1])
        return found[0], found[1]

    @staticmethod
    def _multipart(body: bytes, content_type: str) -> dict[str, tuple[str, bytes]]:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        parts: dict[str, tuple[str, bytes]] = {}
        if not message.is_multipart():
            raise ApiError(400, 0, "Something went wrong, please try again")
        for item in message.iter_parts():
            name = item.get_param("name", header="content-disposition")
            filename = item.get_filename()
            if name and filename is not None:  # a part without filename is a plain form field
                parts[str(name)] = (filename, item.get_payload(decode=True) or b"")
        return parts

    def _faces(self, data: bytes, threshold: float) -> list[DetectedFace]:
        if self.double.recognize_latency_s:
            time.sleep(self.double.recognize_latency_s)
        try:
            faces = self.double.engine.detect(data)
        except UndecodableImage:
            raise ApiError(400, 28, "No face is found in the given image") from None
        faces = [f for f in faces if f.probability > threshold]
        if not faces:
            raise ApiError(400, 28, "No face is found in the given image")
        return faces

    def _face_json(self, face: DetectedFace, plugins: set[str], *, rounded: bool = True) -> dict[str, Any]:
        x0, y0, x1, y1 = face.box
        probability = round(face.probability, 5) if rounded else face.probability
        item: dict[str, Any] = {"box": {"probability": probability, "x_max": x1, "y_max": y1, "x_min": x0,
                                        "y_min": y0}}
        if "age" in plugins:
            item["age"] = {"probability": 0.9, "high": face.age_high, "low": face.age_low}
        if "gender" in plugins:
            item["gender"] = {"probability": 0.99, "value": face.gender}
        if "pose" in plugins:
            item["pose"] = {"pitch": face.pitch, "roll": face.roll, "yaw": face.yaw}
        if "mask" in plugins:
            item["mask"] = {"probability": 0.99, "value": "without_mask"}
        if "landmarks" in plugins:
            w, h = x1 - x0, y1 - y0
            item["landmarks"] = [[x0 + w * 3 // 10, y0 + h * 4 // 10], [x0 + w * 7 // 10, y0 + h * 4 // 10],
                                 [x0 + w // 2, y0 + h * 6 // 10], [x0 + w * 35 // 100, y0 + h * 8 // 10],
                                 [x0 + w * 65 // 100, y0 + h * 8 // 10]]
        if "calculator" in plugins:
            item["embedding"] = list(face.embedding)
        return item

    def _plugins(self) -> set[str]:
        raw = self.q("face_plugins") or ""
        return {p for p in raw.replace(",", " ").split() if p}

    # -- endpoints -------------------------------------------------------------------------------

    def _recognize(self) -> None:
        limit = self._int("limit", 0, 0, "Limit should be equal or greater than 0; ")
        count = self._int("prediction_count", 1, 1, "prediction_count should be equal or greater than 1; ")
        threshold = self._threshold()
        plugins = self._plugins()
        faces = self._faces(self._image(), threshold)
        if limit:
            faces = faces[:limit]
        result = []
        with self.double.lock:
            for face in faces:
                item = self._face_json(face, plugins)
                item["subjects"] = self.double.ranked(face.embedding, count)
                result.append(item)
        payload: dict[str, Any] = {"result": result}
        if self.q("status") == "true":
            payload["plugins_versions"] = {"detector": "facenet.FaceDetector", "calculator": "facenet.Calculator"}
        self.reply(payload)

    def _detect(self) -> None:
        limit = self._int("limit", 0, 0, "Limit should be equal or greater than 0; ")
        threshold = self._threshold()
        plugins = self._plugins()
        faces = self._faces(self._image(), threshold)
        if limit:
            faces = faces[:limit]
        self.reply({"result": [self._face_json(f, plugins, rounded=False) for f in faces]})

    def _create_subject(self) -> None:
        try:
            payload = json.loads(self.read_body() or b"null")
        except ValueError:
            raise ApiError(400, None) from None
        name = payload.get("subject") if isinstance(payload, dict) else None
        name = name if isinstance(name, str) else ""
        if not name.strip():
            raise ApiError(400, 26, "Subject name cannot be empty")
        if len(name) > 50:
            raise ApiError(400, 26, "Subject name size must be between 1 and 50")
        if any(c in name for c in ";/\\"):
            raise ApiError(400, 36, "The name cannot contain the following special characters: ';', '/', '\\'")
        with self.double.lock:
            if self.double.stored_name(name) is not None:
                raise ApiError(400, 43, "Subject already exists")
            self.double.subjects[name] = []
        self.reply({"subject": name}, 201)

    def _rename_subject(self, old: str) -> None:
        try:
            payload = json.loads(self.read_body() or b"null")
        except ValueError:
            raise ApiError(400, None) from None
        new = payload.get("subject") if isinstance(payload, dict) else ""
        double = self.double
        with double.lock:
            if not new or new == old:
                return self.reply({"updated": False})
            stored = double.stored_name(old)
            if stored is None:
                raise ApiError(404, 42, f"Subject {old} not found")
            target = double.stored_name(new)
            moved = double.subjects.pop(stored)
            name = target if target is not None and target != stored else new
            for example in moved:
                example.subject = name
            double.subjects.setdefault(name, []).extend(moved)
        self.reply({"updated": True})

    def _add_example(self) -> None:
        subject = self.q("subject")
        if subject is None:
            self.read_body()
            raise ApiError(400, 33, "Required parameter subject is missing")
        if not subject.strip():
            self.read_body()
            raise ApiError(400, 26, "Subject name is empty; ")
        threshold = self._threshold()
        data = self._image()
        faces = self._faces(data, threshold)
        if len(faces) > 1:
            raise ApiError(400, 31, "More than one face in the source image")
        if len(subject) > 255:
            raise ApiError(400, 0, "Something went wrong, please try again")
        double = self.double
        with double.lock:
            stored = double.stored_name(subject) or subject
            example = Example(str(uuid.uuid4()), stored, faces[0].embedding, data)
            double.subjects.setdefault(stored, []).append(example)
        self.reply({"image_id": example.image_id, "subject": subject}, 201)

    def _list_examples(self) -> None:
        page = max(0, int(self.q("page", "0") or 0)) if (self.q("page") or "0").lstrip("-").isdigit() else 0
        raw_size = self.q("size", "20") or "20"
        size = int(raw_size) if raw_size.isdigit() and int(raw_size) >= 1 else 20
        size = min(size, 2000)
        subject = self.q("subject")
        with self.double.lock:
            items = [e for e in self.double.examples() if subject is None or e.subject == subject]
        chunk = items[page * size:(page + 1) * size]
        self.reply({"faces": [{"image_id": e.image_id, "subject": e.subject} for e in chunk],
                    "total_pages": math.ceil(len(items) / size), "total_elements": len(items),
                    "page_number": page, "page_size": size})

    def _delete_subject_examples(self) -> None:
        subject = self.q("subject")
        if not subject:
            raise ApiError(400, 26, "Subject name is empty; ")
        with self.double.lock:
            stored = self.double.stored_name(subject)
            removed = self.double.subjects.pop(stored, []) if stored else []
        self.reply({"deleted": len(removed)})

    def _delete_many(self) -> None:
        try:
            ids = json.loads(self.read_body() or b"[]")
        except ValueError:
            raise ApiError(400, None) from None
        deleted = []
        with self.double.lock:
            for image_id in ids:
                example = self.double.find_example(str(image_id))
                if example is not None:
                    self.double.subjects[example.subject].remove(example)
                    deleted.append({"image_id": example.image_id, "subject": example.subject})
        self.reply(deleted)

    def _verify_example(self, image_id: str) -> None:
        threshold = self._threshold()
        faces = self._faces(self._image(), threshold)
        with self.double.lock:
            example = self.double.find_example(image_id)
        if example is None:
            raise ApiError(404, 44, "Image Id is incorrect")
        plugins = self._plugins()
        result = []
        for face in faces:
            item = self._face_json(face, plugins)
            item["subject"] = example.subject
            item["similarity"] = similarity(face.embedding, example.embedding)
            result.append(item)
        self.reply({"result": result})

    def _recognize_embeddings(self) -> None:
        count = self._int("prediction_count", 1, 1, "prediction_count should be equal or greater than 1; ")
        try:
            payload = json.loads(self.read_body() or b"null")
        except ValueError:
            raise ApiError(400, None) from None
        embeddings = payload.get("embeddings") if isinstance(payload, dict) else None
        if not embeddings:
            raise ApiError(400, 5, "Field embeddings cannot be empty")
        result = []
        with self.double.lock:
            for vector in embeddings:
                norm = math.sqrt(sum(v * v for v in vector)) or 1.0
                unit = tuple(v / norm for v in vector)
                stored_dim = next((len(e.embedding) for e in self.double.examples()), len(unit))
                if len(unit) != stored_dim:
                    raise ApiError(400, 0, "Something went wrong, please try again")
                result.append({"embedding": vector,
                               "similarities": self.double.ranked(unit, count) if self.double.examples() else []})
        self.reply({"result": result})

    def _verify_two(self) -> None:
        limit = self._int("limit", 0, 0, "Limit should be equal or greater than 0; ")
        threshold = self._threshold()
        source, target = self._images()
        plugins = self._plugins()
        sources = self._faces(source, threshold)
        if limit:
            sources = sources[:limit]
        if len(sources) > 1:
            raise ApiError(400, 31, "More than one face in the source image")
        targets = self._faces(target, threshold)
        if limit:
            targets = targets[:limit]
        matches = [{**self._face_json(t, plugins), "similarity": similarity(sources[0].embedding, t.embedding)}
                   for t in targets]
        self.reply({"result": [{"source_image_face": self._face_json(sources[0], plugins),
                                "face_matches": matches}]})


CompreFaceDouble.handler_class = CompreFaceHandler
