"""The AWS Load Balancer Controller, which registers the Istio ingress gateway's pods in the target group of the
edge's internal load balancer. The AWS layer owns the load balancer, its listener, the target group and every
security group rule; the controller owns only the group's targets, through one TargetGroupBinding.

- The official chart (aws/eks-charts), pinned, in its own namespace `aws-load-balancer-controller` (Pod Security
  `restricted`), under its own IRSA role (AWS layer), which trusts that namespace's one service account.
- Its CRDs are applied here from the release's vendored `crds/` (`crds/aws-load-balancer-controller-<version>.yaml`),
  before the release, which skips them: Helm installs a chart's CRDs on install only, so an upgrade through the
  chart alone would keep the old schemas. They are kept if Pulumi ever deletes them: deleting a CRD deletes
  every object of its kind, bindings included.
- `clusterName`, `region` and `vpcId` are given: the nodes' instance metadata answers pods nowhere (IMDSv2, hop
  limit 1), so the controller could not discover them.
- No IngressClass or IngressClassParams, no Ingress validation, and no Service mutator: no Ingress is used, and
  the mutator (failure policy `Fail`, on every Service created) would hand each new LoadBalancer Service to the
  controller as an NLB, and refuse every new Service while the controller is down.
- Two replicas (one leads) with a PodDisruptionBudget: the webhook that admits TargetGroupBindings fails closed.
- The webhook's certificate is generated once and kept across upgrades (`keepTLSSecret`), so an upgrade never
  leaves the API server with a CA the running pods do not serve.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.kubernetes.platform.helm import pinned_release
from components.kubernetes.platform.pod_security import chart_security_contexts, restricted_namespace_labels
from components.kubernetes.platform.service_mesh import GATEWAY_RELEASE
from philosophy_infra.service import (
    INGRESS_GATEWAY_TRAFFIC_PORT,
    INGRESS_NAMESPACE,
    LOAD_BALANCER_CONTROLLER,
    LOAD_BALANCER_CONTROLLER_NAMESPACE,
)

CHART = ("aws-load-balancer-controller", "3.5.0", "https://aws.github.io/eks-charts")
# The chart's appVersion, whose image it runs; the CRDs and the IAM policy (AWS layer) are this release's.
CONTROLLER_VERSION = "v3.5.0"
CRDS = Path(__file__).parent / "crds" / f"aws-load-balancer-controller-{CONTROLLER_VERSION}.yaml"
NAMESPACE, SERVICE_ACCOUNT = LOAD_BALANCER_CONTROLLER_NAMESPACE, LOAD_BALANCER_CONTROLLER
REPLICAS = 2
# The image's user: eks-distro-minimal-base-nonroot (`nonroot`, 65532), as a number for `runAsNonRoot`.
RUN_AS = 65532
# The ingress gateway's Service (service_mesh.py) and its `http2` port; the controller registers each pod's IP with
# the port's target port (also 80, in the gateway chart).
GATEWAY_SERVICE, GATEWAY_PORT = GATEWAY_RELEASE, INGRESS_GATEWAY_TRAFFIC_PORT
TARGET_GROUP_BINDING_API = "elbv2.k8s.aws/v1beta1"


@cache
def _crd_documents(path: Path) -> tuple[dict[str, Any], ...]:
    # libyaml's loader where PyYAML has it: the CRDs are a large file, and the pure-Python parser takes most of a
    # second of every plan on it (scripts/bench.py).
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    documents = tuple(d for d in yaml.load_all(path.read_text(), Loader=loader) if d)
    for d in documents:
        if d.get("kind") != "CustomResourceDefinition":
            raise pulumi.RunError(f"{path.name} holds a {d.get('kind')}, not only CustomResourceDefinitions")
    return documents


def crd_documents(path: Path = CRDS) -> list[dict[str, Any]]:
    """The release's CRDs, as vendored."""
    return list(_crd_documents(path))


def controller_values(
    *,
    cluster_name: pulumi.Input[str],
    region: pulumi.Input[str],
    vpc_id: pulumi.Input[str],
    role_arn: pulumi.Input[str],
    placement: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "clusterName": cluster_name,
        "region": region,
        "vpcId": vpc_id,
        "serviceAccount": {
            "create": True,
            "name": SERVICE_ACCOUNT,
            "annotations": {"eks.amazonaws.com/role-arn": role_arn},
        },
        "replicaCount": REPLICAS,
        "podDisruptionBudget": {"maxUnavailable": 1},
        "createIngressClassResource": False,
        "ingressClassParams": {"create": False},
        "webhookConfig": {"disableIngressValidation": True},
        "enableServiceMutatorWebhook": False,
        # Only the gateway's namespace: an annotated Service or Ingress anywhere else could otherwise get a load
        # balancer of its own, on the internet, around CloudFront and its WAF.
        "watchNamespace": INGRESS_NAMESPACE,
        # Pod IPs (the VPC CNI): what a binding without its own targetType would register.
        "defaultTargetType": "ip",
        "keepTLSSecret": True,
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        # The chart's own keys for the pod's and the container's contexts (its defaults set no seccomp profile).
        **chart_security_contexts(RUN_AS),
        "nodeSelector": dict(placement["nodeSelector"]),
        "tolerations": list(placement.get("tolerations", [])),
    }


