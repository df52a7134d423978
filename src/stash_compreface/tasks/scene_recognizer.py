"""Who is in a scene: from Stash's sprite sheet, from frames sampled locally, or from the Vision Service.

Sprites: Stash's sheet holds up to 81 evenly spaced thumbnails, described by a VTT. The cells are
enlarged and laid out nine to a sheet, so a scene costs nine recognitions.
Local frames (no ``visionServiceUrl``): frames sampled from the video every ``frameInterval`` seconds
(``video.sample_frames``), faces detected with their vectors as frames come; only the faces are kept,
so memory stays bounded however long the scene. Groups are recognised once per scene: the best faces'
vectors in one ``recognize_embeddings`` call.
Vision Service: it samples the video and clusters the faces per person; one frame of each cluster is
fetched back from its frame server and recognised through the face service.
Sprites and local frames group the faces by person across frames (their embeddings, faces/grouping.py):
a group's best faces name it, and its frames are the evidence. Either way a performer is linked only
when their subject holds across several frames: one stray frame is not evidence. Local frames and the
Vision Service also find new people (:class:`Candidates`): a person seen in enough frames whose best face
is good enough becomes a candidate, counted with images towards ``minFacesForNewPerformer``.
Every recogniser reports what it found as :class:`Finding` s (one per person, with the frames and best
similarity that are its evidence): batch runs link the matched ones, identifyScene shows them all.
"""

from __future__ import annotations

import base64
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

from PIL import Image

from .. import imaging
from ..errors import CompreFaceError, MediaError, SettingError, TooManyFaces
from ..faces import matching, quality
from ..faces.grouping import MIN_FRAMES, Evidence, Sighting, consistent_subjects, group_faces
from ..faces.models import Box, Face
from ..faces.naming import subject_name
from ..faces.vtt import parse_vtt
from ..faceservice import FaceService
from ..quality import measure_for_gates
from ..settings import Settings, TaskArgs
from ..stash.models import ItemKind, Scene
from ..stash.queries import Selection
from ..vision.client import Detection, Enhancement, parse_faces
from .context import TaskContext
from .performers import AmbiguousSubject, PerformerDirectory, refusals, scene_item
from .runner import Tally, item_pages, run_items


def scene_gate(s: Settings) -> quality.Gate:
    """Scene frames are small: every scene mode matches with the low-quality gate."""
    return quality.match_gate(s.min_face_size_px, s.min_confidence_score, s.min_processing_quality_score,
                              relaxed=True)


class FindingStatus(StrEnum):
    """What became of one person seen in a scene; the values are identifyScene's ``status`` strings."""

    MATCHED = "matched"  # a performer with consistent evidence: what a recognition run links
    REJECTED = "rejected"  # the user said this performer is not in the scene (rejectMatch)
    NO_PERFORMER = "no performer"  # a subject with consistent evidence but no performer (yet)
    WEAK = "weak"  # a known subject, in too few of the frames to be evidence
    CANDIDATE = "candidate"  # an unknown person, now a candidate subject to name
    UNKNOWN = "unknown"  # nobody the face service knows, not (yet) a candidate


SHOWN_TIMES = 10  # timestamps listed per person in identifyScene's output
THUMBNAIL_SIDE = 96  # pixels: the face a UI shows for a person, small because it travels inside the JSON


@dataclass
class Finding:
    """One person in a scene and the evidence: frames seen in (with their times) and best similarity."""

    status: FindingStatus
    frames: int
    times: tuple[float, ...] = ()
    subject: str | None = None
    similarity: float | None = None
    performer_id: str | None = None
    performer_name: str | None = None
    note: str = ""
    crop: bytes | None = None  # the person's best face (JPEG), when the recogniser kept one

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "subject": self.subject,
            "similarity": None if self.similarity is None else round(self.similarity, 5),
            "performer": None if self.performer_id is None else {"id": self.performer_id,
                                                                 "name": self.performer_name},
            "frames": self.frames,
            "times": [round(t, 2) for t in self.times[:SHOWN_TIMES]],
            "note": self.note,
            "face": _thumbnail(self.crop) if self.crop else None,
        }


