"""What reaches the DR region continuously, outside AWS Backup's hourly copies:

- The database's automated backups, replicated by RDS (snapshots and transaction logs): point-in-time recovery in
  the DR region, minutes behind the source. An hourly snapshot copy of a large database can take longer than the
  hour it is meant to cover; this cannot.
- Buckets (the assets; Enterprise's Neo4j backups), replicated object by object into a bucket of their own in the
  DR region, under the DR region's key, with Replication Time Control: 99.99% of objects within 15 minutes, and
  metrics that say when not. Deletions replicate as delete markers, so a replica keeps every version its source
  kept.

All are encrypted in the DR region with a key of their own there (`<prefix>-replica`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.data.private_bucket import housekeeping_rules, private_bucket_settings, tls_only_policy
from components.aws.security.encryption_key import EncryptionKey, EncryptionKeyArgs
from components.aws.security.irsa_role import service_trust_policy
from components.aws.security.role_limits import RoleLimits
from philosophy_infra.config.base import DataProtection

REPLICATION_MINUTES = 15
"""Replication Time Control's only threshold."""


@dataclass(frozen=True, kw_only=True)
class ReplicatedBucket:
    suffix: str
    """Names the replica and its resources: `<component>-<suffix>-replica`."""
    bucket_id: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str] | None
    """The source's customer key; None: S3-managed keys."""
    versioning: pulumi.Resource
    """Replication needs versioning on the source first."""
    noncurrent_days: int
    """The replica keeps noncurrent versions as long as the source does."""


@dataclass(frozen=True, kw_only=True)
class CrossRegionReplicationArgs:
    role_limits: RoleLimits
    name_prefix: str
    region: str
    dr_region: str
    dr_provider: pulumi.ProviderResource
    database_arn: pulumi.Input[str]
    database_backup_retention_days: int
    buckets: Sequence[ReplicatedBucket]
    data_protection: DataProtection = DataProtection.PROTECTED


