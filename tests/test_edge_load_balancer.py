"""The service's internal load balancer (AWS layer) and, with a domain, the edge's certificates: private subnets,
TLS 1.3 with a certificate (prod) or HTTP inside the VPC (staging, no domain), the mesh gateway's pods as its only
targets, nothing on the internet in front of it, data kept where the stack protects data."""

from __future__ import annotations

import json
from typing import Any

import pytest

from philosophy_infra.plan import RecordedResource
from philosophy_infra.stack_plan import StackPlan
from tests.conftest import stack_plan, stack_yaml

STACKS = ["prod", "staging"]


def one(plan: StackPlan, type_: str, name_suffix: str = "") -> RecordedResource:
    [found] = [r for r in plan.of_type(type_) if r.name.endswith(name_suffix)]
    return found


def edge_config(stack: str) -> dict[str, Any]:
    config: dict[str, Any] = stack_yaml(stack)["config"]["philosophy-infra:edge"]
    return config


@pytest.mark.parametrize("stack", STACKS)
def test_the_load_balancer_is_internal_and_hardened(request: pytest.FixtureRequest, stack: str) -> None:
    plan = stack_plan(request, stack)
    balancer = one(plan, "aws:lb/loadBalancer:LoadBalancer").inputs
    assert balancer["internal"] is True and balancer["loadBalancerType"] == "application"
    assert balancer["dropInvalidHeaderFields"] is True
    assert balancer["idleTimeout"] == edge_config(stack).get("idleTimeoutSeconds", 3600)
    private = plan.layer("aws").outputs["privateSubnetIds"]
    assert balancer["subnets"] == private
    protected = stack == "prod"
    assert balancer["enableDeletionProtection"] is protected
    assert bool((balancer.get("accessLogs") or {}).get("enabled")) is protected


def test_access_logs_go_to_a_protected_bucket_elb_may_write(prod_plan: StackPlan) -> None:
    bucket = one(prod_plan, "aws:s3/bucket:Bucket", "-access-logs")
    assert bucket.protect
    encryption = one(
        prod_plan,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "access-logs-encryption",
    ).inputs
    # The only encryption ELB's access logs support.
    assert encryption["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    policy = json.loads(one(prod_plan, "aws:s3/bucketPolicy:BucketPolicy", "access-logs-policy").inputs["policy"])
    [write] = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert write["Action"] == "s3:PutObject" and write["Resource"].endswith("/alb/AWSLogs/123456789012/*")
    assert write["Principal"]["Service"] == "logdelivery.elasticloadbalancing.amazonaws.com"
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Statement"]
    )
    balancer = one(prod_plan, "aws:lb/loadBalancer:LoadBalancer")
    policy_urn = one(prod_plan, "aws:s3/bucketPolicy:BucketPolicy", "access-logs-policy").urn
    assert policy_urn in balancer.dependencies


@pytest.mark.parametrize(("stack", "protocol", "port"), [("prod", "HTTPS", 443), ("staging", "HTTP", 80)])
def test_tls_13_with_a_domain_http_inside_the_vpc_without(
    request: pytest.FixtureRequest, stack: str, protocol: str, port: int
) -> None:
    plan = stack_plan(request, stack)
    [listener] = plan.of_type("aws:lb/listener:Listener")
    inputs = listener.inputs
    assert (inputs["protocol"], inputs["port"]) == (protocol, port)
    if protocol == "HTTPS":
        assert inputs["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"
        # The validated certificate: the listener waits until ACM has issued it.
        validation = next(
            r for r in plan.of_type("aws:acm/certificateValidation:CertificateValidation") if "load-balancer" in r.name
        )
        assert validation.urn in listener.dependencies
    else:
        assert "certificateArn" not in inputs and not plan.of_type("aws:acm/certificate:Certificate")


@pytest.mark.parametrize("stack", STACKS)
def test_only_the_gateways_pods_are_targets_and_only_the_load_balancer_reaches_them(
    request: pytest.FixtureRequest, stack: str
) -> None:
    plan = stack_plan(request, stack)
    group = one(plan, "aws:lb/targetGroup:TargetGroup").inputs
    assert (group["targetType"], group["protocol"], group["port"]) == ("ip", "HTTP", 80)
    assert (group["healthCheck"]["port"], group["healthCheck"]["path"]) == ("15021", "/healthz/ready")
    assert plan.layer("aws").outputs["gatewayTargetGroupArn"].startswith("arn:aws:elasticloadbalancing:")
    alb_group = one(plan, "aws:ec2/securityGroup:SecurityGroup", "service-load-balancer-security-group")
    rules = plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") + plan.of_type(
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
    )
    mine = [r for r in rules if r.name.startswith("service-load-balancer-")]
    # Egress from the load balancer and ingress into the nodes: exactly the gateway's two ports, from/to each other.
    to_nodes = sorted(r.inputs["fromPort"] for r in mine if r.type.endswith("EgressRule"))
    into_nodes = sorted(r.inputs["fromPort"] for r in mine if r.name.startswith("service-load-balancer-node-from"))
    assert to_nodes == into_nodes == [80, 15021]
    for rule in mine:
        assert "cidrIpv4" not in rule.inputs and "cidrIpv6" not in rule.inputs, rule.name
        assert rule.inputs["fromPort"] == rule.inputs["toPort"]
    assert alb_group.inputs["revokeRulesOnDelete"] is True