def _thumbnail(jpeg: bytes) -> str | None:
    try:
        image = imaging.decode_rgb(jpeg, max_side=512)
    except MediaError:
        return None
    image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    return base64.b64encode(imaging.encode_jpeg(image, quality=80)).decode("ascii")


@dataclass
class SceneReport:
    """Everyone found in one scene; ``what`` says what was looked at (frames, thumbnails, clusters)."""

    what: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def performers(self) -> set[str]:
        """The performers a recognition run links: matched with consistent evidence, not rejected."""
        return {f.performer_id for f in self.findings if f.status is FindingStatus.MATCHED and f.performer_id}

    @property
    def unidentified(self) -> bool:
        """Someone was seen in several frames and no performer was found for the scene (Unidentified)."""
        unnamed = (FindingStatus.NO_PERFORMER, FindingStatus.CANDIDATE, FindingStatus.UNKNOWN)
        return any(f.status in unnamed and f.frames >= MIN_FRAMES for f in self.findings)

    def describe(self) -> str:
        notes = [f.note for f in self.findings if f.note]
        return self.what + (f"; {'; '.join(notes)}" if notes else "")


class SceneRecognizer(Protocol):
    def recognise(self, scene: Scene) -> SceneReport:
        """Everyone seen in the scene, each with its evidence and what became of it."""
        ...


class Frame(Protocol):
    """What ``video.sample_frames`` yields (the shared contract): upright RGB at most DETECT_MAX_SIDE px."""

    @property
    def timestamp_s(self) -> float: ...

    @property
    def image(self) -> Image.Image: ...


# The scene's frames, sampled every ``interval_s`` seconds; raises MediaError for an unreadable video and
# Stopped at once when ``stop`` is set.
FrameSource = Callable[[Scene, float, threading.Event], Iterable[Frame]]

BEST_FACES = 3  # a group is named by its best faces (quality score), not by its worst
CANDIDATE_MIN_FRAMES = 3  # an unknown person becomes a candidate only when seen in this many frames


@dataclass(frozen=True)
class Observation:
    """One usable face in one frame; ``crop`` (JPEG, the face with a margin) only where candidates are made."""

    frame: int
    face: Face
    measured: quality.Measured
    crop: bytes | None = None


@dataclass(frozen=True)
class Group:
    """The faces of one person across the frames of a scene, best first."""

    observations: tuple[Observation, ...]

    @property
    def frames(self) -> frozenset[int]:
        return frozenset(o.frame for o in self.observations)

    @property
    def best(self) -> Observation:
        return self.observations[0]


def group_observations(observations: list[Observation]) -> list[Group]:
    """Observations grouped by person (embedding), each group's faces best first (quality score)."""
    groups = group_faces([(o.frame, o.face.embedding) for o in observations])
    return [Group(tuple(sorted((observations[i] for i in g),
                               key=lambda o: (-o.measured.score, -o.face.box.area, o.frame))))
            for g in groups]


def group_subject(faces: Sequence[Face], min_similarity: float, *,
                  refused: Callable[[str], bool] = lambda _subject: False) -> tuple[str, float] | None:
    """The subject most of a group's recognised best faces match (ties: the higher similarity), or None.

    Subjects the user ``refused`` for the scene give way to the next ones (a face given to someone else is
    theirs); a group that matches refused subjects only is named by them, so it shows as rejected rather
    than as a stranger to make a candidate of."""
    for allowed in (refused, lambda _subject: False):
        votes: Counter[str] = Counter()
        best: dict[str, float] = {}
        for face in faces:
            match = matching.best_match(face, min_similarity, refused=allowed)
            if match is not None:
                votes[match.subject] += 1
                best[match.subject] = max(best.get(match.subject, 0.0), match.similarity)
        if votes:
            subject = max(votes, key=lambda name: (votes[name], best[name], name))
            return subject, best[subject]
    return None


