"""Whether the private subnets hold the pods' addresses when every node group is at its maxSize.

With the VPC CNI every pod takes a VPC address, and each node keeps secondary addresses on its network
interfaces ahead of need (the warm pool): plan for all of them. A subnet that runs out leaves pods stuck in
ContainerCreating ("failed to assign an IP address") exactly when the cluster autoscaler adds nodes under load.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from ipaddress import IPv4Network
from typing import Protocol

from philosophy_infra.config.base import ConfigIssue

# EC2 user guide, "Maximum IP addresses per network interface": (network interfaces, IPv4 addresses per
# interface). Add a type here before using it in a node group.
ENI_LIMITS: dict[str, tuple[int, int]] = {
    "t3.medium": (3, 6),
    "t3.large": (3, 12),
    "t3.xlarge": (4, 15),
    "t3.2xlarge": (4, 15),
    "m5.large": (3, 10),
    "m5.xlarge": (4, 15),
    "m5.2xlarge": (4, 15),
    "m6i.large": (3, 10),
    "m6i.xlarge": (4, 15),
    "m7i.large": (3, 10),
    "m7i.xlarge": (4, 15),
    "c5.large": (3, 10),
    "c5.xlarge": (4, 15),
    "c5.2xlarge": (4, 15),
    "c6i.large": (3, 10),
    "c6i.xlarge": (4, 15),
    "c7i.large": (3, 10),
    "c7i.xlarge": (4, 15),
    "r6i.large": (3, 10),
}
AWS_RESERVED_PER_SUBNET = 5
# Other interfaces in a private subnet: internal load balancers, the deploy runner, interface endpoints.
OTHER_INTERFACES_PER_SUBNET = 16


class Group(Protocol):
    @property
    def instance_types(self) -> Sequence[str]: ...
    @property
    def max_size(self) -> int: ...


def addresses_per_node(instance_type: str) -> int:
    interfaces, per_interface = ENI_LIMITS[instance_type]
    return interfaces * per_interface


def zone_demand(groups: Mapping[str, Group], zones: int) -> int:
    """Addresses one zone needs at worst: each group's maxSize spread over the zones, rounded up, plus one node
    a managed node group update adds (surge), each holding every address its interfaces can."""
    return sum(
        (math.ceil(group.max_size / zones) + 1) * max(addresses_per_node(t) for t in group.instance_types)
        for group in groups.values()
    )


def usable(subnet: IPv4Network) -> int:
    return subnet.num_addresses - AWS_RESERVED_PER_SUBNET - OTHER_INTERFACES_PER_SUBNET


def address_issues(groups: Mapping[str, Group], private_subnets: Sequence[IPv4Network]) -> Iterator[ConfigIssue]:
    unknown = [(key, t) for key, group in groups.items() for t in group.instance_types if t not in ENI_LIMITS]
    for key, instance_type in unknown:
        yield ConfigIssue(
            f"nodeGroups.{key}.instanceTypes",
            instance_type,
            "its network interface limits are unknown: add them to ENI_LIMITS (philosophy_infra/config/addresses.py)",
        )
    if unknown or not private_subnets:
        return
    need = zone_demand(groups, len(private_subnets))
    for i, subnet in enumerate(private_subnets):
        if usable(subnet) < need:
            yield ConfigIssue(
                f"network.privateSubnets[{i}]",
                str(subnet),
                f"has {usable(subnet)} addresses for pods; the node groups at maxSize need up to {need} in one zone "
                "(VPC CNI secondary addresses): use a larger subnet (a /23 has 491, a /22 1003)",
            )
