"""The built-in face engine: detection and embedding on the CPU (``backend``), a local subject store
(``store``) and the face service the tasks talk to (``service``). Imported only when the engine is used,
so CompreFace users need neither numpy nor OpenCV."""

NAME = "the built-in engine"  # the engine as messages name it (``FaceService.name``)
