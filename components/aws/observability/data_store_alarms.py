"""CloudWatch alarms on the database and the cache, to one KMS-encrypted SNS topic: they fire from AWS's own
metrics, so they work when the cluster, and the Prometheus in it, is down.

- RDS (per instance): CPU, freeable memory, free storage, connections. No replica lag: a Multi-AZ standby
  reports none, so that alarm would stay OK forever; it comes with a read replica.
- ElastiCache (per node, which is how ElastiCache reports engine metrics): engine CPU, memory used, evictions,
  replication lag.
- OpenSearch (the domain, AWS's recommended set): cluster red, writes blocked, the least free storage on a data
  node, JVM memory pressure, a failed automated snapshot.
A missing metric shows as "insufficient data" (an instance that stopped reporting is not called healthy), but
for the ones that are absent by nature: evictions when nothing is evicted, replication lag on a primary. The
alarm and OK transitions both notify. The cache nodes' IDs follow ElastiCache's naming for the configured shards
and replicas; after a reshard or a replica count change, the next `pulumi up` watches the new ones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.security.encryption_key import EncryptionKey, EncryptionKeyArgs
from philosophy_infra.config.alarms import AlarmsConfig
from philosophy_infra.config.base import DataProtection

MIB, GIB = 1024**2, 1024**3


@dataclass(frozen=True)
class Threshold:
    metric: str
    comparison: str
    value: float
    statistic: str
    unit_note: str
    missing_data: str = "missing"
    """`notBreaching` only where the metric is absent by nature."""


def cache_node_ids(replication_group_id: str, shards: int, replicas_per_shard: int, cluster_mode: bool) -> list[str]:
    """The member clusters ElastiCache names for a replication group: `<id>-<shard:04>-<node:03>` with cluster
    mode on, `<id>-<node:03>` without."""
    nodes = range(1, replicas_per_shard + 2)
    if cluster_mode:
        return [f"{replication_group_id}-{s:04d}-{n:03d}" for s in range(1, shards + 1) for n in nodes]
    return [f"{replication_group_id}-{n:03d}" for n in nodes]


def database_thresholds(settings: AlarmsConfig) -> dict[str, Threshold]:
    t = settings.database
    return {
        "cpu": Threshold("CPUUtilization", "GreaterThanThreshold", t.cpu_percent, "Average", "%"),
        "free-memory": Threshold(
            "FreeableMemory", "LessThanThreshold", t.free_memory_mib * MIB, "Average", f"{t.free_memory_mib} MiB"
        ),
        "free-storage": Threshold(
            "FreeStorageSpace", "LessThanThreshold", t.free_storage_gib * GIB, "Minimum", f"{t.free_storage_gib} GiB"
        ),
        "connections": Threshold("DatabaseConnections", "GreaterThanThreshold", t.connections, "Maximum", ""),
    }


def search_thresholds(settings: AlarmsConfig, volume_gib: int) -> dict[str, Threshold]:
    """AWS's recommended alarms for an OpenSearch Service domain, at the domain level (the worst node)."""
    t = settings.search
    free_mib = volume_gib * 1024 * t.free_storage_percent / 100
    return {
        "red": Threshold(
            "ClusterStatus.red", "GreaterThanOrEqualToThreshold", 1, "Maximum", "(a primary shard unassigned)"
        ),
        "writes-blocked": Threshold(
            "ClusterIndexWritesBlocked", "GreaterThanOrEqualToThreshold", 1, "Maximum", "(writes refused)"
        ),
        "free-storage": Threshold(
            "FreeStorageSpace", "LessThanOrEqualToThreshold", free_mib, "Minimum", f"MiB ({t.free_storage_percent:g}%)"
        ),
        "jvm-memory-pressure": Threshold(
            "JVMMemoryPressure", "GreaterThanOrEqualToThreshold", t.jvm_memory_pressure_percent, "Maximum", "%"
        ),
        "snapshot-failure": Threshold(
            "AutomatedSnapshotFailure", "GreaterThanOrEqualToThreshold", 1, "Maximum", "(an hourly snapshot failed)"
        ),
    }


def cache_thresholds(settings: AlarmsConfig) -> dict[str, Threshold]:
    t = settings.cache
    return {
        "engine-cpu": Threshold("EngineCPUUtilization", "GreaterThanThreshold", t.engine_cpu_percent, "Average", "%"),
        "memory": Threshold("DatabaseMemoryUsagePercentage", "GreaterThanThreshold", t.memory_percent, "Average", "%"),
        "evictions": Threshold(
            "Evictions", "GreaterThanThreshold", t.evictions_per_minute, "Sum", "per minute", "notBreaching"
        ),
        # Reported by replicas only: a primary has none.
        "replication-lag": Threshold(
            "ReplicationLag", "GreaterThanThreshold", t.replication_lag_seconds, "Maximum", "s", "notBreaching"
        ),
    }


