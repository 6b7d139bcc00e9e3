"""The deploy runner: a CodeBuild-hosted GitHub Actions runner in the private subnets, the one thing always
admitted to the private Kubernetes API, whose role can deploy the Kubernetes layer and do nothing else."""

from __future__ import annotations

import json
from typing import Any

import pytest

from philosophy_infra.config.runner import DeployRunnerConfig
from philosophy_infra.plan import Plan, RecordedResource
from tests.conftest import AWS, encode, raw_config, run_stack, stack_yaml

INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def runner_settings(stack: str = "prod") -> dict[str, Any]:
    settings: dict[str, Any] = stack_yaml(stack)["config"]["philosophy-infra:deployRunner"]
    return settings


def api_rules(plan: Plan) -> list[RecordedResource]:
    """The cluster security group's rules for the API (443), not the service load balancer's to the gateway pods."""
    cluster_sg = plan.outputs["clusterSecurityGroupId"]
    return [
        r
        for r in plan.of_type(INGRESS)
        if r.inputs["securityGroupId"] == cluster_sg and not r.name.startswith("service-load-balancer-")
    ]


def test_the_runner_is_a_codebuild_project_in_the_private_subnets(prod_plan: Plan) -> None:
    project = prod_plan.one("aws:codebuild/project:Project").inputs
    settings = runner_settings()
    assert project["name"] == "philosophy-prod-deploy-runner"
    assert project["vpcConfig"]["vpcId"] == prod_plan.outputs["vpcId"]
    assert project["vpcConfig"]["subnets"] == prod_plan.outputs["privateSubnetIds"]
    assert project["vpcConfig"]["securityGroupIds"] == [prod_plan.outputs["deployRunnerSecurityGroupId"]]
    assert project["source"] == {
        "type": "GITHUB",
        "location": f"https://github.com/{settings['githubRepository']}.git",
        "auth": {"type": "CODECONNECTIONS", "resource": settings["githubConnectionArn"]},
    }
    assert project["environment"]["computeType"] == settings["computeType"]
    assert project["environment"]["privilegedMode"] is False
    assert project["environment"]["image"].startswith("aws/codebuild/amazonlinux-x86_64-standard:")
    assert project["artifacts"] == {"type": "NO_ARTIFACTS"}
    logs = project["logsConfig"]["cloudwatchLogs"]
    assert logs["status"] == "ENABLED" and logs["groupName"] == "/aws/codebuild/philosophy-prod-deploy-runner"
    assert prod_plan.outputs["deployRunnerRunsOn"] == (
        "codebuild-philosophy-prod-deploy-runner-${{ github.run_id }}-${{ github.run_attempt }}"
    )


def test_the_webhook_starts_a_runner_for_queued_workflow_jobs_only(prod_plan: Plan) -> None:
    webhook = prod_plan.one("aws:codebuild/webhook:Webhook").inputs
    assert webhook["buildType"] == "BUILD"
    assert webhook["filterGroups"] == [
        {
            "filters": [
                {"type": "EVENT", "pattern": "WORKFLOW_JOB_QUEUED"},
                {"type": "WORKFLOW_NAME", "pattern": "^(deploy|drift|preview)$"},
            ]
        }
    ]
    assert webhook["projectName"] == "philosophy-prod-deploy-runner"


