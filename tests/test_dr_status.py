"""`philosophy-infra dr status`, end to end through the CLI against moto (`mock_aws`), with every AWS resource made
in the test itself; and its pure parts (ages against the RPO, the newest point, durations) on their own.

moto implements RDS instances, snapshots and AWS Backup vaults, but none of AWS Backup's recovery points, protected
resources, copy jobs, restore testing plans or restore jobs, nor the cross-region replication of RDS automated
backups. Those calls alone are answered by botocore's Stubber on a client of their own (`AwsClients.stub`); every
other call of the same client goes to moto. A bucket's S3 replication is all moto's: the buckets, their replication
configuration and locations, and CloudWatch's statistics, whose `AWS/S3` replication metrics the tests put where S3
would (moto accepts them in that namespace; AWS would not). No test reaches a real AWS account: the credentials are
dummies, the shared config files point at nothing, and the instance metadata service is off."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import boto3
import pytest
import yaml
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from philosophy_infra.cli import main
from philosophy_infra.config.aws import AwsStackConfig
from philosophy_infra.config.base import StackConfigError
from philosophy_infra.dr import command
from philosophy_infra.dr.report import (
    RTC_THRESHOLD,
    BucketReplication,
    Point,
    ReplicationRule,
    beyond,
    duration,
    lag,
    newest,
    replica_point,
)
from tests.conftest import ROOT, encode, raw_config

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.literals import StandardUnitType
    from mypy_boto3_cloudwatch.type_defs import DimensionTypeDef, MetricDatumTypeDef
    from mypy_boto3_s3.literals import BucketLocationConstraintType
    from mypy_boto3_s3.type_defs import DestinationTypeDef, ReplicationRuleTypeDef

REGION, DR = "eu-west-1", "eu-central-1"  # Pulumi.prod.yaml's aws:region and disasterRecovery.region
ACCOUNT = "123456789012"  # moto's account
DB = "philosophy-prod-postgres"
DB_ARN = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{DB}"
VAULT, DR_VAULT = "philosophy-prod-backup", "philosophy-prod-backup-dr"
PLAN = "philosophy_prod_restore_testing"
PLAN_ARN = f"arn:aws:backup:{REGION}:{ACCOUNT}:restore-testing-plan:{PLAN}-a1b2c3"
BUCKET = "philosophy-prod-assets-7f3a"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
REPLICATED_ARN = f"arn:aws:rds:{DR}:{ACCOUNT}:auto-backup:ab-drtestreplica"
REPLICA_BUCKET = "philosophy-prod-assets-replica-2d9e"  # the bucket's replica in the DR region
REPLICA_BUCKET_ARN = f"arn:aws:s3:::{REPLICA_BUCKET}"
RULE = "dr"  # components.aws.recovery.cross_region's rule


def vault_arn(region: str, vault: str) -> str:
    return f"arn:aws:backup:{region}:{ACCOUNT}:backup-vault:{vault}"


class _Partly:
    """A moto client whose named operations go, each, to a client of their own with a Stubber on it."""

    def __init__(self, service: str, region: str) -> None:
        self.service, self.region = service, region
        self.real = boto3.client(service, region_name=region)  # type: ignore[call-overload]
        self.stubbers: dict[str, tuple[Any, Stubber]] = {}
        self.after: dict[str, Callable[[dict[str, Any]], None]] = {}

    def stubber(self, operation: str) -> Stubber:
        if operation not in self.stubbers:
            client = boto3.client(self.service, region_name=self.region)  # type: ignore[call-overload]
            stubber = Stubber(client)
            stubber.activate()
            self.stubbers[operation] = (client, stubber)
        return self.stubbers[operation][1]

    def stub(self, operation: str, response: dict[str, Any], expected: dict[str, Any] | None = None) -> None:
        self.stubber(operation).add_response(operation, response, expected)

    def stub_error(self, operation: str, code: str, message: str, status: int = 400) -> None:
        self.stubber(operation).add_client_error(operation, code, message, status)

    def __getattr__(self, name: str) -> Any:
        if name not in self.stubbers:
            return getattr(self.real, name)
        stubbed = getattr(self.stubbers[name][0], name)
        after = self.after.get(name)
        if after is None:
            return stubbed

        def call(**params: Any) -> Any:
            response = stubbed(**params)
            after(params)
            return response

        return call


class AwsClients:
    """The `Clients` the commands get in these tests: moto's, with the calls moto lacks stubbed (see the module)."""

    def __init__(self) -> None:
        self.clients: dict[tuple[str, str], _Partly] = {}

    def client(self, service: str, region: str) -> _Partly:
        return self.clients.setdefault((service, region), _Partly(service, region))

    def rds(self, region: str) -> Any:
        return self.client("rds", region)

    def backup(self, region: str) -> Any:
        return self.client("backup", region)

    def s3(self, region: str) -> Any:
        return self.client("s3", region)

    def cloudwatch(self, region: str) -> Any:
        return self.client("cloudwatch", region)

    def stub(self, service: str, region: str, operation: str, response: dict[str, Any], expected: Any = None) -> None:
        self.client(service, region).stub(operation, response, expected)

    def verify(self) -> None:
        """Every stubbed answer was asked for: the command made each call the test prepared."""
        for partly in self.clients.values():
            for _, stubber in partly.stubbers.values():
                stubber.assert_no_pending_responses()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    dummy_aws_env(monkeypatch, tmp_path)


