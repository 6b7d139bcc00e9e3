"""The Kubernetes Cluster Autoscaler: grows and shrinks the AWS layer's managed node groups within their
`minSize`..`maxSize`, so that pending pods (the api's HPA asks for up to 20 replicas) get nodes.

- The official chart (kubernetes/autoscaler), pinned, with the autoscaler release that matches the cluster's
  Kubernetes minor (`IMAGE_BY_MINOR`; a minor it does not know is an error, not a guess).
- It finds the node groups by the tags EKS puts on their Auto Scaling groups (auto-discovery) and reads each
  managed node group's labels and taints from EKS (`eks:DescribeNodegroup`), so it can start the tainted
  compute group from zero nodes.
- `least-waste`: of the groups that could run the pending pods, the one left with the least idle CPU and memory.
  The priority expander would need regular expressions over the Auto Scaling group names EKS generates.
- It runs on the general nodes, two replicas (one leads) with a PodDisruptionBudget, under its own IRSA role
  (AWS layer), which may resize only this cluster's groups.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.platform.helm import pinned_release
from philosophy_infra.config.autoscaler import AutoscalerConfig

CHART = ("cluster-autoscaler", "9.59.0", "https://kubernetes.github.io/autoscaler")
NAMESPACE = SERVICE_ACCOUNT = "cluster-autoscaler"
# The autoscaler is released per Kubernetes minor and supports only its own (kubernetes/autoscaler tags
# cluster-autoscaler-1.35.2, cluster-autoscaler-1.36.1). The chart's default image lags its appVersion.
IMAGE_BY_MINOR = {"1.35": "v1.35.2", "1.36": "v1.36.1"}
RUN_AS = 65532  # the image's user: distroless `nonroot`


def image_tag(kubernetes_version: str) -> str:
    if kubernetes_version not in IMAGE_BY_MINOR:
        raise pulumi.RunError(
            f"no Cluster Autoscaler release known for Kubernetes {kubernetes_version}: add it to IMAGE_BY_MINOR in "
            "components/kubernetes/platform/cluster_autoscaler.py before upgrading the cluster"
        )
    return IMAGE_BY_MINOR[kubernetes_version]


@dataclass(frozen=True, kw_only=True)
class ClusterAutoscalerArgs:
    provider: k8s.Provider
    settings: AutoscalerConfig
    cluster_name: pulumi.Input[str]
    region: pulumi.Input[str]
    kubernetes_version: pulumi.Input[str]
    role_arn: pulumi.Input[str]
    node_selector: pulumi.Input[Mapping[str, str]]
    tolerations: pulumi.Input[Sequence[Mapping[str, str]]]


class ClusterAutoscaler(pulumi.ComponentResource):
    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: ClusterAutoscalerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:ClusterAutoscaler", name, None, opts)
        s = args.settings
        values: dict[str, Any] = {
            "cloudProvider": "aws",
            "awsRegion": args.region,
            "autoDiscovery": {"clusterName": args.cluster_name},
            "image": {"tag": pulumi.Output.from_input(args.kubernetes_version).apply(image_tag)},
            "rbac": {
                "serviceAccount": {
                    "create": True,
                    "name": SERVICE_ACCOUNT,
                    "annotations": {"eks.amazonaws.com/role-arn": args.role_arn},
                }
            },
            "extraArgs": {
                "expander": "least-waste",
                "balance-similar-node-groups": "true",
                "scale-down-unneeded-time": s.scale_down_unneeded_time,
                "scale-down-delay-after-add": s.scale_down_delay_after_add,
                "scale-down-utilization-threshold": str(s.scale_down_utilization_threshold),
                # The service's pods keep only scratch in emptyDir (/tmp): that must not pin a node forever.
                "skip-nodes-with-local-storage": "false",
                "v": "2",  # the chart's 4 logs every loop
                "leader-elect": "true",
            },
            # Two, one of them leading: the budget then keeps one running while a node is drained, and removing
            # the leader's own node hands over instead of stopping.
            "replicaCount": 2,
            "podDisruptionBudget": {"maxUnavailable": 1},
            "priorityClassName": "system-cluster-critical",
            "nodeSelector": args.node_selector,
            "tolerations": args.tolerations,
            "resources": {"requests": {"cpu": "100m", "memory": "300Mi"}, "limits": {"memory": "600Mi"}},
            # The chart renders no security context by default; these meet the restricted Pod Security Standard.
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": RUN_AS,
                "runAsGroup": RUN_AS,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containerSecurityContext": {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            },
        }
        self.release = pinned_release(
            f"{name}-release", CHART, NAMESPACE, values, pulumi.ResourceOptions(parent=self, provider=args.provider)
        )
        self.register_outputs({})
