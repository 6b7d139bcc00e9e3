"""The typed stack config: what `Pulumi.<stack>.yaml` may say under `philosophy-infra:`, validated up front.

pydantic checks shapes, types, enums and unknown keys; each section's `issues()` checks the rules that span
fields. Every problem becomes a `ConfigIssue` naming the full config key, the value and the rule, and
`load_stack_config` raises them all at once before the program registers a single resource.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Network
from typing import Any, Self

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from philosophy_infra import cidr, quantity, windows

NAMESPACE = "philosophy-infra"
REGION_KEY = "aws:region"

# The retention values CloudWatch Logs accepts (PutRetentionPolicy).
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_SLUG = re.compile(r"^[a-z][a-z0-9-]{1,20}$")


class _NotShown:
    def __repr__(self) -> str:
        return "NOT_SHOWN"


# The value of a key the program does not know is never echoed: it may be a password put in the wrong place.
NOT_SHOWN: Any = _NotShown()


@dataclass(frozen=True)
class ConfigIssue:
    key: str  # path below the namespace, e.g. "network.privateSubnets[1]"
    value: Any
    rule: str

    @property
    def full_key(self) -> str:
        return self.key if ":" in self.key else f"{NAMESPACE}:{self.key}"

    def __str__(self) -> str:
        if self.value is NOT_SHOWN:
            return f"{self.full_key} (value not shown): {self.rule}"
        return f"{self.full_key} = {json.dumps(self.value, default=str)}: {self.rule}"


class StackConfigError(pulumi.RunError):
    """The stack config breaks one or more rules; `str()` lists each with its key, value and rule.

    A `RunError`, so a real `pulumi up` prints the message alone, without a Python traceback."""

    def __init__(self, stack: str, issues: list[ConfigIssue]) -> None:
        self.stack = stack
        self.issues = issues
        lines = "\n".join(f"  - {issue}" for issue in issues)
        super().__init__(f"invalid config for stack '{stack}' ({len(issues)} problem(s)):\n{lines}")


class _Model(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True, use_enum_values=False
    )


# --- enums: every mode is named --------------------------------------------------------------------------


class NatGatewayStrategy(StrEnum):
    """How private subnets reach the internet."""

    ONE_PER_AZ = "onePerAz"  # a zone outage takes out only that zone's egress
    SINGLE = "single"  # one NAT in the first zone: cheaper, a single point of failure


class DataProtection(StrEnum):
    """What guards stateful resources (database, cache, buckets) against a deploy that would delete them."""

    PROTECTED = "protected"  # Pulumi protect + deletion protection + final snapshot
    SNAPSHOT_ONLY = "snapshotOnly"  # final snapshot on delete, nothing else: for disposable environments


class EndpointAccess(StrEnum):
    """Who can reach the Kubernetes API endpoint."""

    PRIVATE = "private"  # only from inside the VPC (and what it is connected to, e.g. the VPN)
    PRIVATE_AND_PUBLIC = "privateAndPublic"  # also from the internet, but only from cluster.publicAccessCidrs


class TaintEffect(StrEnum):
    """The EKS API's spelling; pods tolerate the same taint as NoSchedule / NoExecute / PreferNoSchedule."""

    NO_SCHEDULE = "NO_SCHEDULE"
    NO_EXECUTE = "NO_EXECUTE"
    PREFER_NO_SCHEDULE = "PREFER_NO_SCHEDULE"

    @property
    def kubernetes(self) -> str:
        return {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}[
            self.value
        ]


class CapacityType(StrEnum):
    ON_DEMAND = "ON_DEMAND"
    SPOT = "SPOT"


class AssetsEncryption(StrEnum):
    KMS = "kms"  # SSE-KMS with a customer managed key and an S3 bucket key
    S3_MANAGED = "s3Managed"  # SSE-S3 (AES256), keys owned by S3


class CacheEngine(StrEnum):
    VALKEY = "valkey"  # ElastiCache's forward path: the open-source successor of Redis OSS 7.2
    REDIS = "redis"  # Redis OSS, whose last ElastiCache version is 7.1


class ClusterMode(StrEnum):
    """ElastiCache's cluster mode: keys sharded across node groups, or one primary with replicas."""

    ENABLED = "enabled"
    DISABLED = "disabled"


