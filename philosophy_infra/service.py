"""The service's fixed names, which both layers must agree on: the AWS layer trusts these service accounts
in its IRSA roles and opens these ports in its security groups; the Kubernetes layer creates them."""

from __future__ import annotations

APP_NAMESPACE = "philosophy-app"
API, WEBSOCKET, WORKER = "philosophy-api", "philosophy-websocket", "claude-worker"
# The service account the namespace's SecretStore signs in as (External Secrets Operator, IRSA).
SECRET_READER = "secrets-reader"
# The schema Job's namespace and account: the only place the RDS master secret is read. The app namespace
# never sees it; the api and the worker log in as DATABASE_APP_USER with IAM database authentication.
SCHEMA_NAMESPACE = "philosophy-schema"
SCHEMA_ADMIN = "schema-admin"
# The search setup Job's account, in the schema Job's namespace: the OpenSearch domain's master user (IAM), which
# maps the tenants' roles and writes the index templates and the traces' retention policy.
SEARCH_ADMIN = "search-admin"
DATABASE_APP_USER = "philosophy_app"
# postgres-exporter's login (`pg_monitor`, password from Secrets Manager), created by the schema Job.
DATABASE_MONITOR_USER = "philosophy_monitor"
# The monitoring namespace's reader of the cache's AUTH token, for the redis exporter (the AI queue's length).
MONITORING_NAMESPACE, CACHE_SECRET_READER = "monitoring", "cache-secret-reader"
# The monitoring namespace's reader of the monitoring user's secret, for postgres-exporter.
DATABASE_MONITOR_READER = "database-monitor-reader"
# YACE, which reads the data stores' CloudWatch metrics into Prometheus.
CLOUDWATCH_EXPORTER = "cloudwatch-exporter"
# Tracing: applications send OTLP to the collector, which sends traces to Jaeger; Grafana reads Jaeger's query API.
TRACING_NAMESPACE = "tracing"
# Jaeger's account: writes and reads the traces' indices in OpenSearch, signing with its IAM role.
JAEGER = "jaeger"
OTLP_ENDPOINT = f"http://otel-collector.{TRACING_NAMESPACE}.svc:4317"
JAEGER_QUERY_URL = f"http://jaeger.{TRACING_NAMESPACE}.svc:16686"

DATABASE_PORT = 5432
CACHE_PORT = 6379

# The Kubernetes group of the read-only identities (the pull-request preview and the drift check): the AWS layer's
# access entries put their roles in it, the Kubernetes layer's ClusterReaders binds it to read what the layer made.
CLUSTER_READERS_GROUP = "philosophy:cluster-readers"

# Prometheus's Service (kube-prometheus-stack with `fullnameOverride: kps`): what Argo Rollouts' analysis queries.
PROMETHEUS_URL = f"http://kps-prometheus.{MONITORING_NAMESPACE}.svc:9090"

# GitOps: Argo CD syncs the service's release objects (rendered into deploy/<stack>/ of this repository);
# Argo Rollouts runs the api's canary. Each in its own namespace.
ARGOCD_NAMESPACE = "argocd"
ROLLOUTS_NAMESPACE = "argo-rollouts"
# Argo CD's reader of the git repository's credentials (Secrets Manager, through External Secrets, IRSA).
REPOSITORY_READER = "repository-reader"
# Istio: the control plane, the CNI node agent and the ingress gateway, each in its own namespace.
ISTIO_NAMESPACE, ISTIO_CNI_NAMESPACE, INGRESS_NAMESPACE = "istio-system", "istio-cni", "istio-ingress"

# Service accounts that get an AWS role, and nothing else does: the websocket has no AWS access.
# (WorkloadRoles makes their roles; the AWS layer exports them as `serviceAccountRoleArns`.)
SERVICE_ACCOUNTS_WITH_ROLES = (
    SECRET_READER,
    API,
    WORKER,
    SCHEMA_ADMIN,
    CACHE_SECRET_READER,
    DATABASE_MONITOR_READER,
    CLOUDWATCH_EXPORTER,
    SEARCH_ADMIN,
    JAEGER,
    REPOSITORY_READER,
)

# The AWS Load Balancer Controller's service account, in a namespace of its own (Pod Security `restricted`): its
# IRSA role (AWS layer) trusts exactly this account; it registers the ingress gateway's pods in the load balancer's
# target group (a TargetGroupBinding).
LOAD_BALANCER_CONTROLLER_NAMESPACE = LOAD_BALANCER_CONTROLLER = "aws-load-balancer-controller"
# The ingress gateway's pods as the load balancer reaches them (by IP): traffic on the chart's `http2` target port
# (80, bound through the unprivileged-port sysctl; 80 on the Service too) and Istio's readiness on the status
# port (`/healthz/ready`). The AWS layer's target group checks the latter; its security group rules open both.
INGRESS_GATEWAY_TRAFFIC_PORT, INGRESS_GATEWAY_HEALTH_PORT = 80, 15021

# The graph store: Neo4j in a namespace of its own (graph_database.py). The service reaches it on Bolt only, through
# one ClusterIP Service across its servers; `neo4j://` lets the driver route (reads, writes) in a cluster.
NEO4J_NAMESPACE = NEO4J_SERVICE = "neo4j"
NEO4J_BOLT_PORT, NEO4J_BACKUP_PORT = 7687, 6362
NEO4J_URI = f"neo4j://{NEO4J_SERVICE}.{NEO4J_NAMESPACE}.svc:{NEO4J_BOLT_PORT}"
NEO4J_USER = "neo4j"
# The namespace's reader of the `neo4j` user's password (its SecretStore), and the backup job's account, which writes
# the backup bucket (Enterprise), in a namespace of its own (its chart's pods cannot meet `restricted`). Both IRSA
# roles are the AWS layer's GraphStore's.
NEO4J_SECRET_READER = "neo4j-secrets-reader"
NEO4J_BACKUP_NAMESPACE = NEO4J_BACKUP = "neo4j-backup"
