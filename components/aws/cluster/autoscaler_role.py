"""The Cluster Autoscaler's AWS identity (IRSA): it may resize and shrink only this cluster's Auto Scaling groups.

The policy is the Cluster Autoscaler's "full features" policy (kubernetes/autoscaler,
cluster-autoscaler/cloudprovider/aws/README.md), with its write statement narrowed as that README advises: only
groups tagged `k8s.io/cluster-autoscaler/<cluster>: owned`, the tag EKS puts on every managed node group's Auto
Scaling group. `eks:DescribeNodegroup` lets it read a managed node group's labels and taints from EKS, so it can
scale a tainted group (compute) up from zero nodes without node-template tags on the group.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi

from components.aws.security.irsa_role import IrsaRole, IrsaRoleArgs
from components.aws.security.role_limits import RoleLimits

NAMESPACE, SERVICE_ACCOUNT = "cluster-autoscaler", "cluster-autoscaler"


@dataclass(frozen=True, kw_only=True)
class AutoscalerRoleArgs:
    role_limits: RoleLimits
    cluster_name: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]


class AutoscalerRole(pulumi.ComponentResource):
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AutoscalerRoleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:AutoscalerRole", name, None, opts)
        role = IrsaRole(
            f"{name}-irsa",
            IrsaRoleArgs(
                role_limits=args.role_limits,
                oidc_provider_arn=args.oidc_provider_arn,
                oidc_issuer=args.oidc_issuer,
                namespace=NAMESPACE,
                service_account=SERVICE_ACCOUNT,
                inline_policy=autoscaler_policy(args.cluster_name),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.role_arn = role.role_arn
        self.register_outputs({"roleArn": self.role_arn})


def autoscaler_policy(cluster_name: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "SeeTheNodeGroups",
                    "Effect": "Allow",
                    "Action": [
                        "autoscaling:DescribeAutoScalingGroups",
                        "autoscaling:DescribeAutoScalingInstances",
                        "autoscaling:DescribeLaunchConfigurations",
                        "autoscaling:DescribeScalingActivities",
                        "ec2:DescribeImages",
                        "ec2:DescribeInstanceTypes",
                        "ec2:DescribeLaunchTemplateVersions",
                        "ec2:GetInstanceTypesFromInstanceRequirements",
                        "eks:DescribeNodegroup",
                    ],
                    "Resource": "*",
                },
                {
                    "Sid": "ResizeOnlyThisClustersGroups",
                    "Effect": "Allow",
                    "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}
                    },
                },
            ],
        }
    )