@dataclass(frozen=True, kw_only=True)
class LoadBalancerControllerArgs:
    provider: k8s.Provider
    kubernetes_version: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    region: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    role_arn: pulumi.Input[str]
    """The AWS layer's `loadBalancerControllerRoleArn`."""
    placement: Mapping[str, Any]
    """`nodeSelector` and `tolerations` of the configured node group."""
    after: Sequence[pulumi.Resource] = ()


class LoadBalancerController(pulumi.ComponentResource):
    namespace: k8s.core.v1.Namespace
    crds: list[k8s.apiextensions.v1.CustomResourceDefinition]
    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: LoadBalancerControllerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:LoadBalancerController", name, None, opts)
        after = list(args.after)
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": NAMESPACE, "labels": restricted_namespace_labels(args.kubernetes_version)},
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=after),
        )
        self.crds = [
            k8s.apiextensions.v1.CustomResourceDefinition(
                f"{name}-{crd['metadata']['name']}",
                api_version=crd["apiVersion"],
                kind=crd["kind"],
                metadata=crd["metadata"],
                spec=crd["spec"],
                opts=pulumi.ResourceOptions(
                    parent=self, provider=args.provider, depends_on=after, retain_on_delete=True
                ),
            )
            for crd in crd_documents()
        ]
        values = controller_values(
            cluster_name=args.cluster_name,
            region=args.region,
            vpc_id=args.vpc_id,
            role_arn=args.role_arn,
            placement=args.placement,
        )
        self.release = pinned_release(
            f"{name}-release",
            CHART,
            NAMESPACE,
            values,
            pulumi.ResourceOptions(
                parent=self, provider=args.provider, depends_on=[self.namespace, *self.crds, *after]
            ),
            create_namespace=False,
            skip_crds=True,
        )
        self.register_outputs({})


def target_group_binding_spec(target_group_arn: pulumi.Input[str], vpc_id: pulumi.Input[str]) -> dict[str, Any]:
    """The gateway's pods, by IP, in the AWS layer's target group. No `networking`: the AWS layer owns the rules
    that let the load balancer reach them. `ipAddressType` and `vpcID` are stated, not left for the controller's
    webhook to fill in: both are immutable, and a later apply without them would be refused."""
    return {
        "serviceRef": {"name": GATEWAY_SERVICE, "port": GATEWAY_PORT},
        "targetGroupARN": target_group_arn,
        "targetType": "ip",
        # The cluster's pods have IPv4 addresses only.
        "ipAddressType": "ipv4",
        "vpcID": vpc_id,
    }


@dataclass(frozen=True, kw_only=True)
class GatewayTargetsArgs:
    provider: k8s.Provider
    controller: LoadBalancerController
    """Its webhook admits (and its CRD defines) the binding."""
    target_group_arn: pulumi.Input[str]
    """The AWS layer's target group of the ingress gateway (target type `ip`)."""
    vpc_id: pulumi.Input[str]
    after: Sequence[pulumi.Resource] = ()
    """The ingress gateway's release (its namespace and Service)."""


class GatewayTargets(pulumi.ComponentResource):
    """Keeps the target group's targets the ingress gateway's ready pods, as they come and go."""

    binding: k8s.apiextensions.CustomResource

    def __init__(self, name: str, args: GatewayTargetsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:GatewayTargets", name, None, opts)
        self.binding = k8s.apiextensions.CustomResource(
            f"{name}-binding",
            api_version=TARGET_GROUP_BINDING_API,
            kind="TargetGroupBinding",
            metadata={"name": GATEWAY_SERVICE, "namespace": INGRESS_NAMESPACE},
            spec=target_group_binding_spec(args.target_group_arn, args.vpc_id),
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.provider,
                depends_on=[args.controller.release, *args.after],
                # The controller's webhook refuses a new targetGroupARN on a binding: a new target group (the AWS
                # layer replaced it) is a new binding, the old one deleted first (one name).
                replace_on_changes=["spec.targetGroupARN"],
                delete_before_replace=True,
            ),
        )
        self.register_outputs({})
