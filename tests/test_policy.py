"""The policy pack (policy/): every policy fires on a resource that breaks it and stays silent on the real stacks;
the offline plan (`plan --policy`) and the real pack run one implementation."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import io
import json
import re
import subprocess
import sys
from collections.abc import Sequence
from importlib.metadata import requires
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE, unknown_checking_proxy

from components.aws.security import role_limits
from philosophy_infra import cli, policy_check
from philosophy_infra.plan import SECRET, UNKNOWN, Plan, RecordedResource
from tests.conftest import ROOT, stack_plan, stack_yaml

PACK = ROOT / "policy"
guardrails = policy_check.load_guardrails(ROOT)


def resource(
    type_: str,
    inputs: dict[str, Any],
    *,
    name: str = "r",
    protect: bool = False,
    dependencies: Sequence[str] = (),
) -> RecordedResource:
    return RecordedResource(
        urn=f"urn:pulumi:test::test::{type_}::{name}",
        type=type_,
        name=name,
        custom=True,
        parent=None,
        dependencies=list(dependencies),
        protect=protect,
        retain_on_delete=False,
        delete_before_replace=False,
        ignore_changes=[],
        provider=None,
        inputs=inputs,
    )


def violations(*resources: RecordedResource, config: dict[str, Any] | None = None) -> list[policy_check.Violation]:
    return policy_check.evaluate([list(resources)], policy_check.load_pack(ROOT), config or {})


def bucket_with(*sides: tuple[str, dict[str, Any]], protect: bool = False) -> list[RecordedResource]:
    bucket = resource("aws:s3/bucket:Bucket", {"forceDestroy": False}, name="bucket", protect=protect)
    return [bucket] + [
        resource(type_, {"bucket": "bucket-1234", **inputs}, name=f"side-{i}", dependencies=[bucket.urn])
        for i, (type_, inputs) in enumerate(sides)
    ]


TLS_DENY = {
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": ["arn:aws:s3:::bucket-1234", "arn:aws:s3:::bucket-1234/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
KMS_DEFAULT = {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "k"}}]}
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ALL_BLOCKED = dict.fromkeys(("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True)
RESTRICTED_CONTAINER: dict[str, Any] = {
    "name": "app",
    "image": "registry.example.com/app:1.0.0",
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    },
}


def deployment(*containers: dict[str, Any], annotations: dict[str, str] | None = None, **pod: Any) -> RecordedResource:
    spec = {"containers": list(containers), **pod}
    metadata: dict[str, Any] = {"name": "web", "annotations": annotations or {}}
    return resource(
        "kubernetes:apps/v1:Deployment", {"metadata": metadata, "spec": {"template": {"spec": spec}}}, name="web"
    )


def namespace(labels: dict[str, str], annotations: dict[str, str] | None = None) -> RecordedResource:
    metadata = {"name": "ns", "labels": labels, "annotations": annotations or {}}
    return resource("kubernetes:core/v1:Namespace", {"metadata": metadata}, name="ns")


# Each policy, with resources that break it (every offending value is set explicitly) and what it says.
BROKEN: dict[str, tuple[list[RecordedResource], str]] = {
    "iam-role-bounded": (
        [
            resource(
                "aws:iam/role:Role",
                {
                    "path": "/philosophy-infra/prod/",
                    "permissionsBoundary": "arn:aws:iam::123456789012:policy/AdministratorAccess",
                },
            ),
            resource("eks:index:Cluster", {"serviceRole": None, "skipDefaultNodeGroup": False}, name="eks"),
        ],
        "permissionsBoundary is",
    ),
    "sns-topic-encrypted": ([resource("aws:sns/topic:Topic", {"kmsMasterKeyId": ""})], "kmsMasterKeyId is unset"),
    "database-not-public": (
        [resource("aws:rds/instance:Instance", {"publiclyAccessible": True, "storageEncrypted": True})],
        "publiclyAccessible is true",
    ),
    "database-encrypted-at-rest": (
        [resource("aws:rds/instance:Instance", {"publiclyAccessible": False, "storageEncrypted": False})],
        "storageEncrypted is not true",
    ),
    "database-tls-required": (
        [
            resource(
                "aws:rds/parameterGroup:ParameterGroup",
                {"family": "postgres17", "parameters": [{"name": "rds.force_ssl", "value": "0"}]},
            )
        ],
        "rds.force_ssl = '0'",
    ),
    "cache-encrypted-at-rest": (
        [resource("aws:elasticache/replicationGroup:ReplicationGroup", {"atRestEncryptionEnabled": False})],
        "atRestEncryptionEnabled is not true",
    ),
    "cache-encrypted-in-transit": (
        [
            resource(
                "aws:elasticache/replicationGroup:ReplicationGroup",
                {"transitEncryptionEnabled": True, "transitEncryptionMode": "preferred"},
            )
        ],
        "transitEncryptionMode is 'preferred'",
    ),
    "no-ingress-from-anywhere": (
        [resource("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", {"cidrIpv4": "0.0.0.0/0"})],
        "cidrIpv4 is 0.0.0.0/0",
    ),
    "eks-endpoint-private": (
        [
            resource(
                "eks:index:Cluster",
                {"endpointPrivateAccess": True, "endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]},
            )
        ],
        "the public endpoint is open to 0.0.0.0/0",
    ),
    "eks-secrets-encrypted": (
        [resource("eks:index:Cluster", {"encryptionConfigKeyArn": "", "endpointPrivateAccess": True})],
        "encryptionConfigKeyArn is unset",
    ),
    "imdsv2-hop-limit-1": (
        [
            resource(
                "aws:ec2/launchTemplate:LaunchTemplate",
                {"metadataOptions": {"httpTokens": "optional", "httpPutResponseHopLimit": 2}},
            )
        ],
        "httpPutResponseHopLimit is 2",
    ),
    "ebs-volumes-encrypted": (
        [
            resource(
                "aws:ec2/launchTemplate:LaunchTemplate",
                {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "false"}}]},
            )
        ],
        "block device /dev/xvda is not encrypted",
    ),
    "ebs-storage-class-encrypted": (
        [
            resource(
                "kubernetes:storage.k8s.io/v1:StorageClass",
                {"provisioner": "ebs.csi.aws.com", "parameters": {"type": "gp3", "encrypted": "false"}},
            )
        ],
        "parameters.encrypted is not 'true'",
    ),
    "log-group-encrypted": (
        [resource("aws:cloudwatch/logGroup:LogGroup", {"name": "/x", "kmsKeyId": ""})],
        "kmsKeyId is unset",
    ),
    "secret-encrypted-with-own-key": (
        [resource("aws:secretsmanager/secret:Secret", {"name": "x", "kmsKeyId": ""})],
        "aws/secretsmanager",
    ),
    "kms-key-rotation": (
        [resource("aws:kms/key:Key", {"enableKeyRotation": False})],
        "enableKeyRotation is not true",
    ),
    "cloudfront-no-origin-access-identity": (
        [
            resource(
                "aws:cloudfront/distribution:Distribution",
                {
                    "origins": [
                        {
                            "originId": "assets",
                            "s3OriginConfig": {"originAccessIdentity": "origin-access-identity/cloudfront/E1"},
                        }
                    ]
                },
            )
        ],
        "origin 'assets' uses an origin access identity",
    ),
    "cloudfront-https-only": (
        [
            resource(
                "aws:cloudfront/distribution:Distribution",
                {
                    "defaultCacheBehavior": {"viewerProtocolPolicy": "allow-all"},
                    "viewerCertificate": {"acmCertificateArn": "arn:cert", "minimumProtocolVersion": "TLSv1"},
                    "origins": [{"originId": "api", "customOriginConfig": {"originProtocolPolicy": "http-only"}}],
                },
            )
        ],
        "viewerProtocolPolicy is 'allow-all'",
    ),
    "cloudfront-waf-attached": (
        [resource("aws:cloudfront/distribution:Distribution", {"webAclId": ""})],
        "no web ACL",
    ),
    # In a protected stack (the default config): an ACM certificate with the 2021 policy, which admits CBC.
    "cloudfront-tls-minimum": (
        [
            resource(
                "aws:cloudfront/distribution:Distribution",
                {"viewerCertificate": {"acmCertificateArn": "arn:cert", "minimumProtocolVersion": "TLSv1.2_2021"}},
            )
        ],
        "'TLSv1.2_2021', not one of",
    ),
    "load-balancer-internal": (
        [resource("aws:lb/loadBalancer:LoadBalancer", {"internal": False, "dropInvalidHeaderFields": False})],
        "internal is not true",
    ),
    "k8s-image-pinned": ([deployment({**RESTRICTED_CONTAINER, "image": "nginx:latest"})], ":latest"),
    "k8s-pod-security-restricted": (
        [deployment({**RESTRICTED_CONTAINER, "securityContext": {"readOnlyRootFilesystem": True}})],
        "containers[app]: allowPrivilegeEscalation is not false",
    ),
    "k8s-read-only-root-filesystem": (
        [
            deployment(
                {
                    **RESTRICTED_CONTAINER,
                    "securityContext": {**RESTRICTED_CONTAINER["securityContext"], "readOnlyRootFilesystem": False},
                }
            )
        ],
        "readOnlyRootFilesystem is not true",
    ),
    "k8s-namespace-pod-security": (
        [namespace({"pod-security.kubernetes.io/enforce": "baseline"})],
        "is 'baseline', not 'restricted'",
    ),
    "s3-bucket-tls-only": (
        bucket_with(
            (
                "aws:s3/bucketPolicy:BucketPolicy",
                {"policy": json.dumps({"Statement": [{**TLS_DENY, "Effect": "Allow"}]})},
            ),
            (ENCRYPTION, KMS_DEFAULT),
            (PUBLIC_ACCESS_BLOCK, ALL_BLOCKED),
        ),
        "no bucket policy denies requests without TLS",
    ),
    "s3-bucket-encrypted": (
        bucket_with(
            ("aws:s3/bucketPolicy:BucketPolicy", {"policy": json.dumps({"Statement": [TLS_DENY]})}),
            (ENCRYPTION, {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]}),
            (PUBLIC_ACCESS_BLOCK, ALL_BLOCKED),
        ),
        "aws:kms without kmsMasterKeyId",
    ),
    "s3-bucket-public-access-blocked": (
        bucket_with(
            ("aws:s3/bucketPolicy:BucketPolicy", {"policy": json.dumps({"Statement": [TLS_DENY]})}),
            (ENCRYPTION, KMS_DEFAULT),
            (PUBLIC_ACCESS_BLOCK, {**ALL_BLOCKED, "blockPublicPolicy": False}),
        ),
        "not on: blockPublicPolicy",
    ),
    "stateful-resources-protected": (
        [resource("aws:rds/instance:Instance", {"deletionProtection": True, "storageEncrypted": True})],
        "`protect` is off",
    ),
}


def test_every_policy_has_a_broken_case() -> None:
    assert sorted(BROKEN) == sorted(p.name for p in guardrails.ALL_POLICIES)


@pytest.mark.parametrize("policy", sorted(BROKEN))
def test_policy_fires_on_a_resource_that_breaks_it(policy: str) -> None:
    resources, message = BROKEN[policy]
    found = [v for v in violations(*resources) if v.policy == policy]
    assert found, f"{policy} did not fire"
    assert any(message in v.message for v in found), [v.message for v in found]
    level = EnforcementLevel.ADVISORY if policy in guardrails.ADVISORY_REASONS else EnforcementLevel.MANDATORY
    assert {v.level for v in found} == {level.value}


@pytest.mark.parametrize("marker", [UNKNOWN, SECRET])
@pytest.mark.parametrize("policy", sorted(set(BROKEN) - {"stateful-resources-protected", "cloudfront-tls-minimum"}))
def test_unknown_or_secret_values_never_violate(policy: str, marker: str) -> None:
    """In a preview (or for a value the offline plan masks) the check that needs the value is skipped."""
    resources, _ = BROKEN[policy]
    masked = [
        resource(r.type, {k: marker for k in r.inputs} if r.type != "aws:s3/bucket:Bucket" else r.inputs, name=r.name)
        for r in resources
    ]
    for side, original in zip(masked, resources, strict=True):
        side.dependencies = original.dependencies
    assert [v for v in violations(*masked) if v.policy == policy] == []


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_the_real_stacks_break_no_policy(request: pytest.FixtureRequest, stack: str) -> None:
    assert policy_check.evaluate_plan(stack_plan(request, stack)) == []


def test_protected_stack_comes_from_data_protection(prod_plan: Plan, staging_plan: Plan) -> None:
    both = ("stateful-resources-protected", "cloudfront-tls-minimum")
    assert policy_check.stack_config(prod_plan) == {name: {"protectedStack": True} for name in both}
    assert policy_check.stack_config(staging_plan) == {name: {"protectedStack": False} for name in both}
    # Staging keeps its data with snapshots only, so as a protected stack it would break the policy.
    as_protected = policy_check.evaluate_plan(
        staging_plan, config={"stateful-resources-protected": {"protectedStack": True}}
    )
    assert {v.type for v in as_protected} >= {
        "aws:rds/instance:Instance",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "aws:s3/bucket:Bucket",
        "aws:kms/key:Key",
        "eks:index:Cluster",
    }


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_pack_config_files_match_the_stacks(request: pytest.FixtureRequest, stack: str) -> None:
    """`pulumi preview --policy-pack policy --policy-pack-config policy/config/<stack>.json` gets what the
    offline plan derives from the stack's dataProtection."""
    config = json.loads((PACK / "config" / f"{stack}.json").read_text())
    assert config == policy_check.stack_config(stack_plan(request, stack))
    protection = stack_yaml(stack)["config"].get("philosophy-infra:dataProtection", "protected")
    assert config["stateful-resources-protected"]["protectedStack"] == (protection == "protected")


