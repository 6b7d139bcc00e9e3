"""The CI's roles, each trusting exactly one GitHub OIDC subject:

- preview (`repo:<infra>:pull_request`): ReadOnlyAccess, the state (read), the secrets key (decrypt only);
- drift (`repo:<infra>:ref:refs/heads/main`, where scheduled runs run): the same read-only rights as preview,
  in a role of its own, so each role still trusts one subject;
- one deploy role per environment (`repo:<infra>:environment:<env>`): PowerUserAccess plus its environment's
  roles of the AWS layer (under its path, only with its boundary, which this component creates), its
  environment's state, the secrets key (encrypt and decrypt), with explicit denies on the bootstrap's own roles
  and policies, GitHub's OIDC provider, the state buckets' protections and the image repositories;
- image push (`repo:<app>:ref:refs/heads/main`): push to the service's repositories, nothing else.

See components/bootstrap/policies.py for every document, and the README for why not AdministratorAccess."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.security.role_limits import BOUNDARY_PATH, boundary_name
from components.bootstrap.ci_role import CiRole, CiRoleArgs
from components.bootstrap.policies import (
    deploy_role_policy,
    push_role_policy,
    read_only_role_policy,
    repository_arn,
    role_boundary_policy,
)

# A deploy job may run long: the AWS layer's first deploy takes about 40 minutes (RDS Multi-AZ alone 20-40), and
# credentials that expire mid-update leave the stack locked. The workflow asks for it (role-duration-seconds).
DEPLOY_SESSION_SECONDS = 3 * 3600


@dataclass(frozen=True, kw_only=True)
class CiRolesArgs:
    oidc_provider_arn: pulumi.Input[str]
    infra_repository: str
    """`owner/name` whose pull requests preview and whose environments deploy."""
    app_repository: str
    """`owner/name` whose `main` branch pushes the service's images."""
    environments: Sequence[str]
    region: str
    state_bucket: str
    replica_bucket: str
    state_projects: Sequence[str]
    """The Pulumi projects a deploy role deploys (its environment's stack of each)."""
    environment_projects: Sequence[str]
    """Every project with a stack per environment: a role of one environment may not touch the others' state."""
    ecr_namespace: str
    ecr_repositories: Sequence[str]


