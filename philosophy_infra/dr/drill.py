"""`dr drill`: restore the database's latest recovery point into the DR region, isolated, and time it against the RTO.

The source is the automated backups replicated into the DR region (restored to their latest restorable time), or
else the newest RDS snapshot AWS Backup copied into the DR vault. The restored instance is private, single-AZ,
without deletion protection, and tagged `purpose=dr-drill` only: it copies no tag of the production instance, so
no backup selection, cost report or alarm that selects production by tag picks it up. Nothing here asks the stack's
own region: a drill rehearses the day that region is gone."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from philosophy_infra.dr.clients import Clients
from philosophy_infra.dr.report import VAULT_COPY, beyond, duration, iso, newest
from philosophy_infra.dr.status import is_database_arn, replicated_backup, vault_points
from philosophy_infra.dr.target import DrTarget

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

DRILL_TAG = {"Key": "purpose", "Value": "dr-drill"}
# States an RDS instance does not leave by itself: waiting longer changes nothing.
FAILED_STATES = frozenset(
    {
        "failed",
        "incompatible-credentials",
        "incompatible-network",
        "incompatible-option-group",
        "incompatible-parameters",
        "incompatible-restore",
        "inaccessible-encryption-credentials",
        "inaccessible-encryption-credentials-recoverable",
        "restore-error",
        "storage-full",
        "deleting",
    }
)
# Past this multiple of the RTO the drill has failed whatever happens next: stop paying for the wait.
GIVE_UP_AFTER_RTOS = 2


@dataclass(frozen=True)
class DrillOptions:
    keep: bool = False
    poll_seconds: float = 30
    subnet_group: str | None = None
    security_groups: tuple[str, ...] = ()
    connect: bool = False
    connect_timeout: float = 10


@dataclass(frozen=True)
class Source:
    kind: str  # "replicated automated backup" or "vault snapshot"
    arn: str
    at: datetime | None
    """The newest time it restores to, where AWS reports it."""

    def describe(self) -> str:
        when = f" (as of {iso(self.at)})" if self.at else ""
        return f"the {self.kind} {self.arn}{when}"


@dataclass(frozen=True)
class DrillResult:
    identifier: str | None
    source: Source | None
    rto_hours: int
    elapsed: timedelta | None = None
    status: str | None = None
    endpoint: str | None = None
    answered: bool = False
    failure: str | None = None
    cleaned: str | None = None
    """What became of the instance: deleted, kept, or why it could not be deleted."""

    @property
    def within_rto(self) -> bool:
        return self.elapsed is not None and not beyond(self.elapsed, self.rto_hours)

    @property
    def ok(self) -> bool:
        return self.failure is None and self.answered and self.within_rto

    def summary(self) -> str:
        if self.source is None or self.identifier is None:
            return f"drill FAILED: {self.failure}"
        fate = self.cleaned or "?"
        if self.failure:
            return f"drill FAILED: {self.failure}; {fate}"
        took = duration(self.elapsed) if self.elapsed is not None else "?"
        if not self.within_rto:
            return (
                f"drill FAILED: restored and answered at {self.endpoint} in {took}, over the RTO of "
                f"{self.rto_hours}h; {fate}"
            )
        return (
            f"drill passed: restored and answered at {self.endpoint} in {took}, within the RTO of "
            f"{self.rto_hours}h; {fate}"
        )


class DrillInterruptedError(Exception):
    """Ctrl-C during the drill; `cleaned` says what became of the instance it started."""

    def __init__(self, identifier: str, cleaned: str) -> None:
        super().__init__(identifier, cleaned)
        self.identifier = identifier
        self.cleaned = cleaned


def drill_identifier(database: str, now: datetime) -> str:
    """`<database>-drill-<UTC timestamp>`: at most 63 characters for the longest environment the config allows."""
    return f"{database}-drill-{now.astimezone(UTC):%Y%m%d%H%M%S}"


def find_source(target: DrTarget, rds_dr: RDSClient, clients: Clients) -> Source | None:
    """The latest restorable point of the database in the DR region: the replicated automated backups (restorable
    to within minutes) before the newest snapshot in the DR vault (as old as the last copy)."""
    replicated = replicated_backup(rds_dr, target.database, target.region)
    latest = replicated.get("RestoreWindow", {}).get("LatestTime") if replicated else None
    # Without a restore window (replication still starting) there is no latest restorable time to restore to.
    if replicated and latest and replicated.get("DBInstanceAutomatedBackupsArn"):
        return Source("replicated automated backup", replicated["DBInstanceAutomatedBackupsArn"], latest)
    points, _ = vault_points(clients.backup(target.dr_region), target.dr_vault, target.dr_region, VAULT_COPY)
    snapshot = newest(
        p
        for arn, found in points.items()
        if is_database_arn(arn, target.region, target.database)
        for p in found
        if p.arn and ":snapshot:" in p.arn
    )
    if snapshot is None or snapshot.arn is None:
        return None
    return Source("vault snapshot", snapshot.arn, snapshot.at)


def run_drill(
    target: DrTarget,
    clients: Clients,
    options: DrillOptions,
    *,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
    progress: IO[str],
) -> DrillResult:
    rds_dr = clients.rds(target.dr_region)
    source = find_source(target, rds_dr, clients)
    if source is None:
        return DrillResult(
            None,
            None,
            target.rto_hours,
            failure=(
                f"nothing to restore: no replicated automated backups of {target.database} and no snapshot of it in "
                f"vault {target.dr_vault} ({target.dr_region})"
            ),
        )
    started = clock()
    identifier = drill_identifier(target.database, started)
    print(f"drill: restoring {source.describe()} as {identifier} in {target.dr_region}", file=progress)
    refused = deleting = False
    try:
        try:
            _restore(rds_dr, source, identifier, options)
        except ClientError:
            refused = True  # RDS answered no: nothing was created, nothing to clean up
            raise
        status, instance, elapsed = _wait(rds_dr, identifier, target, options, started, clock, sleep, progress)
        failure = _check(identifier, status, instance, elapsed, options)
        deleting = True
        cleaned = _clean_up(rds_dr, identifier, options.keep, progress)
    except KeyboardInterrupt:
        if deleting:
            raise DrillInterruptedError(identifier, f"while deleting {identifier}: check that it is gone") from None
        # The request may have reached RDS before the interrupt did: clean up as if it had.
        raise DrillInterruptedError(identifier, _clean_up(rds_dr, identifier, options.keep, progress)) from None
    except (ClientError, BotoCoreError):
        if not refused:
            _clean_up(rds_dr, identifier, options.keep, progress)
        raise
    endpoint = instance.get("Endpoint", {}) if instance else {}
    address, port = endpoint.get("Address"), endpoint.get("Port")
    return DrillResult(
        identifier,
        source,
        target.rto_hours,
        elapsed=elapsed,
        status=status,
        endpoint=f"{address}:{port}" if address and port else address,
        answered=failure is None,
        failure=failure,
        cleaned=cleaned,
    )


def _check(
    identifier: str, status: str, instance: dict[str, Any] | None, elapsed: timedelta, options: DrillOptions
) -> str | None:
    """Why the restored instance does not answer, or None: available, with an endpoint (and, with --connect, a
    port that accepts a connection)."""
    endpoint = instance.get("Endpoint", {}) if instance else {}
    address, port = endpoint.get("Address"), endpoint.get("Port")
    if status != "available":
        return f"{identifier} is {status} after {duration(elapsed)}"
    if not address:
        return f"{identifier} is available but has no endpoint address"
    if options.connect and port and not tcp_answers(address, port, options.connect_timeout):
        return f"{identifier} is available but {address}:{port} did not accept a TCP connection"
    return None


def _restore(rds_dr: RDSClient, source: Source, identifier: str, options: DrillOptions) -> None:
    isolated: dict[str, Any] = {
        "PubliclyAccessible": False,
        "MultiAZ": False,
        "DeletionProtection": False,
        "CopyTagsToSnapshot": False,
        "Tags": [DRILL_TAG],
    }
    if options.subnet_group:
        isolated["DBSubnetGroupName"] = options.subnet_group
    if options.security_groups:
        isolated["VpcSecurityGroupIds"] = list(options.security_groups)
    if source.kind == "replicated automated backup":
        rds_dr.restore_db_instance_to_point_in_time(
            SourceDBInstanceAutomatedBackupsArn=source.arn,
            TargetDBInstanceIdentifier=identifier,
            UseLatestRestorableTime=True,
            **isolated,
        )
    else:
        rds_dr.restore_db_instance_from_db_snapshot(
            DBInstanceIdentifier=identifier, DBSnapshotIdentifier=source.arn, **isolated
        )


def _wait(
    rds_dr: RDSClient,
    identifier: str,
    target: DrTarget,
    options: DrillOptions,
    started: datetime,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
    progress: IO[str],
) -> tuple[str, dict[str, Any] | None, timedelta]:
    """Poll until the instance is available, fails, or the wait is hopeless; one status line per poll."""
    give_up = timedelta(hours=target.rto_hours * GIVE_UP_AFTER_RTOS)
    while True:
        instance = _describe(rds_dr, identifier)
        # A new instance may not be listed yet for a moment (eventual consistency).
        status = instance.get("DBInstanceStatus", "unknown") if instance else "requested"
        elapsed = clock() - started
        print(f"drill: {duration(elapsed):>7}  {identifier}: {status}", file=progress, flush=True)
        if status == "available" or status in FAILED_STATES:
            return status, instance, elapsed
        if elapsed > give_up:
            return f"still {status} (gave up at {GIVE_UP_AFTER_RTOS} x the RTO)", instance, elapsed
        sleep(options.poll_seconds)


def _describe(rds_dr: RDSClient, identifier: str) -> dict[str, Any] | None:
    try:
        instances = rds_dr.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "DBInstanceNotFound":
            return None
        raise
    return dict(instances[0]) if instances else None


def _clean_up(rds_dr: RDSClient, identifier: str, keep: bool, progress: IO[str]) -> str:
    """Delete the drill's instance unless asked to keep it; what happened, as a few words."""
    if keep:
        print(f"drill: keeping {identifier} (--keep): delete it when done", file=progress)
        return f"kept {identifier} (--keep): delete it when done"
    try:
        rds_dr.delete_db_instance(DBInstanceIdentifier=identifier, SkipFinalSnapshot=True, DeleteAutomatedBackups=True)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "DBInstanceNotFound":
            return f"{identifier} was never created"
        print(f"drill: could not delete {identifier}: {exc}", file=progress)
        return f"could not delete {identifier}: delete it by hand"
    except BotoCoreError as exc:
        print(f"drill: could not delete {identifier}: {exc}", file=progress)
        return f"could not delete {identifier}: delete it by hand"
    # RDS finishes the deletion in the background, in minutes; nothing is left to wait for.
    print(f"drill: deleting {identifier}", file=progress)
    return f"deleted {identifier}"


def tcp_answers(host: str, port: int, timeout: float) -> bool:
    """Whether `host:port` accepts a TCP connection: PostgreSQL listens, so the instance answers."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
