"""Cluster-wide services the workloads rely on: metrics-server, the VPA recommender, External Secrets Operator."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.eks_cluster import addon_version
from components.irsa_role import IrsaRole, IrsaRoleArgs

# Pinned chart versions: a new chart is a reviewed change. ESO 2.x serves external-secrets.io/v1;
# Fairwinds' vpa 5.0.0 ships VPA 1.7.1 (autoscaling.k8s.io/v1).
EXTERNAL_SECRETS_CHART = ("external-secrets", "2.0.1", "https://charts.external-secrets.io")
VPA_CHART = ("vpa", "5.0.0", "https://charts.fairwinds.com/stable")
EXTERNAL_SECRETS_NAMESPACE, EXTERNAL_SECRETS_SERVICE_ACCOUNT = "external-secrets", "external-secrets"
VPA_NAMESPACE = "vpa"


@dataclass(frozen=True, kw_only=True)
class ClusterServicesArgs:
    cluster_name: str
    kubernetes_version: str
    region: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    provider: k8s.Provider
    readable_secret_arns: Sequence[pulumi.Input[str]]
    """The only secrets External Secrets Operator may read: this service's."""
    readable_secret_key_arns: Sequence[pulumi.Input[str]]
    """The KMS keys of those secrets (decrypt through Secrets Manager only)."""
    after: Sequence[pulumi.Resource] = ()
    addon_versions: Mapping[str, str] = field(default_factory=dict)


class ClusterServices(pulumi.ComponentResource):
    external_secrets: k8s.helm.v3.Release
    vpa: k8s.helm.v3.Release
    metrics_server: aws.eks.Addon

    def __init__(self, name: str, args: ClusterServicesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:ClusterServices", name, None, opts)
        on_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.after))

        # The HPA's CPU and memory metrics; an EKS community add-on, so EKS keeps it compatible.
        self.metrics_server = aws.eks.Addon(
            f"{name}-metrics-server",
            cluster_name=args.cluster_name,
            addon_name="metrics-server",
            addon_version=addon_version("metrics-server", args.kubernetes_version, args.addon_versions, self),
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.after)),
        )

        chart, version, repo = VPA_CHART
        # Only the recommender: VPA gives recommendations and never evicts pods, so it cannot fight the HPA.
        self.vpa = k8s.helm.v3.Release(
            f"{name}-vpa",
            name="vpa",
            chart=chart,
            version=version,
            repository_opts={"repo": repo},
            namespace=VPA_NAMESPACE,
            create_namespace=True,
            values={
                "recommender": {"enabled": True},
                "updater": {"enabled": False},
                "admissionController": {"enabled": False},
            },
            opts=on_cluster,
        )

        role = IrsaRole(
            f"{name}-external-secrets",
            IrsaRoleArgs(
                oidc_provider_arn=args.oidc_provider_arn,
                oidc_issuer=args.oidc_issuer,
                namespace=EXTERNAL_SECRETS_NAMESPACE,
                service_account=EXTERNAL_SECRETS_SERVICE_ACCOUNT,
                inline_policy=pulumi.Output.all(
                    pulumi.Output.all(*args.readable_secret_arns), pulumi.Output.all(*args.readable_secret_key_arns)
                ).apply(lambda sk: read_secrets_policy(sk[0], sk[1], args.region)),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        chart, version, repo = EXTERNAL_SECRETS_CHART
        self.external_secrets = k8s.helm.v3.Release(
            f"{name}-external-secrets",
            name="external-secrets",
            chart=chart,
            version=version,
            repository_opts={"repo": repo},
            namespace=EXTERNAL_SECRETS_NAMESPACE,
            create_namespace=True,
            values={
                "installCRDs": True,
                "serviceAccount": {
                    "name": EXTERNAL_SECRETS_SERVICE_ACCOUNT,
                    "annotations": {"eks.amazonaws.com/role-arn": role.role_arn},
                },
            },
            opts=on_cluster,
        )
        self.register_outputs({"externalSecretsRoleArn": role.role_arn})


def read_secrets_policy(secret_arns: Sequence[str], key_arns: Sequence[str], region: str) -> str:
    """Read exactly these secrets, and decrypt with their keys only when Secrets Manager asks."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadTheServiceSecrets",
                    "Effect": "Allow",
                    "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    "Resource": sorted(secret_arns),
                },
                {
                    "Sid": "DecryptThroughSecretsManager",
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": sorted(set(key_arns)),
                    "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
                },
            ],
        }
    )
