"""Pure IPv4 planning for the VPC: carving subnets and checking a layout.

Nothing here touches Pulumi, so the rules are tested directly (and with hypothesis).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network

# AWS accepts VPC and subnet netmasks between /16 and /28.
MIN_PREFIX = 16
MAX_PREFIX = 28

TIERS = ("private", "public", "database")


@dataclass(frozen=True)
class LayoutProblem:
    """One broken rule in a subnet layout; `tier`/`index` locate the subnet (index None: the whole tier)."""

    tier: str
    index: int | None
    value: str
    rule: str


def plan_subnets(vpc: IPv4Network, az_count: int, tiers: Sequence[str] = TIERS) -> dict[str, list[IPv4Network]]:
    """Carve `az_count` equal subnets per tier out of `vpc`, tiers in separate aligned ranges.

    The VPC is split into a power-of-two number of ranges (one per tier, rounded up), and each range into a
    power-of-two number of subnets (one per AZ, rounded up). Unused slots are left free for later tiers or
    zones, so adding a zone never moves an existing subnet.
    """
    if az_count < 1:
        raise ValueError(f"az_count must be at least 1, got {az_count}")
    tier_bits = max(1, (len(tiers) - 1).bit_length())
    az_bits = max(1, (az_count - 1).bit_length())
    prefix = vpc.prefixlen + tier_bits + az_bits
    if prefix > MAX_PREFIX:
        raise ValueError(f"{vpc} is too small for {len(tiers)} tiers x {az_count} zones (subnets would be /{prefix})")
    ranges = list(vpc.subnets(prefixlen_diff=tier_bits))
    return {tier: list(ranges[i].subnets(prefixlen_diff=az_bits))[:az_count] for i, tier in enumerate(tiers)}


def layout_problems(
    vpc: IPv4Network, az_count: int, tiers: Mapping[str, Sequence[IPv4Network]]
) -> Iterator[LayoutProblem]:
    """Yield every rule a subnet layout breaks: count per tier, size, containment, overlap."""
    seen: list[tuple[str, int, IPv4Network]] = []
    for tier, subnets in tiers.items():
        if len(subnets) != az_count:
            yield LayoutProblem(
                tier,
                None,
                ", ".join(map(str, subnets)),
                f"one subnet per availability zone is required: {az_count} zones, {len(subnets)} subnets",
            )
        for index, subnet in enumerate(subnets):
            if not MIN_PREFIX <= subnet.prefixlen <= MAX_PREFIX:
                yield LayoutProblem(
                    tier, index, str(subnet), f"subnet netmask must be between /{MIN_PREFIX} and /{MAX_PREFIX}"
                )
            if not subnet.subnet_of(vpc):
                yield LayoutProblem(tier, index, str(subnet), f"subnet must lie inside the VPC CIDR {vpc}")
            for other_tier, other_index, other in seen:
                if subnet.overlaps(other):
                    yield LayoutProblem(
                        tier,
                        index,
                        str(subnet),
                        f"subnets must not overlap: it overlaps {other_tier}[{other_index}] ({other})",
                    )
            seen.append((tier, index, subnet))
