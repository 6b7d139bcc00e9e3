"""What reaches the DR region continuously, outside AWS Backup's hourly copies:

- The database's automated backups, replicated by RDS (snapshots and transaction logs): point-in-time recovery in
  the DR region, minutes behind the source. An hourly snapshot copy of a large database can take longer than the
  hour it is meant to cover; this cannot.
- The assets bucket, replicated object by object into a bucket of its own in the DR region, under the DR region's
  key, with Replication Time Control: 99.99% of objects within 15 minutes, and metrics that say when not. Deletions
  replicate as delete markers, so the DR bucket keeps every version the source kept.

Both are encrypted in the DR region with a key of their own there (`<prefix>-replica`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.data.private_bucket import private_bucket_settings
from components.aws.security.encryption_key import EncryptionKey, EncryptionKeyArgs
from components.aws.security.irsa_role import service_trust_policy
from components.aws.security.policy_statements import tls_only_statements
from components.aws.security.role_limits import RoleLimits
from philosophy_infra.config.base import DataProtection

REPLICATION_MINUTES = 15
"""Replication Time Control's only threshold."""


@dataclass(frozen=True, kw_only=True)
class CrossRegionReplicationArgs:
    role_limits: RoleLimits
    name_prefix: str
    region: str
    dr_region: str
    dr_provider: pulumi.ProviderResource
    database_arn: pulumi.Input[str]
    database_backup_retention_days: int
    assets_bucket_id: pulumi.Input[str]
    assets_bucket_arn: pulumi.Input[str]
    assets_key_arn: pulumi.Input[str] | None
    """None: the assets bucket uses S3-managed keys."""
    assets_versioning: pulumi.Resource
    """Replication needs versioning on the source first."""
    noncurrent_version_expiration_days: int
    data_protection: DataProtection = DataProtection.PROTECTED


class CrossRegionReplication(pulumi.ComponentResource):
    replica_key_arn: pulumi.Output[str]
    assets_replica_bucket_name: pulumi.Output[str]
    database_replication_arn: pulumi.Output[str]
    """The replicated automated backups' ARN in the DR region: what a DR stack restores the database from."""

    def __init__(self, name: str, args: CrossRegionReplicationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:CrossRegionReplication", name, None, opts)
        protected = args.data_protection is DataProtection.PROTECTED
        in_dr = pulumi.ResourceOptions(parent=self, provider=args.dr_provider)
        key = EncryptionKey(
            f"{name}-replica-encryption",
            EncryptionKeyArgs(
                description=f"{args.name_prefix}: the DR region's replicas (database backups, assets)",
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
            opts=in_dr,
        )

        replica = aws.s3.Bucket(
            f"{name}-assets-replica",
            force_destroy=False,
            tags={"Name": f"{args.name_prefix}-assets-replica"},
            opts=pulumi.ResourceOptions.merge(in_dr, pulumi.ResourceOptions(protect=protected)),
        )
        replica_versioning = private_bucket_settings(
            f"{name}-assets-replica",
            replica,
            default_encryption={"sse_algorithm": "aws:kms", "kms_master_key_id": key.key_arn},
            policy=replica.arn.apply(
                lambda arn: json.dumps({"Version": "2012-10-17", "Statement": tls_only_statements(arn)})
            ),
            provider=args.dr_provider,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-assets-replica-lifecycle",
            bucket=replica.id,
            rules=[
                {
                    "id": "expire-noncurrent-versions",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "noncurrent_version_expiration": {"noncurrent_days": args.noncurrent_version_expiration_days},
                },
                {
                    "id": "abort-incomplete-multipart-uploads",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
                },
            ],
            opts=pulumi.ResourceOptions(parent=replica, provider=args.dr_provider, depends_on=[replica_versioning]),
        )

        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        role = aws.iam.Role(
            f"{name}-assets-replication-role",
            path=args.role_limits.path,
            permissions_boundary=args.role_limits.permissions_boundary,
            description="S3 replication of the assets bucket to the DR region",
            assume_role_policy=account.apply(lambda a: service_trust_policy("s3.amazonaws.com", a)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        region, dr_region = args.region, args.dr_region
        policy = aws.iam.RolePolicy(
            f"{name}-assets-replication-policy",
            role=role.id,
            policy=pulumi.Output.all(args.assets_bucket_arn, replica.arn, args.assets_key_arn, key.key_arn).apply(
                lambda v: replication_policy(v[0], v[1], v[2], v[3], region, dr_region)
            ),
            opts=pulumi.ResourceOptions(parent=role),
        )
        destination: aws.s3.BucketReplicationConfigRuleDestinationArgsDict = {
            "bucket": replica.arn,
            "storage_class": "STANDARD",
            "encryption_configuration": {"replica_kms_key_id": key.key_arn},
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
        if args.assets_key_arn is not None:
            rule["source_selection_criteria"] = {"sse_kms_encrypted_objects": {"status": "Enabled"}}
        aws.s3.BucketReplicationConfig(
            f"{name}-assets-replication",
            bucket=args.assets_bucket_id,
            role=role.arn,
            rules=[rule],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.assets_versioning, replica_versioning, policy]),
        )
        self.replica_key_arn = key.key_arn
        self.assets_replica_bucket_name = replica.bucket
        self.database_replication_arn = database.id
        self.register_outputs(
            {"assetsReplicaBucketName": self.assets_replica_bucket_name, "databaseReplicationArn": database.id}
        )


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
