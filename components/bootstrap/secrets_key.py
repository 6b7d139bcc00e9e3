"""The KMS key of the stacks' `awskms://alias/<alias>` secrets provider: Pulumi wraps each stack's data key
with it, so every stack's secrets (config and state) are unreadable without it.

A multi-Region key with a replica in the DR region: the same key material under the same key id, so the state's
replica is usable there (`awskms://alias/<alias>?region=<dr region>`) while the home region is down."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.bootstrap.policies import secrets_key_policy
from philosophy_infra.config.base import DataProtection


@dataclass(frozen=True, kw_only=True)
class SecretsKeyArgs:
    alias: str
    """Without `alias/`: the name the stacks' `secretsprovider:` URL carries."""
    deploy_role_arns: Sequence[pulumi.Input[str]]
    """Encrypt (a new stack's data key) and decrypt."""
    read_only_role_arns: Sequence[pulumi.Input[str]]
    """Decrypt only (preview, drift): they read secrets, never write them."""
    other_ci_role_arns: Sequence[pulumi.Input[str]] = field(default_factory=tuple)
    """CI roles that must not use the key at all (the image push role)."""
    dr_provider: pulumi.ProviderResource | None = None
    """An AWS provider for the DR region: the key's replica (and its alias) are created through it."""
    data_protection: DataProtection = DataProtection.PROTECTED


class SecretsKey(pulumi.ComponentResource):
    key_arn: pulumi.Output[str]
    alias_name: str

    def __init__(self, name: str, args: SecretsKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:SecretsKey", name, None, opts)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        protected = args.data_protection is DataProtection.PROTECTED
        account = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        deploy, read_only, others = len(args.deploy_role_arns), len(args.read_only_role_arns), args.other_ci_role_arns
        policy = pulumi.Output.all(
            partition, account, *args.deploy_role_arns, *args.read_only_role_arns, *others
        ).apply(
            lambda v: secrets_key_policy(
                partition=v[0],
                account=v[1],
                deploy_role_arns=v[2 : 2 + deploy],
                read_only_role_arns=v[2 + deploy : 2 + deploy + read_only],
                other_ci_role_arns=v[2 + deploy + read_only :],
            )
        )
        key = aws.kms.Key(
            f"{name}-key",
            description="Pulumi stack secrets (awskms:// secrets provider of every stack in this account)",
            enable_key_rotation=True,
            # The longest wait KMS allows: a scheduled deletion can be cancelled for a month.
            deletion_window_in_days=30,
            multi_region=args.dr_provider is not None,
            policy=policy,
            # Without it no stack's secrets can be read again, so a destroy of the bootstrap leaves it behind.
            opts=pulumi.ResourceOptions(parent=self, protect=protected, retain_on_delete=True),
        )
        self.alias_name = f"alias/{args.alias}"
        aws.kms.Alias(
            f"{name}-alias", name=self.alias_name, target_key_id=key.key_id, opts=pulumi.ResourceOptions(parent=key)
        )
        if args.dr_provider is not None:
            # Rotation follows the primary; the policy is the primary's (a replica's is its own).
            replica = aws.kms.ReplicaKey(
                f"{name}-replica",
                primary_key_arn=key.arn,
                description="Pulumi stack secrets: the DR region's replica of the multi-Region key",
                deletion_window_in_days=30,
                policy=policy,
                opts=pulumi.ResourceOptions(
                    parent=self, provider=args.dr_provider, protect=protected, retain_on_delete=True
                ),
            )
            aws.kms.Alias(
                f"{name}-replica-alias",
                name=self.alias_name,
                target_key_id=replica.key_id,
                opts=pulumi.ResourceOptions(parent=replica, provider=args.dr_provider),
            )
        self.key_arn = key.arn
        self.register_outputs({"keyArn": self.key_arn, "aliasName": self.alias_name})
