"""The exporters that give Prometheus what the alerts and dashboards need from outside the cluster, each scraped
through its chart's ServiceMonitor, in `monitoring`:

- redis_exporter against the cache, over TLS with its AUTH token (synced from Secrets Manager): the length of
  the AI queue (`redis_key_size{key="ai-generation"}`) for HighQueueDepth (cluster mode: the key is read from
  the shard that holds it). Its INFO metrics come from whichever node the configuration endpoint answers with;
  the cache's per-node metrics are CloudWatch's, through YACE.
- postgres_exporter against RDS as the monitoring user (`pg_monitor`), its password synced from Secrets Manager,
  verifying the server (`verify-full`, the region's RDS CAs): connections against `max_connections` for
  DatabaseConnectionPoolExhausted, and the statistics views.
- YACE: the CloudWatch metrics of the database, the cache and the search domain, found by the stack's tags
  (`Service`, `Environment`), with its own IRSA role (read metrics, find resources by tag, nothing else).
Each secret reader has its own service account, role and SecretStore, which reads only that reader's secrets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.kubernetes.app.database_schema import rds_ca_bundle
from components.kubernetes.platform.helm import pinned_release
from components.kubernetes.platform.pod_security import chart_security_contexts
from components.kubernetes.platform.secrets_sync import external_secret, irsa_secret_store
from philosophy_infra.naming import SERVICE
from philosophy_infra.pods import RDS_CA_FILE, RDS_CA_MOUNT
from philosophy_infra.service import CACHE_SECRET_READER, CLOUDWATCH_EXPORTER, DATABASE_MONITOR_READER

REDIS_EXPORTER_CHART = ("prometheus-redis-exporter", "6.29.0", "https://prometheus-community.github.io/helm-charts")
POSTGRES_EXPORTER_CHART = (
    "prometheus-postgres-exporter",
    "8.2.0",
    "https://prometheus-community.github.io/helm-charts",
)
YACE_CHART = (
    "prometheus-yet-another-cloudwatch-exporter",
    "0.47.0",
    "https://prometheus-community.github.io/helm-charts",
)
CACHE_AUTH_SECRET, DATABASE_MONITOR_SECRET = "cache-auth", "database-monitor"
AI_QUEUE = "ai-generation"

# What YACE reads, per CloudWatch namespace: the signals of the data stores' dashboard (and of the CloudWatch
# alarms, seen next to the cluster's own metrics). CloudWatch bills per metric requested: keep this short.
CLOUDWATCH_METRICS: dict[str, list[tuple[str, str]]] = {
    "AWS/RDS": [
        ("CPUUtilization", "Average"),
        ("FreeableMemory", "Minimum"),
        ("FreeStorageSpace", "Minimum"),
        ("DatabaseConnections", "Maximum"),
        ("ReadLatency", "Average"),
        ("WriteLatency", "Average"),
    ],
    "AWS/ElastiCache": [
        ("EngineCPUUtilization", "Maximum"),
        ("DatabaseMemoryUsagePercentage", "Maximum"),
        ("CurrConnections", "Maximum"),
        ("Evictions", "Sum"),
        ("ReplicationLag", "Maximum"),
    ],
    "AWS/ES": [
        ("ClusterStatus.red", "Maximum"),
        ("ClusterStatus.yellow", "Maximum"),
        ("FreeStorageSpace", "Minimum"),
        ("CPUUtilization", "Maximum"),
        ("JVMMemoryPressure", "Maximum"),
    ],
}


def yace_config(region: str, environment: str) -> str:
    """YACE's discovery: every resource of these namespaces tagged as this environment of the service."""
    search_tags = [{"key": "Service", "value": f"^{SERVICE}$"}, {"key": "Environment", "value": f"^{environment}$"}]
    config = {
        "apiVersion": "v1alpha1",
        "sts-region": region,
        "discovery": {
            "exportedTagsOnMetrics": {namespace: ["Environment"] for namespace in CLOUDWATCH_METRICS},
            "jobs": [
                {
                    "type": namespace,
                    "regions": [region],
                    "searchTags": search_tags,
                    "metrics": [
                        {"name": metric, "statistics": [statistic], "period": 300, "length": 300}
                        for metric, statistic in metrics
                    ],
                }
                for namespace, metrics in CLOUDWATCH_METRICS.items()
            ],
        },
    }
    # The chart passes `config` through Helm's `tpl`: nothing here may look like a template.
    return yaml.safe_dump(config, sort_keys=False)


@dataclass(frozen=True, kw_only=True)
class ExportersArgs:
    provider: k8s.Provider
    namespace: str
    placement: Mapping[str, Any]
    """`nodeSelector` and `tolerations` of the monitoring node group."""
    region: pulumi.Input[str]
    environment: str
    """The AWS layer's `Environment` tag, which YACE searches for."""
    cache_address: pulumi.Input[str]
    """`rediss://<the cache's configuration endpoint>:<port>`."""
    cache_secret_arn: pulumi.Input[str]
    cache_reader_role_arn: pulumi.Input[str]
    database_host: pulumi.Input[str]
    database_port: pulumi.Input[int]
    database_name: pulumi.Input[str]
    database_monitor_secret_arn: pulumi.Input[str]
    database_monitor_reader_role_arn: pulumi.Input[str]
    cloudwatch_role_arn: pulumi.Input[str]
    after: Sequence[pulumi.Resource] = ()
    """The namespace, External Secrets (SecretStores) and kube-prometheus-stack (ServiceMonitor's CRD)."""