# --- Near misses: what the policies must let through -------------------------------------------------------


@pytest.mark.parametrize(
    "resources",
    [
        pytest.param([resource("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", {"cidrIpv4": "0.0.0.0/0"})]),
        pytest.param(
            [resource("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", {"cidrIpv4": "10.0.0.0/8"})]
        ),
        pytest.param(
            [
                resource(
                    "eks:index:Cluster",
                    {
                        "endpointPrivateAccess": True,
                        "endpointPublicAccess": True,
                        "publicAccessCidrs": ["203.0.113.0/24"],
                        "encryptionConfigKeyArn": "arn:key",
                        "serviceRole": "urn:pulumi:prod::p::aws:iam/role:Role::r",
                        "skipDefaultNodeGroup": True,
                    },
                )
            ],
            id="public-endpoint-for-listed-networks",
        ),
        pytest.param([deployment({**RESTRICTED_CONTAINER, "image": "nginx@sha256:" + "0" * 64})], id="digest"),
        pytest.param([resource("aws:iam/role:Role", {"path": "/philosophy-bootstrap/"})], id="bootstrap-role"),
        pytest.param(
            [
                resource(
                    "aws:iam/role:Role",
                    {
                        "path": "/philosophy-infra/prod/",
                        "permissionsBoundary": "arn:aws:iam::123456789012:policy/philosophy-bootstrap/"
                        "philosophy-infra-prod-boundary",
                    },
                )
            ],
            id="bounded-role",
        ),
        pytest.param(
            [
                deployment(
                    {
                        "name": "exporter",
                        "image": "node-exporter:1.9.1",
                        "securityContext": {"readOnlyRootFilesystem": True},
                    },
                    annotations={guardrails.EXEMPTION_ANNOTATION: "reads host metrics through hostPID, by design"},
                    hostPID=True,
                )
            ],
            id="exempted-workload",
        ),
        pytest.param(
            [
                namespace(
                    {"pod-security.kubernetes.io/enforce": "privileged"},
                    {guardrails.EXEMPTION_ANNOTATION: "istio-cni's node agent needs host networking to set up pods"},
                )
            ],
            id="exempted-namespace",
        ),
        pytest.param(
            [
                resource(
                    "eks:index:Cluster",
                    {
                        "deletionProtection": True,
                        "encryptionConfigKeyArn": "k",
                        "endpointPrivateAccess": True,
                        "endpointPublicAccess": False,
                        "serviceRole": "urn:pulumi:prod::p::aws:iam/role:Role::r",
                        "skipDefaultNodeGroup": True,
                    },
                )
            ],
            id="eks-deletion-protection",
        ),
        pytest.param(
            [resource("aws:kms/key:Key", {"keySpec": "RSA_2048", "enableKeyRotation": False}, protect=True)],
            id="asymmetric-key",
        ),
        pytest.param(
            bucket_with(
                ("aws:s3/bucketPolicy:BucketPolicy", {"policy": json.dumps({"Statement": [TLS_DENY]})}),
                (ENCRYPTION, {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}),
                (PUBLIC_ACCESS_BLOCK, ALL_BLOCKED),
                protect=True,
            ),
            id="sse-s3-bucket",
        ),
    ],
)
def test_near_misses_pass(resources: list[RecordedResource]) -> None:
    found = violations(*resources)
    assert found == []


