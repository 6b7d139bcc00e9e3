"""The AWS Load Balancer Controller: its IRSA role (AWS layer) with the release's vendored IAM policy, checked by
its checksum, and the controller (Kubernetes layer) with its CRDs applied by Pulumi, its chart values checked
against the chart's vendored values.yaml, and the TargetGroupBinding that puts the ingress gateway's pods in the
load balancer's target group, validated strictly against its vendored CRD. Each component is built alone on the
mock runtime."""

from __future__ import annotations

import copy
import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml

from components.aws.cluster.load_balancer_controller_role import (
    CONTROLLER_VERSION,
    INLINE_POLICY_LIMIT,
    POLICY_FILE,
    POLICY_SHA256,
    LoadBalancerControllerRole,
    LoadBalancerControllerRoleArgs,
    controller_policy,
)
from components.kubernetes.platform import load_balancer_controller as lbc
from components.kubernetes.platform.load_balancer_controller import (
    CHART,
    CRDS,
    GatewayTargets,
    GatewayTargetsArgs,
    LoadBalancerController,
    LoadBalancerControllerArgs,
    crd_documents,
)
from components.kubernetes.platform.service_mesh import gateway_values
from philosophy_infra.plan import Plan, RecordedResource
from philosophy_infra.service import INGRESS_GATEWAY_HEALTH_PORT, INGRESS_GATEWAY_TRAFFIC_PORT
from tests.chart_values import unknown_keys
from tests.conftest import TEST_ROLE_LIMITS, run, stack_yaml
from tests.test_gitops_platform import restricted_violations
from tests.test_monitoring import strict

DATA = Path(__file__).parent / "data"
CHART_VALUES = DATA / "charts" / f"aws-load-balancer-controller-{CHART[1]}-values.yaml"
TGB_CRD = DATA / "crds" / f"targetgroupbindings.elbv2.k8s.aws-{CONTROLLER_VERSION}.yaml"
ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
PROVIDER_ARN = f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"
ROLE_ARN = "arn:aws:iam::123456789012:role/philosophy-infra/test/aws-load-balancer-controller"
TARGET_GROUP_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/gateway/0123456789abcdef"
VPC_ID = "vpc-0123456789abcdef0"
PLACEMENT = {
    "nodeSelector": {"philosophy.io/node-group": "general"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "general", "effect": "NoSchedule"}],
}
RELEASE = "kubernetes:helm.sh/v3:Release"
CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
TGB = "kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding"


# --- AWS layer: the role -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def role_plan() -> Plan:
    def program() -> None:
        LoadBalancerControllerRole(
            "aws-load-balancer-controller",
            LoadBalancerControllerRoleArgs(
                role_limits=TEST_ROLE_LIMITS, oidc_provider_arn=PROVIDER_ARN, oidc_issuer=ISSUER
            ),
        )

    return run(program)


def test_the_vendored_policy_matches_its_checksum_and_a_tampered_copy_is_refused(tmp_path: Path) -> None:
    assert json.loads(controller_policy()) == json.loads(POLICY_FILE.read_text())
    source = POLICY_FILE.with_name(POLICY_FILE.name + ".source").read_text()
    assert CONTROLLER_VERSION in POLICY_FILE.name and POLICY_SHA256 in source
    tampered = tmp_path / POLICY_FILE.name
    policy = json.loads(POLICY_FILE.read_text())
    policy["Statement"][0]["Action"] = ["iam:*"]
    tampered.write_text(json.dumps(policy, indent=4))
    with pytest.raises(pulumi.RunError, match="not the vendored"):
        controller_policy(tampered)
    # A single byte is enough, whitespace included.
    tampered.write_bytes(POLICY_FILE.read_bytes() + b"\n")
    with pytest.raises(pulumi.RunError, match="not the vendored"):
        controller_policy(tampered)


def test_a_policy_over_the_inline_limit_is_refused_not_trimmed(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    statement = {"Effect": "Allow", "Action": "elasticloadbalancing:Describe*", "Resource": "*"}
    big.write_text(json.dumps({"Version": "2012-10-17", "Statement": [statement] * 200}))
    with pytest.raises(pulumi.RunError, match="inline limit"):
        controller_policy(big, hashlib.sha256(big.read_bytes()).hexdigest())
    assert len(controller_policy()) <= INLINE_POLICY_LIMIT


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def test_the_role_has_the_vendored_statements_inline_and_nothing_managed(role_plan: Plan) -> None:
    [inline] = role_plan.of_type("aws:iam/rolePolicy:RolePolicy")
    vendored = json.loads(POLICY_FILE.read_text())
    assert json.loads(inline.inputs["policy"]) == vendored
    assert len(vendored["Statement"]) == 16
    # What the TargetGroupBinding needs, among them: registering targets and reading target health.
    actions = {
        a for st in vendored["Statement"] for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    }
    assert {"elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"} <= actions
    assert "elasticloadbalancing:DescribeTargetHealth" in actions
    assert not role_plan.of_type("aws:iam/policy:Policy")
    assert not role_plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")


def test_the_role_trusts_exactly_the_controllers_service_account_within_the_limits(role_plan: Plan) -> None:
    [role] = role_plan.of_type("aws:iam/role:Role")
    assert role.inputs["path"] == TEST_ROLE_LIMITS.path
    assert role.inputs["permissionsBoundary"] == TEST_ROLE_LIMITS.permissions_boundary
    [statement] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Federated": PROVIDER_ARN}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            f"{ISSUER}:sub": "system:serviceaccount:aws-load-balancer-controller:aws-load-balancer-controller",
            f"{ISSUER}:aud": "sts.amazonaws.com",
        }
    }


