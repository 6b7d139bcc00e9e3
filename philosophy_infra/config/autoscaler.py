"""The Kubernetes Cluster Autoscaler's settings (`philosophy-kubernetes:clusterAutoscaler`): where it runs, and
how eagerly it gives nodes back. It always expands with `least-waste` (see the component)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from philosophy_infra.config.base import ConfigIssue, Model

_DURATION = re.compile(r"^([1-9][0-9]*)(s|m|h)$")


class AutoscalerConfig(Model):
    node_group: str = "general"
    """The AWS layer's node group it runs on (its labels and tolerations come from there)."""
    scale_down_unneeded_time: str = "10m"
    """How long a node must be unneeded before it is removed."""
    scale_down_delay_after_add: str = "10m"
    """How long after a scale-up no scale-down is considered."""
    scale_down_utilization_threshold: float = 0.5
    """A node whose pods request less than this share of its CPU and memory is a removal candidate."""

    def issues(self) -> Iterator[ConfigIssue]:
        for key, value in (
            ("scaleDownUnneededTime", self.scale_down_unneeded_time),
            ("scaleDownDelayAfterAdd", self.scale_down_delay_after_add),
        ):
            if not _DURATION.fullmatch(value):
                yield ConfigIssue(f"clusterAutoscaler.{key}", value, "must be a duration such as 10m, 90s or 1h")
        if not 0 < self.scale_down_utilization_threshold < 1:
            yield ConfigIssue(
                "clusterAutoscaler.scaleDownUtilizationThreshold",
                self.scale_down_utilization_threshold,
                "must be between 0 and 1 (exclusive)",
            )
