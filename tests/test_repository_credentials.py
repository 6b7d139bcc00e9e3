"""The git repository's credentials Argo CD reads (a GitHub App's), and the one role that reads them: an empty
secret with its own key, and an IRSA role for `argocd/repository-reader` that may read that secret and nothing
else. No other role of the AWS layer (the app namespace's `secrets-reader` least of all) may read it. The IAM
documents are evaluated with the bootstrap tests' helpers, not compared as text."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from components.aws.security.app_secrets import AppSecrets, AppSecretsArgs
from philosophy_infra.plan import ACCOUNT_ID
from philosophy_infra.service import SERVICE_ACCOUNTS_WITH_ROLES
from philosophy_infra.stack_plan import StackPlan
from tests.conftest import AWS, run, stack_plan
from tests.test_bootstrap import allowed

STACKS = ["prod", "staging"]
SECRET = "aws:secretsmanager/secret:Secret"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
SUBJECT = "system:serviceaccount:argocd:repository-reader"
READ = ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret")


def the_secret(plan: StackPlan) -> dict[str, Any]:
    return plan.layer(AWS).one(SECRET, "repository-secrets-git-repository").inputs


def the_key_arn(plan: StackPlan) -> str:
    """The ARN of the key the secret is encrypted with, from the key's alias (what its ARN ends with)."""
    aws = plan.layer(AWS)
    key = aws.one(KEY, "repository-secrets-encryption-key")
    [alias] = [r for r in aws.of_type(ALIAS) if r.parent == key.urn]
    return f"arn:aws:kms:{plan.outputs['region']}:{ACCOUNT_ID}:key/{alias.inputs['targetKeyId']}"


def through_secrets_manager(plan: StackPlan) -> dict[str, str]:
    return {"kms:ViaService": f"secretsmanager.{plan.outputs['region']}.amazonaws.com"}


def reader_policy(plan: StackPlan) -> dict[str, Any]:
    policy: dict[str, Any] = json.loads(
        plan.layer(AWS).one(ROLE_POLICY, "workload-roles-repository-reader-inline").inputs["policy"]
    )
    return policy


@pytest.mark.parametrize("stack", STACKS)
def test_the_secret_is_named_unambiguously_has_its_own_key_and_no_value(
    stack: str, request: pytest.FixtureRequest
) -> None:
    plan = stack_plan(request, stack)
    secret = the_secret(plan)
    assert secret["name"] == f"philosophy-{stack}/git-repository"
    # Secrets Manager reads "-" and six characters at the end of a name as an ARN's random suffix.
    assert not re.search(r"-[A-Za-z0-9]{6}$", secret["name"])
    assert secret["recoveryWindowInDays"] == {"prod": 30, "staging": 7}[stack]
    # Its own key: a customer managed one that no other secret uses, so no other reader holds it.
    key_arn = the_key_arn(plan)
    assert secret["kmsKeyId"] == key_arn
    others = [s for s in plan.layer(AWS).of_type(SECRET) if s.name != "repository-secrets-git-repository"]
    assert others and key_arn not in {s.inputs.get("kmsKeyId") for s in others}
    key = plan.layer(AWS).one(KEY, "repository-secrets-encryption-key").inputs
    assert key["enableKeyRotation"] is True
    aliases = [
        a for a in plan.layer(AWS).of_type(ALIAS) if a.inputs["name"] == f"alias/philosophy-{stack}-repository-secrets"
    ]
    # The same alias in the stack's region and the DR region (aliases are regional): each names its region's key.
    [alias] = [a for a in aliases if not a.inputs.get("region")]
    assert key_arn.endswith(alias.inputs["targetKeyId"])
    [replica_alias] = [a for a in aliases if a.inputs.get("region") == "eu-central-1"]
    # The value an operator put in survives the region: a replica in the DR region, under this secret's own key there.
    [replica] = secret["replicas"]
    assert replica["region"] == "eu-central-1" and ":kms:eu-central-1:" in replica["kmsKeyId"]
    assert replica["kmsKeyId"].endswith(replica_alias.inputs["targetKeyId"])
    # No version: the GitHub App's JSON is put in out of band, so it is in no config, code, state or plan.
    secret_urn = plan.layer(AWS).one(SECRET, "repository-secrets-git-repository").urn
    versions = plan.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert versions and not [v for v in versions if v.parent == secret_urn or "git-repository" in v.name]


@pytest.mark.parametrize("stack", STACKS)
def test_the_arn_is_exported_for_the_kubernetes_layer(stack: str, request: pytest.FixtureRequest) -> None:
    outputs = stack_plan(request, stack).layer(AWS).outputs
    # The secret's ARN (its name and Secrets Manager's random suffix), not its name: ESO and IAM want the ARN.
    assert outputs["gitRepositorySecretArn"].startswith(
        f"arn:aws:secretsmanager:{outputs['region']}:{ACCOUNT_ID}:secret:philosophy-{stack}/git-repository-"
    )
    assert outputs["serviceAccountRoleArns"]["repository-reader"].startswith("arn:aws:iam::")
    # Every service account with a role is exported, and only those.
    assert set(outputs["serviceAccountRoleArns"]) == set(SERVICE_ACCOUNTS_WITH_ROLES)


