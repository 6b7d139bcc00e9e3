"""philosophy-kubernetes, the Kubernetes layer: what runs on the private cluster.

StorageClasses, cluster services (External Secrets Operator, VPA), Istio, monitoring, tracing, Argo CD and Argo
Rollouts, and what the philosophy service stands on (its namespace, accounts, config, secrets, policies, schema).
The service's release objects are Argo CD's: rendered into deploy/<stack>/, synced by the Application. It reaches the
cluster's private API, so it runs only inside the VPC (the AWS layer's deploy runner). Everything the AWS
layer decided arrives through one StackReference to the AWS layer's stack of the same name.

Config is loaded and validated once, here, before any resource is registered; components get plain values.
"""

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.app.database_schema import DatabaseSchema, DatabaseSchemaArgs
from components.kubernetes.app.graph_database import GraphDatabase, GraphDatabaseArgs
from components.kubernetes.app.philosophy_app import DataEndpoints, PhilosophyApp, PhilosophyAppArgs
from components.kubernetes.app.search_setup import SearchSetup, SearchSetupArgs
from components.kubernetes.app.service_delivery import ServiceDelivery, ServiceDeliveryArgs
from components.kubernetes.platform.argo_cd import ArgoCd, ArgoCdArgs
from components.kubernetes.platform.argo_rollouts import ArgoRollouts, ArgoRolloutsArgs
from components.kubernetes.platform.cluster_autoscaler import ClusterAutoscaler, ClusterAutoscalerArgs
from components.kubernetes.platform.cluster_readers import ClusterReaders, ClusterReadersArgs
from components.kubernetes.platform.cluster_services import ClusterServices, ClusterServicesArgs
from components.kubernetes.platform.exporters import Exporters, ExportersArgs
from components.kubernetes.platform.load_balancer_controller import (
    GatewayTargets,
    GatewayTargetsArgs,
    LoadBalancerController,
    LoadBalancerControllerArgs,
)
from components.kubernetes.platform.monitoring import Monitoring, MonitoringArgs
from components.kubernetes.platform.service_mesh import ISTIO_VERSION, ServiceMesh, ServiceMeshArgs
from components.kubernetes.platform.storage_classes import StorageClasses, StorageClassesArgs
from components.kubernetes.platform.tracing import Tracing, TracingArgs
from philosophy_infra.aws_layer import AwsLayerOutputs
from philosophy_infra.config.base import ConfigIssue, DataProtection, StackConfigError
from philosophy_infra.config.kubernetes import load_kubernetes_config
from philosophy_infra.config.neo4j import Neo4jEdition
from philosophy_infra.release.objects import ReleaseInputs, release_objects
from philosophy_infra.release.render import deploy_path, stale_render_warning
from philosophy_infra.release.revision import application_revision
from philosophy_infra.service import (
    API,
    CACHE_SECRET_READER,
    CLOUDWATCH_EXPORTER,
    CLUSTER_READERS_GROUP,
    DATABASE_MONITOR_READER,
    JAEGER,
    MONITORING_NAMESPACE,
    REPOSITORY_READER,
    SCHEMA_ADMIN,
    SEARCH_ADMIN,
    SECRET_READER,
    WORKER,
)
from philosophy_infra.support_calendar import istio_support_problem

config = load_kubernetes_config()
aws_layer = AwsLayerOutputs(config.aws_layer.stack_name(pulumi.get_stack()))
# Checked against the AWS layer's node groups before anything is registered.
worker_nodes = aws_layer.node_group_placement(config.workloads.worker.node_group, "workloads.worker.nodeGroup")
monitoring_nodes = aws_layer.node_group_placement(config.monitoring.node_group, "monitoring.nodeGroup")
tracing_nodes = aws_layer.node_group_placement(config.tracing.node_group, "tracing.nodeGroup")
autoscaler_nodes = aws_layer.node_group_placement(config.cluster_autoscaler.node_group, "clusterAutoscaler.nodeGroup")
graph_nodes = aws_layer.node_group_placement(config.neo4j.node_group, "neo4jServers.nodeGroup")
# The service's release objects as this deploy sees them (the AWS layer's outputs, not its stack file): Argo CD
# syncs the committed deploy/<stack>/, which must say the same (`render --check` in CI; a warning here).
release = release_objects(
    ReleaseInputs(
        workloads=config.workloads,
        trace_sample_ratio=config.tracing.sample_ratio,
        worker_node_selector=worker_nodes["nodeSelector"],
        worker_tolerations=worker_nodes["tolerations"],
    )
)
# The checkout this program runs from: its deploy/<stack>/ and its history.
checkout = Path(__file__).resolve().parent.parent
stale = stale_render_warning(pulumi.get_stack(), release, checkout)
if stale:
    pulumi.log.warn(stale)
