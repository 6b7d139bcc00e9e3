"""The Pulumi state backend of every stack in the account: an S3 bucket that keeps every version of every
checkpoint, encrypted with its own key, reachable over TLS only, and replicated into the DR region (the state
is what you need to rebuild anything there)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.data.private_bucket import private_bucket_settings
from components.aws.security.irsa_role import service_trust_policy
from components.bootstrap.policies import (
    ROLE_PATH,
    replica_bucket_policy,
    replication_role_policy,
    s3_key_policy,
    state_bucket_policy,
)
from philosophy_infra.config.base import DataProtection


@dataclass(frozen=True, kw_only=True)
class StateBackendArgs:
    bucket_name: str
    """Fixed: `pulumi login s3://<bucket_name>` and every layer's config name it."""
    replica_bucket_name: str
    key_alias: str
    """Without `alias/`; the replica's key gets `<key_alias>-dr`."""
    region: str
    dr_region: str
    dr_provider: pulumi.ProviderResource
    """An AWS provider for `dr_region`: the replica, its key and their settings are created through it."""
    projects: Sequence[str]
    """The Pulumi projects whose stacks the deploy roles deploy (each only its own environment's stack)."""
    deploy_role_arns: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Environment name -> its deploy role."""
    read_only_role_arns: Sequence[pulumi.Input[str]] = field(default_factory=tuple)
    ci_role_arns: Sequence[pulumi.Input[str]] = field(default_factory=tuple)
    """Every CI role: each may use the buckets' keys (through S3) and do nothing else with them."""
    noncurrent_version_expiration_days: int = 90
    abort_incomplete_multipart_upload_days: int = 7
    data_protection: DataProtection = DataProtection.PROTECTED


