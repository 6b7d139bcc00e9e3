"""The AWS roles of the service's Kubernetes service accounts (IRSA), each allowed exactly what that account
needs. They live in the AWS layer; the Kubernetes layer only annotates its service accounts with their ARNs.

- `secrets-reader`: the app namespace's SecretStore; reads the cache token, the JWT key, the LLM key and Neo4j's
  password, decrypting through Secrets Manager only. Never the database's master secret.
- `philosophy-api`: reads and writes the assets bucket (and uses its key); logs in to PostgreSQL as the
  application user with IAM database authentication (`rds-db:connect` on that one user).
- `claude-worker`: reads its LLM API key; logs in to PostgreSQL like the api.
- `cache-secret-reader` (namespace `monitoring`): the redis exporter's SecretStore; reads the cache's AUTH
  token only.
- `database-monitor-reader` (namespace `monitoring`): postgres-exporter's SecretStore; reads the monitoring
  user's secret only.
- `cloudwatch-exporter` (namespace `monitoring`): YACE; reads CloudWatch metrics and finds the resources to read
  by their tags. These actions have no resource-level permissions, so nothing narrower than `*` exists.
- `search-admin` (namespace `philosophy-schema`): the search setup Job; the OpenSearch domain's master user.
- `jaeger` (namespace `tracing`): writes and reads the traces in OpenSearch.
  Neither has an identity policy: the domain's access policy names them, and fine-grained access control
  (the master, and the role mappings the setup Job writes) decides what each may do there.
- `schema-admin` (namespace `philosophy-schema`): the schema Job's SecretStore; the only reader of the RDS master
  secret, with which the Job creates the extension, the application and monitoring users and their grants, and
  runs migrations; it also reads the monitoring user's secret (its password's verifier).
- `repository-reader` (namespace `argocd`): Argo CD's SecretStore; reads the git repository's credentials (a
  GitHub App's) only, decrypting with their own key through Secrets Manager. No account of the service reads them.
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
from philosophy_infra.service import (
    API,
    APP_NAMESPACE,
    ARGOCD_NAMESPACE,
    CACHE_SECRET_READER,
    CLOUDWATCH_EXPORTER,
    DATABASE_APP_USER,
    DATABASE_MONITOR_READER,
    JAEGER,
    MONITORING_NAMESPACE,
    REPOSITORY_READER,
    SCHEMA_ADMIN,
    SCHEMA_NAMESPACE,
    SEARCH_ADMIN,
    SECRET_READER,
    TRACING_NAMESPACE,
    WORKER,
)


@dataclass(frozen=True, kw_only=True)
class WorkloadRolesArgs:
    role_limits: RoleLimits
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    region: str
    app_secret_arns: Sequence[pulumi.Input[str]]
    """The secrets the app namespace reads through External Secrets (cache token, JWT key, LLM key)."""
    app_secret_key_arns: Sequence[pulumi.Input[str]]
    """The KMS keys of those secrets."""
    llm_secret_arn: pulumi.Input[str]
    app_secrets_key_arn: pulumi.Input[str]
    cache_secret_arn: pulumi.Input[str]
    cache_key_arn: pulumi.Input[str]
    database_master_secret_arn: pulumi.Input[str]
    database_key_arn: pulumi.Input[str]
    database_monitor_secret_arn: pulumi.Input[str]
    database_user_arn: pulumi.Input[str]
    """`arn:<partition>:rds-db:<region>:<account>:dbuser:<resource id>/<application user>`."""
    assets_bucket_arn: pulumi.Input[str]
    assets_key_arn: pulumi.Input[str] | None
    """None when the bucket uses S3-managed keys."""
    repository_secret_arn: pulumi.Input[str]
    """The git repository's credentials, which Argo CD reads through External Secrets."""
    repository_key_arn: pulumi.Input[str]
    """Their own KMS key."""


