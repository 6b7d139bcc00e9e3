"""Tracing, replacing the seed's Jaeger v1 (end of life on 31 Dec 2025) and its agent DaemonSet: the service
exports OTLP to OpenTelemetry Collectors, which add the pods' Kubernetes attributes and send the spans to
Jaeger v2, whose query API Grafana reads. In the `tracing` namespace (Pod Security `restricted`).

- Storage `opensearch`: the AWS layer's domain, daily `jaeger-*` indices, requests signed with Jaeger's own IAM
  role (`sigv4auth`, IRSA): no password. The search setup Job maps that role to a role limited to `jaeger-*`
  and deletes indices past the retention (ISM). Jaeger 2.20.0 or newer: before it, SigV4-signed writes to
  Amazon OpenSearch fail (jaegertracing/jaeger#8760, fixed by #8768), so the chart's 2.19.0 is overridden.
- Storage `badger`: Jaeger's embedded store on one volume, spans deleted past the retention (its TTL). One
  pod, replaced rather than rolled (Recreate): a volume has one writer.
- The collectors' config replaces the chart's default (which also listens for Jaeger and Zipkin protocols and
  logs every span), so only OTLP is received.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.platform.helm import pinned_release
from components.kubernetes.platform.pod_security import chart_security_contexts, restricted_namespace_labels
from philosophy_infra.config.tracing import TraceStorage, TracingConfig
from philosophy_infra.service import JAEGER, MONITORING_NAMESPACE, TRACING_NAMESPACE

COLLECTOR_CHART = ("opentelemetry-collector", "0.170.0", "https://open-telemetry.github.io/opentelemetry-helm-charts")
JAEGER_CHART = ("jaeger", "4.11.1", "https://jaegertracing.github.io/helm-charts")
JAEGER_VERSION = "2.20.0"
JAEGER_REPLICAS = 2
COLLECTOR_IMAGE = "otel/opentelemetry-collector-k8s"
OTLP_GRPC, OTLP_HTTP, JAEGER_QUERY, HEALTH, TELEMETRY = 4317, 4318, 16686, 13133, 8888
# The pods' `app.kubernetes.io/name` labels, as the charts set them.
COLLECTOR_POD, JAEGER_POD = "opentelemetry-collector", "jaeger"
BADGER_MOUNT, BADGER_CLAIM = "/badger", "jaeger-badger"
TRACE_INDEX_PATTERN = "jaeger-*"
CLOSED_COLLECTOR_PORTS = ("jaeger-compact", "jaeger-thrift", "jaeger-grpc", "zipkin")


def jaeger_config(
    storage: TraceStorage,
    *,
    retention_days: int,
    region: str = "",
    search_endpoint: str = "",
    index_replicas: int = 0,
) -> dict[str, Any]:
    """Jaeger v2's own config (an OpenTelemetry Collector's): OTLP in, the storage backend, the query API. It
    replaces the binary's built-in config, so everything listens on all addresses (the defaults are localhost)."""
    retention = f"{retention_days * 24}h"
    extensions: dict[str, Any] = {
        # The chart's probes ask GET /status on 13133.
        "healthcheckv2": {"use_v2": True, "http": {"endpoint": f"0.0.0.0:{HEALTH}"}},
        "jaeger_query": {"storage": {"traces": "traces"}},
    }
    if storage is TraceStorage.BADGER:
        backend: dict[str, Any] = {
            "badger": {
                "directories": {"keys": f"{BADGER_MOUNT}/keys", "values": f"{BADGER_MOUNT}/values"},
                # The default keeps everything in memory and ignores the directories.
                "ephemeral": False,
                "ttl": {"spans": retention},
            }
        }
    else:
        extensions["sigv4auth"] = {"region": region, "service": "es"}
        indices = {"shards": 1, "replicas": index_replicas}
        backend = {
            "opensearch": {
                "server_urls": [f"https://{search_endpoint}"],
                # The health check calls an API Amazon OpenSearch Service does not serve (jaegertracing/jaeger#7212).
                "disable_health_check": True,
                "auth": {"authenticator": "sigv4auth"},
                "indices": {kind: indices for kind in ("spans", "services", "dependencies", "sampling")},
                # Reads look back as far as the indices are kept.
                "max_span_age": retention,
            }
        }
    extensions["jaeger_storage"] = {"backends": {"traces": backend}}
    return {
        "extensions": extensions,
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"0.0.0.0:{OTLP_GRPC}"},
                    "http": {"endpoint": f"0.0.0.0:{OTLP_HTTP}"},
                }
            }
        },
        "processors": {"batch": {}},
        "exporters": {"jaeger_storage_exporter": {"trace_storage": "traces"}},
        "service": {
            "extensions": list(extensions),
            "telemetry": {"metrics": {"readers": [telemetry_reader("0.0.0.0")]}},
            "pipelines": {
                "traces": {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["jaeger_storage_exporter"]}
            },
        },
    }


