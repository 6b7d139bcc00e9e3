"""Offline tooling and shared config, naming and tagging of philosophy-infra."""
