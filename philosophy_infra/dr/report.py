"""The pure part of `dr status`: recovery points, their age against the RPO, and the report as a table or JSON.

Nothing here talks to AWS; philosophy_infra.dr.status fills these types from the account."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

# What a point's `source` says, in the table and the JSON.
PITR = "point in time"  # RDS automated backups: LatestRestorableTime
VAULT = "vault"  # an AWS Backup recovery point in the stack region's vault
REPLICA = "replicated backup"  # the RDS automated backups replicated into the DR region: RestoreWindow.LatestTime
VAULT_COPY = "vault copy"  # an AWS Backup copy in the DR region's vault
S3_REPLICA = "s3 replication"  # a bucket's replica in the DR region, kept by S3 replication: now minus its latency

RTC_THRESHOLD = timedelta(minutes=15)
"""Replication Time Control's threshold (components.aws.recovery.cross_region.REPLICATION_MINUTES): S3 replicates
99.99% of objects within it, and its metrics say when it does not."""
METRICS_WINDOW = timedelta(minutes=15)
"""How far back `dr status` reads S3's replication metrics."""


@dataclass(frozen=True)
class Point:
    """A recovery point: a restore could bring the resource back as it was at `at`."""

    at: datetime
    source: str
    arn: str | None = None


def newest(points: Iterable[Point]) -> Point | None:
    return max(points, key=lambda p: p.at, default=None)


def age(now: datetime, at: datetime) -> timedelta:
    # AWS's clock and this machine's differ by a second or two: a point is never younger than now.
    return max(now - at, timedelta(0))


def beyond(elapsed: timedelta, hours: int) -> bool:
    """Whether `elapsed` is over an objective of `hours` (exactly at the objective still meets it)."""
    return elapsed > timedelta(hours=hours)


def lag(primary: Point | None, dr: Point | None) -> timedelta | None:
    """How far the DR region's newest point trails the stack region's: what a regional loss would cost on top of
    the stack region's own recovery point."""
    if primary is None or dr is None:
        return None
    return max(primary.at - dr.at, timedelta(0))


def duration(delta: timedelta) -> str:
    """A short, human duration, truncated to its two largest units: `45s`, `12m`, `3h 05m`, `2d 04h`."""
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class RegionState:
    region: str
    newest: Point | None
    problem: str | None = None
    """Why there is nothing to look at, e.g. the vault does not exist: said next to "no recovery point"; or what is
    wrong with what is there (a bucket's failed S3 replication), which the points' ages still decide over."""


@dataclass(frozen=True)
class Replication:
    """What AWS reports about the copying into the DR region: the replicated automated backup's status for the
    database, the newest copy job's state for an AWS Backup resource."""

    state: str
    detail: str | None = None


def replica_point(now: datetime, latency: timedelta | None, failed: int, pending: int = 0) -> datetime | None:
    """How current a bucket's replica in the DR region is, from S3 replication's metrics over METRICS_WINDOW: as of
    the highest latency reported ago; with no latency datapoint and nothing pending (nothing written lately), as
    of RTC's threshold ago, the latest S3 commits to. None when operations failed to replicate (objects may be
    missing from the replica, however recent the rest), or when operations wait but no latency is reported: that
    is what a stalled replication looks like."""
    if failed > 0:
        return None
    if latency is None:
        return None if pending > 0 else now - RTC_THRESHOLD
    return now - max(latency, timedelta(0))


@dataclass(frozen=True)
class ReplicationRule:
    """An enabled S3 replication rule of a bucket whose destination bucket is in the DR region, with its metrics
    over METRICS_WINDOW (read only when the rule has Replication Time Control and replication metrics both)."""

    rule_id: str
    destination: str
    """The destination (replica) bucket's ARN."""
    time_control: bool
    metrics: bool
    latency: timedelta | None = None
    """The highest ReplicationLatency over the window; None without a datapoint, or when not reported."""
    pending: int | None = None
    """OperationsPendingReplication at the window's newest datapoint (0 without one); None when not reported."""
    failed: int | None = None
    """OperationsFailedReplication summed over the window (0 without a datapoint); None when not reported."""

    @property
    def reported(self) -> bool:
        """Whether S3 reports the rule's lag: only with Replication Time Control and its metrics enabled."""
        return self.time_control and self.metrics

    def point(self, now: datetime) -> Point | None:
        if not self.reported:
            return None
        at = replica_point(now, self.latency, self.failed or 0, self.pending or 0)
        return Point(at, S3_REPLICA, self.destination) if at is not None else None

    def describe(self) -> str:
        if not self.reported:
            missing = [
                *([] if self.time_control else ["no Replication Time Control"]),
                *([] if self.metrics else ["no replication metrics"]),
            ]
            return f"lag not reported ({', '.join(missing)})"
        counts = f"{self.pending or 0} pending, {self.failed or 0} failed"
        if self.latency is None:
            return (
                f"no latency reported in {duration(METRICS_WINDOW)} (no recent writes): "
                f"taken as {duration(RTC_THRESHOLD)} behind, {counts}"
            )
        return f"latency {duration(self.latency)}, {counts}"

    def problem(self) -> str | None:
        if not self.failed:
            return None
        return (
            f"S3 replication rule {self.rule_id or '(no ID)'}: {self.failed} operation(s) failed to replicate to "
            f"{self.destination} in the last {duration(METRICS_WINDOW)}; the replica is not counted"
        )


