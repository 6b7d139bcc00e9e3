"""Shared fixtures: every program or component runs on a fresh Pulumi mock runtime (see plan.run_program)."""

from __future__ import annotations

import copy
import json
import runpy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from philosophy_infra.plan import Plan, run_program
from philosophy_infra.project import StackFile, read_stack_file

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run(program: Callable[[], Any], *, stack: str = "test", region: str = "eu-west-1") -> Plan:
    """Run one program (usually a single component) under fresh mocks."""
    return run_program(program, project="philosophy-infra", stack=stack, config={"aws:region": region})


def stack_file(stack: str) -> StackFile:
    return read_stack_file(ROOT, stack)


def run_stack(stack: str, config: dict[str, str] | None = None) -> Plan:
    """Run the real __main__.py for a stack, optionally with a replaced config map."""
    file = stack_file(stack)
    return run_program(
        lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"),
        project=file.project,
        stack=stack,
        config=file.config if config is None else config,
        secret_keys=file.secret_keys,
    )


def stack_yaml(stack: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())


def raw_config(stack: str) -> dict[str, Any]:
    """The stack's config with structured values decoded, ready to be mutated by a test."""
    return {k: json.loads(v) if v[:1] in "{[" else v for k, v in stack_file(stack).config.items()}


def encode(raw: dict[str, Any]) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}


@pytest.fixture
def prod_raw() -> dict[str, Any]:
    return copy.deepcopy(raw_config("prod"))


@pytest.fixture(scope="session")
def prod_plan() -> Plan:
    return run_stack("prod")


@pytest.fixture(scope="session")
def staging_plan() -> Plan:
    return run_stack("staging")


def stack_plan(request: pytest.FixtureRequest, stack: str) -> Plan:
    """The session plan of `stack` (prod or staging), for tests parametrized over both."""
    plan: Plan = request.getfixturevalue(f"{stack}_plan")
    return plan