def test_with_a_domain_two_certificates_validated_in_its_zone(prod_plan: StackPlan) -> None:
    edge = edge_config("prod")
    certificates = {r.inputs["domainName"]: r for r in prod_plan.of_type("aws:acm/certificate:Certificate")}
    assert set(certificates) == {edge["domain"], f"origin.{edge['domain']}"}
    # CloudFront reads certificates in us-east-1 only; the load balancer's is in the stack's region.
    assert certificates[edge["domain"]].inputs["region"] == "us-east-1"
    assert certificates[f"origin.{edge['domain']}"].inputs.get("region") in (None, "")
    for certificate in certificates.values():
        assert certificate.inputs["validationMethod"] == "DNS"
    records = {r.inputs["name"]: r.inputs for r in prod_plan.of_type("aws:route53/record:Record")}
    assert all(r["zoneId"] == edge["hostedZoneId"] for r in records.values())
    validations = [n for n in records if n.startswith("_")]
    assert len(validations) == 2
    origin = records[f"origin.{edge['domain']}"]
    assert origin["type"] == "CNAME" and origin["records"][0].startswith("internal-")


def test_without_a_domain_there_is_no_certificate_and_no_record(staging_plan: StackPlan) -> None:
    assert "domain" not in edge_config("staging")
    assert not staging_plan.of_type("aws:acm/certificate:Certificate")
    assert not staging_plan.of_type("aws:route53/record:Record")


@pytest.mark.parametrize(("stack", "port"), [("prod", 443), ("staging", 80)])
def test_only_cloudfronts_vpc_origin_reaches_the_load_balancer(
    request: pytest.FixtureRequest, stack: str, port: int
) -> None:
    plan = stack_plan(request, stack)
    alb_group = one(plan, "aws:ec2/securityGroup:SecurityGroup", "service-load-balancer-security-group")
    ingress = [
        r
        for r in plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs["securityGroupId"] == f"{alb_group.name}-id"
    ]
    [rule] = ingress
    assert rule.name == "service-load-balancer-from-vpc-origin"
    assert (rule.inputs["fromPort"], rule.inputs["toPort"]) == (port, port)
    # The group CloudFront creates with the VPC origin, looked up in this VPC (the offline plan's stand-in id).
    assert rule.inputs["referencedSecurityGroupId"].startswith("sg-") and "cidrIpv4" not in rule.inputs


def test_the_access_logs_name_the_regions_elb_account_too(prod_plan: StackPlan) -> None:
    policy = json.loads(one(prod_plan, "aws:s3/bucketPolicy:BucketPolicy", "access-logs-policy").inputs["policy"])
    [write] = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    # eu-west-1 predates ELB's log delivery principal: its ELB account writes the logs (the provider's table).
    assert write["Principal"]["AWS"].startswith("arn:aws:iam::") and write["Principal"]["AWS"].endswith(":root")


def test_the_domain_aliases_the_distribution_over_ipv4_and_ipv6(prod_plan: StackPlan) -> None:
    domain = edge_config("prod")["domain"]
    aliases = {
        r.inputs["type"]: r.inputs for r in prod_plan.of_type("aws:route53/record:Record") if r.inputs["name"] == domain
    }
    assert set(aliases) == {"A", "AAAA"}
    distribution = one(prod_plan, "aws:cloudfront/distribution:Distribution")
    for record in aliases.values():
        [alias] = record["aliases"]
        assert alias["zoneId"] == "Z2FDTNDATAQYW2" and alias["name"].endswith(".cloudfront.net")
    assert distribution.inputs["aliases"] == [domain]