def test_an_exemption_needs_a_written_reason() -> None:
    found = violations(
        namespace({"pod-security.kubernetes.io/enforce": "privileged"}, {guardrails.EXEMPTION_ANNOTATION: "istio"})
    )
    assert [v.policy for v in found] == ["k8s-namespace-pod-security"]
    assert "needs a written reason" in found[0].message


def test_stateful_resources_may_go_in_snapshot_only_stacks() -> None:
    unprotected = BROKEN["stateful-resources-protected"][0]
    assert violations(*unprotected, config={"stateful-resources-protected": {"protectedStack": False}}) == []


# --- The pack: one implementation behind both entry points -----------------------------------------------------


def test_every_policy_is_documented_and_mandatory_unless_a_reason_is_written() -> None:
    names = [p.name for p in guardrails.ALL_POLICIES]
    assert len(names) == len(set(names))
    for policy in guardrails.ALL_POLICIES:
        assert policy.description and policy.remediation_steps, policy.name
        if policy.enforcement_level is EnforcementLevel.ADVISORY:
            assert len(guardrails.ADVISORY_REASONS[policy.name].split()) >= 10, policy.name
        else:
            assert policy.enforcement_level is EnforcementLevel.MANDATORY, policy.name
    assert set(guardrails.ADVISORY_REASONS) <= set(names)
    with pytest.raises(ValueError, match="written reason"):
        guardrails.resource_policy("x", "d", remediation="r", types=(), advisory_reason="because")


