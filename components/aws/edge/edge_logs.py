"""Log groups for the edge's global services, in us-east-1: CloudFront's standard logging (v2) and a CLOUDFRONT-scope
WAF both deliver there and nowhere else.

Each group is an `encrypted_log_group` in us-east-1: its own rotating KMS key there, which CloudWatch Logs may use
for that group only, a retention set by the stack's data protection, and a
resource policy on the group itself that lets AWS's log delivery write to it for this account only. Without that
policy the services create or grow an account-wide one on first delivery (`AWSWAF-LOGS`, which the provider warns
can outgrow its size limit), and whoever deploys would need `logs:PutResourcePolicy` for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.edge.certificates import CLOUDFRONT_REGION
from components.aws.security.encryption_key import encrypted_log_group
from philosophy_infra.config.base import DataProtection

EDGE_LOG_RETENTION_DAYS = {DataProtection.PROTECTED: 365, DataProtection.SNAPSHOT_ONLY: 30}
"""Access and WAF logs are kept like the VPC flow logs (a year) where the stack protects data, a month elsewhere."""
LOG_DELIVERY = "delivery.logs.amazonaws.com"


def delivery_policy(partition: str, account: str, log_group_arn: str) -> str:
    """AWS's log delivery (vended logs: CloudFront v2, WAF) may write streams of this group, for this account only:
    the statement the services would create themselves, scoped to one group."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "LogDeliveryWritesThisGroup",
                    "Effect": "Allow",
                    "Principal": {"Service": LOG_DELIVERY},
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": f"{log_group_arn}:log-stream:*",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {"aws:SourceArn": f"arn:{partition}:logs:{CLOUDFRONT_REGION}:{account}:*"},
                    },
                }
            ],
        }
    )


@dataclass(frozen=True)
class EdgeLogGroup:
    group: aws.cloudwatch.LogGroup
    delivery_policy: aws.cloudwatch.LogResourcePolicy
    """What a delivery (WAF's logging configuration, CloudFront's log delivery) waits for."""


def edge_log_group(
    resource_name: str,
    *,
    log_group_name: str,
    description: str,
    alias: str,
    data_protection: DataProtection,
    parent: pulumi.Resource,
) -> EdgeLogGroup:
    """The group `log_group_name` in us-east-1 with its key (`<resource_name>-key`, alias `alias/<alias>`) and its
    delivery policy, children of `parent`."""
    invoke = pulumi.InvokeOutputOptions(parent=parent)
    account = aws.get_caller_identity_output(opts=invoke).account_id
    partition = aws.get_partition_output(opts=invoke).partition
    group = encrypted_log_group(
        resource_name,
        key_resource_name=resource_name,
        log_group_name=log_group_name,
        retention_days=EDGE_LOG_RETENTION_DAYS[data_protection],
        description=description,
        alias=alias,
        data_protection=data_protection,
        parent=parent,
        region=CLOUDFRONT_REGION,
    )
    policy = aws.cloudwatch.LogResourcePolicy(
        f"{resource_name}-delivery",
        resource_arn=group.arn,
        region=CLOUDFRONT_REGION,
        policy_document=pulumi.Output.all(partition, account, group.arn).apply(
            lambda pag: delivery_policy(pag[0], pag[1], pag[2])
        ),
        opts=pulumi.ResourceOptions(parent=group),
    )
    return EdgeLogGroup(group, policy)