def recognise_groups(service: FaceService, groups: Sequence[Group], min_probability: float) -> list[list[Face]]:
    """The recognised best faces of each group: every vector in one ``recognize_embeddings`` call (one
    request per scene, however many frames), a face without a vector through its crop. A face that
    already has subjects (CompreFace without a detection key detects through recognition) is used as is."""
    chosen = [g.observations[:BEST_FACES] for g in groups]
    vectors = [list(o.face.embedding) for obs in chosen for o in obs if o.face.embedding and not o.face.matches]
    answers = iter(service.recognize_embeddings(vectors) if vectors else [])
    out: list[list[Face]] = []
    for observations in chosen:
        faces = []
        for o in observations:
            if o.face.matches:
                faces.append(o.face)
            elif o.face.embedding:
                answer = next(answers, None)  # no subject at all: CompreFace may answer no result
                if answer is not None:
                    faces.append(answer)
            elif o.crop is not None:
                found = service.recognize(o.crop, min_probability=min_probability)
                if found:
                    faces.append(max(found, key=lambda f: f.box.area))
        out.append(faces)
    return out


class Candidates:
    """New people in scenes, shared by local frames and the Vision Service: an unknown person seen in enough
    frames whose best face passes the high-quality gate becomes a candidate subject, and each scene a
    candidate is seen in counts, with images, towards its promotion (``minFacesForNewPerformer``)."""

    def __init__(self, ctx: TaskContext, directory: PerformerDirectory, tally: Tally) -> None:
        self.ctx = ctx
        self.directory = directory
        self.tally = tally
        s = ctx.settings
        self.gate = quality.subject_gate(s.min_face_size_px, s.min_confidence_score, s.min_quality_score)
        self._lock = threading.Lock()

    def sighting(self, subject: str, scene: Scene, crop: bytes, face: Face, *, look_only: bool) -> str | None:
        """A performer-less subject seen consistently in the scene: one more sighting (maybe a promotion,
        unless ``look_only``); its performer, if it has one now."""
        promotion = self.directory.sighting(subject, scene_item(scene.id), crop, matching.stash_gender(face.gender),
                                            promote=not look_only)
        if promotion.created:
            self.tally.add(created_performers=1)
        return promotion.performer_id

    def consider(self, scene: Scene, finding: Finding, best: Observation | None, *, look_only: bool) -> Finding:
        """An unknown person (``finding``, UNKNOWN) with their best face: a candidate once seen in enough
        frames with a good enough face; else the finding as it is, with the reason when it came close."""
        if finding.frames < CANDIDATE_MIN_FRAMES or best is None or best.crop is None:
            return finding
        ok, why = quality.check(best.face, best.measured, self.gate)
        if not ok:
            finding.note = f"an unknown person in {finding.frames} frames, not a candidate: {why}"
            return finding
        ctx = self.ctx
        with self._lock:
            # Another scene of this run (or an image) may have made this person a subject meanwhile.
            again = matching.order_faces(ctx.face_service.recognize(best.crop, min_probability=0.5))
            match = matching.best_match(again[0], ctx.settings.min_similarity) if again else None
            if match is not None:
                subject = match.subject
            else:
                subject = subject_name(scene.id, ctx.suffix())
                ctx.state.add_candidate(subject)
                try:
                    if ctx.writes.add_example(subject, best.crop, why=f"a face of {scene.label} as its first "
                                              "example", item=scene_item(scene.id), new_subject=True) is not None:
                        self.tally.add(created_subjects=1)
                except (TooManyFaces, CompreFaceError) as exc:
                    finding.note = (f"an unknown person in {finding.frames} frames: the face service would not "
                                    f"take the face: {exc}")
                    return finding
        finding.subject = subject
        performer = self.directory.for_subject(subject)
        if performer is None:
            performer = self.sighting(subject, scene, best.crop, best.face, look_only=look_only)
        if performer is not None and ctx.state.refused(scene_item(scene.id), performer_id=performer):
            finding.status, finding.note = FindingStatus.REJECTED, f"{subject} was rejected for this scene"
            return finding
        finding.performer_id, finding.performer_name = performer, self.directory.name_of(performer)
        finding.status = FindingStatus.MATCHED if performer else FindingStatus.CANDIDATE
        finding.note = f"{subject} in {finding.frames} frames" + (f": performer {performer}" if performer else
                                                                   ": candidate")
        return finding


