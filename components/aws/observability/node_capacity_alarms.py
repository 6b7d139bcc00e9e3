"""Whether the node groups can grow, told from AWS's side to the alarm topic: it works when the cluster is down.

- Launch failures: EventBridge forwards every "EC2 Instance Launch Unsuccessful" of a node group's Auto Scaling
  group (no capacity in the zones, a quota reached, a bad launch template) as it happens.
- The EC2 vCPU quota: the account's running vCPUs of each instance class the groups use, as a share of the
  quota (`SERVICE_QUOTA`), above a configured percentage. At the quota every scale-up fails.
Not Auto Scaling's group metrics (in service against maximum): EKS owns the groups' Auto Scaling groups and
leaves their metrics collection off; turning it on from here would make two owners of one object.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from philosophy_infra.config.cluster import CapacityType

# EC2's vCPU quotas by instance class: the families each quota counts (Service Quotas, "Running On-Demand
# ... instances"). Longer prefixes first: `inf1` is not an `i`.
_CLASSES = (
    ("inf", "Inf"),
    ("trn", "Trn"),
    ("dl", "DL"),
    ("vt", "G"),
    ("g", "G"),
    ("p", "P"),
    ("f", "F"),
    ("x", "X"),
    *((letter, "Standard") for letter in "acdhimrtz"),
)
_UNCOUNTED = ("hpc", "mac", "u-")
"""Families whose quotas count hosts or instances, not vCPUs."""


def vcpu_quota_class(instance_type: str) -> str | None:
    """The `Class` dimension prefix of the vCPU quota that counts this instance type, or None when no vCPU quota
    does (dedicated hosts, high memory)."""
    family = instance_type.split(".", 1)[0]
    if family.startswith(_UNCOUNTED):
        return None
    return next((cls for prefix, cls in _CLASSES if family.startswith(prefix)), None)


def quota_classes(groups: Mapping[str, tuple[Sequence[str], CapacityType]]) -> list[str]:
    """The `Class` dimensions (`Standard/OnDemand`, `G/Spot`, ...) the node groups' instances count against."""
    purchase = {CapacityType.ON_DEMAND: "OnDemand", CapacityType.SPOT: "Spot"}
    classes = {
        f"{cls}/{purchase[capacity]}"
        for instance_types, capacity in groups.values()
        for instance_type in instance_types
        if (cls := vcpu_quota_class(instance_type))
    }
    return sorted(classes)


def launch_failure_pattern(name_prefixes: Sequence[str]) -> str:
    return json.dumps(
        {
            "source": ["aws.autoscaling"],
            "detail-type": ["EC2 Instance Launch Unsuccessful"],
            "detail": {"AutoScalingGroupName": [{"prefix": f"eks-{p}"} for p in sorted(name_prefixes)]},
        }
    )


@dataclass(frozen=True, kw_only=True)
class NodeCapacityAlarmsArgs:
    name_prefix: str
    groups: Mapping[str, tuple[Sequence[str], CapacityType]]
    """Node group key -> (instance types, capacity type)."""
    group_name_prefixes: Sequence[str]
    """The node groups' EKS name prefixes (`NodeGroup`'s `node_group_name_prefix`)."""
    vcpu_quota_percent: float
    evaluation_minutes: int
    topic_arn: pulumi.Input[str]
    """The alarm topic, which lets EventBridge publish and whose key EventBridge may use."""


class NodeCapacityAlarms(pulumi.ComponentResource):
    def __init__(self, name: str, args: NodeCapacityAlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:NodeCapacityAlarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        rule = aws.cloudwatch.EventRule(
            f"{name}-launch-failures",
            description=f"{args.name_prefix}: a node group could not launch an instance",
            event_pattern=launch_failure_pattern(args.group_name_prefixes),
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-launch-failures-to-topic",
            rule=rule.name,
            arn=args.topic_arn,
            # What was asked for and why it failed, in one line of the notification.
            input_transformer={
                "input_paths": {"group": "$.detail.AutoScalingGroupName", "cause": "$.detail.StatusMessage"},
                "input_template": f'"{args.name_prefix}: node group <group> could not launch an instance: <cause>"',
            },
            opts=pulumi.ResourceOptions(parent=rule),
        )
        for cls in quota_classes(args.groups):
            suffix = cls.lower().replace("/", "-")
            aws.cloudwatch.MetricAlarm(
                f"{name}-vcpu-quota-{suffix}",
                alarm_description=(
                    f"{args.name_prefix}: running {cls} vCPUs above {args.vcpu_quota_percent:g}% of the account's "
                    "EC2 quota; at the quota the node groups cannot grow (Service Quotas: request an increase)"
                ),
                metric_queries=[
                    {
                        "id": "vcpus",
                        "metric": {
                            "namespace": "AWS/Usage",
                            "metric_name": "ResourceCount",
                            "dimensions": {"Service": "EC2", "Type": "Resource", "Resource": "vCPU", "Class": cls},
                            "period": 300,
                            "stat": "Maximum",
                        },
                    },
                    {
                        "id": "percent",
                        "expression": "100 * vcpus / SERVICE_QUOTA(vcpus)",
                        "label": f"{cls} vCPUs, % of quota",
                        "return_data": True,
                    },
                ],
                comparison_operator="GreaterThanThreshold",
                threshold=args.vcpu_quota_percent,
                # Five-minute periods: usage metrics are coarse; this many of them must breach.
                evaluation_periods=max(1, args.evaluation_minutes // 5),
                # No instances of a class means no usage datapoints, which is not a capacity problem.
                treat_missing_data="notBreaching",
                alarm_actions=[args.topic_arn],
                ok_actions=[args.topic_arn],
                opts=child,
            )
        self.register_outputs({})
