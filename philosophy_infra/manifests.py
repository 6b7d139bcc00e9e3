"""The Kubernetes objects of a plan, as the YAML a reviewer (or kubectl, or a policy tool) would read.

The recorded inputs of a pulumi-kubernetes resource are the object itself (apiVersion, kind, metadata, spec,
...), with secrets already masked by the recorder. Helm releases are not objects: their charts are fetched
and rendered by the provider at deploy time, so they stay in the JSON plan only.

Two owners, one directory: Pulumi's objects (the plan's) and Argo CD's (the service's release objects, as
`render` makes them), each marked with its owner in the `philosophy-infra/owner` annotation of the written copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from philosophy_infra.plan import Plan

OWNER_ANNOTATION = "philosophy-infra/owner"
PULUMI, ARGO_CD = "pulumi", "argocd"

_NOT_OBJECTS = ("kubernetes:helm.sh/",)


def kubernetes_objects(plan: Plan) -> list[dict[str, Any]]:
    """Every Kubernetes object the plan would create, in a stable order (namespace, kind, name)."""
    found = [
        dict(r.inputs)
        for r in plan.resources
        if r.type.startswith("kubernetes:") and not r.type.startswith(_NOT_OBJECTS)
    ]
    return sorted(found, key=lambda o: (_meta(o, "namespace"), o["kind"], _meta(o, "name")))


def owned(obj: dict[str, Any], owner: str) -> dict[str, Any]:
    """A copy of `obj` that says who owns it."""
    metadata = dict(obj.get("metadata") or {})
    metadata["annotations"] = {**(metadata.get("annotations") or {}), OWNER_ANNOTATION: owner}
    return {**obj, "metadata": metadata}


def write_manifests(plan: Plan, directory: Path, release: Sequence[dict[str, Any]] = ()) -> list[Path]:
    """One YAML file per object, named `<namespace>.<kind>.<name>.yaml` (`_cluster` for cluster-scoped): the
    plan's (Pulumi's), and `release`, the service's release objects (Argo CD's)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    objects = [owned(o, PULUMI) for o in kubernetes_objects(plan)] + [owned(o, ARGO_CD) for o in release]
    for obj in objects:
        name = f"{_meta(obj, 'namespace') or '_cluster'}.{obj['kind'].lower()}.{_meta(obj, 'name')}.yaml"
        path = directory / name
        if path in written:
            raise ValueError(f"two objects are {name}: one owner each, never two")
        path.write_text(yaml.safe_dump(obj, sort_keys=True, default_flow_style=False))
        written.append(path)
    return written


def _meta(obj: dict[str, Any], field: str) -> str:
    return str((obj.get("metadata") or {}).get(field) or "")