class WorkloadRoles(pulumi.ComponentResource):
    role_arns: dict[str, pulumi.Output[str]]
    """By service account name."""

    def __init__(self, name: str, args: WorkloadRolesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:WorkloadRoles", name, None, opts)
        region = args.region
        connect = pulumi.Output.from_input(args.database_user_arn)
        policies: dict[str, tuple[str, pulumi.Output[str] | None]] = {
            SECRET_READER: (
                APP_NAMESPACE,
                pulumi.Output.all(
                    pulumi.Output.all(*args.app_secret_arns), pulumi.Output.all(*args.app_secret_key_arns)
                ).apply(lambda sk: read_secrets_policy(sk[0], sk[1], region)),
            ),
            API: (
                APP_NAMESPACE,
                pulumi.Output.all(args.assets_bucket_arn, args.assets_key_arn, connect).apply(
                    lambda v: assets_policy(v[0], v[1], database_user_arn=v[2])
                ),
            ),
            WORKER: (
                APP_NAMESPACE,
                pulumi.Output.all(args.llm_secret_arn, args.app_secrets_key_arn, connect).apply(
                    lambda v: with_database_login(read_secrets_policy([v[0]], [v[1]], region), v[2])
                ),
            ),
            CACHE_SECRET_READER: (
                MONITORING_NAMESPACE,
                pulumi.Output.all(args.cache_secret_arn, args.cache_key_arn).apply(
                    lambda v: read_secrets_policy([v[0]], [v[1]], region)
                ),
            ),
            DATABASE_MONITOR_READER: (
                MONITORING_NAMESPACE,
                pulumi.Output.all(args.database_monitor_secret_arn, args.database_key_arn).apply(
                    lambda v: read_secrets_policy([v[0]], [v[1]], region)
                ),
            ),
            CLOUDWATCH_EXPORTER: (MONITORING_NAMESPACE, pulumi.Output.from_input(cloudwatch_read_policy())),
            SEARCH_ADMIN: (SCHEMA_NAMESPACE, None),
            JAEGER: (TRACING_NAMESPACE, None),
            SCHEMA_ADMIN: (
                SCHEMA_NAMESPACE,
                pulumi.Output.all(
                    args.database_master_secret_arn, args.database_monitor_secret_arn, args.database_key_arn
                ).apply(lambda v: read_secrets_policy([v[0], v[1]], [v[2]], region)),
            ),
            REPOSITORY_READER: (
                ARGOCD_NAMESPACE,
                pulumi.Output.all(args.repository_secret_arn, args.repository_key_arn).apply(
                    lambda v: read_secrets_policy([v[0]], [v[1]], region)
                ),
            ),
        }
        self.role_arns = {}
        for service_account, (namespace, policy) in policies.items():
            role = IrsaRole(
                f"{name}-{service_account}",
                IrsaRoleArgs(
                    role_limits=args.role_limits,
                    oidc_provider_arn=args.oidc_provider_arn,
                    oidc_issuer=args.oidc_issuer,
                    namespace=namespace,
                    service_account=service_account,
                    inline_policy=policy,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.role_arns[service_account] = role.role_arn
        self.register_outputs({"roleArns": self.role_arns})


def cloudwatch_read_policy() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadMetricsOfResourcesFoundByTags",
                    "Effect": "Allow",
                    "Action": [
                        "cloudwatch:GetMetricData",
                        "cloudwatch:GetMetricStatistics",
                        "cloudwatch:ListMetrics",
                        "tag:GetResources",
                    ],
                    "Resource": "*",
                }
            ],
        }
    )


def database_user_arn(partition: str, region: str, account: str, resource_id: str) -> str:
    """The one database user the app may log in as with an IAM token (RDS: IAM database authentication)."""
    return f"arn:{partition}:rds-db:{region}:{account}:dbuser:{resource_id}/{DATABASE_APP_USER}"


def with_database_login(policy_json: str, user_arn: str) -> str:
    policy = json.loads(policy_json)
    policy["Statement"].append(
        {"Sid": "LogInToPostgresAsTheAppUser", "Effect": "Allow", "Action": "rds-db:connect", "Resource": user_arn}
    )
    return json.dumps(policy)


def assets_policy(bucket_arn: str, key_arn: str | None, *, database_user_arn: str) -> str:
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
    return with_database_login(json.dumps({"Version": "2012-10-17", "Statement": statements}), database_user_arn)