class CiRoles(pulumi.ComponentResource):
    preview_role_arn: pulumi.Output[str]
    drift_role_arn: pulumi.Output[str]
    deploy_role_arns: dict[str, pulumi.Output[str]]
    push_role_arn: pulumi.Output[str]
    role_boundary_arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: CiRolesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:CiRoles", name, None, opts)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        child = pulumi.ResourceOptions(parent=self)

        def managed(policy: str) -> pulumi.Output[str]:
            return partition.apply(lambda p: f"arn:{p}:iam::aws:policy/{policy}")

        read_only_policy = pulumi.Output.all(partition, account).apply(
            lambda v: read_only_role_policy(
                partition=v[0], region=args.region, account=v[1], state_bucket=args.state_bucket
            )
        )
        preview = CiRole(
            f"{name}-preview",
            CiRoleArgs(
                oidc_provider_arn=args.oidc_provider_arn,
                subject=f"repo:{args.infra_repository}:pull_request",
                description=f"pulumi preview of {args.infra_repository}'s pull requests: read-only",
                # Read-only across the account, because a refresh reads every resource type the AWS layer has.
                managed_policy_arns=[managed("ReadOnlyAccess")],
                inline_policy=read_only_policy,
            ),
            opts=child,
        )
        drift = CiRole(
            f"{name}-drift",
            CiRoleArgs(
                oidc_provider_arn=args.oidc_provider_arn,
                subject=f"repo:{args.infra_repository}:ref:refs/heads/main",
                description=f"drift detection (pulumi preview --refresh) on {args.infra_repository}'s main: read-only",
                managed_policy_arns=[managed("ReadOnlyAccess")],
                inline_policy=read_only_policy,
            ),
            opts=child,
        )
        self.deploy_role_arns = {}
        self.role_boundary_arns = {}
        for environment in args.environments:
            # The boundary every role of this environment's AWS layer carries: its deploy role may create roles
            # only with it. The name is fixed because the AWS layer derives the ARN (role_limits.py).
            boundary = aws.iam.Policy(
                f"{name}-{environment}-role-boundary",
                name=boundary_name(environment),
                path=BOUNDARY_PATH,
                description=f"The most any role of the philosophy-infra AWS layer's {environment} stack may do: no "
                "IAM, no assuming roles, no other environment's state, no harm to the state, images or keys",
                policy=pulumi.Output.all(partition, account).apply(
                    functools.partial(self._boundary_policy, args, environment)
                ),
                opts=child,
            )
            self.role_boundary_arns[environment] = boundary.arn
            deploy = CiRole(
                f"{name}-deploy-{environment}",
                CiRoleArgs(
                    oidc_provider_arn=args.oidc_provider_arn,
                    subject=f"repo:{args.infra_repository}:environment:{environment}",
                    description=f"pulumi up of {args.infra_repository}'s {environment} stack (GitHub environment)",
                    # Everything but IAM, Organizations and Account; the IAM the AWS layer needs is inline.
                    managed_policy_arns=[managed("PowerUserAccess")],
                    inline_policy=pulumi.Output.all(partition, account).apply(
                        functools.partial(self._deploy_policy, args, environment)
                    ),
                    max_session_seconds=DEPLOY_SESSION_SECONDS,
                ),
                # The boundary first: the deploy role's policy names it.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[boundary]),
            )
            self.deploy_role_arns[environment] = deploy.role_arn
        push = CiRole(
            f"{name}-image-push",
            CiRoleArgs(
                oidc_provider_arn=args.oidc_provider_arn,
                subject=f"repo:{args.app_repository}:ref:refs/heads/main",
                description=f"docker push of {args.app_repository}'s main branch to {args.ecr_namespace}/*",
                inline_policy=pulumi.Output.all(partition, account).apply(
                    lambda v: push_role_policy(
                        [
                            repository_arn(v[0], args.region, v[1], f"{args.ecr_namespace}/{repo}")
                            for repo in args.ecr_repositories
                        ]
                    )
                ),
            ),
            opts=child,
        )
        self.preview_role_arn = preview.role_arn
        self.drift_role_arn = drift.role_arn
        self.push_role_arn = push.role_arn
        self.register_outputs(
            {
                "previewRoleArn": self.preview_role_arn,
                "driftRoleArn": self.drift_role_arn,
                "deployRoleArns": self.deploy_role_arns,
                "pushRoleArn": self.push_role_arn,
                "roleBoundaryArns": self.role_boundary_arns,
            }
        )

    @staticmethod
    def _boundary_policy(args: CiRolesArgs, environment: str, values: list[str]) -> str:
        return role_boundary_policy(
            partition=values[0],
            account=values[1],
            environment=environment,
            environments=args.environments,
            projects=args.environment_projects,
            state_bucket=args.state_bucket,
            replica_bucket=args.replica_bucket,
            ecr_namespace=args.ecr_namespace,
        )

    @staticmethod
    def _deploy_policy(args: CiRolesArgs, environment: str, values: list[str]) -> str:
        return deploy_role_policy(
            partition=values[0],
            account=values[1],
            environment=environment,
            projects=args.state_projects,
            state_bucket=args.state_bucket,
            replica_bucket=args.replica_bucket,
            ecr_namespace=args.ecr_namespace,
        )

    @property
    def read_only_role_arns(self) -> list[pulumi.Output[str]]:
        return [self.preview_role_arn, self.drift_role_arn]

    @property
    def all_role_arns(self) -> list[pulumi.Output[str]]:
        return [*self.read_only_role_arns, *self.deploy_role_arns.values(), self.push_role_arn]
