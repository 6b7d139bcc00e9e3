"""The EKS control plane: private API reachable only from the sources listed, access entries, IRSA, audited
and encrypted.

It builds no Kubernetes provider: the AWS layer never talks to the cluster's API. The Kubernetes layer builds
its provider from the `kubeconfig` this component exports."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks

from components.aws.security.encryption_key import encrypted_log_group
from components.aws.security.role_limits import RoleLimits
from philosophy_infra.config.base import DataProtection
from philosophy_infra.config.cluster import EndpointAccess

CONTROL_PLANE_LOGS = ("api", "audit", "authenticator", "controllerManager", "scheduler")
CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
# As pulumi-eks and AWS's documentation write the cluster role's trust (sts:TagSession for EKS Auto Mode).
EKS_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    ],
}


@dataclass(frozen=True, kw_only=True)
class EksClusterArgs:
    cluster_name: str
    """The EKS cluster's name; fixed so the control-plane log group can be created first, with retention."""
    kubernetes_version: str
    vpc_id: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    admin_role_arn: str
    role_limits: RoleLimits
    """For the control plane's own role, which pulumi-eks would otherwise create without them."""
    endpoint_access: EndpointAccess = EndpointAccess.PRIVATE
    public_access_cidrs: Sequence[str] = ()
    control_plane_log_retention_days: int = 90
    api_access_security_group_ids: Sequence[str] = ()
    """Security groups (a VPN endpoint, a bastion) whose members may open tcp/443 to the private endpoint."""
    api_access_cidrs: Sequence[str] = ()
    """Private networks (routed into the VPC) that may open tcp/443 to the private endpoint."""
    addon_versions: Mapping[str, str] = field(default_factory=dict)
    """Pinned add-on versions; vpc-cni and kube-proxy are installed here, at the latest compatible if unpinned."""
    data_protection: DataProtection = DataProtection.PROTECTED
    resource_tags: Mapping[str, str] = field(default_factory=dict)
    """The stack's common tags, for the network interfaces the VPC CNI attaches (default tags never reach them)."""


class EksCluster(pulumi.ComponentResource):
    cluster_name: str
    kubeconfig: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    node_security_group_id: pulumi.Output[str]
    cluster_security_group_id: pulumi.Output[str]
    cluster: eks.Cluster

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:EksCluster", name, None, opts)
        if args.endpoint_access is EndpointAccess.PRIVATE_AND_PUBLIC and not args.public_access_cidrs:
            raise ValueError("a public endpoint needs public_access_cidrs; it is never open to 0.0.0.0/0")
        protected = args.data_protection is DataProtection.PROTECTED

        secrets_key = aws.kms.Key(
            f"{name}-secrets-key",
            description=f"{args.cluster_name} Kubernetes secrets envelope encryption",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            # Losing this key makes every Kubernetes secret in the cluster unreadable.
            opts=pulumi.ResourceOptions(parent=self, protect=protected),
        )
        # EKS writes to this exact name; creating it first is how the retention (and the key) get set.
        log_group = encrypted_log_group(
            f"{name}-control-plane-logs",
            key_resource_name=f"{name}-logs-encryption",
            log_group_name=f"/aws/eks/{args.cluster_name}/cluster",
            key_scope=f"/aws/eks/{args.cluster_name}/",
            retention_days=args.control_plane_log_retention_days,
            description=f"{args.cluster_name}: control-plane logs",
            alias=f"{args.cluster_name}-control-plane-logs",
            data_protection=args.data_protection,
            parent=self,
        )
        service_role = aws.iam.Role(
            f"{name}-service-role",
            description=f"{args.cluster_name}: the EKS control plane",
            path=args.role_limits.path,
            permissions_boundary=args.role_limits.permissions_boundary,
            assume_role_policy=json.dumps(EKS_TRUST_POLICY),
            opts=pulumi.ResourceOptions(parent=self),
        )
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        service_policy = aws.iam.RolePolicyAttachment(
            f"{name}-service-role-policy",
            role=service_role.name,
            policy_arn=partition.apply(lambda p: f"arn:{p}:iam::aws:policy/AmazonEKSClusterPolicy"),
            opts=pulumi.ResourceOptions(parent=service_role),
        )
        public = args.endpoint_access is EndpointAccess.PRIVATE_AND_PUBLIC
        self.cluster = eks.Cluster(
            f"{name}-eks",
            name=args.cluster_name,
            version=args.kubernetes_version,
            # STANDARD: the cluster must be upgraded, never drift into paid extended support.
            upgrade_policy={"support_type": "STANDARD"},
            vpc_id=args.vpc_id,
            private_subnet_ids=args.private_subnet_ids,
            endpoint_private_access=True,
            endpoint_public_access=public,
            public_access_cidrs=list(args.public_access_cidrs) if public else None,
            # Ours, not pulumi-eks's: the deploy role may create roles only under the path, with the boundary.
            service_role=service_role,
            authentication_mode=eks.AuthenticationMode.API,
            access_entries={
                "admin": eks.AccessEntryArgs(
                    principal_arn=args.admin_role_arn,
                    access_policies={
                        "cluster-admin": eks.AccessPolicyAssociationArgs(
                            policy_arn=CLUSTER_ADMIN_POLICY,
                            access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                        )
                    },
                )
            },
            create_oidc_provider=True,
            enabled_cluster_log_types=list(CONTROL_PLANE_LOGS),
            encryption_config_key_arn=secrets_key.arn,
            skip_default_node_group=True,
            # Managed node groups get the EKS-created cluster security group; pulumi-eks's extra groups
            # would only add rules nobody uses.
            skip_default_security_groups=True,
            # Created by ClusterAddons once nodes exist: with no nodes CoreDNS hangs DEGRADED, then fails.
            coredns_addon_options=eks.CoreDnsAddonOptionsArgs(enabled=False),
            # Network policy enforcement in the VPC CNI, for the workloads' NetworkPolicies.
            vpc_cni_options=eks.VpcCniOptionsArgs(
                addon_version=addon_version("vpc-cni", args.kubernetes_version, args.addon_versions, self),
                enable_network_policy=True,
                # pulumi-eks defaults both of the CNI's logs to DEBUG on every node; its Python SDK has no
                # `plugin_log_level`, so that one goes in as the add-on's env (its values win over pulumi-eks's).
                # ADDITIONAL_ENI_TAGS: the stack's tags on every network interface the CNI attaches for pods.
                log_level="INFO",
                configuration_values={"env": cni_env(args.resource_tags)},
            ),
            kube_proxy_addon_options=eks.KubeProxyAddonOptionsArgs(
                version=addon_version("kube-proxy", args.kubernetes_version, args.addon_versions, self)
            ),
            deletion_protection=protected,
            # EKS's deletion protection alone would let a destroy remove the node groups and add-ons before
            # EKS refuses to delete the cluster itself.
            # The policy first: EKS checks the role's rights when it creates the cluster.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, service_policy], protect=protected),
        )
        self.cluster_name = args.cluster_name
        self.kubeconfig = pulumi.Output.secret(self.cluster.kubeconfig_json)
        self.oidc_provider_arn = self.cluster.oidc_provider_arn
        self.oidc_issuer = self.cluster.oidc_issuer
        self.node_security_group_id = self.cluster.node_security_group_id
        # The group EKS puts on the control plane's network interfaces: without pulumi-eks's own groups
        # (skipped above) it admits only its own members, so every other API client is a rule here.
        self.cluster_security_group_id = self.cluster.cluster_security_group_id
        for i, group in enumerate(args.api_access_security_group_ids):
            allow_api_access(
                f"{name}-api-from-sg-{i}",
                cluster_security_group_id=self.cluster_security_group_id,
                source_security_group_id=group,
                description="Kubernetes API from cluster.apiAccess.securityGroupIds",
                parent=self,
            )
        for i, cidr in enumerate(args.api_access_cidrs):
            allow_api_access(
                f"{name}-api-from-cidr-{i}",
                cluster_security_group_id=self.cluster_security_group_id,
                source_cidr=cidr,
                description="Kubernetes API from cluster.apiAccess.cidrs",
                parent=self,
            )
        self.register_outputs(
            {
                "clusterName": self.cluster_name,
                "kubeconfig": self.kubeconfig,
                "oidcProviderArn": self.oidc_provider_arn,
                "oidcIssuer": self.oidc_issuer,
                "nodeSecurityGroupId": self.node_security_group_id,
                "clusterSecurityGroupId": self.cluster_security_group_id,
            }
        )


