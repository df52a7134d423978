"""Local scene extraction: sample frames of a video without a Vision Service."""

from .frames import ExtractionStats, Frame, VideoSource, sample_frames

__all__ = ["ExtractionStats", "Frame", "VideoSource", "sample_frames"]
