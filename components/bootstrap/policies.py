"""The bootstrap's policy documents, as pure functions of plain values: the CI roles' trust and permissions, the
keys' policies, the state bucket's policy and the ECR lifecycle. The components only wire them to resources,
so each document can be read and tested on its own.

The design, in one place:
- Every role the bootstrap creates lives under the IAM path `ROLE_PATH`. Each deploy role may manage its
  environment's roles of the AWS layer (only under that environment's path, and only with that environment's
  boundary, `role_boundary_policy`, attached) and the cluster's OIDC provider, but nothing under the
  bootstrap's path, nor GitHub's OIDC provider: they cannot widen their own trust or rights, nor the other
  roles', nor mint a role that could.
- Each key's policy refuses the CI roles everything but using it, so a deploy role (PowerUserAccess has
  `kms:*`) cannot disable, re-policy or schedule the deletion of the keys the state and images depend on.
- The state bucket's policy keeps each deploy role to its own environment's stacks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from components.aws.security.policy_statements import (
    GITHUB_OIDC_HOST,
    tls_only_statements,
)
from components.aws.security.role_limits import BOUNDARY_PATH, boundary_arn, role_path

ROLE_PATH = BOUNDARY_PATH
"""The bootstrap's roles and its one managed policy (the boundary) live under this IAM path."""

# What the CI roles may still do with a key they use; everything else (PutKeyPolicy, DisableKey,
# ScheduleKeyDeletion, CreateGrant, aliases, tags) is refused them in the key's own policy.
KEY_USAGE = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
# Pulumi's `awskms://` secrets provider calls Encrypt once (to wrap a new stack's data key: `stack init`,
# `change-secrets-provider`) and Decrypt on every run (gocloud.dev/secrets/awskms); nothing else.
SECRETS_ENCRYPT_DECRYPT = ["kms:Decrypt", "kms:Encrypt"]
SECRETS_DECRYPT = ["kms:Decrypt"]