@pytest.mark.parametrize(
    ("names", "matches", "refuses"),
    [
        (["deploy"], ["deploy"], ["deploy-x", "my deploy", "Deploy", ""]),
        (
            ["deploy", "preview (kubernetes)"],
            ["deploy", "preview (kubernetes)"],
            ["preview (kubernetesX)", "preview k"],
        ),
    ],
)
def test_only_the_named_workflows_match_the_webhook(names: list[str], matches: list[str], refuses: list[str]) -> None:
    import re

    from components.aws.delivery.deploy_runner import workflow_name_pattern

    pattern = re.compile(workflow_name_pattern(names))
    assert all(pattern.search(n) for n in matches)
    assert not any(pattern.search(n) for n in refuses)


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_the_runners_security_group_is_the_source_of_a_443_rule_on_the_cluster_security_group(
    stack: str, request: pytest.FixtureRequest
) -> None:
    plan: Plan = request.getfixturevalue(f"{stack}_plan").layer(AWS)
    runner_sg = plan.outputs["deployRunnerSecurityGroupId"]
    [rule] = [r.inputs for r in api_rules(plan) if r.inputs.get("referencedSecurityGroupId") == runner_sg]
    assert (rule["ipProtocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 443, 443)
    # The stack files admit no one else: nothing else reaches the API.
    assert len(api_rules(plan)) == 1
    assert not [r for r in plan.of_type(INGRESS) if r.inputs.get("cidrIpv4") == "0.0.0.0/0"]


def test_the_runner_opens_only_https_outward(prod_plan: Plan) -> None:
    runner_sg = prod_plan.outputs["deployRunnerSecurityGroupId"]
    egress = [
        r.inputs
        for r in prod_plan.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
        if r.inputs["securityGroupId"] == runner_sg
    ]
    assert [(e["ipProtocol"], e["fromPort"], e["toPort"]) for e in egress] == [("tcp", 443, 443)]
    assert not [r for r in prod_plan.of_type(INGRESS) if r.inputs["securityGroupId"] == runner_sg]


def test_api_access_sources_from_config_become_443_rules() -> None:
    raw = raw_config("staging")
    raw["philosophy-infra:cluster"]["apiAccess"] = {
        "securityGroupIds": ["sg-0123456789abcdef0"],
        "cidrs": ["10.100.0.0/22", "192.168.10.0/24"],
    }
    plan = run_stack("staging", encode(raw), layers=(AWS,))
    rules = api_rules(plan)
    assert {r.inputs.get("referencedSecurityGroupId") for r in rules} >= {"sg-0123456789abcdef0"}
    assert sorted(r.inputs["cidrIpv4"] for r in rules if r.inputs.get("cidrIpv4")) == [
        "10.100.0.0/22",
        "192.168.10.0/24",
    ]
    assert all((r.inputs["fromPort"], r.inputs["toPort"], r.inputs["ipProtocol"]) == (443, 443, "tcp") for r in rules)
    assert len(rules) == 4  # the runner, one security group, two networks


def test_the_runner_itself_has_no_cluster_access_and_no_state(prod_plan: Plan) -> None:
    runner_role = prod_plan.outputs["deployRunnerRoleArn"]
    principals = {e.inputs["principalArn"] for e in prod_plan.of_type("aws:eks/accessEntry:AccessEntry")}
    assert runner_role not in principals
    policy = json.loads(prod_plan.one("aws:iam/rolePolicy:RolePolicy", "deploy-runner-policy").inputs["policy"])
    found = {st["Sid"]: st for st in policy["Statement"]}
    assert set(found) == {"BuildLogs", "VpcNetworkInterfaces", "VpcNetworkInterfacePermission", "GitHubConnection"}
    assert found["GitHubConnection"]["Resource"] == runner_settings()["githubConnectionArn"]
    eni = found["VpcNetworkInterfacePermission"]
    assert eni["Condition"]["StringEquals"] == {"ec2:AuthorizedService": "codebuild.amazonaws.com"}
    assert eni["Condition"]["ArnEquals"]["ec2:Subnet"] == [
        f"arn:aws:ec2:eu-west-1:123456789012:subnet/{s}" for s in prod_plan.outputs["privateSubnetIds"]
    ]
    # "*" only where AWS's documented CodeBuild-in-a-VPC policy has it (Describe and ENI calls).
    assert {sid for sid, st in found.items() if st["Resource"] == "*"} == {"VpcNetworkInterfaces"}


def kubernetes_role(plan: Plan, suffix: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    role = plan.one("aws:iam/role:Role", f"kubernetes-layer-{suffix}").inputs
    policy = json.loads(plan.one("aws:iam/rolePolicy:RolePolicy", f"kubernetes-layer-{suffix}-state").inputs["policy"])
    return role, {st["Sid"]: st for st in policy["Statement"]}


@pytest.mark.parametrize(
    ("suffix", "subject"),
    [
        ("deploy", "repo:example-org/philosophy-infra:environment:prod"),
        ("drift", "repo:example-org/philosophy-infra:ref:refs/heads/main"),
        ("preview", "repo:example-org/philosophy-infra:pull_request"),
    ],
)
def test_the_kubernetes_layer_roles_trust_one_github_subject_each(prod_plan: Plan, suffix: str, subject: str) -> None:
    role, _ = kubernetes_role(prod_plan, suffix)
    [statement] = json.loads(role["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {
        "Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    }
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": subject,
        }
    }


def test_only_the_deploy_role_administers_the_cluster_the_others_only_read(prod_plan: Plan) -> None:
    entries = {e.inputs["principalArn"]: e for e in prod_plan.of_type("aws:eks/accessEntry:AccessEntry")}
    associations = prod_plan.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    deploy = prod_plan.outputs["kubernetesDeployRoleArn"]
    [admin] = [a for a in associations if a.inputs["principalArn"] == deploy]
    assert admin.inputs["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    assert admin.inputs["accessScope"] == {"type": "cluster"}
    assert admin.inputs["clusterName"] == "philosophy-prod"
    assert not entries[deploy].inputs.get("kubernetesGroups")
    for suffix in ("drift", "preview"):
        arn = prod_plan.outputs[f"kubernetes{suffix.capitalize()}RoleArn"]
        # No EKS access policy at all: only the group the Kubernetes layer binds to read what it manages.
        assert [a for a in associations if a.inputs["principalArn"] == arn] == []
        assert entries[arn].inputs["kubernetesGroups"] == ["philosophy:cluster-readers"]
        assert entries[arn].inputs["type"] == "STANDARD"


def test_only_the_deploy_role_writes_state_and_only_its_own(prod_plan: Plan) -> None:
    settings = runner_settings()
    bucket = f"arn:aws:s3:::{settings['stateBucket']}"
    _, deploy = kubernetes_role(prod_plan, "deploy")
    _, drift = kubernetes_role(prod_plan, "drift")
    _, preview = kubernetes_role(prod_plan, "preview")
    assert preview == drift
    for found in (deploy, drift):
        assert found["ReadAwsLayerState"]["Resource"] == [
            f"{bucket}/.pulumi/meta.yaml",
            f"{bucket}/.pulumi/stacks/philosophy-infra/prod.*",
        ]
        assert found["ListState"]["Resource"] == bucket and "Condition" not in found["ListState"]
        assert found["StackSecrets"]["Resource"] == settings["stateKmsKeyArn"]
    assert sorted(deploy["WriteKubernetesLayerState"]["Action"]) == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    assert deploy["WriteKubernetesLayerState"]["Resource"] == [
        f"{bucket}/.pulumi/stacks/philosophy-kubernetes/prod.*",
        f"{bucket}/.pulumi/history/philosophy-kubernetes/prod/*",
        f"{bucket}/.pulumi/backups/philosophy-kubernetes/prod/*",
        f"{bucket}/.pulumi/locks/organization/philosophy-kubernetes/prod/*",
    ]
    assert "WriteKubernetesLayerState" not in drift
    assert drift["ReadKubernetesLayerState"]["Action"] == "s3:GetObject"
    assert drift["StackSecrets"]["Action"] == ["kms:Decrypt"]
    actions = [
        a
        for st in [*deploy.values(), *drift.values()]
        for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    ]
    assert not [a for a in actions if a.endswith("*") or a.startswith(("iam:", "eks:", "sts:"))]


def test_a_state_prefix_and_no_secrets_key_shape_the_state_policy() -> None:
    from components.aws.delivery.kubernetes_roles import StateAccess, state_policy

    settings = DeployRunnerConfig.model_validate(
        {
            "githubRepository": "acme/philosophy-infra",
            "githubConnectionArn": "arn:aws:codeconnections:eu-west-1:210987654321:connection/"
            "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
            "stateBucket": "acme-state",
            "statePrefix": "pulumi/platform",
        }
    )
    policy = json.loads(
        state_policy(
            partition="aws",
            settings=settings,
            stack="staging",
            aws_project="philosophy-infra",
            kubernetes_project="philosophy-kubernetes",
            access=StateAccess.WRITE,
        )
    )
    found = {st["Sid"]: st for st in policy["Statement"]}
    assert "StackSecrets" not in found
    assert found["ReadAwsLayerState"]["Resource"][1] == (
        "arn:aws:s3:::acme-state/pulumi/platform/.pulumi/stacks/philosophy-infra/staging.*"
    )


def test_the_runner_logs_are_encrypted_and_kept_as_configured(prod_plan: Plan) -> None:
    group = prod_plan.one("aws:cloudwatch/logGroup:LogGroup", "deploy-runner-logs").inputs
    assert group["name"] == "/aws/codebuild/philosophy-prod-deploy-runner"
    assert group["retentionInDays"] == runner_settings()["logRetentionDays"]
    assert group["kmsKeyId"].startswith("arn:aws:kms:")