class StateBackend(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    replica_bucket_name: pulumi.Output[str]
    replica_bucket_arn: pulumi.Output[str]
    replica_key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: StateBackendArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:StateBackend", name, None, opts)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        self._account = aws.get_caller_identity_output(opts=invoke).account_id
        self._partition = aws.get_partition_output(opts=invoke).partition
        self._args = args
        protected = args.data_protection is DataProtection.PROTECTED
        ci_roles = pulumi.Output.all(*args.ci_role_arns)

        deploy_envs = sorted(args.deploy_role_arns)

        def bucket_policy_of(bucket_name: str, policy: Any) -> pulumi.Output[str]:
            return pulumi.Output.all(
                self._partition,
                pulumi.Output.all(*(args.deploy_role_arns[e] for e in deploy_envs)),
                pulumi.Output.all(*args.read_only_role_arns),
            ).apply(
                lambda v: policy(
                    partition=v[0],
                    bucket=bucket_name,
                    projects=args.projects,
                    deploy_role_arns=dict(zip(deploy_envs, v[1], strict=True)),
                    read_only_role_arns=v[2],
                )
            )

        bucket_policy = bucket_policy_of(args.bucket_name, state_bucket_policy)
        key = self._key(f"{name}-key", args.key_alias, args.region, ci_roles, pulumi.ResourceOptions(parent=self))
        bucket, versioning = self._bucket(
            f"{name}-bucket",
            args.bucket_name,
            key,
            bucket_policy,
            pulumi.ResourceOptions(parent=self, protect=protected),
        )
        # The DR half: everything through the DR region's provider.
        in_dr = pulumi.ResourceOptions(parent=self, provider=args.dr_provider)
        replica_key = self._key(f"{name}-replica-key", f"{args.key_alias}-dr", args.dr_region, ci_roles, in_dr)
        replica, replica_versioning = self._bucket(
            f"{name}-replica",
            args.replica_bucket_name,
            replica_key,
            bucket_policy_of(args.replica_bucket_name, replica_bucket_policy),
            pulumi.ResourceOptions.merge(in_dr, pulumi.ResourceOptions(protect=protected)),
        )

        role = aws.iam.Role(
            f"{name}-replication-role",
            description=f"S3 replication of {args.bucket_name} into {args.replica_bucket_name} ({args.dr_region})",
            path=ROLE_PATH,
            assume_role_policy=self._account.apply(lambda a: service_trust_policy("s3.amazonaws.com", a)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-replication-policy",
            role=role.id,
            policy=pulumi.Output.all(bucket.arn, replica.arn, key.arn, replica_key.arn).apply(
                lambda v: replication_role_policy(
                    source_bucket_arn=v[0],
                    replica_bucket_arn=v[1],
                    source_key_arn=v[2],
                    replica_key_arn=v[3],
                    region=args.region,
                    dr_region=args.dr_region,
                )
            ),
            opts=pulumi.ResourceOptions(parent=role),
        )
        aws.s3.BucketReplicationConfig(
            f"{name}-replication",
            bucket=bucket.id,
            role=role.arn,
            rules=[
                {
                    "id": "state-to-dr-region",
                    "status": "Enabled",
                    "priority": 1,
                    "filter": {"prefix": ""},
                    # A removed stack or lock is removed in the replica too; the versions behind the delete
                    # marker stay in both buckets (S3 never replicates a permanent version delete).
                    "delete_marker_replication": {"status": "Enabled"},
                    # Without this, S3 skips SSE-KMS objects: here, every object.
                    "source_selection_criteria": {"sse_kms_encrypted_objects": {"status": "Enabled"}},
                    "destination": {
                        "bucket": replica.arn,
                        "storage_class": "STANDARD",
                        "encryption_configuration": {"replica_kms_key_id": replica_key.arn},
                    },
                }
            ],
            # S3 refuses replication until both buckets are versioned, and checks the role's rights.
            opts=pulumi.ResourceOptions(parent=bucket, depends_on=[versioning, replica_versioning, role_policy]),
        )

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.key_arn = key.arn
        self.replica_bucket_name = replica.bucket
        self.replica_bucket_arn = replica.arn
        self.replica_key_arn = replica_key.arn
        self.register_outputs(
            {
                "bucketName": self.bucket_name,
                "bucketArn": self.bucket_arn,
                "keyArn": self.key_arn,
                "replicaBucketName": self.replica_bucket_name,
                "replicaBucketArn": self.replica_bucket_arn,
                "replicaKeyArn": self.replica_key_arn,
            }
        )

    def _key(
        self,
        resource_name: str,
        alias: str,
        region: str,
        ci_roles: pulumi.Output[list[str]],
        opts: pulumi.ResourceOptions,
    ) -> aws.kms.Key:
        protected = self._args.data_protection is DataProtection.PROTECTED
        key = aws.kms.Key(
            resource_name,
            description=f"Pulumi state bucket encryption ({region})",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(self._partition, self._account, ci_roles).apply(
                lambda v: s3_key_policy(partition=v[0], account=v[1], region=region, ci_role_arns=v[2])
            ),
            # Every version of every checkpoint is unreadable without it.
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=protected, retain_on_delete=True)),
        )
        aws.kms.Alias(
            f"{resource_name}-alias",
            name=f"alias/{alias}",
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=key)),
        )
        return key

    def _bucket(
        self,
        resource_name: str,
        bucket_name: str,
        key: aws.kms.Key,
        policy: pulumi.Input[str],
        opts: pulumi.ResourceOptions,
    ) -> tuple[aws.s3.Bucket, aws.s3.BucketVersioning]:
        """A private, versioned, SSE-KMS bucket with the state's lifecycle; `opts` carries the region's provider."""
        args = self._args
        bucket = aws.s3.Bucket(resource_name, bucket=bucket_name, force_destroy=False, opts=opts)
        versioning = private_bucket_settings(
            resource_name,
            bucket,
            default_encryption={"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn},
            policy=policy,
            provider=opts.provider,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{resource_name}-lifecycle",
            bucket=bucket.id,
            rules=[
                {
                    # Every update writes a new checkpoint version; the old ones are the undo history.
                    "id": "expire-noncurrent-versions",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "noncurrent_version_expiration": {"noncurrent_days": args.noncurrent_version_expiration_days},
                },
                {
                    "id": "remove-expired-delete-markers",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "expiration": {"expired_object_delete_marker": True},
                },
                {
                    "id": "abort-incomplete-multipart-uploads",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "abort_incomplete_multipart_upload": {
                        "days_after_initiation": args.abort_incomplete_multipart_upload_days
                    },
                },
            ],
            # Noncurrent-version rules only make sense once versioning is on.
            opts=pulumi.ResourceOptions(parent=bucket, provider=opts.provider, depends_on=[versioning]),
        )
        return bucket, versioning
