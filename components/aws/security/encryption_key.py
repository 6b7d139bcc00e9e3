"""A customer managed KMS key with rotation and an alias, for one data store's encryption at rest."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from philosophy_infra.config.base import DataProtection


@dataclass(frozen=True, kw_only=True)
class EncryptionKeyArgs:
    description: str
    alias: str
    """Without the `alias/` prefix, e.g. `philosophy-prod-database`."""
    log_group_prefix: str | None = None
    """CloudWatch Logs may encrypt the log groups whose names start with this prefix; none if unset."""
    data_protection: DataProtection = DataProtection.PROTECTED
    service_users: tuple[str, ...] = ()
    """AWS services (e.g. `cloudwatch.amazonaws.com`) that may encrypt with the key on this account's behalf,
    such as CloudWatch alarms publishing to an encrypted SNS topic."""
    region: str | None = None
    """Another region than the stack's (the edge's logs: us-east-1); None: the provider's."""


class EncryptionKey(pulumi.ComponentResource):
    key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: EncryptionKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:EncryptionKey", name, None, opts)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        region = args.region or aws.get_region_output(opts=invoke).region
        prefix = args.log_group_prefix
        key = aws.kms.Key(
            f"{name}-key",
            description=args.description,
            region=args.region,
            enable_key_rotation=True,
            # The longest wait KMS allows: a scheduled deletion can be cancelled for a month.
            deletion_window_in_days=30,
            policy=pulumi.Output.all(partition, account, region).apply(
                lambda par: account_key_policy(
                    par[0], par[1], logs=(par[2], prefix) if prefix else None, services=args.service_users
                )
            ),
            # The final snapshots and retained backups outlive the data store, and they are unreadable
            # without this key: a destroy leaves it behind in every environment (about $1 a month).
            opts=pulumi.ResourceOptions(
                parent=self, protect=args.data_protection is DataProtection.PROTECTED, retain_on_delete=True
            ),
        )
        aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/{args.alias}",
            target_key_id=key.key_id,
            region=args.region,
            opts=pulumi.ResourceOptions(parent=key),
        )
        self.key_arn = key.arn
        self.register_outputs({"keyArn": self.key_arn})


def encrypted_log_group(
    resource_name: str,
    *,
    key_resource_name: str,
    log_group_name: str,
    retention_days: int,
    description: str,
    alias: str,
    data_protection: DataProtection,
    parent: pulumi.Resource,
    key_scope: str | None = None,
    tags: dict[str, str] | None = None,
    region: str | None = None,
) -> aws.cloudwatch.LogGroup:
    """A log group created before whatever writes to it (so it has a retention), encrypted with its own key,
    which CloudWatch Logs may use for the log groups under `key_scope` (default: this one) only."""
    key = EncryptionKey(
        key_resource_name,
        EncryptionKeyArgs(
            description=description,
            alias=alias,
            log_group_prefix=key_scope or log_group_name,
            data_protection=data_protection,
            region=region,
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return aws.cloudwatch.LogGroup(
        resource_name,
        name=log_group_name,
        retention_in_days=retention_days,
        kms_key_id=key.key_arn,
        tags=tags,
        region=region,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def account_key_policy(
    partition: str, account: str, logs: tuple[str, str] | None = None, services: tuple[str, ...] = ()
) -> str:
    """The account administers the key through IAM (the KMS default, written down); services use grants.

    With `logs=(region, prefix)`, CloudWatch Logs in that region may also use the key, for the log groups
    whose names start with `prefix` only (the encryption context names the log group)."""
    statements: list[dict[str, object]] = [
        {
            "Sid": "AccountAdministersKeyThroughIam",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    if logs:
        region, prefix = logs
        log_groups = f"arn:{partition}:logs:{region}:{account}:log-group:{prefix}*"
        statements.append(
            {
                "Sid": "CloudWatchLogsEncryptsTheseLogGroups",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                "Resource": "*",
                "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
            }
        )
    if services:
        statements.append(
            {
                "Sid": "ServicesUseTheKeyForThisAccount",
                "Effect": "Allow",
                "Principal": {"Service": list(services)},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})
