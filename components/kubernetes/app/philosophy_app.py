"""What the philosophy service stands on, which Pulumi owns: its namespace (Pod Security and Istio injection
labels), its ServiceAccounts with their IRSA roles, the ConfigMaps of endpoints and RDS certificates, the Secrets
External Secrets writes, its NetworkPolicies and its mutual TLS. The release objects that run on them (Rollout,
Deployments, Services, autoscaling, routing) are Argo CD's: rendered into deploy/<stack>/ (philosophy_infra.release)
and synced by the Application (service_delivery.py). The schema (pgvector, the application user, migrations) is
the DatabaseSchema component's, in a namespace of its own.

Secrets reach the pods through External Secrets Operator: Pulumi writes only references (secret ARNs and
templates), the operator copies the values from Secrets Manager into Kubernetes Secrets, so no secret value
ever passes through Pulumi state, the plan or the rendered manifests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.app.database_schema import rds_ca_bundle
from components.kubernetes.app.graph_database import SERVER_LABELS
from components.kubernetes.platform.pod_security import DNS_EGRESS, restricted_namespace_labels
from components.kubernetes.platform.secrets_sync import external_secret, irsa_secret_store
from philosophy_infra.pods import RDS_CA_FILE
from philosophy_infra.release.objects import (
    API_PORT,
    APP_SECRETS,
    CACHE_CREDENTIALS,
    ENDPOINTS_CONFIG_MAP,
    GRAPH_CREDENTIALS,
    LLM_CREDENTIALS,
    METRICS_PORT,
    RDS_CA_CONFIG_MAP,
    WEBSOCKET_PORT,
    labels,
)
from philosophy_infra.service import (
    API,
    CACHE_PORT,
    DATABASE_APP_USER,
    DATABASE_PORT,
    INGRESS_NAMESPACE,
    ISTIO_NAMESPACE,
    MONITORING_NAMESPACE,
    NEO4J_BOLT_PORT,
    NEO4J_NAMESPACE,
    NEO4J_URI,
    NEO4J_USER,
    SECRET_READER,
    TRACING_NAMESPACE,
    WEBSOCKET,
    WORKER,
)
from philosophy_infra.service import APP_NAMESPACE as NAMESPACE


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
    kubernetes_version: pulumi.Input[str]
    region: pulumi.Input[str]
    provider: k8s.Provider
    data: DataEndpoints
    llm_secret_arn: pulumi.Input[str]
    jwt_secret_arn: pulumi.Input[str]
    graph_secret_arn: pulumi.Input[str]
    """The `neo4j` user's password (the AWS layer's GraphStore): `username` and `password`."""
    assets_bucket_name: pulumi.Input[str]
    role_arns: Mapping[str, pulumi.Input[str]]
    """The IRSA roles the AWS layer made, by service account (secrets-reader, api, worker)."""
    mesh: pulumi.Resource | None = None
    """Istio (ServiceMesh): the PeerAuthentication CRD, and the injection webhook that must exist before pods."""
    after: Sequence[pulumi.Resource] = ()
    """Cluster services the app needs first: External Secrets Operator."""


class PhilosophyApp(pulumi.ComponentResource):
    namespace: str
    ready: list[pulumi.Resource]
    """What the release objects stand on: the Application syncs after these."""

    def __init__(self, name: str, args: PhilosophyAppArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:PhilosophyApp", name, None, opts)
        data = args.data

        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": NAMESPACE,
                "labels": {
                    "name": NAMESPACE,
                    # Safe with Pod Security `restricted` only because Istio runs with its CNI (service_mesh.py).
                    "istio-injection": "enabled",
                    **restricted_namespace_labels(args.kubernetes_version),
                },
            },
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.after)),
        )
        in_namespace = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[namespace])

        # Where things are; none of it is secret. The release objects read it (envFrom); their own settings are in
        # their pod templates. A changed endpoint (a replaced data store) reaches pods at their next restart.
        endpoints = k8s.core.v1.ConfigMap(
            f"{name}-endpoints",
            metadata={"name": ENDPOINTS_CONFIG_MAP, "namespace": NAMESPACE},
            data={
                "DB_HOST": data.database_host,
                "DB_PORT": pulumi.Output.from_input(data.database_port).apply(str),
                "DB_NAME": data.database_name,
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
                # The graph (GraphDatabase): its Service across the servers; the password is in `graph-credentials`.
                "NEO4J_URI": NEO4J_URI,
                "NEO4J_USER": NEO4J_USER,
                # The worker's key, by reference: the value is in its `llm-credentials` Secret.
                "CLAUDE_API_KEY_SECRET_ARN": args.llm_secret_arn,
            },
            opts=in_namespace,
        )
        rds_ca = k8s.core.v1.ConfigMap(
            f"{name}-rds-ca",
            metadata={"name": RDS_CA_CONFIG_MAP, "namespace": NAMESPACE},
            data={"ca.pem": pulumi.Output.from_input(args.region).apply(rds_ca_bundle)},
            opts=in_namespace,
        )
        secrets = self._external_secrets(name, args, namespace)
        # The workloads' identities: Pulumi's, because the AWS layer's IRSA roles trust exactly these names.
        accounts = [
            k8s.core.v1.ServiceAccount(
                f"{name}-{account}-sa",
                metadata={
                    "name": account,
                    "namespace": NAMESPACE,
                    "labels": labels(account),
                    "annotations": {"eks.amazonaws.com/role-arn": args.role_arns[account]}
                    if account in args.role_arns
                    else {},
                },
                automount_service_account_token=False,
                opts=in_namespace,
            )
            for account in (API, WEBSOCKET, WORKER)
        ]
        policies = self._network_policies(name, args, in_namespace)
        mutual_tls = self._mutual_tls(name, args, namespace)
        self.namespace = NAMESPACE
        self.ready = [namespace, endpoints, rds_ca, *secrets.values(), *accounts, *policies, *mutual_tls]
        self.register_outputs({"namespace": NAMESPACE})

    def _mutual_tls(
        self, name: str, args: PhilosophyAppArgs, namespace: k8s.core.v1.Namespace
    ) -> list[pulumi.Resource]:
        """Strict mutual TLS between the service's sidecars, except the metrics port Prometheus (outside the mesh)
        scrapes in plain HTTP. Probes need no exception: the sidecar answers them (Istio rewrites them)."""
        opts = pulumi.ResourceOptions(
            parent=self, provider=args.provider, depends_on=[namespace, *([args.mesh] if args.mesh else [])]
        )
        specs: dict[str, dict[str, Any]] = {"default": {"mtls": {"mode": "STRICT"}}}
        for app in (API, WORKER):
            specs[f"{app}-metrics"] = {
                "selector": {"matchLabels": {"app": app}},
                "mtls": {"mode": "STRICT"},
                "portLevelMtls": {str(METRICS_PORT): {"mode": "PERMISSIVE"}},
            }
        return [
            k8s.apiextensions.CustomResource(
                f"{name}-mtls-{policy}",
                api_version="security.istio.io/v1",
                kind="PeerAuthentication",
                metadata={"name": policy, "namespace": NAMESPACE},
                spec=spec,
                opts=opts,
            )
            for policy, spec in specs.items()
        ]

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
            CACHE_CREDENTIALS: (
                [{"secretKey": "token", "remoteRef": {"key": data.cache_secret_arn}}],
                {"REDIS_URL": redis_url, "REDIS_AUTH_TOKEN": "{{ .token }}"},
            ),
            APP_SECRETS: ([{"secretKey": "JWT_SECRET", "remoteRef": {"key": args.jwt_secret_arn}}], None),
            LLM_CREDENTIALS: ([{"secretKey": "CLAUDE_API_KEY", "remoteRef": {"key": args.llm_secret_arn}}], None),
            GRAPH_CREDENTIALS: (
                [
                    {
                        "secretKey": "NEO4J_PASSWORD",
                        "remoteRef": {"key": args.graph_secret_arn, "property": "password"},
                    }
                ],
                None,
            ),
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

    def _network_policies(
        self, name: str, args: PhilosophyAppArgs, opts: pulumi.ResourceOptions
    ) -> list[pulumi.Resource]:
        data_stores = pulumi.Output.from_input(args.data.network_cidrs).apply(
            lambda cidrs: [{"ipBlock": {"cidr": c}} for c in cidrs]
        )
        database = {"to": data_stores, "ports": [{"protocol": "TCP", "port": DATABASE_PORT}]}
        cache = {"to": data_stores, "ports": [{"protocol": "TCP", "port": CACHE_PORT}]}
        # Bolt, to Neo4j's servers (the driver routes to each of a cluster's servers, all on this port), selected by
        # the label GraphDatabase's servers carry.
        graph = {
            "to": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NEO4J_NAMESPACE}},
                    "podSelector": {"matchLabels": dict(SERVER_LABELS)},
                }
            ],
            "ports": [{"protocol": "TCP", "port": NEO4J_BOLT_PORT}],
        }
        # AWS APIs (STS for IRSA, S3, Secrets Manager) and the LLM API are HTTPS on the internet or via NAT.
        https = {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 443}]}
        # The ingress gateway's pods, the only way in: the load balancers (the edge's) reach the gateway, not pods
        # here, and with strict mutual TLS a client outside the mesh could not talk to these ports anyway.
        from_gateway = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": INGRESS_NAMESPACE}}}]
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
                "ingress": [
                    {"from": from_gateway, "ports": [{"protocol": "TCP", "port": API_PORT}]},
                    {"from": from_monitoring, "ports": [{"protocol": "TCP", "port": METRICS_PORT}]},
                ],
                "egress": [database, cache, graph, https],
            },
            WEBSOCKET: {
                "podSelector": {"matchLabels": {"app": WEBSOCKET}},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": from_gateway, "ports": [{"protocol": "TCP", "port": WEBSOCKET_PORT}]}],
                "egress": [cache],
            },
            WORKER: {
                "podSelector": {"matchLabels": {"app": WORKER}},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": from_monitoring, "ports": [{"protocol": "TCP", "port": METRICS_PORT}]}],
                "egress": [database, cache, graph, https],
            },
        }
        created: list[pulumi.Resource] = []
        for policy, spec in policies.items():
            metadata: Any = {"name": policy, "namespace": NAMESPACE}
            policy_spec: Any = spec
            created.append(
                k8s.networking.v1.NetworkPolicy(
                    f"{name}-netpol-{policy}", metadata=metadata, spec=policy_spec, opts=opts
                )
            )
        return created
