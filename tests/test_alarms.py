"""CloudWatch alarms of the data stores (AWS layer): every metric the issue names, per instance and per cache node,
thresholds from the stack file, to one KMS-encrypted topic that CloudWatch may publish to."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.aws.cluster.node_group import node_group_name_prefix
from components.aws.observability.data_store_alarms import cache_node_ids
from components.aws.observability.node_capacity_alarms import quota_classes, vcpu_quota_class
from philosophy_infra.config.base import StackConfigError
from philosophy_infra.config.cluster import CapacityType
from philosophy_infra.plan import Plan
from tests.conftest import encode, raw_config, run_stack, stack_yaml

STACKS = ["prod", "staging"]
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def alarms(plan: Plan) -> list[dict[str, Any]]:
    """The data stores' alarms (one metric each; the capacity alarms are metric math)."""
    return [a.inputs for a in plan.of_type(ALARM) if "metricName" in a.inputs]


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
    assert statement["Principal"] == {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]}
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


@pytest.mark.parametrize(
    ("instance_type", "quota_class"),
    [
        ("m7i.large", "Standard"),
        ("c5.xlarge", "Standard"),
        ("r7g.2xlarge", "Standard"),
        ("t3.medium", "Standard"),
        ("im4gn.large", "Standard"),
        ("inf2.xlarge", "Inf"),
        ("g6.xlarge", "G"),
        ("vt1.3xlarge", "G"),
        ("p5.48xlarge", "P"),
        ("trn1.32xlarge", "Trn"),
        ("x2idn.16xlarge", "X"),
        ("dl1.24xlarge", "DL"),
        ("hpc7g.16xlarge", None),
        ("mac2.metal", None),
        ("u-6tb1.metal", None),
    ],
)
def test_instance_types_count_against_their_vcpu_quota_class(instance_type: str, quota_class: str | None) -> None:
    assert vcpu_quota_class(instance_type) == quota_class


def test_quota_classes_follow_the_groups_purchase_options() -> None:
    groups = {
        "general": (["m7i.large", "m6i.large"], CapacityType.ON_DEMAND),
        "gpu": (["g6.xlarge"], CapacityType.SPOT),
        "batch": (["c7i.large"], CapacityType.SPOT),
    }
    assert quota_classes(groups) == ["G/Spot", "Standard/OnDemand", "Standard/Spot"]


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """EventBridge's matching, for the operators this program uses: a list of values or of `prefix` objects."""
    for key, wanted in pattern.items():
        if isinstance(wanted, dict):
            if not isinstance(event.get(key), dict) or not matches(wanted, event[key]):
                return False
        elif not any(
            (isinstance(w, dict) and str(event.get(key, "")).startswith(w["prefix"])) or w == event.get(key)
            for w in wanted
        ):
            return False
    return True


