"""The typed stack config: real stack files load, and bad input is rejected naming key, value and rule."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from ipaddress import IPv4Network
from typing import Any

import pytest
import yaml

from philosophy_infra.config import (
    AssetsEncryption,
    DataProtection,
    NatGatewayStrategy,
    StackConfig,
    StackConfigError,
)
from tests.conftest import ROOT, encode, raw_config

SEED_PRIVATE = ["10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"]
SEED_PUBLIC = ["10.0.101.0/24", "10.0.102.0/24", "10.0.103.0/24"]
SEED_DATABASE = ["10.0.201.0/24", "10.0.202.0/24", "10.0.203.0/24"]


def load(stack: str, raw: dict[str, Any]) -> StackConfig:
    return StackConfig.from_raw(stack, encode(raw))


def test_prod_stack_carries_the_seed_values() -> None:
    config = load("prod", raw_config("prod"))
    net = config.network
    assert config.region == "eu-west-1"
    assert net.cidr == IPv4Network("10.0.0.0/16")
    assert len(net.availability_zones) == 3
    assert [str(s) for s in net.private_subnets or []] == SEED_PRIVATE
    assert [str(s) for s in net.public_subnets or []] == SEED_PUBLIC
    assert [str(s) for s in net.database_subnets or []] == SEED_DATABASE
    assert net.enable_vpn_gateway is True
    assert net.nat_gateways is NatGatewayStrategy.ONE_PER_AZ
    assert config.data_protection is DataProtection.PROTECTED
    assert config.assets.encryption is AssetsEncryption.KMS


def test_staging_is_a_smaller_copy_in_its_own_cidr() -> None:
    prod, staging = load("prod", raw_config("prod")), load("staging", raw_config("staging"))
    assert not staging.network.cidr.overlaps(prod.network.cidr)
    assert staging.network.nat_gateways is NatGatewayStrategy.SINGLE
    assert len(staging.network.availability_zones) == len(prod.network.availability_zones)
    assert staging.data_protection is DataProtection.SNAPSHOT_ONLY


def test_subnets_left_out_are_planned_inside_the_vpc() -> None:
    raw = raw_config("staging")
    for key in ("privateSubnets", "publicSubnets", "databaseSubnets"):
        del raw["philosophy-infra:network"][key]
    config = load("staging", raw)
    tiers = config.network.tier_subnets()
    assert all(len(v) == 3 for v in tiers.values())
    assert all(s.subnet_of(config.network.cidr) for v in tiers.values() for s in v)


def _put(*path: str | int, value: Any = None, delete: bool = False) -> Callable[[dict[str, Any]], None]:
    """A mutation that sets (or deletes) the value at `path` in the raw config map."""

    def mutate(raw: dict[str, Any]) -> None:
        target: Any = raw
        for part in path[:-1]:
            target = target.setdefault(part, {}) if isinstance(part, str) else target[part]
        if delete:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return mutate


def _both(*mutations: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        for m in mutations:
            m(raw)

    return mutate


NET, ASSETS, CLUSTER, GROUPS = (f"philosophy-infra:{k}" for k in ("network", "assets", "cluster", "nodeGroups"))


# (mutation, the key the message must name, a fragment of the rule or value it must show)
INVALID: dict[str, tuple[Callable[[dict[str, Any]], None], str, str]] = {
    "vpc cidr not a network": (_put(NET, "cidr", value="10.0.0.1/16"), "philosophy-infra:network.cidr", "10.0.0.1/16"),
    "vpc cidr garbage": (_put(NET, "cidr", value="ten.zero/16"), "philosophy-infra:network.cidr", "ten.zero/16"),
    "vpc too large": (_put(NET, "cidr", value="10.0.0.0/8"), "philosophy-infra:network.cidr", "/16 and /28"),
    "private subnet outside vpc": (
        _put(NET, "privateSubnets", 1, value="10.9.2.0/24"),
        "philosophy-infra:network.privateSubnets[1]",
        "inside the VPC CIDR",
    ),
    "public subnet overlaps private": (
        _put(NET, "publicSubnets", 0, value="10.0.1.0/24"),
        "philosophy-infra:network.publicSubnets[0]",
        "overlap",
    ),
    "database subnets overlap each other": (
        _put(NET, "databaseSubnets", 2, value="10.0.201.128/25"),
        "philosophy-infra:network.databaseSubnets[2]",
        "overlap",
    ),
    "subnet host bits set": (
        _put(NET, "privateSubnets", 0, value="10.0.1.7/24"),
        "philosophy-infra:network.privateSubnets[0]",
        "10.0.1.7/24",
    ),
    "subnet too small": (
        _put(NET, "privateSubnets", 2, value="10.0.3.0/29"),
        "philosophy-infra:network.privateSubnets[2]",
        "/16 and /28",
    ),
    "missing subnet for a zone": (
        _put(NET, "databaseSubnets", value=["10.0.201.0/24", "10.0.202.0/24"]),
        "philosophy-infra:network.databaseSubnets",
        "one subnet per availability zone",
    ),
    "one zone only": (
        _put(NET, "availabilityZones", value=["eu-west-1a"]),
        "philosophy-infra:network.availabilityZones",
        "at least 2",
    ),
    "seven zones": (
        _put(NET, "availabilityZones", value=[f"eu-west-1{c}" for c in "abcdefg"]),
        "philosophy-infra:network.availabilityZones",
        "at most 6",
    ),
    "zone of another region": (
        _put(NET, "availabilityZones", 2, value="us-east-1c"),
        "philosophy-infra:network.availabilityZones[2]",
        "region eu-west-1",
    ),
    "zone listed twice": (
        _put(NET, "availabilityZones", 1, value="eu-west-1a"),
        "philosophy-infra:network.availabilityZones[1]",
        "once",
    ),
    "nat strategy not in enum": (
        _put(NET, "natGateways", value="perSubnet"),
        "philosophy-infra:network.natGateways",
        "onePerAz",
    ),
    "flow log retention not a cloudwatch value": (
        _put(NET, "flowLogRetentionDays", value=42),
        "philosophy-infra:network.flowLogRetentionDays",
        "retention value",
    ),
    "unknown network key": (
        _put(NET, "enableIpv6", value=True),
        "philosophy-infra:network.enableIpv6",
        "allowed here: availabilityZones",
    ),
    "unknown top-level key": (
        _put("philosophy-infra:dbPassword", value="x"),
        "philosophy-infra:dbPassword",
        "unknown key",
    ),
    "region in the wrong namespace": (
        _put("philosophy-infra:region", value="eu-west-1"),
        "philosophy-infra:region",
        "aws:region",
    ),
    "missing region": (_put("aws:region", delete=True), "aws:region", "required"),
    "bad region": (_put("aws:region", value="europe"), "aws:region", "AWS region"),
    "missing network": (_put("philosophy-infra:network", delete=True), "philosophy-infra:network", "required"),
    "environment not a slug": (
        _put("philosophy-infra:environment", value="Prod Env"),
        "philosophy-infra:environment",
        "lowercase",
    ),
    "data protection not in enum": (
        _put("philosophy-infra:dataProtection", value="yes"),
        "philosophy-infra:dataProtection",
        "protected",
    ),
    "assets encryption not in enum": (
        _put(ASSETS, "encryption", value="none"),
        "philosophy-infra:assets.encryption",
        "kms",
    ),
    "infrequent access before 30 days": (
        _put(ASSETS, "infrequentAccessAfterDays", value=10),
        "philosophy-infra:assets.infrequentAccessAfterDays",
        "30",
    ),
    "glacier ir too soon after ia": (
        _put(ASSETS, "glacierInstantRetrievalAfterDays", value=45),
        "philosophy-infra:assets.glacierInstantRetrievalAfterDays",
        "30 days after",
    ),
    "owner empty": (_put("philosophy-infra:owner", value=""), "philosophy-infra:owner", "at least 1"),
    "eks version of the seed": (
        _put(CLUSTER, "kubernetesVersion", value="1.28"),
        "philosophy-infra:cluster.kubernetesVersion",
        "standard support",
    ),
    "public endpoint open to the internet": (
        _both(
            _put(CLUSTER, "endpointAccess", value="privateAndPublic"),
            _put(CLUSTER, "publicAccessCidrs", value=["0.0.0.0/0"]),
        ),
        "philosophy-infra:cluster.publicAccessCidrs[0]",
        "never",
    ),
    "public endpoint without cidrs": (
        _put(CLUSTER, "endpointAccess", value="privateAndPublic"),
        "philosophy-infra:cluster.publicAccessCidrs",
        "needs",
    ),
    "public cidr with private endpoint": (
        _put(CLUSTER, "publicAccessCidrs", value=["203.0.113.0/24"]),
        "philosophy-infra:cluster.publicAccessCidrs",
        "only allowed",
    ),
    "admin not a role arn": (
        _put(CLUSTER, "adminRoleArn", value="admin"),
        "philosophy-infra:cluster.adminRoleArn",
        "IAM role ARN",
    ),
    "unknown addon": (
        _put(CLUSTER, "addonVersions", value={"istio": "1.0"}),
        "philosophy-infra:cluster.addonVersions.istio",
        "unknown add-on",
    ),
    "min above desired": (
        _put(GROUPS, "general", "minSize", value=6),
        "philosophy-infra:nodeGroups.general.desiredSize",
        "minSize <= desiredSize",
    ),
    "desired above max": (
        _put(GROUPS, "compute", "desiredSize", value=9),
        "philosophy-infra:nodeGroups.compute.desiredSize",
        "<= maxSize",
    ),
    "no instance type": (
        _put(GROUPS, "general", "instanceTypes", value=[]),
        "philosophy-infra:nodeGroups.general.instanceTypes",
        "at least 1",
    ),
    "bad instance type": (
        _put(GROUPS, "general", "instanceTypes", value=["t3 large"]),
        "philosophy-infra:nodeGroups.general.instanceTypes[0]",
        "instance type",
    ),
    "taint effect in pod spelling": (
        _put(GROUPS, "compute", "taints", value=[{"key": "ai-workload", "value": "true", "effect": "NoSchedule"}]),
        "philosophy-infra:nodeGroups.compute.taints[0].effect",
        "NO_SCHEDULE",
    ),
    "bad taint key": (
        _put(GROUPS, "compute", "taints", value=[{"key": "ai workload", "value": "true", "effect": "NO_SCHEDULE"}]),
        "philosophy-infra:nodeGroups.compute.taints[0].key",
        "taint key",
    ),
    "bad label key": (
        _put(GROUPS, "general", "labels", value={"-Type": "general"}),
        "philosophy-infra:nodeGroups.general.labels.-Type",
        "label key",
    ),
    "bad label value": (
        _put(GROUPS, "general", "labels", value={"Type": "a b"}),
        "philosophy-infra:nodeGroups.general.labels.Type",
        "label value",
    ),
    "label set by the program": (
        _put(GROUPS, "general", "labels", value={"Environment": "x"}),
        "philosophy-infra:nodeGroups.general.labels.Environment",
        "set by the program",
    ),
    "bad node group key": (
        _put(
            GROUPS,
            value={"GPU_nodes": {"instanceTypes": ["g5.xlarge"], "minSize": 0, "desiredSize": 0, "maxSize": 1}},
        ),
        "philosophy-infra:nodeGroups.GPU_nodes",
        "lowercase",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_config_is_rejected_naming_the_key(case: str, prod_raw: dict[str, Any]) -> None:
    mutate, key, fragment = INVALID[case]
    raw = copy.deepcopy(prod_raw)
    mutate(raw)
    with pytest.raises(StackConfigError) as info:
        load("prod", raw)
    message = str(info.value)
    assert re.search(rf"^  - {re.escape(key)}( |$)", message, re.M), message
    assert fragment in message, message


def test_every_problem_is_reported_at_once(prod_raw: dict[str, Any]) -> None:
    prod_raw["philosophy-infra:network"]["privateSubnets"][0] = "10.9.1.0/24"
    prod_raw["philosophy-infra:network"]["publicSubnets"][2] = "10.8.3.0/24"
    with pytest.raises(StackConfigError) as info:
        load("prod", prod_raw)
    keys = {issue.full_key for issue in info.value.issues}
    assert {"philosophy-infra:network.privateSubnets[0]", "philosophy-infra:network.publicSubnets[2]"} <= keys


def test_pulumi_yaml_documents_every_top_level_key_and_matches_defaults() -> None:
    text = (ROOT / "Pulumi.yaml").read_text()
    declared = yaml.safe_load(text)["config"]
    for name, field in StackConfig.model_fields.items():
        if name == "region":
            continue
        alias = field.alias or name
        assert alias in declared or re.search(rf"^\s*#\s+{alias}:", text, re.M), f"{alias} undocumented"
        if alias in declared and "default" in declared[alias]:
            assert declared[alias]["default"] == str(field.default), alias


def test_stack_files_hold_no_plain_text_secret() -> None:
    for path in ROOT.glob("Pulumi.*.yaml"):
        for key, value in (yaml.safe_load(path.read_text()).get("config") or {}).items():
            if re.search(r"password|token|secret|api[_-]?key", key, re.I):
                assert isinstance(value, dict) and set(value) == {"secure"}, f"{path.name}: {key}"
