"""philosophy-infra: the AWS platform of the philosophy service, composed from the components in components/.

Config is loaded and validated once, here, before any resource is registered; components get plain values.
"""

import pulumi
import pulumi_aws as aws

from components.app_secrets import AppSecrets, AppSecretsArgs
from components.assets_bucket import AssetsBucket, AssetsBucketArgs
from components.cache import Cache, CacheArgs
from components.cluster_addons import ClusterAddons, ClusterAddonsArgs
from components.cluster_services import ClusterServices, ClusterServicesArgs
from components.database import Database, DatabaseArgs
from components.eks_cluster import EksCluster, EksClusterArgs
from components.network import Network, NetworkArgs
from components.node_group import NodeGroup, NodeGroupArgs
from components.philosophy_app import DataEndpoints, PhilosophyApp, PhilosophyAppArgs
from philosophy_infra.config import ClusterMode, load_stack_config
from philosophy_infra.naming import Naming, common_tags

config = load_stack_config()
names = Naming(config.environment)

# One explicit provider carries the region and the common tags; every component inherits it.
aws_provider = aws.Provider(
    "aws",
    region=config.region,
    default_tags={"tags": common_tags(pulumi.get_project(), config)},
)
with_aws = pulumi.ResourceOptions(providers={"aws": aws_provider})

subnets = config.network.tier_subnets()
network = Network(
    "network",
    NetworkArgs(
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

assets = AssetsBucket(
    "assets",
    AssetsBucketArgs(
        name_prefix=names.prefix,
        encryption=config.assets.encryption,
        infrequent_access_after_days=config.assets.infrequent_access_after_days,
        glacier_instant_retrieval_after_days=config.assets.glacier_instant_retrieval_after_days,
        noncurrent_version_expiration_days=config.assets.noncurrent_version_expiration_days,
        abort_incomplete_multipart_upload_days=config.assets.abort_incomplete_multipart_upload_days,
        data_protection=config.data_protection,
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
        endpoint_access=config.cluster.endpoint_access,
        public_access_cidrs=[str(c) for c in config.cluster.public_access_cidrs],
        control_plane_log_retention_days=config.cluster.control_plane_log_retention_days,
        addon_versions=config.cluster.addon_versions,
        data_protection=config.data_protection,
    ),
    opts=with_aws,
)

node_groups = {
    key: NodeGroup(
        key,
        NodeGroupArgs(
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
        ),
        opts=with_aws,
    )
    for key, group in config.node_groups.items()
}

addons = ClusterAddons(
    "addons",
    ClusterAddonsArgs(
        cluster_name=cluster.cluster_name,
        kubernetes_version=config.cluster.kubernetes_version,
        oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_issuer=cluster.oidc_issuer,
        provider=cluster.provider,
        after=[cluster.cluster, *(g.node_group for g in node_groups.values())],
        addon_versions=config.cluster.addon_versions,
        data_protection=config.data_protection,
    ),
    opts=with_aws,
)

# The data stores admit connections from the cluster's nodes only.
database = Database(
    "database",
    DatabaseArgs(
        identifier=names("postgres"),
        settings=config.database,
        vpc_id=network.vpc_id,
        db_subnet_group_name=network.db_subnet_group_name,
        node_security_group_id=cluster.node_security_group_id,
        data_protection=config.data_protection,
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

app_secrets = AppSecrets(
    "app-secrets", AppSecretsArgs(name_prefix=names.prefix, data_protection=config.data_protection), opts=with_aws
)

services = ClusterServices(
    "services",
    ClusterServicesArgs(
        cluster_name=cluster.cluster_name,
        kubernetes_version=config.cluster.kubernetes_version,
        provider=cluster.provider,
        after=[addons],
        addon_versions=config.cluster.addon_versions,
    ),
    opts=with_aws,
)

app = PhilosophyApp(
    "app",
    PhilosophyAppArgs(
        settings=config.workloads,
        kubernetes_version=config.cluster.kubernetes_version,
        region=config.region,
        provider=cluster.provider,
        data=DataEndpoints(
            database_host=database.address,
            database_port=database.port,
            database_name=database.database_name,
            database_secret_arn=database.master_secret_arn,
            cache_host=cache.endpoint,
            cache_port=cache.port,
            cache_secret_arn=cache.auth_secret_arn,
            secret_key_arns=[database.key_arn, cache.key_arn],
            network_cidrs=[str(s) for s in subnets["database"]],
        ),
        llm_secret_arn=app_secrets.arns["llm-api-key"],
        jwt_secret_arn=app_secrets.arns["jwt-secret"],
        app_secrets_key_arn=app_secrets.key_arn,
        assets_bucket_arn=assets.bucket_arn,
        assets_bucket_name=assets.bucket_name,
        assets_key_arn=assets.kms_key_arn,
        oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_issuer=cluster.oidc_issuer,
        vpc_cidr=str(config.network.cidr),
        worker_node_labels=config.worker_nodes.labels,
        worker_tolerations=config.worker_nodes.pod_tolerations(),
        after=[addons, services.external_secrets, services.vpa, services.metrics_server],
    ),
    opts=with_aws,
)

pulumi.export("vpcId", network.vpc_id)
pulumi.export("vpcCidr", network.vpc_cidr)
pulumi.export("publicSubnetIds", network.public_subnet_ids)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("databaseSubnetIds", network.database_subnet_ids)
pulumi.export("dbSubnetGroupName", network.db_subnet_group_name)
pulumi.export("cacheSubnetGroupName", network.cache_subnet_group_name)
pulumi.export("assetsBucketName", assets.bucket_name)
pulumi.export("assetsBucketArn", assets.bucket_arn)
pulumi.export("clusterName", cluster.cluster_name)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("oidcProviderArn", cluster.oidc_provider_arn)
pulumi.export("oidcIssuer", cluster.oidc_issuer)
pulumi.export("databaseEndpoint", database.address)
pulumi.export("databasePort", database.port)
pulumi.export("databaseName", database.database_name)
pulumi.export("databaseMasterSecretArn", database.master_secret_arn)
pulumi.export("databaseResourceId", database.resource_id)
# Named as ElastiCache names them: clients of a sharded cache must start from the configuration endpoint.
cache_mode_endpoint = "Configuration" if config.cache.cluster_mode is ClusterMode.ENABLED else "Primary"
pulumi.export(f"cache{cache_mode_endpoint}Endpoint", cache.endpoint)
pulumi.export("cachePort", cache.port)
pulumi.export("cacheAuthSecretArn", cache.auth_secret_arn)
pulumi.export("llmApiKeySecretArn", app_secrets.arns["llm-api-key"])
pulumi.export("jwtSecretArn", app_secrets.arns["jwt-secret"])
pulumi.export("appNamespace", "philosophy-app")