# The services the AWS layer hands a role to: EKS (the cluster's role, the node groups' role, the EBS CSI
# add-on's role), EC2 (instance profiles of nodes), CodeBuild (the deploy runner), VPC flow logs, RDS enhanced
# monitoring. Passing a role to anything else (Lambda, ECS, Glue...) is refused: running
# code under a role the deploy role created is the shortest way around its limits. A new service the AWS layer
# needs is added here.
PASSED_TO_SERVICES = [
    "codebuild.amazonaws.com",
    "ec2.amazonaws.com",
    "eks.amazonaws.com",
    "monitoring.rds.amazonaws.com",
    "vpc-flow-logs.amazonaws.com",
]
# What the deploy roles do to the AWS layer's roles (IRSA, node groups, the cluster's, the runner, flow logs, RDS
# monitoring, the Kubernetes layer's). Those that set a role's rights need the boundary on it (the condition
# `iam:PermissionsBoundary`); all of them only under the AWS layer's path. No users, groups, access keys, login
# profiles or managed policies: nothing that mints long-lived credentials or outlives a role.
ROLE_RIGHTS_CHANGES = [
    "iam:AttachRolePolicy",
    "iam:CreateRole",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
]
ROLE_CHANGES = [
    "iam:DeleteRole",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
]
# The cluster's own OIDC provider (IRSA), which pulumi-eks creates; EKS issuers only.
EKS_OIDC_PROVIDER_CHANGES = [
    "iam:AddClientIDToOpenIDConnectProvider",
    "iam:CreateOpenIDConnectProvider",
    "iam:DeleteOpenIDConnectProvider",
    "iam:RemoveClientIDFromOpenIDConnectProvider",
    "iam:TagOpenIDConnectProvider",
    "iam:UntagOpenIDConnectProvider",
    "iam:UpdateOpenIDConnectProviderThumbprint",
]
# What the AWS layer's roles cannot do whatever their own policies say: IAM (but reading it and the service-linked
# roles AWS services create for themselves), the organization and the account, and assuming another role.
BOUNDARY_EXCLUDES = ["account:*", "iam:*", "organizations:*", "sts:AssumeRole"]
BOUNDARY_IAM = ["iam:CreateServiceLinkedRole", "iam:Get*", "iam:List*"]
# Key administration: no role of the AWS layer administers a key, and a role created to reach the bootstrap's keys
# (whose policies let the account's IAM administer them) must not.
KEY_ADMINISTRATION = [
    "kms:CancelKeyDeletion",
    "kms:DeleteAlias",
    "kms:DeleteImportedKeyMaterial",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:UpdateAlias",
]
# What makes the state buckets a backup: versioning, encryption, the policy, replication, the lifecycle, the
# public access block; and the old versions themselves (a DeleteObjectVersion is the one delete S3 cannot undo).
STATE_BUCKET_PROTECTIONS = [
    "s3:DeleteBucket",
    "s3:DeleteBucketPolicy",
    "s3:DeleteObjectVersion",
    "s3:PutBucketAcl",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
    # Requester-pays would make every backend request fail for the stacks' own roles.
    "s3:PutBucketRequestPayment",
    "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:PutReplicationConfiguration",
]
# The images' repositories belong to the app repository's push role; a deploy role neither pushes nor deletes
# images, nor changes what keeps them (tag immutability, lifecycle, scanning, replication).
ECR_REPOSITORY_CHANGES = [
    "ecr:BatchDeleteImage",
    "ecr:CompleteLayerUpload",
    "ecr:DeleteLifecyclePolicy",
    "ecr:DeleteRepository",
    "ecr:DeleteRepositoryPolicy",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:PutImageScanningConfiguration",
    "ecr:PutImageTagMutability",
    "ecr:PutLifecyclePolicy",
    "ecr:SetRepositoryPolicy",
    "ecr:UploadLayerPart",
]
# Amazon Inspector's account settings: the registry's enhanced scanning depends on them.
INSPECTOR_CHANGES = [
    "inspector2:Disable",
    "inspector2:UpdateConfiguration",
    "inspector2:UpdateOrganizationConfiguration",
]
ECR_REGISTRY_CHANGES = [
    "ecr:CreateRepositoryCreationTemplate",
    "ecr:DeleteRegistryPolicy",
    "ecr:DeleteRepositoryCreationTemplate",
    "ecr:PutRegistryPolicy",
    "ecr:PutRegistryScanningConfiguration",
    "ecr:PutReplicationConfiguration",
    "ecr:UpdateRepositoryCreationTemplate",
]
# Pushing an image to one repository (AWS's documented push policy, without GetAuthorizationToken, which has no
# resource and is granted on its own).
ECR_PUSH = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:CompleteLayerUpload",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
]
# The secrets whose value Pulumi itself writes (a SecretVersion: the cache's AUTH token). A preview with
# refresh reads them back; their value is in the state, which the preview role decrypts anyway. Secrets people
# fill by hand (the LLM key, the JWT secret) and RDS's own stay unreadable to it.
PREVIEW_READABLE_SECRETS = ["cache-auth-*"]


