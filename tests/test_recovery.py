"""Backup and disaster recovery (issue 16), the AWS side: the config, each component alone on the mock runtime
(vaults and their lock, the plans and their selections, replication to the DR region, restore tests, the audit
framework and its reports), and the three stacks' plans (staging, prod, and the DR stack restored from prod's
replicated backups). The operator tooling (`dr status`, `dr drill`) is tested in test_dr_*.py."""

from __future__ import annotations

import json
from typing import Any

import pulumi_aws as aws
import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.aws.recovery.backup_plans import BACKUP_SCOPE_TAG_KEY, BACKUP_TAG_KEY, BackupPlans, BackupPlansArgs
from components.aws.recovery.backup_vaults import BackupVaults, BackupVaultsArgs
from components.aws.recovery.cross_region import CrossRegionReplication, CrossRegionReplicationArgs, ReplicatedBucket
from components.aws.recovery.recovery_proof import RecoveryProof, RecoveryProofArgs
from philosophy_infra.config.base import DataProtection
from philosophy_infra.config.database import DatabaseRestore
from philosophy_infra.config.recovery import RecoveryConfig, VaultLock
from philosophy_infra.naming import restore_testing_plan_name
from philosophy_infra.plan import Plan
from philosophy_infra.stack_plan import StackPlan
from tests.conftest import KUBERNETES, ROOT, TEST_ROLE_LIMITS, encode, raw_config, run, stack_plan, stack_yaml

DR_REGION = "eu-central-1"
VAULT = "aws:backup/vault:Vault"
LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
PLAN = "aws:backup/plan:Plan"
SELECTION = "aws:backup/selection:Selection"
DB_ARN = "arn:aws:rds:eu-west-1:123456789012:db:philosophy-test-postgres"
BUCKET_ARN = "arn:aws:s3:::philosophy-test-assets"
SOURCE = "database.restoreFrom.automatedBackupsArn"
KEY_ARN = "arn:aws:kms:eu-central-1:123456789012:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"


# --- Config ------------------------------------------------------------------------------------------------------


def test_the_vault_lock_is_governance_where_protected_and_compliance_only_when_written() -> None:
    settings = RecoveryConfig(region=DR_REGION)
    assert settings.effective_vault_lock(protected=True) is VaultLock.GOVERNANCE
    assert settings.effective_vault_lock(protected=False) is VaultLock.OFF
    compliance = RecoveryConfig(region=DR_REGION, vault_lock=VaultLock.COMPLIANCE)
    assert compliance.effective_vault_lock(protected=False) is VaultLock.COMPLIANCE


@given(continuous=st.integers(min_value=1, max_value=35), protected=st.booleans())
def test_a_locked_vault_refuses_shorter_retention_than_its_minimum(continuous: int, protected: bool) -> None:
    settings = RecoveryConfig(region=DR_REGION, continuous_retention_days=continuous)
    issues = [issue.key for issue in settings.lock_issues(protected)]
    assert issues == (["disasterRecovery.continuousRetentionDays"] if protected and continuous < 7 else [])


def test_copies_outlive_their_originals_and_the_dr_region_is_another() -> None:
    short = RecoveryConfig(region=DR_REGION, snapshot_retention_days=14, copy_retention_days=7)
    assert [i.key for i in short.issues("eu-west-1")] == ["disasterRecovery.copyRetentionDays"]
    assert [i.key for i in RecoveryConfig(region="eu-west-1").issues("eu-west-1")] == ["disasterRecovery.region"]


def test_a_restore_key_must_be_a_key_of_the_stacks_region() -> None:
    wrong = DatabaseRestore(
        automated_backups_arn="arn:aws:rds:eu-central-1:123456789012:auto-backup:ab-abc123",
        kms_key_arn=KEY_ARN.replace(DR_REGION, "eu-west-1"),
    )
    assert [issue.key for issue in wrong.issues(DR_REGION)] == ["database.restoreFrom.kmsKeyArn"]