class CrossRegionReplication(pulumi.ComponentResource):
    replica_key_arn: pulumi.Output[str]
    """What the replicated database backups are encrypted with: a DR stack's restored instance keeps it."""
    replica_bucket_names: dict[str, pulumi.Output[str]]
    """By the source's suffix."""
    database_replication_arn: pulumi.Output[str]
    """The replicated automated backups' ARN in the DR region: what a DR stack restores the database from."""

    def __init__(self, name: str, args: CrossRegionReplicationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:CrossRegionReplication", name, None, opts)
        key = EncryptionKey(
            f"{name}-replica-encryption",
            EncryptionKeyArgs(
                description=f"{args.name_prefix}: the DR region's replicas (database backups, buckets)",
                alias=f"{args.name_prefix}-replica",
                data_protection=args.data_protection,
            ),
            opts=pulumi.ResourceOptions(parent=self, providers={"aws": args.dr_provider}),
        )
        database = aws.rds.InstanceAutomatedBackupsReplication(
            f"{name}-database-backups",
            source_db_instance_arn=args.database_arn,
            kms_key_id=key.key_arn,
            retention_period=args.database_backup_retention_days,
            opts=pulumi.ResourceOptions(parent=self, provider=args.dr_provider),
        )
        self.replica_bucket_names = {
            source.suffix: self._replicate(name, args, source, key.key_arn) for source in args.buckets
        }
        self.replica_key_arn = key.key_arn
        self.database_replication_arn = database.id
        self.register_outputs({"replicaBucketNames": self.replica_bucket_names, "databaseReplicationArn": database.id})

    def _replicate(
        self, name: str, args: CrossRegionReplicationArgs, source: ReplicatedBucket, key_arn: pulumi.Output[str]
    ) -> pulumi.Output[str]:
        """The replica bucket in the DR region, the role S3 replicates as, and the source's replication rule."""
        protected = args.data_protection is DataProtection.PROTECTED
        replica_name = f"{name}-{source.suffix}-replica"
        replica = aws.s3.Bucket(
            replica_name,
            force_destroy=False,
            tags={"Name": f"{args.name_prefix}-{source.suffix}-replica"},
            opts=pulumi.ResourceOptions(parent=self, provider=args.dr_provider, protect=protected),
        )
        replica_versioning = private_bucket_settings(
            replica_name,
            replica,
            default_encryption={"sse_algorithm": "aws:kms", "kms_master_key_id": key_arn},
            policy=replica.arn.apply(tls_only_policy),
            provider=args.dr_provider,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{replica_name}-lifecycle",
            bucket=replica.id,
            rules=housekeeping_rules(noncurrent_days=source.noncurrent_days, abort_multipart_days=7),
            opts=pulumi.ResourceOptions(parent=replica, provider=args.dr_provider, depends_on=[replica_versioning]),
        )
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        role = aws.iam.Role(
            f"{name}-{source.suffix}-replication-role",
            path=args.role_limits.path,
            permissions_boundary=args.role_limits.permissions_boundary,
            description=f"S3 replication of the {source.suffix} bucket to the DR region",
            assume_role_policy=account.apply(lambda a: service_trust_policy("s3.amazonaws.com", a)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        region, dr_region = args.region, args.dr_region
        policy = aws.iam.RolePolicy(
            f"{name}-{source.suffix}-replication-policy",
            role=role.id,
            policy=pulumi.Output.all(source.bucket_arn, replica.arn, source.key_arn, key_arn).apply(
                lambda v: replication_policy(v[0], v[1], v[2], v[3], region, dr_region)
            ),
            opts=pulumi.ResourceOptions(parent=role),
        )
        destination: aws.s3.BucketReplicationConfigRuleDestinationArgsDict = {
            "bucket": replica.arn,
            "storage_class": "STANDARD",
            "encryption_configuration": {"replica_kms_key_id": key_arn},
            "replication_time": {"status": "Enabled", "time": {"minutes": REPLICATION_MINUTES}},
            "metrics": {"status": "Enabled", "event_threshold": {"minutes": REPLICATION_MINUTES}},
        }
        rule: aws.s3.BucketReplicationConfigRuleArgsDict = {
            "id": "dr",
            "status": "Enabled",
            "priority": 1,
            "filter": {},
            "delete_marker_replication": {"status": "Enabled"},
            "destination": destination,
        }
        if source.key_arn is not None:
            rule["source_selection_criteria"] = {"sse_kms_encrypted_objects": {"status": "Enabled"}}
        aws.s3.BucketReplicationConfig(
            f"{name}-{source.suffix}-replication",
            bucket=source.bucket_id,
            role=role.arn,
            rules=[rule],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[source.versioning, replica_versioning, policy]),
        )
        return replica.bucket


def replication_policy(
    source_arn: str, replica_arn: str, source_key_arn: str | None, replica_key_arn: str, region: str, dr_region: str
) -> str:
    """Read the source's versions (and decrypt them through S3 in its region), write the replica's (encrypting
    through S3 in the DR region): nothing else."""
    statements: list[dict[str, object]] = [
        {
            "Sid": "ReadTheSourcesConfiguration",
            "Effect": "Allow",
            "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
            "Resource": source_arn,
        },
        {
            "Sid": "ReadTheSourcesVersions",
            "Effect": "Allow",
            "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"],
            "Resource": f"{source_arn}/*",
        },
        {
            "Sid": "WriteTheReplica",
            "Effect": "Allow",
            "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
            "Resource": f"{replica_arn}/*",
        },
        {
            "Sid": "EncryptTheReplica",
            "Effect": "Allow",
            "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
            "Resource": replica_key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{dr_region}.amazonaws.com"}},
        },
    ]
    if source_key_arn:
        statements.append(
            {
                "Sid": "DecryptTheSource",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": source_key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})
