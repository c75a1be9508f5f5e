"""User-facing surfaces: the `whence` CLI and the HTTP service."""
