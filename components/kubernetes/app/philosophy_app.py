"""The philosophy service on the cluster: namespace, config, secrets, the seed's three workloads, autoscaling,
disruption budgets and network policies. The schema (pgvector, the application user, migrations) is the
DatabaseSchema component's, in a namespace of its own; the api starts after it.

Secrets reach the pods through External Secrets Operator: Pulumi writes only references (secret ARNs and
templates), the operator copies the values from Secrets Manager into Kubernetes Secrets, so no secret value
ever passes through Pulumi state, the plan or the rendered manifests.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.app.database_schema import RDS_CA_FILE, RDS_CA_MOUNT, rds_ca_bundle
from components.kubernetes.app.workload import (
    SECRETS_AS_ENV,
    ReplicasOwner,
    Workload,
    WorkloadArgs,
)
from components.kubernetes.platform.pod_security import DNS_EGRESS, restricted_namespace_labels
from components.kubernetes.platform.secrets_sync import external_secret, irsa_secret_store
from philosophy_infra.config.workloads import CustomMetrics, WorkloadsConfig
from philosophy_infra.service import (
    API,
    CACHE_PORT,
    DATABASE_APP_USER,
    DATABASE_PORT,
    OTLP_ENDPOINT,
    SECRET_READER,
    TRACING_NAMESPACE,
    WEBSOCKET,
    WORKER,
)
from philosophy_infra.service import APP_NAMESPACE as NAMESPACE

API_PORT, METRICS_PORT, WEBSOCKET_PORT = 3000, 9090, 3001
# The seed's VPA bounds for the api container.
VPA_MIN, VPA_MAX = {"cpu": "100m", "memory": "128Mi"}, {"cpu": "2", "memory": "2Gi"}
ISTIO_NAMESPACE = "istio-system"
MONITORING_NAMESPACE = "monitoring"
RDS_CA_VOLUME = {"name": "rds-ca", "configMap": {"name": "rds-ca"}}
NO_WORKER_HEALTH = (
    "the worker image exposes no health endpoint (the seed's); a probe that cannot see its work loop would "
    "check nothing or restart healthy pods: add probes with the endpoint"
)
RDS_CA_VOLUME_MOUNT = {"name": "rds-ca", "mountPath": RDS_CA_MOUNT, "readOnly": True}


@dataclass(frozen=True, kw_only=True)
class DataEndpoints:
    database_host: pulumi.Input[str]
    database_port: pulumi.Input[int]
    database_name: pulumi.Input[str]
    cache_host: pulumi.Input[str]
    cache_port: pulumi.Input[int]
    cache_secret_arn: pulumi.Input[str]
    network_cidrs: pulumi.Input[Sequence[str]]
    """Where the database and cache live (the database subnets): the only targets of 5432 and 6379."""
    search_endpoint: pulumi.Input[str] = ""
    """The OpenSearch domain's endpoint (no scheme)."""


@dataclass(frozen=True, kw_only=True)
class PhilosophyAppArgs:
    settings: WorkloadsConfig
    kubernetes_version: pulumi.Input[str]
    region: pulumi.Input[str]
    provider: k8s.Provider
    data: DataEndpoints
    llm_secret_arn: pulumi.Input[str]
    jwt_secret_arn: pulumi.Input[str]
    assets_bucket_name: pulumi.Input[str]
    role_arns: Mapping[str, pulumi.Input[str]]
    """The IRSA roles the AWS layer made, by service account (secrets-reader, api, worker)."""
    load_balancer_cidrs: pulumi.Input[Sequence[str]]
    """The subnets the load balancers live in (the public ones): the only sources the api and websocket admit
    besides the mesh and monitoring. Not the VPC: with the VPC CNI every pod's IP is a VPC address."""
    worker_node_labels: pulumi.Input[Mapping[str, str]]
    worker_tolerations: pulumi.Input[Sequence[Mapping[str, str]]]
    """Pod tolerations for the worker node group's taints, in the Kubernetes spelling (NoSchedule)."""
    uploads_storage_class: str
    database_schema: pulumi.Resource
    """The DatabaseSchema component: the api starts once its Job (extension, app user, migrations) succeeded."""
    """A StorageClass that deletes its volumes with their claims (per-pod scratch)."""
    trace_sample_ratio: float = 1.0
    """The share of new traces the service records (OTEL_TRACES_SAMPLER_ARG)."""
    after: Sequence[pulumi.Resource] = ()
    """Cluster services the app needs first: External Secrets Operator, the VPA CRD, the StorageClasses."""