# --- Kubernetes layer: the controller and the binding --------------------------------------------------------------


@pytest.fixture(scope="module")
def controller_plan() -> Plan:
    def program() -> None:
        provider = k8s.Provider("cluster", kubeconfig="{}")
        controller = LoadBalancerController(
            "aws-load-balancer-controller",
            LoadBalancerControllerArgs(
                provider=provider,
                kubernetes_version="1.35",
                cluster_name="philosophy-test",
                region="eu-west-1",
                vpc_id=VPC_ID,
                role_arn=ROLE_ARN,
                placement=PLACEMENT,
            ),
        )
        GatewayTargets(
            "gateway-targets",
            GatewayTargetsArgs(
                provider=provider, controller=controller, target_group_arn=TARGET_GROUP_ARN, vpc_id=VPC_ID
            ),
        )

    return run(program)


# Maps the chart renders as they are (`toYaml`) into an object's spec, with their keys in comments only:
# `podDisruptionBudget` becomes the PodDisruptionBudget's spec (`#  maxUnavailable: 1`).
PASSED_THROUGH = ("podDisruptionBudget",)


def unknown(values: dict[str, Any], defaults: dict[str, Any]) -> list[str]:
    for key in PASSED_THROUGH:
        assert defaults[key] == {}, key
    return [k for k in unknown_keys(values, defaults) if k.split(".")[0] not in PASSED_THROUGH]


def release(plan: Plan) -> RecordedResource:
    [found] = plan.of_type(RELEASE)
    return found


def test_the_chart_is_pinned_and_every_value_exists_in_it(controller_plan: Plan) -> None:
    chart = release(controller_plan).inputs
    assert (chart["chart"], chart["version"], chart["repositoryOpts"]) == (
        "aws-load-balancer-controller",
        "3.5.0",
        {"repo": "https://aws.github.io/eks-charts"},
    )
    defaults = yaml.safe_load(CHART_VALUES.read_text())
    assert defaults["image"]["tag"] == CONTROLLER_VERSION, "the chart runs the release whose CRDs and policy these are"
    assert unknown(chart["values"], defaults) == []
    # The check itself: a misspelt key is caught.
    assert unknown({**chart["values"], "vpcID": VPC_ID}, defaults) == ["vpcID"]


def test_the_controller_is_told_its_cluster_and_role_and_serves_only_target_group_bindings(
    controller_plan: Plan,
) -> None:
    chart = release(controller_plan).inputs
    assert chart["namespace"] == "aws-load-balancer-controller" and chart["createNamespace"] is False
    values = chart["values"]
    # Not discoverable from instance metadata at hop limit 1.
    assert (values["clusterName"], values["region"], values["vpcId"]) == ("philosophy-test", "eu-west-1", VPC_ID)
    assert values["serviceAccount"] == {
        "create": True,
        "name": "aws-load-balancer-controller",
        "annotations": {"eks.amazonaws.com/role-arn": ROLE_ARN},
    }
    assert values["replicaCount"] == 2 and values["podDisruptionBudget"] == {"maxUnavailable": 1}
    assert values["createIngressClassResource"] is False and values["ingressClassParams"] == {"create": False}
    assert values["enableServiceMutatorWebhook"] is False
    # Nothing outside the gateway's namespace gets a load balancer from it (around CloudFront and the WAF).
    assert values["watchNamespace"] == "istio-ingress"
    assert values["defaultTargetType"] == "ip"
    assert values["resources"]["requests"] and values["resources"]["limits"]["memory"]
    assert values["nodeSelector"] == PLACEMENT["nodeSelector"] and values["tolerations"] == PLACEMENT["tolerations"]


def test_the_controllers_pods_pass_restricted_in_a_restricted_namespace(controller_plan: Plan) -> None:
    values = release(controller_plan).inputs["values"]
    defaults = yaml.safe_load(CHART_VALUES.read_text())
    assert restricted_violations(values["podSecurityContext"], values["securityContext"]) == []
    # The chart's own defaults would not (no seccomp profile, capabilities kept): the values are what passes.
    assert restricted_violations(defaults["podSecurityContext"], defaults["securityContext"])
    [namespace] = controller_plan.of_type("kubernetes:core/v1:Namespace")
    labels = namespace.inputs["metadata"]["labels"]
    assert namespace.inputs["metadata"]["name"] == "aws-load-balancer-controller"
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/enforce-version"] == "v1.35"
    assert namespace.urn in release(controller_plan).dependencies


