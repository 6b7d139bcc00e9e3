"""The seed's Elasticsearch as an Amazon OpenSearch Service domain (AWS layer): private, encrypted everywhere,
no password anywhere (an IAM master role), sized per stack, its logs where OpenSearch may write them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from philosophy_infra.arns import role_arn_without_path
from philosophy_infra.config.base import StackConfigError
from philosophy_infra.plan import Plan
from tests.conftest import encode, raw_config, run_stack, stack_yaml

DOMAIN = "aws:opensearch/domain:Domain"


def domain(plan: Plan) -> dict[str, Any]:
    found: dict[str, Any] = plan.one(DOMAIN).inputs
    return found


def test_prod_is_multi_az_with_standby_and_dedicated_masters(prod_plan: Plan) -> None:
    d = domain(prod_plan)
    want = stack_yaml("prod")["config"]["philosophy-infra:search"]
    c = d["clusterConfig"]
    assert (c["instanceType"], c["instanceCount"]) == (want["instanceType"], want["instanceCount"])
    assert c["zoneAwarenessEnabled"] is True and c["zoneAwarenessConfig"] == {"availabilityZoneCount": 3}
    assert c["multiAzWithStandbyEnabled"] is True
    assert (c["dedicatedMasterEnabled"], c["dedicatedMasterCount"]) == (True, 3)
    assert d["engineVersion"] == "OpenSearch_3.3"
    assert d["ebsOptions"] == {"ebsEnabled": True, "volumeType": "gp3", "volumeSize": want["volumeGib"]}
    assert len(d["vpcOptions"]["subnetIds"]) == 3
    # OpenSearch's automated snapshots are hourly; the start hour is a legacy Elasticsearch setting.
    assert "snapshotOptions" not in d
    # Its indices live only here: a deploy cannot delete it in prod, and the diff flags a replacement.
    assert prod_plan.one(DOMAIN).protect


def test_staging_is_one_node_in_one_zone(staging_plan: Plan) -> None:
    d = domain(staging_plan)
    c = d["clusterConfig"]
    assert (c["instanceCount"], c["zoneAwarenessEnabled"], c["dedicatedMasterEnabled"]) == (1, False, False)
    assert len(d["vpcOptions"]["subnetIds"]) == 1
    assert not staging_plan.one(DOMAIN).protect


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_encrypted_everywhere_and_no_password_anywhere(stack: str, request: pytest.FixtureRequest) -> None:
    plan: Plan = request.getfixturevalue(f"{stack}_plan")
    d = domain(plan)
    key = plan.one("aws:kms/key:Key", "search-encryption-key")
    assert d["encryptAtRest"]["enabled"] is True and d["encryptAtRest"]["kmsKeyId"].startswith("arn:aws:kms:")
    assert key.inputs["enableKeyRotation"] is True
    assert d["nodeToNodeEncryption"] == {"enabled": True}
    assert d["domainEndpointOptions"] == {"enforceHttps": True, "tlsSecurityPolicy": "Policy-Min-TLS-1-2-PFS-2023-10"}
    security = d["advancedSecurityOptions"]
    admin = stack_yaml(stack)["config"]["philosophy-infra:cluster"]["adminRoleArn"]
    roles = plan.outputs["serviceAccountRoleArns"]
    # Fine-grained access control whose master is an IAM role (the search setup Job's): no password exists.
    assert security == {
        "enabled": True,
        "internalUserDatabaseEnabled": False,
        # The role as its signed requests show it: a session carries no path.
        "masterUserOptions": {"masterUserArn": role_arn_without_path(roles["search-admin"])},
    }
    policy = json.loads(d["accessPolicies"])
    [statement] = policy["Statement"]
    # The master, the two tenants (the api's search indices, Jaeger's traces) and the operators; nobody else.
    assert sorted(statement["Principal"]["AWS"]) == sorted(
        [roles["search-admin"], roles["philosophy-api"], roles["jaeger"], admin]
    )
    assert statement["Resource"].endswith(f":domain/philosophy-{stack}-search/*")


def test_only_the_nodes_reach_it_on_443(prod_plan: Plan) -> None:
    sg = prod_plan.one("aws:ec2/securityGroup:SecurityGroup", "search-sg")
    [rule] = [
        r.inputs
        for r in prod_plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.name == "search-from-nodes"
    ]
    assert (rule["fromPort"], rule["toPort"], rule["ipProtocol"]) == (443, 443, "tcp")
    assert "cidrIpv4" not in rule and rule["referencedSecurityGroupId"]
    assert domain(prod_plan)["vpcOptions"]["securityGroupIds"] == [sg.id]


def test_its_logs_go_to_encrypted_groups_it_may_write(prod_plan: Plan) -> None:
    d = domain(prod_plan)
    kinds = {o["logType"]: o["cloudwatchLogGroupArn"] for o in d["logPublishingOptions"]}
    assert set(kinds) == {"INDEX_SLOW_LOGS", "SEARCH_SLOW_LOGS", "ES_APPLICATION_LOGS"}
    groups = [g for g in prod_plan.of_type("aws:cloudwatch/logGroup:LogGroup") if g.name.startswith("search-log-")]
    assert len(groups) == 3 and all(g.inputs["kmsKeyId"] and g.inputs["retentionInDays"] == 365 for g in groups)
    [log_policy] = [
        p
        for p in prod_plan.of_type("aws:cloudwatch/logResourcePolicy:LogResourcePolicy")
        if p.name.startswith("search")
    ]
    [statement] = json.loads(log_policy.inputs["policyDocument"])["Statement"]
    assert statement["Principal"] == {"Service": "es.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert all(arn.startswith("arn:aws:logs:") and arn.endswith(":*") for arn in statement["Resource"])
    assert log_policy.urn in prod_plan.one(DOMAIN).dependencies


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"dedicatedMasters": None}, "philosophy-infra:search.multiAzWithStandby"),
        ({"instanceCount": 4}, "philosophy-infra:search.instanceCount"),
        ({"instanceType": "t2.small.search"}, "philosophy-infra:search.instanceType"),
        ({"engineVersion": "Elasticsearch_7.10"}, "philosophy-infra:search.engineVersion"),
    ],
)
def test_invalid_search_settings_are_refused_naming_the_key(change: dict[str, Any], key: str) -> None:
    raw = raw_config("prod")
    raw["philosophy-infra:search"].update(change)
    with pytest.raises(StackConfigError) as info:
        run_stack("prod", encode(raw))
    assert key in str(info.value)
