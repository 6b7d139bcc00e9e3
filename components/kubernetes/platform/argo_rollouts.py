"""Argo Rollouts, in `argo-rollouts` (Pod Security `restricted`): the controller that runs the api's canary,
shifting Istio weights step by step and asking Prometheus (`PROMETHEUS_URL`, through the AnalysisTemplates the
release objects carry) whether to go on.

- Two controllers, one leading (the chart adds `--leader-elect` above one replica), kept through node drains by
  a disruption budget: a drained node never stops a rollout half-way.
- No dashboard: `kubectl argo rollouts` (or Argo CD's UI) shows a rollout's state.
- Its metrics (rollouts, analysis runs) scraped through the chart's ServiceMonitor, which Prometheus picks up
  without a `release` label.
- RBAC for the one traffic router used here, Istio: the chart's rules for the others (SMI, Ambassador, the AWS
  Load Balancer Controller, App Mesh, Traefik, APISIX, Contour, Gloo, Gateway API) are left out.
- CRDs: the chart's templates (upgraded with the chart), kept on uninstall.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.platform.helm import pinned_release
from components.kubernetes.platform.pod_security import chart_security_contexts, restricted_namespace_labels
from philosophy_infra.service import ROLLOUTS_NAMESPACE

CHART = ("argo-rollouts", "2.41.0", "https://argoproj.github.io/argo-helm")
CONTROLLER_REPLICAS = 2
# The image's user (`USER 999` in argo-rollouts' Dockerfile), as a number: `runAsNonRoot` cannot check a name.
CONTROLLER_USER = 999
TRAFFIC_ROUTERS = (
    "istio",
    "smi",
    "ambassador",
    "awsLoadBalancerController",
    "awsAppMesh",
    "traefik",
    "apisix",
    "contour",
    "glooPlatform",
    "gatewayAPI",
)
USED_TRAFFIC_ROUTER = "istio"


def argo_rollouts_values(placement: Mapping[str, Any]) -> dict[str, Any]:
    contexts = chart_security_contexts(CONTROLLER_USER)
    return {
        "installCRDs": True,
        "keepCRDs": True,
        "controller": {
            "replicas": CONTROLLER_REPLICAS,
            "nodeSelector": dict(placement["nodeSelector"]),
            "tolerations": list(placement.get("tolerations", [])),
            "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
            "metrics": {"enabled": True, "serviceMonitor": {"enabled": True}},
            "pdb": {"enabled": True, "minAvailable": 1},
        },
        "dashboard": {"enabled": False},
        "providerRBAC": {"providers": {router: router == USED_TRAFFIC_ROUTER for router in TRAFFIC_ROUTERS}},
        # The chart's own keys for the pod's and the container's.
        "podSecurityContext": contexts["podSecurityContext"],
        "containerSecurityContext": contexts["securityContext"],
    }


@dataclass(frozen=True, kw_only=True)
class ArgoRolloutsArgs:
    provider: k8s.Provider
    kubernetes_version: pulumi.Input[str]
    placement: Mapping[str, Any]
    """`nodeSelector` and `tolerations` of the configured node group."""
    after: Sequence[pulumi.Resource] = ()
    """kube-prometheus-stack (the ServiceMonitor's CRD)."""


class ArgoRollouts(pulumi.ComponentResource):
    namespace: k8s.core.v1.Namespace
    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: ArgoRolloutsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:ArgoRollouts", name, None, opts)
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": ROLLOUTS_NAMESPACE, "labels": restricted_namespace_labels(args.kubernetes_version)},
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.after)),
        )
        self.release = pinned_release(
            f"{name}-release",
            CHART,
            ROLLOUTS_NAMESPACE,
            argo_rollouts_values(args.placement),
            pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[self.namespace, *args.after]),
            create_namespace=False,
        )
        self.register_outputs({})