def _document(statements: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def bucket_arn(partition: str, bucket: str) -> str:
    return f"arn:{partition}:s3:::{bucket}"


# The environment whose stacks live in the state bucket's replica, in the DR region: the DR stack, which runs when the
# home region (and its state bucket) is lost. Its deploy role, and the roles its AWS layer creates, write those stacks
# there, and nothing else in the replica.
REPLICA_ENVIRONMENT = "dr"


def state_objects(partition: str, bucket: str, project: str, stack: str) -> list[str]:
    """One stack's objects in the S3 backend (pulumi/pulumi pkg/backend/diy): its checkpoint under
    stacks/<project>/, history and backups under <project>/<stack>/, locks under locks/organization/<project>/."""
    pulumi_dir = f"{bucket_arn(partition, bucket)}/.pulumi"
    return [
        f"{pulumi_dir}/stacks/{project}/{stack}.*",
        f"{pulumi_dir}/history/{project}/{stack}/*",
        f"{pulumi_dir}/backups/{project}/{stack}/*",
        f"{pulumi_dir}/locks/organization/{project}/{stack}/*",
    ]


def repository_arn(partition: str, region: str, account: str, name: str) -> str:
    return f"arn:{partition}:ecr:{region}:{account}:repository/{name}"


def read_only_role_policy(*, partition: str, region: str, account: str, state_bucket: str) -> str:
    """The read-only roles' own policy (preview, drift), next to ReadOnlyAccess: read the state, and read no
    other object."""
    bucket = bucket_arn(partition, state_bucket)
    return _document(
        [
            # Unconditioned: Pulumi reads keys that may not exist, and S3 answers 404 for those only to a
            # caller that may list the bucket.
            {"Sid": "ListState", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket},
            {"Sid": "ReadState", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{bucket}/.pulumi/*"},
            {
                "Sid": "ReadPulumiWrittenSecrets",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": [
                    f"arn:{partition}:secretsmanager:{region}:{account}:secret:{pattern}"
                    for pattern in PREVIEW_READABLE_SECRETS
                ],
            },
            {
                "Sid": "DecryptThoseSecretsThroughSecretsManager",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": f"arn:{partition}:kms:{region}:{account}:key/*",
                "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
            },
            # ReadOnlyAccess includes s3:GetObject on every bucket: a pull request's workflow must not read the
            # service's uploads (or any other data) through it.
            {
                "Sid": "DenyReadingOtherObjects",
                "Effect": "Deny",
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "NotResource": f"{bucket}/.pulumi/*",
            },
        ]
    )


def _bootstrap_assets_denies(
    *, partition: str, account: str, state_bucket: str, replica_bucket: str, ecr_namespace: str
) -> list[dict[str, Any]]:
    """What keeps the account recoverable and the CI honest: refused to the deploy roles and to every role they
    create (through the boundary) alike."""
    bucket, replica = bucket_arn(partition, state_bucket), bucket_arn(partition, replica_bucket)
    return [
        {
            "Sid": "DenyWeakeningTheStateBuckets",
            "Effect": "Deny",
            "Action": STATE_BUCKET_PROTECTIONS,
            "Resource": [bucket, f"{bucket}/*", replica, f"{replica}/*"],
        },
        {
            "Sid": "DenyChangingTheImageRepositories",
            "Effect": "Deny",
            "Action": ECR_REPOSITORY_CHANGES,
            "Resource": f"arn:{partition}:ecr:*:{account}:repository/{ecr_namespace}/*",
        },
        {"Sid": "DenyChangingTheRegistry", "Effect": "Deny", "Action": ECR_REGISTRY_CHANGES, "Resource": "*"},
        {"Sid": "DenyTurningOffScanning", "Effect": "Deny", "Action": INSPECTOR_CHANGES, "Resource": "*"},
    ]


def role_boundary_policy(
    *,
    partition: str,
    account: str,
    environment: str,
    environments: Sequence[str],
    projects: Sequence[str],
    state_bucket: str,
    replica_bucket: str,
    ecr_namespace: str,
) -> str:
    """The permissions boundary of every role one environment's AWS layer creates: the most such a role can ever
    do, whatever its own policies grant. Its own policies stay least-privilege; the boundary caps what a deploy
    role could give a role it creates, so that role is never a way around the deploy role's limits, nor into
    another environment's state (which holds that environment's secrets)."""
    others = [
        arn
        for other in environments
        if other != environment
        for project in projects
        for arn in state_objects(partition, state_bucket, project, other)
    ]
    statements: list[dict[str, Any]] = [
        {"Sid": "AllButIdentityAndTheAccount", "Effect": "Allow", "NotAction": BOUNDARY_EXCLUDES, "Resource": "*"},
        {"Sid": "ReadIamAndCreateServiceLinkedRoles", "Effect": "Allow", "Action": BOUNDARY_IAM, "Resource": "*"},
        {"Sid": "DenyAdministeringKeys", "Effect": "Deny", "Action": KEY_ADMINISTRATION, "Resource": "*"},
        # The DR replica is written by S3 replication, and by the DR environment's roles for its own stacks only.
        {
            "Sid": "DenyWritingTheReplica",
            "Effect": "Deny",
            "Action": ["s3:DeleteObject", "s3:PutObject"],
            **(
                {
                    "NotResource": [
                        a
                        for project in projects
                        for a in state_objects(partition, replica_bucket, project, REPLICA_ENVIRONMENT)
                    ]
                }
                if environment == REPLICA_ENVIRONMENT
                else {"Resource": f"{bucket_arn(partition, replica_bucket)}/*"}
            ),
        },
    ]
    if others:
        statements.append(
            {
                "Sid": "DenyOtherEnvironmentsState",
                "Effect": "Deny",
                "Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
                "Resource": others,
            }
        )
    return _document(
        [
            *statements,
            *_bootstrap_assets_denies(
                partition=partition,
                account=account,
                state_bucket=state_bucket,
                replica_bucket=replica_bucket,
                ecr_namespace=ecr_namespace,
            ),
        ]
    )


def deploy_role_policy(
    *,
    partition: str,
    account: str,
    environment: str,
    projects: Sequence[str],
    state_bucket: str,
    replica_bucket: str,
    ecr_namespace: str,
) -> str:
    """A deploy role's own policy, next to PowerUserAccess (everything but IAM, Organizations and Account):
    the AWS layer's roles (under its path, with the boundary), its environment's state, and explicit denies on
    what keeps the account recoverable and the CI honest."""
    bucket = bucket_arn(partition, state_bucket)
    iam = f"arn:{partition}:iam::{account}"
    layer_roles = f"{iam}:role{role_path(environment)}*"
    own_state = [arn for project in projects for arn in state_objects(partition, state_bucket, project, environment)]
    return _document(
        [
            {
                "Sid": "SetTheAwsLayersRolesRightsWithinTheBoundary",
                "Effect": "Allow",
                "Action": ROLE_RIGHTS_CHANGES,
                "Resource": layer_roles,
                "Condition": {
                    "StringEquals": {"iam:PermissionsBoundary": boundary_arn(partition, account, environment)}
                },
            },
            {"Sid": "ChangeTheAwsLayersRoles", "Effect": "Allow", "Action": ROLE_CHANGES, "Resource": layer_roles},
            {
                "Sid": "ManageTheClustersOidcProviders",
                "Effect": "Allow",
                "Action": EKS_OIDC_PROVIDER_CHANGES,
                "Resource": f"{iam}:oidc-provider/oidc.eks.*.amazonaws.com/id/*",
            },
            {"Sid": "ReadIam", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"},
            {
                "Sid": "PassRolesToTheAwsLayersServices",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": layer_roles,
                "Condition": {"StringEquals": {"iam:PassedToService": PASSED_TO_SERVICES}},
            },
            {"Sid": "ListState", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket},
            {
                "Sid": "ReadBackendMetadata",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"{bucket}/.pulumi/meta.yaml",
            },
            {
                "Sid": "WriteOwnEnvironmentsState",
                "Effect": "Allow",
                "Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
                "Resource": own_state,
            },
            *_replica_state_statements(partition, replica_bucket, projects, environment),
            # Belt and braces over the allows above: a boundary, once set, stays; the bootstrap's roles and
            # policies (the boundary included) are readable, never changed, passed or created.
            {
                "Sid": "DenyRemovingTheBoundary",
                "Effect": "Deny",
                "Action": ["iam:DeleteRolePermissionsBoundary", "iam:DeleteUserPermissionsBoundary"],
                "Resource": "*",
            },
            {
                "Sid": "DenyChangingTheBootstrapsRolesAndPolicies",
                "Effect": "Deny",
                "NotAction": ["iam:Get*", "iam:List*"],
                "Resource": [f"{iam}:role{ROLE_PATH}*", f"{iam}:policy{ROLE_PATH}*"],
            },
            {
                "Sid": "DenyChangingGithubsOidcProvider",
                "Effect": "Deny",
                "NotAction": ["iam:Get*", "iam:List*"],
                "Resource": f"{iam}:oidc-provider/{GITHUB_OIDC_HOST}",
            },
            # The way around any role's limits is another role's; the AWS layer assumes none.
            {"Sid": "DenyAssumingOtherRoles", "Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"},
            *_bootstrap_assets_denies(
                partition=partition,
                account=account,
                state_bucket=state_bucket,
                replica_bucket=replica_bucket,
                ecr_namespace=ecr_namespace,
            ),
        ]
    )


def _replica_state_statements(
    partition: str, replica_bucket: str, projects: Sequence[str], environment: str
) -> list[dict[str, Any]]:
    """The DR environment's stacks live in the replica (its home region's bucket is the one that is lost)."""
    if environment != REPLICA_ENVIRONMENT:
        return []
    replica = bucket_arn(partition, replica_bucket)
    return [
        {"Sid": "ListTheReplica", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": replica},
        {
            "Sid": "ReadTheReplicasBackendMetadata",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{replica}/.pulumi/meta.yaml",
        },
        {
            "Sid": "WriteOwnStacksInTheReplica",
            "Effect": "Allow",
            "Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
            "Resource": [
                a for project in projects for a in state_objects(partition, replica_bucket, project, environment)
            ],
        },
    ]


def push_role_policy(repository_arns: Sequence[str]) -> str:
    """The app repository's push role: log in to the registry, push to these repositories, nothing else."""
    return _document(
        [
            # GetAuthorizationToken has no resource: ECR only accepts "*" for it.
            {"Sid": "LogInToTheRegistry", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {"Sid": "PushTheServiceImages", "Effect": "Allow", "Action": ECR_PUSH, "Resource": list(repository_arns)},
        ]
    )


def _account_administers_key(partition: str, account: str) -> dict[str, Any]:
    # KMS's default, written down: IAM policies decide who administers the key (the administrators, the deploy
    # runner's own policy). Without it a key policy can lock everyone out for good.
    return {
        "Sid": "AccountAdministersKeyThroughIam",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }


def _only(sid: str, principals: Sequence[str], actions: Sequence[str]) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": {"AWS": sorted(principals)},
        "NotAction": list(actions),
        "Resource": "*",
    }


def s3_key_policy(*, partition: str, account: str, region: str, ci_role_arns: Sequence[str]) -> str:
    """A bucket's key: S3 in `region` uses it for any principal of the account that S3 itself lets in (the
    bucket's policy and IAM decide who reads the state, as with S3's own key), and the CI roles can do nothing
    else with it."""
    return _document(
        [
            _account_administers_key(partition, account),
            {
                "Sid": "S3UsesTheKeyForThisAccount",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": KEY_USAGE,
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:CallerAccount": account, "kms:ViaService": f"s3.{region}.amazonaws.com"}
                },
            },
            _only("CiRolesOnlyUseTheKey", ci_role_arns, KEY_USAGE),
        ]
    )


def service_key_policy(*, partition: str, account: str, ci_role_arns: Sequence[str]) -> str:
    """A key a service uses through grants it creates (ECR); the CI roles can only use it."""
    return _document(
        [_account_administers_key(partition, account), _only("CiRolesOnlyUseTheKey", ci_role_arns, KEY_USAGE)]
    )


def secrets_key_policy(
    *,
    partition: str,
    account: str,
    deploy_role_arns: Sequence[str],
    read_only_role_arns: Sequence[str],
    other_ci_role_arns: Sequence[str] = (),
) -> str:
    """The stacks' secrets key: the deploy roles encrypt and decrypt, the read-only roles (preview, drift) only
    decrypt, any other CI role does nothing, and none of them can change the key."""
    statements: list[dict[str, Any]] = [
        _account_administers_key(partition, account),
        {
            "Sid": "DeployRolesEncryptAndDecrypt",
            "Effect": "Allow",
            "Principal": {"AWS": sorted(deploy_role_arns)},
            "Action": SECRETS_ENCRYPT_DECRYPT,
            "Resource": "*",
        },
        {
            "Sid": "ReadOnlyRolesDecrypt",
            "Effect": "Allow",
            "Principal": {"AWS": sorted(read_only_role_arns)},
            "Action": SECRETS_DECRYPT,
            "Resource": "*",
        },
        # Explicit denies: PowerUserAccess and ReadOnlyAccess grant kms:* and kms:Describe*/Get*/List* through
        # IAM, which the account statement above lets count.
        _only("DeployRolesDoNothingElse", deploy_role_arns, SECRETS_ENCRYPT_DECRYPT),
        _only("ReadOnlyRolesDoNothingElse", read_only_role_arns, SECRETS_DECRYPT),
    ]
    if other_ci_role_arns:
        statements.append(
            {
                "Sid": "OtherCiRolesDoNothing",
                "Effect": "Deny",
                "Principal": {"AWS": sorted(other_ci_role_arns)},
                "Action": "kms:*",
                "Resource": "*",
            }
        )
    return _document(statements)


def state_bucket_policy(
    *,
    partition: str,
    bucket: str,
    projects: Sequence[str],
    deploy_role_arns: Mapping[str, str],
    read_only_role_arns: Sequence[str],
) -> str:
    """TLS only; each deploy role reads and writes its own environment's stacks only (PowerUserAccess would let
    it touch every stack in the bucket); read-only roles write nothing."""
    arn = bucket_arn(partition, bucket)
    statements = tls_only_statements(arn)
    for environment, role in sorted(deploy_role_arns.items()):
        own = [a for project in projects for a in state_objects(partition, bucket, project, environment)]
        sid = "".join(part.capitalize() for part in environment.split("-"))
        statements += [
            {
                "Sid": f"{sid}DeployRoleReadsOnlyItsStacks",
                "Effect": "Deny",
                "Principal": {"AWS": role},
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "NotResource": [*own, f"{arn}/.pulumi/meta.yaml"],
            },
            {
                "Sid": f"{sid}DeployRoleWritesOnlyItsStacks",
                "Effect": "Deny",
                "Principal": {"AWS": role},
                "Action": ["s3:DeleteObject", "s3:PutObject"],
                "NotResource": own,
            },
        ]
    if read_only_role_arns:
        statements.append(
            {
                "Sid": "ReadOnlyRolesWriteNothing",
                "Effect": "Deny",
                "Principal": {"AWS": sorted(read_only_role_arns)},
                "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObject"],
                "Resource": f"{arn}/*",
            }
        )
    return _document(statements)


def replica_bucket_policy(
    *,
    partition: str,
    bucket: str,
    projects: Sequence[str],
    deploy_role_arns: Mapping[str, str],
    read_only_role_arns: Sequence[str],
) -> str:
    """The DR copy: TLS only; no CI role writes or deletes an object in it (S3 replication does, and an
    administrator in a DR), and each deploy role reads only its own environment's stacks, as in the source."""
    arn = bucket_arn(partition, bucket)
    statements = tls_only_statements(arn)
    for environment, role in sorted(deploy_role_arns.items()):
        own = [a for project in projects for a in state_objects(partition, bucket, project, environment)]
        sid = "".join(part.capitalize() for part in environment.split("-"))
        statements.append(
            {
                "Sid": f"{sid}DeployRoleReadsOnlyItsStacks",
                "Effect": "Deny",
                "Principal": {"AWS": role},
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "NotResource": [*own, f"{arn}/.pulumi/meta.yaml"],
            }
        )
    writes = ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObject", "s3:PutObjectTagging"]
    dr_role = deploy_role_arns.get(REPLICA_ENVIRONMENT)
    ci_roles = sorted(r for r in [*deploy_role_arns.values(), *read_only_role_arns] if r != dr_role)
    if ci_roles:
        statements.append(
            {
                "Sid": "CiRolesWriteNothing",
                "Effect": "Deny",
                "Principal": {"AWS": ci_roles},
                "Action": writes,
                "Resource": f"{arn}/*",
            }
        )
    if dr_role is not None:
        own = [a for project in projects for a in state_objects(partition, bucket, project, REPLICA_ENVIRONMENT)]
        statements.append(
            {
                "Sid": "DrDeployRoleWritesOnlyItsStacks",
                "Effect": "Deny",
                "Principal": {"AWS": dr_role},
                "Action": writes,
                "NotResource": own,
            }
        )
    return _document(statements)


def replication_role_policy(
    *,
    source_bucket_arn: str,
    replica_bucket_arn: str,
    source_key_arn: str,
    replica_key_arn: str,
    region: str,
    dr_region: str,
) -> str:
    """What S3 needs to copy the state into the DR region (AWS's policy for replicating SSE-KMS objects). With
    S3 Bucket Keys the encryption context is the bucket's ARN, without them the object's: both are allowed."""
    return _document(
        [
            {
                "Sid": "ReadTheSourceConfiguration",
                "Effect": "Allow",
                "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                "Resource": source_bucket_arn,
            },
            {
                "Sid": "ReadTheSourceVersions",
                "Effect": "Allow",
                "Action": [
                    "s3:GetObjectVersionAcl",
                    "s3:GetObjectVersionForReplication",
                    "s3:GetObjectVersionTagging",
                ],
                "Resource": f"{source_bucket_arn}/*",
            },
            {
                "Sid": "WriteTheReplicas",
                "Effect": "Allow",
                "Action": ["s3:ReplicateDelete", "s3:ReplicateObject", "s3:ReplicateTags"],
                "Resource": f"{replica_bucket_arn}/*",
            },
            {
                "Sid": "DecryptTheSource",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": source_key_arn,
                "Condition": {
                    "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
                    "StringLike": {"kms:EncryptionContext:aws:s3:arn": [source_bucket_arn, f"{source_bucket_arn}/*"]},
                },
            },
            {
                "Sid": "EncryptTheReplicas",
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
                "Resource": replica_key_arn,
                "Condition": {
                    "StringEquals": {"kms:ViaService": f"s3.{dr_region}.amazonaws.com"},
                    "StringLike": {"kms:EncryptionContext:aws:s3:arn": [replica_bucket_arn, f"{replica_bucket_arn}/*"]},
                },
            },
        ]
    )


def repository_creation_role_policy(*, repository_pattern: str, key_arn: str) -> str:
    """The role ECR uses to create the replicas' repositories in the DR region with a customer managed key
    (AWS's documented policy for repository creation templates, scoped to these repositories and this key)."""
    return _document(
        [
            {
                "Sid": "CreateTheReplicaRepositories",
                "Effect": "Allow",
                "Action": ["ecr:CreateRepository", "ecr:ReplicateImage", "ecr:TagResource"],
                "Resource": repository_pattern,
            },
            {
                "Sid": "EncryptThemWithTheDrKey",
                "Effect": "Allow",
                "Action": ["kms:CreateGrant", "kms:DescribeKey", "kms:RetireGrant"],
                "Resource": key_arn,
            },
        ]
    )


def ecr_lifecycle_policy(*, keep_releases: int, untagged_expire_days: int) -> str:
    """Untagged images (a re-push's leftovers) expire after some days; of the tagged ones (releases: the tags
    are immutable), the newest `keep_releases` stay."""
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"untagged images expire after {untagged_expire_days} days",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": untagged_expire_days,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "description": f"keep the last {keep_releases} releases",
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPatternList": ["*"],
                        "countType": "imageCountMoreThan",
                        "countNumber": keep_releases,
                    },
                    "action": {"type": "expire"},
                },
            ]
        }
    )
