"""The one network rule a data store needs: its port, reachable only from the cluster's nodes."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws


def store_security_group(
    name: str,
    *,
    parent: pulumi.Resource,
    description: str,
    vpc_id: pulumi.Input[str],
    port: int,
    node_security_group_id: pulumi.Input[str],
) -> aws.ec2.SecurityGroup:
    """A security group admitting TCP `port` from the node security group and nothing else.

    It has no egress rule: the provider removes the allow-all rule AWS adds to a new group, and a data
    store never opens connections of its own."""
    group = aws.ec2.SecurityGroup(
        f"{name}-sg",
        description=description,
        vpc_id=vpc_id,
        revoke_rules_on_delete=True,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    aws.vpc.SecurityGroupIngressRule(
        f"{name}-from-nodes",
        security_group_id=group.id,
        referenced_security_group_id=node_security_group_id,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        description="from the EKS nodes",
        opts=pulumi.ResourceOptions(parent=group),
    )
    return group
