"""The `network` section: the VPC, its zones and subnet tiers, NAT and flow logs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import StrEnum
from ipaddress import IPv4Network

from pydantic import Field

from philosophy_infra import cidr, regions
from philosophy_infra.config.base import LOG_RETENTION_DAYS, ConfigIssue, Model


class NatGatewayStrategy(StrEnum):
    """How private subnets reach the internet."""

    ONE_PER_AZ = "onePerAz"  # a zone outage takes out only that zone's egress
    SINGLE = "single"  # one NAT in the first zone: cheaper, a single point of failure


class NetworkConfig(Model):
    cidr: IPv4Network
    availability_zones: list[str] = Field(min_length=2, max_length=6)
    private_subnets: list[IPv4Network] | None = None
    public_subnets: list[IPv4Network] | None = None
    database_subnets: list[IPv4Network] | None = None
    nat_gateways: NatGatewayStrategy = NatGatewayStrategy.ONE_PER_AZ
    enable_vpn_gateway: bool = False
    flow_log_retention_days: int = 365

    def tier_subnets(self) -> dict[str, list[IPv4Network]]:
        """The subnets of each tier: the ones the config lists, or a plan carved from the VPC CIDR."""
        explicit = {"private": self.private_subnets, "public": self.public_subnets, "database": self.database_subnets}
        if all(v is not None for v in explicit.values()):
            return {tier: list(v or []) for tier, v in explicit.items()}
        planned = cidr.plan_subnets(self.cidr, len(self.availability_zones))
        return {tier: list(v) if v is not None else planned[tier] for tier, v in explicit.items()}

    def issues(self, region: str) -> Iterator[ConfigIssue]:
        if not cidr.MIN_PREFIX <= self.cidr.prefixlen <= cidr.MAX_PREFIX:
            yield ConfigIssue("network.cidr", str(self.cidr), "VPC netmask must be between /16 and /28")
        known = regions.zones(region)
        for i, az in enumerate(self.availability_zones):
            if not re.fullmatch(rf"{re.escape(region)}[a-z]", az):
                yield ConfigIssue(
                    f"network.availabilityZones[{i}]",
                    az,
                    f"zone must be in the stack's region {region} (e.g. {region}a)",
                )
            elif known and az not in known:
                yield ConfigIssue(
                    f"network.availabilityZones[{i}]", az, f"{region} has no such zone; its zones: {', '.join(known)}"
                )
            if az in self.availability_zones[:i]:
                yield ConfigIssue(f"network.availabilityZones[{i}]", az, "each availability zone may be listed once")
        if self.flow_log_retention_days not in LOG_RETENTION_DAYS:
            yield ConfigIssue(
                "network.flowLogRetentionDays",
                self.flow_log_retention_days,
                f"must be a CloudWatch Logs retention value: {sorted(LOG_RETENTION_DAYS)}",
            )
        try:
            tiers = self.tier_subnets()
        except ValueError as exc:
            yield ConfigIssue("network.cidr", str(self.cidr), f"cannot plan the subnets left out: {exc}")
            return
        for problem in cidr.layout_problems(self.cidr, len(self.availability_zones), tiers):
            key = f"network.{problem.tier}Subnets" + ("" if problem.index is None else f"[{problem.index}]")
            yield ConfigIssue(key, problem.value, problem.rule)
