"""The AWS layer's config: everything `Pulumi.<stack>.yaml` says under `philosophy-infra:`, validated up front.

`load_aws_config()` is the layer's one entry point: `__main__.py` calls it once and hands plain values to the
components."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import Field

from philosophy_infra import regions, support_calendar
from philosophy_infra.config.addresses import address_issues
from philosophy_infra.config.alarms import AlarmsConfig
from philosophy_infra.config.alerting import AlertingConfig
from philosophy_infra.config.assets import AssetsConfig
from philosophy_infra.config.base import (
    AWS_NAMESPACE,
    REGION_KEY,
    ConfigIssue,
    DataProtection,
    LayerModel,
    parse_stack_config,
)
from philosophy_infra.config.cache import CacheConfig
from philosophy_infra.config.cluster import ClusterConfig, NodeGroupConfig
from philosophy_infra.config.database import DatabaseConfig
from philosophy_infra.config.edge import EdgeConfig
from philosophy_infra.config.neo4j import Neo4jConfig
from philosophy_infra.config.network import NetworkConfig
from philosophy_infra.config.placeholders import RunMode, check_placeholders, run_mode
from philosophy_infra.config.recovery import RecoveryConfig
from philosophy_infra.config.runner import DeployRunnerConfig
from philosophy_infra.config.search import SearchConfig
from philosophy_infra.naming import Naming

_SLUG = re.compile(r"^[a-z][a-z0-9-]{1,20}$")
_NODE_GROUP_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
NODE_GROUP_PREFIX_MAX = 63 - 26


class AwsStackConfig(LayerModel):
    """Everything one AWS-layer stack says, plus the AWS region it deploys to."""

    region: str
    environment: str
    owner: str = Field(min_length=1)
    cost_center: str | None = None
    data_protection: DataProtection = DataProtection.PROTECTED
    network: NetworkConfig
    assets: AssetsConfig = Field(default_factory=AssetsConfig)
    cluster: ClusterConfig
    node_groups: dict[str, NodeGroupConfig] = Field(min_length=1)
    database: DatabaseConfig
    disaster_recovery: RecoveryConfig
    cache: CacheConfig
    deploy_runner: DeployRunnerConfig
    alarms: AlarmsConfig = Field(default_factory=AlarmsConfig)
    alerting: AlertingConfig = Field(default_factory=AlertingConfig)
    search: SearchConfig
    edge: EdgeConfig = Field(default_factory=EdgeConfig)
    # An explicit alias: the camelCase generator would write `neo4J`.
    neo4j: Neo4jConfig = Field(default_factory=Neo4jConfig, alias="neo4j")

    def issues(self) -> Iterator[ConfigIssue]:
        if problem := regions.region_problem(self.region):
            yield ConfigIssue(REGION_KEY, self.region, problem)
            return
        if not _SLUG.fullmatch(self.environment):
            yield ConfigIssue(
                "environment",
                self.environment,
                "must be 2-21 lowercase letters, digits or dashes, starting with a letter",
            )
        network_issues = list(self.network.issues(self.region))
        yield from network_issues
        yield from self.assets.issues()
        yield from self.cluster.issues()
        for name, group in self.node_groups.items():
            if not _NODE_GROUP_NAME.fullmatch(name):
                yield ConfigIssue(
                    f"nodeGroups.{name}", name, "node group keys are 1-31 lowercase letters, digits or dashes"
                )
            elif len(prefix := f"{Naming(self.environment).prefix}-{name}-") > NODE_GROUP_PREFIX_MAX:
                yield ConfigIssue(
                    f"nodeGroups.{name}",
                    name,
                    f"the node group's name prefix {prefix!r} must be at most {NODE_GROUP_PREFIX_MAX} characters "
                    "(EKS allows 63, the provider appends 26): shorten the key or the environment",
                )
            yield from group.issues(f"nodeGroups.{name}")
        if not network_issues:
            yield from address_issues(self.node_groups, self.network.tier_subnets()["private"])
        yield from self.database.issues(self.protected, self.region)
        yield from self.disaster_recovery.issues(self.region)
        yield from self.disaster_recovery.lock_issues(self.protected)
        yield from self.cache.issues(self.protected)
        yield from self.deploy_runner.issues()
        yield from self.alarms.issues()
        yield from self.alerting.issues()
        yield from self.search.issues(len(self.network.availability_zones))
        yield from self.edge.issues()
        yield from self.neo4j.issues()

    @property
    def protected(self) -> bool:
        return self.data_protection is DataProtection.PROTECTED

    @classmethod
    def from_raw(cls, stack: str, raw: Mapping[str, Any]) -> AwsStackConfig:
        """Validate a stack's config map (full keys, values as Pulumi passes them) or raise StackConfigError."""
        return parse_stack_config(cls, namespace=AWS_NAMESPACE, stack=stack, raw=raw, region=True)


def load_aws_config(mode: RunMode | None = None) -> AwsStackConfig:
    """The running stack's config, as the Pulumi engine (or the offline plan) handed it to the program.

    Invalid values and, in a real update, placeholder values are refused before any resource exists."""
    raw = running_config()
    config = AwsStackConfig.from_raw(pulumi.get_stack(), raw)
    check_placeholders(pulumi.get_stack(), raw, (AWS_NAMESPACE,), mode or run_mode())
    # A warning, not a refusal: the stack still deploys, and the upgrade is a change of its own.
    for _, message in support_calendar.support_warnings(
        kubernetes_version=config.cluster.kubernetes_version,
        postgres_major=config.database.engine_version,
        on=support_calendar.today(),
    ):
        pulumi.log.warn(f"support: {AWS_NAMESPACE}:{message}")
    return config


def running_config() -> dict[str, Any]:
    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