def test_the_crds_are_applied_from_the_vendored_file_before_the_release_which_skips_them(
    controller_plan: Plan,
) -> None:
    vendored = crd_documents()
    applied = {r.inputs["metadata"]["name"]: r for r in controller_plan.of_type(CRD)}
    assert sorted(applied) == sorted(d["metadata"]["name"] for d in vendored)
    assert "targetgroupbindings.elbv2.k8s.aws" in applied
    for document in vendored:
        crd = applied[document["metadata"]["name"]]
        assert {k: crd.inputs[k] for k in ("apiVersion", "kind", "metadata", "spec")} == document
        # Deleting a CRD deletes every object of its kind.
        assert crd.retain_on_delete
    chart = release(controller_plan)
    assert chart.inputs["skipCrds"] is True
    assert {crd.urn for crd in applied.values()} <= set(chart.dependencies)
    # The deploy-time file is the release's: the test data's TargetGroupBinding CRD is one of its documents.
    [tgb_crd] = [d for d in yaml.safe_load_all(TGB_CRD.read_text()) if d]
    assert tgb_crd in vendored
    assert CONTROLLER_VERSION in CRDS.name and CHART[1] in CRDS.read_text().splitlines()[0]


def test_the_crds_are_valid_for_the_clusters_kubernetes_version(controller_plan: Plan) -> None:
    version = stack_yaml("prod")["config"]["philosophy-infra:cluster"]["kubernetesVersion"]
    crds = controller_plan.of_type(CRD)
    assert crds
    for crd in crds:
        kubernetes_validate.validate(crd.inputs, version, strict=True)


def test_other_releases_keep_their_inputs() -> None:
    """skip_crds is set only where asked for, so the other releases show no update for a default."""

    def program() -> None:
        from components.kubernetes.platform.helm import pinned_release

        provider = k8s.Provider("cluster", kubeconfig="{}")
        pinned_release(
            "other", ("x", "1.0.0", "https://example.com"), "x", {}, pulumi.ResourceOptions(provider=provider)
        )

    [other] = run(program).of_type(RELEASE)
    assert "skipCrds" not in other.inputs


@cache
def tgb_validator() -> jsonschema.Draft7Validator:
    """As tests/test_custom_resources.py's `validator`: the served version's schema, strictly."""
    [crd] = [d for d in yaml.safe_load_all(TGB_CRD.read_text()) if d]
    [served] = [v for v in crd["spec"]["versions"] if v["name"] == "v1beta1"]
    assert served["served"] and served["storage"]
    schema = served["schema"]["openAPIV3Schema"]
    schema["properties"] = {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        **schema.get("properties", {}),
    }
    return jsonschema.Draft7Validator(strict(schema))


def binding(plan: Plan) -> RecordedResource:
    [found] = plan.of_type(TGB)
    return found


def test_the_binding_validates_strictly_and_targets_the_gateways_pods_by_ip(controller_plan: Plan) -> None:
    tgb = binding(controller_plan)
    tgb_validator().validate(tgb.inputs)
    assert tgb.inputs["metadata"] == {"name": "gateway", "namespace": "istio-ingress"}
    spec = tgb.inputs["spec"]
    assert spec["serviceRef"] == {"name": "gateway", "port": 80}
    assert spec["targetType"] == "ip" and spec["targetGroupARN"] == TARGET_GROUP_ARN
    # Immutable once admitted: stated, not filled in by the controller's webhook.
    assert spec["ipAddressType"] == "ipv4" and spec["vpcID"] == VPC_ID
    # The AWS layer owns the security group rules.
    assert "networking" not in spec
    # The controller's webhook admits bindings: it must be running first.
    assert release(controller_plan).urn in tgb.dependencies
    # A new target group is a new binding (its ARN is immutable), the old one deleted first (one name).
    assert tgb.delete_before_replace


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("spec", "targetGroupArn"), TARGET_GROUP_ARN),
        (("spec", "serviceRef", "prot"), 80),
        (("spec", "targetType"), "pod"),
    ],
)
def test_a_misspelt_or_wrong_binding_is_refused(controller_plan: Plan, path: tuple[str, ...], value: Any) -> None:
    broken = copy.deepcopy(binding(controller_plan).inputs)
    node = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        tgb_validator().validate(broken)


def test_the_bindings_port_is_the_gateway_services_http_port() -> None:
    """The gateway chart's own ports (service_mesh.py changes only the Service's type): `http2` is 80 on the
    Service and in the pod, and Istio's readiness answers on 15021, the ports the AWS layer opens and checks."""
    assert set(gateway_values((2, 5))["service"]) == {"type"}
    [values_file] = sorted((DATA / "charts").glob("istio-gateway-*-values.yaml"))
    chart = yaml.safe_load(values_file.read_text())["_internal_defaults_do_not_set"]
    ports = {p["name"]: p for p in chart["service"]["ports"]}
    assert ports["http2"]["port"] == lbc.GATEWAY_PORT
    assert ports["http2"]["targetPort"] == INGRESS_GATEWAY_TRAFFIC_PORT
    assert ports["status-port"]["targetPort"] == INGRESS_GATEWAY_HEALTH_PORT
