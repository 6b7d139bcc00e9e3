"""The AssetsBucket component through Pulumi mocks."""

from __future__ import annotations

import json

import pytest

from components.aws.data.assets_bucket import AssetsBucket, AssetsBucketArgs
from philosophy_infra.config.assets import AssetsEncryption
from philosophy_infra.config.base import DataProtection
from philosophy_infra.plan import Plan
from tests.conftest import run


def bucket(**overrides: object) -> Plan:
    args = AssetsBucketArgs(name_prefix="philosophy-test", **overrides)  # type: ignore[arg-type]
    return run(lambda: AssetsBucket("assets", args))


@pytest.fixture
def plan() -> Plan:
    return bucket()


def test_uses_v7_side_resources_not_inline_or_v2(plan: Plan) -> None:
    b = plan.one("aws:s3/bucket:Bucket")
    for inline in ("versioning", "lifecycleRules", "serverSideEncryptionConfiguration", "policy", "acl"):
        assert inline not in b.inputs
    assert not [r for r in plan.resources if r.type.endswith("V2")]
    assert b.inputs["forceDestroy"] is False


def test_versioning_enabled(plan: Plan) -> None:
    assert plan.one("aws:s3/bucketVersioning:BucketVersioning").inputs["versioningConfiguration"]["status"] == "Enabled"


def test_lifecycle_tiers_to_classes_the_cdn_can_serve(plan: Plan) -> None:
    lifecycle = plan.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    rules = {r["id"]: r for r in lifecycle.inputs["rules"]}
    assert all(r["status"] == "Enabled" and r["filter"] == {"prefix": ""} for r in rules.values())
    assert rules["tier-current-versions"]["transitions"] == [
        {"days": 30, "storageClass": "STANDARD_IA"},
        {"days": 90, "storageClass": "GLACIER_IR"},
    ]
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {"noncurrentDays": 90}
    assert rules["abort-incomplete-multipart-uploads"]["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}
    # Plain GLACIER objects cannot be read until restored: the CDN would serve errors.
    assert '"GLACIER"' not in json.dumps(lifecycle.inputs)
    assert plan.one("aws:s3/bucketVersioning:BucketVersioning").urn in lifecycle.dependencies


def test_public_access_fully_blocked_and_acls_disabled(plan: Plan) -> None:
    pab = plan.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(
        pab[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    ownership = plan.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def test_policy_denies_requests_without_tls(plan: Plan) -> None:
    policy = plan.one("aws:s3/bucketPolicy:BucketPolicy")
    statements = json.loads(policy.inputs["policy"])["Statement"]
    deny = [
        s
        for s in statements
        if s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool") == {"aws:SecureTransport": "false"}
    ]
    assert deny and deny[0]["Principal"] == "*" and deny[0]["Action"] == "s3:*"
    arn = plan.one("aws:s3/bucket:Bucket").inputs.get("arn") or "arn:aws:s3:::" + plan.one("aws:s3/bucket:Bucket").id  # type: ignore[operator]
    assert set(deny[0]["Resource"]) == {arn, f"{arn}/*"}
    assert plan.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").urn in policy.dependencies


def test_kms_encryption_with_bucket_key_and_rotating_key(plan: Plan) -> None:
    [rule] = plan.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").inputs[
        "rules"
    ]
    key = plan.one("aws:kms/key:Key")
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    assert rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"].startswith("arn:aws:kms:")
    assert rule["bucketKeyEnabled"] is True
    assert key.inputs["enableKeyRotation"] is True
    # The key policy is its own resource (CloudFront's grant waits for the distribution), never also the key's.
    assert "policy" not in key.inputs
    key_policy = plan.one("aws:kms/keyPolicy:KeyPolicy")
    assert key_policy.parent == key.urn and key_policy.inputs["keyId"].endswith("-key-id")  # the mocks' key id
    [statement] = json.loads(key_policy.inputs["policy"])["Statement"]  # no CDN: the account's statement only
    assert statement["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"} and statement["Action"] == "kms:*"


def test_s3_managed_encryption_needs_no_key() -> None:
    plan = bucket(encryption=AssetsEncryption.S3_MANAGED)
    [rule] = plan.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").inputs[
        "rules"
    ]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    assert plan.of_type("aws:kms/key:Key") == [] and plan.of_type("aws:kms/keyPolicy:KeyPolicy") == []


def test_protected_in_protected_mode_only(plan: Plan) -> None:
    assert plan.one("aws:s3/bucket:Bucket").protect is True
    assert plan.one("aws:kms/key:Key").protect is True
    relaxed = bucket(data_protection=DataProtection.SNAPSHOT_ONLY)
    assert relaxed.one("aws:s3/bucket:Bucket").protect is False


def test_custom_lifecycle_days_are_applied() -> None:
    plan = bucket(
        infrequent_access_after_days=45, glacier_instant_retrieval_after_days=180, noncurrent_version_expiration_days=30
    )
    rules = {
        r["id"]: r for r in plan.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    }
    assert [t["days"] for t in rules["tier-current-versions"]["transitions"]] == [45, 180]
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"]["noncurrentDays"] == 30