@pytest.mark.parametrize(
    ("arn", "time", "keys"),
    [
        ("arn:aws:rds:eu-central-1:123456789012:auto-backup:ab-abc123", None, []),
        ("arn:aws:rds:eu-central-1:123456789012:auto-backup:ab-abc123", "2026-11-27T09:00:00Z", []),
        ("arn:aws:rds:eu-west-1:123456789012:auto-backup:ab-abc123", None, [SOURCE]),
        ("arn:aws:rds:eu-central-1:123456789012:db:prod", None, [SOURCE]),
        (
            "arn:aws:rds:eu-central-1:123456789012:auto-backup:ab-abc123",
            "yesterday",
            ["database.restoreFrom.restoreTime"],
        ),
    ],
)
def test_a_restore_source_is_replicated_backups_in_the_stacks_region(
    arn: str, time: str | None, keys: list[str]
) -> None:
    restore = DatabaseRestore(automated_backups_arn=arn, kms_key_arn=KEY_ARN, restore_time=time)
    assert [issue.key for issue in restore.issues(DR_REGION)] == keys


# --- Vaults --------------------------------------------------------------------------------------------------------


def vaults(lock: VaultLock, protection: DataProtection = DataProtection.PROTECTED) -> Plan:
    def program() -> None:
        dr = aws.Provider("aws-dr", region=DR_REGION)
        BackupVaults(
            "backup-vaults",
            BackupVaultsArgs(
                name_prefix="philosophy-test", dr_provider=dr, vault_lock=lock, data_protection=protection
            ),
        )

    return run(program)


@pytest.mark.parametrize("lock", list(VaultLock))
def test_a_vault_here_and_one_in_the_dr_region_each_with_its_key_and_the_lock_asked_for(lock: VaultLock) -> None:
    plan = vaults(lock)
    by_name = {v.inputs["name"]: v for v in plan.of_type(VAULT)}
    assert set(by_name) == {"philosophy-test-backup", "philosophy-test-backup-dr"}
    assert all(v.protect and v.inputs["forceDestroy"] is False for v in by_name.values())
    dr_provider = plan.one("pulumi:providers:aws", "aws-dr").urn
    assert by_name["philosophy-test-backup-dr"].provider == dr_provider
    assert by_name["philosophy-test-backup"].provider != dr_provider
    # Each vault's own key, in its own region.
    assert f":kms:{DR_REGION}:" in by_name["philosophy-test-backup-dr"].inputs["kmsKeyArn"]
    assert ":kms:eu-west-1:" in by_name["philosophy-test-backup"].inputs["kmsKeyArn"]
    locks = plan.of_type(LOCK)
    if lock is VaultLock.OFF:
        assert locks == []
    else:
        assert len(locks) == 2
        for config in locks:
            assert config.inputs["minRetentionDays"] == 7
            # Set means compliance mode: irreversible after the grace period.
            assert config.inputs.get("changeableForDays") == (3 if lock is VaultLock.COMPLIANCE else None)


def test_no_one_deletes_a_recovery_point_by_hand() -> None:
    plan = vaults(VaultLock.GOVERNANCE)
    policies = plan.of_type("aws:backup/vaultPolicy:VaultPolicy")
    assert len(policies) == 2
    for policy in policies:
        [statement] = json.loads(policy.inputs["policy"])["Statement"]
        assert statement["Effect"] == "Deny" and statement["Principal"] == {"AWS": "*"}
        assert set(statement["Action"]) == {"backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle"}


def test_without_a_dr_region_there_is_one_vault_and_nothing_elsewhere() -> None:
    def program() -> None:
        BackupVaults(
            "backup-vaults",
            BackupVaultsArgs(name_prefix="philosophy-test", dr_provider=None, vault_lock=VaultLock.GOVERNANCE),
        )

    plan = run(program)
    assert [v.inputs["name"] for v in plan.of_type(VAULT)] == ["philosophy-test-backup"]
    assert not plan.of_type("pulumi:providers:aws")


def test_an_unprotected_stacks_vaults_can_be_deleted_by_pulumi() -> None:
    assert not any(v.protect for v in vaults(VaultLock.OFF, DataProtection.SNAPSHOT_ONLY).of_type(VAULT))