class GroupingRecognizer:
    """Shared by the sprite and local-frame modes: observations in, performers (and candidates) out."""

    create_candidates = False
    look_only = False  # identifyScene without associateExisting: nothing linked or promoted in Stash
    keep_crops = False  # identifyScene: every observation keeps its face, to show the person

    def __init__(self, ctx: TaskContext, tally: Tally | None = None,
                 directory: PerformerDirectory | None = None) -> None:
        self.ctx = ctx
        self.tally = tally or Tally()
        self.gate = scene_gate(ctx.settings)
        self.directory = directory or PerformerDirectory(ctx)
        self.candidates = Candidates(ctx, self.directory, self.tally)

    def observe(self, image: Image.Image, faces: Iterable[Face], frame_of: Callable[[Face], int | None]
                ) -> list[Observation]:
        """The faces of one picture that pass the scene gate, as observations of their frames."""
        out = []
        for face in faces:
            frame = frame_of(face)
            if frame is None or face.box.min_side < 2:
                continue
            measured = measure_for_gates(image, face)
            ok, _ = quality.check(face, measured, self.gate)
            if not ok:
                continue
            # The crop makes candidates, and recognises a face that came without a vector.
            keep = self.create_candidates or self.keep_crops or not face.embedding
            crop = imaging.encode_jpeg(imaging.crop(image, face.box)) if keep else None
            out.append(Observation(frame, face, measured, crop))
        return out

    def decide(self, scene: Scene, observations: list[Observation], what: str,
               times: Mapping[int, float]) -> SceneReport:
        """Group, name each group by its best faces, link subjects with consistent evidence."""
        groups = group_observations(observations)
        frames_with_faces = len({o.frame for o in observations})
        sightings: list[Sighting] = []
        named: dict[str, list[tuple[Group, float]]] = {}
        unknown: list[Group] = []
        recognised = recognise_groups(self.ctx.face_service, groups, self.gate.min_confidence_score)
        refused = refusals(self.ctx, self.directory, scene_item(scene.id))
        for group, faces in zip(groups, recognised, strict=True):
            found = group_subject(faces, self.ctx.settings.min_similarity, refused=refused)
            if found is None:
                unknown.append(group)
                continue
            subject, similarity = found
            named.setdefault(subject, []).append((group, similarity))
            sightings += [Sighting(frame, subject, similarity) for frame in group.frames]
        report = SceneReport(f"{what}, {frames_with_faces} frames with faces, {len(groups)} face groups")
        evidence = {e.subject: e for e in consistent_subjects(sightings, frames_with_faces)}
        for subject, entries in named.items():
            frames = frozenset().union(*(g.frames for g, _ in entries))
            best = max((g.best for g, _ in entries), key=lambda o: o.measured.score)
            finding = Finding(FindingStatus.WEAK, len(frames), _times(frames, times), subject,
                              max(s for _, s in entries), crop=best.crop)

            def promote(subject: str = subject, best: Observation = best) -> str | None:
                if not self.create_candidates or best.crop is None:
                    return None
                return self.candidates.sighting(subject, scene, best.crop, best.face, look_only=self.look_only)

            report.findings.append(resolve(self.ctx, self.directory, scene, finding, evidence.get(subject),
                                           frames_with_faces, promote=promote, look_only=self.look_only))
        for group in unknown:
            finding = Finding(FindingStatus.UNKNOWN, len(group.frames), _times(group.frames, times),
                              crop=group.best.crop)
            if self.create_candidates:
                finding = self.candidates.consider(scene, finding, group.best, look_only=self.look_only)
            report.findings.append(finding)
        report.findings.sort(key=lambda f: (-f.frames, f.subject or ""))
        return report

def _times(frames: Iterable[int], times: Mapping[int, float]) -> tuple[float, ...]:
    """The seconds into the scene of ``frames``, in order (a frame without a known time is left out)."""
    return tuple(sorted(times[f] for f in frames if f in times))


