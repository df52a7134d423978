"""Who is in a scene: the machinery behind the scene modes (recognize*Scene*, identifyScene, recognizeQueued).

A scene is looked at through one of three sources, each giving its faces grouped by person; one rule then
decides who is there, because in a video a performer must hold across frames (one stray frame is not
evidence). Where each concept lives:

=====================  ==============================================================================
``source.py``          the interface: a source returns a scene's faces grouped by person (``SceneFaces``)
``sprites.py``         source: Stash's sprite sheet (thumbnails, nine per detection; known people only)
``local_frames.py``    source: frames sampled here from the video (no ``visionServiceUrl``)
``vision_clusters.py`` source: the Vision Service's clusters, each recognized from one frame
``frame_faces.py``     shared by sprites and local frames: gate, group by embedding, recognize best faces
``faces/scene_decision.py``  the decision (pure, beside the other decisions): name groups, weigh evidence
``recognizer.py``      source + decision → performers, refusals, candidates; which source for which mode
``candidates.py``      unknown people seen in enough frames become candidates, counted with images
``findings.py``        the output records (``Finding``, ``SceneReport``): identifyScene's ``people``
``options.py``         ``SceneOptions``: the settings a look needs, frozen when the recognizer is built
``batch.py``           a scene recognized and recorded; the batch modes' loop over the item runner
``face_cache.py``      the faces identifyScene showed, kept for confirmMatch (``scene-faces/``)
=====================  ==============================================================================
"""

from .batch import mark_scene_failed, record_scene, run_scenes
from .findings import Finding, FindingStatus, SceneReport
from .options import SceneOptions
from .recognizer import SceneRecognizer, sprite_recognizer, video_recognizer

__all__ = [
    "Finding",
    "FindingStatus",
    "SceneOptions",
    "SceneRecognizer",
    "SceneReport",
    "mark_scene_failed",
    "record_scene",
    "run_scenes",
    "sprite_recognizer",
    "video_recognizer",
]
