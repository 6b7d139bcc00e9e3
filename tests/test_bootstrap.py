"""The bootstrap layer: the state bucket and its DR replica, the stacks' secrets key, GitHub's OIDC provider with
the CI roles, and the ECR repositories, planned from `bootstrap/Pulumi.shared.yaml` on a fresh mock runtime.

Expected values come from the stack file (the input) and from the policies' intent, never from the components.
The IAM checks evaluate the documents (Allow/Deny, Action/NotAction, Resource/NotResource) rather than only
looking for strings, so a statement that stops matching what it should is caught."""

from __future__ import annotations

import contextlib
import copy
import fnmatch
import io
import json
import re
import sys
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from philosophy_infra import cli
from philosophy_infra.config.base import StackConfigError
from philosophy_infra.config.bootstrap import BOOTSTRAP_NAMESPACE, BootstrapStackConfig
from philosophy_infra.config.placeholders import RunMode
from philosophy_infra.layers import ALL_LAYERS, DEPLOY_ORDER, LAYERS, LayerName
from philosophy_infra.plan import ACCOUNT_ID, RecordedResource
from philosophy_infra.project import read_stack_file
from philosophy_infra.stack_plan import StackPlan, plan_stack
from tests.conftest import ROOT, encode, stack_yaml

BOOTSTRAP = LayerName.BOOTSTRAP
STACK = "shared"
NS = BOOTSTRAP_NAMESPACE
ROLE = "aws:iam/role:Role"
KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
BUCKET = "aws:s3/bucket:Bucket"
ROLE_PATH = "/philosophy-bootstrap/"


# --- helpers ----------------------------------------------------------------------------------------------------


def bootstrap_raw() -> dict[str, Any]:
    """The shared stack's config, structured values decoded, ready to be mutated by a test."""
    config = read_stack_file(ALL_LAYERS[BOOTSTRAP].directory(ROOT), STACK).config
    return {k: json.loads(v) if v[:1] in "{[" else v for k, v in config.items()}


def plan_bootstrap(raw: dict[str, Any] | None = None) -> StackPlan:
    """The bootstrap layer alone, on a fresh mock runtime, optionally with its config map replaced."""
    configs = {BOOTSTRAP: encode(raw)} if raw is not None else None
    return plan_stack(STACK, [BOOTSTRAP], ROOT, configs)


def settings() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((ROOT / "bootstrap" / f"Pulumi.{STACK}.yaml").read_text())["config"]
    return {k.partition(":")[2] if k.startswith(f"{NS}:") else k: v for k, v in config.items()}


@pytest.fixture(scope="module")
def shared() -> StackPlan:
    return plan_bootstrap()


def doc(resource: RecordedResource, key: str = "policy") -> dict[str, Any]:
    document: dict[str, Any] = json.loads(resource.inputs[key])
    return document


def children(plan: StackPlan, parent: RecordedResource, type_token: str | None = None) -> list[RecordedResource]:
    return [r for r in plan.resources if r.parent == parent.urn and (type_token is None or r.type == type_token)]


def key_id(plan: StackPlan, key_name: str) -> str:
    """The key's id as its alias targets it (what any ARN of the key ends with)."""
    [alias] = children(plan, plan.one(KEY, key_name), ALIAS)
    return str(alias.inputs["targetKeyId"])


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _matches(patterns: str | list[str], value: str, *, case_sensitive: bool) -> bool:
    if case_sensitive:
        return any(fnmatch.fnmatchcase(value, p) for p in as_list(patterns))
    return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in as_list(patterns))


def applies(statement: dict[str, Any], action: str, resource: str, principal: str | None = None) -> bool:
    """Whether a statement covers this request (IAM wildcards; conditions are not evaluated)."""
    if "Action" in statement and not _matches(statement["Action"], action, case_sensitive=False):
        return False
    if "NotAction" in statement and _matches(statement["NotAction"], action, case_sensitive=False):
        return False
    if "Resource" in statement and not _matches(statement["Resource"], resource, case_sensitive=True):
        return False
    if "NotResource" in statement and _matches(statement["NotResource"], resource, case_sensitive=True):
        return False
    if principal is not None and "Principal" in statement:
        named = statement["Principal"]
        aws = named if named == "*" else named.get("AWS", [])
        if aws != "*" and principal not in as_list(aws):
            return False
    return True


def holds(statement: dict[str, Any], context: dict[str, str] | None) -> bool:
    """Whether a statement's conditions hold in this request context. Without a context, conditions are ignored
    (a conditioned statement counts); with one, only StringEquals is understood and anything else fails."""
    if context is None or "Condition" not in statement:
        return True
    for operator, tests in statement["Condition"].items():
        if operator != "StringEquals":
            return False
        for key, expected in tests.items():
            if key not in context or context[key] not in as_list(expected):
                return False
    return True


def denied(
    policy: dict[str, Any],
    action: str,
    resource: str,
    principal: str | None = None,
    *,
    context: dict[str, str] | None = None,
) -> bool:
    """An explicit Deny covers the request: an unconditional one, or (given a context) one whose conditions hold."""
    return any(
        s["Effect"] == "Deny"
        and ("Condition" not in s or (context is not None and holds(s, context)))
        and applies(s, action, resource, principal)
        for s in policy["Statement"]
    )


def allowed(
    policy: dict[str, Any],
    action: str,
    resource: str,
    principal: str | None = None,
    *,
    context: dict[str, str] | None = None,
) -> bool:
    """Some Allow covers the request and no Deny does (conditions evaluated only when a context is given)."""
    return not denied(policy, action, resource, principal, context=context) and any(
        s["Effect"] == "Allow" and applies(s, action, resource, principal) and holds(s, context)
        for s in policy["Statement"]
    )


def statements(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy["Statement"]}


def ci_role_arns(plan: StackPlan) -> dict[str, str]:
    outputs = plan.outputs
    return {
        "preview": outputs["previewRoleArn"],
        "drift": outputs["driftRoleArn"],
        **{f"deploy-{env}": arn for env, arn in outputs["deployRoleArns"].items()},
        "image-push": outputs["appPushRoleArn"],
    }


# --- the layer and its plan ---------------------------------------------------------------------------------------


def test_the_bootstrap_is_an_account_layer_planned_alone(shared: StackPlan) -> None:
    assert [layer.name for layer, _ in shared.layers] == [BOOTSTRAP]
    assert shared.project == "philosophy-bootstrap" and shared.stack == STACK
    assert BOOTSTRAP not in DEPLOY_ORDER and BOOTSTRAP not in LAYERS
    project = yaml.safe_load((ROOT / "bootstrap" / "Pulumi.yaml").read_text())
    assert project["name"] == "philosophy-bootstrap"
    assert project["runtime"] == {
        "name": "python",
        "options": {"toolchain": "pip", "virtualenv": "../.venv", "typechecker": "mypy"},
    }
    # It reads no other layer and creates nothing outside AWS.
    assert not shared.of_type("pulumi:pulumi:StackReference")
    assert {r.type.split(":")[0] for r in shared.resources} == {"pulumi", "philosophy", "aws"}
    for type_token in (BUCKET, KEY, "aws:iam/openIdConnectProvider:OpenIdConnectProvider", ROLE):
        assert shared.of_type(type_token), type_token
    assert len(shared.of_type("aws:ecr/repository:Repository")) == 3