def resolve(ctx: TaskContext, directory: PerformerDirectory, scene: Scene, finding: Finding,
            evidence: Evidence | None, frames_with_faces: int, *, promote: Callable[[], str | None],
            look_only: bool) -> Finding:
    """What a recognised subject comes to in a scene: its performer when the evidence holds across frames
    and the user has not rejected it there; ``promote`` may make one of a candidate."""
    subject = finding.subject
    assert subject is not None
    if evidence is None:
        try:  # WEAK: seen, but not enough to link anyone; named for the page, where the user may confirm it
            performer = directory.for_subject(subject)
        except AmbiguousSubject:
            return finding
    else:
        finding.frames, finding.similarity = evidence.frames, evidence.best_similarity
        performer = directory.for_subject(subject)
    finding.performer_id, finding.performer_name = performer, directory.name_of(performer)
    if ctx.state.refused(scene_item(scene.id), performer_id=performer, subject=subject):
        finding.status, finding.note = FindingStatus.REJECTED, f"{subject} was rejected for this scene"
        return finding
    if evidence is None:
        return finding
    if performer is not None and not look_only:
        directory.finish_pending(subject, performer)
    elif performer is None:
        performer = promote()
    if performer is None:
        # A candidate (an unknown person the plugin made a subject of) waits for sightings or a name.
        status = FindingStatus.CANDIDATE if ctx.state.is_candidate(subject) else FindingStatus.NO_PERFORMER
        finding.status, finding.note = status, f"{subject} has no performer"
        return finding
    finding.status = FindingStatus.MATCHED
    finding.performer_id, finding.performer_name = performer, directory.name_of(performer)
    finding.note = (f"performer {performer} ({finding.performer_name}) in {evidence.frames} of {frames_with_faces} "
                    "frames with faces")
    return finding


CELLS_PER_SIDE = 3
CELL_WIDTH = 320


def _cell_of(face: Box, cells: list[Box]) -> int | None:
    """The cell holding the face's centre (a detection in the grey gap belongs to none)."""
    cx, cy = (face.x_min + face.x_max) / 2, (face.y_min + face.y_max) / 2
    return next((i for i, c in enumerate(cells) if c.x_min <= cx <= c.x_max and c.y_min <= cy <= c.y_max), None)


class SpriteRecognizer(GroupingRecognizer):
    """Sprite thumbnails are small and enlarged: they match known people, never make new ones."""

    def observations(self, scene: Scene) -> tuple[list[Observation], dict[int, float]]:
        """Usable faces per thumbnail, and each thumbnail's time in the scene (its VTT cue's start)."""
        if not scene.vtt_url or not scene.sprite_url:
            raise MediaError("Stash lists no sprite for this scene")
        try:
            vtt = self.ctx.stash.download(scene.vtt_url, what="sprite VTT").decode("utf-8", "replace")
            sheet = imaging.decode_rgb(self.ctx.stash.download(scene.sprite_url, what="sprite image"))
        except MediaError as exc:
            raise MediaError(f"{exc}: generate sprites in Stash (Tasks > Generate > Sprites)") from None
        cues = [c for c in parse_vtt(vtt) if c.x + c.width <= sheet.width and c.y + c.height <= sheet.height]
        if not cues:
            raise MediaError("the sprite VTT lists no thumbnail inside the sprite image")
        cells = [sheet.crop((c.x, c.y, c.x + c.width, c.y + c.height)) for c in cues]
        per_request = CELLS_PER_SIDE * CELLS_PER_SIDE
        observations: list[Observation] = []
        for start in range(0, len(cells), per_request):
            self.ctx.check_stop()
            tiled, boxes = imaging.tile(cells[start:start + per_request], columns=CELLS_PER_SIDE,
                                        cell_width=CELL_WIDTH)
            faces = self.ctx.face_service.detect(imaging.encode_jpeg(tiled), embeddings=True,
                                                 min_probability=self.gate.min_confidence_score)

            def frame_of(face: Face, start: int = start, boxes: list[Box] = boxes) -> int | None:
                cell = _cell_of(face.box, boxes)
                return None if cell is None else start + cell

            observations += self.observe(tiled, faces, frame_of)
        return observations, {i: c.start_s for i, c in enumerate(cues)}

    def recognise(self, scene: Scene) -> SceneReport:
        observations, times = self.observations(scene)
        return self.decide(scene, observations, f"{len(times)} thumbnails", times)


