"""An IAM role that exactly one GitHub Actions OIDC subject may assume: a repository's pull requests, one of its
environments, or one of its branches. Nothing else (no other repository, branch, environment or fork) gets it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws.security.policy_statements import github_trust_policy
from components.bootstrap.policies import ROLE_PATH


@dataclass(frozen=True, kw_only=True)
class CiRoleArgs:
    oidc_provider_arn: pulumi.Input[str]
    subject: str
    """The token's `sub` claim, exactly: `repo:<owner>/<repo>:pull_request`, `…:environment:<name>` (what GitHub
    sends when the job names an environment) or `…:ref:refs/heads/<branch>`."""
    description: str
    managed_policy_arns: Sequence[pulumi.Input[str]] = field(default_factory=tuple)
    inline_policy: pulumi.Input[str] | None = None
    max_session_seconds: int = 3600


class CiRole(pulumi.ComponentResource):
    role_arn: pulumi.Output[str]
    role_name: pulumi.Output[str]

    def __init__(self, name: str, args: CiRoleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:CiRole", name, None, opts)
        role = aws.iam.Role(
            f"{name}-role",
            description=args.description,
            # The deploy roles may manage IAM, except under this path (policies.deploy_role_policy).
            path=ROLE_PATH,
            assume_role_policy=pulumi.Output.from_input(args.oidc_provider_arn).apply(
                lambda arn: github_trust_policy(arn, args.subject)
            ),
            max_session_duration=args.max_session_seconds,
            opts=pulumi.ResourceOptions(parent=self),
        )
        on_role = pulumi.ResourceOptions(parent=role)
        for i, arn in enumerate(args.managed_policy_arns):
            aws.iam.RolePolicyAttachment(f"{name}-managed-{i}", role=role.name, policy_arn=arn, opts=on_role)
        if args.inline_policy is not None:
            aws.iam.RolePolicy(f"{name}-inline", role=role.id, policy=args.inline_policy, opts=on_role)
        self.role_arn = role.arn
        self.role_name = role.name
        self.register_outputs({"roleArn": self.role_arn})
