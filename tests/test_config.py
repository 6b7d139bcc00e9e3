"""The typed stack config: real stack files load, and bad input is rejected naming key, value and rule."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from ipaddress import IPv4Network
from typing import Any

import pytest
import yaml

from philosophy_infra.config.assets import AssetsEncryption
from philosophy_infra.config.aws import AwsStackConfig
from philosophy_infra.config.base import DataProtection, StackConfigError
from philosophy_infra.config.cache import ClusterMode
from philosophy_infra.config.kubernetes import KubernetesStackConfig
from philosophy_infra.config.network import NatGatewayStrategy
from philosophy_infra.layers import LAYERS
from tests.conftest import KUBERNETES, ROOT, encode, raw_config

SEED_PUBLIC = ["10.0.101.0/24", "10.0.102.0/24", "10.0.103.0/24"]
SEED_DATABASE = ["10.0.201.0/24", "10.0.202.0/24", "10.0.203.0/24"]


def load(stack: str, raw: dict[str, Any]) -> AwsStackConfig:
    return AwsStackConfig.from_raw(stack, encode(raw))


def load_kubernetes(stack: str, raw: dict[str, Any]) -> KubernetesStackConfig:
    return KubernetesStackConfig.from_raw(stack, encode(raw))


def test_prod_stack_carries_the_seed_values() -> None:
    config = load("prod", raw_config("prod"))
    net = config.network
    assert config.region == "eu-west-1"
    assert net.cidr == IPv4Network("10.0.0.0/16")
    assert len(net.availability_zones) == 3
    # The seed's /24s cannot hold the pods of the node groups at maxSize (a departure, README): /22s.
    assert [str(s) for s in net.private_subnets or []] == ["10.0.16.0/22", "10.0.20.0/22", "10.0.24.0/22"]
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


NET, ASSETS, CLUSTER, GROUPS, DB, CACHE, RUNNER = (
    f"philosophy-infra:{k}" for k in ("network", "assets", "cluster", "nodeGroups", "database", "cache", "deployRunner")
)
APP, AWS_LAYER = "philosophy-kubernetes:workloads", "philosophy-kubernetes:awsLayer"
DELIVERY = "philosophy-kubernetes:delivery"


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
        _put(NET, "publicSubnets", 0, value="10.0.17.0/24"),
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
    "api access from the whole internet": (
        _put(CLUSTER, "apiAccess", "cidrs", value=["0.0.0.0/0"]),
        "philosophy-infra:cluster.apiAccess.cidrs[0]",
        "never",
    ),
    "api access from a public network": (
        _put(CLUSTER, "apiAccess", "cidrs", value=["10.20.0.0/16", "8.8.8.0/24"]),
        "philosophy-infra:cluster.apiAccess.cidrs[1]",
        "privateAndPublic",
    ),
    "api access from something that is not a security group": (
        _put(CLUSTER, "apiAccess", "securityGroupIds", value=["vpn"]),
        "philosophy-infra:cluster.apiAccess.securityGroupIds[0]",
        "security group id",
    ),
    "kubernetes version unquoted in yaml": (
        _put(CLUSTER, "kubernetesVersion", value=1.3),
        "philosophy-infra:cluster.kubernetesVersion",
        "put the value in quotes",
    ),
    "database version unquoted in yaml": (
        _put(DB, "engineVersion", value=17),
        "philosophy-infra:database.engineVersion",
        "YAML read this unquoted value as a number",
    ),
    "zone the region does not have": (
        _put(NET, "availabilityZones", 2, value="eu-west-1z"),
        "philosophy-infra:network.availabilityZones[2]",
        "eu-west-1 has no such zone; its zones: eu-west-1a, eu-west-1b, eu-west-1c",
    ),
    "region not known": (_put("aws:region", value="eu-west-9"), "aws:region", "not a region this program knows"),
    "runner repository not owner/name": (
        _put(RUNNER, "githubRepository", value="https://github.com/acme/infra"),
        f"{RUNNER}.githubRepository",
        "owner/name",
    ),
    "runner connection not a connection arn": (
        _put(RUNNER, "githubConnectionArn", value="arn:aws:iam::210987654321:role/github"),
        f"{RUNNER}.githubConnectionArn",
        "CodeConnections connection ARN",
    ),
    "runner state bucket not a bucket name": (
        _put(RUNNER, "stateBucket", value="s3://Philosophy_State"),
        f"{RUNNER}.stateBucket",
        "S3 bucket name",
    ),
    "runner state prefix absolute": (
        _put(RUNNER, "statePrefix", value="/pulumi"),
        f"{RUNNER}.statePrefix",
        "relative S3 key prefix",
    ),
    "runner secrets key given as an alias": (
        _put(RUNNER, "stateKmsKeyArn", value="arn:aws:kms:eu-west-1:210987654321:alias/philosophy-pulumi"),
        f"{RUNNER}.stateKmsKeyArn",
        "an alias ARN grants nothing",
    ),
    "runner compute type unknown": (
        _put(RUNNER, "computeType", value="BUILD_GENERAL1_HUGE"),
        f"{RUNNER}.computeType",
        "BUILD_GENERAL1_MEDIUM",
    ),
    "missing deploy runner": (_put(RUNNER, delete=True), RUNNER, "required"),
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
    # --- database ---
    "missing database": (_put(DB, delete=True), DB, "required"),
    "postgres 15.4 (the seed's)": (_put(DB, "engineVersion", value="15.4"), f"{DB}.engineVersion", "pgvector"),
    "postgres 16": (_put(DB, "engineVersion", value="16"), f"{DB}.engineVersion", "17, 18"),
    "db instance class without db.": (
        _put(DB, "instanceClass", value="r6g.xlarge"),
        f"{DB}.instanceClass",
        "db.r6g.xlarge",
    ),
    "db storage too small": (_put(DB, "allocatedStorageGib", value=10), f"{DB}.allocatedStorageGib", "20 to 65536"),
    "db storage ceiling below the volume": (
        _put(DB, "maxAllocatedStorageGib", value=50),
        f"{DB}.maxAllocatedStorageGib",
        "between 110 (allocatedStorageGib 100 + 10%)",
    ),
    "db storage ceiling less than 10% above the volume": (
        _put(DB, "maxAllocatedStorageGib", value=105),
        f"{DB}.maxAllocatedStorageGib",
        "0 (no autoscaling)",
    ),
    "db name a SQL key word": (_put(DB, "databaseName", value="user"), f"{DB}.databaseName", "SQL key word"),
    "db backup window with a trailing newline": (
        _put(DB, "backupWindow", value="03:00-06:00\n"),
        f"{DB}.backupWindow",
        "hh:mm-hh:mm",
    ),
    "db backups off in prod": (
        _put(DB, "backupRetentionDays", value=0),
        f"{DB}.backupRetentionDays",
        "protected environment",
    ),
    "db backups beyond 35 days": (_put(DB, "backupRetentionDays", value=36), f"{DB}.backupRetentionDays", "7-35"),
    "db backup window overlaps maintenance": (
        _put(DB, "backupWindow", value="23:00-01:00"),
        f"{DB}.backupWindow",
        "overlaps the maintenance window Mon:00:00-Mon:03:00",
    ),
    "db backup window malformed": (_put(DB, "backupWindow", value="3am-6am"), f"{DB}.backupWindow", "hh:mm-hh:mm"),
    "db backup window too short": (
        _put(DB, "backupWindow", value="03:00-03:15"),
        f"{DB}.backupWindow",
        "at least 30 minutes",
    ),
    "db maintenance day misspelt": (
        _put(DB, "maintenanceWindow", value="Mun:00:00-Mon:03:00"),
        f"{DB}.maintenanceWindow",
        "not a day",
    ),
    "db name reserved": (_put(DB, "databaseName", value="postgres"), f"{DB}.databaseName", "postgres"),
    "db name with a dash": (_put(DB, "databaseName", value="philosophy-db"), f"{DB}.databaseName", "lowercase"),
    "master username reserved by RDS": (
        _put(DB, "masterUsername", value="rdsadmin"),
        f"{DB}.masterUsername",
        "reserves",
    ),
    "slow query threshold logs everything": (
        _put(DB, "slowQueryThresholdMs", value=0),
        f"{DB}.slowQueryThresholdMs",
        "at least 100 ms",
    ),
    "db log retention not a CloudWatch value": (
        _put(DB, "logRetentionDays", value=100),
        f"{DB}.logRetentionDays",
        "retention value",
    ),
    "enhanced monitoring interval": (
        _put(DB, "monitoringIntervalSeconds", value=45),
        f"{DB}.monitoringIntervalSeconds",
        "1, 5, 10, 15, 30, 60",
    ),
    "unknown insights mode": (_put(DB, "insights", value="premium"), f"{DB}.insights", "'standard' or 'advanced'"),
    "master password in config": (
        _put(DB, "password", value="hunter2-plaintext"),
        f"{DB}.password",
        "unknown key; allowed here: allocatedStorageGib",
    ),
    # --- cache ---
    "missing cache": (_put(CACHE, delete=True), CACHE, "required"),
    "memcached": (_put(CACHE, "engine", value="memcached"), f"{CACHE}.engine", "'valkey' or 'redis'"),
    "redis engine with a valkey version": (
        _both(_put(CACHE, "engine", value="redis"), _put(CACHE, "engineVersion", value="8.2")),
        f"{CACHE}.engineVersion",
        "redis versions ElastiCache can create: 7.0, 7.1",
    ),
    "redis 7.0 as valkey": (
        _put(CACHE, "engineVersion", value="7.0"),
        f"{CACHE}.engineVersion",
        "valkey versions",
    ),
    "cache node type without cache.": (
        _put(CACHE, "nodeType", value="r6g.large"),
        f"{CACHE}.nodeType",
        "cache.r6g.large",
    ),
    "automatic failover without replicas": (
        _put(CACHE, "replicasPerShard", value=0),
        f"{CACHE}.replicasPerShard",
        "at least one replica per shard",
    ),
    "multi-az without automatic failover": (
        _both(
            _put(CACHE, "clusterMode", value="disabled"),
            _put(CACHE, "shards", value=1),
            _put(CACHE, "automaticFailover", value=False),
        ),
        f"{CACHE}.multiAz",
        "Multi-AZ needs automaticFailover",
    ),
    "cluster mode without automatic failover": (
        _both(_put(CACHE, "automaticFailover", value=False), _put(CACHE, "multiAz", value=False)),
        f"{CACHE}.automaticFailover",
        "clusterMode enabled requires automatic failover",
    ),
    "too many shards": (_put(CACHE, "shards", value=501), f"{CACHE}.shards", "1 to 500 shards"),
    "no shards": (_put(CACHE, "shards", value=0), f"{CACHE}.shards", "1 to 500 shards"),
    "too many replicas": (_put(CACHE, "replicasPerShard", value=6), f"{CACHE}.replicasPerShard", "0 to 5 replicas"),
    "too many nodes": (
        _both(_put(CACHE, "shards", value=200), _put(CACHE, "replicasPerShard", value=2)),
        f"{CACHE}.shards",
        "at most 500 nodes",
    ),
    "several shards without cluster mode": (
        _put(CACHE, "clusterMode", value="disabled"),
        f"{CACHE}.shards",
        "exactly one shard",
    ),
    "snapshot window overlaps maintenance": (
        _put(CACHE, "snapshotWindow", value="04:00-06:00"),
        f"{CACHE}.snapshotWindow",
        "overlaps the maintenance window sun:05:00-sun:07:00",
    ),
    "snapshot window too short": (
        _put(CACHE, "snapshotWindow", value="03:00-03:30"),
        f"{CACHE}.snapshotWindow",
        "at least 60 minutes",
    ),
    "cache maintenance window malformed": (
        _put(CACHE, "maintenanceWindow", value="sunday 05:00"),
        f"{CACHE}.maintenanceWindow",
        "ddd:hh:mm-ddd:hh:mm",
    ),
    "no cache snapshots in prod": (
        _put(CACHE, "snapshotRetentionDays", value=0),
        f"{CACHE}.snapshotRetentionDays",
        "protected environment",
    ),
    "auth token in config": (
        _put(CACHE, "authToken", value="hunter2-plaintext"),
        f"{CACHE}.authToken",
        "unknown key",
    ),
}


INVALID_KUBERNETES: dict[str, tuple[Callable[[dict[str, Any]], None], str, str]] = {
    "image tag latest": (_put(APP, "imageTag", value="latest"), f"{APP}.imageTag", "never 'latest'"),
    "image tag with a slash": (_put(APP, "imageTag", value="v1/2"), f"{APP}.imageTag", "pinned image tag"),
    "registry with a tag": (
        _put(APP, "imageRegistry", value="example.com/app:1.0"),
        f"{APP}.imageRegistry",
        "without a tag",
    ),
    "cpu request above its limit": (
        _put(APP, "api", "requests", "cpu", value="2"),
        f"{APP}.api.requests.cpu",
        "must not exceed limits.cpu (1000m)",
    ),
    "memory not a quantity": (
        _put(APP, "worker", "limits", "memory", value="2 GB"),
        f"{APP}.worker.limits.memory",
        "Kubernetes quantity",
    ),
    "worker node group not a node group key": (
        _put(APP, "worker", "nodeGroup", value="GPU nodes"),
        f"{APP}.worker.nodeGroup",
        "key of the AWS layer's nodeGroups",
    ),
    "api minimum above the hpa maximum": (
        _put(APP, "api", "minReplicas", value=21),
        f"{APP}.api.minReplicas",
        "minReplicas <= maxReplicas",
    ),
    # The HPA owns the api's count: a fixed one would be reset by it, or reset it (Argo CD).
    "api replicas": (_put(APP, "api", "replicas", value=3), f"{APP}.api.replicas", "unknown key"),
    # The tag labels the pods' version (app.kubernetes.io/version), which a label value must be able to hold.
    "image tag too long for a label": (
        _put(APP, "imageTag", value="1" * 64),
        f"{APP}.imageTag",
        "at most 63 characters",
    ),
    "image tag ending in a dot": (_put(APP, "imageTag", value="1.2."), f"{APP}.imageTag", "label value"),
    "unknown custom metrics mode": (
        _put(APP, "customMetrics", value="prometheus"),
        f"{APP}.customMetrics",
        "'off' or 'adapter'",
    ),
    "llm key in config": (
        _put(APP, "claudeApiKey", value="hunter2-plaintext"),
        f"{APP}.claudeApiKey",
        "unknown key",
    ),
    "aws layer organization with a slash": (
        _put(AWS_LAYER, "organization", value="acme/corp"),
        f"{AWS_LAYER}.organization",
        "Pulumi organization name",
    ),
    "aws layer project empty": (_put(AWS_LAYER, "project", value=""), f"{AWS_LAYER}.project", "Pulumi project name"),
    # HEAD is whatever the default branch is today: the seed's `targetRevision: HEAD`.
    "delivery branch HEAD": (_put(DELIVERY, "branch", value="HEAD"), f"{DELIVERY}.branch", "never HEAD"),
    "delivery branch with a space": (_put(DELIVERY, "branch", value="my branch"), f"{DELIVERY}.branch", "a branch"),
    "delivery repository over ssh": (
        _put(DELIVERY, "repoUrl", value="git@github.com:o/r.git"),
        f"{DELIVERY}.repoUrl",
        "HTTPS URL",
    ),
    "unknown argo cd mode": (
        _put(DELIVERY, "argoCd", value="ha"),
        f"{DELIVERY}.argoCd",
        "'single' or 'highlyAvailable'",
    ),
    "unknown revision pin": (_put(DELIVERY, "pin", value="HEAD"), f"{DELIVERY}.pin", "'lastRelease' or 'branch'"),
    "unknown workloads key": (
        _put(APP, "jwtSecret", value="hunter2-plaintext"),
        f"{APP}.jwtSecret",
        "unknown key",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID_KUBERNETES))
def test_invalid_kubernetes_config_is_rejected_naming_the_key(case: str) -> None:
    mutate, key, fragment = INVALID_KUBERNETES[case]
    raw = copy.deepcopy(raw_config("prod", KUBERNETES))
    mutate(raw)
    with pytest.raises(StackConfigError) as info:
        load_kubernetes("prod", raw)
    message = str(info.value)
    assert re.search(rf"^  - {re.escape(key)}( |$)", message, re.M), message
    assert fragment in message, message
    assert "hunter2" not in message, "a value under an unknown key may be a secret: never echo it"


@pytest.mark.parametrize("tag", ["1" * 63, "1.0.0-rc.1", "v2_1"])
def test_an_image_tag_that_is_also_a_label_value_is_accepted(tag: str) -> None:
    raw = copy.deepcopy(raw_config("prod", KUBERNETES))
    raw[APP]["imageTag"] = tag
    assert load_kubernetes("prod", raw).workloads.image_tag == tag


def test_the_api_may_run_a_fixed_count_with_equal_bounds() -> None:
    raw = copy.deepcopy(raw_config("prod", KUBERNETES))
    raw[APP]["api"].update({"minReplicas": 4, "maxReplicas": 4})
    api = load_kubernetes("prod", raw).workloads.api
    assert (api.min_replicas, api.max_replicas) == (4, 4)


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
    assert "hunter2" not in message, "a value under an unknown key may be a secret: never echo it"


def test_every_problem_is_reported_at_once(prod_raw: dict[str, Any]) -> None:
    prod_raw["philosophy-infra:network"]["privateSubnets"][0] = "10.9.1.0/24"
    prod_raw["philosophy-infra:network"]["publicSubnets"][2] = "10.8.3.0/24"
    with pytest.raises(StackConfigError) as info:
        load("prod", prod_raw)
    keys = {issue.full_key for issue in info.value.issues}
    assert {"philosophy-infra:network.privateSubnets[0]", "philosophy-infra:network.publicSubnets[2]"} <= keys


@pytest.mark.parametrize(
    ("layer", "model"), [("aws", AwsStackConfig), ("kubernetes", KubernetesStackConfig)], ids=["aws", "kubernetes"]
)
def test_pulumi_yaml_documents_every_top_level_key_and_matches_defaults(layer: str, model: Any) -> None:
    text = (LAYERS[layer].directory(ROOT) / "Pulumi.yaml").read_text()  # type: ignore[index]
    declared = yaml.safe_load(text).get("config") or {}
    for name, field in model.model_fields.items():
        if name == "region":
            continue
        alias = field.alias or name
        assert alias in declared or re.search(rf"^\s*#\s+{alias}:", text, re.M), f"{alias} undocumented"
        if alias in declared and "default" in declared[alias]:
            assert declared[alias]["default"] == str(field.default), alias


def _keys(path: str, value: Any) -> list[tuple[str, Any]]:
    """Every (key path, value) of a config value, at any depth: a nested key is config too."""
    if isinstance(value, dict) and set(value) != {"secure"}:
        return [kv for k, v in value.items() for kv in [(f"{path}.{k}", v), *_keys(f"{path}.{k}", v)]]
    return []


def test_stack_files_hold_no_plain_text_secret() -> None:
    files = [*ROOT.glob("Pulumi.*.yaml"), *ROOT.glob("kubernetes/Pulumi.*.yaml"), *ROOT.glob("bootstrap/Pulumi.*.yaml")]
    assert len(files) == 7  # staging, prod and dr of both layers; the bootstrap's shared
    for path in files:
        for key, value in (yaml.safe_load(path.read_text()).get("config") or {}).items():
            for name, item in [(key, value), *_keys(key, value)]:
                if re.search(r"password|token|secret|api[_-]?key", name.rsplit(".", 1)[-1].rsplit(":", 1)[-1], re.I):
                    assert isinstance(item, dict) and set(item) == {"secure"}, f"{path.name}: {name}"


def test_staging_may_run_single_az_without_snapshots() -> None:
    raw = raw_config("staging")
    raw["philosophy-infra:cache"]["snapshotRetentionDays"] = 0
    config = load("staging", raw)
    assert config.database.multi_az is False and config.cache.multi_az is False
    assert config.cache.snapshot_retention_days == 0
    with pytest.raises(StackConfigError, match="snapshotRetentionDays"):
        load("prod", {**raw, "philosophy-infra:dataProtection": "protected"})


def test_a_single_node_cache_without_cluster_mode_is_valid() -> None:
    raw = raw_config("staging")
    raw["philosophy-infra:cache"].update(
        {"clusterMode": "disabled", "shards": 1, "replicasPerShard": 0, "automaticFailover": False, "multiAz": False}
    )
    cache = load("staging", raw).cache
    assert cache.cluster_mode is ClusterMode.DISABLED and cache.replicas_per_shard == 0


@pytest.mark.parametrize(
    ("engine", "version", "family"),
    [
        ("valkey", None, "valkey9"),
        ("valkey", "9.0", "valkey9"),
        ("valkey", "8.2", "valkey8"),
        ("valkey", "7.2", "valkey7"),
        ("redis", None, "redis7"),
    ],
)
def test_cache_version_defaults_to_the_engines_newest(engine: str, version: str | None, family: str) -> None:
    raw = raw_config("prod")
    raw["philosophy-infra:cache"]["engine"] = engine
    raw["philosophy-infra:cache"].pop("engineVersion")
    if version:
        raw["philosophy-infra:cache"]["engineVersion"] = version
    cache = load("prod", raw).cache
    assert cache.parameter_group_family == family
    assert cache.version == (version or {"valkey": "9.1", "redis": "7.1"}[engine])


def test_storage_autoscaling_can_be_turned_off() -> None:
    raw = raw_config("prod")
    raw["philosophy-infra:database"]["maxAllocatedStorageGib"] = 0
    assert load("prod", raw).database.max_allocated_storage_gib == 0
    raw["philosophy-infra:database"]["maxAllocatedStorageGib"] = 110
    assert load("prod", raw).database.max_allocated_storage_gib == 110


def test_the_seeds_private_subnets_are_refused_for_want_of_pod_addresses() -> None:
    raw = raw_config("prod")
    raw["philosophy-infra:network"]["privateSubnets"] = ["10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"]
    with pytest.raises(StackConfigError) as info:
        load("prod", raw)
    [issue, *_] = info.value.issues
    assert issue.full_key == "philosophy-infra:network.privateSubnets[0]" and "need up to 360" in issue.rule
    # An instance type whose interface limits are unknown cannot be checked, so it is refused.
    raw = raw_config("prod")
    raw["philosophy-infra:nodeGroups"]["general"]["instanceTypes"] = ["x9.huge"]
    with pytest.raises(StackConfigError) as info:
        load("prod", raw)
    assert any(i.full_key == "philosophy-infra:nodeGroups.general.instanceTypes" for i in info.value.issues)
