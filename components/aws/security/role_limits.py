"""Where the AWS layer's IAM roles live and how far they can reach: one path and one permissions boundary.

The bootstrap creates the boundary (a managed policy under its own path) and lets the environments' deploy roles
create, change and pass roles only under `ROLE_PATH`, and only with this boundary attached. So a deploy role
cannot mint a role stronger than the boundary, nor re-point a role it does not own (`cluster.adminRoleArn`'s,
the bootstrap's) at anyone. Every `aws.iam.Role` of the AWS layer takes its `path` and `permissions_boundary`
from a `RoleLimits`; the policy pack's `iam-role-bounded` refuses one that does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

ROLE_PATH = "/philosophy-infra/"
BOUNDARY_PATH = "/philosophy-bootstrap/"
BOUNDARY_NAME = "philosophy-infra-role-boundary"


def boundary_arn(partition: str, account: str) -> str:
    return f"arn:{partition}:iam::{account}:policy{BOUNDARY_PATH}{BOUNDARY_NAME}"


@dataclass(frozen=True, kw_only=True)
class RoleLimits:
    permissions_boundary: pulumi.Input[str]
    """The boundary policy's ARN."""
    path: str = ROLE_PATH

    @staticmethod
    def of_this_account(opts: pulumi.InvokeOutputOptions | None = None) -> RoleLimits:
        """The bootstrap's boundary in the account of the current credentials."""
        partition = aws.get_partition_output(opts=opts).partition
        account = aws.get_caller_identity_output(opts=opts).account_id
        return RoleLimits(permissions_boundary=pulumi.Output.all(partition, account).apply(lambda v: boundary_arn(*v)))
