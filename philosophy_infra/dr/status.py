"""`dr status`: reads the account's recovery points, in the stack's region and the DR region, into a StatusReport.

The rows are the database plus every resource AWS Backup protects into this stack's vault. For each: the newest
recovery point per region (AWS Backup's vault and its DR copy; for the database also its point-in-time restore
window and the automated backups replicated into the DR region; for a bucket also its S3 replication into the DR
region, as current as the latency S3 reports), the replication's state, and the newest restore job of the restore
testing plan."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from philosophy_infra.dr.clients import Clients
from philosophy_infra.dr.report import (
    METRICS_WINDOW,
    PITR,
    REPLICA,
    VAULT,
    VAULT_COPY,
    BucketReplication,
    Point,
    RegionState,
    Replication,
    ReplicationRule,
    ResourceStatus,
    RestoreTest,
    StatusReport,
    newest,
)
from philosophy_infra.dr.target import DrTarget

if TYPE_CHECKING:
    from mypy_boto3_backup import BackupClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import DatapointTypeDef
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_s3 import S3Client

# Recovery points a restore can start from (the others are being made, deleted, or failed).
USABLE_POINT = frozenset({"COMPLETED", "AVAILABLE"})
# Copy jobs older than this say nothing the DR vault's recovery points do not.
COPY_JOBS_WINDOW = timedelta(days=7)
# What S3 answers for a bucket without a replication configuration (the documented code, and the one S3 sends).
NO_REPLICATION = frozenset({"NoSuchReplicationConfiguration", "ReplicationConfigurationNotFoundError"})
# GetBucketLocation's answers for the two regions that predate LocationConstraint.
_LEGACY_LOCATIONS = {"": "us-east-1", "EU": "eu-west-1"}


def collect_status(target: DrTarget, clients: Clients, now: datetime) -> StatusReport:
    rds, backup = clients.rds(target.region), clients.backup(target.region)
    rds_dr, backup_dr = clients.rds(target.dr_region), clients.backup(target.dr_region)
    s3, s3_dr, cloudwatch = clients.s3(target.region), clients.s3(target.dr_region), clients.cloudwatch(target.region)
    notes: list[str] = []

    database = describe_database(rds, target.database)
    primary_points, primary_problem = vault_points(backup, target.vault, target.region, VAULT)
    dr_points, dr_problem = vault_points(backup_dr, target.dr_vault, target.dr_region, VAULT_COPY)
    copies = copy_jobs(backup, target.dr_vault, target.dr_region, now)
    point_owner = {p.arn: arn for arn, points in primary_points.items() for p in points if p.arn}
    tests = restore_tests(backup, target.restore_testing_plan, point_owner)
    if tests is None:
        notes.append(f"no restore testing plan {target.restore_testing_plan} in {target.region}: no restore tests")

    db_arn = database.get("DBInstanceArn") if database else None
    if database is None:
        notes.append(f"no DB instance {target.database} in {target.region}")

    def is_db(arn: str) -> bool:
        return arn == db_arn or is_database_arn(arn, target.region, target.database)

    def of_database(points: dict[str, list[Point]]) -> list[Point]:
        return [p for arn, found in points.items() if is_db(arn) for p in found]

    pitr = database.get("LatestRestorableTime") if database else None
    replicated = replicated_backup(rds_dr, target.database, target.region)
    replica_time = replicated.get("RestoreWindow", {}).get("LatestTime") if replicated else None
    db_copies = [job for arn, job in copies.items() if is_db(arn)]
    rows = [
        ResourceStatus(
            name=target.database,
            kind="RDS",
            arn=db_arn,
            primary=RegionState(
                target.region,
                newest([*of_database(primary_points), *([Point(_utc(pitr), PITR)] if pitr else [])]),
                primary_problem or (None if database else f"no DB instance {target.database} in {target.region}"),
            ),
            dr=RegionState(
                target.dr_region,
                newest(
                    [
                        *of_database(dr_points),
                        *(
                            [Point(_utc(replica_time), REPLICA, replicated.get("DBInstanceAutomatedBackupsArn"))]
                            if replicated and replica_time
                            else []
                        ),
                    ]
                ),
                dr_problem or (None if replicated else "no replicated automated backups"),
            ),
            replication=(
                Replication(replicated.get("Status", "unknown"), "automated backups replication")
                if replicated
                else _copy_state(max(db_copies, key=lambda j: _utc(j.get("CreationDate")), default=None))
            ),
            restore_test=next((test for arn, test in (tests or {}).items() if is_db(arn)), None),
        )
    ]

    for arn, kind, name in protected_resources(backup, target.vault):
        if is_db(arn):
            continue
        bucket = bucket_name(arn)
        replicated_bucket = (
            bucket_replication(s3, s3_dr, cloudwatch, bucket, target.region, target.dr_region, now, notes)
            if bucket
            else None
        )
        replica = replicated_bucket.point(now) if replicated_bucket else None
        copy = _copy_state(copies.get(arn))
        problems = [*([dr_problem] if dr_problem else []), *(replicated_bucket.problems() if replicated_bucket else [])]
        rows.append(
            ResourceStatus(
                name=name,
                kind=kind,
                arn=arn,
                primary=RegionState(target.region, newest(primary_points.get(arn, [])), primary_problem),
                dr=RegionState(
                    target.dr_region,
                    newest([*dr_points.get(arn, []), *([replica] if replica else [])]),
                    # Failed replication is the row's problem; the points' ages still decide the exit code.
                    "; ".join(problems) or None,
                ),
                replication=replicated_bucket.replication(copy) if replicated_bucket else copy,
                restore_test=(tests or {}).get(arn),
                bucket_replication=replicated_bucket,
            )
        )
    return StatusReport(
        stack=target.stack,
        region=target.region,
        dr_region=target.dr_region,
        rpo_hours=target.rpo_hours,
        checked_at=now,
        resources=rows,
        notes=notes,
    )


def describe_database(rds: RDSClient, identifier: str) -> dict[str, Any] | None:
    try:
        instances = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
    except ClientError as exc:
        if _code(exc) == "DBInstanceNotFound":
            return None
        raise
    return dict(instances[0]) if instances else None


def is_database_arn(arn: str, region: str, identifier: str) -> bool:
    """Whether `arn` is the DB instance `identifier` in `region` (any partition, any account): the DR side matches
    the source by ARN, without asking the stack's region, which a real disaster may have taken away."""
    return re.fullmatch(rf"arn:aws[a-z-]*:rds:{re.escape(region)}:\d{{12}}:db:{re.escape(identifier)}", arn) is not None


