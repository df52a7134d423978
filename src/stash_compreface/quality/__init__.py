"""Face quality: the aligned crop and the measures taken on it (``assess``), and the HTTP service (``service``).

``align`` and ``assess`` need only Pillow; ``service`` also needs starlette, uvicorn and python-multipart
and is imported only by the ``quality-service`` command.
"""

from .align import FaceOutsideImage, aligned_crop
from .assess import FaceQuality, assess_face, measure_for_gates

__all__ = ["FaceOutsideImage", "FaceQuality", "aligned_crop", "assess_face", "measure_for_gates"]
