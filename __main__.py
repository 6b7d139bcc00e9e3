"""philosophy-infra, the AWS layer: everything of the philosophy platform that talks only to AWS APIs.

Network, assets bucket, EKS cluster with its node groups and add-ons, data stores, the service's secrets and
IRSA roles, and the deploy runner that runs the Kubernetes layer (kubernetes/) inside the VPC. It creates no
Kubernetes object and no Kubernetes provider, so it runs anywhere with AWS credentials. Its outputs are
what the Kubernetes layer reads through a StackReference.

Config is loaded and validated once, here, before any resource is registered; components get plain values.
"""

from collections.abc import Callable

import pulumi
import pulumi_aws as aws

from components.aws.cluster.autoscaler_role import AutoscalerRole, AutoscalerRoleArgs
from components.aws.cluster.eks_addons import EksAddons, EksAddonsArgs
from components.aws.cluster.eks_cluster import EksCluster, EksClusterArgs
from components.aws.cluster.load_balancer_controller_role import (
    LoadBalancerControllerRole,
    LoadBalancerControllerRoleArgs,
)
from components.aws.cluster.node_group import NodeGroup, NodeGroupArgs, node_group_name_prefix
from components.aws.data.assets_bucket import AssetsBucket, AssetsBucketArgs
from components.aws.data.cache import Cache, CacheArgs
from components.aws.data.database import Database, DatabaseArgs
from components.aws.data.graph_store import GraphStore, GraphStoreArgs
from components.aws.data.search_domain import SearchDomain, SearchDomainArgs
from components.aws.delivery.deploy_runner import DeployRunner, DeployRunnerArgs
from components.aws.delivery.kubernetes_roles import KubernetesLayerRoles, KubernetesLayerRolesArgs
from components.aws.edge.cdn import Cdn, CdnArgs, OriginProtocol
from components.aws.edge.certificates import EdgeCertificates, EdgeCertificatesArgs, origin_name
from components.aws.edge.load_balancer import ServiceLoadBalancer, ServiceLoadBalancerArgs
from components.aws.edge.web_acl import WebAcl, WebAclArgs
from components.aws.network.network import Network, NetworkArgs
from components.aws.observability.alert_receivers import AlertReceivers, AlertReceiversArgs
from components.aws.observability.data_store_alarms import DataStoreAlarms, DataStoreAlarmsArgs, cache_node_ids
from components.aws.observability.node_capacity_alarms import NodeCapacityAlarms, NodeCapacityAlarmsArgs
from components.aws.recovery.backup_plans import BackupPlans, BackupPlansArgs, backup_tags, continuous_tag
from components.aws.recovery.backup_vaults import BackupVaults, BackupVaultsArgs
from components.aws.recovery.cross_region import CrossRegionReplication, CrossRegionReplicationArgs
from components.aws.recovery.recovery_proof import RecoveryProof, RecoveryProofArgs
from components.aws.security.app_secrets import REPOSITORY_SECRETS, AppSecrets, AppSecretsArgs
from components.aws.security.role_limits import RoleLimits
from components.aws.security.workload_roles import WorkloadRoles, WorkloadRolesArgs, database_user_arn
from philosophy_infra.config.aws import load_aws_config
from philosophy_infra.config.cache import ClusterMode
from philosophy_infra.layers import KUBERNETES_PROJECT
from philosophy_infra.naming import Naming, common_tags
from philosophy_infra.service import API, DATABASE_APP_USER, JAEGER, SEARCH_ADMIN

config = load_aws_config()
names = Naming(config.environment)