def replicated_backup(rds_dr: RDSClient, identifier: str, source_region: str) -> dict[str, Any] | None:
    """The database's automated backups replicated into the DR region (RDS keeps one per source instance), or None.

    Listed whole and matched on the source's ARN: a filter by identifier would not tell a same-named instance of
    another region or account apart."""
    found: list[dict[str, Any]] = []
    marker: str | None = None
    while True:
        more: dict[str, Any] = {"Marker": marker} if marker else {}
        page = rds_dr.describe_db_instance_automated_backups(**more)
        for backup in page.get("DBInstanceAutomatedBackups", []):
            if is_database_arn(backup.get("DBInstanceArn", ""), source_region, identifier):
                found.append(dict(backup))
        marker = page.get("Marker")
        if not marker:
            break
    # A retained backup of a deleted instance may sit next to the live replication: the freshest one counts.
    return max(found, key=lambda b: _utc(b.get("RestoreWindow", {}).get("LatestTime")), default=None)


def bucket_name(arn: str) -> str | None:
    """The bucket's name, when `arn` is an S3 bucket's (any partition)."""
    match = re.fullmatch(r"arn:aws[a-z-]*:s3:::([^/:]+)", arn)
    return match.group(1) if match else None


def bucket_replication(
    s3: S3Client,
    s3_dr: S3Client,
    cloudwatch: CloudWatchClient,
    bucket: str,
    region: str,
    dr_region: str,
    now: datetime,
    notes: list[str],
) -> BucketReplication | None:
    """The bucket's S3 replication into the DR region: its enabled rules whose destination bucket is there (asked
    of the DR region), each with its metrics when S3 reports them; None without any such rule. `s3` and
    `cloudwatch` are the stack region's, where the bucket and its replication metrics are. What cannot be read
    and is not an error goes to `notes`."""
    try:
        config = s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]
    except ClientError as exc:
        if _code(exc) in NO_REPLICATION:
            return None
        if _code(exc) == "NoSuchBucket":
            # AWS Backup keeps listing a deleted bucket while its recovery points last.
            notes.append(f"no bucket {bucket} in {region}: its S3 replication was not read")
            return None
        raise
    rules: list[ReplicationRule] = []
    for rule in config.get("Rules", []):
        destination = rule.get("Destination", {})
        replica = bucket_name(destination.get("Bucket", ""))
        if rule.get("Status") != "Enabled" or replica is None:
            continue
        located, why = bucket_region(s3_dr, replica)
        if located is None:
            notes.append(f"S3 replication of {bucket} to {replica}: the destination's region is unknown ({why})")
            continue
        if located != dr_region:
            continue
        rule_id = rule.get("ID", "")
        time_control = destination.get("ReplicationTime", {}).get("Status") == "Enabled"
        metrics = destination.get("Metrics", {}).get("Status") == "Enabled"
        if time_control and metrics:
            latency, pending, failed = replication_metrics(cloudwatch, bucket, replica, rule_id, now)
            rules.append(ReplicationRule(rule_id, destination["Bucket"], True, True, latency, pending, failed))
        else:
            rules.append(ReplicationRule(rule_id, destination["Bucket"], time_control, metrics))
    return BucketReplication(tuple(rules)) if rules else None