@dataclass(frozen=True)
class BucketReplication:
    """S3 replication of a bucket into the DR region: its enabled rules whose destination bucket is there."""

    rules: tuple[ReplicationRule, ...]

    @property
    def state(self) -> str:
        timed = bool(self.rules) and all(rule.time_control for rule in self.rules)
        return "S3 replication (RTC)" if timed else "S3 replication"

    @property
    def detail(self) -> str:
        if len(self.rules) == 1:
            return self.rules[0].describe()
        return "; ".join(f"rule {rule.rule_id}: {rule.describe()}" for rule in self.rules)

    def point(self, now: datetime) -> Point | None:
        """The replica as a recovery point: the oldest of its rules' (the replica is only as current as its slowest
        rule), and none when any rule does not report its lag or has failed operations."""
        points = [rule.point(now) for rule in self.rules]
        if not points or any(point is None for point in points):
            return None
        return min((point for point in points if point is not None), key=lambda p: p.at)

    def problems(self) -> list[str]:
        return [problem for rule in self.rules if (problem := rule.problem()) is not None]

    def replication(self, copy: Replication | None) -> Replication:
        """What the row's replication says: S3's, then the AWS Backup copy job's state, which it stands next to."""
        detail = self.detail
        if copy is not None:
            detail += f"; {copy.state}" + (f": {copy.detail}" if copy.detail else "")
        return Replication(self.state, detail)


@dataclass(frozen=True)
class RestoreTest:
    """The newest restore job of the restore testing plan for one resource."""

    status: str
    started: datetime
    took: timedelta | None
    """None while it runs."""


@dataclass(frozen=True)
class ResourceStatus:
    name: str
    kind: str
    arn: str | None
    primary: RegionState
    dr: RegionState
    replication: Replication | None = None
    restore_test: RestoreTest | None = None
    bucket_replication: BucketReplication | None = None
    """A bucket's S3 replication into the DR region, when it has any: `replication` then says it."""

    @property
    def lag(self) -> timedelta | None:
        return lag(self.primary.newest, self.dr.newest)

    def warnings(self) -> list[str]:
        """What is wrong with the replication but does not decide the exit code (the recovery points do)."""
        if self.bucket_replication is None:
            return []
        return [f"{self.name}: {problem}" for problem in self.bucket_replication.problems()]

    def problems(self, now: datetime, rpo_hours: int) -> list[str]:
        """One line per region whose newest point is missing or beyond the RPO."""
        found = []
        for state in (self.primary, self.dr):
            if state.newest is None:
                why = f" ({state.problem})" if state.problem else ""
                found.append(f"{self.name}: no recovery point in {state.region}{why}")
            elif beyond(old := age(now, state.newest.at), rpo_hours):
                found.append(
                    f"{self.name}: newest recovery point in {state.region} is {duration(old)} old "
                    f"({state.newest.source}, {iso(state.newest.at)}), beyond the RPO of {rpo_hours}h"
                )
        return found