class PhilosophyApp(pulumi.ComponentResource):
    namespace: str

    def __init__(self, name: str, args: PhilosophyAppArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:PhilosophyApp", name, None, opts)
        s = args.settings
        data = args.data

        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": NAMESPACE,
                "labels": {
                    "name": NAMESPACE,
                    "istio-injection": "enabled",
                    **restricted_namespace_labels(args.kubernetes_version),
                },
            },
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.after)),
        )
        in_namespace = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[namespace])

        config_map = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata={"name": "app-config", "namespace": NAMESPACE},
            data={
                # The seed's settings.
                "NODE_ENV": "production",
                "API_PORT": str(API_PORT),
                "LOG_LEVEL": s.log_level.value,
                "ENABLE_METRICS": "true",
                "ENABLE_TRACING": "true",
                # Where traces go (the OpenTelemetry SDK's own variables): the collectors in `tracing`, over OTLP;
                # a sampled share of new traces, and whatever an incoming request's parent decided.
                "OTEL_EXPORTER_OTLP_ENDPOINT": OTLP_ENDPOINT,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_METRICS_EXPORTER": "none",
                "OTEL_LOGS_EXPORTER": "none",
                "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                "OTEL_TRACES_SAMPLER_ARG": f"{args.trace_sample_ratio:g}",
                # npm and Node write caches under HOME; the root filesystem is read-only, /tmp is not.
                "HOME": "/tmp",
                "NPM_CONFIG_CACHE": "/tmp/.npm",
                # Where things are; none of it is secret.
                "DB_HOST": data.database_host,
                "DB_PORT": pulumi.Output.from_input(data.database_port).apply(str),
                "DB_NAME": data.database_name,
                # The application user logs in with an IAM token its IRSA role signs (RDS IAM database
                # authentication), never a password; TLS verifies the server against the region's RDS CAs.
                "DB_USER": DATABASE_APP_USER,
                "DB_AUTH": "iam",
                "PGSSLMODE": "verify-full",
                "PGSSLROOTCERT": RDS_CA_FILE,
                "DATABASE_URL": pulumi.Output.all(data.database_host, data.database_port, data.database_name).apply(
                    lambda hpn: (
                        f"postgresql://{DATABASE_APP_USER}@{hpn[0]}:{hpn[1]}/{hpn[2]}"
                        f"?sslmode=verify-full&sslrootcert={RDS_CA_FILE}"
                    )
                ),
                "REDIS_HOST": data.cache_host,
                "REDIS_PORT": pulumi.Output.from_input(data.cache_port).apply(str),
                "AWS_REGION": args.region,
                "ASSETS_BUCKET": args.assets_bucket_name,
                # The seed's ELASTICSEARCH_URL. Requests are signed with the api's IAM role (SigV4, service `es`);
                # the domain's role mapping lets it use `philosophy-*` indices, whose replicas its template sets.
                "SEARCH_URL": pulumi.Output.concat("https://", data.search_endpoint),
                "SEARCH_INDEX_PREFIX": "philosophy-",
            },
            opts=in_namespace,
        )
        rds_ca = k8s.core.v1.ConfigMap(
            f"{name}-rds-ca",
            metadata={"name": "rds-ca", "namespace": NAMESPACE},
            data={"ca.pem": pulumi.Output.from_input(args.region).apply(rds_ca_bundle)},
            opts=in_namespace,
        )
        secrets = self._external_secrets(name, args, namespace)
        after_config = [namespace, config_map, rds_ca, *secrets.values()]
        # Pods restart when the config they read changes (envFrom is read only at container start).
        config_checksum = config_map.data.apply(
            lambda d: hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]
        )

        image = s.image

        def env_from(*secret_names: str) -> list[dict[str, Any]]:
            return [{"configMapRef": {"name": "app-config"}}, *({"secretRef": {"name": n}} for n in secret_names)]

        resources = {
            key: {
                "requests": {"cpu": w.requests.cpu, "memory": w.requests.memory},
                "limits": {"cpu": w.limits.cpu, "memory": w.limits.memory},
            }
            for key, w in (("api", s.api), ("websocket", s.websocket), ("worker", s.worker))
        }

        api = Workload(
            "api",
            WorkloadArgs(
                name=API,
                namespace=NAMESPACE,
                replicas=s.api.replicas,
                replicas_owner=ReplicasOwner.AUTOSCALER,
                provider=args.provider,
                pod_annotations={
                    "prometheus.io/scrape": "true",
                    "prometheus.io/port": str(METRICS_PORT),
                    "prometheus.io/path": "/metrics",
                    "checksum/config": config_checksum,
                },
                container={
                    "name": "api",
                    "image": image("api"),
                    "imagePullPolicy": "Always",
                    "ports": [
                        {"name": "http", "containerPort": API_PORT},
                        {"name": "metrics", "containerPort": METRICS_PORT},
                    ],
                    "env": [{"name": "OTEL_SERVICE_NAME", "value": API}],
                    "envFrom": env_from("cache-credentials", "app-secrets"),
                    "resources": resources["api"],
                    # The seed's timings.
                    "livenessProbe": {
                        "httpGet": {"path": "/health/live", "port": API_PORT},
                        "initialDelaySeconds": 30,
                        "periodSeconds": 10,
                        "timeoutSeconds": 5,
                        "failureThreshold": 3,
                    },
                    "readinessProbe": {
                        "httpGet": {"path": "/health/ready", "port": API_PORT},
                        "initialDelaySeconds": 20,
                        "periodSeconds": 5,
                        "timeoutSeconds": 3,
                        "successThreshold": 1,
                        "failureThreshold": 3,
                    },
                    "volumeMounts": [{"name": "uploads", "mountPath": "/app/uploads"}, RDS_CA_VOLUME_MOUNT],
                },
                volumes=[uploads_volume(args.uploads_storage_class, s.api.uploads_volume_gib), RDS_CA_VOLUME],
                service_ports=[
                    {"name": "http", "port": API_PORT, "targetPort": "http"},
                    {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics"},
                ],
                role_arn=args.role_arns[API],
                # The schema Job first: the extension, the application user and the migrations of this release.
                depends_on=[*after_config, args.database_schema],
                analysis_exemptions={"CKV_K8S_35": SECRETS_AS_ENV},
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

        Workload(
            "websocket",
            WorkloadArgs(
                name=WEBSOCKET,
                namespace=NAMESPACE,
                replicas=s.websocket.replicas,
                provider=args.provider,
                container={
                    "name": "websocket",
                    "image": image("websocket"),
                    "imagePullPolicy": "Always",
                    "ports": [{"name": "ws", "containerPort": WEBSOCKET_PORT}],
                    "env": [
                        {"name": "STICKY_SESSIONS", "value": "true"},
                        {"name": "REDIS_ADAPTER", "value": "true"},
                        {"name": "OTEL_SERVICE_NAME", "value": WEBSOCKET},
                    ],
                    "envFrom": env_from("cache-credentials", "app-secrets"),
                    "resources": resources["websocket"],
                    # The seed has no probes here and no health path: the socket accepting is the signal.
                    "livenessProbe": {"tcpSocket": {"port": WEBSOCKET_PORT}, "periodSeconds": 10},
                    "readinessProbe": {"tcpSocket": {"port": WEBSOCKET_PORT}, "periodSeconds": 5},
                },
                service_ports=[{"name": "ws", "port": WEBSOCKET_PORT, "targetPort": "ws"}],
                pod_annotations={"checksum/config": config_checksum},
                # Sticky sessions: a client's reconnects land on the pod that holds its socket state.
                service_session_affinity=True,
                depends_on=after_config,
                analysis_exemptions={"CKV_K8S_35": SECRETS_AS_ENV},
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

        Workload(
            "worker",
            WorkloadArgs(
                name=WORKER,
                namespace=NAMESPACE,
                replicas=s.worker.replicas,
                provider=args.provider,
                container={
                    "name": "worker",
                    "image": image("claude-worker"),
                    "imagePullPolicy": "Always",
                    "env": [
                        {"name": "WORKER_CONCURRENCY", "value": str(s.worker.concurrency)},
                        {"name": "CLAUDE_RATE_LIMIT", "value": str(s.worker.rate_limit)},
                        {"name": "CLAUDE_API_KEY_SECRET_ARN", "value": args.llm_secret_arn},
                        {"name": "OTEL_SERVICE_NAME", "value": WORKER},
                    ],
                    "envFrom": env_from("cache-credentials", "llm-credentials"),
                    # Its Claude calls (claude_api_requests_total, claude_api_errors_total), scraped by
                    # Prometheus: the worker, not the api, talks to the LLM API.
                    "ports": [{"name": "metrics", "containerPort": METRICS_PORT}],
                    "resources": resources["worker"],
                    "volumeMounts": [RDS_CA_VOLUME_MOUNT],
                },
                volumes=[RDS_CA_VOLUME],
                # The node group's own labels (the seed's `workload: ai-processing` matches no node: label
                # keys are case-sensitive and the nodes carry `Workload`).
                pod_annotations={"checksum/config": config_checksum},
                node_selector=args.worker_node_labels,
                tolerations=args.worker_tolerations,
                role_arn=args.role_arns[WORKER],
                depends_on=after_config,
                analysis_exemptions={
                    "CKV_K8S_35": SECRETS_AS_ENV,
                    "CKV_K8S_8": NO_WORKER_HEALTH,
                    "CKV_K8S_9": NO_WORKER_HEALTH,
                },
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

        self._autoscaling(name, args, api, in_namespace)
        self._network_policies(name, args, in_namespace)
        self.namespace = NAMESPACE
        self.register_outputs({"namespace": NAMESPACE})

    def _external_secrets(
        self, name: str, args: PhilosophyAppArgs, namespace: k8s.core.v1.Namespace
    ) -> dict[str, k8s.apiextensions.CustomResource]:
        data = args.data
        opts = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[namespace])
        # Only this service's secrets: the reader account's role reads exactly these.
        store = irsa_secret_store(
            name,
            namespace=NAMESPACE,
            account=SECRET_READER,
            role_arn=args.role_arns[SECRET_READER],
            region=args.region,
            opts=opts,
        )
        redis_url = pulumi.Output.all(data.cache_host, data.cache_port).apply(
            lambda hp: "rediss://:{{ .token | urlquery }}" + f"@{hp[0]}:{hp[1]}"
        )
        specs: dict[str, tuple[list[dict[str, Any]], dict[str, Any] | None]] = {
            "cache-credentials": (
                [{"secretKey": "token", "remoteRef": {"key": data.cache_secret_arn}}],
                {"REDIS_URL": redis_url, "REDIS_AUTH_TOKEN": "{{ .token }}"},
            ),
            "app-secrets": ([{"secretKey": "JWT_SECRET", "remoteRef": {"key": args.jwt_secret_arn}}], None),
            "llm-credentials": ([{"secretKey": "CLAUDE_API_KEY", "remoteRef": {"key": args.llm_secret_arn}}], None),
        }
        return {
            secret_name: external_secret(
                f"{name}-{secret_name}",
                name=secret_name,
                namespace=NAMESPACE,
                data=remote,
                template=template,
                store=store,
                opts=pulumi.ResourceOptions(parent=self, provider=args.provider),
            )
            for secret_name, (remote, template) in specs.items()
        }

    def _autoscaling(self, name: str, args: PhilosophyAppArgs, api: Workload, opts: pulumi.ResourceOptions) -> None:
        s = args.settings
        after_api = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[api.deployment]))
        hpa_metadata: Any = {"name": f"{API}-hpa", "namespace": NAMESPACE}
        hpa_spec: Any = {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": API},
            "minReplicas": s.api.min_replicas,
            "maxReplicas": s.api.max_replicas,
            "metrics": hpa_metrics(s.custom_metrics),
            # The seed's behaviour: scale up fast, scale down slowly.
            "behavior": {
                "scaleDown": {
                    "stabilizationWindowSeconds": 300,
                    "policies": [
                        {"type": "Percent", "value": 10, "periodSeconds": 60},
                        {"type": "Pods", "value": 2, "periodSeconds": 60},
                    ],
                    "selectPolicy": "Min",
                },
                "scaleUp": {
                    "stabilizationWindowSeconds": 60,
                    "policies": [
                        {"type": "Percent", "value": 100, "periodSeconds": 30},
                        {"type": "Pods", "value": 5, "periodSeconds": 30},
                    ],
                    "selectPolicy": "Max",
                },
            },
        }
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-api-hpa", metadata=hpa_metadata, spec=hpa_spec, opts=after_api
        )
        # Recommendations only ("Off"): the VPA never resizes or evicts pods the HPA is scaling on CPU/memory.
        k8s.apiextensions.CustomResource(
            f"{name}-api-vpa",
            api_version="autoscaling.k8s.io/v1",
            kind="VerticalPodAutoscaler",
            metadata={"name": f"{API}-vpa", "namespace": NAMESPACE},
            spec={
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": API},
                "updatePolicy": {"updateMode": "Off"},
                "resourcePolicy": {
                    "containerPolicies": [
                        {
                            "containerName": "api",
                            "minAllowed": VPA_MIN,
                            "maxAllowed": VPA_MAX,
                            "controlledResources": ["cpu", "memory"],
                        }
                    ]
                },
            },
            opts=after_api,
        )

    def _network_policies(self, name: str, args: PhilosophyAppArgs, opts: pulumi.ResourceOptions) -> None:
        data_stores = pulumi.Output.from_input(args.data.network_cidrs).apply(
            lambda cidrs: [{"ipBlock": {"cidr": c}} for c in cidrs]
        )
        database = {"to": data_stores, "ports": [{"protocol": "TCP", "port": DATABASE_PORT}]}
        cache = {"to": data_stores, "ports": [{"protocol": "TCP", "port": CACHE_PORT}]}
        # AWS APIs (STS for IRSA, S3, Secrets Manager) and the LLM API are HTTPS on the internet or via NAT.
        https = {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 443}]}
        from_load_balancers = pulumi.Output.from_input(args.load_balancer_cidrs).apply(
            lambda cidrs: [{"ipBlock": {"cidr": c}} for c in cidrs]
        )
        from_monitoring = [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": MONITORING_NAMESPACE}}}
        ]
        policies: dict[str, dict[str, Any]] = {
            "default-deny": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
            "allow-dns": {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    DNS_EGRESS,
                ],
            },
            # Spans, to the OpenTelemetry Collectors.
            "allow-otlp": {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": TRACING_NAMESPACE}
                                },
                                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "opentelemetry-collector"}},
                            }
                        ],
                        "ports": [{"protocol": "TCP", "port": 4317}, {"protocol": "TCP", "port": 4318}],
                    }
                ],
            },
            # The Istio sidecars: xDS and certificates from istiod, merged metrics scraped by Prometheus.
            "allow-mesh": {
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    {
                        "from": from_monitoring,
                        "ports": [{"protocol": "TCP", "port": 15020}, {"protocol": "TCP", "port": 15090}],
                    }
                ],
                "egress": [
                    {
                        "to": [
                            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ISTIO_NAMESPACE}}}
                        ],
                        "ports": [{"protocol": "TCP", "port": 15012}],
                    }
                ],
            },
            API: {
                "podSelector": {"matchLabels": {"app": API}},
                "policyTypes": ["Ingress", "Egress"],
                # Only the load balancers' subnets: a pod of another namespace (a VPC address too) is refused.
                "ingress": [
                    {"from": from_load_balancers, "ports": [{"protocol": "TCP", "port": API_PORT}]},
                    {"from": from_monitoring, "ports": [{"protocol": "TCP", "port": METRICS_PORT}]},
                ],
                "egress": [database, cache, https],
            },
            WEBSOCKET: {
                "podSelector": {"matchLabels": {"app": WEBSOCKET}},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": from_load_balancers, "ports": [{"protocol": "TCP", "port": WEBSOCKET_PORT}]}],
                "egress": [cache],
            },
            WORKER: {
                "podSelector": {"matchLabels": {"app": WORKER}},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": from_monitoring, "ports": [{"protocol": "TCP", "port": METRICS_PORT}]}],
                "egress": [database, cache, https],
            },
        }
        for policy, spec in policies.items():
            metadata: Any = {"name": policy, "namespace": NAMESPACE}
            policy_spec: Any = spec
            k8s.networking.v1.NetworkPolicy(f"{name}-netpol-{policy}", metadata=metadata, spec=policy_spec, opts=opts)


