"""Node autoscaling: the Cluster Autoscaler (Kubernetes layer) with its IRSA role (AWS layer).

Chart values are checked against the pinned chart's own values.yaml (tests/data/charts, vendored with its
commit), so a key the chart does not have is caught here rather than silently ignored by Helm."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.kubernetes.platform.cluster_autoscaler import CHART, IMAGE_BY_MINOR
from philosophy_infra.config.base import StackConfigError
from philosophy_infra.config.cluster import EKS_STANDARD_SUPPORT
from philosophy_infra.layers import LayerName
from philosophy_infra.plan import RecordedResource
from philosophy_infra.stack_plan import StackPlan
from tests.chart_values import unknown_keys
from tests.conftest import encode, raw_config, run_stack, stack_plan, stack_yaml

STACKS = ["prod", "staging"]
CHART_VALUES = Path(__file__).parent / "data" / "charts" / f"cluster-autoscaler-{CHART[1]}-values.yaml"


def release(plan: StackPlan) -> RecordedResource:
    [found] = [r for r in plan.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "cluster-autoscaler"]
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_the_autoscaler_is_pinned_and_every_value_exists_in_its_chart(
    stack: str, request: pytest.FixtureRequest
) -> None:
    plan = stack_plan(request, stack)
    chart = release(plan).inputs
    assert (chart["chart"], chart["version"], chart["repositoryOpts"]) == (
        "cluster-autoscaler",
        "9.59.0",
        {"repo": "https://kubernetes.github.io/autoscaler"},
    )
    defaults = yaml.safe_load(CHART_VALUES.read_text())
    assert unknown_keys(chart["values"], defaults) == []


@pytest.mark.parametrize("stack", STACKS)
def test_it_discovers_this_clusters_groups_with_its_own_role_on_the_general_nodes(
    stack: str, request: pytest.FixtureRequest
) -> None:
    plan = stack_plan(request, stack)
    aws = plan.layer(LayerName.AWS).outputs
    values = release(plan).inputs["values"]
    assert values["cloudProvider"] == "aws" and values["awsRegion"] == aws["region"]
    assert values["autoDiscovery"] == {"clusterName": aws["clusterName"]}
    account = values["rbac"]["serviceAccount"]
    assert account["annotations"] == {"eks.amazonaws.com/role-arn": aws["clusterAutoscalerRoleArn"]}
    # A release of the cluster's own minor (the autoscaler supports only its own), not the chart's default.
    assert values["image"]["tag"].startswith(f"v{aws['kubernetesVersion']}.")
    assert values["image"]["tag"] != "v1.35.0", "the chart's appVersion, older than the newest 1.35 release"
    assert values["nodeSelector"] == aws["nodeGroups"]["general"]["nodeSelector"]
    # Two replicas, one leading: the budget keeps one through a drain.
    assert values["replicaCount"] == 2 and values["podDisruptionBudget"] == {"maxUnavailable": 1}
    assert values["extraArgs"]["leader-elect"] == "true"
    want = stack_yaml(stack, LayerName.KUBERNETES)["config"]["philosophy-kubernetes:clusterAutoscaler"]
    args = values["extraArgs"]
    assert args["expander"] == "least-waste"
    assert args["scale-down-unneeded-time"] == want["scaleDownUnneededTime"]
    assert args["scale-down-delay-after-add"] == want["scaleDownDelayAfterAdd"]
    assert float(args["scale-down-utilization-threshold"]) == want["scaleDownUtilizationThreshold"]
    # Restricted Pod Security: the chart renders no security context unless given one.
    assert values["securityContext"]["runAsNonRoot"] is True
    assert values["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = values["containerSecurityContext"]
    assert container["allowPrivilegeEscalation"] is False and container["capabilities"] == {"drop": ["ALL"]}


def test_its_role_resizes_only_this_clusters_groups_and_reads_their_labels_and_taints(prod_plan: StackPlan) -> None:
    role = prod_plan.one("aws:iam/role:Role", "cluster-autoscaler-irsa-role").inputs
    trust = json.loads(role["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
    assert "system:serviceaccount:cluster-autoscaler:cluster-autoscaler" in trust.values()
    policy = json.loads(
        prod_plan.one("aws:iam/rolePolicy:RolePolicy", "cluster-autoscaler-irsa-inline").inputs["policy"]
    )
    statements = {st["Sid"]: st for st in policy["Statement"]}
    write = statements["ResizeOnlyThisClustersGroups"]
    assert sorted(write["Action"]) == [
        "autoscaling:SetDesiredCapacity",
        "autoscaling:TerminateInstanceInAutoScalingGroup",
    ]
    assert write["Condition"] == {
        "StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/philosophy-prod": "owned"}
    }
    reads = statements["SeeTheNodeGroups"]["Action"]
    assert "eks:DescribeNodegroup" in reads and not [
        a for a in reads if not a.split(":")[1].startswith(("Describe", "Get"))
    ]
    # What it reads from EKS to start the compute group from zero: the group's own taint and labels.
    compute = prod_plan.one("eks:index:ManagedNodeGroup", "compute-mng").inputs
    assert compute["taints"] and compute["labels"]["Type"] == "compute"


def test_every_kubernetes_minor_the_config_accepts_has_an_autoscaler_release() -> None:
    assert set(IMAGE_BY_MINOR) == set(EKS_STANDARD_SUPPORT)
    for minor, tag in IMAGE_BY_MINOR.items():
        assert re.fullmatch(rf"v{re.escape(minor)}\.\d+", tag), (minor, tag)


@pytest.mark.parametrize(
    ("key", "value", "rule"),
    [
        ("scaleDownUnneededTime", "ten minutes", "must be a duration"),
        ("scaleDownUtilizationThreshold", 1.5, "between 0 and 1"),
        ("nodeGroup", "gpu", "has no such node group"),
    ],
)
def test_bad_autoscaler_settings_are_refused_naming_the_key(key: str, value: Any, rule: str) -> None:
    raw = raw_config("staging", LayerName.KUBERNETES)
    raw["philosophy-kubernetes:clusterAutoscaler"][key] = value
    with pytest.raises(StackConfigError) as info:
        run_stack("staging", kubernetes_config=encode(raw))
    text = str(info.value)
    assert f"philosophy-kubernetes:clusterAutoscaler.{key}" in text and rule in text, text
