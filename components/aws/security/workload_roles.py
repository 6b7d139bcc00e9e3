"""The AWS roles of the service's Kubernetes service accounts (IRSA), each allowed exactly what that account
needs. They live in the AWS layer; the Kubernetes layer only annotates its service accounts with their ARNs.

- `secrets-reader`: the namespace's SecretStore; reads the service's four secrets, decrypts through
  Secrets Manager only.
- `philosophy-api`: reads and writes the assets bucket (and uses its key).
- `claude-worker`: reads its LLM API key.
The websocket gets no role, so no AWS credentials.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.aws.security.irsa_role import IrsaRole, IrsaRoleArgs, read_secrets_policy
from components.aws.security.role_limits import RoleLimits
from philosophy_infra.service import API, APP_NAMESPACE, SECRET_READER, WORKER


@dataclass(frozen=True, kw_only=True)
class WorkloadRolesArgs:
    role_limits: RoleLimits
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    region: str
    service_secret_arns: Sequence[pulumi.Input[str]]
    """Every secret the service reads through External Secrets (database, cache, JWT, LLM key)."""
    service_secret_key_arns: Sequence[pulumi.Input[str]]
    """The KMS keys of those secrets."""
    llm_secret_arn: pulumi.Input[str]
    app_secrets_key_arn: pulumi.Input[str]
    assets_bucket_arn: pulumi.Input[str]
    assets_key_arn: pulumi.Input[str] | None
    """None when the bucket uses S3-managed keys."""


class WorkloadRoles(pulumi.ComponentResource):
    role_arns: dict[str, pulumi.Output[str]]
    """By service account name (in the service's namespace)."""

    def __init__(self, name: str, args: WorkloadRolesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:WorkloadRoles", name, None, opts)
        region = args.region
        policies: dict[str, pulumi.Output[str]] = {
            SECRET_READER: pulumi.Output.all(
                pulumi.Output.all(*args.service_secret_arns), pulumi.Output.all(*args.service_secret_key_arns)
            ).apply(lambda sk: read_secrets_policy(sk[0], sk[1], region)),
            API: pulumi.Output.all(args.assets_bucket_arn, args.assets_key_arn).apply(
                lambda bk: assets_policy(bk[0], bk[1])
            ),
            WORKER: pulumi.Output.all(args.llm_secret_arn, args.app_secrets_key_arn).apply(
                lambda sk: read_secrets_policy([sk[0]], [sk[1]], region)
            ),
        }
        self.role_arns = {}
        for service_account, policy in policies.items():
            role = IrsaRole(
                f"{name}-{service_account}",
                IrsaRoleArgs(
                    role_limits=args.role_limits,
                    oidc_provider_arn=args.oidc_provider_arn,
                    oidc_issuer=args.oidc_issuer,
                    namespace=APP_NAMESPACE,
                    service_account=service_account,
                    inline_policy=policy,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.role_arns[service_account] = role.role_arn
        self.register_outputs({"roleArns": self.role_arns})


def assets_policy(bucket_arn: str, key_arn: str | None) -> str:
    statements: list[dict[str, Any]] = [
        {"Sid": "ListAssets", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn},
        {
            "Sid": "ReadWriteAssets",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": f"{bucket_arn}/*",
        },
    ]
    if key_arn:
        statements.append(
            {
                "Sid": "UseTheAssetsKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": key_arn,
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})