# One explicit provider carries the region and the common tags; every component inherits it.
tags = common_tags(
    pulumi.get_project(), owner=config.owner, cost_center=config.cost_center, environment=config.environment
)
aws_provider = aws.Provider("aws", region=config.region, default_tags={"tags": tags})
with_aws = pulumi.ResourceOptions(providers={"aws": aws_provider})
# The DR region's: where backups are copied and replicated to. None while that region cannot be reached (a DR stack
# whose home is lost): nothing is created there, and no provider would be configured against it.
dr_region = config.disaster_recovery.region if config.disaster_recovery.cross_region else None
dr_provider = aws.Provider("aws-dr", region=dr_region, default_tags={"tags": tags}) if dr_region else None
# What AWS Backup's continuous plan (point-in-time recovery) selects: the database and the assets bucket.
continuous_backup = backup_tags(names.prefix, continuous_tag(names.prefix))
# Every role below: under this environment's path, with its boundary from the bootstrap (its deploy role creates
# no other).
role_limits = RoleLimits.of_environment(pulumi.get_stack(), pulumi.InvokeOutputOptions(provider=aws_provider))

subnets = config.network.tier_subnets()
network = Network(
    "network",
    NetworkArgs(
        role_limits=role_limits,
        name_prefix=names.prefix,
        region=config.region,
        cidr=str(config.network.cidr),
        availability_zones=config.network.availability_zones,
        public_subnets=[str(s) for s in subnets["public"]],
        private_subnets=[str(s) for s in subnets["private"]],
        database_subnets=[str(s) for s in subnets["database"]],
        nat_gateways=config.network.nat_gateways,
        enable_vpn_gateway=config.network.enable_vpn_gateway,
        flow_log_retention_days=config.network.flow_log_retention_days,
        data_protection=config.data_protection,
    ),
    opts=with_aws,
)

# The distribution that may read the assets (their bucket and key policies name it) exists only once the bucket
# does: its ARN arrives later, from the edge below.
distribution_arn: pulumi.Output[str]
resolve_distribution_arn: Callable[[pulumi.Output[str]], None]
distribution_arn, resolve_distribution_arn = pulumi.deferred_output()
assets = AssetsBucket(
    "assets",
    AssetsBucketArgs(
        name_prefix=names.prefix,
        cdn_distribution_arn=distribution_arn,
        encryption=config.assets.encryption,
        infrequent_access_after_days=config.assets.infrequent_access_after_days,
        glacier_instant_retrieval_after_days=config.assets.glacier_instant_retrieval_after_days,
        noncurrent_version_expiration_days=config.assets.noncurrent_version_expiration_days,
        abort_incomplete_multipart_upload_days=config.assets.abort_incomplete_multipart_upload_days,
        data_protection=config.data_protection,
        backup_tags=continuous_backup,
    ),
    opts=with_aws,
)

cluster = EksCluster(
    "cluster",
    EksClusterArgs(
        cluster_name=names.prefix,
        kubernetes_version=config.cluster.kubernetes_version,
        vpc_id=network.vpc_id,
        private_subnet_ids=network.private_subnet_ids,
        admin_role_arn=config.cluster.admin_role_arn,
        role_limits=role_limits,
        endpoint_access=config.cluster.endpoint_access,
        public_access_cidrs=[str(c) for c in config.cluster.public_access_cidrs],
        api_access_security_group_ids=config.cluster.api_access.security_group_ids,
        api_access_cidrs=[str(c) for c in config.cluster.api_access.cidrs],
        control_plane_log_retention_days=config.cluster.control_plane_log_retention_days,
        addon_versions=config.cluster.addon_versions,
        data_protection=config.data_protection,
        resource_tags=tags,
    ),
    opts=with_aws,
)

node_groups = {
    key: NodeGroup(
        key,
        NodeGroupArgs(
            role_limits=role_limits,
            cluster=cluster.cluster,
            kubernetes_version=config.cluster.kubernetes_version,
            name_prefix=names.prefix,
            subnet_ids=network.private_subnet_ids,
            instance_types=group.instance_types,
            min_size=group.min_size,
            desired_size=group.desired_size,
            max_size=group.max_size,
            capacity_type=group.capacity_type,
            disk_size_gib=group.disk_size_gib,
            labels={"Environment": config.environment, **group.labels},
            taints=group.taints,
            resource_tags=tags,
        ),
        opts=with_aws,
    )
    for key, group in config.node_groups.items()
}