def test_main_only_builds_the_pack_from_the_guardrails() -> None:
    tree = ast.parse((PACK / "__main__.py").read_text())
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    assert len(calls) == 1
    (call,) = calls
    assert isinstance(call.func, ast.Name) and call.func.id == "PolicyPack" and not call.args
    keywords = {k.arg: k.value for k in call.keywords}
    assert set(keywords) == {"name", "enforcement_level", "policies"}
    assert ast.literal_eval(keywords["name"]) == guardrails.PACK_NAME == "philosophy-guardrails"
    assert ast.unparse(keywords["enforcement_level"]) == "EnforcementLevel.MANDATORY"
    assert ast.unparse(keywords["policies"]) == "ALL_POLICIES"
    imports = {(n.module, a.name) for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
    assert imports == {
        ("guardrails", "ALL_POLICIES"),
        ("pulumi_policy", "EnforcementLevel"),
        ("pulumi_policy", "PolicyPack"),
    }
    statements = [n for n in tree.body if not isinstance(n, ast.ImportFrom)]
    assert [type(n) for n in statements] == [ast.Expr, ast.Expr]  # the docstring, then PolicyPack(...)


def test_the_offline_check_runs_the_packs_own_policies() -> None:
    pack = policy_check.load_pack(ROOT)
    assert Path(str(guardrails.__file__)).resolve() == (PACK / "guardrails.py").resolve()
    assert pack.policies == guardrails.ALL_POLICIES and pack.name == guardrails.PACK_NAME
    assert pack.version == yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text())["version"]


