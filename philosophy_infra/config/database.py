"""The `database` section: PostgreSQL on RDS."""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import StrEnum

from philosophy_infra import windows
from philosophy_infra.config.base import LOG_RETENTION_DAYS, ConfigIssue, Model, window_issues
from philosophy_infra.support_calendar import POSTGRES_STANDARD_SUPPORT_END


class DatabaseInsights(StrEnum):
    """CloudWatch Database Insights, which replaced the Performance Insights console in 2026."""

    STANDARD = "standard"  # 7 days of performance history, no extra charge
    ADVANCED = "advanced"  # 15 months of history and per-query analysis, billed per vCPU


# PostgreSQL majors RDS creates today and ships pgvector for. 15.4 (the seed's) cannot be created any more.
POSTGRES_MAJOR_VERSIONS = tuple(POSTGRES_STANDARD_SUPPORT_END)
_DB_INSTANCE_CLASS = re.compile(r"^db\.[a-z0-9-]+\.[a-z0-9]+$")
_PG_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# PostgreSQL's reserved key words, which RDS refuses as a database or user name.
_PG_RESERVED_WORDS = frozenset(
    [
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "asymmetric",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "column",
        "constraint",
        "create",
        "current_catalog",
        "current_date",
        "current_role",
        "current_time",
        "current_timestamp",
        "current_user",
        "default",
        "deferrable",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "false",
        "fetch",
        "for",
        "foreign",
        "from",
        "grant",
        "group",
        "having",
        "in",
        "initially",
        "intersect",
        "into",
        "lateral",
        "leading",
        "limit",
        "localtime",
        "localtimestamp",
        "not",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "placing",
        "primary",
        "references",
        "returning",
        "select",
        "session_user",
        "some",
        "symmetric",
        "system_user",
        "table",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "variadic",
        "when",
        "where",
        "window",
        "with",
    ]
)
_PG_RESERVED_NAMES = frozenset({"postgres", "template0", "template1", "rdsadmin"})
_RDS_RESERVED_USERS = frozenset({"rdsadmin", "rdsrepladmin", "rds_superuser", "rds_replication", "public"})
MONITORING_INTERVALS = (1, 5, 10, 15, 30, 60)


_AUTOMATED_BACKUPS_ARN = re.compile(r"^arn:aws(-cn|-us-gov)?:rds:[a-z0-9-]+:\d{12}:auto-backup:ab-[a-z0-9]+$")
_RESTORE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class DatabaseRestore(Model):
    """Create the instance from another region's replicated automated backups instead of empty: a DR stack's
    database, restored to a point in time of the failed region's."""

    automated_backups_arn: str
    """`arn:aws:rds:<this region>:<account>:auto-backup:ab-...`: the AWS layer's `databaseBackupsReplicationArn`
    output of the stack that failed."""
    kms_key_arn: str
    """The key the replicated backups are encrypted with (the failed stack's `databaseReplicaKeyArn` output): RDS
    restores into it (a point-in-time restore cannot change the key), so the instance declares it."""
    restore_time: str | None = None
    """UTC, `2026-11-27T09:00:00Z`; none: the latest restorable time."""

    def issues(self, region: str) -> Iterator[ConfigIssue]:
        if not _AUTOMATED_BACKUPS_ARN.fullmatch(self.automated_backups_arn):
            yield ConfigIssue(
                "database.restoreFrom.automatedBackupsArn",
                self.automated_backups_arn,
                "must be a replicated automated backups ARN (arn:aws:rds:<region>:<account>:auto-backup:ab-...)",
            )
        elif self.automated_backups_arn.split(":")[3] != region:
            yield ConfigIssue(
                "database.restoreFrom.automatedBackupsArn",
                self.automated_backups_arn,
                f"must be in this stack's region ({region}): RDS restores replicated backups where they are",
            )
        key_arn = rf"arn:aws(-cn|-us-gov)?:kms:{re.escape(region)}:\d{{12}}:key/[0-9a-f-]+"
        if not re.fullmatch(key_arn, self.kms_key_arn):
            yield ConfigIssue(
                "database.restoreFrom.kmsKeyArn",
                self.kms_key_arn,
                f"must be a KMS key ARN in this stack's region ({region}): the replicated backups' key",
            )
        if self.restore_time is not None and not _RESTORE_TIME.fullmatch(self.restore_time):
            yield ConfigIssue(
                "database.restoreFrom.restoreTime", self.restore_time, "must be UTC like 2026-11-27T09:00:00Z"
            )