addons = EksAddons(
    "addons",
    EksAddonsArgs(
        role_limits=role_limits,
        cluster_name=cluster.cluster_name,
        kubernetes_version=config.cluster.kubernetes_version,
        oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_issuer=cluster.oidc_issuer,
        after=[cluster.cluster, *(g.node_group for g in node_groups.values())],
        addon_versions=config.cluster.addon_versions,
        volume_tags=tags,
    ),
    opts=with_aws,
)

# The Kubernetes layer's Cluster Autoscaler resizes the node groups within their min and max sizes.
autoscaler_role = AutoscalerRole(
    "cluster-autoscaler",
    AutoscalerRoleArgs(
        role_limits=role_limits,
        cluster_name=cluster.cluster_name,
        oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_issuer=cluster.oidc_issuer,
    ),
    opts=with_aws,
)

# The Kubernetes layer's AWS Load Balancer Controller registers the mesh gateway's pods in the edge's target group.
load_balancer_controller_role = LoadBalancerControllerRole(
    "aws-load-balancer-controller",
    LoadBalancerControllerRoleArgs(
        role_limits=role_limits, oidc_provider_arn=cluster.oidc_provider_arn, oidc_issuer=cluster.oidc_issuer
    ),
    opts=with_aws,
)

runner = DeployRunner(
    "deploy-runner",
    DeployRunnerArgs(
        role_limits=role_limits,
        project_name=names("deploy-runner"),
        settings=config.deploy_runner,
        vpc_id=network.vpc_id,
        subnet_ids=network.private_subnet_ids,
        cluster_name=cluster.cluster_name,
        cluster_security_group_id=cluster.cluster_security_group_id,
        data_protection=config.data_protection,
    ),
    opts=with_aws,
)
# Who may run the Kubernetes layer on it: roles a GitHub job assumes through OIDC, by environment.
kubernetes_roles = KubernetesLayerRoles(
    "kubernetes-layer",
    KubernetesLayerRolesArgs(
        role_limits=role_limits,
        settings=config.deploy_runner,
        cluster_name=cluster.cluster_name,
        stack=pulumi.get_stack(),
        aws_project=pulumi.get_project(),
        kubernetes_project=KUBERNETES_PROJECT,
    ),
    opts=with_aws,
)

# The data stores admit connections from the cluster's nodes only.
database = Database(
    "database",
    DatabaseArgs(
        role_limits=role_limits,
        identifier=names("postgres"),
        settings=config.database,
        vpc_id=network.vpc_id,
        db_subnet_group_name=network.db_subnet_group_name,
        node_security_group_id=cluster.node_security_group_id,
        data_protection=config.data_protection,
        backup_tags=continuous_backup,
    ),
    opts=with_aws,
)

cache = Cache(
    "cache",
    CacheArgs(
        replication_group_id=names("cache"),
        settings=config.cache,
        vpc_id=network.vpc_id,
        subnet_group_name=network.cache_subnet_group_name,
        node_security_group_id=cluster.node_security_group_id,
        data_protection=config.data_protection,
    ),
    opts=with_aws,
)

# AWS's own metrics of the data stores, alarmed outside the cluster.
alarms = DataStoreAlarms(
    "alarms",
    DataStoreAlarmsArgs(
        name_prefix=names.prefix,
        settings=config.alarms,
        database_identifier=names("postgres"),
        search_domain_name=names("search"),
        search_volume_gib=config.search.volume_gib,
        cache_node_ids=cache_node_ids(
            names("cache"),
            config.cache.shards,
            config.cache.replicas_per_shard,
            cluster_mode=config.cache.cluster_mode is ClusterMode.ENABLED,
        ),
        data_protection=config.data_protection,
    ),
    opts=with_aws,
)

