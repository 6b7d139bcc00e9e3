"""An IAM role that exactly one Kubernetes service account can assume through the cluster's OIDC provider (IRSA)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws.security.role_limits import RoleLimits


@dataclass(frozen=True, kw_only=True)
class IrsaRoleArgs:
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    """The issuer without `https://`, as pulumi-eks exports it."""
    role_limits: RoleLimits
    namespace: str
    service_account: str
    managed_policy_arns: Sequence[str] = field(default_factory=tuple)
    inline_policy: pulumi.Input[str] | None = None
    """A policy document (JSON) scoped to what this one service account needs."""


class IrsaRole(pulumi.ComponentResource):
    role_arn: pulumi.Output[str]
    role_name: pulumi.Output[str]

    def __init__(self, name: str, args: IrsaRoleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:IrsaRole", name, None, opts)
        subject = f"system:serviceaccount:{args.namespace}:{args.service_account}"
        trust = pulumi.Output.all(args.oidc_provider_arn, args.oidc_issuer).apply(
            lambda pi: trust_policy(pi[0], pi[1], subject)
        )
        role = aws.iam.Role(
            f"{name}-role",
            path=args.role_limits.path,
            permissions_boundary=args.role_limits.permissions_boundary,
            assume_role_policy=trust,
            opts=pulumi.ResourceOptions(parent=self),
        )
        on_role = pulumi.ResourceOptions(parent=role)
        for i, arn in enumerate(args.managed_policy_arns):
            aws.iam.RolePolicyAttachment(f"{name}-managed-{i}", role=role.name, policy_arn=arn, opts=on_role)
        if args.inline_policy is not None:
            aws.iam.RolePolicy(f"{name}-inline", role=role.id, policy=args.inline_policy, opts=on_role)
        self.role_arn = role.arn
        self.role_name = role.name
        self.register_outputs({"roleArn": self.role_arn})


def trust_policy(provider_arn: str, issuer: str, subject: str) -> str:
    # Both conditions: `sub` pins the one service account, `aud` the STS audience the EKS webhook requests.
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {"StringEquals": {f"{issuer}:sub": subject, f"{issuer}:aud": "sts.amazonaws.com"}},
                }
            ],
        }
    )


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


def service_trust_policy(service: str, account: str) -> str:
    """A role an AWS service assumes on this account's behalf only (no confused deputy from other accounts)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                }
            ],
        }
    )