@dataclass(frozen=True)
class StatusReport:
    stack: str
    region: str
    dr_region: str
    rpo_hours: int
    checked_at: datetime
    resources: list[ResourceStatus]
    notes: list[str] = field(default_factory=list)
    """What could not be read and does not decide the exit code (e.g. no restore testing plan)."""

    def problems(self) -> list[str]:
        return [line for r in self.resources for line in r.problems(self.checked_at, self.rpo_hours)]

    def warnings(self) -> list[str]:
        return [line for r in self.resources for line in r.warnings()]

    @property
    def ok(self) -> bool:
        return not self.problems()

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "philosophy-infra/dr-status/v1",
            "stack": self.stack,
            "region": self.region,
            "drRegion": self.dr_region,
            "rpoHours": self.rpo_hours,
            "checkedAt": iso(self.checked_at),
            "ok": self.ok,
            "resources": [self._resource_json(r) for r in self.resources],
            "problems": self.problems(),
            "warnings": self.warnings(),
            "notes": self.notes,
        }

    def _resource_json(self, resource: ResourceStatus) -> dict[str, Any]:
        def region(state: RegionState) -> dict[str, Any]:
            point = state.newest
            old = age(self.checked_at, point.at) if point else None
            return {
                "region": state.region,
                "newest": iso(point.at) if point else None,
                "source": point.source if point else None,
                "recoveryPoint": point.arn if point else None,
                "ageSeconds": int(old.total_seconds()) if old is not None else None,
                "withinRpo": old is not None and not beyond(old, self.rpo_hours),
                "problem": state.problem,
            }

        replication = resource.replication
        test = resource.restore_test
        lagging = resource.lag
        return {
            "name": resource.name,
            "type": resource.kind,
            "arn": resource.arn,
            "primary": region(resource.primary),
            "dr": region(resource.dr),
            "replication": {
                "state": replication.state if replication else None,
                "detail": replication.detail if replication else None,
                "lagSeconds": int(lagging.total_seconds()) if lagging is not None else None,
            },
            "lastRestoreTest": {
                "status": test.status,
                "started": iso(test.started),
                "durationSeconds": int(test.took.total_seconds()) if test.took is not None else None,
            }
            if test
            else None,
            "withinRpo": not resource.problems(self.checked_at, self.rpo_hours),
            "s3Replication": self._bucket_json(resource.bucket_replication) if resource.bucket_replication else None,
        }

    def _bucket_json(self, bucket: BucketReplication) -> dict[str, Any]:
        point = bucket.point(self.checked_at)
        return {
            "state": bucket.state,
            "detail": bucket.detail,
            "counted": point is not None,
            "replicaAt": iso(point.at) if point else None,
            "problems": bucket.problems(),
            "rules": [
                {
                    "id": rule.rule_id,
                    "destinationBucket": rule.destination,
                    "replicationTimeControl": rule.time_control,
                    "metrics": rule.metrics,
                    "latencySeconds": int(rule.latency.total_seconds()) if rule.latency is not None else None,
                    "pendingOperations": rule.pending,
                    "failedOperations": rule.failed,
                }
                for rule in bucket.rules
            ],
        }

    def render(self) -> str:
        header = [
            "RESOURCE",
            "TYPE",
            f"{self.region} (stack)",
            f"{self.dr_region} (DR)",
            "REPLICATION",
            "LAST RESTORE TEST",
            f"RPO {self.rpo_hours}h",
        ]
        rows = [header, *(self._row(r) for r in self.resources)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = [
            f"dr status of stack {self.stack}: {self.region} -> {self.dr_region}, RPO {self.rpo_hours}h, "
            f"checked {iso(self.checked_at)}",
            "",
            *("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows),
        ]
        problems = self.problems()
        if problems:
            lines += ["", f"beyond the RPO of {self.rpo_hours}h, or without a recovery point:"]
            lines += [f"  - {line}" for line in problems]
        for warning in self.warnings():
            lines.append(f"warning: {warning}")
        for note in self.notes:
            lines.append(f"note: {note}")
        failing = sum(1 for r in self.resources if r.problems(self.checked_at, self.rpo_hours))
        verdict = (
            f"{failing} of {len(self.resources)} resource(s) beyond the RPO of {self.rpo_hours}h"
            if problems
            else f"all {len(self.resources)} resource(s) within the RPO of {self.rpo_hours}h"
        )
        return "\n".join([*lines, "", verdict])

    def _row(self, resource: ResourceStatus) -> list[str]:
        def point(state: RegionState) -> str:
            if state.newest is None:
                return "none"
            return f"{duration(age(self.checked_at, state.newest.at))} ago ({state.newest.source})"

        replication = resource.replication
        lagging = resource.lag
        parts = [replication.state] if replication else []
        if replication and replication.detail and resource.bucket_replication is not None:
            parts = [f"{replication.state}: {replication.detail}"]
        if lagging is not None:
            parts.append(f"lag {duration(lagging)}")
        test = resource.restore_test
        if test is None:
            restore = "-"
        else:
            took = f" in {duration(test.took)}" if test.took is not None else ""
            restore = f"{test.status}{took}, {duration(age(self.checked_at, test.started))} ago"
        verdict = "BEYOND" if resource.problems(self.checked_at, self.rpo_hours) else "ok"
        return [
            resource.name,
            resource.kind,
            point(resource.primary),
            point(resource.dr),
            ", ".join(parts) or "-",
            restore,
            verdict,
        ]
