"""Fingerprints, stores and search."""
