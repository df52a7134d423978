"""The built-in face engine: detection and embedding on the CPU (``backend``), a local subject store
(``store``) and the face service the tasks talk to (``service``). Imported only when the engine is used,
so CompreFace users need neither numpy nor OpenCV."""

NAME = "the built-in engine"  # the engine as messages name it (``FaceService.name``)
FACES_FILE = "faces.sqlite3"  # its subject store, beside the state (here, so reading the name needs no numpy)