def _constant(frame: int) -> Callable[[Face], int | None]:
    """Every face of a sampled frame belongs to that frame."""
    return lambda _face: frame


class FrameRecognizer(GroupingRecognizer):
    """Frames sampled locally from the video (no Vision Service): matches known people, finds new ones."""

    create_candidates = True

    def __init__(self, ctx: TaskContext, frames: FrameSource, tally: Tally | None = None,
                 directory: PerformerDirectory | None = None) -> None:
        super().__init__(ctx, tally, directory)
        self.frames = frames

    def recognise(self, scene: Scene) -> SceneReport:
        ctx = self.ctx
        observations: list[Observation] = []
        times: dict[int, float] = {}
        for index, frame in enumerate(self.frames(scene, ctx.settings.frame_interval_s, ctx.stop)):
            ctx.check_stop()
            times[index] = frame.timestamp_s
            image = frame.image
            faces = ctx.face_service.detect(imaging.encode_jpeg(image), embeddings=True,
                                            min_probability=self.gate.min_confidence_score)
            faces = [replace(f, box=f.box.clamped(image.width, image.height)) for f in faces]
            observations += self.observe(image, faces, _constant(index))
        ctx.check_stop()
        return self.decide(scene, observations, f"{len(times)} frames", times)


class VideoRecognizer:
    """The Vision Service samples and clusters; each cluster's representative frame is recognised here. An
    unknown person's cluster seen in enough frames becomes a candidate, as with frames sampled locally."""

    look_only = False

    def __init__(self, ctx: TaskContext, tally: Tally | None = None) -> None:
        self.ctx = ctx
        self.vision = ctx.vision
        self.gate = scene_gate(ctx.settings)
        self.directory = PerformerDirectory(ctx)
        self.candidates = Candidates(ctx, self.directory, tally or Tally())
        self._enhancement: Enhancement | None = None
        self.vision.health()

    def recognise(self, scene: Scene) -> SceneReport:
        if not scene.path:
            raise MediaError("the scene has no video file")
        ctx = self.ctx
        s = ctx.settings
        job = self.vision.analyze(scene.path, scene.id, min_confidence=s.min_confidence_score,
                                  min_quality=s.min_processing_quality_score, enhancement=Enhancement())
        result = parse_faces(self.vision.wait(job, ctx.stop))
        clusters, source, self._enhancement = result.clusters, result.source, result.enhancement
        # Frames are keyed by their time in milliseconds: the service's timestamps are the frames.
        frames_with_faces = len({round(d.timestamp_s * 1000) for c in clusters for d in c.detections})
        sightings: list[Sighting] = []
        named: dict[str, tuple[Finding, Observation]] = {}
        refused = refusals(ctx, self.directory, scene_item(scene.id))
        report = SceneReport(f"{len(clusters)} face clusters, {frames_with_faces} frames with faces")
        for cluster in clusters:
            stamps = {round(d.timestamp_s * 1000): d.timestamp_s for d in cluster.detections}
            if len(stamps) < MIN_FRAMES:
                continue  # seen in one frame only: not worth a frame download, never enough evidence
            seen = self._representative(source or scene.path, cluster.representative)
            found = group_subject([seen.face], s.min_similarity, refused=refused) if seen else None
            if seen is None or found is None:
                finding = Finding(FindingStatus.UNKNOWN, len(stamps), _times(stamps, stamps),
                                  crop=seen.crop if seen else None)
                report.findings.append(self.candidates.consider(scene, finding, seen, look_only=self.look_only))
                continue
            subject, similarity = found
            sightings += [Sighting(frame, subject, similarity) for frame in stamps]
            finding, best = named.setdefault(subject, (Finding(FindingStatus.WEAK, 0, subject=subject,
                                                               similarity=similarity, crop=seen.crop), seen))
            finding.times = tuple(sorted({*finding.times, *stamps.values()}))
            finding.frames = len(finding.times)
            if similarity > (finding.similarity or 0.0):
                finding.similarity, finding.crop = similarity, seen.crop
                named[subject] = (finding, seen)
        evidence = {e.subject: e for e in consistent_subjects(sightings, frames_with_faces)}
        for subject, (finding, best) in named.items():

            def promote(subject: str = subject, best: Observation = best) -> str | None:
                assert best.crop is not None
                return self.candidates.sighting(subject, scene, best.crop, best.face, look_only=self.look_only)

            report.findings.append(resolve(ctx, self.directory, scene, finding, evidence.get(subject),
                                           frames_with_faces, promote=promote, look_only=self.look_only))
        report.findings.sort(key=lambda f: (-f.frames, f.subject or ""))
        return report

    def _representative(self, video: str, detection: Detection) -> Observation | None:
        """A cluster's face, from its representative frame (boxes are in that frame's pixels), recognised and
        measured; None when the face service finds no face there."""
        enhancement = self._enhancement if detection.enhanced else None  # its box is in the restored frame
        frame = imaging.prepare(self.vision.extract_frame(video, detection.timestamp_s, enhancement=enhancement))
        scale = frame.width / max(1, frame.original_size[0])
        box = detection.box.scaled(scale).clamped(frame.width, frame.height)
        if box.min_side < 2:
            return None
        picture = imaging.crop(frame.image, box)
        crop = imaging.encode_jpeg(picture)
        faces = self.ctx.face_service.recognize(crop, min_probability=self.gate.min_confidence_score)
        if not faces:
            return None
        face = max(faces, key=lambda f: f.box.area)
        return Observation(0, face, measure_for_gates(picture, face), crop)


