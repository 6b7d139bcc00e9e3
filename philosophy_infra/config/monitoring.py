"""Metrics and alerts (`philosophy-kubernetes:monitoring`): where Prometheus and Grafana run, how long Prometheus
keeps what it scrapes, and on how large volumes."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pydantic import Field

from philosophy_infra.config.base import ConfigIssue, Model

# Prometheus's duration grammar, the units a retention uses.
_RETENTION = re.compile(r"^[1-9][0-9]*(h|d|w|y)$")


class MonitoringConfig(Model):
    node_group: str = "general"
    """The AWS layer's node group Prometheus, Alertmanager and the operator run on."""
    prometheus_retention: str = "15d"
    prometheus_storage_gib: int = Field(default=50, ge=10, le=16384)
    """Prometheus's volume (encrypted gp3, the default StorageClass); size it above the retention's needs."""
    grafana_storage_gib: int = Field(default=10, ge=1, le=1024)
    """Grafana's volume: its database (users, preferences, annotations) and plugins."""

    def issues(self) -> Iterator[ConfigIssue]:
        if not _RETENTION.fullmatch(self.prometheus_retention):
            yield ConfigIssue(
                "monitoring.prometheusRetention",
                self.prometheus_retention,
                "must be a Prometheus duration in hours, days, weeks or years, e.g. 15d",
            )
