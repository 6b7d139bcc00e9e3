"""The identities that run the Kubernetes layer: IAM roles a GitHub Actions job assumes through GitHub's OIDC,
on the deploy runner (the network location), each trusting exactly one subject.

- `deploy` trusts `repo:<repo>:environment:<stack>`: only a job that names the GitHub environment of this
  stack (deployment branches `main`, required reviewers on `prod`) gets it. It is a cluster admin (the
  layer installs CRDs, ClusterRoles and admission webhooks through Helm charts, and Kubernetes RBAC lets
  nobody grant what it does not hold), reads the AWS layer's state of the same stack, writes the
  Kubernetes layer's, and uses the stacks' secrets key.
- `preview` trusts `repo:<repo>:pull_request`, `drift` trusts `repo:<repo>:ref:refs/heads/main` (the scheduled
  drift check). Both only read: the Kubernetes group `CLUSTER_READERS_GROUP` (what the layer's ClusterReaders
  lets it see, nothing more), both layers' state, and decrypt. A pull request's code therefore never holds a
  credential that can change the cluster: pulumi-kubernetes previews from the inputs where the server refuses
  it a dry-run.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.cluster.eks_cluster import CLUSTER_ADMIN_POLICY
from components.aws.security.policy_statements import github_oidc_provider_arn, github_trust_policy
from components.aws.security.role_limits import RoleLimits
from philosophy_infra.config.runner import DeployRunnerConfig
from philosophy_infra.service import CLUSTER_READERS_GROUP


class StateAccess(StrEnum):
    READ = "read"  # a preview: reads both layers' state, takes no lock, writes nothing
    WRITE = "write"  # an update: writes the Kubernetes layer's state, history, backups and locks


@dataclass(frozen=True, kw_only=True)
class KubernetesLayerRolesArgs:
    role_limits: RoleLimits
    settings: DeployRunnerConfig
    cluster_name: pulumi.Input[str]
    stack: str
    """The stack name both layers share, and the GitHub environment's name."""
    aws_project: str
    kubernetes_project: str


class KubernetesLayerRoles(pulumi.ComponentResource):
    deploy_role_arn: pulumi.Output[str]
    drift_role_arn: pulumi.Output[str]
    preview_role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: KubernetesLayerRolesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:KubernetesLayerRoles", name, None, opts)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        repository = args.settings.github_repository
        roles: dict[str, pulumi.Output[str]] = {}
        for suffix, subject, access in (
            ("deploy", f"repo:{repository}:environment:{args.stack}", StateAccess.WRITE),
            ("drift", f"repo:{repository}:ref:refs/heads/main", StateAccess.READ),
            ("preview", f"repo:{repository}:pull_request", StateAccess.READ),
        ):
            writes = access is StateAccess.WRITE
            role = aws.iam.Role(
                f"{name}-{suffix}",
                path=args.role_limits.path,
                permissions_boundary=args.role_limits.permissions_boundary,
                description=f"The Kubernetes layer of {args.stack}: {suffix}, for GitHub subject {subject}",
                assume_role_policy=_trust(partition, account, subject),
                # A first deploy of the layer waits for Helm releases and the schema Job: allow two hours.
                max_session_duration=7200,
                opts=pulumi.ResourceOptions(parent=self),
            )
            aws.iam.RolePolicy(
                f"{name}-{suffix}-state",
                role=role.id,
                policy=partition.apply(
                    functools.partial(
                        _state_policy_in,
                        settings=args.settings,
                        stack=args.stack,
                        aws_project=args.aws_project,
                        kubernetes_project=args.kubernetes_project,
                        access=access,
                    )
                ),
                opts=pulumi.ResourceOptions(parent=role),
            )
            entry = aws.eks.AccessEntry(
                f"{name}-{suffix}-access-entry",
                cluster_name=args.cluster_name,
                principal_arn=role.arn,
                type="STANDARD",
                # The readers get no EKS access policy: only what the Kubernetes layer's ClusterReaders binds.
                kubernetes_groups=None if writes else [CLUSTER_READERS_GROUP],
                opts=pulumi.ResourceOptions(parent=role),
            )
            if writes:
                aws.eks.AccessPolicyAssociation(
                    f"{name}-{suffix}-cluster-admin",
                    cluster_name=args.cluster_name,
                    principal_arn=role.arn,
                    policy_arn=CLUSTER_ADMIN_POLICY,
                    access_scope={"type": "cluster"},
                    opts=pulumi.ResourceOptions(parent=entry, depends_on=[entry]),
                )
            roles[suffix] = role.arn
        self.deploy_role_arn = roles["deploy"]
        self.drift_role_arn = roles["drift"]
        self.preview_role_arn = roles["preview"]
        self.register_outputs(
            {
                "deployRoleArn": self.deploy_role_arn,
                "driftRoleArn": self.drift_role_arn,
                "previewRoleArn": self.preview_role_arn,
            }
        )


def _trust(partition: pulumi.Output[str], account: pulumi.Output[str], subject: str) -> pulumi.Output[str]:
    return pulumi.Output.all(partition, account).apply(
        lambda pa: github_trust_policy(github_oidc_provider_arn(pa[0], pa[1]), subject)
    )


def _state_policy_in(partition: str, **kwargs: Any) -> str:
    return state_policy(partition=partition, **kwargs)


def state_policy(
    *,
    partition: str,
    settings: DeployRunnerConfig,
    stack: str,
    aws_project: str,
    kubernetes_project: str,
    access: StateAccess,
) -> str:
    """The Pulumi state a role of the Kubernetes layer may read (both layers' stack) or write (its own)."""
    bucket = f"arn:{partition}:s3:::{settings.state_bucket}"
    root = f"{settings.state_prefix.rstrip('/')}/" if settings.state_prefix else ""
    pulumi_dir = f"{bucket}/{root}.pulumi"
    # The S3 backend's layout (pulumi/pulumi pkg/backend/diy): checkpoints under stacks/<project>/, history
    # and backups under <project>/<stack>/, lock files under locks/organization/<project>/<stack>/.
    own = [
        f"{pulumi_dir}/stacks/{kubernetes_project}/{stack}.*",
        f"{pulumi_dir}/history/{kubernetes_project}/{stack}/*",
        f"{pulumi_dir}/backups/{kubernetes_project}/{stack}/*",
        f"{pulumi_dir}/locks/organization/{kubernetes_project}/{stack}/*",
    ]
    statements: list[dict[str, Any]] = [
        # Unconditioned: Pulumi reads keys that may not exist (a new stack's checkpoint, `.pulumi-tags`), and
        # S3 answers 404 for those only to a caller that may list the bucket; a conditioned grant would not
        # count for a GetObject, which carries no s3:prefix, and the 403 would fail the run.
        {"Sid": "ListState", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket},
        {
            "Sid": "ReadAwsLayerState",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": [f"{pulumi_dir}/meta.yaml", f"{pulumi_dir}/stacks/{aws_project}/{stack}.*"],
        },
    ]
    if access is StateAccess.WRITE:
        statements.append(
            {
                "Sid": "WriteKubernetesLayerState",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": own,
            }
        )
    else:
        statements.append(
            {"Sid": "ReadKubernetesLayerState", "Effect": "Allow", "Action": "s3:GetObject", "Resource": own[0]}
        )
    if settings.state_kms_key_arn:
        actions = (
            ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"] if access is StateAccess.WRITE else ["kms:Decrypt"]
        )
        statements.append(
            {"Sid": "StackSecrets", "Effect": "Allow", "Action": actions, "Resource": settings.state_kms_key_arn}
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})
