"""The Network component through Pulumi mocks: every property the network must have."""

from __future__ import annotations

import json

import pytest

from components.aws.network.network import Network, NetworkArgs
from philosophy_infra.config.network import NatGatewayStrategy
from philosophy_infra.plan import Plan
from tests.conftest import TEST_ROLE_LIMITS, run

ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
SEED = {
    "private": ["10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"],
    "public": ["10.0.101.0/24", "10.0.102.0/24", "10.0.103.0/24"],
    "database": ["10.0.201.0/24", "10.0.202.0/24", "10.0.203.0/24"],
}


def network(nat: NatGatewayStrategy = NatGatewayStrategy.ONE_PER_AZ, vpn: bool = True) -> Plan:
    args = NetworkArgs(
        name_prefix="philosophy-test",
        role_limits=TEST_ROLE_LIMITS,
        region="eu-west-1",
        cidr="10.0.0.0/16",
        availability_zones=ZONES,
        public_subnets=SEED["public"],
        private_subnets=SEED["private"],
        database_subnets=SEED["database"],
        nat_gateways=nat,
        enable_vpn_gateway=vpn,
        flow_log_retention_days=90,
    )
    return run(lambda: Network("net", args))


@pytest.fixture
def plan() -> Plan:
    return network()


def subnets(plan: Plan, tier: str) -> list:
    found = [s for s in plan.of_type("aws:ec2/subnet:Subnet") if s.inputs["tags"]["Tier"] == tier]
    return sorted(found, key=lambda s: s.inputs["availabilityZone"])


def test_vpc_has_dns_support_and_hostnames(plan: Plan) -> None:
    vpc = plan.one("aws:ec2/vpc:Vpc")
    assert vpc.inputs["cidrBlock"] == "10.0.0.0/16"
    assert vpc.inputs["enableDnsSupport"] is True and vpc.inputs["enableDnsHostnames"] is True


@pytest.mark.parametrize("tier", ["private", "public", "database"])
def test_one_subnet_per_zone_per_tier_with_the_configured_cidrs(plan: Plan, tier: str) -> None:
    found = subnets(plan, tier)
    assert [(s.inputs["availabilityZone"], s.inputs["cidrBlock"]) for s in found] == list(
        zip(ZONES, SEED[tier], strict=True)
    )
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in found)


def test_load_balancer_role_tags(plan: Plan) -> None:
    assert all(s.inputs["tags"].get("kubernetes.io/role/elb") == "1" for s in subnets(plan, "public"))
    assert all(s.inputs["tags"].get("kubernetes.io/role/internal-elb") == "1" for s in subnets(plan, "private"))
    assert not any(
        "kubernetes.io/role/elb" in s.inputs["tags"] for s in subnets(plan, "private") + subnets(plan, "database")
    )


def test_default_security_group_is_taken_over_with_no_rules(plan: Plan) -> None:
    sg = plan.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert sg.inputs["ingress"] == [] and sg.inputs["egress"] == []
    assert sg.inputs["vpcId"] == plan.one("aws:ec2/vpc:Vpc").id


def _routes_of(plan: Plan, table_id: str) -> list:
    return [r for r in plan.of_type("aws:ec2/route:Route") if r.inputs["routeTableId"] == table_id]


def _table_of(plan: Plan, subnet_id: str) -> str:
    [assoc] = [
        a
        for a in plan.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
        if a.inputs["subnetId"] == subnet_id
    ]
    return assoc.inputs["routeTableId"]


def test_public_subnets_route_to_the_internet_gateway(plan: Plan) -> None:
    igw = plan.one("aws:ec2/internetGateway:InternetGateway")
    for subnet in subnets(plan, "public"):
        [route] = _routes_of(plan, _table_of(plan, subnet.id or ""))
        assert route.inputs == {**route.inputs, "destinationCidrBlock": "0.0.0.0/0", "gatewayId": igw.id}


def test_database_subnets_have_no_route_out(plan: Plan) -> None:
    for subnet in subnets(plan, "database"):
        assert _routes_of(plan, _table_of(plan, subnet.id or "")) == []


def test_one_nat_per_zone_and_each_zone_uses_its_own(plan: Plan) -> None:
    nats = plan.of_type("aws:ec2/natGateway:NatGateway")
    eips = plan.of_type("aws:ec2/eip:Eip")
    assert len(nats) == 3 and len(eips) == 3
    assert all(e.inputs["domain"] == "vpc" for e in eips)
    public_by_id = {s.id: s.inputs["availabilityZone"] for s in subnets(plan, "public")}
    nat_zone = {n.id: public_by_id[n.inputs["subnetId"]] for n in nats}
    for subnet in subnets(plan, "private"):
        [route] = _routes_of(plan, _table_of(plan, subnet.id or ""))
        assert nat_zone[route.inputs["natGatewayId"]] == subnet.inputs["availabilityZone"]