def test_guardrails_import_only_the_sdk_and_have_no_side_effects() -> None:
    tree = ast.parse((PACK / "guardrails.py").read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names} | {
        n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
    }
    assert {m.partition(".")[0] for m in imported} <= set(sys.stdlib_module_names) | {"pulumi_policy"}
    code = "import threading, guardrails; assert threading.active_count() == 1; print(len(guardrails.ALL_POLICIES))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PACK, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout == f"{len(guardrails.ALL_POLICIES)}\n"  # nothing else printed (no server port)


def test_pack_files() -> None:
    project = yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text())
    assert project["runtime"] == {"name": "python", "options": {"virtualenv": "venv"}} and project["description"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"])
    pins = _lock_blocks(PACK / "requirements.txt")
    dev = _lock_blocks(ROOT / "requirements-dev.txt")
    assert pins["pulumi-policy"][0] == "1.21.0" and pins["pulumi"][0] == dev["pulumi"][0]
    # The same versions and hashes as the dev lock, and every dependency there (pip --require-hashes needs all).
    assert {name: dev[name] for name in pins} == pins
    assert set(pins) == _closure("pulumi-policy")


def _lock_blocks(path: Path) -> dict[str, tuple[str, frozenset[str]]]:
    text = path.read_text()
    blocks = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)((?: \\\n    --hash=sha256:[0-9a-f]+)+)", text, re.MULTILINE)
    return {_norm(n): (v, frozenset(re.findall(r"sha256:([0-9a-f]+)", h))) for n, v, h in blocks}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(package: str) -> set[str]:
    seen: set[str] = set()
    todo = [package]
    while todo:
        name = _norm(todo.pop())
        if name not in seen:
            seen.add(name)
            todo += [
                re.split(r"[^A-Za-z0-9_.-]", r, maxsplit=1)[0] for r in requires(name) or [] if "extra ==" not in r
            ]
    return seen


# --- pulumi-policy's own entry points, as the engine and the SDK's tests drive them ---------------------------


