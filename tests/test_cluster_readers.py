"""The read-only identities of the Kubernetes layer (pull-request preview, drift check): what RBAC lets them read,
checked against every object the offline plans of both stacks create.

A preview with `--refresh` reads each object the layer manages; a kind the readers cannot read fails the preview
on a pull request. Expected resource names come from Kubernetes' own rule for a kind's resource name (apimachinery
`UnsafeGuessKindToResource`, which the kinds used here follow), never from the component's table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from philosophy_infra.layers import LayerName
from philosophy_infra.plan import Plan, RecordedResource
from philosophy_infra.stack_plan import StackPlan
from tests.conftest import stack_plan

STACKS = ["prod", "staging"]
READ_VERBS = {"get", "list", "watch"}


def crd_plurals() -> dict[str, str]:
    """The resource names the vendored CRDs declare (`spec.names.plural`): what RBAC rules name."""
    plurals = {}
    for path in (Path(__file__).parent / "data" / "crds").glob("*.yaml"):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") == "CustomResourceDefinition":
                plurals[document["spec"]["names"]["kind"]] = document["spec"]["names"]["plural"]
    return plurals


PLURALS = crd_plurals()


def resource_name(kind: str) -> str:
    """A vendored CRD's plural, else apimachinery's `UnsafeGuessKindToResource` (right for the built-in kinds):
    lower case; `-s` takes `es`, `-y` becomes `ies`, else `s`."""
    if kind in PLURALS:
        return PLURALS[kind]
    lower = kind.lower()
    if lower.endswith("s"):
        return lower + "es"
    if lower.endswith("y"):
        return lower[:-1] + "ies"
    return lower + "s"


def group_of(type_token: str) -> str:
    """`kubernetes:apps/v1:Deployment` -> `apps`; the core group (`core/v1`) is ``."""
    group = type_token.split(":")[1].rsplit("/", 1)[0]
    return "" if group == "core" else group


def grants(rules: list[dict[str, Any]], group: str, resource: str, verbs: set[str]) -> bool:
    return any(
        group in rule["apiGroups"] and resource in rule["resources"] and verbs <= set(rule["verbs"]) for rule in rules
    )


def kubernetes_layer(request: pytest.FixtureRequest, stack: str) -> Plan:
    plan: StackPlan = stack_plan(request, stack)
    return plan.layer(LayerName.KUBERNETES)


def readers_of(plan: Plan, binding_type: str, role_type: str) -> list[tuple[RecordedResource, RecordedResource]]:
    """(binding, role) pairs that bind the readers' group."""

    def key(metadata: dict[str, Any], name: str) -> tuple[str, str]:
        return metadata.get("namespace", ""), name

    roles = {key(r.inputs["metadata"], r.inputs["metadata"]["name"]): r for r in plan.of_type(role_type)}
    pairs = []
    for binding in plan.of_type(binding_type):
        if any(s == {"kind": "Group", "name": "philosophy:cluster-readers", "apiGroup": "rbac.authorization.k8s.io"}
               for s in binding.inputs["subjects"]):  # fmt: skip
            # A RoleBinding's roleRef names a Role of its own namespace.
            pairs.append((binding, roles[key(binding.inputs["metadata"], binding.inputs["roleRef"]["name"])]))
    return pairs


@pytest.mark.parametrize("stack", STACKS)
def test_the_readers_can_read_every_object_the_layer_manages(request: pytest.FixtureRequest, stack: str) -> None:
    plan = kubernetes_layer(request, stack)
    [(_, cluster_role)] = readers_of(plan, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
                                     "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")  # fmt: skip
    rules = cluster_role.inputs["rules"]
    kinds = {r.type for r in plan.resources if r.type.startswith("kubernetes:") and "helm.sh" not in r.type}
    assert len(kinds) >= 15
    for type_token in kinds:
        kind = type_token.rsplit(":", 1)[1]
        assert grants(rules, group_of(type_token), resource_name(kind), READ_VERBS), type_token