def test_node_group_launch_failures_reach_the_alarm_topic(prod_plan: Plan) -> None:
    rule = prod_plan.one("aws:cloudwatch/eventRule:EventRule", "node-capacity-launch-failures")
    pattern = json.loads(rule.inputs["eventPattern"])
    groups = stack_yaml("prod")["config"]["philosophy-infra:nodeGroups"]
    # What EKS names a managed node group's Auto Scaling group: `eks-<node group name>-<id>`.
    for key in groups:
        name = f"{node_group_name_prefix('philosophy-prod', key)}20261126015500123400000001"
        event = {
            "source": "aws.autoscaling",
            "detail-type": "EC2 Instance Launch Unsuccessful",
            "detail": {"AutoScalingGroupName": f"eks-{name}-12c6f0e4-8f3a-4d5b-9c1e-0123456789ab"},
        }
        assert matches(pattern, event), key
        assert not matches(pattern, {**event, "detail-type": "EC2 Instance Launch Successful"})
    other = {
        "source": "aws.autoscaling",
        "detail-type": "EC2 Instance Launch Unsuccessful",
        "detail": {"AutoScalingGroupName": "eks-philosophy-staging-general-2026-12c6f0e4"},
    }
    assert not matches(pattern, other)
    # The node groups are named with exactly the prefix the rule matches.
    prefixes = {g.inputs["nodeGroupNamePrefix"] for g in prod_plan.of_type("eks:index:ManagedNodeGroup")}
    assert prefixes == {f"philosophy-prod-{key}-" for key in groups}
    [target] = prod_plan.of_type("aws:cloudwatch/eventTarget:EventTarget")
    assert target.inputs["arn"] == prod_plan.outputs["alarmTopicArn"]
    policy = json.loads(prod_plan.one("aws:sns/topicPolicy:TopicPolicy").inputs["policy"])
    [events] = [s for s in policy["Statement"] if s["Principal"] == {"Service": "events.amazonaws.com"}]
    assert events["Action"] == "sns:Publish"
    assert events["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_vcpu_quota_alarm_is_usage_over_the_quota_with_the_stacks_threshold(prod_plan: Plan) -> None:
    want = stack_yaml("prod")["config"]["philosophy-infra:alarms"]["nodes"]["vcpuQuotaPercent"]
    [alarm] = [a.inputs for a in prod_plan.of_type(ALARM) if "metricQueries" in a.inputs]
    usage, percent = alarm["metricQueries"]
    assert usage["metric"]["namespace"] == "AWS/Usage" and usage["metric"]["metricName"] == "ResourceCount"
    assert usage["metric"]["dimensions"] == {
        "Service": "EC2",
        "Type": "Resource",
        "Resource": "vCPU",
        "Class": "Standard/OnDemand",
    }
    assert percent["expression"] == f"100 * {usage['id']} / SERVICE_QUOTA({usage['id']})"
    assert percent["returnData"] is True and not usage.get("returnData")
    assert alarm["threshold"] == want and alarm["comparisonOperator"] == "GreaterThanThreshold"
    assert alarm["alarmActions"] == [prod_plan.outputs["alarmTopicArn"]]


def test_a_node_group_prefix_eks_cannot_hold_is_refused() -> None:
    raw = raw_config("staging")
    groups = raw["philosophy-infra:nodeGroups"]
    groups["a-rather-long-node-group-key"] = groups.pop(next(iter(groups)))
    with pytest.raises(StackConfigError) as info:
        run_stack("staging", encode(raw))
    message = str(info.value)
    assert "philosophy-infra:nodeGroups.a-rather-long-node-group-key" in message and "at most 37" in message


@pytest.mark.parametrize("stack", STACKS)
def test_the_search_domain_has_awss_recommended_alarms_with_the_stacks_thresholds(
    stack: str, request: pytest.FixtureRequest
) -> None:
    plan: Plan = request.getfixturevalue(f"{stack}_plan")
    config = stack_yaml(stack)["config"]
    want = config["philosophy-infra:alarms"]["search"]
    volume_gib = config["philosophy-infra:search"].get("volumeGib", 20)
    found = {a["metricName"]: a for a in alarms(plan) if a["namespace"] == "AWS/ES"}
    assert set(found) == {
        "ClusterStatus.red",
        "ClusterIndexWritesBlocked",
        "FreeStorageSpace",
        "JVMMemoryPressure",
        "AutomatedSnapshotFailure",
    }
    domain = plan.one("aws:opensearch/domain:Domain").inputs["domainName"]
    for alarm in found.values():
        # OpenSearch Service reports domain metrics by domain name and account.
        assert alarm["dimensions"] == {"DomainName": domain, "ClientId": "123456789012"}
        assert alarm["alarmActions"] == [plan.outputs["alarmTopicArn"]]
    # FreeStorageSpace is in MiB, its minimum the fullest data node.
    free = found["FreeStorageSpace"]
    assert free["statistic"] == "Minimum" and free["comparisonOperator"] == "LessThanOrEqualToThreshold"
    assert free["threshold"] == volume_gib * 1024 * want["freeStoragePercent"] / 100
    assert found["JVMMemoryPressure"]["threshold"] == want["jvmMemoryPressurePercent"]
    assert found["ClusterStatus.red"]["threshold"] == 1
