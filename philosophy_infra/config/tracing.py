"""Tracing (`philosophy-kubernetes:tracing`): where Jaeger keeps traces and for how long, and how many
OpenTelemetry Collectors receive them."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from philosophy_infra.config.base import Model


class TraceStorage(StrEnum):
    OPENSEARCH = "opensearch"
    """The AWS layer's OpenSearch domain: daily indices, deleted by an ISM policy after the retention."""
    BADGER = "badger"
    """Jaeger's embedded store on one volume: one Jaeger pod, no high availability. For disposable environments."""


class TracingConfig(Model):
    node_group: str = "general"
    """The AWS layer's node group the collectors and Jaeger run on."""
    storage: TraceStorage = TraceStorage.OPENSEARCH
    retention_days: int = Field(default=7, ge=1, le=90)
    """How long traces are kept: the ISM policy's age (OpenSearch), or Badger's time to live."""
    badger_volume_gib: int = Field(default=20, ge=1, le=16384)
    """Jaeger's volume when `storage` is `badger` (encrypted gp3, the default StorageClass)."""
    sample_ratio: float = Field(default=0.1, ge=0, le=1)
    """The share of new traces the service records (its SDKs sample); a sampled parent's children always are."""
    collector_replicas: int = Field(default=2, ge=1, le=20)
    """OpenTelemetry Collectors: more than one, so a rollout or a node's loss drops no spans."""