# Whether the node groups can grow: launch failures as they happen, and the account's EC2 vCPU quota.
NodeCapacityAlarms(
    "node-capacity",
    NodeCapacityAlarmsArgs(
        name_prefix=names.prefix,
        groups={key: (group.instance_types, group.capacity_type) for key, group in config.node_groups.items()},
        group_name_prefixes=[node_group_name_prefix(names.prefix, key) for key in config.node_groups],
        vcpu_quota_percent=config.alarms.nodes.vcpu_quota_percent,
        evaluation_minutes=config.alarms.evaluation_minutes,
        topic_arn=alarms.topic_arn,
    ),
    opts=with_aws,
)

# Values operators put in, which nothing could re-create: replicated to the DR region.
app_secrets = AppSecrets(
    "app-secrets",
    AppSecretsArgs(
        name_prefix=names.prefix,
        data_protection=config.data_protection,
        replica_region=dr_region,
    ),
    opts=with_aws,
)
# Argo CD's credentials for this repository (a GitHub App's), with their own key: no account of the service reads them.
repository_secrets = AppSecrets(
    "repository-secrets",
    AppSecretsArgs(
        name_prefix=names.prefix,
        secrets=REPOSITORY_SECRETS,
        key_alias="repository-secrets",
        purpose="the git repository's credentials (Argo CD)",
        data_protection=config.data_protection,
        replica_region=dr_region,
    ),
    opts=with_aws,
)

# Neo4j's password and backups (the Kubernetes layer runs Neo4j itself), by edition.
graph = GraphStore(
    "graph-store",
    GraphStoreArgs(
        role_limits=role_limits,
        name_prefix=names.prefix,
        settings=config.neo4j,
        oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_issuer=cluster.oidc_issuer,
        region=config.region,
        data_protection=config.data_protection,
    ),
    opts=with_aws,
)

# Backup and DR: vaults here and in the DR region, plans selected by tag (the database, the assets, Neo4j's
# backups), the database's backups and the assets replicated to the DR region, and the proof (restore tests, the
# audit framework, reports). The cache is not backed up across regions: it is rebuilt (README, Disaster recovery).
recovery = config.disaster_recovery
vault_lock = recovery.effective_vault_lock(config.protected)
vaults = BackupVaults(
    "backup-vaults",
    BackupVaultsArgs(
        name_prefix=names.prefix,
        dr_provider=dr_provider,
        vault_lock=vault_lock,
        data_protection=config.data_protection,
    ),
    opts=with_aws,
)
backup_plans = BackupPlans(
    "backup-plans",
    BackupPlansArgs(
        role_limits=role_limits,
        name_prefix=names.prefix,
        settings=recovery,
        vault_name=vaults.vault_name,
        dr_vault_arn=vaults.dr_vault_arn,
        bucket_key_arns=[key for key in (assets.kms_key_arn, graph.backup_key_arn) if key is not None],
    ),
    opts=with_aws,
)
# The assets, and Enterprise's Neo4j backups: within minutes in the DR region.
replicated_buckets = [assets.replication_source, *([graph.replication_source] if graph.replication_source else [])]
replication = (
    CrossRegionReplication(
        "dr-replication",
        CrossRegionReplicationArgs(
            role_limits=role_limits,
            name_prefix=names.prefix,
            region=config.region,
            dr_region=dr_region,
            dr_provider=dr_provider,
            database_arn=database.arn,
            database_backup_retention_days=config.database.backup_retention_days,
            buckets=replicated_buckets,
            data_protection=config.data_protection,
        ),
        opts=with_aws,
    )
    if dr_region is not None and dr_provider is not None
    else None
)
recovery_proof = RecoveryProof(
    "recovery-proof",
    RecoveryProofArgs(
        name_prefix=names.prefix,
        settings=recovery,
        vault_lock=vault_lock,
        dr_region=recovery.region,
        vault_arn=vaults.vault_arn,
        backup_role_arn=backup_plans.role_arn,
        vpc_id=network.vpc_id,
        database_arn=database.arn,
        database_subnet_group_name=network.db_subnet_group_name,
        assets_bucket_arn=assets.bucket_arn,
        data_protection=config.data_protection,
    ),
    opts=with_aws,
)