class Exporters(pulumi.ComponentResource):
    releases: list[k8s.helm.v3.Release]

    def __init__(self, name: str, args: ExportersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:Exporters", name, None, opts)
        self.releases = [
            self._redis_exporter(name, args),
            self._postgres_exporter(name, args),
            self._cloudwatch_exporter(name, args),
        ]
        self.register_outputs({})

    def _synced_secret(
        self, name: str, args: ExportersArgs, *, reader: str, role_arn: pulumi.Input[str], secret: str, data: Any
    ) -> k8s.apiextensions.CustomResource:
        opts = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.after))
        store = irsa_secret_store(
            f"{name}-{reader}",
            namespace=args.namespace,
            account=reader,
            role_arn=role_arn,
            region=args.region,
            opts=opts,
            # One store per reader account in this namespace: each reads only its own secrets.
            store_name=reader,
        )
        return external_secret(
            f"{name}-{secret}",
            name=secret,
            namespace=args.namespace,
            data=data,
            store=store,
            store_name=reader,
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider),
        )

    def _release(
        self, name: str, args: ExportersArgs, chart: tuple[str, str, str], values: dict[str, Any], after: list[Any]
    ) -> k8s.helm.v3.Release:
        return pinned_release(
            name,
            chart,
            args.namespace,
            {**args.placement, **values, "serviceMonitor": {"enabled": True}},
            pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[*after, *args.after]),
            create_namespace=False,
        )

    def _redis_exporter(self, name: str, args: ExportersArgs) -> k8s.helm.v3.Release:
        token = self._synced_secret(
            name,
            args,
            reader=CACHE_SECRET_READER,
            role_arn=args.cache_reader_role_arn,
            secret=CACHE_AUTH_SECRET,
            data=[{"secretKey": "password", "remoteRef": {"key": args.cache_secret_arn}}],
        )
        values: dict[str, Any] = {
            "redisAddress": args.cache_address,
            "auth": {"enabled": True, "secret": {"name": CACHE_AUTH_SECRET, "key": "password"}},
            # Cluster mode: the exporter finds every shard from the configuration endpoint.
            "extraArgs": {"is-cluster": "true", "check-single-keys": f"db0={AI_QUEUE}"},
            **chart_security_contexts(59000),
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
        }
        return self._release(f"{name}-redis", args, REDIS_EXPORTER_CHART, values, [token])

    def _postgres_exporter(self, name: str, args: ExportersArgs) -> k8s.helm.v3.Release:
        credentials = self._synced_secret(
            name,
            args,
            reader=DATABASE_MONITOR_READER,
            role_arn=args.database_monitor_reader_role_arn,
            secret=DATABASE_MONITOR_SECRET,
            data=[
                {"secretKey": key, "remoteRef": {"key": args.database_monitor_secret_arn, "property": key}}
                for key in ("username", "password")
            ],
        )
        ca = k8s.core.v1.ConfigMap(
            f"{name}-rds-ca",
            metadata={"name": "rds-ca", "namespace": args.namespace},
            data={"ca.pem": pulumi.Output.from_input(args.region).apply(rds_ca_bundle)},
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.after)),
        )
        values: dict[str, Any] = {
            "config": {
                "datasource": {
                    "host": args.database_host,
                    # The chart's template reads the port as a string.
                    "port": pulumi.Output.from_input(args.database_port).apply(str),
                    "database": args.database_name,
                    "userSecret": {"name": DATABASE_MONITOR_SECRET, "key": "username"},
                    "passwordSecret": {"name": DATABASE_MONITOR_SECRET, "key": "password"},
                    "sslmode": "verify-full",
                    "extraParams": f"sslrootcert={RDS_CA_FILE}",
                },
            },
            "extraVolumes": [{"name": "rds-ca", "configMap": {"name": "rds-ca"}}],
            "extraVolumeMounts": [{"name": "rds-ca", "mountPath": RDS_CA_MOUNT, "readOnly": True}],
            **chart_security_contexts(1001),
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
        }
        return self._release(f"{name}-postgres", args, POSTGRES_EXPORTER_CHART, values, [credentials, ca])

    def _cloudwatch_exporter(self, name: str, args: ExportersArgs) -> k8s.helm.v3.Release:
        values: dict[str, Any] = {
            "serviceAccount": {
                "name": CLOUDWATCH_EXPORTER,
                "annotations": {"eks.amazonaws.com/role-arn": args.cloudwatch_role_arn},
            },
            "config": pulumi.Output.from_input(args.region).apply(lambda r: yace_config(r, args.environment)),
            # `helm test`'s pod, which nothing here runs.
            "testConnection": False,
            # The image's user is `nobody` by name; `runAsNonRoot` needs the number.
            **chart_security_contexts(65534),
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        }
        return self._release(f"{name}-cloudwatch", args, YACE_CHART, values, [])
