"""CompreFace: REST client and its error-code table."""
