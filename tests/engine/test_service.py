"""BuiltinFaceService on real photos: what the tasks see of it is what they see of CompreFace."""

from __future__ import annotations

import io
import threading

import pytest
from PIL import Image

from stash_compreface import imaging
from stash_compreface.engine.service import BuiltinFaceService
from stash_compreface.errors import MediaError, SettingError, Stopped
from stash_compreface.faceservice import (
    ExampleNotFound,
    ExampleRef,
    FaceService,
    NoFaceFound,
    SubjectNotFound,
    TooManyFaces,
)
from testdoubles.photos import sheet_of, side_by_side


@pytest.fixture
def service(model):
    s = BuiltinFaceService(None, backend=model)
    yield s
    s.close()


def test_it_is_a_face_service(service):
    face_service: FaceService = service
    face_service.check()
    assert face_service.max_upload_bytes >= 100 * 1024 * 1024


def test_recognize_lists_faces_largest_first_with_best_subjects_first(service, photos):
    service.add_example("Obama", photos["obama_1"])
    service.add_example("Obama", photos["obama_3"])
    service.add_example("Macron", photos["macron_2025"])
    service.add_example("Ardern", photos["ardern_2018"])
    group, spans = sheet_of((photos["ardern_2022"], 500), (photos["obama_2"], 900), (photos["biden"], 700))
    faces = service.recognize(group, min_probability=0.7, candidates=2)
    assert len(faces) == 3
    areas = [f.box.area for f in faces]
    assert areas == sorted(areas, reverse=True)

    def on(span: tuple[int, int]):
        (face,) = [f for f in faces if span[0] <= (f.box.x_min + f.box.x_max) / 2 <= span[1]]
        return face

    ardern, obama, biden = (on(span) for span in spans)
    assert obama.best is not None and obama.best.subject == "Obama" and obama.best.similarity >= 0.81
    assert ardern.best is not None and ardern.best.subject == "Ardern" and ardern.best.similarity >= 0.81
    assert biden.best is not None and biden.best.similarity < 0.81  # nobody it knows
    for face in faces:
        assert len(face.matches) == 2 and len({m.subject for m in face.matches}) == 2
        assert face.matches[0].similarity >= face.matches[1].similarity
        assert 0.7 <= face.probability <= 1.0 and len(face.landmarks) == 5


def test_recognize_without_subjects_or_faces(service, photos):
    assert [f.matches for f in service.recognize(photos["sunak"], min_probability=0.7)] == [()]
    blank = imaging.encode_jpeg(Image.new("RGB", (400, 300), (40, 90, 160)))
    assert service.recognize(blank, min_probability=0.7) == []
    assert service.detect(blank, min_probability=0.7) == []


def test_min_probability_filters_faces(service, photos):
    assert len(service.detect(photos["sunak"], min_probability=0.5)) == 1
    assert service.detect(photos["sunak"], min_probability=0.999) == []


def test_boxes_are_in_the_pixels_of_the_image_sent(service, photos):
    face = service.detect(photos["obama_1"], min_probability=0.7)[0]
    image = imaging.decode_rgb(photos["obama_1"])
    big = image.resize((image.width * 4, image.height * 4))  # 3640 px: decoded reduced inside
    out = io.BytesIO()
    big.save(out, "PNG", compress_level=1)  # 13 MP: a third of the default level's CPU, the same pixels
    scaled = service.detect(out.getvalue(), min_probability=0.7)[0]
    assert scaled.box.iou(face.box.scaled(4.0)) > 0.8
    assert abs(scaled.landmarks[0][0] - face.landmarks[0][0] * 4) < face.box.width * 0.5


def test_exif_orientation_is_applied(service, photos):
    upright = imaging.decode_rgb(photos["macron_2025"])
    face = service.detect(imaging.encode_jpeg(upright), min_probability=0.7)[0]
    turned = upright.rotate(90, expand=True)  # stored sideways, EXIF says "rotate 270 to view"
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    turned.save(out, "JPEG", exif=exif.tobytes())
    again = service.detect(out.getvalue(), min_probability=0.7)[0]
    assert again.box.iou(face.box) > 0.8


def test_examples_round_trip(service, photos):
    first = service.add_example("Ardern", photos["ardern_2018"], source="image 7")
    second = service.add_example("Ardern", photos["ardern_2022"])
    assert service.list_subjects() == ["Ardern"] and service.count_examples("Ardern") == 2
    assert {e.id for e in service.list_examples("Ardern")} == {first, second}
    assert service.list_examples("Ardern")[0] == ExampleRef(first, "Ardern")
    assert service.list_examples("Nobody") == [] and service.count_examples("Nobody") == 0
    crop = service.example_image(first)
    with Image.open(io.BytesIO(crop)) as image:
        assert image.format == "JPEG" and max(image.size) <= 160
    # The crop keeps a margin: it can be exported to (and detected again by) another engine.
    (face,) = service.detect(crop, min_probability=0.7)
    assert face.box.width >= 60
    service.delete_example(first)
    assert service.count_examples("Ardern") == 1
    with pytest.raises(ExampleNotFound):
        service.example_image(first)
    service.delete_subject("Ardern")
    assert service.list_subjects() == []
    with pytest.raises(SubjectNotFound):
        service.delete_subject("Ardern")


