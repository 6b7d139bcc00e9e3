"""CloudWatch alarms of the data stores (AWS layer): every metric the issue names, per instance and per cache node,
thresholds from the stack file, to one KMS-encrypted topic that CloudWatch may publish to."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.aws.observability.data_store_alarms import cache_node_ids
from philosophy_infra.config.base import StackConfigError
from philosophy_infra.plan import Plan
from tests.conftest import encode, raw_config, run_stack, stack_yaml

STACKS = ["prod", "staging"]
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def alarms(plan: Plan) -> list[dict[str, Any]]:
    return [a.inputs for a in plan.of_type(ALARM)]


def test_cache_node_ids_follow_elasticache_naming() -> None:
    assert cache_node_ids("c", 2, 1, cluster_mode=True) == ["c-0001-001", "c-0001-002", "c-0002-001", "c-0002-002"]
    assert cache_node_ids("c", 1, 2, cluster_mode=False) == ["c-001", "c-002", "c-003"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_data_store_metric_is_alarmed_with_the_stacks_thresholds(
    stack: str, request: pytest.FixtureRequest
) -> None:
    plan: Plan = request.getfixturevalue(f"{stack}_plan")
    config = stack_yaml(stack)["config"]
    want = config["philosophy-infra:alarms"]
    found = alarms(plan)
    database = {a["metricName"]: a for a in found if a["namespace"] == "AWS/RDS"}
    # No ReplicaLag: a Multi-AZ standby reports none, so it could never fire.
    assert set(database) == {
        "CPUUtilization",
        "FreeableMemory",
        "FreeStorageSpace",
        "DatabaseConnections",
    }
    assert {a["dimensions"]["DBInstanceIdentifier"] for a in database.values()} == {f"philosophy-{stack}-postgres"}
    assert database["CPUUtilization"]["threshold"] == want["database"]["cpuPercent"]
    assert database["FreeableMemory"]["threshold"] == want["database"]["freeMemoryMib"] * 1024**2
    assert database["FreeableMemory"]["comparisonOperator"] == "LessThanThreshold"
    assert database["FreeStorageSpace"]["threshold"] == want["database"]["freeStorageGib"] * 1024**3
    assert database["DatabaseConnections"]["threshold"] == want["database"]["connections"]
    # Per node: ElastiCache reports engine metrics per member cluster, so every node of every shard is watched.
    cache = config["philosophy-infra:cache"]
    nodes = cache["shards"] * (cache["replicasPerShard"] + 1)
    by_metric: dict[str, set[str]] = {}
    for a in found:
        if a["namespace"] == "AWS/ElastiCache":
            by_metric.setdefault(a["metricName"], set()).add(a["dimensions"]["CacheClusterId"])
    assert set(by_metric) == {"EngineCPUUtilization", "DatabaseMemoryUsagePercentage", "Evictions", "ReplicationLag"}
    assert all(len(ids) == nodes for ids in by_metric.values())
    assert all(i.startswith(f"philosophy-{stack}-cache-") for ids in by_metric.values() for i in ids)
    for a in found:
        assert a["evaluationPeriods"] == want["evaluationMinutes"] and a["period"] == 60
        # An instance that stops reporting is not healthy; only metrics absent by nature do not breach.
        absent_by_nature = a["metricName"] in {"Evictions", "ReplicationLag"}
        assert a["treatMissingData"] == ("notBreaching" if absent_by_nature else "missing"), a["metricName"]


def test_alarms_reach_one_encrypted_topic_cloudwatch_may_publish_to(prod_plan: Plan) -> None:
    topic = prod_plan.one("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"].startswith("arn:aws:kms:")
    for alarm in alarms(prod_plan):
        assert alarm["alarmActions"] == alarm["okActions"] == [prod_plan.outputs["alarmTopicArn"]]
    key = prod_plan.one("aws:kms/key:Key", "alarms-encryption-key")
    [statement] = [
        s for s in json.loads(key.inputs["policy"])["Statement"] if s["Sid"] == "ServicesUseTheKeyForThisAccount"
    ]
    assert statement["Principal"] == {"Service": ["cloudwatch.amazonaws.com"]}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    # No subscriptions in the committed stacks: the alarms show in the console until someone is named.
    assert prod_plan.of_type("aws:sns/topicSubscription:TopicSubscription") == []


def test_subscriptions_come_from_config_and_bad_endpoints_are_refused() -> None:
    raw = raw_config("staging")
    raw["philosophy-infra:alarms"]["subscriptions"] = [
        {"protocol": "email", "endpoint": "oncall@philosophy.dev"},
        {"protocol": "https", "endpoint": "https://hooks.philosophy.dev/alerts"},
    ]
    plan = run_stack("staging", encode(raw))
    subs = {
        (s.inputs["protocol"], s.inputs["endpoint"])
        for s in plan.of_type("aws:sns/topicSubscription:TopicSubscription")
    }
    assert subs == {("email", "oncall@philosophy.dev"), ("https", "https://hooks.philosophy.dev/alerts")}
    raw["philosophy-infra:alarms"]["subscriptions"] = [{"protocol": "https", "endpoint": "http://hooks.philosophy.dev"}]
    with pytest.raises(StackConfigError) as info:
        run_stack("staging", encode(raw))
    assert "philosophy-infra:alarms.subscriptions[0].endpoint" in str(info.value)
