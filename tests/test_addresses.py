"""The private subnets' address room at the node groups' maxSize (pure logic)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from ipaddress import IPv4Network

from hypothesis import given
from hypothesis import strategies as st

from philosophy_infra.config.addresses import ENI_LIMITS, address_issues, usable, zone_demand


@dataclass(frozen=True)
class G:
    instance_types: list[str]
    max_size: int


types = st.sampled_from(sorted(ENI_LIMITS))
groups = st.dictionaries(
    st.sampled_from(["general", "compute", "spare"]),
    st.builds(G, st.lists(types, min_size=1, max_size=3), st.integers(min_value=1, max_value=60)),
    min_size=1,
)


@given(groups, st.integers(min_value=2, max_value=3))
def test_a_subnet_is_refused_exactly_when_it_cannot_hold_the_zones_worst_case(gs: dict[str, G], zones: int) -> None:
    need = sum(
        (math.ceil(g.max_size / zones) + 1) * max(ENI_LIMITS[t][0] * ENI_LIMITS[t][1] for t in g.instance_types)
        for g in gs.values()
    )
    assert zone_demand(gs, zones) == need
    for prefix in (24, 23, 22, 21):
        subnets = [IPv4Network(f"10.0.{i * 8}.0/{prefix}") for i in range(zones)]
        issues = list(address_issues(gs, subnets))
        assert (len(issues) == zones) == (usable(subnets[0]) < need)
        assert all(i.key.startswith("network.privateSubnets[") for i in issues)


def test_the_seed_layout_fits_staging_but_not_prod() -> None:
    seed = [IPv4Network(f"10.0.{i}.0/24") for i in (1, 2, 3)]
    staging = {"general": G(["t3.large"], 4), "compute": G(["c5.xlarge"], 2)}
    prod = {"general": G(["t3.large"], 10), "compute": G(["c5.xlarge"], 5)}
    assert list(address_issues(staging, seed)) == []
    assert len(list(address_issues(prod, seed))) == 3
