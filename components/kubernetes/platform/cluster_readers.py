"""What the Kubernetes layer's read-only identities may see: the pull-request preview's and the drift check's.

Their IAM roles (the AWS layer's `KubernetesLayerRoles`) enter the cluster through access entries in the group
`CLUSTER_READERS_GROUP`, with no EKS access policy; this component binds that group to read exactly what the
layer manages, plus Helm's release records in the releases' namespaces (a refresh of a Helm release reads them).

Read-only is enough for `pulumi preview --refresh`: the diff is computed client-side, and when the API server
refuses the server-side-apply dry-run (403), pulumi-kubernetes previews from the inputs instead
(provider/pkg/provider/provider.go, Create and Update: `req.GetPreview() && apierrors.IsForbidden`). Before this
component exists (a first deploy) they may read nothing, and nothing exists to read.

Deliberately absent: Secrets outside the Helm namespaces (the service's, synced by External Secrets), Pods'
logs, and every verb but get, list and watch; no exec, port-forward, proxy or token request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

READ = ["get", "list", "watch"]
RBAC_GROUP = "rbac.authorization.k8s.io"
# By API group, every resource the layer creates. tests/test_cluster_readers.py fails when the offline plan of a
# stack has a kind that is not here.
READ_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("", ("configmaps", "endpoints", "namespaces", "persistentvolumeclaims", "serviceaccounts", "services")),
    # Argo CD's objects for the service (not the release objects it syncs: those are Argo CD's to read).
    ("argoproj.io", ("applications", "appprojects")),
    # The load balancer controller's CRDs, which the layer applies itself (Helm would not upgrade them).
    ("apiextensions.k8s.io", ("customresourcedefinitions",)),
    ("batch", ("jobs",)),
    ("elbv2.k8s.aws", ("targetgroupbindings",)),
    ("external-secrets.io", ("externalsecrets", "secretstores")),
    # A generator holds its parameters (length, alphabet), never what it generated.
    ("generators.external-secrets.io", ("passwords",)),
    ("networking.istio.io", ("gateways",)),
    ("networking.k8s.io", ("networkpolicies",)),
    ("monitoring.coreos.com", ("podmonitors", "prometheusrules")),
    ("policy", ("poddisruptionbudgets",)),
    # This component's own objects, which a refresh reads too.
    ("rbac.authorization.k8s.io", ("clusterrolebindings", "clusterroles", "rolebindings", "roles")),
    ("security.istio.io", ("peerauthentications",)),
    ("storage.k8s.io", ("storageclasses",)),
    ("telemetry.istio.io", ("telemetries",)),
)
# What a refresh reads besides the objects themselves: pulumi-kubernetes judges a Job ready by listing its Pods
# (provider/pkg/await/job.go). Refused, that list comes back empty, the Job reads as unhealthy, and every preview
# and drift check would show it as an update. (The layer has no Deployment or Service, whose readiness needs
# ReplicaSets, PVCs and Endpoints: those are Argo CD's.)
OWNED_READ_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (("", ("pods",)),)


@dataclass(frozen=True, kw_only=True)
class ClusterReadersArgs:
    provider: k8s.Provider
    group: str
    """The Kubernetes group the read-only access entries carry."""
    helm_releases: Mapping[str, k8s.helm.v3.Release]
    """One release per namespace that holds Helm's records (Secrets, type helm.sh/release.v1), by a stable
    suffix: the namespace gets one Role, whatever the number of releases in it."""


class ClusterReaders(pulumi.ComponentResource):
    def __init__(self, name: str, args: ClusterReadersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:ClusterReaders", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        rbac = k8s.rbac.v1
        subjects = [rbac.SubjectArgs(kind="Group", name=args.group, api_group=RBAC_GROUP)]
        role = rbac.ClusterRole(
            f"{name}-cluster-role",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{name}-read-only"),
            rules=[
                rbac.PolicyRuleArgs(api_groups=[group], resources=list(resources), verbs=READ)
                for group, resources in (*READ_RULES, *OWNED_READ_RULES)
            ],
            opts=child,
        )
        rbac.ClusterRoleBinding(
            f"{name}-cluster-role-binding",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{name}-read-only"),
            role_ref=rbac.RoleRefArgs(api_group=RBAC_GROUP, kind="ClusterRole", name=role.metadata.name),
            subjects=subjects,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(parent=role)),
        )
        for release_name, release in args.helm_releases.items():
            # The release's own output: the binding waits for the namespace Helm creates.
            metadata = k8s.meta.v1.ObjectMetaArgs(name=f"{name}-helm-records", namespace=release.namespace)
            helm_role = rbac.Role(
                f"{name}-{release_name}-helm-records",
                metadata=metadata,
                # Helm's storage driver lists the records by label, then reads one; RBAC cannot narrow that to
                # their type, so these namespaces' other Secrets (a chart's webhook certificate) are readable too.
                rules=[rbac.PolicyRuleArgs(api_groups=[""], resources=["secrets"], verbs=["get", "list"])],
                opts=child,
            )
            rbac.RoleBinding(
                f"{name}-{release_name}-helm-records-binding",
                metadata=metadata,
                role_ref=rbac.RoleRefArgs(api_group=RBAC_GROUP, kind="Role", name=helm_role.metadata.name),
                subjects=subjects,
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(parent=helm_role)),
            )
        self.register_outputs({})
