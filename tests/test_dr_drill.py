"""`philosophy-infra dr drill`, end to end through the CLI against moto (`mock_aws`): the restore, the wait, the
check that the instance answers and its deletion all happen in moto's RDS, with the database, its snapshot and
its copy into the DR region made in the test itself.

Stubbed with botocore's Stubber, each on a client of its own (tests.test_dr_status.AwsClients), because moto lacks
them: AWS Backup's ListRecoveryPointsByBackupVault (the DR vault's snapshot), RDS's
DescribeDBInstanceAutomatedBackups in the DR region (moto does not replicate automated backups across regions) and
RestoreDBInstanceToPointInTime from a replicated backup's ARN (moto restores only from a source instance in the
same region); after that stubbed restore, the test creates the instance in moto as RDS would, so the rest of the
drill runs against moto. One test stubs DescribeDBInstances to report a failed restore: moto's instances are
available at once and never fail."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from philosophy_infra.cli import main
from philosophy_infra.dr.drill import drill_identifier, tcp_answers
from philosophy_infra.naming import Naming
from tests.test_dr_status import (
    ACCOUNT,
    DB,
    DB_ARN,
    DR,
    DR_VAULT,
    REGION,
    REPLICATED_ARN,
    AwsClients,
    create_database,
    create_vaults,
    dummy_aws_env,
    fixed,
    moto_clients,
    recovery_point,
    replicated_backup,
    use,
)

SNAPSHOT = "awsbackup-copyjob-1f2e3d"  # AWS Backup names it awsbackup:copyjob-…; moto refuses the colon
SNAPSHOT_ARN = f"arn:aws:rds:{DR}:{ACCOUNT}:snapshot:{SNAPSHOT}"
ISOLATED = {
    "PubliclyAccessible": False,
    "MultiAZ": False,
    "DeletionProtection": False,
    "CopyTagsToSnapshot": False,
    "Tags": [{"Key": "purpose", "Value": "dr-drill"}],
}


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    dummy_aws_env(monkeypatch, tmp_path)


@pytest.fixture
def aws(aws_env: None) -> Iterator[AwsClients]:
    yield from moto_clients()


def copy_snapshot_to_dr(now: datetime) -> None:
    """The database, a snapshot of it, and the copy AWS Backup makes into the DR region (in moto); the DR vault
    lists that copy as its recovery point (stubbed)."""
    create_database()
    create_vaults(REGION, DR)
    source = boto3.client("rds", region_name=REGION).create_db_snapshot(
        DBInstanceIdentifier=DB, DBSnapshotIdentifier="awsbackup-job-9a8b7c"
    )["DBSnapshot"]
    boto3.client("rds", region_name=DR).copy_db_snapshot(
        SourceDBSnapshotIdentifier=source["DBSnapshotArn"], TargetDBSnapshotIdentifier=SNAPSHOT
    )


def stub_dr_vault(clients: AwsClients, now: datetime, points: list[dict[str, Any]] | None = None) -> None:
    if points is None:
        points = [
            recovery_point(DB_ARN, "RDS", DR, now - timedelta(hours=2), f"arn:aws:rds:{DR}:{ACCOUNT}:snapshot:older"),
            recovery_point(DB_ARN, "RDS", DR, now - timedelta(minutes=40), SNAPSHOT_ARN),
            # Another resource's copy in the same vault is not the database's.
            recovery_point(
                "arn:aws:s3:::philosophy-prod-assets-7f3a",
                "S3",
                DR,
                now,
                f"arn:aws:backup:{DR}:{ACCOUNT}:recovery-point:s3",
            ),
        ]
    clients.stub(
        "backup", DR, "list_recovery_points_by_backup_vault", {"RecoveryPoints": points}, {"BackupVaultName": DR_VAULT}
    )


def capture_params(client: Any, operation: str) -> list[dict[str, Any]]:
    """The parameters of every `operation` call made through `client`, as the command passed them."""
    calls: list[dict[str, Any]] = []
    client.meta.events.register(
        f"provide-client-params.rds.{operation}", lambda params, **_: calls.append(dict(params))
    )
    return calls


def dr_instances() -> list[str]:
    instances = boto3.client("rds", region_name=DR).describe_db_instances()["DBInstances"]
    return [i["DBInstanceIdentifier"] for i in instances]


def drill(*args: str) -> list[str]:
    return ["dr", "drill", "--stack", "prod", "--poll-seconds", "0", *args]


def ticking(*offsets: timedelta, start: datetime | None = None) -> Callable[[], datetime]:
    """A clock that answers `start + offset` for each call in turn, then keeps the last."""
    origin = start or datetime(2026, 11, 27, 4, 0, tzinfo=UTC)
    answers = list(offsets)

    def clock() -> datetime:
        return origin + (answers.pop(0) if len(answers) > 1 else answers[0])

    return clock


def test_drill_restores_the_dr_vault_snapshot_checks_it_answers_and_deletes_it(
    aws: AwsClients, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    copy_snapshot_to_dr(now)
    stub_dr_vault(aws, now)
    restores = capture_params(aws.rds(DR).real, "RestoreDBInstanceFromDBSnapshot")
    use(monkeypatch, aws, ticking(timedelta(0), timedelta(minutes=23, seconds=10)))

    assert main(drill()) == 0
    captured = capsys.readouterr()
    identifier = f"{DB}-drill-20261127040000"
    assert restores == [{"DBInstanceIdentifier": identifier, "DBSnapshotIdentifier": SNAPSHOT_ARN, **ISOLATED}]
    assert f"drill:     23m  {identifier}: available" in captured.err.splitlines()
    assert captured.out == (
        f"drill passed: restored and answered at {identifier}.aaaaaaaaaa.{DR}.rds.amazonaws.com:5432 in 23m, "
        f"within the RTO of 4h; deleted {identifier}\n"
    )
    assert dr_instances() == []  # gone from moto
    with pytest.raises(ClientError, match="DBInstanceNotFound"):
        boto3.client("rds", region_name=DR).describe_db_instances(DBInstanceIdentifier=identifier)


def test_keep_keeps_the_instance_isolated_and_tagged(
    aws: AwsClients, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    copy_snapshot_to_dr(now)
    stub_dr_vault(aws, now)
    # The isolated network an operator would name: a VPC of its own in the DR region.
    ec2 = boto3.client("ec2", region_name=DR)
    vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.99.{i}.0/24", AvailabilityZone=f"{DR}{zone}")["Subnet"]["SubnetId"]
        for i, zone in enumerate("ab")
    ]
    boto3.client("rds", region_name=DR).create_db_subnet_group(
        DBSubnetGroupName="dr-drill-isolated", DBSubnetGroupDescription="dr drills", SubnetIds=subnets
    )
    group = ec2.create_security_group(GroupName="dr-drill", Description="dr drills", VpcId=vpc)["GroupId"]
    restores = capture_params(aws.rds(DR).real, "RestoreDBInstanceFromDBSnapshot")
    use(monkeypatch, aws, ticking(timedelta(0), timedelta(minutes=5)))

    assert main(drill("--keep", "--subnet-group", "dr-drill-isolated", "--security-group", group)) == 0
    identifier = f"{DB}-drill-20261127040000"
    assert capsys.readouterr().out.rstrip().endswith(f"kept {identifier} (--keep): delete it when done")
    assert restores[0]["DBSubnetGroupName"] == "dr-drill-isolated"
    assert restores[0]["VpcSecurityGroupIds"] == [group]
    instance = boto3.client("rds", region_name=DR).describe_db_instances(DBInstanceIdentifier=identifier)[
        "DBInstances"
    ][0]
    assert instance["DBInstanceStatus"] == "available" and instance["MultiAZ"] is False
    assert instance["TagList"] == [{"Key": "purpose", "Value": "dr-drill"}]
    assert instance["DBSubnetGroup"]["DBSubnetGroupName"] == "dr-drill-isolated"
    assert [g["VpcSecurityGroupId"] for g in instance["VpcSecurityGroups"]] == [group]


def test_a_refused_restore_is_one_line_and_exit_1(
    aws: AwsClients, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    copy_snapshot_to_dr(now)
    stub_dr_vault(aws, now)
    use(monkeypatch, aws, fixed(now))

    # moto, like RDS, refuses a subnet group that does not exist: nothing was created, so nothing is deleted.
    assert main(drill("--subnet-group", "no-such-group")) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (
        "error: AWS RestoreDBInstanceFromDBSnapshot: DBSubnetGroupNotFoundFault: Subnet Group no-such-group not found."
    )
    assert "deleting" not in err and dr_instances() == []


def test_drill_prefers_the_replicated_automated_backups(
    aws: AwsClients, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    identifier = f"{DB}-drill-20261127040000"
    aws.stub(
        "rds",
        DR,
        "describe_db_instance_automated_backups",
        {"DBInstanceAutomatedBackups": [replicated_backup("replicating", now - timedelta(minutes=5))]},
        {},
    )
    restored = {"DBInstanceIdentifier": identifier, "DBInstanceStatus": "creating", "Engine": "postgres"}
    aws.stub(
        "rds",
        DR,
        "restore_db_instance_to_point_in_time",
        {"DBInstance": restored},
        {
            "SourceDBInstanceAutomatedBackupsArn": REPLICATED_ARN,
            "TargetDBInstanceIdentifier": identifier,
            "UseLatestRestorableTime": True,
            **ISOLATED,
        },
    )

    def rds_creates_it(params: dict[str, Any]) -> None:
        boto3.client("rds", region_name=DR).create_db_instance(
            DBInstanceIdentifier=params["TargetDBInstanceIdentifier"],
            Engine="postgres",
            DBInstanceClass="db.t4g.micro",
            AllocatedStorage=20,
            MasterUsername="philosophy_admin",
            MasterUserPassword="not-a-real-password",
            Tags=params["Tags"],
        )

    aws.rds(DR).after["restore_db_instance_to_point_in_time"] = rds_creates_it
    use(monkeypatch, aws, ticking(timedelta(0), timedelta(minutes=12)))

    assert main(drill()) == 0
    captured = capsys.readouterr()
    assert f"drill: restoring the replicated automated backup {REPLICATED_ARN}" in captured.err
    assert (
        captured.out.startswith("drill passed: restored and answered at ") and "in 12m, within the RTO" in captured.out
    )
    assert dr_instances() == []


def test_a_replication_without_a_restore_window_falls_back_to_the_vault_snapshot(
    aws: AwsClients, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    copy_snapshot_to_dr(now)
    stub_dr_vault(aws, now)
    aws.stub(
        "rds",
        DR,
        "describe_db_instance_automated_backups",
        {
            # Replication has only just started: nothing is restorable yet.
            "DBInstanceAutomatedBackups": [replicated_backup("pending")]
        },
        {},
    )
    use(monkeypatch, aws, ticking(timedelta(0), timedelta(minutes=9)))

    assert main(drill()) == 0
    assert f"drill: restoring the vault snapshot {SNAPSHOT_ARN}" in capsys.readouterr().err
    assert dr_instances() == []


def test_drill_over_the_rto_exits_1_and_still_cleans_up(
    aws: AwsClients, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    copy_snapshot_to_dr(now)
    stub_dr_vault(aws, now)
    use(monkeypatch, aws, ticking(timedelta(0), timedelta(hours=5, minutes=2)))

    assert main(drill()) == 1
    out = capsys.readouterr().out
    assert out.startswith("drill FAILED: restored and answered at ") and "in 5h 02m, over the RTO of 4h" in out, out
    assert dr_instances() == []


def test_a_failed_restore_exits_1_and_is_deleted(
    aws: AwsClients, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    copy_snapshot_to_dr(now)
    stub_dr_vault(aws, now)
    identifier = f"{DB}-drill-20261127040000"
    for status in ("creating", "incompatible-restore"):
        aws.stub(
            "rds",
            DR,
            "describe_db_instances",
            {"DBInstances": [{"DBInstanceIdentifier": identifier, "DBInstanceStatus": status}]},
            {"DBInstanceIdentifier": identifier},
        )
    use(monkeypatch, aws, ticking(timedelta(0), timedelta(minutes=1), timedelta(minutes=31)))

    assert main(drill()) == 1
    captured = capsys.readouterr()
    assert [line for line in captured.err.splitlines() if ": creating" in line or "incompatible" in line] == [
        f"drill:      1m  {identifier}: creating",
        f"drill:     31m  {identifier}: incompatible-restore",
    ]
    assert captured.out == (f"drill FAILED: {identifier} is incompatible-restore after 31m; deleted {identifier}\n")
    assert dr_instances() == []


def test_nothing_to_restore_exits_1(
    aws: AwsClients, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    create_vaults(DR)
    stub_dr_vault(aws, datetime.now(UTC), points=[])
    use(monkeypatch, aws, fixed(datetime.now(UTC)))

    assert main(drill()) == 1
    assert capsys.readouterr().out == (
        f"drill FAILED: nothing to restore: no replicated automated backups of {DB} and no snapshot of it in vault "
        f"{DR_VAULT} ({DR})\n"
    )


def test_ctrl_c_while_waiting_deletes_the_instance_and_exits_130(
    aws: AwsClients, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    copy_snapshot_to_dr(now)
    stub_dr_vault(aws, now)
    calls = iter([datetime(2026, 11, 27, 4, 0, tzinfo=UTC)])

    def clock() -> datetime:
        # The second reading is the first poll's: the operator pressed Ctrl-C while the restore ran.
        try:
            return next(calls)
        except StopIteration:
            raise KeyboardInterrupt from None

    use(monkeypatch, aws, clock)
    assert main(drill()) == 130
    captured = capsys.readouterr()
    identifier = f"{DB}-drill-20261127040000"
    assert captured.err.splitlines()[-1] == f"interrupted: deleted {identifier}"
    assert "Traceback" not in captured.err and captured.out == ""
    assert dr_instances() == []


def test_missing_credentials_is_one_line_and_exit_1(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert main(drill()) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no AWS credentials") and err.count("\n") == 1, err


def test_unknown_stack_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dr", "drill", "--stack", "nope"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown stack 'nope'")


@given(
    st.from_regex(r"[a-z][a-z0-9-]{1,20}", fullmatch=True),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)),
)
def test_drill_identifier_is_a_valid_rds_identifier_for_every_environment(environment: str, at: datetime) -> None:
    identifier = drill_identifier(Naming(environment)("postgres"), at)
    # RDS: 1-63 letters, digits or hyphens, starting with a letter, no two hyphens in a row, not ending in one;
    # the environment's own hyphens are its business (the production instance has them too).
    assert len(identifier) <= 63 and identifier[0].isalpha()
    assert identifier.endswith(f"-drill-{at:%Y%m%d%H%M%S}")


def test_tcp_answers_only_where_something_listens() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        assert tcp_answers("127.0.0.1", port, timeout=2)
    assert not tcp_answers("127.0.0.1", port, timeout=2)  # closed now: refused at once