invoke = pulumi.InvokeOutputOptions(provider=aws_provider)
database_user = pulumi.Output.all(
    aws.get_partition_output(opts=invoke).partition,
    aws.get_caller_identity_output(opts=invoke).account_id,
    database.resource_id,
).apply(lambda v: database_user_arn(v[0], config.region, v[1], v[2]))
roles = WorkloadRoles(
    "workload-roles",
    WorkloadRolesArgs(
        role_limits=role_limits,
        oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_issuer=cluster.oidc_issuer,
        region=config.region,
        app_secret_arns=[
            cache.auth_secret_arn,
            app_secrets.arns["jwt-signing-key"],
            app_secrets.arns["llm-api-key"],
            graph.password_secret_arn,
        ],
        app_secret_key_arns=[cache.key_arn, app_secrets.key_arn, graph.password_key_arn],
        llm_secret_arn=app_secrets.arns["llm-api-key"],
        app_secrets_key_arn=app_secrets.key_arn,
        cache_secret_arn=cache.auth_secret_arn,
        cache_key_arn=cache.key_arn,
        database_master_secret_arn=database.master_secret_arn,
        database_key_arn=database.key_arn,
        database_monitor_secret_arn=database.monitor_secret_arn,
        database_user_arn=database_user,
        assets_bucket_arn=assets.bucket_arn,
        assets_key_arn=assets.kms_key_arn,
        repository_secret_arn=repository_secrets.arns["git-repository"],
        repository_key_arn=repository_secrets.key_arn,
    ),
    opts=with_aws,
)

# The seed's Elasticsearch: search indices and traces, in the database subnets, reachable from the nodes only.
search = SearchDomain(
    "search",
    SearchDomainArgs(
        domain_name=names("search"),
        settings=config.search,
        vpc_id=network.vpc_id,
        subnet_ids=network.database_subnet_ids,
        node_security_group_id=cluster.node_security_group_id,
        master_role_arn=roles.role_arns[SEARCH_ADMIN],
        client_role_arns=[roles.role_arns[API], roles.role_arns[JAEGER], config.cluster.admin_role_arn],
        data_protection=config.data_protection,
    ),
    opts=with_aws,
)

# Where Prometheus's alerts go: the receivers' secrets (set out of band) and who may read them.
receivers = AlertReceivers(
    "alert-receivers",
    AlertReceiversArgs(
        name_prefix=names.prefix,
        settings=config.alerting,
        role_limits=role_limits,
        region=config.region,
        key_arn=app_secrets.key_arn,
        oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_issuer=cluster.oidc_issuer,
        data_protection=config.data_protection,
    ),
    opts=with_aws,
)