def video_recognizer(ctx: TaskContext, tally: Tally, *, look_only: bool = False) -> SceneRecognizer:
    """The Vision Service when configured, else frames sampled here from the video. ``look_only``
    (identifyScene without associateExisting): nothing is linked, promoted or completed in Stash, and every
    person keeps a face to show."""
    recognizer: VideoRecognizer | FrameRecognizer
    if ctx.settings.vision_service_url:
        recognizer = VideoRecognizer(ctx, tally)
    else:
        recognizer = FrameRecognizer(ctx, ctx.frames, tally)
        recognizer.keep_crops = look_only
    recognizer.look_only = look_only
    if not look_only:
        recognizer.directory.complete_pending()
    return recognizer


def record_scene(ctx: TaskContext, recognizer: SceneRecognizer, scene: Scene, tally: Tally) -> SceneReport:
    """Recognise the scene, then write its outcome (performers, tags) in one go."""
    report = recognizer.recognise(scene)
    ctx.debug(f"{scene.label}: {report.describe()}")
    linked = ctx.writes.record_outcome(ItemKind.SCENE, scene, failed=False, performers=report.performers,
                                       unidentified=report.unidentified)
    tally.add(processed=1, matched=int(bool(report.performers)), linked=linked)
    return report


def run_scenes(ctx: TaskContext, args: TaskArgs, recognizer: SceneRecognizer, *, selection: Selection, title: str,
               tally: Tally | None = None) -> dict[str, Any]:
    """A batch scene mode: every selected scene recognised and recorded through the item runner."""
    tally = tally or Tally()

    def work(scene: Scene) -> None:
        record_scene(ctx, recognizer, scene, tally)

    run_items(ctx, item_pages(ctx, ItemKind.SCENE, selection, args.limit), work, title=title, noun="scene",
              label=lambda scene: scene.label,
              mark_failed=lambda scene: ctx.writes.record_outcome(ItemKind.SCENE, scene, failed=True), tally=tally)
    return {"mode": args.mode, **tally.as_dict()}


# -- single-scene modes (identifyScene, and the scene side of rejectMatch and confirmMatch) ----------------


def find_scene(ctx: TaskContext, args: TaskArgs) -> Scene:
    """The scene named by the ``sceneId`` argument; a missing or unknown id names the argument."""
    if not args.scene_id:
        raise SettingError(f"{args.mode} needs sceneId: the id of the scene to look at", setting="sceneId")
    scene = ctx.stash.find_scene(args.scene_id)
    if scene is None:
        raise SettingError(f"sceneId {args.scene_id} names no scene in Stash", setting="sceneId")
    return scene
