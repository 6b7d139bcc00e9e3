"""CloudWatch alarms of the data stores and the node groups' capacity (`philosophy-infra:alarms`): thresholds, and
who is told. They work when the cluster (and the Prometheus in it) is down."""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import StrEnum

from pydantic import Field

from philosophy_infra.config.base import ConfigIssue, Model

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SQS_ARN = re.compile(r"^arn:aws(-[a-z]+)*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+$")


class SubscriptionProtocol(StrEnum):
    EMAIL = "email"
    HTTPS = "https"
    SQS = "sqs"


class Subscription(Model):
    protocol: SubscriptionProtocol
    endpoint: str


class DatabaseThresholds(Model):
    cpu_percent: float = Field(default=80, gt=0, le=100)
    free_memory_mib: int = Field(default=256, ge=1)
    free_storage_gib: int = Field(default=10, ge=1)
    connections: int = Field(default=400, ge=1)


class CacheThresholds(Model):
    engine_cpu_percent: float = Field(default=80, gt=0, le=100)
    memory_percent: float = Field(default=80, gt=0, le=100)
    evictions_per_minute: int = Field(default=100, ge=0)
    replication_lag_seconds: int = Field(default=30, ge=1)


class SearchThresholds(Model):
    free_storage_percent: float = Field(default=25, gt=0, lt=100)
    """The least free space on any data node, as a share of its volume (AWS's recommended alarm: 25%)."""
    jvm_memory_pressure_percent: float = Field(default=95, gt=0, le=100)


class NodeThresholds(Model):
    vcpu_quota_percent: float = Field(default=80, gt=0, le=100)
    """The account's running vCPUs of the node groups' instance classes, as a share of the EC2 quota: above it
    the node groups may not be able to grow."""


class AlarmsConfig(Model):
    subscriptions: list[Subscription] = Field(default_factory=list)
    """Who the alarm topic tells. None: the alarms still show in the CloudWatch console."""
    database: DatabaseThresholds = Field(default_factory=DatabaseThresholds)
    cache: CacheThresholds = Field(default_factory=CacheThresholds)
    nodes: NodeThresholds = Field(default_factory=NodeThresholds)
    search: SearchThresholds = Field(default_factory=SearchThresholds)
    evaluation_minutes: int = Field(default=5, ge=1, le=60)
    """How many consecutive one-minute periods must breach before an alarm fires."""

    def issues(self) -> Iterator[ConfigIssue]:
        for i, sub in enumerate(self.subscriptions):
            key = f"alarms.subscriptions[{i}].endpoint"
            if sub.protocol is SubscriptionProtocol.EMAIL and not _EMAIL.fullmatch(sub.endpoint):
                yield ConfigIssue(key, sub.endpoint, "must be an email address")
            elif sub.protocol is SubscriptionProtocol.HTTPS and not sub.endpoint.startswith("https://"):
                yield ConfigIssue(key, sub.endpoint, "must be an https:// URL (SNS never posts in clear text)")
            elif sub.protocol is SubscriptionProtocol.SQS and not _SQS_ARN.fullmatch(sub.endpoint):
                yield ConfigIssue(key, sub.endpoint, "must be an SQS queue ARN")