def test_single_nat_serves_every_private_subnet() -> None:
    plan = network(nat=NatGatewayStrategy.SINGLE)
    [nat] = plan.of_type("aws:ec2/natGateway:NatGateway")
    private = subnets(plan, "private")
    assert len({_table_of(plan, s.id or "") for s in private}) == 3
    for subnet in private:
        [route] = _routes_of(plan, _table_of(plan, subnet.id or ""))
        assert route.inputs["natGatewayId"] == nat.id


def test_vpn_gateway_propagates_into_every_private_route_table(plan: Plan) -> None:
    vgw = plan.one("aws:ec2/vpnGateway:VpnGateway")
    propagated = {
        p.inputs["routeTableId"] for p in plan.of_type("aws:ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation")
    }
    assert all(
        p.inputs["vpnGatewayId"] == vgw.id
        for p in plan.of_type("aws:ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation")
    )
    assert propagated == {_table_of(plan, s.id or "") for s in subnets(plan, "private")}


def test_no_vpn_gateway_unless_enabled() -> None:
    plan = network(vpn=False)
    assert plan.of_type("aws:ec2/vpnGateway:VpnGateway") == []


def test_subnet_groups_cover_the_database_subnets(plan: Plan) -> None:
    database_ids = [s.id for s in subnets(plan, "database")]
    assert plan.one("aws:rds/subnetGroup:SubnetGroup").inputs["subnetIds"] == database_ids
    assert plan.one("aws:elasticache/subnetGroup:SubnetGroup").inputs["subnetIds"] == database_ids


def test_flow_logs_capture_all_traffic_into_a_retained_log_group(plan: Plan) -> None:
    flow = plan.one("aws:ec2/flowLog:FlowLog")
    group = plan.one("aws:cloudwatch/logGroup:LogGroup")
    role = plan.one("aws:iam/role:Role")
    assert flow.inputs["trafficType"] == "ALL"
    assert flow.inputs["vpcId"] == plan.one("aws:ec2/vpc:Vpc").id
    assert flow.inputs["logDestinationType"] == "cloud-watch-logs"
    assert group.urn in flow.dependencies and role.urn in flow.dependencies
    assert group.inputs["retentionInDays"] == 90
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_the_flow_log_has_its_documented_rights_before_it_exists(plan: Plan) -> None:
    """AWS's minimum for publishing to CloudWatch Logs (VPC user guide, flow-logs-iam-role) less CreateLogGroup,
    since the group exists first; a flow log created before its rights reports an access error."""
    flow = plan.one("aws:ec2/flowLog:FlowLog")
    policy = plan.one("aws:iam/rolePolicy:RolePolicy")
    assert policy.urn in flow.dependencies
    group_arn = plan.one("aws:cloudwatch/logGroup:LogGroup").inputs["name"]
    statements = json.loads(policy.inputs["policy"])["Statement"]
    granted = {
        action for st in statements for action in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    }
    assert granted == {"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams", "logs:DescribeLogGroups"}
    [scoped] = [st for st in statements if "logs:PutLogEvents" in st["Action"]]
    assert all(group_arn in resource for resource in scoped["Resource"])


def test_flow_logs_are_encrypted_with_a_key_only_their_log_group_may_use(plan: Plan) -> None:
    group = plan.one("aws:cloudwatch/logGroup:LogGroup")
    key = plan.one("aws:kms/key:Key", "net-flow-logs-encryption-key")
    assert group.inputs["name"] == "/aws/vpc-flow-logs/philosophy-test"
    assert group.inputs["kmsKeyId"].startswith("arn:aws:kms:eu-west-1:") and key.urn in group.dependencies
    logs = next(st for st in json.loads(key.inputs["policy"])["Statement"] if st["Principal"].get("Service"))
    assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"] == (
        "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/vpc-flow-logs/philosophy-test*"
    )
    assert key.inputs["enableKeyRotation"] is True


def test_children_are_named_after_and_parented_under_the_component(plan: Plan) -> None:
    component = plan.one("philosophy:index:Network")
    children = [r for r in plan.resources if r.custom]
    assert all(r.name.startswith("net-") for r in children)
    # Every child's parent chain reaches the component.
    for child in children:
        parent = child.parent
        while parent and parent != component.urn:
            parent = plan.by_urn(parent).parent
        assert parent == component.urn, child.name


def test_a_broken_layout_is_refused_before_any_child_is_made() -> None:
    args = NetworkArgs(
        name_prefix="p",
        role_limits=TEST_ROLE_LIMITS,
        region="eu-west-1",
        cidr="10.0.0.0/16",
        availability_zones=ZONES,
        public_subnets=SEED["public"],
        private_subnets=["10.0.1.0/24", "10.0.2.0/24", "10.9.3.0/24"],
        database_subnets=SEED["database"],
    )
    with pytest.raises(ValueError, match=r"10\.9\.3\.0/24"):
        run(lambda: Network("net", args))