def topic_policy(topic_arn: str, account: str) -> str:
    """The account's own principals (the SNS default, written down, since a policy replaces it) and EventBridge
    rules of this account."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountUsesTheTopic",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        "sns:GetTopicAttributes",
                        "sns:SetTopicAttributes",
                        "sns:AddPermission",
                        "sns:RemovePermission",
                        "sns:DeleteTopic",
                        "sns:Subscribe",
                        "sns:ListSubscriptionsByTopic",
                        "sns:Publish",
                    ],
                    "Resource": topic_arn,
                    "Condition": {"StringEquals": {"AWS:SourceOwner": account}},
                },
                {
                    "Sid": "EventBridgeRulesOfThisAccountPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                },
            ],
        }
    )


@dataclass(frozen=True, kw_only=True)
class DataStoreAlarmsArgs:
    name_prefix: str
    settings: AlarmsConfig
    database_identifier: pulumi.Input[str]
    cache_node_ids: Sequence[str]
    search_domain_name: str
    search_volume_gib: int
    """Each data node's volume: the free storage alarm's threshold is a share of it."""
    data_protection: DataProtection = DataProtection.PROTECTED


class DataStoreAlarms(pulumi.ComponentResource):
    topic_arn: pulumi.Output[str]

    def __init__(self, name: str, args: DataStoreAlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:DataStoreAlarms", name, None, opts)
        s = args.settings
        key = EncryptionKey(
            f"{name}-encryption",
            EncryptionKeyArgs(
                description=f"{args.name_prefix}: the alarm topic",
                alias=f"{args.name_prefix}-alarms",
                data_protection=args.data_protection,
                # CloudWatch publishes the alarms to the encrypted topic, EventBridge the node groups' launch
                # failures (NodeCapacityAlarms).
                service_users=("cloudwatch.amazonaws.com", "events.amazonaws.com"),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        topic = aws.sns.Topic(
            f"{name}-topic",
            display_name=f"{args.name_prefix} alarms",
            kms_master_key_id=key.key_arn,
            opts=pulumi.ResourceOptions(parent=self),
        )
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke).account_id
        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, account).apply(lambda ta: topic_policy(ta[0], ta[1])),
            opts=pulumi.ResourceOptions(parent=topic),
        )
        for i, sub in enumerate(s.subscriptions):
            aws.sns.TopicSubscription(
                f"{name}-subscription-{i}",
                topic=topic.arn,
                protocol=sub.protocol.value,
                endpoint=sub.endpoint,
                opts=pulumi.ResourceOptions(parent=topic),
            )
        for suffix, threshold in database_thresholds(s).items():
            self._alarm(
                f"{name}-database-{suffix}", "AWS/RDS", {"DBInstanceIdentifier": args.database_identifier},
                threshold, topic, f"{args.name_prefix} database: {threshold.metric}", s.evaluation_minutes,
            )  # fmt: skip
        for node in args.cache_node_ids:
            for suffix, threshold in cache_thresholds(s).items():
                self._alarm(
                    f"{name}-cache-{node.rsplit('-', 2)[-2]}-{node.rsplit('-', 1)[-1]}-{suffix}",
                    "AWS/ElastiCache", {"CacheClusterId": node}, threshold, topic,
                    f"{args.name_prefix} cache node {node}: {threshold.metric}", s.evaluation_minutes,
                )  # fmt: skip
        for suffix, threshold in search_thresholds(s, args.search_volume_gib).items():
            self._alarm(
                f"{name}-search-{suffix}", "AWS/ES", {"DomainName": args.search_domain_name, "ClientId": account},
                threshold, topic, f"{args.name_prefix} search domain: {threshold.metric}", s.evaluation_minutes,
            )  # fmt: skip
        self.topic_arn = topic.arn
        self.register_outputs({"topicArn": self.topic_arn})

    def _alarm(
        self,
        resource_name: str,
        namespace: str,
        dimensions: Mapping[str, pulumi.Input[str]],
        threshold: Threshold,
        topic: aws.sns.Topic,
        description: str,
        evaluation_minutes: int,
    ) -> None:
        aws.cloudwatch.MetricAlarm(
            resource_name,
            alarm_description=f"{description} {threshold.comparison} {threshold.value:g} {threshold.unit_note}".strip(),
            namespace=namespace,
            metric_name=threshold.metric,
            dimensions=dict(dimensions),
            statistic=threshold.statistic,
            period=60,
            evaluation_periods=evaluation_minutes,
            threshold=threshold.value,
            comparison_operator=threshold.comparison,
            treat_missing_data=threshold.missing_data,
            alarm_actions=[topic.arn],
            ok_actions=[topic.arn],
            opts=pulumi.ResourceOptions(parent=self),
        )
