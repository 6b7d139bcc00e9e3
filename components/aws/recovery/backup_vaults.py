"""Where AWS Backup keeps recovery points: a vault in the stack's region and one in the DR region, each encrypted
with a key of its own in its region (a copy is re-encrypted with the destination's key), and locked against early
deletion in protected stacks.

The vault lock's mode is `disasterRecovery.vaultLock`: `governance` (the default in protected stacks) refuses
deleting a recovery point before its retention, except to a principal allowed to remove the lock; `compliance`
refuses it to everyone, AWS and root included, and the lock itself cannot be removed three days after it is set
(`changeable_for_days`), nor can the vault be deleted while it holds recovery points. Compliance is only ever set
where the stack file says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.security.encryption_key import EncryptionKey, EncryptionKeyArgs
from philosophy_infra.config.base import DataProtection
from philosophy_infra.config.recovery import VaultLock
from philosophy_infra.naming import backup_vault_name, dr_backup_vault_name

LOCK_MIN_RETENTION_DAYS = 7
"""No recovery point in a locked vault may be kept less: every rule's retention is at least this."""
LOCK_MAX_RETENTION_DAYS = 400
COMPLIANCE_GRACE_DAYS = 3
"""How long a compliance lock can still be removed after it is set; then never."""


@dataclass(frozen=True, kw_only=True)
class BackupVaultsArgs:
    name_prefix: str
    dr_provider: pulumi.ProviderResource | None
    """The AWS provider of the DR region; None: no vault there (`disasterRecovery.crossRegion` off)."""
    vault_lock: VaultLock
    data_protection: DataProtection = DataProtection.PROTECTED


class BackupVaults(pulumi.ComponentResource):
    vault_name: pulumi.Output[str]
    vault_arn: pulumi.Output[str]
    dr_vault_arn: pulumi.Output[str] | None
    """None without a DR region."""

    def __init__(self, name: str, args: BackupVaultsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:BackupVaults", name, None, opts)
        protected = args.data_protection is DataProtection.PROTECTED
        vaults: dict[str, aws.backup.Vault] = {}
        regions: list[tuple[str, str, pulumi.ProviderResource | None]] = [
            ("backup", backup_vault_name(args.name_prefix), None)
        ]
        if args.dr_provider is not None:
            regions.append(("backup-dr", dr_backup_vault_name(args.name_prefix), args.dr_provider))
        for suffix, vault_name, provider in regions:
            in_region = pulumi.ResourceOptions(parent=self, provider=provider)
            key = EncryptionKey(
                f"{name}-{suffix}-encryption",
                EncryptionKeyArgs(
                    description=f"{args.name_prefix}: AWS Backup's recovery points ({suffix})",
                    alias=vault_name,
                    data_protection=args.data_protection,
                ),
                opts=pulumi.ResourceOptions(parent=self, providers={"aws": provider} if provider else None),
            )
            vault = aws.backup.Vault(
                f"{name}-{suffix}",
                # The exact name: `philosophy-infra dr status` finds the vaults by it.
                name=vault_name,
                kms_key_arn=key.key_arn,
                force_destroy=False,
                opts=pulumi.ResourceOptions.merge(in_region, pulumi.ResourceOptions(protect=protected)),
            )
            if args.vault_lock is not VaultLock.OFF:
                aws.backup.VaultLockConfiguration(
                    f"{name}-{suffix}-lock",
                    backup_vault_name=vault.name,
                    min_retention_days=LOCK_MIN_RETENTION_DAYS,
                    max_retention_days=LOCK_MAX_RETENTION_DAYS,
                    # Set: compliance mode (immutable after the grace period). Unset: governance mode.
                    changeable_for_days=COMPLIANCE_GRACE_DAYS if args.vault_lock is VaultLock.COMPLIANCE else None,
                    opts=pulumi.ResourceOptions(parent=vault, provider=provider),
                )
            # Only AWS Backup's lifecycle removes a recovery point: nobody deletes one or shortens its life by hand
            # (the audit framework's manual-deletion control reads this policy).
            aws.backup.VaultPolicy(
                f"{name}-{suffix}-policy",
                backup_vault_name=vault.name,
                policy=vault.arn.apply(no_manual_deletion_policy),
                opts=pulumi.ResourceOptions(parent=vault, provider=provider),
            )
            vaults[suffix] = vault
        vault = vaults["backup"]
        self.vault_name, self.vault_arn = vault.name, vault.arn
        self.dr_vault_arn = vaults["backup-dr"].arn if "backup-dr" in vaults else None
        self.register_outputs({"vaultArn": self.vault_arn, "drVaultArn": self.dr_vault_arn})


def no_manual_deletion_policy(vault_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "NoManualDeletion",
                    "Effect": "Deny",
                    "Principal": {"AWS": "*"},
                    "Action": ["backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle"],
                    "Resource": "*",
                }
            ],
        }
    )
