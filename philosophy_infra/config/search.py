"""The OpenSearch domain (`philosophy-infra:search`): the seed's Elasticsearch, as Amazon OpenSearch Service. It
holds the service's `philosophy-*` search indices and the traces."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pydantic import Field

from philosophy_infra.config.base import LOG_RETENTION_DAYS, ConfigIssue, Model

# Engine versions Amazon OpenSearch Service creates today (developer guide, "Supported versions"; 3.3 brought
# the multi-tier architecture). Elasticsearch versions are legacy there.
ENGINE_VERSIONS = ("OpenSearch_2.19", "OpenSearch_3.1", "OpenSearch_3.3")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9]*\.[a-z0-9]+\.search$")


class DedicatedMasters(Model):
    instance_type: str
    count: int = 3


class SearchConfig(Model):
    engine_version: str = ENGINE_VERSIONS[-1]
    instance_type: str
    instance_count: int = Field(ge=1, le=80)
    zone_count: int = Field(default=1, ge=1, le=3)
    """Availability zones the data nodes spread over (zone awareness when more than one)."""
    multi_az_with_standby: bool = False
    """Three zones, one of them a standby that takes over within a minute; needs dedicated masters."""
    dedicated_masters: DedicatedMasters | None = None
    volume_gib: int = Field(default=20, ge=10, le=16384)
    log_retention_days: int = 90

    def issues(self, zones: int) -> Iterator[ConfigIssue]:
        if self.engine_version not in ENGINE_VERSIONS:
            yield ConfigIssue(
                "search.engineVersion",
                self.engine_version,
                f"versions OpenSearch Service creates: {', '.join(ENGINE_VERSIONS)}",
            )
        for key, value in (
            ("search.instanceType", self.instance_type),
            *(
                (("search.dedicatedMasters.instanceType", self.dedicated_masters.instance_type),)
                if self.dedicated_masters
                else ()
            ),
        ):
            if not _INSTANCE_TYPE.fullmatch(value):
                yield ConfigIssue(key, value, "must be an OpenSearch instance type, such as r7g.large.search")
            elif value.startswith("t2."):
                yield ConfigIssue(key, value, "T2 instances cannot encrypt data at rest")
        if self.zone_count > zones:
            yield ConfigIssue("search.zoneCount", self.zone_count, f"the VPC has {zones} zones")
        if self.instance_count % self.zone_count:
            yield ConfigIssue(
                "search.instanceCount", self.instance_count, f"must be a multiple of zoneCount ({self.zone_count})"
            )
        if self.dedicated_masters and self.dedicated_masters.count not in (3, 5):
            yield ConfigIssue("search.dedicatedMasters.count", self.dedicated_masters.count, "must be 3 or 5")
        if self.multi_az_with_standby and (self.zone_count != 3 or not self.dedicated_masters):
            yield ConfigIssue(
                "search.multiAzWithStandby", True, "needs zoneCount 3 and dedicatedMasters (OpenSearch Service rules)"
            )
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            yield ConfigIssue(
                "search.logRetentionDays", self.log_retention_days, "must be a CloudWatch Logs retention value"
            )
