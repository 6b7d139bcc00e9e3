"""The Kubernetes objects of a plan, as the YAML a reviewer (or kubectl, or a policy tool) would read.

The recorded inputs of a pulumi-kubernetes resource are the object itself (apiVersion, kind, metadata, spec,
...), with secrets already masked by the recorder. Helm releases are not objects: their charts are fetched
and rendered by the provider at deploy time, so they stay in the JSON plan only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from philosophy_infra.plan import Plan

_NOT_OBJECTS = ("kubernetes:helm.sh/",)


def kubernetes_objects(plan: Plan) -> list[dict[str, Any]]:
    """Every Kubernetes object the plan would create, in a stable order (namespace, kind, name)."""
    found = [
        dict(r.inputs)
        for r in plan.resources
        if r.type.startswith("kubernetes:") and not r.type.startswith(_NOT_OBJECTS)
    ]
    return sorted(found, key=lambda o: (_meta(o, "namespace"), o["kind"], _meta(o, "name")))


def write_manifests(plan: Plan, directory: Path) -> list[Path]:
    """One YAML file per object, named `<namespace>.<kind>.<name>.yaml` (`_cluster` for cluster-scoped)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for obj in kubernetes_objects(plan):
        name = f"{_meta(obj, 'namespace') or '_cluster'}.{obj['kind'].lower()}.{_meta(obj, 'name')}.yaml"
        path = directory / name
        path.write_text(yaml.safe_dump(obj, sort_keys=True, default_flow_style=False))
        written.append(path)
    return written


def _meta(obj: dict[str, Any], field: str) -> str:
    return str((obj.get("metadata") or {}).get(field) or "")
