"""The service's PostgreSQL on RDS: private, encrypted, no password anywhere, backed up, logged and watched.

pgvector needs nothing here: the extension is `vector`, it is not a preload library, and the workloads create
it inside the database (`CREATE EXTENSION IF NOT EXISTS vector`) with the endpoint and secret exported below.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.aws.data.store_security_group import store_security_group
from components.aws.security.encryption_key import EncryptionKey, EncryptionKeyArgs
from components.aws.security.irsa_role import service_trust_policy
from components.aws.security.role_limits import RoleLimits
from philosophy_infra.config.base import SECRET_RECOVERY_WINDOW_DAYS, DataProtection
from philosophy_infra.config.database import DatabaseConfig, DatabaseInsights, DatabaseRestore
from philosophy_infra.scram import scram_sha256_verifier
from philosophy_infra.service import DATABASE_MONITOR_USER, DATABASE_PORT

PORT = DATABASE_PORT
# Everything RDS for PostgreSQL exports; iam-db-auth-error is where a refused IAM login (the app's) says why.
LOG_EXPORTS = ("postgresql", "upgrade", "iam-db-auth-error")
# RDS keeps advanced Database Insights data for 15 months; standard mode keeps 7 days at no charge.
INSIGHTS_RETENTION_DAYS = {DatabaseInsights.STANDARD: 7, DatabaseInsights.ADVANCED: 465}
MONITORING_POLICY = "policy/service-role/AmazonRDSEnhancedMonitoringRole"


@dataclass(frozen=True, kw_only=True)
class DatabaseArgs:
    role_limits: RoleLimits
    identifier: str
    """The RDS instance identifier, fixed so its log groups can be created first, with retention."""
    settings: DatabaseConfig
    vpc_id: pulumi.Input[str]
    db_subnet_group_name: pulumi.Input[str]
    node_security_group_id: pulumi.Input[str]
    """The only security group whose members may connect, on 5432."""
    data_protection: DataProtection = DataProtection.PROTECTED
    backup_tags: Mapping[str, str] = field(default_factory=dict)
    """Tags AWS Backup selects the instance by (continuous backup: point-in-time recovery)."""


class Database(pulumi.ComponentResource):
    address: pulumi.Output[str]
    port: pulumi.Output[int]
    database_name: str
    master_secret_arn: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    """The `db-...` id that IAM database authentication policies (`rds-db:connect`) name."""
    key_arn: pulumi.Output[str]
    arn: pulumi.Output[str]
    """The KMS key of the data and of its secrets (readers of a secret need decrypt on it)."""
    monitor_secret_arn: pulumi.Output[str]
    """The monitoring user (`pg_monitor`), which postgres-exporter logs in as: `username`, `password`, and the
    password's SCRAM `verifier`, which is what the schema Job sets, so the password itself never reaches a SQL
    statement or the database's logs."""

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:Database", name, None, opts)
        settings = args.settings
        protected = args.data_protection is DataProtection.PROTECTED
        child = pulumi.ResourceOptions(parent=self)

        key = EncryptionKey(
            f"{name}-encryption",
            EncryptionKeyArgs(
                description=f"{args.identifier}: storage, snapshots, master secret, Database Insights, logs",
                alias=args.identifier,
                log_group_prefix=f"/aws/rds/instance/{args.identifier}/",
                data_protection=args.data_protection,
            ),
            opts=child,
        )
        security_group = store_security_group(
            name,
            parent=self,
            description=f"{args.identifier}: PostgreSQL from the EKS nodes only",
            vpc_id=args.vpc_id,
            port=PORT,
            node_security_group_id=args.node_security_group_id,
        )
        parameters = aws.rds.ParameterGroup(
            f"{name}-params",
            family=f"postgres{settings.engine_version}",
            description=f"{args.identifier} postgres{settings.engine_version}",
            parameters=parameter_list(settings.slow_query_threshold_ms),
            # A major upgrade brings a group of the new family; the old one stays attached until the
            # instance is modified (in the maintenance window in protected stacks), so it is left behind
            # rather than deleted too early. Remove it by hand after the upgrade.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        # RDS writes to these exact names; creating them first is how the retention gets set.
        log_groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-log-{kind}",
                name=f"/aws/rds/instance/{args.identifier}/{kind}",
                retention_in_days=settings.log_retention_days,
                # Statement logs can carry literal values; they are encrypted with the database's key.
                kms_key_id=key.key_arn,
                opts=child,
            )
            for kind in LOG_EXPORTS
        ]
        monitoring_role, monitoring_policy = self._monitoring_role(name, args.role_limits)
        # Final snapshots outlive the instance, so each instance needs its own name for one: a new suffix
        # whenever the instance would be replaced.
        final_snapshot_suffix = random.RandomId(
            f"{name}-final-snapshot-suffix",
            byte_length=4,
            keepers={"kmsKeyId": key.key_arn, "dbName": settings.database_name, "username": settings.master_username},
            opts=child,
        )

        instance = aws.rds.Instance(
            f"{name}-instance",
            identifier=args.identifier,
            engine="postgres",
            engine_version=settings.engine_version,
            # Without this RDS enrolls the instance in paid Extended Support when the major version ages out.
            engine_lifecycle_support="open-source-rds-extended-support-disabled",
            # Raising `engineVersion` in the stack config is the decision to upgrade; review sees it.
            allow_major_version_upgrade=True,
            auto_minor_version_upgrade=True,
            instance_class=settings.instance_class,
            storage_type="gp3",
            allocated_storage=settings.allocated_storage_gib,
            max_allocated_storage=settings.max_allocated_storage_gib,
            storage_encrypted=True,
            # Restored: the replicated backups' key, which a point-in-time restore keeps (RDS has no way to change
            # it); the instance's other data (its secret, logs, insights) stays under its own key.
            kms_key_id=settings.restore_from.kms_key_arn if settings.restore_from else key.key_arn,
            db_name=settings.database_name,
            username=settings.master_username,
            # RDS generates the password, keeps it in Secrets Manager and rotates it: it never exists here.
            manage_master_user_password=True,
            master_user_secret_kms_key_id=key.key_arn,
            iam_database_authentication_enabled=True,
            multi_az=settings.multi_az,
            db_subnet_group_name=args.db_subnet_group_name,
            vpc_security_group_ids=[security_group.id],
            publicly_accessible=False,
            port=PORT,
            ca_cert_identifier="rds-ca-rsa2048-g1",
            parameter_group_name=parameters.name,
            backup_retention_period=settings.backup_retention_days,
            backup_window=settings.backup_window,
            # RDS reports the window in lower case; writing it so keeps the diff empty.
            maintenance_window=settings.maintenance_window.lower(),
            copy_tags_to_snapshot=True,
            tags=dict(args.backup_tags) or None,
            delete_automated_backups=False,
            skip_final_snapshot=False,
            final_snapshot_identifier=pulumi.Output.concat(args.identifier, "-final-", final_snapshot_suffix.hex),
            deletion_protection=protected,
            # Protected environments take changes in the maintenance window, not in the middle of the day.
            apply_immediately=not protected,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            database_insights_mode=settings.insights.value,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=key.key_arn,
            performance_insights_retention_period=INSIGHTS_RETENTION_DAYS[settings.insights],
            monitoring_interval=settings.monitoring_interval_seconds,
            monitoring_role_arn=monitoring_role.arn,
            # A DR stack's instance starts as the failed region's, at its latest restorable time (or the one asked).
            restore_to_point_in_time=restore_point(settings.restore_from),
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=protected,
                # The identifier is fixed, so a replacement must delete first; `protect` still refuses it in
                # protected stacks, and the final snapshot is taken either way.
                delete_before_replace=True,
                depends_on=[*log_groups, monitoring_policy],
                # Once AWS Backup's continuous backup covers the instance, it owns the automated backups: it sets
                # their retention to its own and moves their window. Pulumi sets both at creation, then leaves
                # them to it (one owner), rather than undoing AWS Backup at every `up`.
                # Where it was restored from matters only at creation: dropping `restoreFrom` from the stack file
                # once the DR stack runs must not replace the database.
                ignore_changes=[
                    "restoreToPointInTime",
                    *(["backupRetentionPeriod", "backupWindow"] if args.backup_tags else []),
                ],
            ),
        )

        self.address = instance.address
        self.port = instance.port
        self.database_name = settings.database_name
        self.master_secret_arn = instance.master_user_secrets.apply(_secret_arn)
        self.resource_id = instance.resource_id
        self.key_arn = key.key_arn
        self.arn = instance.arn
        self.monitor_secret_arn = self._monitor_user(name, args, key.key_arn)
        self.register_outputs(
            {
                "address": self.address,
                "port": self.port,
                "databaseName": self.database_name,
                "masterSecretArn": self.master_secret_arn,
                "resourceId": self.resource_id,
            }
        )

    def _monitor_user(self, name: str, args: DatabaseArgs, key_arn: pulumi.Output[str]) -> pulumi.Output[str]:
        """postgres-exporter cannot log in with IAM tokens (it keeps one connection string for its life, and a token
        lasts 15 minutes), so its user has a password: generated here, kept encrypted in the state and in Secrets
        Manager, and given to PostgreSQL only as a salted SCRAM verifier."""
        child = pulumi.ResourceOptions(parent=self)
        password = random.RandomPassword(f"{name}-monitor-password", length=40, special=False, opts=child)
        salt = random.RandomBytes(f"{name}-monitor-salt", length=16, opts=child)
        secret = aws.secretsmanager.Secret(
            f"{name}-monitor",
            description=f"{args.identifier}: the monitoring user ({DATABASE_MONITOR_USER}, pg_monitor)",
            kms_key_id=key_arn,
            recovery_window_in_days=SECRET_RECOVERY_WINDOW_DAYS[args.data_protection],
            opts=child,
        )
        verifier = pulumi.Output.all(password.result, salt.base64).apply(
            lambda ps: scram_sha256_verifier(ps[0], base64.b64decode(ps[1]))
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-monitor-value",
            secret_id=secret.id,
            secret_string=pulumi.Output.json_dumps(
                {"username": DATABASE_MONITOR_USER, "password": password.result, "verifier": verifier}
            ),
            opts=pulumi.ResourceOptions(parent=secret),
        )
        return secret.arn

    def _monitoring_role(self, name: str, limits: RoleLimits) -> tuple[aws.iam.Role, aws.iam.RolePolicyAttachment]:
        """The role RDS enhanced monitoring assumes to publish OS metrics; only this account's RDS may."""
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        role = aws.iam.Role(
            f"{name}-monitoring",
            path=limits.path,
            permissions_boundary=limits.permissions_boundary,
            description="RDS enhanced monitoring",
            assume_role_policy=account.apply(lambda a: service_trust_policy("monitoring.rds.amazonaws.com", a)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-monitoring-policy",
            role=role.name,
            policy_arn=partition.apply(lambda p: f"arn:{p}:iam::aws:{MONITORING_POLICY}"),
            opts=pulumi.ResourceOptions(parent=role),
        )
        return role, attachment


def restore_point(restore: DatabaseRestore | None) -> aws.rds.InstanceRestoreToPointInTimeArgsDict | None:
    if restore is None:
        return None
    point: aws.rds.InstanceRestoreToPointInTimeArgsDict = {
        "source_db_instance_automated_backups_arn": restore.automated_backups_arn
    }
    if restore.restore_time is None:
        point["use_latest_restorable_time"] = True
    else:
        point["restore_time"] = restore.restore_time
    return point


def parameter_list(slow_query_threshold_ms: int) -> list[aws.rds.ParameterGroupParameterArgsDict]:
    """The parameters the service needs; everything else stays at the RDS default for the family."""
    return [
        # Query statistics for Database Insights and tuning. A static parameter: applied at the next reboot.
        {"name": "shared_preload_libraries", "value": "pg_stat_statements", "apply_method": "pending-reboot"},
        # Schema changes are logged; `all` (the seed's) would log every statement and the values in them.
        # DDL can still carry a password (ALTER ROLE ... PASSWORD): set those pre-hashed, or use IAM auth.
        {"name": "log_statement", "value": "ddl"},
        {"name": "log_min_duration_statement", "value": str(slow_query_threshold_ms)},
        {"name": "log_lock_waits", "value": "1"},
        {"name": "rds.force_ssl", "value": "1"},
    ]


def _secret_arn(secrets: Sequence[aws.rds.outputs.InstanceMasterUserSecret] | None) -> str:
    if not secrets or not secrets[0].secret_arn:
        raise ValueError("RDS reported no master user secret although manage_master_user_password is on")
    return secrets[0].secret_arn
