"""Shared fixtures: every program or component runs on a fresh Pulumi mock runtime (see plan.run_program)."""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.aws.security.role_limits import RoleLimits, boundary_arn, role_path
from philosophy_infra.cli import preload_program_imports
from philosophy_infra.layers import DEPLOY_ORDER, LAYERS, LayerName
from philosophy_infra.plan import Plan, run_program
from philosophy_infra.project import StackFile, read_stack_file
from philosophy_infra.stack_plan import StackPlan, plan_stack

ROOT = Path(__file__).resolve().parent.parent
# What the AWS layer's entry point passes its components, for a component built alone.
TEST_ROLE_LIMITS = RoleLimits(path=role_path("test"), permissions_boundary=boundary_arn("aws", "123456789012", "test"))
sys.path.insert(0, str(ROOT))
AWS, KUBERNETES = LayerName.AWS, LayerName.KUBERNETES


def run(program: Callable[[], Any], *, stack: str = "test", region: str = "eu-west-1") -> Plan:
    """Run one program (usually a single component) under fresh mocks."""
    return run_program(program, project="philosophy-infra", stack=stack, config={"aws:region": region})


def stack_file(stack: str, layer: LayerName = AWS) -> StackFile:
    return read_stack_file(LAYERS[layer].directory(ROOT), stack)


def run_stack(
    stack: str,
    config: dict[str, str] | None = None,
    *,
    kubernetes_config: dict[str, str] | None = None,
    layers: tuple[LayerName, ...] = DEPLOY_ORDER,
) -> StackPlan:
    """Plan a stack's layers with the real programs, optionally with a layer's config map replaced."""
    configs = {AWS: config, KUBERNETES: kubernetes_config}
    return plan_stack(stack, layers, ROOT, {k: v for k, v in configs.items() if v is not None})


def stack_yaml(stack: str, layer: LayerName = AWS) -> dict[str, Any]:
    return yaml.safe_load((LAYERS[layer].directory(ROOT) / f"Pulumi.{stack}.yaml").read_text())


def raw_config(stack: str, layer: LayerName = AWS) -> dict[str, Any]:
    """A layer's stack config with structured values decoded, ready to be mutated by a test."""
    return {k: json.loads(v) if v[:1] in "{[" else v for k, v in stack_file(stack, layer).config.items()}


def encode(raw: dict[str, Any]) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}


@pytest.fixture(scope="session", autouse=True)
def sdks_imported_once() -> None:
    """The SDK modules every layer's program uses, imported once per session with the garbage collector paused,
    then frozen: the session's collections never traverse them again (see philosophy_infra.speed)."""
    preload_program_imports(ROOT)


@pytest.fixture
def prod_raw() -> dict[str, Any]:
    return copy.deepcopy(raw_config("prod"))


@pytest.fixture(scope="session")
def prod_plan() -> StackPlan:
    return run_stack("prod")


@pytest.fixture(scope="session")
def dr_plan() -> StackPlan:
    """The DR stack: prod rebuilt in the DR region (README, Disaster recovery)."""
    return run_stack("dr")


@pytest.fixture(scope="session")
def staging_plan() -> StackPlan:
    return run_stack("staging")


def release_for(stack: str, kubernetes_raw: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The service's release objects (Argo CD's) as `render` makes them from the stack files, or from
    `kubernetes_raw`, a mutated copy of the Kubernetes layer's config (see raw_config)."""
    from philosophy_infra.config.aws import AwsStackConfig
    from philosophy_infra.config.kubernetes import KubernetesStackConfig
    from philosophy_infra.release.objects import release_objects
    from philosophy_infra.release.render import release_inputs, stack_release_objects

    if kubernetes_raw is None:
        return stack_release_objects(ROOT, stack)
    config = KubernetesStackConfig.from_raw(stack, encode(kubernetes_raw))
    aws = AwsStackConfig.from_raw(stack, stack_file(stack).config)
    return release_objects(release_inputs(config, aws, stack))


def release_object(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one release object of that kind and name."""
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name, [(o["kind"], o["metadata"]["name"]) for o in objects])
    return found[0]


def stack_plan(request: pytest.FixtureRequest, stack: str) -> StackPlan:
    """The session plan of `stack` (prod or staging), for tests parametrized over both."""
    plan: StackPlan = request.getfixturevalue(f"{stack}_plan")
    return plan
