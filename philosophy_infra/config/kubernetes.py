"""The Kubernetes layer's config: what `kubernetes/Pulumi.<stack>.yaml` says under `philosophy-kubernetes:`.

Only what this layer alone decides lives here (the service's images, replicas, resources; the cluster
autoscaler's behaviour). Everything the
AWS layer decides (cluster, endpoints, secret ARNs, IRSA roles, node groups, data protection) arrives as that
layer's stack outputs, through one StackReference, so nothing is configured twice.
`load_kubernetes_config()` is the layer's one entry point."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import pulumi
from pydantic import Field

from philosophy_infra.config.autoscaler import AutoscalerConfig
from philosophy_infra.config.aws import running_config
from philosophy_infra.config.base import KUBERNETES_NAMESPACE, ConfigIssue, LayerModel, Model, parse_stack_config
from philosophy_infra.config.delivery import DeliveryConfig
from philosophy_infra.config.monitoring import MonitoringConfig
from philosophy_infra.config.neo4j import Neo4jServersConfig
from philosophy_infra.config.placeholders import RunMode, check_placeholders, run_mode
from philosophy_infra.config.tracing import TracingConfig
from philosophy_infra.config.workloads import WorkloadsConfig

# Pulumi's rules for organization and project names (a DIY backend's organization is literally `organization`).
_ORGANIZATION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_PROJECT = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


class AwsLayerRef(Model):
    """Where the AWS layer's stack of the same name lives: `<organization>/<project>/<this stack's name>`."""

    organization: str = "organization"
    project: str = "philosophy-infra"

    def stack_name(self, stack: str) -> str:
        return f"{self.organization}/{self.project}/{stack}"

    def issues(self) -> Iterator[ConfigIssue]:
        if not _ORGANIZATION.fullmatch(self.organization):
            yield ConfigIssue(
                "awsLayer.organization",
                self.organization,
                "must be a Pulumi organization name (letters, digits, '_', '.', '-'); `organization` for an S3 backend",
            )
        if not _PROJECT.fullmatch(self.project):
            yield ConfigIssue(
                "awsLayer.project", self.project, "must be a Pulumi project name (letters, digits, '_', '.', '-')"
            )


class KubernetesStackConfig(LayerModel):
    aws_layer: AwsLayerRef = Field(default_factory=AwsLayerRef)
    workloads: WorkloadsConfig
    cluster_autoscaler: AutoscalerConfig = Field(default_factory=AutoscalerConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    tracing: TracingConfig = Field(default_factory=TracingConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    # `neo4jServers`, not `neo4j`: that is the AWS layer's key (the edition, the backups), and no key is in both.
    neo4j: Neo4jServersConfig = Field(default_factory=Neo4jServersConfig, alias="neo4jServers")

    def issues(self) -> Iterator[ConfigIssue]:
        yield from self.aws_layer.issues()
        yield from self.workloads.issues()
        yield from self.cluster_autoscaler.issues()
        yield from self.monitoring.issues()
        yield from self.delivery.issues()
        yield from self.neo4j.issues()

    @classmethod
    def from_raw(cls, stack: str, raw: Mapping[str, Any]) -> KubernetesStackConfig:
        return parse_stack_config(cls, namespace=KUBERNETES_NAMESPACE, stack=stack, raw=raw, region=False)


def load_kubernetes_config(mode: RunMode | None = None) -> KubernetesStackConfig:
    """The running stack's config, validated; placeholders refused in a real update."""
    raw = running_config()
    config = KubernetesStackConfig.from_raw(pulumi.get_stack(), raw)
    check_placeholders(pulumi.get_stack(), raw, (KUBERNETES_NAMESPACE,), mode or run_mode())
    return config
