"""Modes as data (tasks.modes): each mode's required arguments and its need of the face service are declared
once, and checked once, before its handler, with the messages the handlers used to write by hand."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from stash_compreface import tasks
from stash_compreface.errors import ServiceUnavailable, SettingError
from stash_compreface.settings import parse_args
from stash_compreface.tasks.modes import Mode, need
from tests.library import photo
from tests.tasks.conftest import TaskWorld

SUBJECT = "Person 12 ABCDEFGHIJKLMNOP"
IMAGE_MESSAGE = "needs imageId: the id of the image to look at"
SUBJECT_MESSAGE = ("needs subject or subjects (one of them): the candidate's name, like 'Person 12 ABCDEFGHIJKLMNOP' "
                   "(or the candidates', subjects)")


class Untouchable:
    """A context no argument check may touch: the arguments are checked before anything is asked."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the argument check used ctx.{name}")


@pytest.mark.parametrize(("mode", "args", "message", "setting"), [
    ("identifyImage", {}, f"identifyImage {IMAGE_MESSAGE}", "imageId"),
    ("createPerformerFromImage", {}, f"createPerformerFromImage {IMAGE_MESSAGE}", "imageId"),
    ("identifyScene", {}, "identifyScene needs sceneId: the id of the scene to look at", "sceneId"),
    ("identifyGallery", {}, "identifyGallery needs galleryId: the id of the gallery", "galleryId"),
    ("confirmMatch", {"performerId": "1"},
     "confirmMatch needs imageId or sceneId (one of them): the item the performer is in", "imageId"),
    ("confirmMatch", {"imageId": "1", "sceneId": "2", "performerId": "1"},
     "confirmMatch needs imageId or sceneId (one of them): the item the performer is in", "imageId"),
    ("confirmMatch", {"sceneId": "2"}, "confirmMatch needs performerId: the performer who is in the item",
     "performerId"),
    ("rejectMatch", {"imageId": "1"}, "rejectMatch needs performerId: the performer who is not in the item",
     "performerId"),
    ("rejectMatch", {"performerId": "1"},
     "rejectMatch needs imageId or sceneId (one of them): the item the performer is not in", "imageId"),
    ("undoRun", {}, "undoRun needs runId: the runId of the run to revert (in that run's output)", "runId"),
    ("nameCandidate", {"name": "Alice"}, f"nameCandidate {SUBJECT_MESSAGE}", "subject"),
    ("nameCandidate", {"subject": SUBJECT}, "nameCandidate needs name: the performer name to give the candidate",
     "name"),
    ("mergeIntoPerformer", {"subject": SUBJECT},
     "mergeIntoPerformer needs performerId: the id of the performer the candidate is", "performerId"),
    ("mergeIntoPerformer", {"performerId": "3"}, f"mergeIntoPerformer {SUBJECT_MESSAGE}", "subject"),
    ("rejectCandidate", {}, f"rejectCandidate {SUBJECT_MESSAGE}", "subject"),
])
def test_a_missing_argument_is_named_before_anything_is_asked(mode: str, args: dict, message: str,
                                                              setting: str) -> None:
    with pytest.raises(SettingError) as refused:
        tasks.task_for(mode).check(Untouchable(), parse_args({"mode": mode, **args}))  # type: ignore[arg-type]
    assert str(refused.value) == message
    assert refused.value.setting == setting


class Service:
    def __init__(self, events: list[str], down: bool = False) -> None:
        self.events = events
        self.down = down

    def check(self) -> None:
        self.events.append("check")
        if self.down:
            raise ServiceUnavailable("CompreFace at http://127.0.0.1:9 is not usable", setting="comprefaceUrl")


def context(events: list[str], *, down: bool = False) -> Any:
    return SimpleNamespace(face_service=Service(events, down))


def test_the_face_service_is_checked_once_before_the_handler_and_only_where_declared() -> None:
    events: list[str] = []

    def handler(ctx: Any, args: Any) -> str:
        events.append("handler")
        return "done"

    args = parse_args({"mode": "x", "imageId": "4"})
    assert Mode(handler, needs=(need("imageId", what="an image"),), face_service=True)(context(events), args) == "done"
    assert events == ["check", "handler"]
    events.clear()
    assert Mode(handler)(context(events), args) == "done"
    assert events == ["handler"]
    events.clear()
    with pytest.raises(ServiceUnavailable):
        Mode(handler, face_service=True)(context(events, down=True), args)
    assert events == ["check"]  # the handler never ran
    events.clear()
    only_with_an_image = Mode(handler, face_service=lambda ctx, a: bool(a.image_id))
    only_with_an_image(context(events), parse_args({"mode": "x"}))
    only_with_an_image(context(events), args)
    assert events == ["handler", "check", "handler"]


def test_confirm_match_needs_the_face_service_only_to_learn_a_face() -> None:
    confirm = tasks.task_for("confirmMatch")
    link = {"mode": "confirmMatch", "imageId": "1", "performerId": "2"}
    assert not confirm.needs_face_service(Untouchable(), parse_args(link))  # type: ignore[arg-type]
    assert confirm.needs_face_service(Untouchable(), parse_args({**link, "faceIndex": "0"}))  # type: ignore[arg-type]


def test_every_mode_is_declared_once_with_what_it_needs() -> None:
    assert set(tasks.LISTED) | set(tasks.OPERATIONS) == set(tasks.MODES)
    assert not set(tasks.LISTED) & set(tasks.OPERATIONS)
    assert all(mode.needs == () for name, mode in tasks.MODES.items() if name in tasks.LISTED)  # a click has no id
    reads = ["reviewData", "candidateFaces", "performerFaces"]
    assert {"rejectMatch", "notThisFace", "undoRun", *reads} == tasks.UNJOURNALLED
    assert [name for name, mode in tasks.MODES.items() if not mode.writes] == reads
    with pytest.raises(ValueError, match="imageID"):
        need("imageID", what="a misspelt argument")


def test_a_queued_run_with_nothing_to_do_needs_no_face_service(world: TaskWorld) -> None:
    """recognizeQueued asks for the face service only when the queue holds items (a look, nothing taken)."""
    world.configure(autoRecognize=True, comprefaceUrl="http://127.0.0.1:9")  # CompreFace is down
    run = world.run("recognizeQueued")
    assert run.error is None and any("the queue is empty" in m for m in run.messages("info"))

    from stash_compreface.hookqueue import HookQueue

    image = world.stash.add_image(photo(1))
    HookQueue.of_state_folder(world.state_dir).enqueue(f"image:{image}", now=0.0)
    run = world.run("recognizeQueued")
    assert run.error is not None and "comprefaceUrl" in run.error
    assert HookQueue.of_state_folder(world.state_dir).peek() == ([int(image)], [])  # still queued for the next run