def telemetry_reader(host: str) -> dict[str, Any]:
    """The process's own metrics (spans received, refused, exported, failed) for Prometheus, on 8888."""
    return {"pull": {"exporter": {"prometheus": {"host": host, "port": TELEMETRY}}}}


def collector_config(jaeger_endpoint: str) -> dict[str, Any]:
    """The collectors' config (the chart's `alternateConfig`: not merged with its default)."""
    return {
        "extensions": {"health_check": {"endpoint": f"${{env:MY_POD_IP}}:{HEALTH}"}},
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"${{env:MY_POD_IP}}:{OTLP_GRPC}"},
                    "http": {"endpoint": f"${{env:MY_POD_IP}}:{OTLP_HTTP}"},
                }
            }
        },
        "processors": {
            # Refuses spans (the SDKs retry) before the pod runs out of memory.
            "memory_limiter": {"check_interval": "5s", "limit_percentage": 80, "spike_limit_percentage": 25},
            "batch": {},
        },
        # Plain gRPC inside the cluster; the NetworkPolicy admits only the collectors to Jaeger's OTLP port.
        "exporters": {"otlp_grpc/jaeger": {"endpoint": jaeger_endpoint, "tls": {"insecure": True}}},
        "service": {
            "extensions": ["health_check"],
            "telemetry": {"metrics": {"readers": [telemetry_reader("${env:MY_POD_IP}")]}},
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "k8s_attributes", "batch"],
                    "exporters": ["otlp_grpc/jaeger"],
                }
            },
        },
    }


def config_hash(config: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True, kw_only=True)
class TracingArgs:
    provider: k8s.Provider
    settings: TracingConfig
    kubernetes_version: pulumi.Input[str]
    placement: Mapping[str, Any]
    """`nodeSelector` and `tolerations` of the configured node group."""
    storage_class: str
    region: pulumi.Input[str]
    search_endpoint: pulumi.Input[str]
    search_index_replicas: pulumi.Input[int]
    jaeger_role_arn: pulumi.Input[str]
    after: Sequence[pulumi.Resource] = ()
    """The StorageClasses (Badger's volume)."""