@pytest.fixture
def aws(aws_env: None) -> Iterator[AwsClients]:
    yield from moto_clients()


def dummy_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials only: nothing from ~/.aws, no instance metadata, no region but the ones the code names."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def moto_clients() -> Iterator[AwsClients]:
    """The body of an `aws` fixture: moto for the test's duration, and every stubbed answer asked for."""
    with mock_aws():
        clients = AwsClients()
        yield clients
        clients.verify()


def use(monkeypatch: pytest.MonkeyPatch, clients: AwsClients, clock: Callable[[], datetime]) -> None:
    monkeypatch.setattr(command, "RUNTIME", command.Runtime(clients=lambda: clients, clock=clock, sleep=lambda _: None))


def fixed(at: datetime) -> Callable[[], datetime]:
    return lambda: at


def replicated_backup(status: str, latest: datetime | None = None, **fields: Any) -> dict[str, Any]:
    """One of `describe_db_instance_automated_backups`' answers in the DR region: this stack's database's automated
    backups replicated there, restorable up to `latest` (none yet while replication starts)."""
    found: dict[str, Any] = {
        "DBInstanceArn": DB_ARN,
        "DBInstanceIdentifier": DB,
        "Region": REGION,
        "Status": status,
        "DBInstanceAutomatedBackupsArn": REPLICATED_ARN,
        **fields,
    }
    if latest is not None:
        found["RestoreWindow"] = {"EarliestTime": latest - timedelta(days=7), "LatestTime": latest}
    return found


def create_database() -> None:
    boto3.client("rds", region_name=REGION).create_db_instance(
        DBInstanceIdentifier=DB,
        Engine="postgres",
        DBInstanceClass="db.t4g.micro",
        AllocatedStorage=20,
        MasterUsername="philosophy_admin",
        MasterUserPassword="not-a-real-password",
        BackupRetentionPeriod=7,
    )


def create_vaults(*regions: str) -> None:
    for region in regions:
        boto3.client("backup", region_name=region).create_backup_vault(
            BackupVaultName=VAULT if region == REGION else DR_VAULT
        )


def create_bucket(name: str, region: str) -> None:
    """A versioned bucket, as replication needs on both sides."""
    s3 = boto3.client("s3", region_name=region)
    if region == "us-east-1":  # the one region without a LocationConstraint
        s3.create_bucket(Bucket=name)
    else:
        location = cast("BucketLocationConstraintType", region)
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": location})
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


def replication_rule(
    destination: str = REPLICA_BUCKET,
    rule_id: str = RULE,
    *,
    timed: bool = True,
    enabled: bool = True,
    priority: int = 1,
) -> ReplicationRuleTypeDef:
    """A rule as components.aws.recovery.cross_region writes it (`timed`: Replication Time Control and metrics)."""
    target: DestinationTypeDef = {"Bucket": f"arn:aws:s3:::{destination}", "StorageClass": "STANDARD"}
    if timed:
        target["ReplicationTime"] = {"Status": "Enabled", "Time": {"Minutes": 15}}
        target["Metrics"] = {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}
    return {
        "ID": rule_id,
        "Status": "Enabled" if enabled else "Disabled",
        "Priority": priority,
        "Filter": {},
        "DeleteMarkerReplication": {"Status": "Enabled"},
        "Destination": target,
    }


def replicate_bucket(*rules: ReplicationRuleTypeDef) -> None:
    """The bucket, its replica in the DR region, and the bucket's replication configuration (`rules`, or the one
    rule into the replica with Replication Time Control)."""
    create_bucket(BUCKET, REGION)
    create_bucket(REPLICA_BUCKET, DR)
    boto3.client("s3", region_name=REGION).put_bucket_replication(
        Bucket=BUCKET,
        ReplicationConfiguration={
            "Role": f"arn:aws:iam::{ACCOUNT}:role/philosophy-prod-assets-replication",
            "Rules": list(rules) or [replication_rule()],
        },
    )


