"""Where Prometheus's alerts go (`philosophy-infra:alerting`): receivers by severity. Each receiver's secret
(a Slack webhook URL, a PagerDuty routing key) lives in Secrets Manager, in a container the AWS layer creates
empty; its value is put there out of band and reaches Alertmanager through External Secrets. No receiver: the
alerts stay visible in Alertmanager's and Prometheus's UIs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import StrEnum

from pydantic import Field

from philosophy_infra.config.base import ConfigIssue, Model

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


class ReceiverType(StrEnum):
    SLACK = "slack"  # the secret is the incoming webhook's URL
    PAGERDUTY = "pagerduty"  # the secret is the Events API v2 routing key


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"


class Receiver(Model):
    name: str
    type: ReceiverType
    severities: list[Severity] = Field(min_length=1)


class AlertingConfig(Model):
    receivers: list[Receiver] = Field(default_factory=list)

    def issues(self) -> Iterator[ConfigIssue]:
        seen: set[str] = set()
        for i, receiver in enumerate(self.receivers):
            key = f"alerting.receivers[{i}].name"
            if not _NAME.fullmatch(receiver.name):
                yield ConfigIssue(
                    key, receiver.name, "1-40 lowercase letters, digits or dashes, starting with a letter"
                )
            elif receiver.name == "null":
                yield ConfigIssue(key, receiver.name, "`null` is the receiver of alerts nobody is told about")
            elif receiver.name in seen:
                yield ConfigIssue(key, receiver.name, "each receiver needs its own name")
            seen.add(receiver.name)
