"""Evidence that the backups restore, continuously, instead of a claim:

- A restore testing plan: every Sunday AWS Backup restores the latest recovery point (continuous or snapshot) of
  the database and of the assets bucket from the last week, into isolated settings (the database into its subnet
  group behind a security group that admits nothing), keeps it for an hour of validation, deletes it, and records
  each restore job's duration: evidence against the RTO (`philosophy-infra dr status` shows the last one).
- With `disasterRecovery.auditFramework`, an AWS Backup Audit Manager framework whose controls include the RPO
  itself (`BACKUP_LAST_RECOVERY_POINT_CREATED` within `rpoHours`), the RTO (the restore tests' durations),
  encryption, protection by a plan, a cross-region copy and the vault lock. Audit Manager evaluates controls
  through AWS Config, which must be recording these resource types in the region: an account-wide setting, so the
  switch is off by default.
- Report plans that write the restore jobs (and the framework's compliance) to an S3 bucket of their own,
  encrypted, TLS only, kept a year.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.data.private_bucket import private_bucket_settings
from components.aws.recovery.backup_plans import BACKUP_SCOPE_TAG_KEY
from components.aws.security.policy_statements import tls_only_statements
from philosophy_infra.config.base import DataProtection
from philosophy_infra.config.recovery import RecoveryConfig, VaultLock
from philosophy_infra.naming import restore_testing_plan_name

RESTORE_TEST_SCHEDULE = "cron(0 3 ? * SUN *)"
REPORT_RETENTION_DAYS = 365


@dataclass(frozen=True, kw_only=True)
class RecoveryProofArgs:
    name_prefix: str
    settings: RecoveryConfig
    vault_lock: VaultLock
    dr_region: str
    vault_arn: pulumi.Input[str]
    backup_role_arn: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    database_arn: pulumi.Input[str]
    database_subnet_group_name: pulumi.Input[str]
    assets_bucket_arn: pulumi.Input[str]
    data_protection: DataProtection = DataProtection.PROTECTED


class RecoveryProof(pulumi.ComponentResource):
    restore_testing_plan_name: str
    framework_arn: pulumi.Output[str] | None
    reports_bucket_name: pulumi.Output[str]

    def __init__(self, name: str, args: RecoveryProofArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:RecoveryProof", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        s = args.settings
        self.restore_testing_plan_name = restore_testing_plan_name(args.name_prefix)
        if s.restore_testing:
            isolated = aws.ec2.SecurityGroup(
                f"{name}-isolated",
                vpc_id=args.vpc_id,
                description=f"{args.name_prefix}: restore tests, no traffic in or out",
                # No rules: AWS's default allow-all egress is removed when the group is created.
                tags={"Name": f"{args.name_prefix}-restore-tests"},
                opts=child,
            )
            plan = aws.backup.RestoreTestingPlan(
                f"{name}-restore-testing",
                name=self.restore_testing_plan_name,
                schedule_expression=RESTORE_TEST_SCHEDULE,
                schedule_expression_timezone="Etc/UTC",
                start_window_hours=24,
                recovery_point_selection={
                    "algorithm": "LATEST_WITHIN_WINDOW",
                    "include_vaults": [args.vault_arn],
                    "recovery_point_types": ["CONTINUOUS", "SNAPSHOT"],
                    "selection_window_days": 7,
                },
                opts=child,
            )
            on_plan = pulumi.ResourceOptions(parent=plan)
            aws.backup.RestoreTestingSelection(
                f"{name}-restore-testing-database",
                name="database",
                restore_testing_plan_name=plan.name,
                protected_resource_type="RDS",
                iam_role_arn=args.backup_role_arn,
                protected_resource_arns=[args.database_arn],
                # The copy lands beside production but reaches nothing and is reached by nothing.
                restore_metadata_overrides=pulumi.Output.all(args.database_subnet_group_name, isolated.id).apply(
                    lambda v: {"dbsubnetgroupname": v[0], "vpcsecuritygroupids": json.dumps([v[1]])}
                ),
                validation_window_hours=1,
                opts=on_plan,
            )
            aws.backup.RestoreTestingSelection(
                f"{name}-restore-testing-assets",
                name="assets",
                restore_testing_plan_name=plan.name,
                protected_resource_type="S3",
                iam_role_arn=args.backup_role_arn,
                protected_resource_arns=[args.assets_bucket_arn],
                validation_window_hours=1,
                opts=on_plan,
            )

        self.framework_arn = None
        if s.audit_framework:
            framework = aws.backup.Framework(
                f"{name}-framework",
                name=f"{args.name_prefix.replace('-', '_')}_recovery",
                description=f"{args.name_prefix}: the RPO and the protection of every backed-up resource",
                controls=framework_controls(
                    args.name_prefix,
                    s.rpo_hours,
                    s.rto_hours,
                    args.dr_region if s.cross_region else None,
                    args.vault_lock,
                ),
                opts=child,
            )
            self.framework_arn = framework.arn

        bucket = aws.s3.Bucket(
            f"{name}-reports",
            force_destroy=False,
            tags={"Name": f"{args.name_prefix}-backup-reports"},
            opts=pulumi.ResourceOptions(parent=self, protect=args.data_protection is DataProtection.PROTECTED),
        )
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        policy_applied: list[pulumi.Resource] = []
        versioning = private_bucket_settings(
            f"{name}-reports",
            bucket,
            # SSE-S3: Audit Manager's service-linked role writes the reports and would need a grant on a customer key.
            default_encryption={"sse_algorithm": "AES256"},
            policy=pulumi.Output.all(bucket.arn, partition, account).apply(
                lambda v: reports_bucket_policy(v[0], v[1], v[2])
            ),
            policy_applied=policy_applied,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-reports-lifecycle",
            bucket=bucket.id,
            rules=[
                {
                    "id": "expire-reports",
                    "status": "Enabled",
                    "filter": {"prefix": ""},
                    "expiration": {"days": REPORT_RETENTION_DAYS},
                    "noncurrent_version_expiration": {"noncurrent_days": 1},
                }
            ],
            opts=pulumi.ResourceOptions(parent=bucket, depends_on=[versioning]),
        )
        reports: dict[str, aws.backup.ReportPlanReportSettingArgsDict] = {
            "restore_jobs": {"report_template": "RESTORE_JOB_REPORT"},
            "copy_jobs": {"report_template": "COPY_JOB_REPORT"},
        }
        if self.framework_arn is not None:
            reports["compliance"] = {
                "report_template": "CONTROL_COMPLIANCE_REPORT",
                "framework_arns": [self.framework_arn],
                "number_of_frameworks": 1,
            }
        for report, setting in reports.items():
            aws.backup.ReportPlan(
                f"{name}-report-{report.replace('_', '-')}",
                name=f"{args.name_prefix.replace('-', '_')}_{report}",
                description=f"{args.name_prefix}: {report.replace('_', ' ')}",
                report_delivery_channel={
                    "s3_bucket_name": bucket.bucket,
                    "s3_key_prefix": report,
                    "formats": ["CSV", "JSON"],
                },
                report_setting=setting,
                opts=pulumi.ResourceOptions(parent=self, depends_on=policy_applied),
            )
        self.reports_bucket_name = bucket.bucket
        self.register_outputs(
            {
                "restoreTestingPlanName": self.restore_testing_plan_name,
                "frameworkArn": self.framework_arn,
                "reportsBucketName": self.reports_bucket_name,
            }
        )


def framework_controls(
    name_prefix: str, rpo_hours: int, rto_hours: int, dr_region: str | None, vault_lock: VaultLock
) -> list[aws.backup.FrameworkControlArgsDict]:
    # What this environment's plans back up (its scope tag), not every volume and bucket of the account: the nodes'
    # root volumes, the log buckets and another stack's resources in the same account and region are not its.
    scope: aws.backup.FrameworkControlScopeArgsDict = {"tags": {BACKUP_SCOPE_TAG_KEY: name_prefix}}
    controls: list[aws.backup.FrameworkControlArgsDict] = [
        {
            # The RPO, evaluated continuously: every protected resource has a recovery point this recent.
            "name": "BACKUP_LAST_RECOVERY_POINT_CREATED",
            "input_parameters": [
                {"name": "recoveryPointAgeUnit", "value": "hours"},
                {"name": "recoveryPointAgeValue", "value": str(rpo_hours)},
            ],
            "scope": scope,
        },
        {"name": "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN", "scope": scope},
        {"name": "BACKUP_RECOVERY_POINT_ENCRYPTED"},
        # Not BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED: AWS Config passes it only when the vaults' policy also
        # denies changing that policy, which Pulumi then could not update. The vaults' policy denies manual
        # deletion (BackupVaults); the control would only ever report it non-compliant.
        # The RTO as a control too: the restore tests' durations, against it.
        {
            "name": "RESTORE_TIME_FOR_RESOURCES_MEET_TARGET",
            "input_parameters": [{"name": "maxRestoreTime", "value": str(rto_hours * 60)}],
            "scope": scope,
        },
    ]
    if dr_region is not None:
        controls.append(
            {
                "name": "BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION",
                "input_parameters": [{"name": "crossRegionList", "value": dr_region}],
                "scope": scope,
            }
        )
    if vault_lock is not VaultLock.OFF:
        controls.append({"name": "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK", "scope": scope})
    return controls


def reports_bucket_policy(bucket_arn: str, partition: str, account: str) -> str:
    """TLS only, and Audit Manager's service-linked role may write the reports (nothing else may, but the account)."""
    reporter = (
        f"arn:{partition}:iam::{account}:role/aws-service-role/reports.backup.amazonaws.com/"
        "AWSServiceRoleForBackupReports"
    )
    statements = tls_only_statements(bucket_arn)
    statements.append(
        {
            "Sid": "BackupAuditManagerWritesReports",
            "Effect": "Allow",
            "Principal": {"AWS": reporter},
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/*",
            "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
        }
    )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})
