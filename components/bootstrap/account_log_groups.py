"""Log groups AWS services create by themselves, once per account and region, that no environment may own.

`RDSOSMetrics`: RDS enhanced monitoring writes every instance's OS metrics there, and creates it on first use
with no retention and no key of ours. Both environments' databases write to the one group, so an environment
stack that owned it would delete the other's metrics with itself: the account's bootstrap owns it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.aws.security.encryption_key import encrypted_log_group
from philosophy_infra.config.base import DataProtection

RDS_OS_METRICS = "RDSOSMetrics"


@dataclass(frozen=True, kw_only=True)
class AccountLogGroupsArgs:
    rds_os_metrics_retention_days: int
    data_protection: DataProtection = DataProtection.PROTECTED


class AccountLogGroups(pulumi.ComponentResource):
    def __init__(self, name: str, args: AccountLogGroupsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:AccountLogGroups", name, None, opts)
        group = encrypted_log_group(
            f"{name}-rds-os-metrics",
            key_resource_name=f"{name}-rds-os-metrics-encryption",
            log_group_name=RDS_OS_METRICS,
            retention_days=args.rds_os_metrics_retention_days,
            description="RDS enhanced monitoring (RDSOSMetrics): every database of the account",
            alias="philosophy-rds-os-metrics",
            data_protection=args.data_protection,
            parent=self,
        )
        self.register_outputs({"rdsOsMetrics": group.name})