def test_the_cli_plans_the_bootstrap_only_when_asked() -> None:
    def run(*args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            patch.chdir(ROOT)
            patch.setattr(sys, "path", list(sys.path))
            code = cli.main(list(args))
        return code, out.getvalue(), err.getvalue()

    code, out, err = run("plan", "--stack", STACK, "--layer", "bootstrap", "--json", "-", "--quiet")
    assert code == 0, err
    document = json.loads(out)
    assert document["project"] == "philosophy-bootstrap"
    assert [layer["name"] for layer in document["layers"]] == ["bootstrap"]
    assert "placeholder: philosophy-bootstrap:stateBucketName" in err
    # `all` is the environment layers: the bootstrap has no staging stack, and is never planned with them.
    code, _, err = run("plan", "--stack", "staging", "--layer", "bootstrap", "--quiet")
    assert code == 2 and "unknown stack 'staging'" in err and "stacks: shared" in err


def test_the_outputs_are_what_the_other_layers_and_github_need(shared: StackPlan) -> None:
    s, out = settings(), shared.outputs
    bucket = s["stateBucketName"]
    assert out["stateBucket"] == bucket and out["stateReplicaBucket"] == f"{bucket}-dr"
    assert out["stateBackendUrl"] == f"s3://{bucket}?region=eu-west-1&awssdk=v2"
    assert out["secretsProvider"] == "awskms://alias/philosophy-pulumi?region=eu-west-1"
    assert out["secretsKeyArn"].endswith(key_id(shared, "secrets-key-key"))
    assert out["imageRegistry"] == f"{ACCOUNT_ID}.dkr.ecr.eu-west-1.amazonaws.com/philosophy"
    assert out["ecrRepositoryUrls"] == {
        repo: f"{ACCOUNT_ID}.dkr.ecr.eu-west-1.amazonaws.com/philosophy/{repo}"
        for repo in ("api", "websocket", "claude-worker")
    }
    assert set(out["deployRoleArns"]) == set(s["environments"]) == {"staging", "prod", "dr"}
    roles = {r.name: r for r in shared.of_type(ROLE)}
    for env, arn in out["deployRoleArns"].items():
        assert arn.startswith(f"arn:aws:iam::{ACCOUNT_ID}:role/philosophy-bootstrap/ci-deploy-{env}-role-")
    assert out["previewRoleArn"].startswith(f"arn:aws:iam::{ACCOUNT_ID}:role/philosophy-bootstrap/ci-preview-role-")
    assert out["driftRoleArn"].startswith(f"arn:aws:iam::{ACCOUNT_ID}:role/philosophy-bootstrap/ci-drift-role-")
    assert out["appPushRoleArn"].startswith(f"arn:aws:iam::{ACCOUNT_ID}:role/philosophy-bootstrap/ci-image-push-role-")
    assert "ci-preview-role" in roles and out["oidcProviderArn"]


def test_the_environment_stacks_agree_with_the_bootstrap() -> None:
    """The environments' stack files name the bucket, the key alias and the environments the bootstrap makes. The DR
    stack runs in the DR region, from the state bucket's replica, the key's replica and ECR's replica there."""
    s = settings()
    for env in s["environments"]:
        aws = stack_yaml(env)["config"]
        region = s["drRegion"] if env == "dr" else "eu-west-1"
        assert aws["aws:region"] == region
        assert aws["philosophy-infra:environment"] == env
        bucket = s["stateBucketName"] + ("-dr" if env == "dr" else "")
        assert aws["philosophy-infra:deployRunner"]["stateBucket"] == bucket
        stack_text = (ROOT / f"Pulumi.{env}.yaml").read_text()
        assert f"awskms://alias/{s['stackKeyAlias']}?region={region}" in stack_text
        registry = stack_yaml(env, LayerName.KUBERNETES)["config"]["philosophy-kubernetes:workloads"]["imageRegistry"]
        assert re.fullmatch(rf"\d{{12}}\.dkr\.ecr\.{region}\.amazonaws\.com/{s['ecr']['namespace']}", registry)


# --- the state bucket -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bucket_name", "key_name", "region"),
    [("state-bucket", "state-key", "eu-west-1"), ("state-replica", "state-replica-key", "eu-central-1")],
)
def test_state_buckets_are_versioned_encrypted_private_and_protected(
    shared: StackPlan, bucket_name: str, key_name: str, region: str
) -> None:
    bucket = shared.one(BUCKET, bucket_name)
    name = settings()["stateBucketName"] + ("-dr" if "replica" in bucket_name else "")
    assert bucket.inputs["bucket"] == name and bucket.inputs["forceDestroy"] is False
    assert bucket.protect
    by_type = {r.type: r for r in children(shared, bucket)}
    assert by_type["aws:s3/bucketVersioning:BucketVersioning"].inputs["versioningConfiguration"] == {
        "status": "Enabled"
    }
    [rule] = by_type["aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"].inputs[
        "rules"
    ]
    assert rule["bucketKeyEnabled"] is True
    default = rule["applyServerSideEncryptionByDefault"]
    assert default["sseAlgorithm"] == "aws:kms" and default["kmsMasterKeyId"].endswith(key_id(shared, key_name))
    pab = by_type["aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"].inputs
    assert {
        k: pab[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    } == {
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    assert by_type["aws:s3/bucketOwnershipControls:BucketOwnershipControls"].inputs["rule"] == {
        "objectOwnership": "BucketOwnerEnforced"
    }
    key = shared.one(KEY, key_name)
    assert key.protect and key.retain_on_delete and key.inputs["enableKeyRotation"] is True
    key_policy = doc(key)
    [via_s3] = [s for s in key_policy["Statement"] if s["Sid"] == "S3UsesTheKeyForThisAccount"]
    assert via_s3["Condition"]["StringEquals"] == {
        "kms:CallerAccount": ACCOUNT_ID,
        "kms:ViaService": f"s3.{region}.amazonaws.com",
    }


@pytest.mark.parametrize("bucket_name", ["state-bucket", "state-replica"])
def test_state_buckets_refuse_plain_http_and_old_tls(shared: StackPlan, bucket_name: str) -> None:
    bucket = shared.one(BUCKET, bucket_name)
    [policy] = children(shared, bucket, "aws:s3/bucketPolicy:BucketPolicy")
    found = statements(doc(policy))
    arn = f"arn:aws:s3:::{bucket.inputs['bucket']}"
    insecure = found["DenyInsecureTransport"]
    assert insecure["Effect"] == "Deny" and insecure["Principal"] == "*" and insecure["Action"] == "s3:*"
    assert insecure["Resource"] == [arn, f"{arn}/*"]
    assert insecure["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert found["DenyTlsBelow12"]["Condition"] == {"NumericLessThan": {"s3:TlsVersion": "1.2"}}
    # S3 rejects a bucket policy while the public access block is still being applied.
    [pab] = children(shared, bucket, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert pab.urn in policy.dependencies


def test_state_lifecycle_expires_old_versions_and_abandoned_uploads(shared: StackPlan) -> None:
    bucket = shared.one(BUCKET, "state-bucket")
    [lifecycle] = children(shared, bucket, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    rules = {r["id"]: r for r in lifecycle.inputs["rules"]}
    assert all(r["status"] == "Enabled" for r in rules.values())
    days = settings()["stateLifecycle"]
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {
        "noncurrentDays": days["noncurrentVersionExpirationDays"]
    }
    assert rules["abort-incomplete-multipart-uploads"]["abortIncompleteMultipartUpload"] == {
        "daysAfterInitiation": days["abortIncompleteMultipartUploadDays"]
    }
    assert rules["remove-expired-delete-markers"]["expiration"] == {"expiredObjectDeleteMarker": True}
    # No rule ever expires a current version: the newest checkpoint of every stack stays.
    assert not [r for r in rules.values() if "days" in (r.get("expiration") or {})]
    [versioning] = children(shared, bucket, "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.urn in lifecycle.dependencies


def test_the_state_is_replicated_into_the_dr_region_with_a_dr_key(shared: StackPlan) -> None:
    replication = shared.one("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    source, replica = shared.one(BUCKET, "state-bucket"), shared.one(BUCKET, "state-replica")
    [rule] = replication.inputs["rules"]
    assert replication.inputs["bucket"] == source.inputs["bucket"]
    assert rule["status"] == "Enabled" and rule["filter"] == {"prefix": ""}
    assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}
    assert rule["deleteMarkerReplication"] == {"status": "Enabled"}
    destination = rule["destination"]
    assert destination["bucket"] == f"arn:aws:s3:::{replica.inputs['bucket']}"
    assert destination["encryptionConfiguration"]["replicaKmsKeyId"].endswith(key_id(shared, "state-replica-key"))
    replica_key = shared.one(KEY, "state-replica-key")
    assert replica_key.urn in replication.dependencies
    versionings = {r.urn for r in shared.of_type("aws:s3/bucketVersioning:BucketVersioning")}
    assert len(versionings) == 2 and versionings <= set(replication.dependencies)
    # The replica, its key and their settings are in the DR region: through the second provider.
    dr = shared.one("pulumi:providers:aws", "aws-dr")
    assert dr.inputs["region"] == settings()["drRegion"] == "eu-central-1"
    dr_resources = [r for r in shared.resources if r.custom and r.provider == dr.urn]
    assert {r.name for r in dr_resources} >= {
        "state-replica",
        "state-replica-key",
        "state-replica-versioning",
        "state-replica-encryption",
        "state-replica-policy",
        "ecr-dr-key",
        "ecr-replica-template",
    }
    home = shared.one("pulumi:providers:aws", "aws")
    assert home.inputs["region"] == "eu-west-1"
    assert source.provider == home.urn and replication.provider == home.urn


def test_only_s3_of_this_account_assumes_the_replication_role(shared: StackPlan) -> None:
    role = shared.one(ROLE, "state-replication-role")
    assert role.inputs["path"] == ROLE_PATH
    [trust] = doc(role, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "s3.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}
    [policy] = children(shared, role, "aws:iam/rolePolicy:RolePolicy")
    found = statements(doc(policy))
    source = f"arn:aws:s3:::{settings()['stateBucketName']}"
    replica = f"{source}-dr"
    assert found["WriteTheReplicas"]["Resource"] == f"{replica}/*"
    assert found["ReadTheSourceVersions"]["Resource"] == f"{source}/*"
    decrypt, encrypt = found["DecryptTheSource"], found["EncryptTheReplicas"]
    assert decrypt["Resource"].endswith(key_id(shared, "state-key"))
    assert encrypt["Resource"].endswith(key_id(shared, "state-replica-key"))
    assert decrypt["Condition"]["StringEquals"] == {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}
    assert encrypt["Condition"]["StringEquals"] == {"kms:ViaService": "s3.eu-central-1.amazonaws.com"}
    assert not [s for s in found.values() if s["Resource"] == "*"]


def test_each_deploy_role_reads_and_writes_only_its_environments_state(shared: StackPlan) -> None:
    [policy] = children(shared, shared.one(BUCKET, "state-bucket"), "aws:s3/bucketPolicy:BucketPolicy")
    bucket_policy = doc(policy)
    bucket = f"arn:aws:s3:::{settings()['stateBucketName']}"
    roles = ci_role_arns(shared)

    def checkpoint(env: str, project: str = "philosophy-infra") -> str:
        return f"{bucket}/.pulumi/stacks/{project}/{env}.json"

    for env, other in (("staging", "prod"), ("prod", "staging")):
        role = roles[f"deploy-{env}"]
        for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject"):
            assert not denied(bucket_policy, action, checkpoint(env), role), (env, action)
            assert denied(bucket_policy, action, checkpoint(other), role), (env, action, other)
            assert denied(bucket_policy, action, checkpoint(env, "philosophy-kubernetes"), role)
        assert not denied(
            bucket_policy, "s3:PutObject", f"{bucket}/.pulumi/locks/organization/philosophy-infra/{env}/l.json", role
        )
        assert not denied(bucket_policy, "s3:GetObject", f"{bucket}/.pulumi/meta.yaml", role)
        assert denied(bucket_policy, "s3:PutObject", f"{bucket}/.pulumi/meta.yaml", role)
    # The read-only roles read every stack and write none.
    for name in ("preview", "drift"):
        assert not denied(bucket_policy, "s3:GetObject", checkpoint("prod"), roles[name])
        assert denied(bucket_policy, "s3:PutObject", checkpoint("prod"), roles[name])


def test_the_dr_replica_keeps_environments_apart_and_no_ci_role_writes_it(shared: StackPlan) -> None:
    replica_name = f"{settings()['stateBucketName']}-dr"
    [replica] = [b for b in shared.of_type(BUCKET) if b.inputs.get("bucket") == replica_name]
    [policy] = children(shared, replica, "aws:s3/bucketPolicy:BucketPolicy")
    replica_policy = doc(policy)
    bucket = f"arn:aws:s3:::{replica_name}"
    roles = ci_role_arns(shared)
    for env, other in (("staging", "prod"), ("prod", "staging")):
        role = roles[f"deploy-{env}"]
        assert not denied(replica_policy, "s3:GetObject", f"{bucket}/.pulumi/stacks/philosophy-infra/{env}.json", role)
        assert denied(replica_policy, "s3:GetObject", f"{bucket}/.pulumi/stacks/philosophy-infra/{other}.json", role)
    for name, role in roles.items():
        if name == "image-push":
            continue
        for action in ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"):
            assert denied(replica_policy, action, f"{bucket}/.pulumi/stacks/philosophy-infra/prod.json", role), name
    # An administrator (in a DR) and S3 replication are not named: the replica stays usable.
    assert not denied(replica_policy, "s3:PutObject", f"{bucket}/x", "arn:aws:iam::123456789012:role/admin")


# --- the secrets key --------------------------------------------------------------------------------------------


def test_the_secrets_key_lets_deploy_roles_encrypt_and_decrypt_and_preview_only_decrypt(shared: StackPlan) -> None:
    key = shared.one(KEY, "secrets-key-key")
    assert key.protect and key.retain_on_delete and key.inputs["enableKeyRotation"] is True
    [alias] = children(shared, key, ALIAS)
    assert alias.inputs["name"] == f"alias/{settings()['stackKeyAlias']}"
    policy = doc(key)
    roles = ci_role_arns(shared)
    every_kms_action = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:DescribeKey",
                        "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:CreateGrant",
                        "kms:UpdateAlias"]  # fmt: skip
    expected = {
        "deploy-staging": {"kms:Encrypt", "kms:Decrypt"},
        "deploy-prod": {"kms:Encrypt", "kms:Decrypt"},
        "deploy-dr": {"kms:Encrypt", "kms:Decrypt"},
        "preview": {"kms:Decrypt"},
        "drift": {"kms:Decrypt"},
        "image-push": set(),
    }
    for name, role in roles.items():
        granted = {a for a in every_kms_action if allowed(policy, a, "*", role)}
        assert granted == expected[name], name
        # Nothing else even through IAM (PowerUserAccess has kms:*): an explicit deny covers the rest.
        assert all(denied(policy, a, "*", role) for a in every_kms_action if a not in expected[name]), name
    # The account (administrators, the deploy runner's own IAM policy) still manages and uses it through IAM.
    [account] = [s for s in policy["Statement"] if s["Sid"] == "AccountAdministersKeyThroughIam"]
    assert account["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"} and account["Action"] == "kms:*"
    # The roles exist before KMS checks the policy that names them.
    role_urns = {shared.one(ROLE, f"ci-{name}-role").urn for name in roles}
    assert role_urns <= set(key.dependencies)


def test_the_secrets_key_is_usable_in_the_dr_region(shared: StackPlan) -> None:
    """The state's replica is no use in DR if its secrets can only be decrypted in the home region."""
    key = shared.one(KEY, "secrets-key-key")
    assert key.inputs["multiRegion"] is True
    replica = shared.one("aws:kms/replicaKey:ReplicaKey", "secrets-key-replica")
    assert replica.provider == shared.one("pulumi:providers:aws", "aws-dr").urn
    assert replica.protect and replica.retain_on_delete
    assert replica.inputs["primaryKeyArn"].endswith(key_id(shared, "secrets-key-key"))
    assert doc(replica) == doc(key)
    [alias] = children(shared, replica, ALIAS)
    assert alias.inputs["name"] == f"alias/{settings()['stackKeyAlias']}" and alias.provider == replica.provider


@pytest.mark.parametrize("key_name", ["state-key", "state-replica-key", "ecr-key", "ecr-dr-key"])
def test_no_ci_role_can_administer_the_bootstraps_other_keys(shared: StackPlan, key_name: str) -> None:
    key = shared.one(KEY, key_name)
    assert key.protect
    policy = doc(key)
    for role in ci_role_arns(shared).values():
        for action in ("kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:CreateGrant"):
            assert denied(policy, action, "*", role), (key_name, action)
        assert not denied(policy, "kms:Decrypt", "*", role)


# --- the OIDC provider and the CI roles -------------------------------------------------------------------------


def test_the_github_oidc_provider_has_sts_as_its_only_audience(shared: StackPlan) -> None:
    provider = shared.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.inputs["url"] == "https://token.actions.githubusercontent.com"
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]


def test_each_ci_role_trusts_exactly_one_github_subject(shared: StackPlan) -> None:
    s = settings()
    infra, app = s["github"]["infraRepository"], s["github"]["appRepository"]
    expected = {
        "ci-preview-role": f"repo:{infra}:pull_request",
        # Scheduled runs (drift detection) run on the default branch, with no environment.
        "ci-drift-role": f"repo:{infra}:ref:refs/heads/main",
        "ci-deploy-staging-role": f"repo:{infra}:environment:staging",
        "ci-deploy-prod-role": f"repo:{infra}:environment:prod",
        "ci-deploy-dr-role": f"repo:{infra}:environment:dr",
        "ci-image-push-role": f"repo:{app}:ref:refs/heads/main",
    }
    provider = shared.outputs["oidcProviderArn"]
    for name, subject in expected.items():
        role = shared.one(ROLE, name)
        assert role.inputs["path"] == ROLE_PATH
        [statement] = doc(role, "assumeRolePolicy")["Statement"]
        assert statement == {
            "Effect": "Allow",
            "Principal": {"Federated": provider},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                    "token.actions.githubusercontent.com:sub": subject,
                }
            },
        }, name
    assert len([r for r in shared.of_type(ROLE) if r.name.startswith("ci-")]) == len(expected)


def managed(plan: StackPlan, role_name: str) -> list[str]:
    return sorted(
        r.inputs["policyArn"]
        for r in children(plan, plan.one(ROLE, role_name), "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    )


def inline(plan: StackPlan, role_name: str) -> dict[str, Any]:
    [policy] = children(plan, plan.one(ROLE, role_name), "aws:iam/rolePolicy:RolePolicy")
    return doc(policy)


def test_no_role_is_an_administrator(shared: StackPlan) -> None:
    assert managed(shared, "ci-preview-role") == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    assert managed(shared, "ci-drift-role") == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    for env in ("staging", "prod"):
        assert managed(shared, f"ci-deploy-{env}-role") == ["arn:aws:iam::aws:policy/PowerUserAccess"]
    assert managed(shared, "ci-image-push-role") == []
    attached = [r.inputs["policyArn"] for r in shared.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")]
    assert not [a for a in attached if a.endswith(("/AdministratorAccess", "/IAMFullAccess"))]


@pytest.mark.parametrize("role", ["ci-preview-role", "ci-drift-role"])
def test_the_read_only_roles_read_the_state_and_no_other_object(shared: StackPlan, role: str) -> None:
    policy = inline(shared, role)
    bucket = f"arn:aws:s3:::{settings()['stateBucketName']}"
    assert allowed(policy, "s3:GetObject", f"{bucket}/.pulumi/stacks/philosophy-infra/prod.json")
    assert allowed(policy, "s3:ListBucket", bucket)
    assert denied(policy, "s3:GetObject", "arn:aws:s3:::assets-bucket-1234/uploads/user.png")
    assert not allowed(policy, "s3:PutObject", f"{bucket}/.pulumi/stacks/philosophy-infra/prod.json")
    # The cache's AUTH token (a Pulumi-written SecretVersion, refreshed by a preview), not the hand-filled ones.
    secret = f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT_ID}:secret:"
    assert allowed(policy, "secretsmanager:GetSecretValue", f"{secret}cache-auth-1a2b3c4-AbCdEf")
    assert not allowed(policy, "secretsmanager:GetSecretValue", f"{secret}philosophy-prod/llm-api-key-AbCdEf")
    assert shared.one(ROLE, role).inputs["maxSessionDuration"] == 3600


def the_boundary(plan: StackPlan, environment: str) -> tuple[str, dict[str, Any]]:
    """An environment's boundary policy: its ARN, built from its planned path and name, and its document."""
    [policy] = [p for p in plan.of_type("aws:iam/policy:Policy") if f"-{environment}-" in p.inputs["name"]]
    return f"arn:aws:iam::{ACCOUNT_ID}:policy{policy.inputs['path']}{policy.inputs['name']}", doc(policy)


def test_deploy_roles_manage_the_aws_layers_iam_but_cannot_raise_their_own_rights(shared: StackPlan) -> None:
    iam = f"arn:aws:iam::{ACCOUNT_ID}"
    for env, other in (("staging", "prod"), ("prod", "staging")):
        boundary, _ = the_boundary(shared, env)
        other_boundary, _ = the_boundary(shared, other)
        bounded = {"iam:PermissionsBoundary": boundary}
        unbounded = {"iam:PermissionsBoundary": f"{iam}:policy/something-else"}
        layer_role = f"{iam}:role/philosophy-infra/{env}/deploy-runner-role-1234567"
        policy = inline(shared, f"ci-deploy-{env}-role")
        # The AWS layer's roles: under its path, and only with the boundary, whatever rights they are given.
        for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:PutRolePermissionsBoundary"):
            assert allowed(policy, action, layer_role, context=bounded), action
            assert not allowed(policy, action, layer_role, context=unbounded), action
            assert not allowed(policy, action, layer_role, context={"iam:PermissionsBoundary": other_boundary})
            assert not allowed(policy, action, layer_role, context={}), action
        for action in ("iam:DeleteRole", "iam:UpdateAssumeRolePolicy", "iam:TagRole"):
            assert allowed(policy, action, layer_role, context={}), action
        # A boundary, once set, stays.
        assert denied(policy, "iam:DeleteRolePermissionsBoundary", layer_role)
        # Roles outside the path (cluster.adminRoleArn's, anyone's, the other environment's, such as its
        # Kubernetes deploy role): not created, re-trusted, given rights or passed.
        for role in (
            f"{iam}:role/admin",
            f"{iam}:role/service-role/anything",
            f"{iam}:role/philosophy-infra/{other}/kubernetes-layer-deploy-1",
            f"{iam}:role/philosophy-infra/x",
        ):
            for action in ("iam:CreateRole", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy",
                           "iam:AttachRolePolicy", "iam:PassRole"):  # fmt: skip
                assert not allowed(policy, action, role, context=bounded), (action, role)
        assert allowed(policy, "iam:PassRole", layer_role, context={"iam:PassedToService": "eks.amazonaws.com"})
        assert not allowed(policy, "iam:PassRole", layer_role, context={"iam:PassedToService": "lambda.amazonaws.com"})
        # The cluster's IRSA provider, not another identity provider.
        eks_issuer = f"{iam}:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/0123ABCD"
        assert allowed(policy, "iam:CreateOpenIDConnectProvider", eks_issuer)
        assert not allowed(policy, "iam:CreateOpenIDConnectProvider", f"{iam}:oidc-provider/accounts.google.com")
        # This account's roles only, not another account's (a cross-account IAM call needs a trust anyway).
        assert not allowed(policy, "iam:CreateRole", f"arn:aws:iam::210987654321:role/philosophy-infra/{env}/x")
        # No long-lived credentials, no managed policies (a new version of the boundary would be one).
        for action in ("iam:CreateUser", "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:AttachUserPolicy"):
            assert not allowed(policy, action, f"{iam}:user/someone"), action
        for action in ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy"):
            assert denied(policy, action, boundary), action
        assert not allowed(policy, "iam:CreatePolicy", f"{iam}:policy/philosophy-infra/{env}/x")
        # The bootstrap's roles (its own included) and GitHub's provider: readable, never changed or passed.
        for role in (
            "ci-deploy-staging-role-1",
            "ci-preview-role-1",
            "ci-image-push-role-1",
            "state-replication-role-1",
        ):
            arn = f"{iam}:role{ROLE_PATH}{role}"
            for action in ("iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:DeleteRole",
                           "iam:PassRole", "iam:CreateRole", "iam:DeleteRolePermissionsBoundary"):  # fmt: skip
                assert denied(policy, action, arn), (env, action, role)
            assert not denied(policy, "iam:GetRole", arn)
        github = f"{iam}:oidc-provider/token.actions.githubusercontent.com"
        for action in ("iam:DeleteOpenIDConnectProvider", "iam:AddClientIDToOpenIDConnectProvider",
                       "iam:UpdateOpenIDConnectProviderThumbprint", "iam:TagOpenIDConnectProvider"):  # fmt: skip
            assert denied(policy, action, github), action
        assert denied(policy, "sts:AssumeRole", f"{iam}:role/anything")


@pytest.mark.parametrize(("env", "other"), [("staging", "prod"), ("prod", "staging")])
def test_the_boundary_caps_every_role_a_deploy_role_can_create(shared: StackPlan, env: str, other: str) -> None:
    _, boundary = the_boundary(shared, env)
    iam = f"arn:aws:iam::{ACCOUNT_ID}"
    bucket = f"arn:aws:s3:::{settings()['stateBucketName']}"
    # What the AWS layer's roles do with their own policies stays possible, its own state included.
    for action, resource in (
        ("s3:PutObject", "arn:aws:s3:::assets-1234/uploads/a.png"),
        ("s3:PutObject", f"{bucket}/.pulumi/stacks/philosophy-kubernetes/{env}.json"),  # its Kubernetes layer's
        ("s3:GetObject", f"{bucket}/.pulumi/stacks/philosophy-infra/{env}.json"),
        ("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT_ID}:secret:x"),
        ("kms:Decrypt", f"arn:aws:kms:eu-west-1:{ACCOUNT_ID}:key/k"),
        ("kms:CreateGrant", f"arn:aws:kms:eu-west-1:{ACCOUNT_ID}:key/k"),  # EBS volumes with a customer key
        ("ec2:CreateVolume", "*"),
        ("eks:DescribeCluster", "*"),
        ("iam:CreateServiceLinkedRole", f"{iam}:role/aws-service-role/elasticloadbalancing.amazonaws.com/x"),
        ("iam:GetRole", f"{iam}:role/x"),
    ):
        assert allowed(boundary, action, resource), action
    # No way further up: no IAM, no other role, not the organization or the account.
    for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy",
                   "iam:CreateUser", "iam:CreateAccessKey", "iam:PassRole", "iam:CreatePolicyVersion",
                   "sts:AssumeRole", "organizations:LeaveOrganization", "account:PutAlternateContact"):  # fmt: skip
        assert not allowed(boundary, action, f"{iam}:role/philosophy-infra/{env}/x"), action
    # Not the other environment's state (its secrets): neither layer's checkpoint, history, backups or locks.
    for project in ("philosophy-infra", "philosophy-kubernetes"):
        for key in (f"stacks/{project}/{other}.json", f"history/{project}/{other}/x.json",
                    f"locks/organization/{project}/{other}/l.json"):  # fmt: skip
            for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
                assert denied(boundary, action, f"{bucket}/.pulumi/{key}"), (action, key)
    # Nor the replica (S3 replication writes it), nor the bootstrap's assets, which the deploy roles may not
    # touch either.
    assert denied(boundary, "s3:PutObject", f"{bucket}-dr/.pulumi/stacks/philosophy-infra/{env}.json")
    for action in ("s3:DeleteObjectVersion", "s3:PutBucketPolicy", "s3:PutBucketVersioning"):
        assert denied(boundary, action, f"{bucket}/x" if "Object" in action else bucket), action
        assert denied(boundary, action, f"{bucket}-dr/x" if "Object" in action else f"{bucket}-dr"), action
    repository = f"arn:aws:ecr:eu-west-1:{ACCOUNT_ID}:repository/philosophy/api"
    for action in ("ecr:PutImage", "ecr:BatchDeleteImage", "ecr:PutLifecyclePolicy"):
        assert denied(boundary, action, repository), action
    for action in ("ecr:PutRegistryScanningConfiguration", "inspector2:Disable", "kms:ScheduleKeyDeletion",
                   "kms:PutKeyPolicy", "kms:DisableKey"):  # fmt: skip
        assert denied(boundary, action, "*"), action


def test_the_aws_layers_roles_carry_the_bootstraps_boundary_under_their_path(
    shared: StackPlan, prod_plan: StackPlan, staging_plan: StackPlan
) -> None:
    for env, plan in (("prod", prod_plan), ("staging", staging_plan)):
        boundary, _ = the_boundary(shared, env)
        roles = plan.of_type(ROLE)
        assert len(roles) >= 10
        for role in roles:
            assert role.inputs.get("permissionsBoundary") == boundary, role.name
            assert role.inputs.get("path") == f"/philosophy-infra/{env}/", role.name
        # pulumi-eks would create the control plane's role without either: it gets ours.
        [cluster] = plan.of_type("eks:index:Cluster")
        [service_role] = [r for r in roles if r.inputs["assumeRolePolicy"].count("eks.amazonaws.com")]
        assert service_role.urn in cluster.dependencies


def test_deploy_roles_cannot_weaken_the_state_buckets_or_touch_the_images(shared: StackPlan) -> None:
    bucket = f"arn:aws:s3:::{settings()['stateBucketName']}"
    for env in ("staging", "prod"):
        policy = inline(shared, f"ci-deploy-{env}-role")
        for target in (bucket, f"{bucket}-dr"):
            for action in ("s3:DeleteBucket", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketVersioning",
                           "s3:PutEncryptionConfiguration", "s3:PutLifecycleConfiguration",
                           "s3:PutBucketPublicAccessBlock", "s3:PutReplicationConfiguration",
                           "s3:PutBucketRequestPayment"):  # fmt: skip
                assert denied(policy, action, target), (action, target)
            assert denied(policy, "s3:DeleteObjectVersion", f"{target}/.pulumi/stacks/philosophy-infra/{env}.json")
        assert allowed(policy, "s3:PutObject", f"{bucket}/.pulumi/stacks/philosophy-infra/{env}.json")
        repository = f"arn:aws:ecr:eu-west-1:{ACCOUNT_ID}:repository/philosophy/api"
        for action in ("ecr:PutImage", "ecr:BatchDeleteImage", "ecr:DeleteRepository", "ecr:PutLifecyclePolicy",
                       "ecr:PutImageTagMutability"):  # fmt: skip
            assert denied(policy, action, repository), action
        assert denied(policy, "ecr:PutReplicationConfiguration", "*")
        assert denied(policy, "inspector2:Disable", "*") and denied(policy, "inspector2:UpdateConfiguration", "*")
        # Its session outlasts the AWS layer's longest deploy.
        assert shared.one(ROLE, f"ci-deploy-{env}-role").inputs["maxSessionDuration"] >= 2 * 3600


def test_the_push_role_pushes_the_three_images_and_nothing_else(shared: StackPlan) -> None:
    policy = inline(shared, "ci-image-push-role")
    repositories = [
        f"arn:aws:ecr:eu-west-1:{ACCOUNT_ID}:repository/philosophy/{r}" for r in ("api", "websocket", "claude-worker")
    ]
    found = statements(policy)
    assert found["LogInToTheRegistry"] == {
        "Sid": "LogInToTheRegistry",
        "Effect": "Allow",
        "Action": "ecr:GetAuthorizationToken",
        "Resource": "*",
    }
    push = found["PushTheServiceImages"]
    assert push["Resource"] == repositories
    assert set(push["Action"]) == {
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:CompleteLayerUpload",
        "ecr:InitiateLayerUpload",
        "ecr:PutImage",
        "ecr:UploadLayerPart",
    }
    assert set(found) == {"LogInToTheRegistry", "PushTheServiceImages"}
    assert not allowed(policy, "ecr:PutImage", f"arn:aws:ecr:eu-west-1:{ACCOUNT_ID}:repository/other/app")
    assert not allowed(policy, "ecr:BatchDeleteImage", repositories[0])


# --- ECR ----------------------------------------------------------------------------------------------------------


def test_repositories_are_immutable_kms_encrypted_and_protected(shared: StackPlan) -> None:
    repositories = {r.inputs["name"]: r for r in shared.of_type("aws:ecr/repository:Repository")}
    assert set(repositories) == {"philosophy/api", "philosophy/websocket", "philosophy/claude-worker"}
    ecr_key = key_id(shared, "ecr-key")
    for repository in repositories.values():
        assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
        [encryption] = repository.inputs["encryptionConfigurations"]
        assert encryption["encryptionType"] == "KMS" and encryption["kmsKey"].endswith(ecr_key)
        assert repository.inputs["forceDelete"] is False and repository.protect
        # Enhanced scanning (the stack's choice) supersedes scan-on-push.
        assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": False}
    # The whole registry, in both regions: other repositories and the DR replicas are scanned too.
    scanning = shared.of_type("aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration")
    dr = shared.one("pulumi:providers:aws", "aws-dr").urn
    assert sorted(r.provider == dr for r in scanning) == [False, True]
    for configuration in scanning:
        assert configuration.inputs["scanType"] == "ENHANCED"
        assert configuration.inputs["rules"] == [
            {"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}]}
        ]


def test_the_lifecycle_expires_untagged_images_and_keeps_the_last_releases(shared: StackPlan) -> None:
    ecr = settings()["ecr"]
    policies = shared.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    assert sorted(p.inputs["repository"] for p in policies) == sorted(f"philosophy/{r}" for r in ecr["repositories"])
    for policy in policies:
        rules = sorted(json.loads(policy.inputs["policy"])["rules"], key=lambda r: r["rulePriority"])
        untagged, releases = rules
        assert untagged["selection"] == {
            "tagStatus": "untagged",
            "countType": "sinceImagePushed",
            "countUnit": "days",
            "countNumber": ecr["untaggedExpireDays"],
        }
        assert releases["selection"] == {
            "tagStatus": "tagged",
            "tagPatternList": ["*"],
            "countType": "imageCountMoreThan",
            "countNumber": ecr["keepReleases"],
        }
        assert untagged["action"] == releases["action"] == {"type": "expire"}


def test_images_are_replicated_to_the_dr_region_with_the_same_settings(shared: StackPlan) -> None:
    replication = shared.one("aws:ecr/replicationConfiguration:ReplicationConfiguration")
    assert replication.inputs["replicationConfiguration"] == {
        "rules": [
            {
                "destinations": [{"region": "eu-central-1", "registryId": ACCOUNT_ID}],
                "repositoryFilters": [{"filter": "philosophy", "filterType": "PREFIX_MATCH"}],
            }
        ]
    }
    template = shared.one("aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate")
    assert template.urn in replication.dependencies
    assert template.provider == shared.one("pulumi:providers:aws", "aws-dr").urn
    assert template.inputs["prefix"] == "philosophy" and template.inputs["appliedFors"] == ["REPLICATION"]
    assert template.inputs["imageTagMutability"] == "IMMUTABLE"
    [encryption] = template.inputs["encryptionConfigurations"]
    assert encryption["encryptionType"] == "KMS" and encryption["kmsKey"].endswith(key_id(shared, "ecr-dr-key"))
    [lifecycle] = shared.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")[:1]
    assert template.inputs["lifecyclePolicy"] == lifecycle.inputs["policy"]
    role = shared.one(ROLE, "ecr-replica-creation-role")
    assert role.urn in template.dependencies
    replica_role = f"arn:aws:iam::{ACCOUNT_ID}:role/philosophy-bootstrap/ecr-replica-creation-role-"
    assert template.inputs["customRoleArn"].startswith(replica_role)
    [trust] = doc(role, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "ecr.amazonaws.com"}
    found = statements(inline(shared, "ecr-replica-creation-role"))
    assert found["EncryptThemWithTheDrKey"]["Resource"].endswith(key_id(shared, "ecr-dr-key"))
    assert found["CreateTheReplicaRepositories"]["Resource"] == (
        f"arn:aws:ecr:eu-central-1:{ACCOUNT_ID}:repository/philosophy/*"
    )


def test_basic_scanning_scans_each_push_and_leaves_the_registry_alone() -> None:
    raw = bootstrap_raw()
    raw[f"{NS}:ecr"]["scanning"] = "basic"
    plan = plan_bootstrap(raw)
    assert not plan.of_type("aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration")
    repositories = plan.of_type("aws:ecr/repository:Repository")
    assert repositories and all(r.inputs["imageScanningConfiguration"] == {"scanOnPush": True} for r in repositories)


def test_snapshot_only_lifts_protect_but_nothing_else() -> None:
    raw = bootstrap_raw()
    raw[f"{NS}:dataProtection"] = "snapshotOnly"
    plan = plan_bootstrap(raw)
    assert not [r.name for r in plan.resources if r.protect]
    assert plan.one(BUCKET, "state-bucket").inputs["forceDestroy"] is False
    assert all(r.inputs["forceDelete"] is False for r in plan.of_type("aws:ecr/repository:Repository"))


def test_a_third_environment_gets_its_own_deploy_role() -> None:
    raw = bootstrap_raw()
    raw[f"{NS}:environments"] = ["staging", "prod", "perf-test"]
    plan = plan_bootstrap(raw)
    assert set(plan.outputs["deployRoleArns"]) == {"staging", "prod", "perf-test"}
    [statement] = doc(plan.one(ROLE, "ci-deploy-perf-test-role"), "assumeRolePolicy")["Statement"]
    assert statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == (
        "repo:example-org/philosophy-infra:environment:perf-test"
    )
    [policy] = children(plan, plan.one(BUCKET, "state-bucket"), "aws:s3/bucketPolicy:BucketPolicy")
    assert "PerfTestDeployRoleWritesOnlyItsStacks" in statements(doc(policy))


# --- config -------------------------------------------------------------------------------------------------------


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        raw[f"{NS}:{key}"] = value

    return mutate


def _set_in(section: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        raw[f"{NS}:{section}"][key] = value

    return mutate


# case -> (mutation, the key named (below the namespace), a fragment of the rule)
INVALID: dict[str, tuple[Callable[[dict[str, Any]], None], str, str]] = {
    "dr region is the home region": (_set("drRegion", "eu-west-1"), "drRegion", "must differ from aws:region"),
    "dr region unknown": (_set("drRegion", "eu-north-9"), "drRegion", "not a region this program knows"),
    "dr region malformed": (_set("drRegion", "Frankfurt"), "drRegion", "must be an AWS region name"),
    "environment name format": (_set("environments", ["staging", "Prod"]), "environments[1]", "environment stack"),
    "environment listed twice": (_set("environments", ["prod", "prod"]), "environments[1]", "listed twice"),
    "no environment": (_set("environments", []), "environments", "at least 1"),
    "bucket uppercase": (_set("stateBucketName", "Philosophy_State"), "stateBucketName", "S3 bucket name"),
    "bucket with dots": (_set("stateBucketName", "philosophy.state"), "stateBucketName", "no '.'"),
    "bucket an ip address": (_set("stateBucketName", "192.168.10.1"), "stateBucketName", "IP address"),
    "bucket reserved prefix": (_set("stateBucketName", "xn--state"), "stateBucketName", "reserved"),
    "bucket too long for its replica": (_set("stateBucketName", "a" * 62), "stateBucketName", "at most 60"),
    "repository without owner": (_set_in("github", "infraRepository", "infra"), "github.infraRepository", "owner/name"),
    "repository with bad owner": (_set_in("github", "appRepository", "-acme/app"), "github.appRepository", "owner/"),
    "repository named dot-dot": (_set_in("github", "appRepository", "acme/.."), "github.appRepository", "owner/name"),
    "github owner field": (_set_in("github", "owner", "acme"), "github.owner", "unknown key"),
    "ecr repository uppercase": (_set_in("ecr", "repositories", ["API"]), "ecr.repositories[0]", "lowercase"),
    "ecr repository twice": (_set_in("ecr", "repositories", ["api", "api"]), "ecr.repositories[1]", "listed twice"),
    "ecr scanning unknown": (_set_in("ecr", "scanning", "deep"), "ecr.scanning", "'basic' or 'enhanced'"),
    "ecr keep no release": (_set_in("ecr", "keepReleases", 0), "ecr.keepReleases", "greater than or equal to 1"),
    "alias under aws/": (_set("stackKeyAlias", "aws/pulumi"), "stackKeyAlias", "not under aws/"),
    "unknown key": (_set("stateBucket", "x"), "stateBucket", "unknown key"),
    "region set in the namespace": (_set("region", "eu-west-1"), "region", "read from aws:region"),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_config_is_refused_naming_the_key_before_anything_is_registered(case: str) -> None:
    mutate, key, fragment = INVALID[case]
    raw = copy.deepcopy(bootstrap_raw())
    mutate(raw)
    with pytest.raises(StackConfigError) as info:
        plan_bootstrap(raw)
    message = str(info.value)
    assert re.search(rf"^  - {re.escape(f'{NS}:{key}')}( |$)", message, re.M), message
    assert fragment in message, message
    registered = info.value.registered_resources  # type: ignore[attr-defined]
    assert [r.type for r in registered] == ["pulumi:pulumi:Stack"]


def test_every_problem_is_reported_at_once() -> None:
    raw = bootstrap_raw()
    raw[f"{NS}:drRegion"] = "eu-west-1"
    raw[f"{NS}:stateBucketName"] = "Bad_Bucket"
    raw[f"{NS}:github"]["appRepository"] = "nope"
    with pytest.raises(StackConfigError) as info:
        BootstrapStackConfig.from_raw(STACK, encode(raw))
    assert {issue.full_key for issue in info.value.issues} == {
        f"{NS}:drRegion",
        f"{NS}:stateBucketName",
        f"{NS}:github.appRepository",
    }


def test_placeholders_warn_offline_and_are_refused_by_a_real_update(
    shared: StackPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = {f"{NS}:github.infraRepository", f"{NS}:github.appRepository", f"{NS}:stateBucketName"}
    warned = "\n".join(shared.warnings)
    for key in keys:
        assert f"placeholder: {key} = " in warned, key
    monkeypatch.setattr("philosophy_infra.config.bootstrap.run_mode", lambda: RunMode.UPDATE)
    with pytest.raises(StackConfigError) as info:
        plan_bootstrap()
    assert {issue.full_key for issue in info.value.issues} == keys
    assert [r.type for r in info.value.registered_resources] == ["pulumi:pulumi:Stack"]  # type: ignore[attr-defined]


def test_real_values_plan_without_a_warning() -> None:
    raw = bootstrap_raw()
    raw[f"{NS}:stateBucketName"] = "acme-pulumi-state-210987654321"
    raw[f"{NS}:github"] = {"infraRepository": "acme/philosophy-infra", "appRepository": "acme/philosophy-app"}
    plan = plan_bootstrap(raw)
    assert plan.warnings == []
    assert plan.outputs["stateBackendUrl"] == "s3://acme-pulumi-state-210987654321?region=eu-west-1&awssdk=v2"


def test_pulumi_yaml_documents_every_top_level_key_and_matches_defaults() -> None:
    text = (ROOT / "bootstrap" / "Pulumi.yaml").read_text()
    declared = yaml.safe_load(text).get("config") or {}
    for name, field in BootstrapStackConfig.model_fields.items():
        if name == "region":
            continue
        alias = field.alias or name
        assert alias in declared or re.search(rf"^\s*#\s+{alias}:", text, re.M), f"{alias} undocumented"
        if alias in declared and "default" in declared[alias]:
            assert declared[alias]["default"] == str(field.default), alias


def test_the_account_owns_the_rds_os_metrics_log_group_with_a_retention_and_a_key(shared: StackPlan) -> None:
    """RDS enhanced monitoring would create RDSOSMetrics itself, keeping metrics forever without our key; both
    environments write to it, so the account's bootstrap owns it."""
    [group] = [g for g in shared.of_type("aws:cloudwatch/logGroup:LogGroup") if g.inputs["name"] == "RDSOSMetrics"]
    assert group.inputs["retentionInDays"] == 30
    assert group.inputs["kmsKeyId"].endswith("-id") or group.inputs["kmsKeyId"].startswith("arn:aws:kms:")
    raw = bootstrap_raw()
    raw[f"{NS}:rdsOsMetricsRetentionDays"] = 31
    with pytest.raises(StackConfigError) as info:
        plan_bootstrap(raw)
    assert f"{NS}:rdsOsMetricsRetentionDays" in str(info.value)


def test_the_account_owns_the_service_linked_roles_its_environments_share(shared: StackPlan) -> None:
    """OpenSearch Service refuses to create a VPC domain through the API until its service-linked role exists;
    both environments need it, so the account's bootstrap owns it."""
    roles = {r.inputs["awsServiceName"] for r in shared.of_type("aws:iam/serviceLinkedRole:ServiceLinkedRole")}
    assert roles == {"opensearchservice.amazonaws.com"}


def test_the_dr_environment_writes_its_own_stacks_in_the_replica_and_nothing_else(shared: StackPlan) -> None:
    """The DR stack runs when the home region, and its state bucket, are lost: its state lives in the replica, where
    its deploy role (and the roles its AWS layer creates, such as its Kubernetes deploy role) write its stacks and
    nothing else; every other CI role still writes nothing there."""
    replica_name = f"{settings()['stateBucketName']}-dr"
    [replica] = [b for b in shared.of_type(BUCKET) if b.inputs.get("bucket") == replica_name]
    [bucket_policy] = children(shared, replica, "aws:s3/bucketPolicy:BucketPolicy")
    replica_policy, bucket = doc(bucket_policy), f"arn:aws:s3:::{replica_name}"
    roles = ci_role_arns(shared)
    # The deploy role runs the AWS layer; the Kubernetes layer runs as a role that layer creates (below).
    own = [f"{bucket}/.pulumi/stacks/philosophy-infra/dr.json", f"{bucket}/.pulumi/history/philosophy-infra/dr/x"]
    prods = f"{bucket}/.pulumi/stacks/philosophy-infra/prod.json"
    dr_policy = inline(shared, "ci-deploy-dr-role")
    for stack in own:
        assert not denied(replica_policy, "s3:PutObject", stack, roles["deploy-dr"]), stack
        assert allowed(dr_policy, "s3:PutObject", stack), stack
        for name in ("deploy-prod", "deploy-staging", "preview", "drift"):
            assert denied(replica_policy, "s3:PutObject", stack, roles[name]), (name, stack)
    assert denied(replica_policy, "s3:PutObject", prods, roles["deploy-dr"])
    assert not allowed(dr_policy, "s3:PutObject", prods)
    # The roles the environments' AWS layers create: the DR environment's reach its stacks in the replica too.
    _, dr_boundary = the_boundary(shared, "dr")
    _, prod_boundary = the_boundary(shared, "prod")
    kubernetes_state = f"{bucket}/.pulumi/stacks/philosophy-kubernetes/dr.json"
    assert not denied(dr_boundary, "s3:PutObject", kubernetes_state)
    assert denied(dr_boundary, "s3:PutObject", prods)
    assert denied(prod_boundary, "s3:PutObject", f"{bucket}/.pulumi/stacks/philosophy-infra/prod.json")
    # The other deploy roles' own policies name no replica object.
    assert not allowed(inline(shared, "ci-deploy-prod-role"), "s3:PutObject", prods)
