"""Shared naming and tagging, so every resource is named and tagged the same way."""

from __future__ import annotations

from dataclasses import dataclass

from philosophy_infra.config.aws import AwsStackConfig

SERVICE = "philosophy"


@dataclass(frozen=True)
class Naming:
    """Human-readable names (Name tags, descriptions) for one environment: `philosophy-prod-<suffix>`.

    Pulumi still auto-names the physical resources (a random suffix), so parallel stacks and
    create-before-replace keep working; these names are for people reading the console and the bill.
    """

    environment: str

    @property
    def prefix(self) -> str:
        return f"{SERVICE}-{self.environment}"

    def __call__(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"


def common_tags(project: str, config: AwsStackConfig) -> dict[str, str]:
    """The tags every taggable AWS resource carries, applied once through the provider's default tags."""
    tags = {
        "Project": project,
        "Service": SERVICE,
        "Environment": config.environment,
        "ManagedBy": "pulumi",
        "Owner": config.owner,
    }
    if config.cost_center:
        tags["CostCenter"] = config.cost_center
    return tags
