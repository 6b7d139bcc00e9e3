"""The S3 bucket for the service's uploads and static files: private, encrypted, versioned, tiered.

CloudFront reads it through origin access control: the bucket policy lets `cloudfront.amazonaws.com` get objects, and
the key policy lets it decrypt them, only on behalf of the one distribution (`AWS:SourceArn`). That distribution needs
the bucket first (its origin is the bucket's regional name), so its ARN reaches this component late, through
`cdn_distribution_arn`; the two policies, and nothing else here, wait for it.

- The bucket policy has one owner, this component (S3 keeps one policy per bucket: a second resource writing it
  would overwrite the first, and deleting either would delete both). It always denies requests without TLS.
- The key policy is an `aws.kms.KeyPolicy`, not the key's `policy` argument: the key exists (with AWS's default
  policy, the same account statement) long before the distribution, and the data it guards does not wait for the
  CDN. The key sets no `policy=`, or the two resources would fight.
- CloudFront gets `s3:GetObject` only, not `s3:ListBucket`: with it, a request for `/` on the default (bucket)
  behaviour would return the listing of every upload's key. A missing object is therefore a 403 from S3, not a 404.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws.data.private_bucket import DefaultEncryption, private_bucket_settings
from components.aws.recovery.cross_region import ReplicatedBucket
from components.aws.security.encryption_key import account_key_policy
from components.aws.security.policy_statements import tls_only_statements
from philosophy_infra.config.assets import AssetsEncryption
from philosophy_infra.config.base import DataProtection

CLOUDFRONT_PRINCIPAL = "cloudfront.amazonaws.com"


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
    backup_tags: Mapping[str, str] = field(default_factory=dict)
    """Tags AWS Backup selects the bucket by (continuous backup: point-in-time recovery)."""
    cdn_distribution_arn: pulumi.Input[str] | None = None
    """The CloudFront distribution that reads the bucket; None: no CDN reads it. The distribution is built after
    the bucket, so pass a `pulumi.deferred_output()` and resolve it with the Cdn's `distribution_arn` (always: an
    unresolved one leaves the bucket and key policies waiting forever)."""


class AssetsBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    bucket_regional_domain_name: pulumi.Output[str]
    """`<bucket>.s3.<region>.amazonaws.com`: CloudFront's origin (the regional name avoids a redirect after
    creation)."""
    kms_key_arn: pulumi.Output[str] | None
    """None when the bucket uses S3-managed keys."""
    replication_source: ReplicatedBucket
    """What replicating the bucket to the DR region needs to know of it (CrossRegionReplication)."""

    def __init__(self, name: str, args: AssetsBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:AssetsBucket", name, None, opts)
        protected = args.data_protection is DataProtection.PROTECTED

        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            force_destroy=False,
            tags={"Name": f"{args.name_prefix}-assets", **args.backup_tags},
            opts=pulumi.ResourceOptions(parent=self, protect=protected),
        )
        self.kms_key_arn = None
        default_encryption: DefaultEncryption = {"sse_algorithm": "AES256"}
        if args.encryption is AssetsEncryption.KMS:
            key = self._kms_key(name, args)
            self.kms_key_arn = key.arn
            default_encryption = {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn}
        policy = pulumi.Output.all(bucket.arn, args.cdn_distribution_arn).apply(
            lambda bd: assets_bucket_policy(bd[0], bd[1])
        )
        versioning = private_bucket_settings(name, bucket, default_encryption=default_encryption, policy=policy)
        self.replication_source = ReplicatedBucket(
            suffix="assets",
            bucket_id=bucket.id,
            bucket_arn=bucket.arn,
            key_arn=self.kms_key_arn,
            versioning=versioning,
            noncurrent_days=args.noncurrent_version_expiration_days,
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
        self.bucket_regional_domain_name = bucket.bucket_regional_domain_name
        self.register_outputs(
            {
                "bucketName": self.bucket_name,
                "bucketArn": self.bucket_arn,
                "bucketRegionalDomainName": self.bucket_regional_domain_name,
            }
        )

    def _kms_key(self, name: str, args: AssetsBucketArgs) -> aws.kms.Key:
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        key = aws.kms.Key(
            f"{name}-key",
            description=f"{args.name_prefix} assets bucket encryption",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            # No `policy=`: the KeyPolicy below owns it.
            opts=pulumi.ResourceOptions(parent=self, protect=args.data_protection is DataProtection.PROTECTED),
        )
        aws.kms.KeyPolicy(
            f"{name}-key-policy",
            key_id=key.key_id,
            policy=pulumi.Output.all(partition, account, args.cdn_distribution_arn).apply(
                lambda pad: assets_key_policy(pad[0], pad[1], pad[2])
            ),
            opts=pulumi.ResourceOptions(parent=key),
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=f"alias/{args.name_prefix}-assets",
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=key),
        )
        return key


# Where the service keeps its users' uploads in the bucket (its contract with the api image).
UPLOADS_PREFIX = "uploads/"


def assets_bucket_policy(bucket_arn: str, distribution_arn: str | None) -> str:
    """TLS only (1.2 and up), and the distribution, if any, reads objects through origin access control."""
    statements = tls_only_statements(bucket_arn)
    if distribution_arn is not None:
        statements.append(
            {
                "Sid": "CloudFrontReadsObjects",
                "Effect": "Allow",
                "Principal": {"Service": CLOUDFRONT_PRINCIPAL},
                "Action": "s3:GetObject",
                "Resource": f"{bucket_arn}/*",
                "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
            }
        )
        # The service's users' uploads share the bucket: never served, whatever path asks for them.
        statements.append(
            {
                "Sid": "UploadsAreNotServed",
                "Effect": "Deny",
                "Principal": {"Service": CLOUDFRONT_PRINCIPAL},
                "Action": "s3:GetObject",
                "Resource": f"{bucket_arn}/{UPLOADS_PREFIX}*",
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def assets_key_policy(partition: str, account: str, distribution_arn: str | None) -> str:
    """The account's statement (IAM decides, as for every key here), and the distribution, if any, decrypts the
    objects it reads (the bucket key's data keys): decrypt only, CloudFront writes nothing."""
    document = json.loads(account_key_policy(partition, account))
    if distribution_arn is not None:
        document["Statement"].append(
            {
                "Sid": "CloudFrontDecryptsObjects",
                "Effect": "Allow",
                "Principal": {"Service": CLOUDFRONT_PRINCIPAL},
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
            }
        )
    return json.dumps(document)
