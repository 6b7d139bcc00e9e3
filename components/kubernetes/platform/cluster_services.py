"""Cluster-wide services the workloads rely on: the VPA recommender and External Secrets Operator.

Neither holds AWS permissions: the operator reads secrets as each namespace's own service account.
(metrics-server is an EKS add-on, so the AWS layer installs it.)"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.platform.helm import pinned_release

# Pinned chart versions: a new chart is a reviewed change. ESO 2.x serves external-secrets.io/v1;
# Fairwinds' vpa 5.0.0 ships VPA 1.7.1 (autoscaling.k8s.io/v1).
EXTERNAL_SECRETS_CHART = ("external-secrets", "2.0.1", "https://charts.external-secrets.io")
VPA_CHART = ("vpa", "5.0.0", "https://charts.fairwinds.com/stable")
EXTERNAL_SECRETS_NAMESPACE, EXTERNAL_SECRETS_SERVICE_ACCOUNT = "external-secrets", "external-secrets"
VPA_NAMESPACE = "vpa"


@dataclass(frozen=True, kw_only=True)
class ClusterServicesArgs:
    provider: k8s.Provider


class ClusterServices(pulumi.ComponentResource):
    external_secrets: k8s.helm.v3.Release
    vpa: k8s.helm.v3.Release

    def __init__(self, name: str, args: ClusterServicesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:ClusterServices", name, None, opts)
        on_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider)

        # Only the recommender: VPA gives recommendations and never evicts pods, so it cannot fight the HPA.
        self.vpa = pinned_release(
            f"{name}-vpa",
            VPA_CHART,
            VPA_NAMESPACE,
            {
                "recommender": {"enabled": True},
                "updater": {"enabled": False},
                "admissionController": {"enabled": False},
            },
            on_cluster,
        )

        self.external_secrets = pinned_release(
            f"{name}-external-secrets",
            EXTERNAL_SECRETS_CHART,
            EXTERNAL_SECRETS_NAMESPACE,
            # No AWS role for the operator itself: each SecretStore authenticates as a service account of its
            # own namespace, so a SecretStore elsewhere cannot borrow this service's access.
            {"installCRDs": True, "serviceAccount": {"name": EXTERNAL_SECRETS_SERVICE_ACCOUNT}},
            on_cluster,
        )
        self.register_outputs({})
