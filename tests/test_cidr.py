"""CIDR planning and layout checks, with hypothesis over VPC sizes, addresses and zone counts."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from philosophy_infra import cidr


def _bits(n: int) -> int:
    return max(1, (n - 1).bit_length())


def _fitting_prefix(az_count: int) -> int:
    # 3 tiers take 2 bits, the zones of a tier _bits(az_count) bits, and subnets stop at /28.
    return cidr.MAX_PREFIX - 2 - _bits(az_count)


@st.composite
def layouts(draw: st.DrawFn, min_zones: int = 1, max_zones: int = 6) -> tuple[IPv4Network, int]:
    az_count = draw(st.integers(min_value=min_zones, max_value=max_zones))
    prefix = draw(st.integers(min_value=16, max_value=_fitting_prefix(az_count)))
    address = draw(st.integers(min_value=0, max_value=2**32 - 1))
    return IPv4Network((IPv4Address(address), prefix), strict=False), az_count


@given(az_count=st.integers(min_value=1, max_value=6), prefix=st.integers(min_value=16, max_value=28))
def test_plan_refuses_exactly_the_vpcs_too_small(az_count: int, prefix: int) -> None:
    vpc = IPv4Network(("10.0.0.0", prefix))
    if prefix <= _fitting_prefix(az_count):
        cidr.plan_subnets(vpc, az_count)
    else:
        with pytest.raises(ValueError, match="too small"):
            cidr.plan_subnets(vpc, az_count)


@given(layout=layouts())
def test_planned_layout_is_valid(layout: tuple[IPv4Network, int]) -> None:
    vpc, az_count = layout
    plan = cidr.plan_subnets(vpc, az_count)
    assert set(plan) == set(cidr.TIERS)
    assert all(len(subnets) == az_count for subnets in plan.values())
    every = [s for subnets in plan.values() for s in subnets]
    assert all(s.subnet_of(vpc) for s in every)
    assert all(not a.overlaps(b) for i, a in enumerate(every) for b in every[i + 1 :])
    assert list(cidr.layout_problems(vpc, az_count, plan)) == []


@given(layout=layouts(max_zones=5))
def test_adding_a_zone_within_the_same_block_never_moves_a_subnet(layout: tuple[IPv4Network, int]) -> None:
    vpc, az_count = layout
    if _bits(az_count + 1) != _bits(az_count):
        return  # the tier block doubles: a documented re-plan, which explicit config lists avoid
    before, after = cidr.plan_subnets(vpc, az_count), cidr.plan_subnets(vpc, az_count + 1)
    for tier in cidr.TIERS:
        assert after[tier][:az_count] == before[tier]


def test_plan_refuses_a_vpc_too_small() -> None:
    with pytest.raises(ValueError, match="too small"):
        cidr.plan_subnets(IPv4Network("10.0.0.0/26"), 3)


@given(layout=layouts(min_zones=2), data=st.data())
def test_a_duplicated_subnet_is_reported_as_overlap(layout: tuple[IPv4Network, int], data: st.DataObject) -> None:
    vpc, az_count = layout
    plan = cidr.plan_subnets(vpc, az_count)
    source_tier, target_tier = data.draw(st.sampled_from(cidr.TIERS)), data.draw(st.sampled_from(cidr.TIERS))
    i, j = data.draw(st.integers(0, az_count - 1)), data.draw(st.integers(0, az_count - 1))
    if (source_tier, i) == (target_tier, j):
        return
    plan[target_tier][j] = plan[source_tier][i]
    problems = list(cidr.layout_problems(vpc, az_count, plan))
    assert any("overlap" in p.rule for p in problems)


@given(layout=layouts(), data=st.data())
def test_a_subnet_outside_the_vpc_is_reported_with_its_position(
    layout: tuple[IPv4Network, int], data: st.DataObject
) -> None:
    vpc, az_count = layout
    plan = cidr.plan_subnets(vpc, az_count)
    tier, index = data.draw(st.sampled_from(cidr.TIERS)), data.draw(st.integers(0, az_count - 1))
    outside = next(n for n in (IPv4Network("192.0.2.0/24"), IPv4Network("198.51.100.0/24")) if not n.overlaps(vpc))
    plan[tier][index] = outside
    problems = [p for p in cidr.layout_problems(vpc, az_count, plan) if "inside the VPC" in p.rule]
    assert [(p.tier, p.index) for p in problems] == [(tier, index)]


def test_count_mismatch_names_the_tier() -> None:
    vpc = IPv4Network("10.0.0.0/16")
    plan = cidr.plan_subnets(vpc, 3)
    plan["public"] = plan["public"][:2]
    problems = list(cidr.layout_problems(vpc, 3, plan))
    assert [(p.tier, p.index) for p in problems] == [("public", None)]