# What pulumi-kubernetes lists to judge an object ready when it refreshes it (pulumi/pulumi-kubernetes
# provider/pkg/await at 94977969: deployment.go `Read` lists replicasets, pods and persistentvolumeclaims; job.go
# subscribes to pods; service.go to endpoints). A refused list reads as empty, and the object as unhealthy.
REFRESH_READS = {
    "Deployment": {("apps", "replicasets"), ("", "pods"), ("", "persistentvolumeclaims")},
    "Job": {("", "pods")},
    "Service": {("", "endpoints")},
}


@pytest.mark.parametrize("stack", STACKS)
def test_the_readers_can_read_what_a_refresh_lists_to_judge_readiness(
    request: pytest.FixtureRequest, stack: str
) -> None:
    plan = kubernetes_layer(request, stack)
    [(_, cluster_role)] = readers_of(plan, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
                                     "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")  # fmt: skip
    kinds = {r.type.rsplit(":", 1)[1] for r in plan.resources if r.type.startswith("kubernetes:")}
    assert "Job" in kinds
    for kind, reads in REFRESH_READS.items():
        if kind not in kinds:
            continue
        for group, resource in reads:
            assert grants(cluster_role.inputs["rules"], group, resource, READ_VERBS), (kind, group, resource)


@pytest.mark.parametrize("stack", STACKS)
def test_the_readers_read_helm_records_only_in_the_releases_namespaces(
    request: pytest.FixtureRequest, stack: str
) -> None:
    plan = kubernetes_layer(request, stack)
    releases = {r.inputs["namespace"] for r in plan.of_type("kubernetes:helm.sh/v3:Release")}
    namespaced = readers_of(plan, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
                            "kubernetes:rbac.authorization.k8s.io/v1:Role")  # fmt: skip
    assert (
        {binding.inputs["metadata"]["namespace"] for binding, _ in namespaced}
        == releases
        == {
            "vpa",
            "external-secrets",
            "cluster-autoscaler",
            "monitoring",
            "tracing",
            "istio-system",
            "istio-cni",
            "istio-ingress",
            "argocd",
            "argo-rollouts",
            "aws-load-balancer-controller",
            "neo4j",
            # Enterprise's backup releases (prod's edition), in their own namespace.
            *(["neo4j-backup"] if stack == "prod" else []),
        }
    )
    for binding, role in namespaced:
        assert role.inputs["metadata"]["namespace"] == binding.inputs["metadata"]["namespace"]
        # Helm's storage driver lists its records by label, then gets one.
        assert role.inputs["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]


@pytest.mark.parametrize("stack", STACKS)
def test_the_readers_change_nothing_and_never_see_the_services_secrets(
    request: pytest.FixtureRequest, stack: str
) -> None:
    plan = kubernetes_layer(request, stack)
    [(_, cluster_role)] = readers_of(plan, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
                                     "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")  # fmt: skip
    for rule in cluster_role.inputs["rules"]:
        assert set(rule["verbs"]) <= READ_VERBS, rule
        assert "*" not in rule["resources"] and "*" not in rule["apiGroups"], rule
        # Secrets (the service's, synced by External Secrets), and subresources (exec, proxy, token) stay out.
        assert "secrets" not in rule["resources"], rule
        assert not [r for r in rule["resources"] if "/" in r], rule
    # Nothing else in the layer binds the group.
    bindings = [
        b
        for t in ("ClusterRoleBinding", "RoleBinding")
        for b in plan.of_type(f"kubernetes:rbac.authorization.k8s.io/v1:{t}")
        if any(s.get("name") == "philosophy:cluster-readers" for s in b.inputs["subjects"])
    ]
    assert len(bindings) == 1 + len({r.inputs["namespace"] for r in plan.of_type("kubernetes:helm.sh/v3:Release")})


def test_the_aws_layer_puts_exactly_the_read_only_roles_in_the_readers_group(prod_plan: StackPlan) -> None:
    aws = prod_plan.layer(LayerName.AWS)
    in_group = {
        e.inputs["principalArn"]
        for e in aws.of_type("aws:eks/accessEntry:AccessEntry")
        if "philosophy:cluster-readers" in (e.inputs.get("kubernetesGroups") or [])
    }
    outputs = aws.outputs
    assert in_group == {outputs["kubernetesDriftRoleArn"], outputs["kubernetesPreviewRoleArn"]}