target_revision = application_revision(config.delivery, pulumi.get_stack(), checkout)

# The mesh's version must support the cluster's: checked before the cluster is touched.
cluster_version = aws_layer.value_now("kubernetesVersion")
if problem := istio_support_problem(ISTIO_VERSION, cluster_version):
    raise StackConfigError(pulumi.get_stack(), [ConfigIssue("cluster.kubernetesVersion", cluster_version, problem)])

provider = k8s.Provider("cluster", kubeconfig=aws_layer.kubeconfig, enable_server_side_apply=True)
on_cluster = pulumi.ResourceOptions(provider=provider)

storage = StorageClasses(
    "storage", StorageClassesArgs(provider=provider, data_protection=aws_layer.data_protection), opts=on_cluster
)
services = ClusterServices("services", ClusterServicesArgs(provider=provider), opts=on_cluster)
autoscaler = ClusterAutoscaler(
    "cluster-autoscaler",
    ClusterAutoscalerArgs(
        provider=provider,
        settings=config.cluster_autoscaler,
        cluster_name=aws_layer.text("clusterName"),
        region=aws_layer.text("region"),
        kubernetes_version=aws_layer.text("kubernetesVersion"),
        role_arn=aws_layer.text("clusterAutoscalerRoleArn"),
        node_selector=autoscaler_nodes["nodeSelector"],
        tolerations=autoscaler_nodes["tolerations"],
    ),
    opts=on_cluster,
)
# The schema Job, in its own namespace: the only reader of the RDS master secret.
schema = DatabaseSchema(
    "schema",
    DatabaseSchemaArgs(
        provider=provider,
        kubernetes_version=aws_layer.text("kubernetesVersion"),
        region=aws_layer.text("region"),
        database_host=aws_layer.text("databaseEndpoint"),
        database_port=aws_layer.port("databasePort"),
        database_name=aws_layer.text("databaseName"),
        master_secret_arn=aws_layer.text("databaseMasterSecretArn"),
        admin_role_arn=aws_layer.role_arn(SCHEMA_ADMIN),
        monitor_secret_arn=aws_layer.text("databaseMonitorSecretArn"),
        migrations_image=config.workloads.image("api"),
        database_cidrs=aws_layer.cidrs("databaseSubnetCidrs"),
        after=[services.external_secrets],
    ),
    opts=on_cluster,
)
# The OpenSearch domain's roles, mappings, index template and the traces' retention, as its master role.
search = SearchSetup(
    "search",
    SearchSetupArgs(
        provider=provider,
        region=aws_layer.text("region"),
        search_endpoint=aws_layer.text("searchEndpoint"),
        master_role_arn=aws_layer.role_arn(SEARCH_ADMIN),
        operator_role_arns=aws_layer.get("searchOperatorRoleArns"),
        api_role_arn=aws_layer.role_arn(API),
        jaeger_role_arn=aws_layer.role_arn(JAEGER),
        index_replicas=aws_layer.get("searchIndexReplicas"),
        trace_retention_days=config.tracing.retention_days,
        after=[schema.namespace],
    ),
    opts=on_cluster,
)

