"""The VPC: three subnet tiers per zone, egress by NAT strategy, flow logs, and the subnet groups data stores use."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network

import pulumi
import pulumi_aws as aws

from components.aws.security.encryption_key import encrypted_log_group
from components.aws.security.irsa_role import service_trust_policy
from components.aws.security.role_limits import RoleLimits
from philosophy_infra import cidr
from philosophy_infra.config.base import DataProtection
from philosophy_infra.config.network import NatGatewayStrategy


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    role_limits: RoleLimits
    name_prefix: str
    """Prefix of Name tags, e.g. `philosophy-prod`."""
    region: str
    cidr: str
    availability_zones: Sequence[str]
    public_subnets: Sequence[str]
    """One per zone, in zone order: load balancers and NAT gateways."""
    private_subnets: Sequence[str]
    """One per zone: the cluster's nodes and pods."""
    database_subnets: Sequence[str]
    """One per zone: no route to the internet at all."""
    nat_gateways: NatGatewayStrategy = NatGatewayStrategy.ONE_PER_AZ
    enable_vpn_gateway: bool = False
    flow_log_retention_days: int = 365
    data_protection: DataProtection = DataProtection.PROTECTED
    """Guards the flow logs' encryption key."""


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    vpc_cidr: pulumi.Output[str]
    public_subnet_ids: pulumi.Output[list[str]]
    private_subnet_ids: pulumi.Output[list[str]]
    database_subnet_ids: pulumi.Output[list[str]]
    db_subnet_group_name: pulumi.Output[str]
    cache_subnet_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:Network", name, None, opts)
        _check(args)
        child = pulumi.ResourceOptions(parent=self)
        zones = [az[-1] for az in args.availability_zones]  # stable per-zone suffixes: a, b, c

        def tags(suffix: str, **extra: str) -> dict[str, str]:
            return {"Name": f"{args.name_prefix}-{suffix}", **extra}

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=tags("vpc"),
            opts=child,
        )
        vpc_child = pulumi.ResourceOptions(parent=vpc)
        # Taking over the default security group with no rules means nothing can fall back on it.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg", vpc_id=vpc.id, ingress=[], egress=[], tags=tags("default-deny"), opts=vpc_child
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=tags("igw"), opts=vpc_child)

        def subnets(tier: str, cidrs: Sequence[str], **extra: str) -> dict[str, aws.ec2.Subnet]:
            return {
                zone: aws.ec2.Subnet(
                    f"{name}-{tier}-{zone}",
                    vpc_id=vpc.id,
                    cidr_block=block,
                    availability_zone=az,
                    map_public_ip_on_launch=False,
                    tags=tags(f"{tier}-{zone}", Tier=tier, **extra),
                    opts=vpc_child,
                )
                for zone, az, block in zip(zones, args.availability_zones, cidrs, strict=True)
            }

        # The role tags are what the AWS Load Balancer Controller looks for when it places load balancers.
        public = subnets("public", args.public_subnets, **{"kubernetes.io/role/elb": "1"})
        private = subnets("private", args.private_subnets, **{"kubernetes.io/role/internal-elb": "1"})
        database = subnets("database", args.database_subnets)

        public_rt = aws.ec2.RouteTable(f"{name}-public-rt", vpc_id=vpc.id, tags=tags("public"), opts=vpc_child)
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_rt.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=pulumi.ResourceOptions(parent=public_rt),
        )
        for zone, subnet in public.items():
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{zone}",
                subnet_id=subnet.id,
                route_table_id=public_rt.id,
                opts=pulumi.ResourceOptions(parent=subnet),
            )

        nat_zones = zones if args.nat_gateways is NatGatewayStrategy.ONE_PER_AZ else zones[:1]
        nats: dict[str, aws.ec2.NatGateway] = {}
        for zone in nat_zones:
            eip = aws.ec2.Eip(
                f"{name}-nat-{zone}",
                domain="vpc",
                tags=tags(f"nat-{zone}"),
                opts=pulumi.ResourceOptions(parent=public[zone]),
            )
            nats[zone] = aws.ec2.NatGateway(
                f"{name}-nat-{zone}",
                allocation_id=eip.id,
                subnet_id=public[zone].id,
                connectivity_type="public",
                tags=tags(f"nat-{zone}"),
                opts=pulumi.ResourceOptions(parent=public[zone], depends_on=[igw]),
            )

        # One private route table per zone whatever the NAT strategy, so switching strategy re-points routes
        # instead of replacing tables.
        private_rts: dict[str, aws.ec2.RouteTable] = {}
        for zone, subnet in private.items():
            rt = aws.ec2.RouteTable(
                f"{name}-private-{zone}", vpc_id=vpc.id, tags=tags(f"private-{zone}"), opts=vpc_child
            )
            private_rts[zone] = rt
            aws.ec2.Route(
                f"{name}-private-{zone}-default",
                route_table_id=rt.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nats.get(zone, nats[nat_zones[0]]).id,
                opts=pulumi.ResourceOptions(parent=rt),
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{zone}",
                subnet_id=subnet.id,
                route_table_id=rt.id,
                opts=pulumi.ResourceOptions(parent=subnet),
            )

        # The database tier's table has only the implicit local route: no internet, no NAT.
        database_rt = aws.ec2.RouteTable(f"{name}-database-rt", vpc_id=vpc.id, tags=tags("database"), opts=vpc_child)
        for zone, subnet in database.items():
            aws.ec2.RouteTableAssociation(
                f"{name}-database-{zone}",
                subnet_id=subnet.id,
                route_table_id=database_rt.id,
                opts=pulumi.ResourceOptions(parent=subnet),
            )

        # S3 traffic from the nodes stays on the AWS network and off the NAT bill.
        aws.ec2.VpcEndpoint(
            f"{name}-s3-endpoint",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[rt.id for rt in private_rts.values()],
            tags=tags("s3-endpoint"),
            opts=vpc_child,
        )

        if args.enable_vpn_gateway:
            vgw = aws.ec2.VpnGateway(f"{name}-vgw", vpc_id=vpc.id, tags=tags("vgw"), opts=vpc_child)
            for zone, rt in private_rts.items():
                aws.ec2.VpnGatewayRoutePropagation(
                    f"{name}-vgw-private-{zone}",
                    vpn_gateway_id=vgw.id,
                    route_table_id=rt.id,
                    opts=pulumi.ResourceOptions(parent=vgw),
                )

        database_ids = [s.id for s in database.values()]
        db_subnet_group = aws.rds.SubnetGroup(
            f"{name}-db",
            subnet_ids=database_ids,
            description=f"{args.name_prefix} database subnets",
            tags=tags("db"),
            opts=child,
        )
        cache_subnet_group = aws.elasticache.SubnetGroup(
            f"{name}-cache",
            subnet_ids=database_ids,
            description=f"{args.name_prefix} cache subnets",
            tags=tags("cache"),
            opts=child,
        )

        self._flow_logs(name, args, vpc, tags("flow-logs"))

        self.vpc_id = vpc.id
        self.vpc_cidr = vpc.cidr_block
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public.values()])
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private.values()])
        self.database_subnet_ids = pulumi.Output.all(*database_ids)
        self.db_subnet_group_name = db_subnet_group.name
        self.cache_subnet_group_name = cache_subnet_group.name
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "vpcCidr": self.vpc_cidr,
                "publicSubnetIds": self.public_subnet_ids,
                "privateSubnetIds": self.private_subnet_ids,
                "databaseSubnetIds": self.database_subnet_ids,
                "dbSubnetGroupName": self.db_subnet_group_name,
                "cacheSubnetGroupName": self.cache_subnet_group_name,
            }
        )

    def _flow_logs(self, name: str, args: NetworkArgs, vpc: aws.ec2.Vpc, tags: dict[str, str]) -> None:
        child = pulumi.ResourceOptions(parent=self)
        # Flow logs record who talked to whom: encrypted with a key whose use CloudTrail shows.
        log_group = encrypted_log_group(
            f"{name}-flow-logs",
            key_resource_name=f"{name}-flow-logs-encryption",
            log_group_name=f"/aws/vpc-flow-logs/{args.name_prefix}",
            retention_days=args.flow_log_retention_days,
            description=f"{args.name_prefix}: VPC flow logs",
            alias=f"{args.name_prefix}-flow-logs",
            data_protection=args.data_protection,
            parent=self,
            tags=tags,
        )
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        role = aws.iam.Role(
            f"{name}-flow-logs",
            path=args.role_limits.path,
            permissions_boundary=args.role_limits.permissions_boundary,
            assume_role_policy=account.apply(lambda a: service_trust_policy("vpc-flow-logs.amazonaws.com", a)),
            tags=tags,
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=role.id,
            policy=log_group.arn.apply(flow_log_policy),
            opts=pulumi.ResourceOptions(parent=role),
        )
        aws.ec2.FlowLog(
            f"{name}-flow-logs",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=tags,
            # Its rights first: a flow log created before them delivers nothing ("Access error") until retried.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )


def flow_log_policy(log_group_arn: str) -> str:
    """What VPC Flow Logs needs to publish to one log group: AWS's documented minimum, scoped to that group except
    DescribeLogGroups, which has no resource-level scope. No CreateLogGroup: the group exists, with its
    retention and key, before the flow log does."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PublishToTheFlowLogGroup",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    "Resource": [log_group_arn, f"{log_group_arn}:*"],
                },
                {"Sid": "FindTheLogGroup", "Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "*"},
            ],
        }
    )


def _check(args: NetworkArgs) -> None:
    tiers = {
        "private": [IPv4Network(c) for c in args.private_subnets],
        "public": [IPv4Network(c) for c in args.public_subnets],
        "database": [IPv4Network(c) for c in args.database_subnets],
    }
    problems = list(cidr.layout_problems(IPv4Network(args.cidr), len(args.availability_zones), tiers))
    if problems:
        raise ValueError("; ".join(f"{p.tier}[{p.index}] {p.value}: {p.rule}" for p in problems))