def _options(protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def _run_policy(policy: Any, args: Any) -> list[str]:
    """pulumi-policy's `run_policy` (sdk/python/lib/test/test_policy.py)."""
    reported: list[str] = []
    result = policy.validate(args, lambda message, urn=None: reported.append(message))
    if asyncio.iscoroutine(result):
        loop = asyncio.new_event_loop()
        loop.run_until_complete(result)
        loop.close()
    return reported


def test_resource_policies_take_the_engines_arguments_and_unknowns() -> None:
    def args(props: dict[str, Any]) -> ResourceValidationArgs:
        return ResourceValidationArgs(
            "aws:rds/instance:Instance", unknown_checking_proxy(props), "urn:db", "db", _options(), None
        )

    policy = next(p for p in guardrails.ALL_POLICIES if p.name == "database-not-public")
    assert _run_policy(policy, args({"publiclyAccessible": True})) == [
        "publiclyAccessible is true: the instance gets a public address and DNS name"
    ]
    # A preview's unknown: the proxy would raise on access; the policy skips the check instead.
    assert _run_policy(policy, args({"publiclyAccessible": UNKNOWN_BOOLEAN_VALUE})) == []


def test_stack_policies_match_buckets_by_the_engines_property_dependencies() -> None:
    """A real run hands stack policies outputs and property dependencies, which the offline plan lacks."""

    def policy_resource(type_: str, name: str, props: dict[str, Any]) -> PolicyResource:
        return PolicyResource(
            type_, unknown_checking_proxy(props), f"urn:{name}", name, _options(True), None, None, [], {}
        )

    bucket = policy_resource("aws:s3/bucket:Bucket", "assets", {"bucket": "assets-1", "arn": "arn:aws:s3:::assets-1"})
    other = policy_resource("aws:s3/bucket:Bucket", "logs", {"bucket": "logs-1", "arn": "arn:aws:s3:::logs-1"})
    document = {"Statement": [{**TLS_DENY, "Resource": ["arn:aws:s3:::assets-1", "arn:aws:s3:::assets-1/*"]}]}
    bucket_policy = policy_resource(
        "aws:s3/bucketPolicy:BucketPolicy", "p", {"bucket": "assets-1", "policy": json.dumps(document)}
    )
    bucket_policy.property_dependencies = {"bucket": [bucket]}
    policy = next(p for p in guardrails.ALL_POLICIES if p.name == "s3-bucket-tls-only")
    reported: list[tuple[str, str | None]] = []
    policy.validate(StackValidationArgs([bucket, other, bucket_policy]), lambda m, urn=None: reported.append((m, urn)))
    assert reported == [("no bucket policy denies requests without TLS (aws:SecureTransport = false)", "urn:logs")]
    # Unknown during a preview: nothing to say yet.
    unknown_policy = policy_resource(
        "aws:s3/bucketPolicy:BucketPolicy", "q", {"bucket": "logs-1", "policy": UNKNOWN_STRING_VALUE}
    )
    reported.clear()
    policy.validate(StackValidationArgs([other, unknown_policy]), lambda m, urn=None: reported.append((m, urn)))
    assert reported == []


def test_the_harness_drives_async_callbacks_and_reports_unknown_reads_like_the_engine() -> None:
    async def no_databases(args: ResourceValidationArgs, report: Any) -> None:
        await asyncio.sleep(0)
        report("no databases here")

    async def count(args: StackValidationArgs, report: Any) -> None:
        await asyncio.sleep(0)
        report(f"{len(args.resources)} resources", args.resources[0].urn)

    def reads_unknown(args: ResourceValidationArgs, report: Any) -> None:
        report(str(args.props["publiclyAccessible"]))

    pack = policy_check.Pack(
        "test-pack",
        "0.0.1",
        [
            ResourceValidationPolicy(name="async-resource", description="async", validate=no_databases),
            StackValidationPolicy(name="async-stack", description="async", validate=count),
            ResourceValidationPolicy(name="reads-unknown", description="reads", validate=reads_unknown),
        ],
    )
    db = resource("aws:rds/instance:Instance", {"publiclyAccessible": UNKNOWN}, name="db")
    found = policy_check.evaluate([[db]], pack)
    assert [(v.policy, v.level, v.message) for v in found] == [
        ("async-resource", "mandatory", "no databases here"),
        ("async-stack", "mandatory", "1 resources"),
        (
            "reads-unknown",
            "advisory",
            "can't run policy during preview: string value at .publiclyAccessible can't be known during preview",
        ),
    ]
    assert found[1].urn == db.urn and found[1].name == "db"


# --- The CLI: `plan --policy` --------------------------------------------------------------------------------


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        patch.chdir(cwd)
        patch.setattr(sys, "path", list(sys.path))
        code = cli.main(list(args))
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def test_cli_policy_on_prod_exits_0() -> None:
    result = _cli("plan", "--stack", "prod", "--policy", "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Policy Violations: none (philosophy-guardrails v1.0.0" in result.stdout


def _checkout(tmp_path: Path, program: str) -> Path:
    """A copy of the checkout whose AWS layer is `program`, with the real policy pack."""
    (tmp_path / "policy").mkdir()
    for item in ("PulumiPolicy.yaml", "guardrails.py"):
        (tmp_path / "policy" / item).write_text((PACK / item).read_text())
    (tmp_path / "Pulumi.yaml").write_text("name: philosophy-infra\nruntime: python\n")
    (tmp_path / "Pulumi.broken.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    (tmp_path / "__main__.py").write_text(program)
    return tmp_path


PUBLIC_DATABASE = """
import pulumi_aws as aws

aws.rds.Instance(
    "db", engine="postgres", instance_class="db.t4g.micro", allocated_storage=20, username="app",
    manage_master_user_password=True, storage_encrypted=True, publicly_accessible=True, skip_final_snapshot=True,
)
"""


def test_cli_policy_exits_3_on_a_mandatory_violation(tmp_path: Path) -> None:
    root = _checkout(tmp_path, PUBLIC_DATABASE)
    args = ("plan", "--stack", "broken", "--layer", "aws", "--project-dir", str(root), "--policy")
    result = _cli(*args, "--json", "-", "--quiet")
    assert result.returncode == policy_check.EXIT_POLICY == 3, result.stderr
    assert json.loads(result.stdout)["resources"]  # the violations go to stderr, the JSON stays clean
    heading = "[mandatory]  philosophy-guardrails v1.0.0  database-not-public (db: aws:rds/instance:Instance)"
    assert f"Policy Violations:\n    {heading}\n" in result.stderr
    assert "    No database is reachable from the internet.\n    publiclyAccessible is true" in result.stderr
    assert _cli(*args).stdout.endswith("mandatory, 0 advisory policy violation(s)\n")


ADVISORY_ONLY = """
import pulumi_kubernetes as k8s

container = {
    "name": "web", "image": "registry.example.com/web:1.2.3",
    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True,
                        "seccompProfile": {"type": "RuntimeDefault"}},
}
k8s.apps.v1.Deployment(
    "web", metadata={"name": "web"},
    spec={"selector": {"matchLabels": {"app": "web"}},
          "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container]}}},
)
"""


def test_cli_policy_prints_advisory_violations_and_exits_0(tmp_path: Path) -> None:
    root = _checkout(tmp_path, ADVISORY_ONLY)
    result = _cli("plan", "--stack", "broken", "--layer", "aws", "--project-dir", str(root), "--policy", "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "[advisory]  philosophy-guardrails v1.0.0  k8s-read-only-root-filesystem (web: kubernetes:apps/v1:Deployment)"
        in result.stdout
    )
    assert "[mandatory]" not in result.stdout


def test_the_engines_grpc_handlers_report_what_the_offline_check_reports() -> None:
    """`PolicyPack(...)` serves these handlers (`_PolicyAnalyzerServicer`); called directly, no server starts."""
    from google.protobuf import struct_pb2
    from pulumi.runtime import proto
    from pulumi_policy.policy import _PolicyAnalyzerServicer

    servicer = _PolicyAnalyzerServicer(
        "philosophy-guardrails", "1.0.0", guardrails.ALL_POLICIES, EnforcementLevel.MANDATORY
    )
    info = servicer.GetAnalyzerInfo(None, None)  # type: ignore[no-untyped-call]
    assert [(p.name, p.remediation_steps) for p in info.policies] == [
        (p.name, p.remediation_steps) for p in guardrails.ALL_POLICIES
    ]
    db = resource("aws:rds/instance:Instance", {"publiclyAccessible": True, "storageEncrypted": UNKNOWN}, name="db")
    properties = struct_pb2.Struct()
    properties.update({"publiclyAccessible": True, "storageEncrypted": UNKNOWN_STRING_VALUE})  # unknown in a preview
    request = proto.AnalyzeRequest(type=db.type, urn=db.urn, name=db.name, properties=properties)
    engine = [(d.policyName, d.message) for d in servicer.Analyze(request, None).diagnostics]  # type: ignore[no-untyped-call]
    offline = [
        (v.policy, f"{v.description}\n{v.message}")
        for v in violations(db)
        if v.policy != "stateful-resources-protected"
    ]
    assert (
        engine
        == offline
        == [
            (
                "database-not-public",
                "No database is reachable from the internet.\n"
                "publiclyAccessible is true: the instance gets a public address and DNS name",
            )
        ]
    )
    key = proto.AnalyzerResource(
        type="aws:kms/key:Key", urn="urn:key", name="key", options=proto.AnalyzerResourceOptions(protect=False)
    )
    stack = servicer.AnalyzeStack(proto.AnalyzeStackRequest(resources=[key]), None)  # type: ignore[no-untyped-call]
    assert [(d.policyName, d.urn) for d in stack.diagnostics] == [("stateful-resources-protected", "urn:key")]


def test_pulumi_eks_must_be_given_the_roles_it_would_create_unbounded() -> None:
    def found(inputs: dict[str, Any]) -> list[str]:
        return [v.message for v in violations(resource("eks:index:Cluster", inputs)) if v.policy == "iam-role-bounded"]

    [service, instance] = found({"serviceRole": None, "createInstanceRole": True})
    assert "no serviceRole" in service and "instance role" in instance
    # pulumi-eks makes a default node group, with its instance role, unless told to skip it.
    [instance] = found({"serviceRole": "urn:r"})
    assert "instance role" in instance
    assert found({"serviceRole": "urn:r", "skipDefaultNodeGroup": True}) == []
    assert found({"serviceRole": "urn:r", "instanceRole": "urn:i"}) == []


@pytest.mark.parametrize(
    ("path", "boundary", "problem"),
    [
        ("/", "philosophy-infra-prod-boundary", "path is '/'"),
        ("/philosophy-infra/", "philosophy-infra-prod-boundary", "path is '/philosophy-infra/'"),
        # Another environment's boundary: its own deploy role could not create it, and it keeps the wrong state.
        ("/philosophy-infra/prod/", "philosophy-infra-staging-boundary", "not its environment's"),
        ("/philosophy-infra/prod/", None, "permissionsBoundary is None"),
    ],
)
def test_a_role_outside_its_environments_path_or_boundary_is_refused(
    path: str, boundary: str | None, problem: str
) -> None:
    arn = f"arn:aws:iam::123456789012:policy/philosophy-bootstrap/{boundary}" if boundary else None
    found = [
        v.message
        for v in violations(resource("aws:iam/role:Role", {"path": path, "permissionsBoundary": arn}))
        if v.policy == "iam-role-bounded"
    ]
    assert len(found) == 1 and problem in found[0], found


def test_the_guardrails_copy_of_the_limits_is_the_one_the_layers_share() -> None:
    for environment in ("prod", "staging", "qa-2"):
        path = role_limits.role_path(environment)
        assert guardrails.LAYER_ROLE_PATH.fullmatch(path)
        assert role_limits.boundary_arn("aws", "123456789012", environment).endswith(
            guardrails.role_boundary_suffix(environment)
        )


@pytest.mark.parametrize(
    ("certificate", "protected", "fires"),
    [
        ({"cloudfrontDefaultCertificate": True}, True, True),
        ({"cloudfrontDefaultCertificate": True}, False, False),
        ({"acmCertificateArn": "arn:cert", "minimumProtocolVersion": "TLSv1.2_2025"}, True, False),
        ({"acmCertificateArn": "arn:cert", "minimumProtocolVersion": "TLSv1.3_2025"}, True, False),
        ({"acmCertificateArn": "arn:cert", "minimumProtocolVersion": "TLSv1.2_2021"}, False, True),
        ({"acmCertificateArn": "arn:cert", "minimumProtocolVersion": UNKNOWN}, True, False),
    ],
)
def test_the_viewer_tls_minimum_and_where_the_default_certificate_may_serve(
    certificate: dict[str, Any], protected: bool, fires: bool
) -> None:
    distribution = resource("aws:cloudfront/distribution:Distribution", {"viewerCertificate": certificate})
    config = {"cloudfront-tls-minimum": {"protectedStack": protected}}
    found = [v for v in violations(distribution, config=config) if v.policy == "cloudfront-tls-minimum"]
    assert bool(found) is fires, found


def test_a_vpc_origin_may_use_http_inside_the_vpc_but_an_internet_origin_may_not() -> None:
    private = resource(
        "aws:cloudfront/vpcOrigin:VpcOrigin", {"vpcOriginEndpointConfig": {"originProtocolPolicy": "http-only"}}
    )
    public = resource(
        "aws:cloudfront/distribution:Distribution",
        {"origins": [{"originId": "api", "customOriginConfig": {"originProtocolPolicy": "http-only"}}]},
        name="d",
    )
    weak = resource(
        "aws:cloudfront/vpcOrigin:VpcOrigin",
        {"vpcOriginEndpointConfig": {"originProtocolPolicy": "https-only", "originSslProtocols": {"items": ["TLSv1"]}}},
        name="w",
    )
    found = {
        (str(v.urn).rsplit("::", 1)[1], v.message)
        for v in violations(private, public, weak)
        if v.policy == "cloudfront-https-only"
    }
    assert {name for name, _ in found} == {"d", "w"}


@pytest.mark.parametrize(
    ("inputs", "fires"),
    [
        ({"internal": True, "dropInvalidHeaderFields": True}, False),
        ({"internal": True, "dropInvalidHeaderFields": False}, True),
        ({"internal": False, "dropInvalidHeaderFields": True}, True),
        ({"internal": True, "loadBalancerType": "network"}, False),
        ({"internal": UNKNOWN, "dropInvalidHeaderFields": True}, False),
    ],
)
def test_load_balancers_are_internal_and_drop_invalid_headers(inputs: dict[str, Any], fires: bool) -> None:
    balancer = resource("aws:lb/loadBalancer:LoadBalancer", inputs)
    found = [v for v in violations(balancer) if v.policy == "load-balancer-internal"]
    assert bool(found) is fires, found