class DatabaseInsights(StrEnum):
    """CloudWatch Database Insights, which replaced the Performance Insights console in 2026."""

    STANDARD = "standard"  # 7 days of performance history, no extra charge
    ADVANCED = "advanced"  # 15 months of history and per-query analysis, billed per vCPU


class CustomMetrics(StrEnum):
    """The api HPA's metrics beyond CPU and memory (requests per second, queue depth)."""

    OFF = "off"  # until a metrics adapter serves them, an HPA that asks for them reports errors
    ADAPTER = "adapter"  # a Prometheus (or KEDA) adapter serves custom.metrics and external.metrics


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARN = "warn"
    ERROR = "error"


# --- sections --------------------------------------------------------------------------------------------


class NetworkConfig(_Model):
    cidr: IPv4Network
    availability_zones: list[str] = Field(min_length=2, max_length=6)
    private_subnets: list[IPv4Network] | None = None
    public_subnets: list[IPv4Network] | None = None
    database_subnets: list[IPv4Network] | None = None
    nat_gateways: NatGatewayStrategy = NatGatewayStrategy.ONE_PER_AZ
    enable_vpn_gateway: bool = False
    flow_log_retention_days: int = 365

    def tier_subnets(self) -> dict[str, list[IPv4Network]]:
        """The subnets of each tier: the ones the config lists, or a plan carved from the VPC CIDR."""
        explicit = {"private": self.private_subnets, "public": self.public_subnets, "database": self.database_subnets}
        if all(v is not None for v in explicit.values()):
            return {tier: list(v or []) for tier, v in explicit.items()}
        planned = cidr.plan_subnets(self.cidr, len(self.availability_zones))
        return {tier: list(v) if v is not None else planned[tier] for tier, v in explicit.items()}

    def issues(self, region: str) -> Iterator[ConfigIssue]:
        if not cidr.MIN_PREFIX <= self.cidr.prefixlen <= cidr.MAX_PREFIX:
            yield ConfigIssue("network.cidr", str(self.cidr), "VPC netmask must be between /16 and /28")
        for i, az in enumerate(self.availability_zones):
            if not re.fullmatch(rf"{re.escape(region)}[a-z]", az):
                yield ConfigIssue(
                    f"network.availabilityZones[{i}]",
                    az,
                    f"zone must be in the stack's region {region} (e.g. {region}a)",
                )
            if az in self.availability_zones[:i]:
                yield ConfigIssue(f"network.availabilityZones[{i}]", az, "each availability zone may be listed once")
        if self.flow_log_retention_days not in LOG_RETENTION_DAYS:
            yield ConfigIssue(
                "network.flowLogRetentionDays",
                self.flow_log_retention_days,
                f"must be a CloudWatch Logs retention value: {sorted(LOG_RETENTION_DAYS)}",
            )
        try:
            tiers = self.tier_subnets()
        except ValueError as exc:
            yield ConfigIssue("network.cidr", str(self.cidr), f"cannot plan the subnets left out: {exc}")
            return
        for problem in cidr.layout_problems(self.cidr, len(self.availability_zones), tiers):
            key = f"network.{problem.tier}Subnets" + ("" if problem.index is None else f"[{problem.index}]")
            yield ConfigIssue(key, problem.value, problem.rule)


class AssetsConfig(_Model):
    encryption: AssetsEncryption = AssetsEncryption.KMS
    infrequent_access_after_days: int = Field(default=30, ge=30)
    glacier_instant_retrieval_after_days: int = Field(default=90, ge=1)
    noncurrent_version_expiration_days: int = Field(default=90, ge=1)
    abort_incomplete_multipart_upload_days: int = Field(default=7, ge=1)

    def issues(self) -> Iterator[ConfigIssue]:
        # S3 keeps an object in STANDARD_IA for at least 30 days before a lifecycle rule may move it on.
        if self.glacier_instant_retrieval_after_days < self.infrequent_access_after_days + 30:
            yield ConfigIssue(
                "assets.glacierInstantRetrievalAfterDays",
                self.glacier_instant_retrieval_after_days,
                "must be at least 30 days after infrequentAccessAfterDays "
                f"({self.infrequent_access_after_days}): S3 keeps objects in STANDARD_IA for 30 days",
            )