# Istio first: its webhook must exist before any pod of the service starts, or the pod runs without a sidecar.
mesh = ServiceMesh(
    "mesh",
    ServiceMeshArgs(
        provider=provider,
        kubernetes_version=aws_layer.text("kubernetesVersion"),
        trace_sample_ratio=config.tracing.sample_ratio,
    ),
    opts=on_cluster,
)
# The edge's load balancer reaches the mesh gateway's pods: the controller keeps them in its target group.
load_balancer_controller = LoadBalancerController(
    "aws-load-balancer-controller",
    LoadBalancerControllerArgs(
        provider=provider,
        kubernetes_version=aws_layer.text("kubernetesVersion"),
        cluster_name=aws_layer.text("clusterName"),
        region=aws_layer.text("region"),
        vpc_id=aws_layer.text("vpcId"),
        role_arn=aws_layer.text("loadBalancerControllerRoleArn"),
        placement=autoscaler_nodes,
    ),
    opts=on_cluster,
)
GatewayTargets(
    "gateway-targets",
    GatewayTargetsArgs(
        provider=provider,
        controller=load_balancer_controller,
        target_group_arn=aws_layer.text("gatewayTargetGroupArn"),
        vpc_id=aws_layer.text("vpcId"),
        after=[mesh.gateway],
    ),
    opts=on_cluster,
)
# The graph store, before the service that uses it; its edition and backups are the AWS layer's.
graph_edition = Neo4jEdition(aws_layer.value_now("neo4jEdition"))
enterprise_graph = graph_edition is Neo4jEdition.ENTERPRISE
graph = GraphDatabase(
    "graph",
    GraphDatabaseArgs(
        provider=provider,
        kubernetes_version=aws_layer.text("kubernetesVersion"),
        region=aws_layer.text("region"),
        edition=graph_edition,
        settings=config.neo4j,
        placement=graph_nodes,
        password_secret_arn=aws_layer.text("neo4jPasswordSecretArn"),
        secret_reader_role_arn=aws_layer.text("neo4jSecretReaderRoleArn"),
        volume_tags=aws_layer.get("neo4jVolumeTags"),
        vpc_cidr=aws_layer.text("vpcCidr"),
        protected=DataProtection(aws_layer.value_now("dataProtection")) is DataProtection.PROTECTED,
        backup_bucket_name=aws_layer.text("neo4jBackupBucketName") if enterprise_graph else None,
        backup_role_arn=aws_layer.text("neo4jBackupRoleArn") if enterprise_graph else None,
        mesh=mesh.istiod,
        after=[services.external_secrets],
    ),
    opts=on_cluster,
)
app = PhilosophyApp(
    "app",
    PhilosophyAppArgs(
        kubernetes_version=aws_layer.text("kubernetesVersion"),
        region=aws_layer.text("region"),
        provider=provider,
        data=DataEndpoints(
            database_host=aws_layer.text("databaseEndpoint"),
            database_port=aws_layer.port("databasePort"),
            database_name=aws_layer.text("databaseName"),
            cache_host=aws_layer.text("cacheEndpoint"),
            cache_port=aws_layer.port("cachePort"),
            cache_secret_arn=aws_layer.text("cacheAuthSecretArn"),
            network_cidrs=aws_layer.cidrs("databaseSubnetCidrs"),
            search_endpoint=aws_layer.text("searchEndpoint"),
        ),
        llm_secret_arn=aws_layer.text("llmApiKeySecretArn"),
        jwt_secret_arn=aws_layer.text("jwtSecretArn"),
        graph_secret_arn=aws_layer.text("neo4jPasswordSecretArn"),
        assets_bucket_name=aws_layer.text("assetsBucketName"),
        role_arns={account: aws_layer.role_arn(account) for account in (SECRET_READER, API, WORKER)},
        mesh=mesh.istiod,
        after=[services.external_secrets],
    ),
    opts=on_cluster,
)