def test_an_example_needs_exactly_one_face(service, photos):
    pair = side_by_side((photos["macron_2025"], 600), (photos["sunak"], 600))
    with pytest.raises(TooManyFaces):
        service.add_example("Macron", pair)
    blank = imaging.encode_jpeg(Image.new("RGB", (300, 300), (200, 180, 160)))
    with pytest.raises(NoFaceFound) as caught:
        service.add_example("Macron", blank)
    assert "the built-in engine found no face" in str(caught.value) and not caught.value.retryable
    assert service.list_subjects() == []
    with pytest.raises(MediaError):
        service.add_example("Macron", b"not an image at all")


def test_learned_examples_are_found_again(service, photos):
    service.add_example("Macron", photos["macron_2014"])  # a 204x244 headshot
    (face,) = service.recognize(photos["macron_2025"], min_probability=0.7)
    assert face.best is not None and face.best.subject == "Macron" and face.best.similarity >= 0.81


def test_a_stopped_run_does_no_more_work(model, photos):
    stop = threading.Event()
    service = BuiltinFaceService(None, backend=model, stop=stop)
    stop.set()
    with pytest.raises(Stopped):
        service.recognize(photos["sunak"], min_probability=0.7)


def test_the_store_lives_in_the_state_folder(tmp_path, model, photos):
    service = BuiltinFaceService(tmp_path, backend=model)
    example = service.add_example("Sunak", photos["sunak"])
    service.close()
    assert (tmp_path / "faces.sqlite3").is_file()
    again = BuiltinFaceService(tmp_path, backend=model)
    try:
        assert [e.id for e in again.list_examples("Sunak")] == [example]
        (face,) = again.recognize(photos["sunak"], min_probability=0.7)
        assert face.best is not None and face.best.subject == "Sunak" and face.best.similarity > 0.95
    finally:
        again.close()


def test_detect_with_embeddings_then_recognize_the_vectors(service, photos):
    """Scenes group faces by vector, then name only each group's best: the same answer as ``recognize``."""
    service.add_example("Obama", photos["obama_1"])
    service.add_example("Ardern", photos["ardern_2018"])
    group = side_by_side((photos["ardern_2022"], 500), (photos["obama_2"], 900))
    assert all(f.embedding is None for f in service.detect(group, min_probability=0.7))
    detected = service.detect(group, min_probability=0.7, embeddings=True)
    assert len(detected) == 2 and all(f.embedding and not f.matches for f in detected)
    named = service.recognize_embeddings([list(f.embedding or ()) for f in detected], candidates=2)
    recognized = service.recognize(group, min_probability=0.7, candidates=2)
    assert [f.best.subject if f.best else None for f in named] == ["Obama", "Ardern"]  # largest first
    assert [[m.subject for m in f.matches] for f in named] == [[m.subject for m in f.matches] for f in recognized]
    assert service.recognize_embeddings([]) == []


def test_check_loads_the_models_in_the_background_and_a_missing_backend_stops_at_their_first_use(photos):
    """check() opens the store and starts the load, so a look from the UI (its own process) overlaps the
    load with its Stash calls; a backend that cannot load still stops the run, naming faceEngine."""
    service = BuiltinFaceService(None, backend_name="no-such-backend")
    service.check()  # the store is open; the load failed in the background
    with pytest.raises(SettingError) as raised:
        service.recognize(photos["obama_1"], min_probability=0.5)
    assert raised.value.setting == "faceEngine"
    with pytest.raises(SettingError):  # every later use says it again
        service.detect(photos["obama_1"], min_probability=0.5)
    service.close()


def test_closing_while_the_models_load_waits_for_the_load(monkeypatch):
    """A task that ends before the background load does (a sync with nothing to enrol) must not leave
    OpenCV or ncnn loading in C++ while the interpreter shuts down: that aborts the process ("terminate called
    without an active exception"), which Stash reports as a failed task."""
    from stash_compreface.engine import backend

    release = threading.Event()
    monkeypatch.setattr(backend, "load_backend", lambda name: release.wait(5) and "a model")
    service = BuiltinFaceService(None)
    service.check()
    threading.Timer(0.2, release.set).start()
    service.close()
    assert release.is_set()
    assert not [t for t in threading.enumerate() if t.name == "face-models"]