# Kubernetes minor versions EKS offers in standard support (see the README's upgrade notes). 1.34 leaves
# standard support on 2026-12-02, so new clusters start at 1.35; add a version here when EKS releases it.
EKS_STANDARD_SUPPORT = {"1.35": "2027-03-27", "1.36": "2027-08-02"}
# The taint and label key and value grammar the Kubernetes API enforces.
_K8S_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_NODE_GROUP_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_ROLE_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]+$")
# Labels the program sets itself on every node.
PROGRAM_LABELS = ("Environment",)


_K8S_NAME_RULE = "at most 63 characters of letters, digits, '-', '_' or '.', starting and ending alphanumeric"


def label_key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return "the prefix before '/' must be a DNS subdomain (lowercase, at most 253 characters)"
    if not _K8S_NAME.fullmatch(name):
        return f"must be {_K8S_NAME_RULE}"
    return None


def label_value_problem(value: str) -> str | None:
    if value and not _K8S_NAME.fullmatch(value):
        return f"must be empty or {_K8S_NAME_RULE}"
    return None


class ClusterConfig(_Model):
    kubernetes_version: str
    endpoint_access: EndpointAccess = EndpointAccess.PRIVATE
    public_access_cidrs: list[IPv4Network] = []
    admin_role_arn: str
    control_plane_log_retention_days: int = 90
    addon_versions: dict[str, str] = {}
    """Pinned add-on versions by EKS add-on name; an add-on left out gets the latest compatible version."""

    def issues(self) -> Iterator[ConfigIssue]:
        if self.kubernetes_version not in EKS_STANDARD_SUPPORT:
            yield ConfigIssue(
                "cluster.kubernetesVersion",
                self.kubernetes_version,
                f"must be a version EKS offers in standard support: {', '.join(EKS_STANDARD_SUPPORT)}",
            )
        if self.endpoint_access is EndpointAccess.PRIVATE and self.public_access_cidrs:
            yield ConfigIssue(
                "cluster.publicAccessCidrs",
                [str(c) for c in self.public_access_cidrs],
                "only allowed with endpointAccess: privateAndPublic",
            )
        if self.endpoint_access is EndpointAccess.PRIVATE_AND_PUBLIC and not self.public_access_cidrs:
            yield ConfigIssue(
                "cluster.publicAccessCidrs", [], "endpointAccess privateAndPublic needs the CIDRs allowed to reach it"
            )
        for i, block in enumerate(self.public_access_cidrs):
            if block.prefixlen == 0:
                yield ConfigIssue(f"cluster.publicAccessCidrs[{i}]", str(block), "the whole internet is never allowed")
            elif not block.is_global:
                yield ConfigIssue(f"cluster.publicAccessCidrs[{i}]", str(block), "must be a public (internet) range")
        if not _ROLE_ARN.fullmatch(self.admin_role_arn):
            yield ConfigIssue(
                "cluster.adminRoleArn",
                self.admin_role_arn,
                "must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
            )
        if self.control_plane_log_retention_days not in LOG_RETENTION_DAYS:
            yield ConfigIssue(
                "cluster.controlPlaneLogRetentionDays",
                self.control_plane_log_retention_days,
                "must be a CloudWatch Logs retention value",
            )
        for addon in self.addon_versions:
            if addon not in KNOWN_ADDONS:
                yield ConfigIssue(
                    f"cluster.addonVersions.{addon}", addon, f"unknown add-on; known: {', '.join(KNOWN_ADDONS)}"
                )


KNOWN_ADDONS = ("vpc-cni", "kube-proxy", "coredns", "aws-ebs-csi-driver", "metrics-server")


class Taint(_Model):
    key: str
    value: str = ""
    effect: TaintEffect