# The edge: the service's internal load balancer in front of the mesh gateway (its targets are registered by the
# Kubernetes layer's load balancer controller), reached only by CloudFront, and with a domain its certificates.
certificates = (
    EdgeCertificates(
        "edge-certificates",
        EdgeCertificatesArgs(domain=config.edge.domain, hosted_zone_id=config.edge.hosted_zone_id),
        opts=with_aws,
    )
    if config.edge.domain is not None and config.edge.hosted_zone_id is not None
    else None
)
load_balancer = ServiceLoadBalancer(
    "service-load-balancer",
    ServiceLoadBalancerArgs(
        name_prefix=names.prefix,
        vpc_id=network.vpc_id,
        subnet_ids=network.private_subnet_ids,
        node_security_group_id=cluster.node_security_group_id,
        certificate_arn=certificates.load_balancer_certificate_arn if certificates is not None else None,
        idle_timeout_seconds=config.edge.idle_timeout_seconds,
        data_protection=config.data_protection,
    ),
    opts=with_aws,
)
web_acl = WebAcl(
    "edge-waf",
    WebAclArgs(name_prefix=names.prefix, rate_limit=config.edge.rate_limit, data_protection=config.data_protection),
    opts=with_aws,
)
# A VPC origin cannot be updated while a distribution uses it, tags included: its provider sets none.
untagged_aws = aws.Provider("aws-untagged", region=config.region)
cdn = Cdn(
    "cdn",
    CdnArgs(
        name_prefix=names.prefix,
        assets_bucket_domain_name=assets.bucket_regional_domain_name,
        load_balancer_arn=load_balancer.arn,
        origin_domain=origin_name(config.edge.domain) if config.edge.domain else load_balancer.dns_name,
        origin_protocol=OriginProtocol.HTTPS if certificates is not None else OriginProtocol.HTTP,
        vpc_origin_provider=untagged_aws,
        aliases=[config.edge.domain] if certificates is not None and config.edge.domain else [],
        certificate_arn=certificates.cloudfront_certificate_arn if certificates is not None else None,
        web_acl_arn=web_acl.arn,
        price_class=config.edge.price_class,
        origin_read_timeout_seconds=config.edge.origin_read_timeout_seconds,
        origin_shield_region=config.region,
        data_protection=config.data_protection,
    ),
    opts=with_aws,
)
resolve_distribution_arn(cdn.distribution_arn)
load_balancer.admit_vpc_origin("service-load-balancer", network.vpc_id, cdn.vpc_origin)
if certificates is not None:
    certificates.origin_record("edge", load_balancer.dns_name)
    certificates.alias_records("edge", cdn.domain_name)

