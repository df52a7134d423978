"""A Vision Service double: the job API (202 submit, 404-then-processing-then-completed status, 409
results until done) and the frame server, "analysing" videos made of synthetic frames.

A video is registered as a list of (timestamp, JPEG) frames; analysis runs the synthetic engine on
every frame and clusters the detections by the person it decodes, as the real service clusters by
embedding. Frames are served back by nearest timestamp.

Faults: ``fail_next_jobs`` (jobs end "failed" with an error text), ``hang_next_jobs`` (jobs stay "processing"
forever), ``fail_jobs = True`` (every job fails), plus :class:`DoubleServer`'s ``fail_next``/``hang``/
``go_down`` for the HTTP layer.
"""

from __future__ import annotations

import io
import json
import uuid
from collections import defaultdict
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from PIL import Image

from .server import DoubleHandler, DoubleServer
from .synthetic import SyntheticEngine


class VisionDouble(DoubleServer):
    def __init__(self, *, legacy_frame_route: bool = False) -> None:
        self.engine = SyntheticEngine()
        self.videos: dict[str, list[tuple[float, bytes]]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.not_found_polls = 1  # a fresh job is unknown until its worker starts
        self.processing_polls = 1
        self.legacy_frame_route = legacy_frame_route
        self.fail_jobs = False  # every job fails
        self.job_error = "faces job failed: decoder crashed"
        self._fates: list[tuple[str, str]] = []  # (fate, error) for the next submitted jobs
        self.analyze_bodies: list[dict[str, Any]] = []  # every POST /vision/analyze body, as sent
        self.frame_queries: list[dict[str, str]] = []  # every extract-frame query, as sent
        super().__init__()

    def fail_next_jobs(self, times: int = 1, *, error: str = "faces job failed: decoder crashed") -> None:
        """The next ``times`` submitted jobs end "failed" with ``error`` (the service's ``error`` field)."""
        with self.lock:
            self._fates += [("failed", error)] * times

    def hang_next_jobs(self, times: int = 1) -> None:
        """The next ``times`` submitted jobs stay "processing" forever (a wedged worker); later ones complete."""
        with self.lock:
            self._fates += [("hang", "")] * times

    def add_video(self, path: str, frames: list[tuple[float, bytes]]) -> None:
        with self.lock:
            self.videos[path] = sorted(frames, key=lambda f: f[0])

    def analyse(self, path: str, source_id: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
        """Sprite mode (``use_sprites`` and both URLs, §5): the registered frames stand for the tiles, at cue
        midpoints, and enhancement is skipped; otherwise an enabled ``enhancement`` marks each cluster's
        representative ``enhanced``, its box in the 2x frame that ``enhance=1`` serves (§6.3)."""
        parameters = parameters or {}
        sprites = bool(parameters.get("use_sprites") and parameters.get("sprite_vtt_url")
                       and parameters.get("sprite_image_url"))
        enhancement = parameters.get("enhancement") if isinstance(parameters.get("enhancement"), dict) else None
        enhanced = bool(enhancement and enhancement.get("enabled")) and not sprites
        clusters: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for index, (timestamp, data) in enumerate(self.videos[path]):
            for face in self.engine.detect(data):
                x0, y0, x1, y1 = face.box
                clusters[face.person].append({
                    "frame_index": index, "timestamp": timestamp, "confidence": face.probability,
                    "bbox": {"x_min": x0, "y_min": y0, "x_max": x1, "y_max": y1},
                    "quality": {"composite": 0.8, "components": {"size": 0.8, "pose": 0.9, "occlusion": 0.9,
                                                                  "sharpness": 0.7}},
                    "pose": "front", "enhanced": False, "occlusion": {"occluded": False, "probability": 0.9},
                })
        faces = []
        for n, detections in enumerate(clusters.values()):
            best = max(detections, key=lambda d: (d["bbox"]["x_max"] - d["bbox"]["x_min"]))
            if enhanced:
                best = {**best, "enhanced": True, "bbox": {k: 2 * v for k, v in best["bbox"].items()}}
            faces.append({"face_id": f"face_{n}", "embedding": [0.0] * 512,
                          "demographics": {"age": 30, "gender": "F", "emotion": "neutral"},
                          "detections": detections, "representative_detection": best})
        return {"job_id": "faces-x", "source_id": source_id, "status": "completed", "faces": faces,
                "metadata": {"source": path, "source_type": "video", "total_frames": len(self.videos[path]),
                             "frames_processed": len(self.videos[path]), "unique_faces": len(faces),
                             "total_detections": sum(len(f["detections"]) for f in faces),
                             "processing_time_seconds": 0.1,
                             "method": "sprites" if sprites else "opencv_cpu", "model": "buffalo_l",
                             "frame_enhancement": enhancement if enhancement and enhancement.get("enabled")
                             else None}}


def _invalid_enhancement(value: Any) -> str:
    """faces-service's validation of ``enhancement`` (``faces/models.py:22-33``), as a 422 detail."""
    if value is None:
        return ""
    if not isinstance(value, dict):
        return "enhancement: Input should be a valid dictionary"
    for key in ("quality_trigger", "fidelity_weight"):
        number = value.get(key, 0.5)
        if isinstance(number, bool) or not isinstance(number, int | float) or not 0 <= number <= 1:
            return f"enhancement.{key}: Input should be between 0 and 1"
    return ""


class VisionHandler(DoubleHandler):
    double: ClassVar[VisionDouble]  # type: ignore[misc]

    def detail(self, status: int, text: str) -> None:
        self.send_json(status, {"detail": text})

    def handle_request(self, method: str) -> None:
        double, path = self.double, self.path_only
        frame_route = "/extract-frame" if double.legacy_frame_route else "/frames/extract-frame"
        if path == "/vision/health" and method == "GET":
            return self.send_json(200, {"status": "healthy", "service": "vision-api", "version": "1.0.0",
                                        "services": {}})
        if path == "/vision/analyze" and method == "POST":
            body = json.loads(self.read_body() or b"{}")
            with double.lock:
                double.analyze_bodies.append(body)
            source, source_id = body.get("source"), body.get("source_id")
            faces = (body.get("modules") or {}).get("faces") or {}
            parameters = faces.get("parameters") or {}
            if not source or source_id is None:
                return self.detail(422, "source and source_id are required")
            with double.lock:
                if source not in double.videos:
                    return self.detail(404, f"Video not found: {source}")
                job_id = str(uuid.uuid4())
                fate, error = double._fates.pop(0) if double._fates else (
                    ("failed", double.job_error) if double.fail_jobs else ("completed", ""))
                problem = _invalid_enhancement(parameters.get("enhancement"))
                if problem:  # faces-service answers 422, which vision-api turns into a failed job (§2.1)
                    fate, error = "failed", f"faces job submission failed: {problem}"
                double.jobs[job_id] = {"source": source, "source_id": str(source_id), "polls": 0, "fate": fate,
                                       "error": error, "parameters": parameters}
            return self.send_json(202, {"job_id": job_id, "status": "queued", "created_at": "2026-11-24T00:00:00.000Z",
                                        "services_enabled": {"scenes": True, "faces": True, "semantics": False,
                                                             "objects": False}, "processing_mode": "sequential"})
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[:2] == ["vision", "jobs"] and method == "GET":
            with double.lock:
                job = double.jobs.get(parts[2])
                if job is None:
                    return self.detail(404, f"Job not found: {parts[2]}")
                if parts[3] == "status":
                    job["polls"] += 1
                    if job["polls"] <= double.not_found_polls:
                        return self.detail(404, f"Job not found: {parts[2]}")
                    done = job["polls"] > double.not_found_polls + double.processing_polls
                    state = job["fate"] if done and job["fate"] != "hang" else "processing"
                    job["state"] = state
                    return self.send_json(200, {"job_id": parts[2], "status": state,
                                                "progress": 1.0 if state != "processing" else 0.5,
                                                "error": job["error"] if state == "failed" else None})
                if parts[3] == "results":
                    if job.get("state") != "completed":
                        return self.detail(409, f"Job not completed (status: {job.get('state', 'processing')})")
                    results = double.analyse(job["source"], job["source_id"], job["parameters"])
                    return self.send_json(200, {"job_id": parts[2], "source_id": job["source_id"],
                                                "status": "completed", "scenes": None, "faces": results,
                                                "semantics": None, "objects": None, "metadata": {}})
        if path == frame_route and method == "GET":
            video, timestamp = self.q("video_path"), float(self.q("timestamp") or 0)
            with double.lock:
                frames = double.videos.get(video or "")
                double.frame_queries.append({k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()})
            if not frames:
                return self.detail(404, f"Video not found: {video}")
            _, data = min(frames, key=lambda f: abs(f[0] - timestamp))
            if self.q("enhance") == "1":  # restored and pasted back at 2x, as CodeFormer/GFPGAN do
                with Image.open(io.BytesIO(data)) as image:
                    out = io.BytesIO()
                    image.convert("RGB").resize((image.width * 2, image.height * 2)).save(out, "JPEG", quality=95)
                data = out.getvalue()
            return self.send(200, data, "image/jpeg", {"X-Timestamp": str(timestamp)})
        return self.detail(404, "Not Found")


VisionDouble.handler_class = VisionHandler