# --- Plans ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plans() -> Plan:
    def program() -> None:
        BackupPlans(
            "backup-plans",
            BackupPlansArgs(
                role_limits=TEST_ROLE_LIMITS,
                name_prefix="philosophy-test",
                settings=RecoveryConfig(region=DR_REGION, copy_retention_days=21),
                vault_name="philosophy-test-backup",
                dr_vault_arn="arn:aws:backup:eu-central-1:123456789012:backup-vault:philosophy-test-backup-dr",
                bucket_key_arns=["arn:aws:kms:eu-west-1:123456789012:key/assets"],
            ),
        )

    return run(program)


def rules_of(plan: Plan, name: str) -> dict[str, dict[str, Any]]:
    return {r["ruleName"]: r for r in plan.one(PLAN, name).inputs["rules"]}


def test_the_database_and_assets_get_point_in_time_recovery_and_hourly_copies_to_the_dr_region(plans: Plan) -> None:
    rules = rules_of(plans, "backup-plans-continuous")
    assert rules["continuous"]["enableContinuousBackup"] is True
    assert rules["continuous"]["lifecycle"] == {"deleteAfter": 35}
    hourly = rules["hourly-dr"]
    # The RPO: a recovery point every hour, copied to the DR vault.
    # Half past, so AWS Backup never merges it with the continuous rule's window (on the hour).
    assert hourly["schedule"] == "cron(30 * ? * * *)" and "enableContinuousBackup" not in hourly
    assert rules["continuous"]["schedule"] == "cron(0 * ? * * *)"
    [copy] = hourly["copyActions"]
    assert copy["destinationVaultArn"].endswith(":backup-vault:philosophy-test-backup-dr")
    assert copy["lifecycle"] == {"deleteAfter": 21}
    assert set(rules_of(plans, "backup-plans-graph")) == {"hourly-dr"}


def test_selections_are_by_tag_one_plan_each(plans: Plan) -> None:
    tags = {s.name: s.inputs["selectionTags"] for s in plans.of_type(SELECTION)}
    assert tags == {
        "backup-plans-continuous-selection": [
            {"type": "STRINGEQUALS", "key": BACKUP_TAG_KEY, "value": "philosophy-test-continuous"}
        ],
        "backup-plans-graph-selection": [
            {"type": "STRINGEQUALS", "key": BACKUP_TAG_KEY, "value": "philosophy-test-neo4j"}
        ],
    }


def test_aws_backups_role_is_bounded_and_uses_bucket_keys_through_s3_only(plans: Plan) -> None:
    role = plans.one("aws:iam/role:Role")
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Service": "backup.amazonaws.com"
    }
    assert role.inputs["permissionsBoundary"] == TEST_ROLE_LIMITS.permissions_boundary
    attached = {
        a.inputs["policyArn"].rsplit("/", 1)[1]
        for a in plans.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    }
    assert attached == {
        "AWSBackupServiceRolePolicyForBackup",
        "AWSBackupServiceRolePolicyForRestores",
        "AWSBackupServiceRolePolicyForS3Backup",
        "AWSBackupServiceRolePolicyForS3Restore",
    }
    [statement] = json.loads(plans.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])["Statement"]
    assert statement["Condition"] == {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}}


# --- Replication ---------------------------------------------------------------------------------------------------


def replication(assets_key: str | None) -> Plan:
    def program() -> None:
        dr = aws.Provider("aws-dr", region=DR_REGION)
        buckets = [
            ReplicatedBucket(
                suffix=suffix,
                bucket_id=f"philosophy-test-{suffix}",
                bucket_arn=f"arn:aws:s3:::philosophy-test-{suffix}",
                key_arn=key,
                versioning=aws.s3.BucketVersioning(
                    f"{suffix}-versioning", bucket=suffix, versioning_configuration={"status": "Enabled"}
                ),
                noncurrent_days=days,
            )
            for suffix, key, days in (
                ("assets", assets_key, 90),
                ("neo4j-backups", "arn:aws:kms:eu-west-1:123456789012:key/neo4j", 31),
            )
        ]
        CrossRegionReplication(
            "dr-replication",
            CrossRegionReplicationArgs(
                role_limits=TEST_ROLE_LIMITS,
                name_prefix="philosophy-test",
                region="eu-west-1",
                dr_region=DR_REGION,
                dr_provider=dr,
                database_arn=DB_ARN,
                database_backup_retention_days=30,
                buckets=buckets,
            ),
        )

    return run(program)


