"""Cluster add-ons that need nodes: CoreDNS, the EBS CSI driver with its own IRSA role, and the default StorageClass."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.eks_cluster import managed_addon
from components.irsa_role import IrsaRole, IrsaRoleArgs
from philosophy_infra.config import DataProtection

EBS_CSI_SERVICE_ACCOUNT = ("kube-system", "ebs-csi-controller-sa")


@dataclass(frozen=True, kw_only=True)
class ClusterAddonsArgs:
    cluster_name: str
    kubernetes_version: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    provider: k8s.Provider
    after: Sequence[pulumi.Resource]
    """The cluster and its node groups: these add-ons are created only once nodes exist."""
    addon_versions: Mapping[str, str] = field(default_factory=dict)
    data_protection: DataProtection = DataProtection.PROTECTED


class ClusterAddons(pulumi.ComponentResource):
    storage_class_name: str

    def __init__(self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:ClusterAddons", name, None, opts)
        after_nodes = pulumi.ResourceOptions(parent=self, depends_on=list(args.after))

        def addon(suffix: str, addon_name: str, role_arn: pulumi.Input[str] | None = None) -> aws.eks.Addon:
            return managed_addon(
                f"{name}-{suffix}",
                cluster_name=args.cluster_name,
                addon=addon_name,
                kubernetes_version=args.kubernetes_version,
                pinned=args.addon_versions,
                parent=self,
                opts=after_nodes,
                service_account_role_arn=role_arn,
            )

        addon("coredns", "coredns")

        namespace, service_account = EBS_CSI_SERVICE_ACCOUNT
        ebs_role = IrsaRole(
            f"{name}-ebs-csi",
            IrsaRoleArgs(
                oidc_provider_arn=args.oidc_provider_arn,
                oidc_issuer=args.oidc_issuer,
                namespace=namespace,
                service_account=service_account,
                managed_policy_arns=["arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        ebs_csi = addon("ebs-csi", "aws-ebs-csi-driver", ebs_role.role_arn)

        self.storage_class_name = "gp3"
        encrypted_gp3_storage_class(
            f"{name}-gp3",
            self.storage_class_name,
            # A deleted claim must not take the uploads with it in a protected environment.
            reclaim_policy="Retain" if args.data_protection is DataProtection.PROTECTED else "Delete",
            default=True,
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[ebs_csi]),
        )
        self.register_outputs({"storageClassName": self.storage_class_name})


def encrypted_gp3_storage_class(
    resource_name: str, class_name: str, *, reclaim_policy: str, default: bool, opts: pulumi.ResourceOptions
) -> k8s.storage.v1.StorageClass:
    """An EBS CSI StorageClass of encrypted gp3 volumes, bound where the pod lands (its zone), expandable."""
    annotations = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
    return k8s.storage.v1.StorageClass(
        resource_name,
        metadata={"name": class_name, "annotations": annotations},
        provisioner="ebs.csi.aws.com",
        parameters={"type": "gp3", "encrypted": "true", "csi.storage.k8s.io/fstype": "ext4"},
        volume_binding_mode="WaitForFirstConsumer",
        allow_volume_expansion=True,
        reclaim_policy=reclaim_policy,
        opts=opts,
    )
