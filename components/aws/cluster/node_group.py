"""A managed node group: AL2023 nodes in private subnets, IMDSv2 only, encrypted root volumes, least-privilege role."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks

from components.aws.security.role_limits import RoleLimits
from philosophy_infra.config.cluster import CapacityType, Taint

# What a node needs and nothing more: join the cluster, pull images, run the VPC CNI, and SSM for shell
# access instead of SSH keys.
NODE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
)


@dataclass(frozen=True, kw_only=True)
class NodeGroupArgs:
    role_limits: RoleLimits
    cluster: eks.Cluster
    kubernetes_version: str
    """Set explicitly: with a custom launch template pulumi-eks would not move nodes along with the cluster."""
    name_prefix: str
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    instance_types: Sequence[str]
    min_size: int
    desired_size: int
    """Only the initial size: afterwards the cluster autoscaler owns it and deploys do not reset it."""
    max_size: int
    capacity_type: CapacityType = CapacityType.ON_DEMAND
    disk_size_gib: int = 50
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: Sequence[Taint] = ()
    resource_tags: Mapping[str, str] = field(default_factory=dict)
    """The stack's common tags: the provider's default tags never reach what a launch template tags."""


def node_group_name_prefix(name_prefix: str, key: str) -> str:
    """EKS names the group's Auto Scaling group `eks-<node group name>-<id>`: this prefix is how the capacity
    alarms find a group's launch failures. The provider appends 26 characters; EKS allows 63 in all."""
    return f"{name_prefix}-{key}-"


class NodeGroup(pulumi.ComponentResource):
    node_group: eks.ManagedNodeGroup
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: NodeGroupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:NodeGroup", name, None, opts)
        if not args.min_size <= args.desired_size <= args.max_size:
            raise ValueError(
                "min_size <= desired_size <= max_size must hold, "
                f"got {args.min_size}/{args.desired_size}/{args.max_size}"
            )
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-role",
            path=args.role_limits.path,
            permissions_boundary=args.role_limits.permissions_boundary,
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
                    ],
                }
            ),
            opts=child,
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-{arn.rsplit('/', 1)[1]}",
                role=role.name,
                policy_arn=arn,
                opts=pulumi.ResourceOptions(parent=role),
            )
            for arn in NODE_POLICIES
        ]
        launch_template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            description=f"{args.name_prefix} {name} nodes",
            update_default_version=True,
            # IMDSv2 only, hop limit 1: pods (one network hop away) cannot reach instance metadata, so they cannot
            # borrow the node role; they get AWS credentials through IRSA. Host-network agents still can.
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": 1,
            },
            block_device_mappings=[
                {
                    "device_name": "/dev/xvda",
                    "ebs": {
                        "volume_size": args.disk_size_gib,
                        "volume_type": "gp3",
                        "encrypted": "true",
                        "delete_on_termination": "true",
                    },
                }
            ],
            # The provider's default tags stop at the launch template itself (terraform-provider-aws #19387): the
            # instances, their volumes and network interfaces, which cost the money, get them here.
            tag_specifications=[
                {"resource_type": kind, "tags": {**args.resource_tags, "Name": f"{args.name_prefix}-{name}"}}
                for kind in ("instance", "volume", "network-interface")
            ],
            opts=child,
        )
        self.node_group = eks.ManagedNodeGroup(
            f"{name}-mng",
            cluster=args.cluster,
            # A prefix, not a name: replacing a group (new instance types) creates the new one first.
            node_group_name_prefix=node_group_name_prefix(args.name_prefix, name),
            node_role=role,
            operating_system=eks.OperatingSystem.AL2023,
            version=args.kubernetes_version,
            subnet_ids=args.subnet_ids,
            instance_types=list(args.instance_types),
            capacity_type=args.capacity_type.value,
            scaling_config={"min_size": args.min_size, "desired_size": args.desired_size, "max_size": args.max_size},
            ignore_scaling_changes=True,
            labels=dict(args.labels),
            taints=[{"key": t.key, "value": t.value, "effect": t.effect.value} for t in args.taints],
            launch_template={"id": launch_template.id, "version": launch_template.latest_version.apply(str)},
            opts=pulumi.ResourceOptions(parent=self, depends_on=attachments),
        )
        self.role_arn = role.arn
        self.register_outputs({"roleArn": self.role_arn})