def replication_metrics(
    now: datetime,
    *,
    latency: Sequence[float] = (),
    pending: Sequence[float] = (),
    failed: Sequence[float] = (),
    destination: str = REPLICA_BUCKET,
    rule_id: str = RULE,
) -> None:
    """What S3 reports of a rule with metrics: one value a minute, the last half a minute ago (seconds, counts); and
    a day's latency half an hour ago, before the window the command reads."""
    dimensions: list[DimensionTypeDef] = [
        {"Name": "SourceBucket", "Value": BUCKET},
        {"Name": "DestinationBucket", "Value": destination},
        {"Name": "RuleId", "Value": rule_id},
    ]
    series: list[tuple[str, StandardUnitType, list[tuple[datetime, float]]]] = [
        ("ReplicationLatency", "Seconds", [(now - timedelta(minutes=30), 86_400.0)]),
        ("ReplicationLatency", "Seconds", _minutely(now, latency)),
        ("OperationsPendingReplication", "Count", _minutely(now, pending)),
        ("OperationsFailedReplication", "Count", _minutely(now, failed)),
    ]
    data: list[MetricDatumTypeDef] = [
        {"MetricName": metric, "Dimensions": dimensions, "Timestamp": at, "Value": value, "Unit": unit}
        for metric, unit, values in series
        for at, value in values
    ]
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(Namespace="AWS/S3", MetricData=data)


def _minutely(now: datetime, values: Sequence[float]) -> list[tuple[datetime, float]]:
    return [(now - timedelta(seconds=30 + 60 * (len(values) - 1 - i)), value) for i, value in enumerate(values)]


def recovery_point(resource: str, kind: str, region: str, at: datetime, arn: str, **more: Any) -> dict[str, Any]:
    vault = VAULT if region == REGION else DR_VAULT
    point = {
        "RecoveryPointArn": arn,
        "BackupVaultName": vault,
        "BackupVaultArn": vault_arn(region, vault),
        "ResourceArn": resource,
        "ResourceType": kind,
        "Status": "COMPLETED",
        "CreationDate": at,
        "CompletionDate": at + timedelta(minutes=3),
    }
    if region == DR:
        point["SourceBackupVaultArn"] = vault_arn(REGION, VAULT)
    return point | more


def stub_world(
    aws: AwsClients,
    now: datetime,
    *,
    bucket_dr_age: timedelta = timedelta(minutes=40),
    bucket_copy_state: str = "COMPLETED",
    replicated: bool = True,
    dr_points: bool = True,
) -> None:
    """What AWS Backup and the automated backups replication report for a stack whose backups run (see module)."""
    aws.stub(
        "backup",
        REGION,
        "list_recovery_points_by_backup_vault",
        {
            "RecoveryPoints": [
                recovery_point(
                    DB_ARN,
                    "RDS",
                    REGION,
                    now - timedelta(minutes=50),
                    f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:awsbackup:job-db1",
                ),
                recovery_point(
                    BUCKET_ARN,
                    "S3",
                    REGION,
                    now - timedelta(minutes=20),
                    f"arn:aws:backup:{REGION}:{ACCOUNT}:recovery-point:s3-2",
                ),
                # An older one, and one still being made: neither is the newest usable point.
                recovery_point(
                    BUCKET_ARN,
                    "S3",
                    REGION,
                    now - timedelta(hours=25),
                    f"arn:aws:backup:{REGION}:{ACCOUNT}:recovery-point:s3-1",
                ),
                recovery_point(
                    BUCKET_ARN,
                    "S3",
                    REGION,
                    now - timedelta(minutes=1),
                    f"arn:aws:backup:{REGION}:{ACCOUNT}:recovery-point:s3-3",
                    Status="CREATING",
                ),
            ]
        },
        {"BackupVaultName": VAULT},
    )
    if dr_points:
        aws.stub(
            "backup",
            DR,
            "list_recovery_points_by_backup_vault",
            {
                "RecoveryPoints": [
                    recovery_point(
                        DB_ARN,
                        "RDS",
                        DR,
                        now - timedelta(minutes=45),
                        f"arn:aws:rds:{DR}:{ACCOUNT}:snapshot:awsbackup:copyjob-db1",
                    ),
                    recovery_point(
                        BUCKET_ARN,
                        "S3",
                        DR,
                        now - bucket_dr_age,
                        f"arn:aws:backup:{DR}:{ACCOUNT}:recovery-point:s3-copy",
                    ),
                ]
            },
            {"BackupVaultName": DR_VAULT},
        )
    aws.stub(
        "backup",
        REGION,
        "list_protected_resources",
        {
            "Results": [
                {
                    "ResourceArn": DB_ARN,
                    "ResourceType": "RDS",
                    "ResourceName": DB,
                    "LastBackupVaultArn": vault_arn(REGION, VAULT),
                },
                {
                    "ResourceArn": BUCKET_ARN,
                    "ResourceType": "S3",
                    "ResourceName": BUCKET,
                    "LastBackupVaultArn": vault_arn(REGION, VAULT),
                },
                # Another stack's resource in the same account: not a row of this stack.
                {
                    "ResourceArn": "arn:aws:s3:::philosophy-staging-assets-1b2c",
                    "ResourceType": "S3",
                    "LastBackupVaultArn": vault_arn(REGION, "philosophy-staging-backup"),
                },
            ]
        },
        {},
    )
    aws.stub(
        "backup",
        REGION,
        "list_copy_jobs",
        {
            "CopyJobs": [
                {
                    "CopyJobId": "copy-bucket",
                    "ResourceArn": BUCKET_ARN,
                    "ResourceType": "S3",
                    "SourceBackupVaultArn": vault_arn(REGION, VAULT),
                    "DestinationBackupVaultArn": vault_arn(DR, DR_VAULT),
                    "CreationDate": now - timedelta(minutes=18),
                    "State": bucket_copy_state,
                    **(
                        {"StatusMessage": "Access denied to the destination vault's key"}
                        if bucket_copy_state == "FAILED"
                        else {}
                    ),
                }
            ]
        },
        {"ByCreatedAfter": now - timedelta(days=7)},
    )
    aws.stub(
        "backup",
        REGION,
        "get_restore_testing_plan",
        {
            "RestoreTestingPlan": {
                "CreationTime": now - timedelta(days=30),
                "RecoveryPointSelection": {"Algorithm": "LATEST_WITHIN_WINDOW"},
                "RestoreTestingPlanArn": PLAN_ARN,
                "RestoreTestingPlanName": PLAN,
                "ScheduleExpression": "cron(0 5 ? * MON *)",
            }
        },
        {"RestoreTestingPlanName": PLAN},
    )
    monday = now - timedelta(days=2)
    aws.stub(
        "backup",
        REGION,
        "list_restore_jobs",
        {
            "RestoreJobs": [
                {
                    "RestoreJobId": "restore-db-new",
                    "SourceResourceArn": DB_ARN,
                    "RecoveryPointArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:awsbackup:job-db1",
                    "CreationDate": monday,
                    "CompletionDate": monday + timedelta(minutes=25),
                    "Status": "COMPLETED",
                    "CreatedBy": {"RestoreTestingPlanArn": PLAN_ARN},
                },
                {
                    "RestoreJobId": "restore-db-old",
                    "SourceResourceArn": DB_ARN,
                    "CreationDate": monday - timedelta(days=7),
                    "CompletionDate": monday - timedelta(days=7) + timedelta(minutes=90),
                    "Status": "FAILED",
                    "CreatedBy": {"RestoreTestingPlanArn": PLAN_ARN},
                },
                # No SourceResourceArn: matched to the bucket through its recovery point.
                {
                    "RestoreJobId": "restore-bucket",
                    "RecoveryPointArn": f"arn:aws:backup:{REGION}:{ACCOUNT}:recovery-point:s3-2",
                    "CreationDate": monday,
                    "Status": "RUNNING",
                    "CreatedBy": {"RestoreTestingPlanArn": PLAN_ARN},
                },
            ]
        },
        {"ByRestoreTestingPlanArn": PLAN_ARN},
    )
    if replicated:
        aws.stub(
            "rds",
            DR,
            "describe_db_instance_automated_backups",
            {
                "DBInstanceAutomatedBackups": [
                    replicated_backup("replicating", now - timedelta(minutes=10)),
                    # The same identifier from another region is another database.
                    {
                        "DBInstanceArn": f"arn:aws:rds:us-east-1:{ACCOUNT}:db:{DB}",
                        "DBInstanceIdentifier": DB,
                        "Region": "us-east-1",
                        "Status": "replicating",
                        "DBInstanceAutomatedBackupsArn": f"arn:aws:rds:{DR}:{ACCOUNT}:auto-backup:ab-other",
                        "RestoreWindow": {"LatestTime": now},
                    },
                ]
            },
            {},
        )