def allow_api_access(
    resource_name: str,
    *,
    cluster_security_group_id: pulumi.Input[str],
    description: str,
    parent: pulumi.Resource,
    source_security_group_id: pulumi.Input[str] | None = None,
    source_cidr: str | None = None,
) -> aws.vpc.SecurityGroupIngressRule:
    """One tcp/443 rule on the cluster security group: from one security group, or from one private network."""
    if (source_security_group_id is None) == (source_cidr is None):
        raise ValueError("an API access rule has exactly one source: a security group or a CIDR")
    if source_cidr is not None and source_cidr.endswith("/0"):
        raise ValueError("the Kubernetes API is never open to the whole internet")
    return aws.vpc.SecurityGroupIngressRule(
        resource_name,
        security_group_id=cluster_security_group_id,
        referenced_security_group_id=source_security_group_id,
        cidr_ipv4=source_cidr,
        ip_protocol="tcp",
        from_port=443,
        to_port=443,
        description=description,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def cni_env(tags: Mapping[str, str]) -> dict[str, str]:
    env = {"AWS_VPC_K8S_PLUGIN_LOG_LEVEL": "INFO"}
    if tags:
        env["ADDITIONAL_ENI_TAGS"] = json.dumps(dict(tags), sort_keys=True)
    return env


def addon_version(
    addon: str, kubernetes_version: str, pinned: Mapping[str, str], parent: pulumi.Resource
) -> pulumi.Input[str]:
    """The pinned version of an EKS add-on, else EKS's default version for this Kubernetes version. Not the most
    recent: that one moves with every build EKS publishes, so previews would show upgrades nobody asked for."""
    if addon in pinned:
        return pinned[addon]
    return aws.eks.get_addon_version_output(
        addon_name=addon,
        kubernetes_version=kubernetes_version,
        most_recent=False,
        opts=pulumi.InvokeOutputOptions(parent=parent),
    ).version


def managed_addon(
    resource_name: str,
    *,
    cluster_name: pulumi.Input[str],
    addon: str,
    kubernetes_version: str,
    pinned: Mapping[str, str],
    parent: pulumi.Resource,
    opts: pulumi.ResourceOptions,
    service_account_role_arn: pulumi.Input[str] | None = None,
    configuration_values: Mapping[str, Any] | None = None,
) -> aws.eks.Addon:
    """An EKS managed add-on at its pinned (or latest compatible) version; EKS's settings win on conflict."""
    return aws.eks.Addon(
        resource_name,
        cluster_name=cluster_name,
        addon_name=addon,
        addon_version=addon_version(addon, kubernetes_version, pinned, parent),
        service_account_role_arn=service_account_role_arn,
        configuration_values=json.dumps(configuration_values, sort_keys=True) if configuration_values else None,
        resolve_conflicts_on_create="OVERWRITE",
        resolve_conflicts_on_update="OVERWRITE",
        opts=opts,
    )
