"""The disaster-recovery section (`philosophy-infra:disasterRecovery`): the region the backups are copied to and
the objectives `philosophy-infra dr status` and `dr drill` measure them against."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from philosophy_infra import regions
from philosophy_infra.config.base import REGION_KEY, ConfigIssue, Model

_KEY = "disasterRecovery.region"


class RecoveryConfig(Model):
    region: str
    """The DR region: the database's automated backups are replicated there, AWS Backup copies its vault there."""
    rpo_hours: int = Field(default=1, ge=1, le=24)
    """Recovery point objective: the newest recovery point of every protected resource, in each region, is at
    most this old."""
    rto_hours: int = Field(default=4, ge=1, le=72)
    """Recovery time objective: a restore of the database into the DR region answers within this time."""

    def issues(self, stack_region: str) -> Iterator[ConfigIssue]:
        if problem := regions.region_problem(self.region):
            yield ConfigIssue(_KEY, self.region, problem)
        elif self.region == stack_region:
            yield ConfigIssue(
                _KEY, self.region, f"must differ from {REGION_KEY}: a copy in the same region is lost with it"
            )
        elif _partition(self.region) != _partition(stack_region):
            # Backups are not copied across partitions (aws, aws-cn, aws-us-gov): they are separate clouds.
            yield ConfigIssue(_KEY, self.region, f"must be in the same AWS partition as {REGION_KEY} ({stack_region})")


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"
