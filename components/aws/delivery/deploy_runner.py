"""The deploy runner: an AWS CodeBuild project in the private subnets that serves as a GitHub Actions runner,
and the one network location (besides the sources in `cluster.apiAccess`) that reaches the private
Kubernetes API.

CodeBuild starts a runner in the VPC for each queued job of the named workflows of the one configured
repository (webhook on WORKFLOW_JOB_QUEUED and WORKFLOW_NAME), and the job asks for it with
`runs-on: codebuild-<project>-${{ github.run_id }}-${{ github.run_attempt }}`.

The runner is a place, not an identity. Its own role may write its logs, manage its network interfaces and
use its GitHub connection; it has no access entry and no state. A job gets rights by assuming one of the
Kubernetes layer's roles through GitHub's OIDC (`KubernetesLayerRoles`), whose trust names the GitHub
environment (or `main`) the job runs in. A branch that copies a workflow's name gets a runner, but no
credentials.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.cluster.eks_cluster import allow_api_access
from components.aws.security.encryption_key import encrypted_log_group
from components.aws.security.irsa_role import service_trust_policy
from components.aws.security.role_limits import RoleLimits
from philosophy_infra.config.base import DataProtection
from philosophy_infra.config.runner import DeployRunnerConfig

# CodeBuild's Amazon Linux 2023 image, the runner image AWS maps to the `linux-5.0` label; it carries the
# AWS CLI and Python, and the workflow installs the Pulumi CLI.
RUNNER_IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0"


@dataclass(frozen=True, kw_only=True)
class DeployRunnerArgs:
    role_limits: RoleLimits
    project_name: str
    """The CodeBuild project's name, fixed: workflows name it in their `runs-on` label."""
    settings: DeployRunnerConfig
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Private subnets: the runner reaches the internet (GitHub, package registries) through the NAT."""
    cluster_name: pulumi.Input[str]
    cluster_security_group_id: pulumi.Input[str]
    data_protection: DataProtection = DataProtection.PROTECTED


class DeployRunner(pulumi.ComponentResource):
    project_name: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    runs_on: str

    def __init__(self, name: str, args: DeployRunnerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:DeployRunner", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        s = args.settings
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        region = aws.get_region_output(opts=invoke).region

        group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            description=f"{args.project_name}: GitHub Actions runner that deploys the Kubernetes layer",
            vpc_id=args.vpc_id,
            revoke_rules_on_delete=True,
            opts=child,
        )
        # HTTPS out only: GitHub, the package registries, AWS APIs and the Kubernetes API. DNS goes to the
        # VPC resolver, which security groups do not filter.
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-https-out",
            security_group_id=group.id,
            cidr_ipv4="0.0.0.0/0",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description="HTTPS to GitHub, package registries, AWS APIs and the Kubernetes API",
            opts=pulumi.ResourceOptions(parent=group),
        )
        allow_api_access(
            f"{name}-api-access",
            cluster_security_group_id=args.cluster_security_group_id,
            source_security_group_id=group.id,
            description=f"Kubernetes API from the deploy runner {args.project_name}",
            parent=self,
        )

        log_group = encrypted_log_group(
            f"{name}-logs",
            key_resource_name=f"{name}-logs-encryption",
            log_group_name=f"/aws/codebuild/{args.project_name}",
            retention_days=s.log_retention_days,
            description=f"{args.project_name}: deploy runner logs",
            alias=f"{args.project_name}-logs",
            data_protection=args.data_protection,
            parent=self,
        )

        role = aws.iam.Role(
            f"{name}-role",
            path=args.role_limits.path,
            permissions_boundary=args.role_limits.permissions_boundary,
            description=f"{args.project_name}: the runner itself (logs, network interfaces, GitHub connection)",
            assume_role_policy=account.apply(lambda a: service_trust_policy("codebuild.amazonaws.com", a)),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.all(partition, region, account, log_group.arn, args.subnet_ids).apply(
                lambda v: runner_policy(
                    partition=v[0],
                    region=v[1],
                    account=v[2],
                    log_group_arn=v[3],
                    subnet_ids=v[4],
                    connection_arn=s.github_connection_arn,
                )
            ),
            opts=pulumi.ResourceOptions(parent=role),
        )

        project = aws.codebuild.Project(
            f"{name}-project",
            name=args.project_name,
            description="GitHub Actions runner inside the VPC: deploys the Kubernetes layer",
            service_role=role.arn,
            source={
                "type": "GITHUB",
                "location": f"https://github.com/{s.github_repository}.git",
                "auth": {"type": "CODECONNECTIONS", "resource": s.github_connection_arn},
            },
            artifacts={"type": "NO_ARTIFACTS"},
            environment={
                "compute_type": s.compute_type.value,
                "image": RUNNER_IMAGE,
                "type": "LINUX_CONTAINER",
                "image_pull_credentials_type": "CODEBUILD",
                "privileged_mode": False,
            },
            vpc_config={"vpc_id": args.vpc_id, "subnets": args.subnet_ids, "security_group_ids": [group.id]},
            logs_config={
                "cloudwatch_logs": {"status": "ENABLED", "group_name": log_group.name},
                "s3_logs": {"status": "DISABLED"},
            },
            build_timeout=s.build_timeout_minutes,
            queued_timeout=60,
            # CodeBuild checks at creation that the role may manage network interfaces in these subnets.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        aws.codebuild.Webhook(
            f"{name}-webhook",
            project_name=project.name,
            build_type="BUILD",
            # A runner for each queued job of the named workflows of this repository, nothing else.
            filter_groups=[
                {
                    "filters": [
                        {"type": "EVENT", "pattern": "WORKFLOW_JOB_QUEUED"},
                        {"type": "WORKFLOW_NAME", "pattern": workflow_name_pattern(s.workflow_names)},
                    ]
                }
            ],
            opts=pulumi.ResourceOptions(parent=project),
        )

        self.project_name = project.name
        self.role_arn = role.arn
        self.security_group_id = group.id
        self.runs_on = f"codebuild-{args.project_name}-${{{{ github.run_id }}}}-${{{{ github.run_attempt }}}}"
        self.register_outputs(
            {
                "projectName": self.project_name,
                "roleArn": self.role_arn,
                "securityGroupId": self.security_group_id,
                "runsOn": self.runs_on,
            }
        )


def workflow_name_pattern(names: Sequence[str]) -> str:
    """The webhook's regular expression: exactly these workflow names."""
    return "^(" + "|".join(re.escape(n) for n in names) + ")$"


def runner_policy(
    *, partition: str, region: str, account: str, log_group_arn: str, subnet_ids: Sequence[str], connection_arn: str
) -> str:
    """What the runner itself may do in AWS: its logs and network interfaces, and its GitHub connection."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "BuildLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group_arn}:*",
        },
        # AWS's documented policy for a CodeBuild project in a VPC.
        {
            "Sid": "VpcNetworkInterfaces",
            "Effect": "Allow",
            "Action": [
                "ec2:CreateNetworkInterface",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DeleteNetworkInterface",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeVpcs",
            ],
            "Resource": "*",
        },
        {
            "Sid": "VpcNetworkInterfacePermission",
            "Effect": "Allow",
            "Action": "ec2:CreateNetworkInterfacePermission",
            "Resource": f"arn:{partition}:ec2:{region}:{account}:network-interface/*",
            "Condition": {
                "StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"},
                "ArnEquals": {"ec2:Subnet": [f"arn:{partition}:ec2:{region}:{account}:subnet/{s}" for s in subnet_ids]},
            },
        },
        {
            "Sid": "GitHubConnection",
            "Effect": "Allow",
            "Action": ["codeconnections:GetConnectionToken", "codeconnections:GetConnection"],
            "Resource": connection_arn,
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})