class NodeGroupConfig(_Model):
    """One managed node group; its labels and taints are also what workloads select and tolerate."""

    instance_types: list[str] = Field(min_length=1)
    min_size: int = Field(ge=0, le=1000)
    desired_size: int = Field(ge=0, le=1000)
    max_size: int = Field(ge=1, le=1000)
    capacity_type: CapacityType = CapacityType.ON_DEMAND
    disk_size_gib: int = Field(default=50, ge=20, le=16384)
    labels: dict[str, str] = {}
    taints: list[Taint] = Field(default=[], max_length=50)

    def pod_tolerations(self) -> list[dict[str, str]]:
        """The pod tolerations for this group's taints, in the Kubernetes spelling (NoSchedule)."""
        return [
            {"key": t.key, "operator": "Equal", "value": t.value, "effect": t.effect.kubernetes} for t in self.taints
        ]

    def issues(self, key: str) -> Iterator[ConfigIssue]:
        if not self.min_size <= self.desired_size <= self.max_size:
            yield ConfigIssue(
                f"{key}.desiredSize",
                {"minSize": self.min_size, "desiredSize": self.desired_size, "maxSize": self.max_size},
                "minSize <= desiredSize <= maxSize must hold",
            )
        for i, instance_type in enumerate(self.instance_types):
            if not _INSTANCE_TYPE.fullmatch(instance_type):
                yield ConfigIssue(
                    f"{key}.instanceTypes[{i}]", instance_type, "must be an EC2 instance type like t3.large"
                )
        for label, value in self.labels.items():
            if label in PROGRAM_LABELS:
                yield ConfigIssue(f"{key}.labels.{label}", value, "set by the program from `environment`; remove it")
            elif problem := label_key_problem(label):
                yield ConfigIssue(f"{key}.labels.{label}", label, f"label key {problem}")
            elif problem := label_value_problem(value):
                yield ConfigIssue(f"{key}.labels.{label}", value, f"label value {problem}")
        for i, taint in enumerate(self.taints):
            if problem := label_key_problem(taint.key):
                yield ConfigIssue(f"{key}.taints[{i}].key", taint.key, f"taint key {problem}")
            if problem := label_value_problem(taint.value):
                yield ConfigIssue(f"{key}.taints[{i}].value", taint.value, f"taint value {problem}")


def _window_issues(
    section: str, fields: Mapping[str, tuple[str, Any, int]]
) -> tuple[list[ConfigIssue], dict[str, windows.Window]]:
    """Parse each `field -> (text, parser, minimum minutes)`; the issues found and the windows that parsed."""
    found: list[ConfigIssue] = []
    parsed: dict[str, windows.Window] = {}
    for field_name, (text, parser, minimum) in fields.items():
        key = f"{section}.{field_name}"
        try:
            window = parser(text)
        except ValueError as exc:
            found.append(ConfigIssue(key, text, str(exc)))
            continue
        if window.minutes < minimum:
            found.append(ConfigIssue(key, text, f"must last at least {minimum} minutes"))
            continue
        parsed[field_name] = window
    return found, parsed


# PostgreSQL majors RDS creates today and ships pgvector for. 15.4 (the seed's) cannot be created any more.
POSTGRES_MAJOR_VERSIONS = ("17", "18")
_DB_INSTANCE_CLASS = re.compile(r"^db\.[a-z0-9-]+\.[a-z0-9]+$")
_PG_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# PostgreSQL's reserved key words, which RDS refuses as a database or user name.
_PG_RESERVED_WORDS = frozenset(
    [
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "asymmetric",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "column",
        "constraint",
        "create",
        "current_catalog",
        "current_date",
        "current_role",
        "current_time",
        "current_timestamp",
        "current_user",
        "default",
        "deferrable",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "false",
        "fetch",
        "for",
        "foreign",
        "from",
        "grant",
        "group",
        "having",
        "in",
        "initially",
        "intersect",
        "into",
        "lateral",
        "leading",
        "limit",
        "localtime",
        "localtimestamp",
        "not",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "placing",
        "primary",
        "references",
        "returning",
        "select",
        "session_user",
        "some",
        "symmetric",
        "system_user",
        "table",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "variadic",
        "when",
        "where",
        "window",
        "with",
    ]
)
_PG_RESERVED_NAMES = frozenset({"postgres", "template0", "template1", "rdsadmin"})
_RDS_RESERVED_USERS = frozenset({"rdsadmin", "rdsrepladmin", "rds_superuser", "rds_replication", "public"})
MONITORING_INTERVALS = (1, 5, 10, 15, 30, 60)