@pytest.mark.parametrize("assets_key", ["arn:aws:kms:eu-west-1:123456789012:key/assets", None])
def test_the_database_backups_and_the_buckets_replicate_to_the_dr_region_under_its_key(assets_key: str | None) -> None:
    plan = replication(assets_key)
    dr = plan.one("pulumi:providers:aws", "aws-dr").urn
    database = plan.one("aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication")
    assert database.provider == dr
    assert database.inputs["sourceDbInstanceArn"] == DB_ARN and database.inputs["retentionPeriod"] == 30
    assert f":kms:{DR_REGION}:" in database.inputs["kmsKeyId"]
    replicas = {b.name: b for b in plan.of_type("aws:s3/bucket:Bucket")}
    assert set(replicas) == {"dr-replication-assets-replica", "dr-replication-neo4j-backups-replica"}
    assert all(b.provider == dr and b.protect for b in replicas.values())
    configs = {c.inputs["bucket"]: c.inputs["rules"] for c in plan.of_type(
        "aws:s3/bucketReplicationConfig:BucketReplicationConfig")}  # fmt: skip
    assert set(configs) == {"philosophy-test-assets", "philosophy-test-neo4j-backups"}
    for bucket, (rule,) in configs.items():
        destination = rule["destination"]
        # Replication Time Control: 15 minutes, with the metrics that say when it is late.
        assert destination["replicationTime"] == {"status": "Enabled", "time": {"minutes": 15}}
        assert destination["metrics"] == {"status": "Enabled", "eventThreshold": {"minutes": 15}}
        assert destination["encryptionConfiguration"]["replicaKmsKeyId"] == database.inputs["kmsKeyId"]
        assert rule["deleteMarkerReplication"] == {"status": "Enabled"}
        # KMS-encrypted objects replicate only when asked for.
        encrypted = bucket.endswith("neo4j-backups") or assets_key is not None
        assert ("sourceSelectionCriteria" in rule) is encrypted, bucket
    # The replica keeps noncurrent versions as long as its source.
    lifecycles = {r.parent: r.inputs["rules"] for r in plan.of_type(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")}  # fmt: skip
    kept = {
        name: next(r for r in lifecycles[b.urn] if r["id"] == "expire-noncurrent-versions")
        for name, b in replicas.items()
    }
    assert kept["dr-replication-neo4j-backups-replica"]["noncurrentVersionExpiration"] == {"noncurrentDays": 31}
    policies = {p.name: json.loads(p.inputs["policy"]) for p in plan.of_type("aws:iam/rolePolicy:RolePolicy")}
    assets = {st["Sid"]: st for st in policies["dr-replication-assets-replication-policy"]["Statement"]}
    through_s3_in_dr = {"StringEquals": {"kms:ViaService": f"s3.{DR_REGION}.amazonaws.com"}}
    assert assets["EncryptTheReplica"]["Condition"] == through_s3_in_dr
    assert ("DecryptTheSource" in assets) is (assets_key is not None)


# --- Proof ---------------------------------------------------------------------------------------------------------


def proof(audit_framework: bool, lock: VaultLock = VaultLock.GOVERNANCE) -> Plan:
    def program() -> None:
        RecoveryProof(
            "recovery-proof",
            RecoveryProofArgs(
                name_prefix="philosophy-test",
                settings=RecoveryConfig(region=DR_REGION, rpo_hours=2, audit_framework=audit_framework),
                vault_lock=lock,
                dr_region=DR_REGION,
                vault_arn="arn:aws:backup:eu-west-1:123456789012:backup-vault:philosophy-test-backup",
                backup_role_arn="arn:aws:iam::123456789012:role/backup",
                vpc_id="vpc-1",
                database_arn=DB_ARN,
                database_subnet_group_name="philosophy-test-db",
                assets_bucket_arn=BUCKET_ARN,
            ),
        )

    return run(program)


def test_restore_tests_run_weekly_into_isolated_settings() -> None:
    plan = proof(audit_framework=False)
    testing = plan.one("aws:backup/restoreTestingPlan:RestoreTestingPlan").inputs
    assert testing["name"] == restore_testing_plan_name("philosophy-test") == "philosophy_test_restore_testing"
    assert testing["scheduleExpression"] == "cron(0 3 ? * SUN *)"
    selection = testing["recoveryPointSelection"]
    assert selection["algorithm"] == "LATEST_WITHIN_WINDOW"
    assert set(selection["recoveryPointTypes"]) == {"CONTINUOUS", "SNAPSHOT"}
    assert selection["includeVaults"] == ["arn:aws:backup:eu-west-1:123456789012:backup-vault:philosophy-test-backup"]
    selections = {s.inputs["protectedResourceType"]: s.inputs for s in plan.of_type(
        "aws:backup/restoreTestingSelection:RestoreTestingSelection")}  # fmt: skip
    assert set(selections) == {"RDS", "S3"}
    assert selections["RDS"]["protectedResourceArns"] == [DB_ARN]
    overrides = selections["RDS"]["restoreMetadataOverrides"]
    isolated = plan.one("aws:ec2/securityGroup:SecurityGroup")
    assert overrides["dbsubnetgroupname"] == "philosophy-test-db"
    assert json.loads(overrides["vpcsecuritygroupids"]) == [f"{isolated.name}-id"]
    # Nothing in, nothing out.
    assert not isolated.inputs.get("ingress") and not isolated.inputs.get("egress")
    assert not plan.of_type("aws:backup/framework:Framework")


@pytest.mark.parametrize("lock", [VaultLock.GOVERNANCE, VaultLock.OFF])
def test_the_audit_framework_makes_the_rpo_a_control_and_reports_go_to_their_own_bucket(lock: VaultLock) -> None:
    plan = proof(audit_framework=True, lock=lock)
    controls = {c["name"]: c for c in plan.one("aws:backup/framework:Framework").inputs["controls"]}
    rpo = {p["name"]: p["value"] for p in controls["BACKUP_LAST_RECOVERY_POINT_CREATED"]["inputParameters"]}
    assert rpo == {"recoveryPointAgeUnit": "hours", "recoveryPointAgeValue": "2"}
    assert {
        "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN",
        "BACKUP_RECOVERY_POINT_ENCRYPTED",
        "BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION",
    } <= set(controls)
    # Its policy denies manual deletion; the control would need the policy locked against Pulumi too.
    assert "BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED" not in controls
    assert ("BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK" in controls) is (lock is not VaultLock.OFF)
    # The RTO is a control too (the restore tests' durations, in minutes).
    rto = controls["RESTORE_TIME_FOR_RESOURCES_MEET_TARGET"]["inputParameters"]
    assert rto == [{"name": "maxRestoreTime", "value": "240"}]
    # Scoped to this environment's backups (its scope tag), not every volume and bucket of the account, nor
    # another stack's in the same account and region.
    scopes = [c["scope"] for c in controls.values() if "scope" in c]
    assert scopes and all(scope == {"tags": {BACKUP_SCOPE_TAG_KEY: "philosophy-test"}} for scope in scopes)
    reports = {r.inputs["reportSetting"]["reportTemplate"] for r in plan.of_type("aws:backup/reportPlan:ReportPlan")}
    assert reports == {"RESTORE_JOB_REPORT", "COPY_JOB_REPORT", "CONTROL_COMPLIANCE_REPORT"}
    encryption = plan.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    policy = json.loads(plan.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    writer = next(s for s in policy["Statement"] if s["Sid"] == "BackupAuditManagerWritesReports")
    assert writer["Principal"]["AWS"].endswith("/reports.backup.amazonaws.com/AWSServiceRoleForBackupReports")


# --- The stacks ----------------------------------------------------------------------------------------------------


def aws_layer(request: pytest.FixtureRequest, stack: str) -> Plan:
    return stack_plan(request, stack).layer("aws")


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_each_stack_shows_vaults_plans_copies_replication_restore_tests_and_the_framework(
    stack: str, request: pytest.FixtureRequest
) -> None:
    plan = aws_layer(request, stack)
    config = stack_yaml(stack)["config"]
    environment, dr_region = (
        config["philosophy-infra:environment"],
        config["philosophy-infra:disasterRecovery"]["region"],
    )
    prefix = f"philosophy-{environment}"
    assert {v.inputs["name"] for v in plan.of_type(VAULT)} == {f"{prefix}-backup", f"{prefix}-backup-dr"}
    assert {p.inputs["name"] for p in plan.of_type(PLAN)} == {f"{prefix}-continuous", f"{prefix}-graph"}
    assert len(plan.of_type(SELECTION)) == 2
    assert all(
        r.get("copyActions") for p in plan.of_type(PLAN) for r in p.inputs["rules"] if r["ruleName"] == "hourly-dr"
    )
    assert plan.one("aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication")
    assert plan.one("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "dr-replication-assets-replication")
    assert plan.one("aws:backup/restoreTestingPlan:RestoreTestingPlan")
    assert plan.one("aws:backup/framework:Framework")
    # Governance locks where data is protected; none in staging.
    protected = config["philosophy-infra:dataProtection"] == "protected"
    assert len(plan.of_type(LOCK)) == (2 if protected else 0)
    assert plan.outputs["drRegion"] == dr_region and plan.outputs["backupVaultName"] == f"{prefix}-backup"
    # What AWS Backup selects carries the tag: the database and the assets bucket (continuous).
    tagged = {
        r.type for r in plan.resources if (r.inputs.get("tags") or {}).get(BACKUP_TAG_KEY) == f"{prefix}-continuous"
    }
    assert tagged == {"aws:rds/instance:Instance", "aws:s3/bucket:Bucket"}
    # Everything its plans back up is in its own scope, which its framework checks.
    scoped = [r for r in plan.resources if (r.inputs.get("tags") or {}).get(BACKUP_SCOPE_TAG_KEY) == prefix]
    assert {r.type for r in scoped} >= tagged
    assert all(BACKUP_TAG_KEY in r.inputs["tags"] for r in scoped)


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_neo4js_backups_carry_the_tag_the_graph_plan_selects(stack: str, request: pytest.FixtureRequest) -> None:
    """Community's volumes (tagged by the Kubernetes layer's StorageClass) or Enterprise's backup bucket: the graph
    plan selects exactly what carries its tag, across the two layers."""
    plan = stack_plan(request, stack)
    [selection] = [s for s in plan.layer("aws").of_type(SELECTION) if s.name.endswith("graph-selection")]
    tag = selection.inputs["selectionTags"][0]
    storage = next(
        r for r in plan.layer("kubernetes").of_type("kubernetes:storage.k8s.io/v1:StorageClass")
        if r.inputs["metadata"]["name"] == "neo4j"
    )  # fmt: skip
    assert storage.inputs["parameters"]["tagSpecification_1"] == f"{tag['key']}={tag['value']}"
    if stack == "prod":
        buckets = [b for b in plan.layer("aws").of_type("aws:s3/bucket:Bucket") if b.name == "graph-store-backups"]
        assert buckets[0].inputs["tags"][tag["key"]] == tag["value"]
    # Data Lifecycle Manager no longer snapshots them: AWS Backup does, and copies them to the DR region.
    assert not plan.layer("aws").of_type("aws:dlm/lifecyclePolicy:LifecyclePolicy")


def test_the_dr_stack_restores_prods_database_from_its_replicated_backups(
    dr_plan: StackPlan, request: pytest.FixtureRequest
) -> None:
    config = stack_yaml("dr")["config"]
    assert config["aws:region"] == stack_yaml("prod")["config"]["philosophy-infra:disasterRecovery"]["region"]
    instance = dr_plan.layer("aws").one("aws:rds/instance:Instance")
    source = config["philosophy-infra:database"]["restoreFrom"]["automatedBackupsArn"]
    assert instance.inputs["restoreToPointInTime"] == {
        "sourceDbInstanceAutomatedBackupsArn": source,
        "useLatestRestorableTime": True,
    }
    # A point-in-time restore keeps the replicated backups' key: the instance declares it, so no later `up` sees a
    # different key (and wants a new instance).
    assert instance.inputs["kmsKeyId"] == config["philosophy-infra:database"]["restoreFrom"]["kmsKeyArn"]
    # Where it was restored from never replaces it later; AWS Backup owns its automated backups.
    assert {"restoreToPointInTime", "backupRetentionPeriod", "backupWindow"} <= set(instance.ignore_changes)
    assert instance.protect
    prod = stack_plan(request, "prod").layer("aws").one("aws:rds/instance:Instance")
    assert "restoreToPointInTime" not in prod.inputs


def test_the_dr_stacks_kubernetes_layer_runs_prods_workloads_from_the_dr_regions_registry() -> None:
    prod, dr = raw_config("prod", KUBERNETES), raw_config("dr", KUBERNETES)
    assert dr["philosophy-kubernetes:workloads"]["imageRegistry"].split(".")[3] == DR_REGION
    for key in set(prod) - {"philosophy-kubernetes:workloads"}:
        assert dr[key] == prod[key], key
    assert encode(dr)


def test_the_dr_stack_needs_nothing_from_the_region_it_replaces(request: pytest.FixtureRequest) -> None:
    """It runs because prod's region is lost: not one resource, provider or replica may be there."""
    plan = stack_plan(request, "dr").layer("aws")
    home = stack_yaml("prod")["config"]["aws:region"]
    assert stack_yaml("dr")["config"]["philosophy-infra:disasterRecovery"]["crossRegion"] is False
    in_home = [r.name for r in plan.resources if home in json.dumps(r.inputs)]
    assert in_home == []
    assert {p.name for p in plan.of_type("pulumi:providers:aws")} == {"aws", "aws-untagged"}
    # What it still has: a vault, hourly points (no copies), restore tests and the framework (no cross-region
    # control).
    assert [v.inputs["name"] for v in plan.of_type(VAULT)] == ["philosophy-dr-backup"]
    rules = [r for p in plan.of_type(PLAN) for r in p.inputs["rules"]]
    assert rules and not any(r.get("copyActions") for r in rules)
    assert not plan.of_type("aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication")
    assert plan.one("aws:backup/restoreTestingPlan:RestoreTestingPlan")
    controls = {c["name"] for c in plan.one("aws:backup/framework:Framework").inputs["controls"]}
    assert "BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION" not in controls
    assert all(not s.inputs.get("replicas") for s in plan.of_type("aws:secretsmanager/secret:Secret"))


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_dr_status_and_drill_look_for_what_the_aws_layer_creates(stack: str, request: pytest.FixtureRequest) -> None:
    from philosophy_infra.dr.target import load_target

    plan = stack_plan(request, stack).layer("aws")
    target = load_target(ROOT, stack)
    assert target.vault == plan.outputs["backupVaultName"]
    assert target.restore_testing_plan == plan.outputs["restoreTestingPlanName"]
    assert target.database == plan.one("aws:rds/instance:Instance").inputs["identifier"]
    assert target.dr_region == plan.outputs["drRegion"]
    dr_vaults = [v.inputs["name"] for v in plan.of_type(VAULT) if v.inputs["name"] != target.vault]
    assert dr_vaults == [target.dr_vault]


def test_dr_status_of_a_stack_that_copies_nowhere_says_so_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """The DR stack while prod's region is lost (crossRegion off): no second region to report on, or to call."""
    from philosophy_infra.cli import main

    assert main(["dr", "status", "--stack", "dr", "--project-dir", str(ROOT)]) == 2
    err = capsys.readouterr().err
    assert "philosophy-infra:disasterRecovery.crossRegion" in err and "Traceback" not in err


def test_prods_neo4j_backups_reach_the_dr_region_within_minutes(request: pytest.FixtureRequest) -> None:
    """Enterprise's backups are replicated (RTC), not only copied hourly: an hourly copy of an hourly backup would
    leave the DR region up to two hours behind."""
    plan = stack_plan(request, "prod").layer("aws")
    configs = plan.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    assert {c.name for c in configs} == {
        "dr-replication-assets-replication",
        "dr-replication-neo4j-backups-replication",
    }
    assert set(plan.outputs["replicaBucketNames"]) == {"assets", "neo4j-backups"}
