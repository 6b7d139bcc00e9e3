"""The service's release objects, which Argo CD owns: the api Rollout, the websocket and worker Deployments,
their Services, autoscaling, disruption budgets, Istio routing, the canary's AnalysisTemplates and the service's
PodMonitors. Pure data from the typed config: `philosophy-infra render` writes them to `deploy/<stack>/`.

What they stand on is Pulumi's (philosophy_app.py): the namespace, the ServiceAccounts with their IRSA roles,
the `app-endpoints` and `rds-ca` ConfigMaps, the Secrets External Secrets writes, NetworkPolicies and mutual TLS.
They name those objects and never define them, so no object has two owners.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from philosophy_infra.config.workloads import CustomMetrics, WorkloadConfig, WorkloadsConfig
from philosophy_infra.pods import (
    RDS_CA_FILE,
    RDS_CA_MOUNT,
    SECRETS_AS_ENV,
    TMP_VOLUME,
    analysis_exemptions,
    hardened,
    pod_security_context,
)
from philosophy_infra.release.canary import analysis_templates, canary_strategy, destination_rules, virtual_service
from philosophy_infra.service import (
    API,
    APP_NAMESPACE,
    DATABASE_APP_USER,
    OTLP_ENDPOINT,
    WEBSOCKET,
    WORKER,
)

API_PORT, METRICS_PORT, WEBSOCKET_PORT = 3000, 9090, 3001
ENDPOINTS_CONFIG_MAP = "app-endpoints"
RDS_CA_CONFIG_MAP = "rds-ca"
SCRATCH_STORAGE_CLASS = "gp3-scratch"
# The Secrets External Secrets writes (philosophy_app.py): what each workload reads into its environment.
CACHE_CREDENTIALS, APP_SECRETS, LLM_CREDENTIALS = "cache-credentials", "app-secrets", "llm-credentials"
# The `neo4j` user's password (NEO4J_PASSWORD), for the workloads that use the graph.
GRAPH_CREDENTIALS = "graph-credentials"
# The seed's VPA bounds for the api container.
VPA_MIN, VPA_MAX = {"cpu": "100m", "memory": "128Mi"}, {"cpu": "2", "memory": "2Gi"}
NO_WORKER_HEALTH = (
    "the worker image exposes no health endpoint (the seed's); a probe that cannot see its work loop would "
    "check nothing or restart healthy pods: add probes with the endpoint"
)
RDS_CA_VOLUME = {"name": "rds-ca", "configMap": {"name": RDS_CA_CONFIG_MAP}}
RDS_CA_VOLUME_MOUNT = {"name": "rds-ca", "mountPath": RDS_CA_MOUNT, "readOnly": True}
PART_OF = "philosophy"
IMMUTABLE_TAGS = (
    "the image repositories' tags are immutable (the bootstrap's ECR repositories), so a node's cached copy is "
    "the image the tag names; Always would add a registry round trip to every pod start and fail them when ECR "
    "is unreachable"
)
TOLERATION_FIELDS = ("key", "operator", "value", "effect", "tolerationSeconds")


@dataclass(frozen=True, kw_only=True)
class ReleaseInputs:
    """Everything the release objects depend on: the Kubernetes layer's config, and the worker node group's
    placement from the AWS layer's config (the Kubernetes layer checks, at deploy time, that the AWS layer's
    outputs say the same)."""

    workloads: WorkloadsConfig
    trace_sample_ratio: float
    worker_node_selector: Mapping[str, str]
    worker_tolerations: Sequence[Mapping[str, str]]


def labels(app: str, version: str | None = None) -> dict[str, str]:
    found = {"app": app, "app.kubernetes.io/name": app, "app.kubernetes.io/part-of": PART_OF}
    if version is not None:
        # What the sidecar reports as the canonical revision: the canary's analysis selects the new version by it.
        found["app.kubernetes.io/version"] = version
    return found


def settings_env(inputs: ReleaseInputs, service_name: str) -> list[dict[str, str]]:
    """The service's settings (the seed's, and where its traces go), in each container's environment: a change
    is a new pod template, so pods restart with it."""
    s = inputs.workloads
    values = {
        "NODE_ENV": "production",
        "API_PORT": str(API_PORT),
        "LOG_LEVEL": s.log_level.value,
        "ENABLE_METRICS": "true",
        "ENABLE_TRACING": "true",
        # The OpenTelemetry SDK's own variables: the collectors in `tracing`, over OTLP; a sampled share of new
        # traces, and whatever an incoming request's parent decided.
        "OTEL_SERVICE_NAME": service_name,
        "OTEL_EXPORTER_OTLP_ENDPOINT": OTLP_ENDPOINT,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": f"{inputs.trace_sample_ratio:g}",
        # npm and Node write caches under HOME; the root filesystem is read-only, /tmp is not.
        "HOME": "/tmp",
        "NPM_CONFIG_CACHE": "/tmp/.npm",
        # The application user logs in with an IAM token its IRSA role signs (RDS IAM database authentication),
        # never a password; TLS verifies the server against the region's RDS CAs.
        "DB_USER": DATABASE_APP_USER,
        "DB_AUTH": "iam",
        "PGSSLMODE": "verify-full",
        "PGSSLROOTCERT": RDS_CA_FILE,
        "SEARCH_INDEX_PREFIX": "philosophy-",
    }
    return [{"name": k, "value": v} for k, v in values.items()]


def env_from(*secret_names: str) -> list[dict[str, Any]]:
    """Where things are (Pulumi's ConfigMap of endpoints), then the workload's Secrets."""
    return [{"configMapRef": {"name": ENDPOINTS_CONFIG_MAP}}, *({"secretRef": {"name": n}} for n in secret_names)]


def resources(w: WorkloadConfig) -> dict[str, Any]:
    return {
        "requests": {"cpu": w.requests.cpu, "memory": w.requests.memory},
        "limits": {"cpu": w.limits.cpu, "memory": w.limits.memory},
    }


def pod_template(
    app: str,
    container: Mapping[str, Any],
    *,
    version: str,
    volumes: Sequence[Mapping[str, Any]] = (),
    node_selector: Mapping[str, str] | None = None,
    tolerations: Sequence[Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    spread = [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app": app}},
        }
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]
    spec: dict[str, Any] = {
        # Pulumi's, annotated with the workload's IRSA role (or none); no API token is mounted.
        "serviceAccountName": app,
        "automountServiceAccountToken": False,
        "securityContext": pod_security_context(),
        "containers": [hardened(container)],
        "volumes": [TMP_VOLUME, *volumes],
        "topologySpreadConstraints": spread,
    }
    # In one order, whether they come from the AWS layer's stack file (render) or its outputs (a deploy).
    if node_selector is not None:
        spec["nodeSelector"] = dict(sorted(node_selector.items()))
    if tolerations is not None:
        spec["tolerations"] = [{k: t[k] for k in TOLERATION_FIELDS if k in t} for t in tolerations]
    return {"metadata": {"labels": labels(app, version)}, "spec": spec}


def metadata(name: str, *, exemptions: Mapping[str, str] | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"name": name, "namespace": APP_NAMESPACE, "labels": labels(name)}
    if exemptions:
        found["annotations"] = analysis_exemptions(exemptions)
    return found


def uploads_volume(size_gib: int) -> dict[str, Any]:
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
                    "storageClassName": SCRATCH_STORAGE_CLASS,
                    "resources": {"requests": {"storage": f"{size_gib}Gi"}},
                },
            }
        },
    }


def api_rollout(inputs: ReleaseInputs) -> dict[str, Any]:
    s = inputs.workloads
    container = {
        "name": "api",
        "image": s.image("api"),
        "imagePullPolicy": "IfNotPresent",  # the tags are immutable
        "ports": [
            {"name": "http", "containerPort": API_PORT},
            {"name": "metrics", "containerPort": METRICS_PORT},
        ],
        "env": settings_env(inputs, API),
        "envFrom": env_from(CACHE_CREDENTIALS, APP_SECRETS, GRAPH_CREDENTIALS),
        "resources": resources(s.api),
        # The seed's timings. The sidecar answers the kubelet's probes for the container (Istio rewrites them).
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
    }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": metadata(API, exemptions={"CKV_K8S_35": SECRETS_AS_ENV, "CKV_K8S_15": IMMUTABLE_TAGS}),
        # No `replicas`: the HPA owns the count (Argo CD would otherwise reset what it scaled to).
        "spec": {
            "revisionHistoryLimit": 5,
            # A canary whose pods are not available in 10 minutes (they never get ready) is aborted, not left
            # holding its surge pods: the probes allow 30 s, image pulls and volumes the rest.
            "progressDeadlineSeconds": 600,
            "progressDeadlineAbort": True,
            "selector": {"matchLabels": {"app": API}},
            "template": pod_template(
                API,
                container,
                version=s.image_tag,
                volumes=[uploads_volume(s.api.uploads_volume_gib), RDS_CA_VOLUME],
            ),
            "strategy": {"canary": canary_strategy(s.image_tag)},
        },
    }


def deployment(name: str, replicas: int, template: dict[str, Any], exemptions: Mapping[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(name, exemptions=exemptions),
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
            "template": template,
        },
    }


def websocket_deployment(inputs: ReleaseInputs) -> dict[str, Any]:
    s = inputs.workloads
    container = {
        "name": "websocket",
        "image": s.image("websocket"),
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "ws", "containerPort": WEBSOCKET_PORT}],
        # Stickiness is the mesh's (the websocket DestinationRule's cookie); the adapter shares rooms across pods.
        "env": [
            *settings_env(inputs, WEBSOCKET),
            {"name": "STICKY_SESSIONS", "value": "true"},
            {"name": "REDIS_ADAPTER", "value": "true"},
        ],
        "envFrom": env_from(CACHE_CREDENTIALS, APP_SECRETS),
        "resources": resources(s.websocket),
        # The seed has no probes here and no health path: the socket accepting is the signal.
        "livenessProbe": {"tcpSocket": {"port": WEBSOCKET_PORT}, "periodSeconds": 10},
        "readinessProbe": {"tcpSocket": {"port": WEBSOCKET_PORT}, "periodSeconds": 5},
    }
    template = pod_template(WEBSOCKET, container, version=s.image_tag)
    exemptions = {"CKV_K8S_35": SECRETS_AS_ENV, "CKV_K8S_15": IMMUTABLE_TAGS}
    return deployment(WEBSOCKET, s.websocket.replicas, template, exemptions)


def worker_deployment(inputs: ReleaseInputs) -> dict[str, Any]:
    s = inputs.workloads
    container = {
        "name": "worker",
        "image": s.image("claude-worker"),
        "imagePullPolicy": "IfNotPresent",
        "env": [
            *settings_env(inputs, WORKER),
            {"name": "WORKER_CONCURRENCY", "value": str(s.worker.concurrency)},
            {"name": "CLAUDE_RATE_LIMIT", "value": str(s.worker.rate_limit)},
        ],
        "envFrom": env_from(CACHE_CREDENTIALS, LLM_CREDENTIALS, GRAPH_CREDENTIALS),
        # Its Claude calls (claude_api_requests_total, claude_api_errors_total), scraped by Prometheus: the
        # worker, not the api, talks to the LLM API.
        "ports": [{"name": "metrics", "containerPort": METRICS_PORT}],
        "resources": resources(s.worker),
        "volumeMounts": [RDS_CA_VOLUME_MOUNT],
    }
    # The node group's own labels and taints (the seed's `workload: ai-processing` matches no node: label keys
    # are case-sensitive and the nodes carry `Workload`).
    template = pod_template(
        WORKER,
        container,
        version=s.image_tag,
        volumes=[RDS_CA_VOLUME],
        node_selector=inputs.worker_node_selector,
        tolerations=inputs.worker_tolerations,
    )
    exemptions = {
        "CKV_K8S_35": SECRETS_AS_ENV,
        "CKV_K8S_15": IMMUTABLE_TAGS,
        "CKV_K8S_8": NO_WORKER_HEALTH,
        "CKV_K8S_9": NO_WORKER_HEALTH,
    }
    return deployment(WORKER, s.worker.replicas, template, exemptions)


def service(name: str, ports: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    # Port names tell Istio the protocol (http-*, tcp-*): the websocket's upgrade is HTTP.
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(name),
        "spec": {"type": "ClusterIP", "selector": {"app": name}, "ports": [dict(p) for p in ports]},
    }


def disruption_budget(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(name),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": name}}},
    }


def container_resource(resource: str, container: str, utilization: int) -> dict[str, Any]:
    """The app container's use only: a pod's `Resource` average would include the Istio sidecar's."""
    return {
        "type": "ContainerResource",
        "containerResource": {
            "name": resource,
            "container": container,
            "target": {"type": "Utilization", "averageUtilization": utilization},
        },
    }


def hpa_metrics(custom: CustomMetrics) -> list[dict[str, Any]]:
    metrics = [container_resource("cpu", "api", 70), container_resource("memory", "api", 80)]
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


def api_autoscaling(inputs: ReleaseInputs) -> list[dict[str, Any]]:
    s = inputs.workloads
    rollout = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": API}
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(f"{API}-hpa"),
        "spec": {
            "scaleTargetRef": rollout,
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
        },
    }
    # Recommendations only ("Off"): the VPA never resizes or evicts pods the HPA is scaling on CPU/memory.
    vpa = {
        "apiVersion": "autoscaling.k8s.io/v1",
        "kind": "VerticalPodAutoscaler",
        "metadata": metadata(f"{API}-vpa"),
        "spec": {
            "targetRef": rollout,
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
    }
    return [hpa, vpa]


def pod_monitors() -> list[dict[str, Any]]:
    """What makes Prometheus scrape the service (the operator ignores `prometheus.io/*` annotations): each
    workload's `metrics` port, and the sidecars' Envoy statistics, where Istio's request metrics (which the
    canary's analysis reads) come from."""
    relabel_service = {"sourceLabels": ["__meta_kubernetes_pod_label_app"], "targetLabel": "service"}
    monitors = [
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PodMonitor",
            "metadata": metadata(app),
            "spec": {
                "selector": {"matchLabels": {"app": app}},
                # The alerts group by `service`: the pod's `app` label.
                "podMetricsEndpoints": [
                    {"port": "metrics", "path": "/metrics", "interval": "15s", "relabelings": [relabel_service]}
                ],
            },
        }
        for app in (API, WORKER)
    ]
    monitors.append(
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PodMonitor",
            "metadata": {
                "name": "istio-proxies",
                "namespace": APP_NAMESPACE,
                "labels": {"app.kubernetes.io/part-of": PART_OF},
            },
            "spec": {
                # Every pod with a sidecar (the injector labels it).
                "selector": {"matchExpressions": [{"key": "security.istio.io/tlsMode", "operator": "Exists"}]},
                "podMetricsEndpoints": [
                    {
                        "port": "http-envoy-prom",
                        "path": "/stats/prometheus",
                        "interval": "15s",
                        "relabelings": [relabel_service],
                    }
                ],
            },
        }
    )
    return monitors


def release_objects(inputs: ReleaseInputs) -> list[dict[str, Any]]:
    """Every object Argo CD syncs for the service, in a stable order."""
    objects = [
        *analysis_templates(),
        api_rollout(inputs),
        websocket_deployment(inputs),
        worker_deployment(inputs),
        service(
            API,
            [
                {"name": "http", "port": API_PORT, "targetPort": "http"},
                {"name": "http-metrics", "port": METRICS_PORT, "targetPort": "metrics"},
            ],
        ),
        service(WEBSOCKET, [{"name": "http-ws", "port": WEBSOCKET_PORT, "targetPort": "ws"}]),
        *api_autoscaling(inputs),
        *(disruption_budget(name) for name in (API, WEBSOCKET, WORKER)),
        virtual_service(API_PORT, WEBSOCKET_PORT),
        *destination_rules(),
        *pod_monitors(),
    ]
    return objects
