"""A customer managed KMS key with rotation and an alias, for one data store's encryption at rest."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from philosophy_infra.config import DataProtection


@dataclass(frozen=True, kw_only=True)
class EncryptionKeyArgs:
    description: str
    alias: str
    """Without the `alias/` prefix, e.g. `philosophy-prod-database`."""
    data_protection: DataProtection = DataProtection.PROTECTED


class EncryptionKey(pulumi.ComponentResource):
    key_arn: pulumi.Output[str]
    key_id: pulumi.Output[str]

    def __init__(self, name: str, args: EncryptionKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:EncryptionKey", name, None, opts)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        key = aws.kms.Key(
            f"{name}-key",
            description=args.description,
            enable_key_rotation=True,
            # The longest wait KMS allows: a scheduled deletion can be cancelled for a month.
            deletion_window_in_days=30,
            policy=pulumi.Output.all(partition, account).apply(lambda pa: account_key_policy(pa[0], pa[1])),
            # Deleting the key makes everything encrypted with it, snapshots included, unreadable.
            opts=pulumi.ResourceOptions(parent=self, protect=args.data_protection is DataProtection.PROTECTED),
        )
        aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/{args.alias}",
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=key),
        )
        self.key_arn = key.arn
        self.key_id = key.key_id
        self.register_outputs({"keyArn": self.key_arn})


def account_key_policy(partition: str, account: str) -> str:
    """The account administers the key through IAM (the KMS default, written down); services use grants."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministersKeyThroughIam",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    )
