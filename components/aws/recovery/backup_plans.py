"""AWS Backup's plans, selected by tag (`philosophy-infra/backup`):

- `<prefix>-continuous` for the database and the assets bucket (`<prefix>-continuous`): continuous backup, i.e.
  point-in-time recovery to any second of the last `continuousRetentionDays`, plus an hourly recovery point copied
  to the DR vault (a continuous backup itself stays in its region).
- `<prefix>-graph` for Neo4j's backups (`<prefix>-neo4j`: Community's volumes, Enterprise's backup bucket): an hourly
  recovery point, copied to the DR vault. A volume's snapshot is crash-consistent, which Neo4j's transaction log
  makes a consistent graph (README, The graph store).

Hourly is the RPO: a region lost loses at most the hour since the last copy (plus the copy's own time; the
database's replicated automated backups do better, see CrossRegionReplication). AWS Backup's role may back up and
restore these resource types and use the keys of what it backs up (an S3 bucket encrypted with a customer key
needs it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.security.irsa_role import service_trust_policy
from components.aws.security.role_limits import RoleLimits
from philosophy_infra.config.recovery import RecoveryConfig

BACKUP_TAG_KEY = "philosophy-infra/backup"
# Which environment's backups a resource is in (its value: the environment's name prefix): what the audit framework
# of that environment checks, and nothing of another stack in the same account and region.
BACKUP_SCOPE_TAG_KEY = "philosophy-infra/backup-scope"
HOURLY = "cron(0 * ? * * *)"
# Half past: AWS Backup merges rules whose windows start together (keeping the longer retention), and the
# continuous rule's starts on the hour.
HOURLY_SNAPSHOT = "cron(30 * ? * * *)"
SERVICE_POLICIES = (
    "service-role/AWSBackupServiceRolePolicyForBackup",
    "service-role/AWSBackupServiceRolePolicyForRestores",
    "AWSBackupServiceRolePolicyForS3Backup",
    "AWSBackupServiceRolePolicyForS3Restore",
)


def continuous_tag(name_prefix: str) -> str:
    return f"{name_prefix}-continuous"


def graph_tag(name_prefix: str) -> str:
    return f"{name_prefix}-neo4j"


def backup_tags(name_prefix: str, plan_tag: str) -> dict[str, str]:
    """What a resource carries to be backed up by the plan `plan_tag` selects, in this environment's scope."""
    return {BACKUP_TAG_KEY: plan_tag, BACKUP_SCOPE_TAG_KEY: name_prefix}


@dataclass(frozen=True, kw_only=True)
class BackupPlansArgs:
    role_limits: RoleLimits
    name_prefix: str
    settings: RecoveryConfig
    vault_name: pulumi.Input[str]
    dr_vault_arn: pulumi.Input[str] | None
    """None: no copies (no DR region: `disasterRecovery.crossRegion` off)."""
    bucket_key_arns: Sequence[pulumi.Input[str]] = ()
    """Customer keys of buckets it backs up (the assets', Neo4j's backups'): AWS Backup reads their objects."""


class BackupPlans(pulumi.ComponentResource):
    role_arn: pulumi.Output[str]
    """AWS Backup's role here: backups, restores, restore tests."""
    plan_arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: BackupPlansArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:BackupPlans", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        role = aws.iam.Role(
            f"{name}-role",
            path=args.role_limits.path,
            permissions_boundary=args.role_limits.permissions_boundary,
            description="AWS Backup: backups, copies, restores and restore tests of this environment",
            assume_role_policy=account.apply(lambda a: service_trust_policy("backup.amazonaws.com", a)),
            opts=child,
        )
        on_role = pulumi.ResourceOptions(parent=role)
        attachments: list[pulumi.Resource] = [
            aws.iam.RolePolicyAttachment(
                f"{name}-role-{policy.rsplit('/', 1)[-1]}",
                role=role.name,
                policy_arn=pulumi.Output.concat("arn:", partition, ":iam::aws:policy/", policy),
                opts=on_role,
            )
            for policy in SERVICE_POLICIES
        ]
        if args.bucket_key_arns:
            attachments.append(
                aws.iam.RolePolicy(
                    f"{name}-role-bucket-keys",
                    role=role.id,
                    policy=pulumi.Output.all(*args.bucket_key_arns).apply(lambda keys: bucket_keys_policy(keys)),
                    opts=on_role,
                )
            )
        s = args.settings
        hourly_copy: aws.backup.PlanRuleArgsDict = {
            "rule_name": "hourly-dr",
            "target_vault_name": args.vault_name,
            "schedule": HOURLY_SNAPSHOT,
            "start_window": 60,
            "completion_window": 180,
            "lifecycle": {"delete_after": s.snapshot_retention_days},
        }
        if args.dr_vault_arn is not None:
            hourly_copy["copy_actions"] = [
                {"destination_vault_arn": args.dr_vault_arn, "lifecycle": {"delete_after": s.copy_retention_days}}
            ]
        plans: dict[str, tuple[str, list[aws.backup.PlanRuleArgsDict]]] = {
            "continuous": (
                continuous_tag(args.name_prefix),
                [
                    {
                        "rule_name": "continuous",
                        "target_vault_name": args.vault_name,
                        "schedule": HOURLY,
                        "enable_continuous_backup": True,
                        "lifecycle": {"delete_after": s.continuous_retention_days},
                    },
                    hourly_copy,
                ],
            ),
            "graph": (graph_tag(args.name_prefix), [hourly_copy]),
        }
        self.plan_arns = {}
        for plan_name, (tag_value, rules) in plans.items():
            plan = aws.backup.Plan(
                f"{name}-{plan_name}", name=f"{args.name_prefix}-{plan_name}", rules=rules, opts=child
            )
            aws.backup.Selection(
                f"{name}-{plan_name}-selection",
                name=f"{args.name_prefix}-{plan_name}",
                plan_id=plan.id,
                iam_role_arn=role.arn,
                selection_tags=[{"type": "STRINGEQUALS", "key": BACKUP_TAG_KEY, "value": tag_value}],
                opts=pulumi.ResourceOptions(parent=plan, depends_on=attachments),
            )
            self.plan_arns[plan_name] = plan.arn
        self.role_arn = role.arn
        self.register_outputs({"roleArn": self.role_arn, "planArns": self.plan_arns})


def bucket_keys_policy(key_arns: Sequence[str]) -> str:
    """Read and restore objects of buckets encrypted with these keys, through S3 only."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "UseTheBucketsKeysThroughS3",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                    "Resource": sorted(set(key_arns)),
                    "Condition": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
                }
            ],
        }
    )
