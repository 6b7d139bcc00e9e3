"""The offline plan of a whole stack: each layer's program in deploy order, the Kubernetes layer reading the
AWS layer's planned outputs through its StackReference, exactly as a real deploy would read them."""

from __future__ import annotations

import runpy
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from philosophy_infra.layers import ALL_LAYERS, DEPLOY_ORDER, ROOT, Layer, LayerName
from philosophy_infra.plan import Plan, StackReferenceAnswers, run_program
from philosophy_infra.project import read_stack_file


@dataclass
class StackPlan(Plan):
    """Every planned layer of one stack. As a `Plan` it is the union of the layers' resources, with the
    project and outputs of the first layer planned (the AWS layer, unless only the Kubernetes one is asked)."""

    layers: list[tuple[Layer, Plan]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        document = super().to_json()
        document["layers"] = [
            {
                "name": layer.name.value,
                "project": plan.project,
                "stack": plan.stack,
                "outputs": plan.outputs,
                "warnings": plan.warnings,
            }
            for layer, plan in self.layers
        ]
        return document

    def layer(self, name: LayerName | str) -> Plan:
        return next(plan for layer, plan in self.layers if layer.name == name)


def plan_stack(
    stack: str,
    layers: Sequence[LayerName] = DEPLOY_ORDER,
    root: Path = ROOT,
    configs: Mapping[LayerName, dict[str, str]] | None = None,
) -> StackPlan:
    """Plan `layers` of `stack` from the checkout at `root`. The AWS layer is always run (the Kubernetes layer
    reads its outputs), but only the layers asked for are in the result. `configs` replaces a layer's config
    map (tests)."""
    planned: list[tuple[Layer, Plan]] = []
    answers: StackReferenceAnswers | None = None
    # An account layer (the bootstrap) is not in the deploy order: it runs alone, after any environment layer.
    for name in (*DEPLOY_ORDER, *(n for n in layers if n not in DEPLOY_ORDER)):
        if name not in layers and not (name is LayerName.AWS and LayerName.KUBERNETES in layers):
            continue
        layer = ALL_LAYERS[name]
        plan = run_layer(layer, stack, answers, config=(configs or {}).get(name), root=root)
        if name is LayerName.AWS:
            answers = StackReferenceAnswers(plan.project, stack, plan.outputs, plan.secret_output_names)
        if name in layers:
            planned.append((layer, plan))
    first = planned[0][1]
    return StackPlan(
        project=first.project,
        stack=stack,
        resources=[r for _, plan in planned for r in plan.resources],
        outputs=first.outputs,
        seconds=sum(plan.seconds for _, plan in planned),
        warnings=[w for _, plan in planned for w in plan.warnings],
        secret_output_names=first.secret_output_names,
        layers=planned,
    )


def run_layer(
    layer: Layer,
    stack: str,
    answers: StackReferenceAnswers | None = None,
    *,
    config: dict[str, str] | None = None,
    root: Path = ROOT,
) -> Plan:
    """Run one layer's `__main__.py` for `stack` under the mocks (optionally with a replaced config map)."""
    directory = layer.directory(root)
    file = read_stack_file(directory, stack)
    main_py = directory / "__main__.py"
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return run_program(
        lambda: runpy.run_path(str(main_py), run_name="__main__"),
        project=file.project,
        stack=stack,
        config=file.config if config is None else config,
        secret_keys=file.secret_keys,
        stack_references=answers,
    )
