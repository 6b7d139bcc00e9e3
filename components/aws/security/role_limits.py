"""Where the AWS layer's IAM roles live and how far they can reach: one path and one permissions boundary per
environment (stack).

The bootstrap creates each environment's boundary (a managed policy under its own path) and lets that
environment's deploy role create, change and pass roles only under `role_path(environment)`, and only with that
boundary attached. So a deploy role cannot mint a role stronger than the boundary, nor re-point a role it does
not own (`cluster.adminRoleArn`'s, the bootstrap's, another environment's) at anyone; and the boundary keeps its
roles out of the other environments' state. Every `aws.iam.Role` of the AWS layer takes its `path` and
`permissions_boundary` from a `RoleLimits`; the policy pack's `iam-role-bounded` refuses one that does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

LAYER_PATH = "/philosophy-infra/"
BOUNDARY_PATH = "/philosophy-bootstrap/"


def role_path(environment: str) -> str:
    return f"{LAYER_PATH}{environment}/"


def boundary_name(environment: str) -> str:
    return f"philosophy-infra-{environment}-boundary"


def boundary_arn(partition: str, account: str, environment: str) -> str:
    return f"arn:{partition}:iam::{account}:policy{BOUNDARY_PATH}{boundary_name(environment)}"


@dataclass(frozen=True, kw_only=True)
class RoleLimits:
    path: str
    permissions_boundary: pulumi.Input[str]
    """The boundary policy's ARN."""

    @staticmethod
    def of_environment(environment: str, opts: pulumi.InvokeOutputOptions | None = None) -> RoleLimits:
        """The bootstrap's limits for this environment, in the account of the current credentials."""
        partition = aws.get_partition_output(opts=opts).partition
        account = aws.get_caller_identity_output(opts=opts).account_id
        return RoleLimits(
            path=role_path(environment),
            permissions_boundary=pulumi.Output.all(partition, account).apply(
                lambda v: boundary_arn(v[0], v[1], environment)
            ),
        )