def dr_status(*args: str) -> list[str]:
    return ["dr", "status", "--stack", "prod", *args]


def test_all_fresh_exits_0_and_reports_every_protected_resource(
    aws: AwsClients, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    create_database()
    create_vaults(REGION, DR)
    stub_world(aws, now)
    use(monkeypatch, aws, fixed(now))

    assert main(dr_status()) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith(("philosophy-", "RESOURCE"))}
    assert set(rows) == {"RESOURCE", DB, BUCKET}, out
    # The database: its point-in-time window in the stack region, the replicated backups (10 minutes) in the DR one.
    assert "ago (point in time)" in rows[DB] and "10m ago (replicated backup)" in rows[DB], out
    assert "replicating" in rows[DB] and "COMPLETED in 25m, 2d 00h ago" in rows[DB] and rows[DB].endswith("ok")
    assert "20m ago (vault)" in rows[BUCKET] and "40m ago (vault copy)" in rows[BUCKET], out
    assert "copy COMPLETED, lag 20m" in rows[BUCKET] and "RUNNING, 2d 00h ago" in rows[BUCKET], out
    assert out.rstrip().endswith("all 2 resource(s) within the RPO of 1h"), out


def test_json_document(aws: AwsClients, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    now = datetime.now(UTC)
    create_database()
    create_vaults(REGION, DR)
    stub_world(aws, now)
    use(monkeypatch, aws, fixed(now))

    assert main(dr_status("--json", "-")) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is True and document["problems"] == []
    assert (document["stack"], document["region"], document["drRegion"], document["rpoHours"]) == (
        "prod",
        REGION,
        DR,
        1,
    )
    database, bucket = document["resources"]
    assert database["arn"] == DB_ARN and database["type"] == "RDS"
    assert database["dr"] == {
        "region": DR,
        "newest": (now - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": "replicated backup",
        "recoveryPoint": REPLICATED_ARN,
        "ageSeconds": 600,
        "withinRpo": True,
        "problem": None,
    }
    assert database["replication"]["state"] == "replicating"
    assert database["lastRestoreTest"] == {
        "status": "COMPLETED",
        "started": (now - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "durationSeconds": 1500,
    }
    assert bucket["name"] == BUCKET and bucket["primary"]["ageSeconds"] == 1200
    assert bucket["replication"] == {"state": "copy COMPLETED", "detail": None, "lagSeconds": 1200}
    assert bucket["lastRestoreTest"]["durationSeconds"] is None  # still running


def test_a_recovery_point_beyond_the_rpo_exits_1_naming_the_resource_and_its_age(
    aws: AwsClients, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    create_database()
    create_vaults(REGION, DR)
    stub_world(aws, now, bucket_dr_age=timedelta(hours=3, minutes=5), bucket_copy_state="FAILED")
    use(monkeypatch, aws, fixed(now))

    assert main(dr_status("--json", str(tmp_path / "status.json"))) == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith(BUCKET))
    assert "3h 05m ago (vault copy)" in row and "copy FAILED" in row and row.endswith("BEYOND"), out
    assert f"{BUCKET}: newest recovery point in {DR} is 3h 05m old" in out
    assert next(line for line in out.splitlines() if line.startswith(DB)).endswith("ok")
    assert out.rstrip().endswith("1 of 2 resource(s) beyond the RPO of 1h"), out
    document = json.loads((tmp_path / "status.json").read_text())
    assert document["ok"] is False
    assert [r["withinRpo"] for r in document["resources"]] == [True, False]
    assert document["resources"][1]["dr"]["ageSeconds"] == 3 * 3600 + 5 * 60


def test_no_dr_copy_at_all_exits_1(
    aws: AwsClients, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    create_database()
    create_vaults(REGION)  # no vault in the DR region: moto's DescribeBackupVault says so
    # No replication either: moto's DescribeDBInstanceAutomatedBackups in the DR region, unstubbed, finds nothing.
    stub_world(aws, now, replicated=False, dr_points=False)
    use(monkeypatch, aws, fixed(now))

    assert main(dr_status()) == 1
    out = capsys.readouterr().out
    assert f"{DB}: no recovery point in {DR} (no backup vault {DR_VAULT} in {DR})" in out, out
    assert f"{BUCKET}: no recovery point in {DR} (no backup vault {DR_VAULT} in {DR})" in out, out
    assert out.rstrip().endswith("2 of 2 resource(s) beyond the RPO of 1h")


def test_without_a_restore_testing_plan_or_database_the_report_says_so(
    aws: AwsClients, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    create_vaults(REGION, DR)  # and no DB instance
    empty: dict[str, dict[str, Any]] = {
        "list_recovery_points_by_backup_vault": {"RecoveryPoints": []},
        "list_protected_resources": {"Results": []},
        "list_copy_jobs": {"CopyJobs": []},
    }
    for operation, response in empty.items():
        aws.stub("backup", REGION, operation, response)
    aws.stub("backup", DR, "list_recovery_points_by_backup_vault", {"RecoveryPoints": []})
    aws.client("backup", REGION).stub_error("get_restore_testing_plan", "ResourceNotFoundException", "no such plan")
    use(monkeypatch, aws, fixed(now))

    assert main(dr_status()) == 1
    out = capsys.readouterr().out
    assert f"{DB}: no recovery point in {REGION} (no DB instance {DB} in {REGION})" in out, out
    assert f"note: no restore testing plan {PLAN} in {REGION}: no restore tests" in out


# A bucket's S3 replication into the DR region (components.aws.recovery.cross_region): Replication Time Control keeps
# the replica within minutes, where AWS Backup's DR copies are up to ~70 minutes old between hourly copies.


def bucket_row(out: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(BUCKET))


def bucket_json(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text())
    return next(r for r in document["resources"] if r["name"] == BUCKET) | {"warnings": document["warnings"]}


def test_rtc_replication_minutes_behind_keeps_a_bucket_within_the_rpo_between_vault_copies(
    aws: AwsClients, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    create_database()
    create_vaults(REGION, DR)
    replicate_bucket()
    # Latency up to 2 minutes; the backlog was 5 operations and is 1 now (a level: the newest, not their sum).
    replication_metrics(now, latency=[40, 120, 75], pending=[5, 0, 1], failed=[0, 0, 0])
    stub_world(aws, now, bucket_dr_age=timedelta(minutes=70))  # the DR vault's copy alone is beyond 1h
    use(monkeypatch, aws, fixed(now))

    assert main(dr_status("--json", str(tmp_path / "status.json"))) == 0
    out = capsys.readouterr().out
    row = bucket_row(out)
    assert "20m ago (vault)" in row and "2m ago (s3 replication)" in row, out
    assert "S3 replication (RTC): latency 2m, 1 pending, 0 failed; copy COMPLETED, lag 0s" in row, out
    assert row.endswith("ok") and "warning:" not in out and "note:" not in out, out
    assert out.rstrip().endswith("all 2 resource(s) within the RPO of 1h"), out
    bucket = bucket_json(tmp_path / "status.json")
    assert bucket["dr"] == {
        "region": DR,
        "newest": (now - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": "s3 replication",
        "recoveryPoint": REPLICA_BUCKET_ARN,
        "ageSeconds": 120,
        "withinRpo": True,
        "problem": None,
    }
    assert bucket["replication"] == {
        "state": "S3 replication (RTC)",
        "detail": "latency 2m, 1 pending, 0 failed; copy COMPLETED",
        "lagSeconds": 0,
    }
    assert bucket["s3Replication"] == {
        "state": "S3 replication (RTC)",
        "detail": "latency 2m, 1 pending, 0 failed",
        "counted": True,
        "replicaAt": (now - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "problems": [],
        "rules": [
            {
                "id": RULE,
                "destinationBucket": REPLICA_BUCKET_ARN,
                "replicationTimeControl": True,
                "metrics": True,
                "latencySeconds": 120,
                "pendingOperations": 1,
                "failedOperations": 0,
            }
        ],
    }
    assert bucket["withinRpo"] is True and bucket["warnings"] == []


def test_rtc_replication_without_recent_writes_is_current_as_of_its_threshold(
    aws: AwsClients, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    create_database()
    create_vaults(REGION, DR)
    replicate_bucket()
    replication_metrics(now)  # only a latency from before the window: nothing written since
    stub_world(aws, now, bucket_dr_age=timedelta(minutes=70))
    use(monkeypatch, aws, fixed(now))

    assert main(dr_status()) == 0
    out = capsys.readouterr().out
    row = bucket_row(out)
    assert "15m ago (s3 replication)" in row, out
    assert "no latency reported in 15m (no recent writes): taken as 15m behind, 0 pending, 0 failed" in row, out


def test_rtc_replication_hours_behind_is_beyond_the_rpo(
    aws: AwsClients, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    create_database()
    create_vaults(REGION, DR)
    replicate_bucket()
    replication_metrics(now, latency=[3600, 7200], pending=[12_000])
    stub_world(aws, now, bucket_dr_age=timedelta(hours=3))
    use(monkeypatch, aws, fixed(now))

    assert main(dr_status()) == 1
    out = capsys.readouterr().out
    row = bucket_row(out)
    assert "2h 00m ago (s3 replication)" in row and "latency 2h 00m, 12000 pending, 0 failed" in row, out
    assert row.endswith("BEYOND"), out
    assert f"{BUCKET}: newest recovery point in {DR} is 2h 00m old (s3 replication, " in out, out
    assert out.rstrip().endswith("1 of 2 resource(s) beyond the RPO of 1h"), out


@pytest.mark.parametrize(("copy_age", "exit_code"), [(timedelta(minutes=40), 0), (timedelta(minutes=70), 1)])
def test_failed_replication_is_a_problem_on_the_row_and_the_vault_copy_decides(
    aws: AwsClients,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    copy_age: timedelta,
    exit_code: int,
) -> None:
    now = datetime.now(UTC)
    create_database()
    create_vaults(REGION, DR)
    replicate_bucket()
    replication_metrics(now, latency=[60], failed=[2, 0, 1])
    stub_world(aws, now, bucket_dr_age=copy_age)
    use(monkeypatch, aws, fixed(now))

    assert main(dr_status("--json", str(tmp_path / "status.json"))) == exit_code
    out = capsys.readouterr().out
    row = bucket_row(out)
    # The replica, a minute behind but missing what failed, is not a recovery point: the vault's copy is the newest.
    assert f"{duration(copy_age)} ago (vault copy)" in row and "(s3 replication)" not in row, out
    assert "S3 replication (RTC): latency 1m, 0 pending, 3 failed" in row, out
    problem = (
        f"S3 replication rule {RULE}: 3 operation(s) failed to replicate to {REPLICA_BUCKET_ARN} in the last 15m; "
        "the replica is not counted"
    )
    assert f"warning: {BUCKET}: {problem}" in out, out
    assert row.endswith("ok" if exit_code == 0 else "BEYOND"), out
    bucket = bucket_json(tmp_path / "status.json")
    assert (bucket["dr"]["source"], bucket["dr"]["problem"]) == ("vault copy", problem)
    assert bucket["s3Replication"]["counted"] is False and bucket["s3Replication"]["replicaAt"] is None
    assert bucket["s3Replication"]["problems"] == [problem] and bucket["warnings"] == [f"{BUCKET}: {problem}"]
    assert bucket["s3Replication"]["rules"][0]["failedOperations"] == 3


@pytest.mark.parametrize("bucket", ["without replication", "deleted"])
def test_a_bucket_without_s3_replication_is_reported_as_before(
    aws: AwsClients, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, bucket: str
) -> None:
    now = datetime.now(UTC)
    create_database()
    create_vaults(REGION, DR)
    if bucket == "without replication":
        create_bucket(BUCKET, REGION)
    # Else AWS Backup still lists the bucket (its recovery points outlive it) and S3 answers NoSuchBucket.
    stub_world(aws, now)
    use(monkeypatch, aws, fixed(now))

    assert main(dr_status("--json", str(tmp_path / "status.json"))) == 0
    out = capsys.readouterr().out
    row = bucket_row(out)
    assert "20m ago (vault)" in row and "40m ago (vault copy)" in row and "copy COMPLETED, lag 20m" in row, out
    assert "S3 replication" not in row, out
    note = f"note: no bucket {BUCKET} in {REGION}: its S3 replication was not read"
    assert (note in out) == (bucket == "deleted"), out
    result = bucket_json(tmp_path / "status.json")
    assert result["replication"] == {"state": "copy COMPLETED", "detail": None, "lagSeconds": 1200}
    assert result["dr"]["problem"] is None and result["s3Replication"] is None and result["warnings"] == []


def test_replication_without_rtc_is_shown_but_not_counted(
    aws: AwsClients, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    create_database()
    create_vaults(REGION, DR)
    create_bucket("philosophy-prod-assets-us-5e6f", "us-east-1")
    create_bucket("philosophy-prod-assets-old-7a8b", DR)
    replicate_bucket(
        replication_rule(timed=False),
        # Neither of these is replication into the DR region: another region's bucket, and a disabled rule.
        replication_rule("philosophy-prod-assets-us-5e6f", "elsewhere", priority=2),
        replication_rule("philosophy-prod-assets-old-7a8b", "disabled", enabled=False, priority=3),
    )
    replication_metrics(now, latency=[30], destination="philosophy-prod-assets-us-5e6f", rule_id="elsewhere")
    replication_metrics(now, latency=[30], destination="philosophy-prod-assets-old-7a8b", rule_id="disabled")
    stub_world(aws, now, bucket_dr_age=timedelta(minutes=70))
    use(monkeypatch, aws, fixed(now))

    assert main(dr_status("--json", str(tmp_path / "status.json"))) == 1
    out = capsys.readouterr().out
    row = bucket_row(out)
    assert "1h 10m ago (vault copy)" in row and row.endswith("BEYOND"), out
    assert (
        "S3 replication: lag not reported (no Replication Time Control, no replication metrics); copy COMPLETED" in row
    ), out
    assert f"{BUCKET}: newest recovery point in {DR} is 1h 10m old (vault copy, " in out, out
    replication = bucket_json(tmp_path / "status.json")["s3Replication"]
    assert replication["counted"] is False and replication["problems"] == []
    assert [(r["id"], r["replicationTimeControl"], r["latencySeconds"]) for r in replication["rules"]] == [
        (RULE, False, None)
    ]


def test_missing_credentials_is_one_line_and_exit_1(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    # The real factory (boto3's default credential chain), with nothing to find: no mock, no network call is made.
    assert main(dr_status()) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("error: no AWS credentials") and captured.err.count("\n") == 1, captured.err
    assert captured.out == ""


def test_an_aws_error_is_one_line_and_exit_1(
    aws: AwsClients, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    create_database()
    create_vaults(REGION, DR)
    aws.client("backup", REGION).stub_error(
        "list_recovery_points_by_backup_vault", "AccessDeniedException", "User is not\nauthorized", 403
    )
    use(monkeypatch, aws, fixed(datetime.now(UTC)))

    assert main(dr_status()) == 1
    err = capsys.readouterr().err
    assert err == ("error: AWS ListRecoveryPointsByBackupVault: AccessDeniedException: User is not authorized\n"), err


def test_unknown_stack_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dr", "status", "--stack", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown stack 'nope'") and "Traceback" not in err


def test_invalid_dr_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    stack = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    stack["config"]["philosophy-infra:disasterRecovery"]["region"] = REGION
    (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump(stack))
    assert main([*dr_status(), "--project-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "philosophy-infra:disasterRecovery.region" in err and "must differ from aws:region" in err, err
    assert "Traceback" not in err


# The config section.


@pytest.mark.parametrize(
    ("change", "key", "rule"),
    [
        ({"region": "eu-west-1"}, "disasterRecovery.region", "must differ from aws:region"),
        ({"region": "xx-north-9"}, "disasterRecovery.region", "not a region this program knows"),
        ({"region": "Frankfurt"}, "disasterRecovery.region", "must be an AWS region name"),
        ({"region": "cn-north-1"}, "disasterRecovery.region", "same AWS partition"),
        ({"rpoHours": 0}, "disasterRecovery.rpoHours", "greater than or equal to 1"),
        ({"rpoHours": 25}, "disasterRecovery.rpoHours", "less than or equal to 24"),
        ({"rtoHours": 73}, "disasterRecovery.rtoHours", "less than or equal to 72"),
        ({"rpo": 1}, "disasterRecovery.rpo", "unknown key"),
    ],
)
def test_disaster_recovery_config_rules(change: dict[str, Any], key: str, rule: str) -> None:
    raw = raw_config("prod")
    raw["philosophy-infra:disasterRecovery"] |= change
    with pytest.raises(StackConfigError) as info:
        AwsStackConfig.from_raw("prod", encode(raw))
    assert [(issue.key, rule in issue.rule) for issue in info.value.issues] == [(key, True)], info.value


def test_disaster_recovery_is_required_and_defaults_its_objectives() -> None:
    raw = raw_config("prod")
    raw["philosophy-infra:disasterRecovery"] = {"region": DR}
    recovery = AwsStackConfig.from_raw("prod", encode(raw)).disaster_recovery
    assert (recovery.region, recovery.rpo_hours, recovery.rto_hours) == (DR, 1, 4)
    del raw["philosophy-infra:disasterRecovery"]
    with pytest.raises(StackConfigError, match="disasterRecovery"):
        AwsStackConfig.from_raw("prod", encode(raw))


# The pure parts.

_times = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))


@given(st.lists(_times))
def test_newest_is_the_latest_point_whatever_the_order(times: list[datetime]) -> None:
    points = [Point(at, "vault", f"arn-{i}") for i, at in enumerate(times)]
    found = newest(points)
    assert (found is None) == (not times)
    if found is not None:
        assert found.at == max(times) and found in points
        assert newest(reversed(points)).at == found.at  # type: ignore[union-attr]


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)), st.integers(1, 24))
def test_beyond_the_rpo_only_past_it(age: timedelta, hours: int) -> None:
    assert beyond(age, hours) == (age > timedelta(hours=hours))
    assert not beyond(timedelta(hours=hours), hours)
    assert beyond(timedelta(hours=hours, microseconds=1), hours)


def _parse(text: str) -> timedelta:
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    return sum((timedelta(**{units[part[-1]]: int(part[:-1])}) for part in text.split()), timedelta())


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3650)))
def test_duration_truncates_to_its_two_largest_units(delta: timedelta) -> None:
    text = duration(delta)
    shown = _parse(text)
    granularity = {"s": timedelta(seconds=1), "m": timedelta(minutes=1), "h": timedelta(hours=1)}[text[-1]]
    assert shown <= delta < shown + granularity, text
    assert len(text.split()) <= 2


@given(_times, _times)
def test_lag_is_how_far_the_dr_copy_trails(primary: datetime, dr: datetime) -> None:
    trailing = lag(Point(primary, "vault"), Point(dr, "vault copy"))
    assert trailing == max(primary - dr, timedelta(0))
    assert lag(None, Point(dr, "vault copy")) is None and lag(Point(primary, "vault"), None) is None


@given(
    st.one_of(st.none(), st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=2))),
    st.integers(0, 1000),
)
def test_replica_point_from_latency(latency: timedelta | None, failed: int) -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    at = replica_point(now, latency, failed)
    if failed:
        assert at is None
    else:
        assert at == now - (RTC_THRESHOLD if latency is None else latency)


def _rule(
    latency: timedelta | None = None, *, failed: int = 0, timed: bool = True, rule_id: str = RULE
) -> ReplicationRule:
    return ReplicationRule(
        rule_id, REPLICA_BUCKET_ARN, timed, timed, latency, 0 if timed else None, failed if timed else None
    )


def test_a_bucket_replica_is_as_current_as_its_slowest_rule_and_only_when_every_rule_reports() -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    one = BucketReplication((_rule(timedelta(minutes=2)),))
    assert one.point(now) == Point(now - timedelta(minutes=2), "s3 replication", REPLICA_BUCKET_ARN)
    two = BucketReplication((_rule(timedelta(minutes=2)), _rule(None, rule_id="quiet")))
    assert two.point(now) == Point(now - RTC_THRESHOLD, "s3 replication", REPLICA_BUCKET_ARN)
    for other in (_rule(timedelta(minutes=1), failed=1), _rule(timed=False)):
        assert BucketReplication((_rule(timedelta(minutes=2)), other)).point(now) is None
    assert BucketReplication(()).point(now) is None
    without_metrics = ReplicationRule(RULE, REPLICA_BUCKET_ARN, time_control=True, metrics=False)
    assert without_metrics.point(now) is None
    assert without_metrics.describe() == "lag not reported (no replication metrics)"
    assert BucketReplication((without_metrics,)).state == "S3 replication (RTC)"


def test_a_replication_with_operations_waiting_and_no_latency_reported_is_not_counted() -> None:
    """No latency datapoint but operations pending is what a stalled replication looks like: the replica is not
    taken as current."""
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert replica_point(now, None, failed=0, pending=3) is None
    assert replica_point(now, None, failed=0, pending=0) == now - timedelta(minutes=15)
    assert replica_point(now, timedelta(minutes=2), failed=0, pending=3) == now - timedelta(minutes=2)
