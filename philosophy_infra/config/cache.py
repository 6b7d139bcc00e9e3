"""The `cache` section: the Valkey (or Redis OSS) replication group."""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import StrEnum

from philosophy_infra import windows
from philosophy_infra.config.base import LOG_RETENTION_DAYS, ConfigIssue, Model, window_issues


class CacheEngine(StrEnum):
    VALKEY = "valkey"  # ElastiCache's forward path: the open-source successor of Redis OSS 7.2
    REDIS = "redis"  # Redis OSS, whose last ElastiCache version is 7.1


class ClusterMode(StrEnum):
    """ElastiCache's cluster mode: keys sharded across node groups, or one primary with replicas."""

    ENABLED = "enabled"
    DISABLED = "disabled"


# Engine versions ElastiCache creates today (ElastiCache user guide, "Engine versions"), oldest first. Redis OSS
# stops at 7.1; Valkey continues it. Valkey 9.x takes the parameter group family valkey9.
CACHE_ENGINE_VERSIONS = {
    CacheEngine.VALKEY: ("7.2", "8.0", "8.1", "8.2", "9.0", "9.1"),
    CacheEngine.REDIS: ("7.0", "7.1"),
}
_CACHE_NODE_TYPE = re.compile(r"^cache\.[a-z0-9-]+\.[a-z0-9]+$")
MAX_SHARDS, MAX_REPLICAS, MAX_CACHE_NODES = 500, 5, 500


class CacheConfig(Model):
    engine: CacheEngine = CacheEngine.VALKEY
    engine_version: str | None = None
    """Defaults to the newest version of the engine ElastiCache offers."""
    node_type: str
    cluster_mode: ClusterMode = ClusterMode.ENABLED
    shards: int
    replicas_per_shard: int
    automatic_failover: bool = True
    multi_az: bool = True
    snapshot_retention_days: int = 5
    snapshot_window: str = "03:00-05:00"
    maintenance_window: str = "sun:05:00-sun:07:00"
    log_retention_days: int = 365

    @property
    def version(self) -> str:
        return self.engine_version or CACHE_ENGINE_VERSIONS[self.engine][-1]

    @property
    def parameter_group_family(self) -> str:
        return f"{self.engine.value}{self.version.split('.')[0]}"

    def issues(self, protected: bool) -> Iterator[ConfigIssue]:
        known = CACHE_ENGINE_VERSIONS[self.engine]
        if self.version not in known:
            yield ConfigIssue(
                "cache.engineVersion",
                self.version,
                f"{self.engine.value} versions ElastiCache can create: {', '.join(known)}",
            )
        if not _CACHE_NODE_TYPE.fullmatch(self.node_type):
            yield ConfigIssue("cache.nodeType", self.node_type, "must be an ElastiCache node type like cache.r6g.large")
        shards_ok, replicas_ok = 1 <= self.shards <= MAX_SHARDS, 0 <= self.replicas_per_shard <= MAX_REPLICAS
        if not shards_ok:
            yield ConfigIssue("cache.shards", self.shards, f"ElastiCache allows 1 to {MAX_SHARDS} shards")
        elif self.cluster_mode is ClusterMode.DISABLED and self.shards != 1:
            yield ConfigIssue("cache.shards", self.shards, "clusterMode disabled has exactly one shard")
        if not replicas_ok:
            yield ConfigIssue(
                "cache.replicasPerShard",
                self.replicas_per_shard,
                f"ElastiCache allows 0 to {MAX_REPLICAS} replicas per shard",
            )
        if shards_ok and replicas_ok and self.shards * (1 + self.replicas_per_shard) > MAX_CACHE_NODES:
            yield ConfigIssue(
                "cache.shards",
                {"shards": self.shards, "replicasPerShard": self.replicas_per_shard},
                f"shards x (1 + replicasPerShard) must be at most {MAX_CACHE_NODES} nodes",
            )
        if self.cluster_mode is ClusterMode.ENABLED and not self.automatic_failover:
            yield ConfigIssue("cache.automaticFailover", False, "clusterMode enabled requires automatic failover")
        if self.automatic_failover and self.replicas_per_shard < 1:
            yield ConfigIssue(
                "cache.replicasPerShard",
                self.replicas_per_shard,
                "automatic failover needs at least one replica per shard to promote",
            )
        if self.multi_az and not self.automatic_failover:
            yield ConfigIssue("cache.multiAz", True, "Multi-AZ needs automaticFailover: true")
        minimum_retention = 1 if protected else 0
        if not minimum_retention <= self.snapshot_retention_days <= 35:
            yield ConfigIssue(
                "cache.snapshotRetentionDays",
                self.snapshot_retention_days,
                f"must be {minimum_retention}-35 days" + (" in a protected environment" if protected else ""),
            )
        found, parsed = window_issues(
            "cache",
            {
                "snapshotWindow": (self.snapshot_window, windows.parse_daily, 60),
                "maintenanceWindow": (self.maintenance_window, windows.parse_weekly, 60),
            },
        )
        yield from found
        if len(parsed) == 2 and windows.overlap(parsed["snapshotWindow"], parsed["maintenanceWindow"]):
            yield ConfigIssue(
                "cache.snapshotWindow",
                self.snapshot_window,
                f"overlaps the maintenance window {self.maintenance_window}; ElastiCache refuses overlapping windows",
            )
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            yield ConfigIssue(
                "cache.logRetentionDays", self.log_retention_days, "must be a CloudWatch Logs retention value"
            )
