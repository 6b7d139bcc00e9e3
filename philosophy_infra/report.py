"""Human output of an offline plan: the component tree with each resource's key settings."""

from __future__ import annotations

import json
from typing import Any

from philosophy_infra.plan import Plan, RecordedResource

# Inputs that add noise rather than meaning to a one-line summary.
_SKIP = {"tags", "tagsAll", "description", "__defaults"}
_MAX_SETTINGS = 7
_MAX_VALUE = 48


def render(plan: Plan, import_seconds: float | None = None) -> str:
    """The report of a plan; a plan of several layers shows each layer in turn, in deploy order."""
    layers = getattr(plan, "layers", None)
    if not layers:
        return _render_one(plan, import_seconds)
    parts = [
        f"Offline plan of stack {plan.stack}: {len(layers)} layer(s), in deploy order "
        "(mock runtime: no cloud, no credentials)"
    ]
    for layer, layer_plan in layers:
        parts += ["", f"=== Layer {layer.name.value}: {layer_plan.project}/{layer_plan.stack}", ""]
        parts.append(_render_one(layer_plan, None, header=False, timing=False))
    counts = plan.type_counts()
    parts += ["", f"Resources: {sum(counts.values())} in all"]
    parts.append(_timing(plan, import_seconds))
    return "\n".join(parts)


def _timing(plan: Plan, import_seconds: float | None) -> str:
    timing = f"program {plan.seconds:.2f}s"
    if import_seconds is not None:
        timing = f"SDK imports {import_seconds:.2f}s, {timing}"
    return f"\nTime: {timing}"


def _render_one(plan: Plan, import_seconds: float | None, *, header: bool = True, timing: bool = True) -> str:
    children: dict[str | None, list[RecordedResource]] = {}
    for r in plan.resources:
        children.setdefault(r.parent, []).append(r)
    lines = (
        [f"Offline plan of {plan.project}/{plan.stack} (mock runtime: no cloud, no credentials)", ""] if header else []
    )

    def walk(resource: RecordedResource, depth: int) -> None:
        marks = "".join(
            [
                " [protected]" if resource.protect else "",
                " [retain on delete]" if resource.retain_on_delete else "",
                " [read]" if resource.read else "",
            ]
        )
        lines.append(f"{'  ' * depth}{resource.type} {resource.name}{marks}")
        settings = _settings(resource)
        if settings:
            lines.append(f"{'  ' * depth}    {settings}")
        for child in children.get(resource.urn, []):
            walk(child, depth + 1)

    for root in children.get(None, []):
        walk(root, 0)

    counts = plan.type_counts()
    lines += ["", f"Resources: {sum(counts.values())}"]
    lines += [f"  {count:4d}  {type_}" for type_, count in sorted(counts.items())]
    lines += ["", "Outputs:"]
    lines += [f"  {name}: {_short(value, 120)}" for name, value in sorted(plan.outputs.items())]
    for warning in plan.warnings:
        lines.append(f"warning: {warning}")
    if timing:
        lines.append(_timing(plan, import_seconds))
    return "\n".join(lines)


def _settings(resource: RecordedResource) -> str:
    parts = []
    for key, value in resource.inputs.items():
        if key in _SKIP or (isinstance(value, str) and value.startswith("urn:pulumi:")):
            continue
        if isinstance(value, (str, int, float, bool)) or (
            isinstance(value, list) and len(json.dumps(value)) <= _MAX_VALUE
        ):
            parts.append(f"{key}={_short(value, _MAX_VALUE)}")
        if len(parts) == _MAX_SETTINGS:
            break
    return " ".join(parts)


def _short(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
