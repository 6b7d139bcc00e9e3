"""The S3 bucket for the service's uploads and static files: private, encrypted, versioned, tiered."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.data.private_bucket import DefaultEncryption, private_bucket_settings
from components.aws.security.encryption_key import account_key_policy
from components.aws.security.policy_statements import tls_only_statements
from philosophy_infra.config.assets import AssetsEncryption
from philosophy_infra.config.base import DataProtection


@dataclass(frozen=True, kw_only=True)
class AssetsBucketArgs:
    name_prefix: str
    encryption: AssetsEncryption = AssetsEncryption.KMS
    infrequent_access_after_days: int = 30
    glacier_instant_retrieval_after_days: int = 90
    """GLACIER_IR, not GLACIER: the CDN must still be able to read these objects without a restore."""
    noncurrent_version_expiration_days: int = 90
    abort_incomplete_multipart_upload_days: int = 7
    data_protection: DataProtection = DataProtection.PROTECTED


class AssetsBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str] | None

    def __init__(self, name: str, args: AssetsBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:AssetsBucket", name, None, opts)
        protected = args.data_protection is DataProtection.PROTECTED

        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            force_destroy=False,
            tags={"Name": f"{args.name_prefix}-assets"},
            opts=pulumi.ResourceOptions(parent=self, protect=protected),
        )
        self.kms_key_arn = None
        default_encryption: DefaultEncryption = {"sse_algorithm": "AES256"}
        if args.encryption is AssetsEncryption.KMS:
            key = self._kms_key(name, args)
            self.kms_key_arn = key.arn
            default_encryption = {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn}
        versioning = private_bucket_settings(
            name, bucket, default_encryption=default_encryption, policy=bucket.arn.apply(_tls_only_policy)
        )

        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                {
                    "id": "tier-current-versions",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "transitions": [
                        {"days": args.infrequent_access_after_days, "storage_class": "STANDARD_IA"},
                        {"days": args.glacier_instant_retrieval_after_days, "storage_class": "GLACIER_IR"},
                    ],
                },
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
                    "abort_incomplete_multipart_upload": {
                        "days_after_initiation": args.abort_incomplete_multipart_upload_days
                    },
                },
            ],
            # Noncurrent-version rules only make sense once versioning is on.
            opts=pulumi.ResourceOptions(parent=bucket, depends_on=[versioning]),
        )

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.register_outputs({"bucketName": self.bucket_name, "bucketArn": self.bucket_arn})

    def _kms_key(self, name: str, args: AssetsBucketArgs) -> aws.kms.Key:
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        key = aws.kms.Key(
            f"{name}-key",
            description=f"{args.name_prefix} assets bucket encryption",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(partition, account).apply(lambda pa: account_key_policy(pa[0], pa[1])),
            opts=pulumi.ResourceOptions(parent=self, protect=args.data_protection is DataProtection.PROTECTED),
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=f"alias/{args.name_prefix}-assets",
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=key),
        )
        return key


def _tls_only_policy(bucket_arn: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": tls_only_statements(bucket_arn)})
