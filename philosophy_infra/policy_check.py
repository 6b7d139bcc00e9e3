"""The policy pack (`policy/`) run on the offline plan, through pulumi-policy's own validation entry points.

The pack's policies live in `policy/guardrails.py`, which this module loads by path: the offline plan and a real
`pulumi preview --policy-pack policy` run one implementation. Like the SDK's own tests (`run_policy` in
pulumi-policy's `sdk/python/lib/test/test_policy.py`), it calls each policy's `validate` callback with the
arguments the engine would build, and drives it on a fresh event loop when it returns an awaitable:
- resource policies get a `ResourceValidationArgs` per recorded resource: its inputs (camelCase) wrapped in the
  SDK's unknown-checking proxy, `PolicyResourceOptions` (protect, ignoreChanges, parent…), its provider;
- stack policies get a `StackValidationArgs` per layer (each layer is its own Pulumi stack), with every resource
  as a `PolicyResource` whose parent and dependencies point at the others.

What the offline plan cannot know stays unknown: an `[unknown]` or `[secret]` value reaches the policies as
Pulumi's unknown sentinel, so a check that needs it is skipped, exactly as in a preview. Pack config is built
as the CLI does (each policy's schema defaults, then the config given); `protectedStack` comes from the AWS
layer's `dataProtection` output.

Exit code of `philosophy-infra plan --policy`: 3 (`EXIT_POLICY`) when a mandatory policy is violated; advisory
violations are printed only.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from inspect import isawaitable
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

import yaml
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from philosophy_infra.layers import ROOT
from philosophy_infra.plan import SECRET, UNKNOWN, Plan, RecordedResource

EXIT_POLICY = 3
PACK_DIRECTORY = "policy"
_MODULE_NAME = "philosophy_guardrails"
_STACK = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class Pack:
    """The policy pack as the engine sees it: name, version (PulumiPolicy.yaml), policies, default level."""

    name: str
    version: str
    policies: list[Policy]
    enforcement_level: EnforcementLevel = EnforcementLevel.MANDATORY


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str
    """`mandatory` or `advisory`."""
    urn: str | None
    name: str
    type: str
    description: str
    message: str

    @property
    def mandatory(self) -> bool:
        return self.level == EnforcementLevel.MANDATORY.value


def load_guardrails(root: Path = ROOT) -> ModuleType:
    """`policy/guardrails.py` of the checkout at `root`, loaded by path (it is not a package of this repo)."""
    path = (root / PACK_DIRECTORY / "guardrails.py").resolve()
    loaded = sys.modules.get(_MODULE_NAME)
    if loaded is not None and Path(str(loaded.__file__)).resolve() == path:
        return loaded
    spec = importlib.util.spec_from_file_location(_MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the policy pack's policies from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_MODULE_NAME] = module  # dataclasses and type hints resolve names through sys.modules
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_MODULE_NAME]
        raise
    return module


def load_pack(root: Path = ROOT) -> Pack:
    guardrails = load_guardrails(root)
    project = yaml.safe_load((root / PACK_DIRECTORY / "PulumiPolicy.yaml").read_text()) or {}
    # The SDK reports 0.0.1 for Python packs; the CLI shows PulumiPolicy.yaml's version when there is one.
    version = str(project.get("version") or "0.0.1")
    return Pack(guardrails.PACK_NAME, version, list(guardrails.ALL_POLICIES))


# The policies whose checks depend on the stack's data protection (their `protectedStack` config).
PROTECTED_STACK_POLICIES = ("stateful-resources-protected", "cloudfront-tls-minimum")


def stack_config(plan: Plan) -> dict[str, dict[str, Any]]:
    """Pack config for a plan's stack, as `--policy-pack-config` would give it: `protectedStack` from the AWS
    layer's `dataProtection` output (absent, e.g. the Kubernetes layer alone: the schema's default)."""
    layers = [layer_plan for _, layer_plan in getattr(plan, "layers", [])] or [plan]
    protection = next((p.outputs["dataProtection"] for p in layers if "dataProtection" in p.outputs), None)
    if protection is None:
        return {}
    return {name: {"protectedStack": protection == "protected"} for name in PROTECTED_STACK_POLICIES}


def evaluate_plan(
    plan: Plan, root: Path = ROOT, config: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Violation]:
    """Every violation of the pack at `root` on `plan`: resource policies on each resource, stack policies on
    each layer's stack."""
    stacks = [layer_plan.resources for _, layer_plan in getattr(plan, "layers", [])] or [plan.resources]
    return evaluate(stacks, load_pack(root), stack_config(plan) if config is None else config)


def evaluate(
    stacks: Sequence[Sequence[RecordedResource]],
    pack: Pack,
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Violation]:
    """Run `pack` on recorded resources, one sequence per Pulumi stack."""
    violations: list[Violation] = []
    for resources in stacks:
        created = [r for r in resources if not r.read]
        by_urn = {r.urn: r for r in resources}
        for policy in pack.policies:
            level = _enforcement_level(policy, pack, config)
            if level is EnforcementLevel.DISABLED:
                continue
            policy_config = _policy_config(policy, config)
            if isinstance(policy, ResourceValidationPolicy):
                for resource in created:
                    args = ResourceValidationArgs(
                        resource.type,
                        _props(resource.inputs),
                        resource.urn,
                        resource.name,
                        _options(resource),
                        _provider(by_urn.get(resource.provider or "")),
                        policy_config,
                    )
                    violations += _run(policy, partial(policy.validate, args), level, resource, by_urn)
            elif isinstance(policy, StackValidationPolicy):
                stack_args = StackValidationArgs(_policy_resources(created), policy_config)
                violations += _run(policy, partial(policy.validate, stack_args), level, None, by_urn)
    return sorted(violations, key=lambda v: (not v.mandatory, v.policy, v.urn or "", v.message))


