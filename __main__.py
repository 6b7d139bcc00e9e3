"""philosophy-infra: the AWS platform of the philosophy service, composed from the components in components/.

Config is loaded and validated once, here, before any resource is registered; components get plain values.
"""

import pulumi
import pulumi_aws as aws

from components.assets_bucket import AssetsBucket, AssetsBucketArgs
from components.network import Network, NetworkArgs
from philosophy_infra.config import load_stack_config
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

pulumi.export("vpcId", network.vpc_id)
pulumi.export("vpcCidr", network.vpc_cidr)
pulumi.export("publicSubnetIds", network.public_subnet_ids)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("databaseSubnetIds", network.database_subnet_ids)
pulumi.export("dbSubnetGroupName", network.db_subnet_group_name)
pulumi.export("cacheSubnetGroupName", network.cache_subnet_group_name)
pulumi.export("assetsBucketName", assets.bucket_name)
pulumi.export("assetsBucketArn", assets.bucket_arn)
