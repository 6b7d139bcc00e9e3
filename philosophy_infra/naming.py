"""Shared naming and tagging, so every resource is named and tagged the same way."""

from __future__ import annotations

from dataclasses import dataclass

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


# The names of what the AWS layer's recovery components create and `philosophy-infra dr` looks for, from the
# environment's prefix: one place, so the tool finds exactly what the program made.
def backup_vault_name(prefix: str) -> str:
    return f"{prefix}-backup"


def dr_backup_vault_name(prefix: str) -> str:
    return f"{prefix}-backup-dr"


def restore_testing_plan_name(prefix: str) -> str:
    """Letters, digits and underscores only (AWS Backup's rule for restore testing plans)."""
    return f"{prefix.replace('-', '_')}_restore_testing"


def common_tags(
    project: str, *, owner: str, cost_center: str | None = None, environment: str | None = None
) -> dict[str, str]:
    """The tags every taggable AWS resource carries, applied once through the provider's default tags; the
    bootstrap belongs to an account, not an environment, so it has no Environment tag."""
    # The order is part of the provider's input (a JSON text): keep it, or every stack shows a provider diff.
    tags = {"Project": project, "Service": SERVICE}
    if environment:
        tags["Environment"] = environment
    tags |= {"ManagedBy": "pulumi", "Owner": owner}
    if cost_center:
        tags["CostCenter"] = cost_center
    return tags