def _run(
    policy: Policy,
    validate: Callable[[ReportViolation], object],
    level: EnforcementLevel,
    resource: RecordedResource | None,
    by_urn: Mapping[str, RecordedResource],
) -> list[Violation]:
    """One `validate` call, as the SDK's `run_policy` makes it; violations as the engine reports them."""
    found: list[Violation] = []

    def report(message: str, urn: str | None = None) -> None:
        # A resource policy's violation is always the resource's; a stack policy's names one (or the stack).
        target = resource or by_urn.get(urn or "")
        found.append(_violation(policy, level.value, target, urn, message))

    try:
        result = validate(report)
        if isawaitable(result):
            loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(result)
            finally:
                loop.close()
    except UnknownValueError as exc:
        # What the engine reports when a policy reads an unknown value itself: advisory, never blocking.
        found.append(
            _violation(
                policy,
                EnforcementLevel.ADVISORY.value,
                resource,
                None,
                f"can't run policy during preview: {exc.message}",
            )
        )
    except _NotApplicableError:
        pass
    return found


def _violation(
    policy: Policy, level: str, resource: RecordedResource | None, urn: str | None, message: str
) -> Violation:
    if resource is not None:
        return Violation(policy.name, level, resource.urn, resource.name, resource.type, policy.description, message)
    name, kind = _name_and_type(urn) if urn else ("", _STACK)
    return Violation(policy.name, level, urn, name, kind, policy.description, message)


def _name_and_type(urn: str) -> tuple[str, str]:
    # urn:pulumi:<stack>::<project>::<parent types$>type::name
    head, _, name = urn.rpartition("::")
    return name, head.rsplit("::", 1)[-1].rsplit("$", 1)[-1]


def _enforcement_level(policy: Policy, pack: Pack, config: Mapping[str, Mapping[str, Any]] | None) -> EnforcementLevel:
    configured = (config or {}).get(policy.name, {}).get("enforcementLevel")
    if configured is not None:
        return EnforcementLevel(configured)
    return policy.enforcement_level or pack.enforcement_level


def _policy_config(policy: Policy, config: Mapping[str, Mapping[str, Any]] | None) -> dict[str, Any] | None:
    """The schema's defaults overlaid with the given config, as the CLI merges them; None without a schema."""
    schema = policy.config_schema
    given = {k: v for k, v in (config or {}).get(policy.name, {}).items() if k != "enforcementLevel"}
    if schema is None:
        return given or None
    defaults = {k: p["default"] for k, p in schema.properties.items() if "default" in p}
    return {**defaults, **given}


def _unknowns(value: Any) -> Any:
    """The plan's markers as the engine's own: a masked secret or an unknown is a value nobody knows here."""
    if value in (SECRET, UNKNOWN):
        return UNKNOWN_STRING_VALUE
    if isinstance(value, dict):
        return {k: _unknowns(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unknowns(v) for v in value]
    return value


def _props(inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    proxied: Mapping[str, Any] = unknown_checking_proxy(_unknowns(dict(inputs)))
    return proxied


def _options(resource: RecordedResource) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=resource.protect,
        ignore_changes=list(resource.ignore_changes),
        delete_before_replace=resource.delete_before_replace,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=resource.parent,
    )


def _provider(provider: RecordedResource | None) -> PolicyProviderResource | None:
    if provider is None:
        return None
    return PolicyProviderResource(provider.type, _props(provider.inputs), provider.urn, provider.name)


def _policy_resources(resources: Sequence[RecordedResource]) -> list[PolicyResource]:
    """The stack as `AnalyzeStack` builds it: each resource once, parents and dependencies as objects. The plan
    records dependencies per resource, not per property, so `property_dependencies` stays empty."""
    built = {
        r.urn: PolicyResource(r.type, _props(r.inputs), r.urn, r.name, _options(r), None, None, [], {})
        for r in resources
    }
    for r in resources:
        built[r.urn].parent = built.get(r.parent or "")
        built[r.urn].dependencies = [built[d] for d in r.dependencies if d in built]
    return list(built.values())


def render(violations: Sequence[Violation], pack: Pack) -> str:
    """Violations as the Pulumi CLI prints them."""
    if not violations:
        return f"Policy Violations: none ({pack.name} v{pack.version}, {len(pack.policies)} policies)"
    lines = ["Policy Violations:"]
    for v in violations:
        subject = f" ({v.name}: {v.type})" if v.name else ""
        lines.append(f"    [{v.level}]  {pack.name} v{pack.version}  {v.policy}{subject}")
        lines += [f"    {line}" for line in f"{v.description}\n{v.message}".splitlines()]
    mandatory = sum(v.mandatory for v in violations)
    lines.append(f"{mandatory} mandatory, {len(violations) - mandatory} advisory policy violation(s)")
    return "\n".join(lines)


def check_for_cli(plan: Plan, root: Path, out: TextIO) -> int:
    """`philosophy-infra plan --policy`: print the violations to `out`; the exit code: 0 with none or only
    advisory ones, 3 (`EXIT_POLICY`) with a mandatory one, 1 if the pack itself fails."""
    try:
        pack = load_pack(root)
        violations = evaluate_plan(plan, root)
    except Exception as exc:  # noqa: BLE001 - the CLI's job is a clear message and exit code 1
        print(f"error: the policy pack failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(render(violations, pack), file=out)
    return EXIT_POLICY if any(v.mandatory for v in violations) else 0