pulumi.export("vpcId", network.vpc_id)
pulumi.export("vpcCidr", network.vpc_cidr)
pulumi.export("publicSubnetIds", network.public_subnet_ids)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("databaseSubnetIds", network.database_subnet_ids)
pulumi.export("databaseSubnetCidrs", [str(s) for s in subnets["database"]])
pulumi.export("publicSubnetCidrs", [str(s) for s in subnets["public"]])
pulumi.export("dbSubnetGroupName", network.db_subnet_group_name)
pulumi.export("cacheSubnetGroupName", network.cache_subnet_group_name)
pulumi.export("assetsBucketName", assets.bucket_name)
pulumi.export("assetsBucketArn", assets.bucket_arn)
pulumi.export("clusterName", cluster.cluster_name)
pulumi.export("clusterSecurityGroupId", cluster.cluster_security_group_id)
pulumi.export("kubernetesVersion", config.cluster.kubernetes_version)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("oidcProviderArn", cluster.oidc_provider_arn)
pulumi.export("oidcIssuer", cluster.oidc_issuer)
pulumi.export("databaseEndpoint", database.address)
pulumi.export("databasePort", database.port)
pulumi.export("databaseName", database.database_name)
pulumi.export("databaseAppUser", DATABASE_APP_USER)
pulumi.export("databaseMasterSecretArn", database.master_secret_arn)
pulumi.export("databaseResourceId", database.resource_id)
pulumi.export("databaseMonitorSecretArn", database.monitor_secret_arn)
# Named as ElastiCache names them: clients of a sharded cache must start from the configuration endpoint.
cache_mode_endpoint = "Configuration" if config.cache.cluster_mode is ClusterMode.ENABLED else "Primary"
pulumi.export(f"cache{cache_mode_endpoint}Endpoint", cache.endpoint)
pulumi.export("cacheEndpoint", cache.endpoint)
pulumi.export("cachePort", cache.port)
pulumi.export("cacheAuthSecretArn", cache.auth_secret_arn)
pulumi.export("llmApiKeySecretArn", app_secrets.arns["llm-api-key"])
pulumi.export("jwtSecretArn", app_secrets.arns["jwt-signing-key"])
pulumi.export("neo4jEdition", config.neo4j.edition.value)
pulumi.export("neo4jPasswordSecretArn", graph.password_secret_arn)
pulumi.export("neo4jSecretReaderRoleArn", graph.secret_reader_role_arn)
pulumi.export("neo4jVolumeTags", graph.volume_tags)
# Enterprise's: where neo4j-admin writes, as whom. Empty in Community (volume snapshots instead).
pulumi.export("neo4jBackupBucketName", graph.backup_bucket_name or "")
pulumi.export("neo4jBackupRoleArn", graph.backup_role_arn or "")
pulumi.export("gitRepositorySecretArn", repository_secrets.arns["git-repository"])
pulumi.export("serviceAccountRoleArns", roles.role_arns)
pulumi.export("clusterAutoscalerRoleArn", autoscaler_role.role_arn)
pulumi.export("loadBalancerControllerRoleArn", load_balancer_controller_role.role_arn)
# What the Kubernetes layer needs to place pods on a node group: the labels that select it, and tolerations
# for its taints (in the Kubernetes spelling).
pulumi.export(
    "nodeGroups",
    {
        key: {"nodeSelector": group.labels, "tolerations": group.pod_tolerations()}
        for key, group in config.node_groups.items()
    },
)
pulumi.export("region", config.region)
# The `Environment` tag of every resource here: how YACE finds this environment's data stores.
pulumi.export("environment", config.environment)
pulumi.export("alarmTopicArn", alarms.topic_arn)
pulumi.export("alertReceivers", receivers.receivers)
pulumi.export("alertReceiversRoleArn", receivers.role_arn or "")
pulumi.export("searchEndpoint", search.endpoint)
pulumi.export("searchDomainArn", search.arn)
# Copies of every index: one in each other zone the domain spans (Multi-AZ with standby needs two).
pulumi.export("searchIndexReplicas", config.search.zone_count - 1)
# Who gets all access inside OpenSearch besides its master (the search setup Job): the operators.
pulumi.export("searchOperatorRoleArns", [config.cluster.admin_role_arn])
# Where users reach the service: the domain, or the distribution's own name.
pulumi.export(
    "edgeUrl",
    f"https://{config.edge.domain}" if config.edge.domain else pulumi.Output.concat("https://", cdn.domain_name),
)
pulumi.export("cdnDistributionId", cdn.distribution_id)
# The mesh gateway's target group: the Kubernetes layer binds the gateway's pods to it (TargetGroupBinding).
pulumi.export("gatewayTargetGroupArn", load_balancer.target_group_arn)
pulumi.export("dataProtection", config.data_protection.value)
pulumi.export("drRegion", recovery.region)
pulumi.export("backupVaultName", vaults.vault_name)
pulumi.export("drBackupVaultArn", vaults.dr_vault_arn or "")
pulumi.export("backupVaultLock", vault_lock.value)
pulumi.export("restoreTestingPlanName", recovery_proof.restore_testing_plan_name)
pulumi.export("backupReportsBucketName", recovery_proof.reports_bucket_name)
# What a DR stack restores from: the database's replicated automated backups (and their key), the buckets' replicas.
# Empty while the stack replicates nowhere (`disasterRecovery.crossRegion` off).
pulumi.export("databaseBackupsReplicationArn", replication.database_replication_arn if replication else "")
pulumi.export("databaseReplicaKeyArn", replication.replica_key_arn if replication else "")
pulumi.export("replicaBucketNames", replication.replica_bucket_names if replication else {})
pulumi.export("deployRunnerProject", runner.project_name)
pulumi.export("deployRunnerRoleArn", runner.role_arn)
pulumi.export("deployRunnerSecurityGroupId", runner.security_group_id)
pulumi.export("deployRunnerRunsOn", runner.runs_on)
pulumi.export("kubernetesDeployRoleArn", kubernetes_roles.deploy_role_arn)
pulumi.export("kubernetesDriftRoleArn", kubernetes_roles.drift_role_arn)
pulumi.export("kubernetesPreviewRoleArn", kubernetes_roles.preview_role_arn)
