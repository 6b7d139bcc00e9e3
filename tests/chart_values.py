"""Checking the values a program gives a Helm chart against the chart's own values.yaml (vendored test data)."""

from __future__ import annotations

from typing import Any

# Maps whose keys are free-form in every chart (flags, selectors, annotations, resources, security contexts,
# specs passed through to a custom resource): only their presence is checked.
FREE_FORM = frozenset(
    {
        "extraArgs",
        "nodeSelector",
        "annotations",
        "resources",
        "securityContext",
        "containerSecurityContext",
        "podSecurityContext",
        "storageSpec",
        # A program's own config for the binary a chart runs (Jaeger's, the OpenTelemetry Collector's): checked
        # by the tests of what it configures, not against the chart.
        "userconfig",
        "alternateConfig",
        # postgres-exporter's `{name, key}` of a Secret, documented in its values.yaml's comments only.
        "userSecret",
        "passwordSecret",
    }
)


def unknown_keys(values: Any, defaults: Any, path: str = "") -> list[str]:
    """The key paths of `values` that the chart's defaults do not have."""
    if not isinstance(values, dict):
        return []
    missing = []
    for key, value in values.items():
        where = f"{path}.{key}" if path else key
        if not isinstance(defaults, dict) or key not in defaults:
            missing.append(where)
        elif key not in FREE_FORM:
            missing += unknown_keys(value, defaults[key], where)
    return missing
