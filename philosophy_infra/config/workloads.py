"""The Kubernetes layer's `workloads` section: the service's images, replicas and resources."""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

from pydantic import Field

from philosophy_infra import quantity
from philosophy_infra.config.base import ConfigIssue, Model


class CustomMetrics(StrEnum):
    """The api HPA's metrics beyond CPU and memory (requests per second, queue depth)."""

    OFF = "off"  # until a metrics adapter serves them, an HPA that asks for them reports errors
    ADAPTER = "adapter"  # a Prometheus (or KEDA) adapter serves custom.metrics and external.metrics


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARN = "warn"
    ERROR = "error"


_IMAGE_REGISTRY = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d+)?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*$")
_NODE_GROUP_KEY = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
IMAGES = ("api", "websocket", "claude-worker")


class Resources(Model):
    cpu: str
    memory: str


class WorkloadConfig(Model):
    requests: Resources
    limits: Resources

    def issues(self, key: str) -> Iterator[ConfigIssue]:
        parsed: dict[tuple[str, str], Any] = {}
        for kind, resources in (("requests", self.requests), ("limits", self.limits)):
            for resource in ("cpu", "memory"):
                text = getattr(resources, resource)
                try:
                    parsed[kind, resource] = quantity.parse(text)
                except ValueError as exc:
                    yield ConfigIssue(f"{key}.{kind}.{resource}", text, str(exc))
        for resource in ("cpu", "memory"):
            both = ("requests", resource) in parsed and ("limits", resource) in parsed
            if both and parsed["requests", resource] > parsed["limits", resource]:
                yield ConfigIssue(
                    f"{key}.requests.{resource}",
                    getattr(self.requests, resource),
                    f"must not exceed limits.{resource} ({getattr(self.limits, resource)})",
                )


class FixedWorkloadConfig(WorkloadConfig):
    replicas: int = Field(ge=1, le=200)


class ApiConfig(WorkloadConfig):
    """The api's count is its HPA's, between these bounds: the Rollout has none (Argo CD would reset it)."""

    min_replicas: int = Field(default=3, ge=1, le=200)
    max_replicas: int = Field(default=20, ge=1, le=200)
    uploads_volume_gib: int = Field(default=20, ge=1, le=16384)

    def issues(self, key: str) -> Iterator[ConfigIssue]:
        yield from super().issues(key)
        if self.min_replicas > self.max_replicas:
            yield ConfigIssue(
                f"{key}.minReplicas",
                {"minReplicas": self.min_replicas, "maxReplicas": self.max_replicas},
                "minReplicas <= maxReplicas must hold",
            )


class WorkerConfig(FixedWorkloadConfig):
    node_group: str
    """The node group (a key of the AWS layer's nodeGroups) the workers run on: they select its labels and
    tolerate its taints, which reach this layer as the AWS layer's `nodeGroups` output."""
    concurrency: int = Field(default=3, ge=1, le=100)
    rate_limit: int = Field(default=50, ge=1)


class WorkloadsConfig(Model):
    image_registry: str
    """Where the service's images live, e.g. 111122223333.dkr.ecr.eu-west-1.amazonaws.com/philosophy."""
    image_tag: str
    image_digests: dict[str, str] = Field(default_factory=dict)
    """By image (api, websocket, claude-worker): `sha256:<hex>`. An image with a digest runs exactly those bytes
    (`<registry>/<image>:<tag>@<digest>`); the tag stays for people."""
    log_level: LogLevel = LogLevel.INFO
    custom_metrics: CustomMetrics = CustomMetrics.OFF
    api: ApiConfig
    websocket: FixedWorkloadConfig
    worker: WorkerConfig

    def image(self, name: str) -> str:
        """The reference a pod runs: the pinned tag, and the digest when the stack gives one."""
        digest = self.image_digests.get(name)
        return f"{self.image_registry}/{name}:{self.image_tag}" + (f"@{digest}" if digest else "")

    def issues(self) -> Iterator[ConfigIssue]:
        if not _IMAGE_REGISTRY.fullmatch(self.image_registry):
            yield ConfigIssue(
                "workloads.imageRegistry",
                self.image_registry,
                "must be a registry host and path without a tag, e.g. 111122223333.dkr.ecr.eu-west-1.amazonaws.com/app",
            )
        if self.image_tag == "latest" or not _IMAGE_TAG.fullmatch(self.image_tag):
            yield ConfigIssue(
                "workloads.imageTag",
                self.image_tag,
                "must be a pinned image tag (letters, digits, '.', '_', '-'; never 'latest')",
            )
        elif not _LABEL_VALUE.fullmatch(self.image_tag):
            yield ConfigIssue(
                "workloads.imageTag",
                self.image_tag,
                "must also be a label value (at most 63 characters, ending in a letter or digit): it labels the "
                "pods' version, by which the canary's analysis tells the new release from the old",
            )
        for image, digest in self.image_digests.items():
            if image not in IMAGES:
                yield ConfigIssue(f"workloads.imageDigests.{image}", image, f"not an image: {', '.join(IMAGES)}")
            elif not _DIGEST.fullmatch(digest):
                yield ConfigIssue(
                    f"workloads.imageDigests.{image}", digest, "must be sha256: and 64 lowercase hex digits"
                )
        yield from self.api.issues("workloads.api")
        yield from self.websocket.issues("workloads.websocket")
        yield from self.worker.issues("workloads.worker")
        if not _NODE_GROUP_KEY.fullmatch(self.worker.node_group):
            yield ConfigIssue(
                "workloads.worker.nodeGroup",
                self.worker.node_group,
                "must be a key of the AWS layer's nodeGroups (1-31 lowercase letters, digits or dashes)",
            )
