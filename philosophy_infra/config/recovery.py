"""The disaster-recovery section (`philosophy-infra:disasterRecovery`): the region the backups are copied to, the
objectives `philosophy-infra dr status` and `dr drill` measure them against, and how the backups are guarded and
proven (vault lock, restore testing, the audit framework)."""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum

from pydantic import Field

from philosophy_infra import regions
from philosophy_infra.config.base import REGION_KEY, ConfigIssue, Model

_KEY = "disasterRecovery.region"


class VaultLock(StrEnum):
    """How AWS Backup's vaults refuse early deletion of recovery points."""

    OFF = "off"
    GOVERNANCE = "governance"
    """Recovery points cannot be deleted before their retention, except by a principal allowed
    `backup:DeleteBackupVaultLockConfiguration`, who can also remove the lock."""
    COMPLIANCE = "compliance"
    """The same, for everyone, AWS and the account's root included, and the lock itself becomes immutable three
    days after it is set: the vaults cannot be deleted while they hold recovery points. Irreversible."""


class RecoveryConfig(Model):
    region: str
    """The DR region: the database's automated backups are replicated there, AWS Backup copies its vault there."""
    cross_region: bool = True
    """Copy and replicate to `region`. Off only while `region` is unreachable: a DR stack running because its home
    region is lost cannot create anything there (its stack file turns it on when the region is back)."""
    rpo_hours: int = Field(default=1, ge=1, le=24)
    """Recovery point objective: the newest recovery point of every protected resource, in each region, is at
    most this old."""
    rto_hours: int = Field(default=4, ge=1, le=72)
    """Recovery time objective: a restore of the database into the DR region answers within this time."""
    vault_lock: VaultLock | None = None
    """None: `governance` in protected stacks, `off` elsewhere. `compliance` only when written here."""
    continuous_retention_days: int = Field(default=35, ge=1, le=35)
    """Point-in-time recovery of the database and the assets bucket (AWS Backup's continuous backup, 35 at most)."""
    snapshot_retention_days: int = Field(default=7, ge=7, le=400)
    """Hourly recovery points in the stack's region (the vault lock's minimum, 7)."""
    copy_retention_days: int = Field(default=14, ge=7, le=400)
    """Their copies in the DR region."""
    restore_testing: bool = True
    """A weekly restore of the latest recovery points of the database and the assets bucket, timed."""
    audit_framework: bool = False
    """AWS Backup Audit Manager's framework (the RPO as a control). Needs AWS Config recording the resource types
    in the region (an account-wide setting, not this stack's): turn it on where it records."""

    def lock_issues(self, protected: bool) -> Iterator[ConfigIssue]:
        """A locked vault refuses recovery points kept less than its minimum (7 days)."""
        if self.effective_vault_lock(protected) is not VaultLock.OFF and self.continuous_retention_days < 7:
            yield ConfigIssue(
                "disasterRecovery.continuousRetentionDays",
                self.continuous_retention_days,
                "must be at least 7 while the vaults are locked (their minimum retention)",
            )

    def effective_vault_lock(self, protected: bool) -> VaultLock:
        if self.vault_lock is not None:
            return self.vault_lock
        return VaultLock.GOVERNANCE if protected else VaultLock.OFF

    def issues(self, stack_region: str) -> Iterator[ConfigIssue]:
        if problem := regions.region_problem(self.region):
            yield ConfigIssue(_KEY, self.region, problem)
        elif self.region == stack_region:
            yield ConfigIssue(
                _KEY, self.region, f"must differ from {REGION_KEY}: a copy in the same region is lost with it"
            )
        elif _partition(self.region) != _partition(stack_region):
            # Backups are not copied across partitions (aws, aws-cn, aws-us-gov): they are separate clouds.
            yield ConfigIssue(_KEY, self.region, f"must be in the same AWS partition as {REGION_KEY} ({stack_region})")
        if self.copy_retention_days < self.snapshot_retention_days:
            yield ConfigIssue(
                "disasterRecovery.copyRetentionDays",
                self.copy_retention_days,
                f"must be at least snapshotRetentionDays ({self.snapshot_retention_days}): the DR copy outlives "
                "the original",
            )


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"