class Tracing(pulumi.ComponentResource):
    collector: k8s.helm.v3.Release
    jaeger: k8s.helm.v3.Release

    def __init__(self, name: str, args: TracingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:Tracing", name, None, opts)
        s = args.settings
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": TRACING_NAMESPACE,
                "labels": restricted_namespace_labels(args.kubernetes_version),
            },
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.after)),
        )
        inside = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[namespace])
        self.jaeger = self._jaeger(name, args, inside)
        collector_values: dict[str, Any] = {
            **args.placement,
            "mode": "deployment",
            "fullnameOverride": "otel-collector",
            "image": {"repository": COLLECTOR_IMAGE},
            "replicaCount": s.collector_replicas,
            # Which pod, deployment and namespace sent a span: the k8s_attributes processor (a ClusterRole to
            # read pods, namespaces and replica sets).
            "presets": {"kubernetesAttributes": {"enabled": True}},
            "alternateConfig": collector_config(f"jaeger.{TRACING_NAMESPACE}.svc:{OTLP_GRPC}"),
            # Only OTLP: the chart's Jaeger and Zipkin ports stay closed.
            "ports": {
                **{port: {"enabled": False} for port in CLOSED_COLLECTOR_PORTS},
                # Declared on the pod, so the PodMonitor finds it.
                "metrics": {"enabled": True},
            },
            **chart_security_contexts(10001),
            "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
            "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
        }
        self.collector = pinned_release(
            f"{name}-collector",
            COLLECTOR_CHART,
            TRACING_NAMESPACE,
            collector_values,
            pulumi.ResourceOptions.merge(inside, pulumi.ResourceOptions(depends_on=[self.jaeger])),
            create_namespace=False,
        )
        self._network_policies(name, inside)
        after_releases = pulumi.ResourceOptions.merge(
            inside, pulumi.ResourceOptions(depends_on=[self.collector, self.jaeger, *args.after])
        )
        for pod in (COLLECTOR_POD, JAEGER_POD):
            k8s.apiextensions.CustomResource(
                f"{name}-{pod}-pod-monitor",
                api_version="monitoring.coreos.com/v1",
                kind="PodMonitor",
                metadata={"name": pod, "namespace": TRACING_NAMESPACE},
                spec={
                    "selector": {"matchLabels": {"app.kubernetes.io/name": pod}},
                    "podMetricsEndpoints": [{"portNumber": TELEMETRY, "path": "/metrics", "interval": "30s"}],
                },
                opts=after_releases,
            )
        self.register_outputs({})

    def _jaeger(self, name: str, args: TracingArgs, inside: pulumi.ResourceOptions) -> k8s.helm.v3.Release:
        s = args.settings
        badger = s.storage is TraceStorage.BADGER
        config = pulumi.Output.all(args.region, args.search_endpoint, args.search_index_replicas).apply(
            lambda v: jaeger_config(
                s.storage, retention_days=s.retention_days, region=v[0], search_endpoint=v[1], index_replicas=v[2]
            )
        )
        volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}]
        mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
        after: list[pulumi.Resource] = []
        if badger:
            # Bound only once Jaeger's pod is scheduled (WaitForFirstConsumer), which needs the claim first.
            claim_metadata: Any = {
                "name": BADGER_CLAIM,
                "namespace": TRACING_NAMESPACE,
                "annotations": {"pulumi.com/skipAwait": "true"},
            }
            claim_spec: Any = {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": args.storage_class,
                "resources": {"requests": {"storage": f"{s.badger_volume_gib}Gi"}},
            }
            claim = k8s.core.v1.PersistentVolumeClaim(
                f"{name}-badger",
                metadata=claim_metadata,
                spec=claim_spec,
                # Traces only, and disposable: Badger is for environments whose traces nobody keeps.
                opts=inside,
            )
            after.append(claim)
            volumes.append({"name": "badger", "persistentVolumeClaim": {"claimName": BADGER_CLAIM}})
            mounts.append({"name": "badger", "mountPath": BADGER_MOUNT})
        values: dict[str, Any] = {
            "fullnameOverride": JAEGER,
            "userconfig": config,
            "jaeger": {
                **args.placement,
                "image": {"tag": JAEGER_VERSION},
                # Badger: one writer of its volume, replaced (the chart's default strategy, Recreate). OpenSearch:
                # two, rolled, so a config change or a drained node never stops ingest and queries.
                "replicas": 1 if badger else JAEGER_REPLICAS,
                **({} if badger else {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}}}),
                "serviceAccount": {
                    "annotations": {"eks.amazonaws.com/role-arn": args.jaeger_role_arn} if not badger else {},
                    # Jaeger never calls the Kubernetes API; IRSA's web identity token is its own volume.
                    "automountServiceAccountToken": False,
                },
                # The chart puts no checksum of its config on the pods: this label rolls them when it changes.
                "podLabels": {"config-hash": config.apply(config_hash)},
                **chart_security_contexts(10001),
                "extraVolumes": volumes,
                "extraVolumeMounts": mounts,
                "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
            },
        }
        if not badger:
            # The chart has no disruption budget.
            budget: Any = {"minAvailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": "jaeger"}}}
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-jaeger-pdb",
                metadata={"name": JAEGER, "namespace": TRACING_NAMESPACE},
                spec=budget,
                opts=inside,
            )
        return pinned_release(
            f"{name}-jaeger",
            JAEGER_CHART,
            TRACING_NAMESPACE,
            values,
            pulumi.ResourceOptions.merge(inside, pulumi.ResourceOptions(depends_on=after)),
            create_namespace=False,
        )

    def _network_policies(self, name: str, opts: pulumi.ResourceOptions) -> None:
        """Ingress only: the collectors take OTLP from every namespace; Jaeger takes spans from the collectors
        and queries from Grafana; Prometheus scrapes both. Jaeger's egress (OpenSearch, STS) stays open."""
        collector = {"app.kubernetes.io/name": COLLECTOR_POD}
        jaeger = {"app.kubernetes.io/name": JAEGER_POD}
        from_monitoring = [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": MONITORING_NAMESPACE}}}
        ]
        telemetry = {"from": from_monitoring, "ports": [{"protocol": "TCP", "port": TELEMETRY}]}
        otlp = [{"protocol": "TCP", "port": OTLP_GRPC}, {"protocol": "TCP", "port": OTLP_HTTP}]
        policies: dict[str, dict[str, Any]] = {
            "default-deny-ingress": {"podSelector": {}, "policyTypes": ["Ingress"]},
            "collector": {
                "podSelector": {"matchLabels": collector},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"namespaceSelector": {}}], "ports": otlp}, telemetry],
            },
            "jaeger": {
                "podSelector": {"matchLabels": jaeger},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {"from": [{"podSelector": {"matchLabels": collector}}], "ports": [otlp[0]]},
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": MONITORING_NAMESPACE}
                                }
                            }
                        ],
                        "ports": [{"protocol": "TCP", "port": JAEGER_QUERY}],
                    },
                    telemetry,
                ],
            },
        }
        for policy, spec in policies.items():
            metadata: Any = {"name": policy, "namespace": TRACING_NAMESPACE}
            policy_spec: Any = spec
            k8s.networking.v1.NetworkPolicy(f"{name}-netpol-{policy}", metadata=metadata, spec=policy_spec, opts=opts)