def uploads_volume(storage_class: str, size_gib: int) -> dict[str, Any]:
    """A PersistentVolumeClaim per pod, made from the encrypted gp3 StorageClass with the pod.

    One shared claim cannot work: gp3 (EBS) volumes attach to a single node (ReadWriteOnce), and the api's
    replicas spread across nodes and zones. Uploads are staged here and kept in the assets bucket."""
    return {
        "name": "uploads",
        "ephemeral": {
            "volumeClaimTemplate": {
                "metadata": {"labels": {"app": API}},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": storage_class,
                    "resources": {"requests": {"storage": f"{size_gib}Gi"}},
                },
            }
        },
    }


def hpa_metrics(custom: CustomMetrics) -> list[dict[str, Any]]:
    metrics: list[dict[str, Any]] = [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}},
        {
            "type": "Resource",
            "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 80}},
        },
    ]
    if custom is CustomMetrics.ADAPTER:
        metrics += [
            {
                "type": "Pods",
                "pods": {
                    "metric": {"name": "http_requests_per_second"},
                    "target": {"type": "AverageValue", "averageValue": "1000"},
                },
            },
            {
                "type": "External",
                "external": {
                    "metric": {"name": "queue_depth", "selector": {"matchLabels": {"queue_name": "ai-generation"}}},
                    "target": {"type": "Value", "value": "100"},
                },
            },
        ]
    return metrics