class DatabaseConfig(Model):
    engine_version: str = "17"
    """The PostgreSQL major version; RDS picks the minor and upgrades it in the maintenance window."""
    instance_class: str
    allocated_storage_gib: int = 100
    max_allocated_storage_gib: int = 1000
    """Storage autoscaling grows the volume up to this size; 0 turns autoscaling off."""
    multi_az: bool = True
    database_name: str = "philosophy_db"
    master_username: str = "philosophy_admin"
    backup_retention_days: int = 30
    backup_window: str = "03:00-06:00"
    maintenance_window: str = "Mon:00:00-Mon:03:00"
    log_retention_days: int = 365
    slow_query_threshold_ms: int = 1000
    insights: DatabaseInsights = DatabaseInsights.STANDARD
    monitoring_interval_seconds: int = 60
    restore_from: DatabaseRestore | None = None
    """A DR stack's: restore the instance from replicated automated backups when it is created."""

    def issues(self, protected: bool, region: str = "") -> Iterator[ConfigIssue]:
        if self.restore_from is not None:
            yield from self.restore_from.issues(region)
        if self.engine_version not in POSTGRES_MAJOR_VERSIONS:
            yield ConfigIssue(
                "database.engineVersion",
                self.engine_version,
                "must be a PostgreSQL major version RDS can create with pgvector: "
                f"{', '.join(POSTGRES_MAJOR_VERSIONS)} (the major only; RDS keeps the minor current)",
            )
        if not _DB_INSTANCE_CLASS.fullmatch(self.instance_class):
            yield ConfigIssue("database.instanceClass", self.instance_class, "must be an RDS class like db.r6g.xlarge")
        if not 20 <= self.allocated_storage_gib <= 65536:
            yield ConfigIssue(
                "database.allocatedStorageGib", self.allocated_storage_gib, "gp3 volumes are 20 to 65536 GiB"
            )
        # RDS wants the autoscaling ceiling at least 10% above the volume.
        ceiling_floor = -(-self.allocated_storage_gib * 11 // 10)
        if self.max_allocated_storage_gib != 0 and not ceiling_floor <= self.max_allocated_storage_gib <= 65536:
            yield ConfigIssue(
                "database.maxAllocatedStorageGib",
                self.max_allocated_storage_gib,
                f"must be 0 (no autoscaling) or between {ceiling_floor} (allocatedStorageGib "
                f"{self.allocated_storage_gib} + 10%) and 65536",
            )
        reserved_names, reserved_users = (
            _PG_RESERVED_NAMES | _PG_RESERVED_WORDS,
            _RDS_RESERVED_USERS | _PG_RESERVED_WORDS,
        )
        if not _PG_IDENTIFIER.fullmatch(self.database_name) or self.database_name in reserved_names:
            yield ConfigIssue(
                "database.databaseName",
                self.database_name,
                "must be 1-63 lowercase letters, digits or '_', start with a letter, and be neither a SQL key "
                f"word nor {', '.join(sorted(_PG_RESERVED_NAMES))}",
            )
        if not _PG_IDENTIFIER.fullmatch(self.master_username) or self.master_username in reserved_users:
            yield ConfigIssue(
                "database.masterUsername",
                self.master_username,
                "must be 1-63 lowercase letters, digits or '_', start with a letter, and be neither a SQL key "
                f"word nor a name RDS reserves ({', '.join(sorted(_RDS_RESERVED_USERS))})",
            )
        minimum_retention = 7 if protected else 1
        if not minimum_retention <= self.backup_retention_days <= 35:
            yield ConfigIssue(
                "database.backupRetentionDays",
                self.backup_retention_days,
                f"must be {minimum_retention}-35 days"
                + (" in a protected environment" if protected else " (0 would turn automated backups off)"),
            )
        found, parsed = window_issues(
            "database",
            {
                "backupWindow": (self.backup_window, windows.parse_daily, 30),
                "maintenanceWindow": (self.maintenance_window, windows.parse_weekly, 30),
            },
        )
        yield from found
        if len(parsed) == 2 and windows.overlap(parsed["backupWindow"], parsed["maintenanceWindow"]):
            yield ConfigIssue(
                "database.backupWindow",
                self.backup_window,
                f"overlaps the maintenance window {self.maintenance_window}; RDS refuses overlapping windows",
            )
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            yield ConfigIssue(
                "database.logRetentionDays", self.log_retention_days, "must be a CloudWatch Logs retention value"
            )
        if self.slow_query_threshold_ms < 100:
            yield ConfigIssue(
                "database.slowQueryThresholdMs",
                self.slow_query_threshold_ms,
                "must be at least 100 ms: lower values log nearly every statement, with its parameters",
            )
        if self.monitoring_interval_seconds not in MONITORING_INTERVALS:
            yield ConfigIssue(
                "database.monitoringIntervalSeconds",
                self.monitoring_interval_seconds,
                f"enhanced monitoring intervals are {', '.join(map(str, MONITORING_INTERVALS))} seconds",
            )