@pytest.mark.parametrize("stack", STACKS)
def test_the_reader_is_argo_cds_account_only_under_the_environments_path_and_boundary(
    stack: str, request: pytest.FixtureRequest
) -> None:
    plan = stack_plan(request, stack)
    aws = plan.layer(AWS)
    role = aws.one(ROLE, "workload-roles-repository-reader-role").inputs
    assert role["path"] == f"/philosophy-infra/{stack}/"
    assert role["permissionsBoundary"] == (
        f"arn:aws:iam::{ACCOUNT_ID}:policy/philosophy-bootstrap/philosophy-infra-{stack}-boundary"
    )
    assert aws.outputs["serviceAccountRoleArns"]["repository-reader"].startswith(
        f"arn:aws:iam::{ACCOUNT_ID}:role/philosophy-infra/{stack}/workload-roles-repository-reader-role-"
    )
    [trust] = json.loads(role["assumeRolePolicy"])["Statement"]
    issuer = aws.outputs["oidcIssuer"]
    assert trust["Effect"] == "Allow" and trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Principal"] == {"Federated": aws.outputs["oidcProviderArn"]}
    # Exactly this one service account, for the STS audience; no other namespace or account.
    assert trust["Condition"] == {"StringEquals": {f"{issuer}:sub": SUBJECT, f"{issuer}:aud": "sts.amazonaws.com"}}


@pytest.mark.parametrize("stack", STACKS)
def test_the_reader_may_read_that_one_secret_and_decrypt_only_through_secrets_manager(
    stack: str, request: pytest.FixtureRequest
) -> None:
    plan = stack_plan(request, stack)
    policy, out = reader_policy(plan), plan.layer(AWS).outputs
    secret, key = out["gitRepositorySecretArn"], the_key_arn(plan)
    via = through_secrets_manager(plan)
    for action in READ:
        assert allowed(policy, action, secret, context=via), action
    assert allowed(policy, "kms:Decrypt", key, context=via)
    # Not directly from KMS, and nothing else on the key or the secret.
    assert not allowed(policy, "kms:Decrypt", key, context={})
    for action in ("secretsmanager:PutSecretValue", "secretsmanager:UpdateSecret", "secretsmanager:DeleteSecret",
                   "secretsmanager:PutResourcePolicy", "kms:Encrypt", "kms:CreateGrant"):  # fmt: skip
        assert not allowed(policy, action, key if action.startswith("kms:") else secret), action
    # None of the service's, the data stores' or the search setup's secrets.
    for name in ("llmApiKeySecretArn", "jwtSecretArn", "cacheAuthSecretArn", "databaseMasterSecretArn",
                 "databaseMonitorSecretArn"):  # fmt: skip
        assert not allowed(policy, "secretsmanager:GetSecretValue", out[name]), name
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["ReadTheServiceSecrets"]["Resource"] == [secret]
    assert statements["DecryptThroughSecretsManager"]["Resource"] == [key]
    assert len(statements) == len(policy["Statement"]) == 2


@pytest.mark.parametrize("stack", STACKS)
def test_no_other_role_reads_the_repository_credentials(stack: str, request: pytest.FixtureRequest) -> None:
    plan = stack_plan(request, stack)
    aws = plan.layer(AWS)
    secret, key, via = aws.outputs["gitRepositorySecretArn"], the_key_arn(plan), through_secrets_manager(plan)
    others = [p for p in aws.of_type(ROLE_POLICY) if p.name != "workload-roles-repository-reader-inline"]
    assert "workload-roles-secrets-reader-inline" in {p.name for p in others}
    for resource in others:
        policy = json.loads(resource.inputs["policy"])
        for action in READ:
            assert not allowed(policy, action, secret), (resource.name, action)
        assert not allowed(policy, "kms:Decrypt", key, context=via), resource.name
    # The app namespace's reader, explicitly: the service never needs the repository's credentials.
    app_reader = json.loads(aws.one(ROLE_POLICY, "workload-roles-secrets-reader-inline").inputs["policy"])
    app_read = next(s for s in app_reader["Statement"] if s["Sid"] == "ReadTheServiceSecrets")
    assert secret not in app_read["Resource"]
    assert aws.outputs["llmApiKeySecretArn"] in app_read["Resource"]


def test_a_secret_name_secrets_manager_would_read_as_an_arn_suffix_is_refused() -> None:
    with pytest.raises(ValueError, match="ARN's random suffix"):
        run(lambda: AppSecrets("s", AppSecretsArgs(name_prefix="philosophy-test", secrets=("git-secret",))))
    plan = run(lambda: AppSecrets("s", AppSecretsArgs(name_prefix="philosophy-test", secrets=("git-repository",))))
    assert plan.one(SECRET).inputs["name"] == "philosophy-test/git-repository"