class DatabaseConfig(_Model):
    engine_version: str = "17"
    """The PostgreSQL major version; RDS picks the minor and upgrades it in the maintenance window."""
    instance_class: str
    allocated_storage_gib: int = 100
    max_allocated_storage_gib: int = 1000
    """Storage autoscaling grows the volume up to this size; 0 turns autoscaling off."""
    multi_az: bool = True
    database_name: str = "philosophy_db"
    master_username: str = "philosophy_admin"
    backup_retention_days: int = 30
    backup_window: str = "03:00-06:00"
    maintenance_window: str = "Mon:00:00-Mon:03:00"
    log_retention_days: int = 365
    slow_query_threshold_ms: int = 1000
    insights: DatabaseInsights = DatabaseInsights.STANDARD
    monitoring_interval_seconds: int = 60

    def issues(self, protected: bool) -> Iterator[ConfigIssue]:
        if self.engine_version not in POSTGRES_MAJOR_VERSIONS:
            yield ConfigIssue(
                "database.engineVersion",
                self.engine_version,
                "must be a PostgreSQL major version RDS can create with pgvector: "
                f"{', '.join(POSTGRES_MAJOR_VERSIONS)} (the major only; RDS keeps the minor current)",
            )
        if not _DB_INSTANCE_CLASS.fullmatch(self.instance_class):
            yield ConfigIssue("database.instanceClass", self.instance_class, "must be an RDS class like db.r6g.xlarge")
        if not 20 <= self.allocated_storage_gib <= 65536:
            yield ConfigIssue(
                "database.allocatedStorageGib", self.allocated_storage_gib, "gp3 volumes are 20 to 65536 GiB"
            )
        # RDS wants the autoscaling ceiling at least 10% above the volume.
        ceiling_floor = -(-self.allocated_storage_gib * 11 // 10)
        if self.max_allocated_storage_gib != 0 and not ceiling_floor <= self.max_allocated_storage_gib <= 65536:
            yield ConfigIssue(
                "database.maxAllocatedStorageGib",
                self.max_allocated_storage_gib,
                f"must be 0 (no autoscaling) or between {ceiling_floor} (allocatedStorageGib "
                f"{self.allocated_storage_gib} + 10%) and 65536",
            )
        reserved_names, reserved_users = (
            _PG_RESERVED_NAMES | _PG_RESERVED_WORDS,
            _RDS_RESERVED_USERS | _PG_RESERVED_WORDS,
        )
        if not _PG_IDENTIFIER.fullmatch(self.database_name) or self.database_name in reserved_names:
            yield ConfigIssue(
                "database.databaseName",
                self.database_name,
                "must be 1-63 lowercase letters, digits or '_', start with a letter, and be neither a SQL key "
                f"word nor {', '.join(sorted(_PG_RESERVED_NAMES))}",
            )
        if not _PG_IDENTIFIER.fullmatch(self.master_username) or self.master_username in reserved_users:
            yield ConfigIssue(
                "database.masterUsername",
                self.master_username,
                "must be 1-63 lowercase letters, digits or '_', start with a letter, and be neither a SQL key "
                f"word nor a name RDS reserves ({', '.join(sorted(_RDS_RESERVED_USERS))})",
            )
        minimum_retention = 7 if protected else 1
        if not minimum_retention <= self.backup_retention_days <= 35:
            yield ConfigIssue(
                "database.backupRetentionDays",
                self.backup_retention_days,
                f"must be {minimum_retention}-35 days"
                + (" in a protected environment" if protected else " (0 would turn automated backups off)"),
            )
        found, parsed = _window_issues(
            "database",
            {
                "backupWindow": (self.backup_window, windows.parse_daily, 30),
                "maintenanceWindow": (self.maintenance_window, windows.parse_weekly, 30),
            },
        )
        yield from found
        if len(parsed) == 2 and windows.overlap(parsed["backupWindow"], parsed["maintenanceWindow"]):
            yield ConfigIssue(
                "database.backupWindow",
                self.backup_window,
                f"overlaps the maintenance window {self.maintenance_window}; RDS refuses overlapping windows",
            )
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            yield ConfigIssue(
                "database.logRetentionDays", self.log_retention_days, "must be a CloudWatch Logs retention value"
            )
        if self.slow_query_threshold_ms < 100:
            yield ConfigIssue(
                "database.slowQueryThresholdMs",
                self.slow_query_threshold_ms,
                "must be at least 100 ms: lower values log nearly every statement, with its parameters",
            )
        if self.monitoring_interval_seconds not in MONITORING_INTERVALS:
            yield ConfigIssue(
                "database.monitoringIntervalSeconds",
                self.monitoring_interval_seconds,
                f"enhanced monitoring intervals are {', '.join(map(str, MONITORING_INTERVALS))} seconds",
            )


# Engine versions ElastiCache creates today. Redis OSS stops at 7.1; Valkey continues it.
CACHE_ENGINE_VERSIONS = {CacheEngine.VALKEY: ("7.2", "8.0", "8.1", "8.2"), CacheEngine.REDIS: ("7.0", "7.1")}
_CACHE_NODE_TYPE = re.compile(r"^cache\.[a-z0-9-]+\.[a-z0-9]+$")
MAX_SHARDS, MAX_REPLICAS, MAX_CACHE_NODES = 500, 5, 500


class CacheConfig(_Model):
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
        found, parsed = _window_issues(
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


_IMAGE_REGISTRY = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d+)?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*$")
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class Resources(_Model):
    cpu: str
    memory: str


class WorkloadConfig(_Model):
    replicas: int = Field(ge=1, le=200)
    requests: Resources
    limits: Resources

    def issues(self, key: str) -> Iterator[ConfigIssue]:
        parsed: dict[tuple[str, str], Any] = {}
        for kind, resources in (("requests", self.requests), ("limits", self.limits)):
            for resource in ("cpu", "memory"):
                text = getattr(resources, resource)
                try:
                    parsed[kind, resource] = quantity.parse(text)
                except ValueError as exc:
                    yield ConfigIssue(f"{key}.{kind}.{resource}", text, str(exc))
        for resource in ("cpu", "memory"):
            both = ("requests", resource) in parsed and ("limits", resource) in parsed
            if both and parsed["requests", resource] > parsed["limits", resource]:
                yield ConfigIssue(
                    f"{key}.requests.{resource}",
                    getattr(self.requests, resource),
                    f"must not exceed limits.{resource} ({getattr(self.limits, resource)})",
                )


class ApiConfig(WorkloadConfig):
    min_replicas: int = Field(default=3, ge=1)
    max_replicas: int = Field(default=20, ge=1)
    uploads_volume_gib: int = Field(default=20, ge=1, le=16384)

    def issues(self, key: str) -> Iterator[ConfigIssue]:
        yield from super().issues(key)
        if not self.min_replicas <= self.replicas <= self.max_replicas:
            yield ConfigIssue(
                f"{key}.replicas",
                {"minReplicas": self.min_replicas, "replicas": self.replicas, "maxReplicas": self.max_replicas},
                "minReplicas <= replicas <= maxReplicas must hold (the HPA owns the count after the first deploy)",
            )


class WorkerConfig(WorkloadConfig):
    node_group: str
    """The node group (a key of nodeGroups) the workers run on; they select its labels, tolerate its taints."""
    concurrency: int = Field(default=3, ge=1, le=100)
    rate_limit: int = Field(default=50, ge=1)


class WorkloadsConfig(_Model):
    image_registry: str
    """Where the service's images live, e.g. 111122223333.dkr.ecr.eu-west-1.amazonaws.com/philosophy."""
    image_tag: str
    log_level: LogLevel = LogLevel.INFO
    custom_metrics: CustomMetrics = CustomMetrics.OFF
    api: ApiConfig
    websocket: WorkloadConfig
    worker: WorkerConfig

    def issues(self, node_groups: Mapping[str, NodeGroupConfig]) -> Iterator[ConfigIssue]:
        if not _IMAGE_REGISTRY.fullmatch(self.image_registry):
            yield ConfigIssue(
                "workloads.imageRegistry",
                self.image_registry,
                "must be a registry host and path without a tag, e.g. 111122223333.dkr.ecr.eu-west-1.amazonaws.com/app",
            )
        if self.image_tag == "latest" or not _IMAGE_TAG.fullmatch(self.image_tag):
            yield ConfigIssue(
                "workloads.imageTag",
                self.image_tag,
                "must be a pinned image tag (letters, digits, '.', '_', '-'; never 'latest')",
            )
        yield from self.api.issues("workloads.api")
        yield from self.websocket.issues("workloads.websocket")
        yield from self.worker.issues("workloads.worker")
        if self.worker.node_group not in node_groups:
            yield ConfigIssue(
                "workloads.worker.nodeGroup",
                self.worker.node_group,
                f"must be one of nodeGroups: {', '.join(node_groups)}",
            )
        elif not node_groups[self.worker.node_group].labels:
            yield ConfigIssue(
                "workloads.worker.nodeGroup",
                self.worker.node_group,
                "that node group has no labels for the workers to select",
            )


class StackConfig(_Model):
    """Everything one stack's `Pulumi.<stack>.yaml` says, plus the AWS region it deploys to."""

    region: str
    environment: str
    owner: str = Field(min_length=1)
    cost_center: str | None = None
    data_protection: DataProtection = DataProtection.PROTECTED
    network: NetworkConfig
    assets: AssetsConfig = AssetsConfig()
    cluster: ClusterConfig
    node_groups: dict[str, NodeGroupConfig] = Field(min_length=1)
    database: DatabaseConfig
    cache: CacheConfig
    workloads: WorkloadsConfig

    def issues(self) -> Iterator[ConfigIssue]:
        if not _REGION.fullmatch(self.region):
            yield ConfigIssue(REGION_KEY, self.region, "must be an AWS region name such as eu-west-1")
            return
        if not _SLUG.fullmatch(self.environment):
            yield ConfigIssue(
                "environment",
                self.environment,
                "must be 2-21 lowercase letters, digits or dashes, starting with a letter",
            )
        yield from self.network.issues(self.region)
        yield from self.assets.issues()
        yield from self.cluster.issues()
        for name, group in self.node_groups.items():
            if not _NODE_GROUP_NAME.fullmatch(name):
                yield ConfigIssue(
                    f"nodeGroups.{name}", name, "node group keys are 1-31 lowercase letters, digits or dashes"
                )
            yield from group.issues(f"nodeGroups.{name}")
        yield from self.database.issues(self.protected)
        yield from self.cache.issues(self.protected)
        yield from self.workloads.issues(self.node_groups)

    @property
    def worker_nodes(self) -> NodeGroupConfig:
        """The node group the workers run on (validated to exist)."""
        return self.node_groups[self.workloads.worker.node_group]

    @property
    def protected(self) -> bool:
        return self.data_protection is DataProtection.PROTECTED

    @classmethod
    def from_raw(cls, stack: str, raw: Mapping[str, Any]) -> Self:
        """Validate the stack's config map (full keys such as `philosophy-infra:network`, values as Pulumi
        passes them: strings, JSON for objects) and return the model, or raise `StackConfigError`."""
        section: dict[str, Any] = {}
        issues: list[ConfigIssue] = []
        for full_key, value in raw.items():
            namespace, _, key = full_key.partition(":")
            if namespace != NAMESPACE:
                continue
            if key == "region":
                issues.append(ConfigIssue(key, NOT_SHOWN, f"unknown key: the region is read from {REGION_KEY}"))
                continue
            section[key] = _decode(value)
        region = raw.get(REGION_KEY)
        if region is None:
            issues.append(ConfigIssue(REGION_KEY, None, "is required: the AWS region this stack deploys to"))
        section["region"] = region or ""
        if issues:
            raise StackConfigError(stack, issues)
        try:
            model = cls.model_validate(section)
        except ValidationError as exc:
            raise StackConfigError(stack, [_issue_from_pydantic(cls, err) for err in exc.errors()]) from None
        found = list(model.issues())
        if found:
            raise StackConfigError(stack, found)
        return model


def _decode(value: Any) -> Any:
    # Pulumi hands structured config to the program as JSON text; plain scalars stay text for pydantic.
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _issue_from_pydantic(model: type[BaseModel], err: Any) -> ConfigIssue:
    loc = tuple(err["loc"])
    if loc == ("region",):
        key = REGION_KEY
    else:
        key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    rule = err["msg"]
    if err["type"] == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        rule = "unknown key" + (f"; allowed here: {', '.join(allowed)}" if allowed else "")
    elif err["type"] == "missing":
        rule = "is required"
    value = err.get("input") if err["type"] != "missing" else None
    if err["type"] == "extra_forbidden":
        value = NOT_SHOWN
    return ConfigIssue(key, value if not isinstance(value, BaseModel) else str(value), rule)


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = next((f for n, f in current.model_fields.items() if part in (n, f.alias)), None)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        current = annotation
    return sorted(f.alias or n for n, f in current.model_fields.items() if n != "region")


def load_stack_config() -> StackConfig:
    """The running stack's config, as the Pulumi engine (or the offline plan) handed it to the program."""
    raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    return StackConfig.from_raw(pulumi.get_stack(), raw)