monitoring = Monitoring(
    "monitoring",
    MonitoringArgs(
        provider=provider,
        settings=config.monitoring,
        kubernetes_version=aws_layer.text("kubernetesVersion"),
        storage_class=storage.default_class,
        node_selector=monitoring_nodes["nodeSelector"],
        tolerations=monitoring_nodes["tolerations"],
        # `protect` is an option, not an input: it needs the value now.
        protected=DataProtection(aws_layer.value_now("dataProtection")) is DataProtection.PROTECTED,
        receivers=aws_layer.value_now("alertReceivers"),
        receivers_role_arn=aws_layer.value_now("alertReceiversRoleArn"),
        region=aws_layer.text("region"),
        after=[storage.scratch, services.external_secrets],
    ),
    opts=on_cluster,
)
# What Prometheus scrapes from outside the cluster: the cache, the database, and CloudWatch.
exporters = Exporters(
    "exporters",
    ExportersArgs(
        provider=provider,
        namespace=MONITORING_NAMESPACE,
        placement=monitoring_nodes,
        region=aws_layer.text("region"),
        environment=aws_layer.value_now("environment"),
        cache_address=pulumi.Output.concat(
            "rediss://", aws_layer.text("cacheEndpoint"), ":", aws_layer.port("cachePort").apply(str)
        ),
        cache_secret_arn=aws_layer.text("cacheAuthSecretArn"),
        cache_reader_role_arn=aws_layer.role_arn(CACHE_SECRET_READER),
        database_host=aws_layer.text("databaseEndpoint"),
        database_port=aws_layer.port("databasePort"),
        database_name=aws_layer.text("databaseName"),
        database_monitor_secret_arn=aws_layer.text("databaseMonitorSecretArn"),
        database_monitor_reader_role_arn=aws_layer.role_arn(DATABASE_MONITOR_READER),
        cloudwatch_role_arn=aws_layer.role_arn(CLOUDWATCH_EXPORTER),
        after=[monitoring.stack, services.external_secrets],
    ),
    opts=on_cluster,
)
# Traces: OTLP from the service to the collectors, on to Jaeger (OpenSearch or Badger, from config).
tracing = Tracing(
    "tracing",
    TracingArgs(
        provider=provider,
        settings=config.tracing,
        kubernetes_version=aws_layer.text("kubernetesVersion"),
        placement=tracing_nodes,
        storage_class=storage.default_class,
        region=aws_layer.text("region"),
        search_endpoint=aws_layer.text("searchEndpoint"),
        search_index_replicas=aws_layer.get("searchIndexReplicas"),
        jaeger_role_arn=aws_layer.role_arn(JAEGER),
        # Jaeger writes its index templates at start, which the search setup Job's role mapping allows.
        after=[storage, search.job],
    ),
    opts=on_cluster,
)
# GitOps: Argo Rollouts runs the api's canary; Argo CD syncs the service's release objects from this repository.
rollouts = ArgoRollouts(
    "rollouts",
    ArgoRolloutsArgs(
        provider=provider,
        kubernetes_version=aws_layer.text("kubernetesVersion"),
        placement=monitoring_nodes,
        after=[monitoring.stack],
    ),
    opts=on_cluster,
)
argo_cd = ArgoCd(
    "argocd",
    ArgoCdArgs(
        provider=provider,
        kubernetes_version=aws_layer.text("kubernetesVersion"),
        availability=config.delivery.argo_cd,
        placement=monitoring_nodes,
        repo_url=config.delivery.repo_url,
        repository_secret_arn=aws_layer.text("gitRepositorySecretArn"),
        repository_reader_role_arn=aws_layer.role_arn(REPOSITORY_READER),
        region=aws_layer.text("region"),
        after=[services.external_secrets],
    ),
    opts=on_cluster,
)
# Last: everything the release objects stand on exists, and the schema's migrations for this release ran.
delivery = ServiceDelivery(
    "delivery",
    ServiceDeliveryArgs(
        provider=provider,
        repo_url=config.delivery.repo_url,
        target_revision=target_revision,
        path=deploy_path(pulumi.get_stack()),
        release_kinds=[(o["apiVersion"].rpartition("/")[0], o["kind"]) for o in release],
        after=[
            argo_cd.release,
            argo_cd.repository_secret,
            rollouts.release,
            *mesh.ready,
            monitoring.stack,
            services.vpa,
            storage.scratch,
            *app.ready,
            *graph.ready,
            schema,
        ],
    ),
    opts=on_cluster,
)
# What the pull-request preview and the drift check (read-only access entries, AWS layer) may read.
ClusterReaders(
    "cluster-readers",
    ClusterReadersArgs(
        provider=provider,
        group=CLUSTER_READERS_GROUP,
        helm_releases={
            "vpa": services.vpa,
            "external-secrets": services.external_secrets,
            "cluster-autoscaler": autoscaler.release,
            # Every release in `monitoring` (the stack, its CRDs, the exporters): one Role covers them.
            "monitoring": monitoring.stack,
            # The collectors and Jaeger, in `tracing`.
            "tracing": tracing.jaeger,
            "istio-system": mesh.istiod,
            "istio-cni": mesh.cni,
            "istio-ingress": mesh.gateway,
            "argocd": argo_cd.release,
            "argo-rollouts": rollouts.release,
            "aws-load-balancer-controller": load_balancer_controller.release,
            # The servers' releases (one per server), and Enterprise's backup releases in their own namespace.
            "neo4j": graph.releases[0],
            **({"neo4j-backup": graph.backup_releases[0]} if graph.backup_releases else {}),
        },
    ),
    opts=on_cluster,
)

pulumi.export("appNamespace", app.namespace)
pulumi.export("awsStack", aws_layer.stack_name)