def bucket_region(s3: S3Client, bucket: str) -> tuple[str | None, str | None]:
    """The bucket's region, or None and why not (no such bucket, or not the caller's to see)."""
    try:
        location: str = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or ""
    except ClientError as exc:
        if _code(exc) in {"NoSuchBucket", "AccessDenied"}:
            return None, _code(exc)
        raise
    return _LEGACY_LOCATIONS.get(location, location), None


def replication_metrics(
    cloudwatch: CloudWatchClient, source: str, destination: str, rule_id: str, now: datetime
) -> tuple[timedelta | None, int, int]:
    """A replication rule's metrics over METRICS_WINDOW, at one-minute periods: the highest ReplicationLatency (None
    without a datapoint: nothing was written), OperationsPendingReplication at the newest datapoint (a backlog, not
    a count of events) and OperationsFailedReplication summed."""

    def datapoints(metric: str, statistic: Literal["Maximum", "Sum"]) -> list[DatapointTypeDef]:
        return cloudwatch.get_metric_statistics(
            Namespace="AWS/S3",
            MetricName=metric,
            Dimensions=[
                {"Name": "SourceBucket", "Value": source},
                {"Name": "DestinationBucket", "Value": destination},
                {"Name": "RuleId", "Value": rule_id},
            ],
            StartTime=now - METRICS_WINDOW,
            EndTime=now,
            Period=60,
            Statistics=[statistic],
        ).get("Datapoints", [])

    latency = max((p["Maximum"] for p in datapoints("ReplicationLatency", "Maximum") if "Maximum" in p), default=None)
    backlog = datapoints("OperationsPendingReplication", "Sum")
    pending = max(backlog, key=lambda p: _utc(p.get("Timestamp"))).get("Sum", 0.0) if backlog else 0.0
    failed = sum(p.get("Sum", 0.0) for p in datapoints("OperationsFailedReplication", "Sum"))
    return (
        timedelta(seconds=latency) if latency is not None else None,
        int(pending),
        int(failed),
    )


def vault_points(
    backup: BackupClient, vault: str, region: str, source: str
) -> tuple[dict[str, list[Point]], str | None]:
    """The vault's usable recovery points by resource ARN, and why there are none (the vault is missing)."""
    try:
        backup.describe_backup_vault(BackupVaultName=vault)
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            return {}, f"no backup vault {vault} in {region}"
        if _code(exc) == "AccessDeniedException":
            # AWS Backup answers so for a vault it will not show: missing, or outside the caller's policy.
            return {}, f"backup vault {vault} in {region}: access denied (or no such vault)"
        raise
    points: dict[str, list[Point]] = {}
    for page in _pages(lambda **more: backup.list_recovery_points_by_backup_vault(BackupVaultName=vault, **more)):
        for point in page.get("RecoveryPoints", []):
            arn, created = point.get("ResourceArn"), point.get("CreationDate")
            if arn and created and point.get("Status") in USABLE_POINT:
                points.setdefault(arn, []).append(Point(_utc(created), source, point.get("RecoveryPointArn")))
    return points, None


