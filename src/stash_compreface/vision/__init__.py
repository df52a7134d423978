"""The Vision Service: video face detection and clustering, and single-frame extraction."""
