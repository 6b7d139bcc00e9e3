"""EKS add-ons that need nodes: CoreDNS, the EBS CSI driver with its own IRSA role, and metrics-server.

All three are EKS managed add-ons, created through the EKS API: nothing here talks to the cluster itself. The
StorageClasses that use the EBS CSI driver belong to the Kubernetes layer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.cluster.eks_cluster import managed_addon
from components.aws.security.irsa_role import IrsaRole, IrsaRoleArgs
from components.aws.security.role_limits import RoleLimits

EBS_CSI_SERVICE_ACCOUNT = ("kube-system", "ebs-csi-controller-sa")


@dataclass(frozen=True, kw_only=True)
class EksAddonsArgs:
    cluster_name: str
    kubernetes_version: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    role_limits: RoleLimits
    after: Sequence[pulumi.Resource]
    """The cluster and its node groups: these add-ons are created only once nodes exist."""
    addon_versions: Mapping[str, str] = field(default_factory=dict)
    volume_tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for every EBS volume the CSI driver creates (the stack's common tags): nothing else tags them."""


class EksAddons(pulumi.ComponentResource):
    ebs_csi: aws.eks.Addon
    metrics_server: aws.eks.Addon

    def __init__(self, name: str, args: EksAddonsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:EksAddons", name, None, opts)
        after_nodes = pulumi.ResourceOptions(parent=self, depends_on=list(args.after))

        def addon(
            suffix: str,
            addon_name: str,
            role_arn: pulumi.Input[str] | None = None,
            configuration: Mapping[str, Any] | None = None,
        ) -> aws.eks.Addon:
            return managed_addon(
                f"{name}-{suffix}",
                cluster_name=args.cluster_name,
                addon=addon_name,
                kubernetes_version=args.kubernetes_version,
                pinned=args.addon_versions,
                parent=self,
                opts=after_nodes,
                service_account_role_arn=role_arn,
                configuration_values=configuration,
            )

        # With no nodes CoreDNS hangs DEGRADED, then fails: hence after the node groups.
        addon("coredns", "coredns")

        namespace, service_account = EBS_CSI_SERVICE_ACCOUNT
        ebs_role = IrsaRole(
            f"{name}-ebs-csi",
            IrsaRoleArgs(
                role_limits=args.role_limits,
                oidc_provider_arn=args.oidc_provider_arn,
                oidc_issuer=args.oidc_issuer,
                namespace=namespace,
                service_account=service_account,
                managed_policy_arns=["arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The driver's controller tags each volume it creates (the chart's `controller.extraVolumeTags`, part of
        # the add-on's configuration schema); the provider's default tags never reach them.
        volume_tags = {"controller": {"extraVolumeTags": dict(args.volume_tags)}} if args.volume_tags else None
        self.ebs_csi = addon("ebs-csi", "aws-ebs-csi-driver", ebs_role.role_arn, volume_tags)
        # The HPA's CPU and memory metrics; an EKS community add-on, so EKS keeps it compatible.
        self.metrics_server = addon("metrics-server", "metrics-server")
        self.register_outputs({})