def protected_resources(backup: BackupClient, vault: str) -> list[tuple[str, str, str]]:
    """(ARN, type, name) of each resource AWS Backup protects into `vault`, sorted by type and name.

    The account's list holds every stack's resources (staging and prod may share an account): this stack's are
    those whose last backup went to its vault."""
    found = []
    for page in _pages(lambda **more: backup.list_protected_resources(**more)):
        for resource in page.get("Results", []):
            arn = resource.get("ResourceArn")
            if arn and resource.get("LastBackupVaultArn", "").endswith(f":backup-vault:{vault}"):
                found.append((arn, resource.get("ResourceType", "?"), resource.get("ResourceName") or _name(arn)))
    return sorted(found, key=lambda r: (r[1], r[2]))


def copy_jobs(backup: BackupClient, dr_vault: str, dr_region: str, now: datetime) -> dict[str, dict[str, Any]]:
    """The newest copy job into the DR vault, by resource ARN (copy jobs are listed in the source's region)."""
    newest_job: dict[str, dict[str, Any]] = {}
    since = now - COPY_JOBS_WINDOW
    for page in _pages(lambda **more: backup.list_copy_jobs(ByCreatedAfter=since, **more)):
        for job in page.get("CopyJobs", []):
            destination = job.get("DestinationBackupVaultArn", "")
            arn = job.get("ResourceArn")
            if not arn or f":{dr_region}:" not in destination or not destination.endswith(f":backup-vault:{dr_vault}"):
                continue
            seen = newest_job.get(arn)
            if seen is None or _utc(job.get("CreationDate")) > _utc(seen.get("CreationDate")):
                newest_job[arn] = dict(job)
    return newest_job


def restore_tests(backup: BackupClient, plan: str, point_owner: dict[str, str]) -> dict[str, RestoreTest] | None:
    """The newest restore job of the restore testing plan, by the ARN of the resource it restored; None when the
    plan does not exist. `point_owner` maps recovery point ARNs to resources, for jobs that do not name theirs."""
    try:
        plan_arn = backup.get_restore_testing_plan(RestoreTestingPlanName=plan)["RestoreTestingPlan"][
            "RestoreTestingPlanArn"
        ]
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            return None
        raise
    tests: dict[str, RestoreTest] = {}
    for page in _pages(lambda **more: backup.list_restore_jobs(ByRestoreTestingPlanArn=plan_arn, **more)):
        for job in page.get("RestoreJobs", []):
            # The filter is the API's; checked again because an older endpoint may ignore it.
            if job.get("CreatedBy", {}).get("RestoreTestingPlanArn", plan_arn) != plan_arn:
                continue
            owner = job.get("SourceResourceArn") or point_owner.get(job.get("RecoveryPointArn", ""))
            created, completed = job.get("CreationDate"), job.get("CompletionDate")
            if not owner or not created:
                continue
            test = RestoreTest(
                status=job.get("Status", "unknown"),
                started=_utc(created),
                took=_utc(completed) - _utc(created) if completed else None,
            )
            if owner not in tests or test.started > tests[owner].started:
                tests[owner] = test
    return tests


def _copy_state(job: dict[str, Any] | None) -> Replication | None:
    if job is None:
        return None
    return Replication(f"copy {job.get('State', 'unknown')}", job.get("StatusMessage"))


def _pages(call: Callable[..., Any]) -> Iterator[Any]:
    """Every page of an AWS Backup list call (NextToken)."""
    token: str | None = None
    while True:
        page = call(**({"NextToken": token} if token else {}))
        yield page
        token = page.get("NextToken")
        if not token:
            return


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _name(arn: str) -> str:
    """The last part of an ARN: a bucket's name, an instance's identifier, a table's name."""
    return re.split(r"[:/]", arn)[-1] or arn


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _utc(at: Any) -> datetime:
    # botocore hands back aware datetimes (tzutc, or tzlocal in moto); naive ones are UTC by the API's contract.
    if not isinstance(at, datetime):
        return _EPOCH
    return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
