"""The `cluster` and `nodeGroups` sections: the EKS control plane, who reaches its API, and the managed node groups."""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import StrEnum
from ipaddress import IPv4Network

from pydantic import Field

from philosophy_infra.config.base import LOG_RETENTION_DAYS, ConfigIssue, Model
from philosophy_infra.support_calendar import EKS_STANDARD_SUPPORT_END


class EndpointAccess(StrEnum):
    """Who can reach the Kubernetes API endpoint."""

    PRIVATE = "private"  # only from inside the VPC (and what it is connected to, e.g. the VPN)
    PRIVATE_AND_PUBLIC = "privateAndPublic"  # also from the internet, but only from cluster.publicAccessCidrs


class TaintEffect(StrEnum):
    """The EKS API's spelling; pods tolerate the same taint as NoSchedule / NoExecute / PreferNoSchedule."""

    NO_SCHEDULE = "NO_SCHEDULE"
    NO_EXECUTE = "NO_EXECUTE"
    PREFER_NO_SCHEDULE = "PREFER_NO_SCHEDULE"

    @property
    def kubernetes(self) -> str:
        return {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}[
            self.value
        ]


class CapacityType(StrEnum):
    ON_DEMAND = "ON_DEMAND"
    SPOT = "SPOT"


# Kubernetes minor versions EKS offers in standard support, with their end dates (philosophy_infra/
# support_calendar.py). 1.34 leaves standard support on 2026-12-02, so new clusters start at 1.35.
EKS_STANDARD_SUPPORT = EKS_STANDARD_SUPPORT_END
# The taint and label key and value grammar the Kubernetes API enforces.
_K8S_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_NODE_GROUP_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_ROLE_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]+$")
# Labels the program sets itself on every node.
PROGRAM_LABELS = ("Environment",)


_K8S_NAME_RULE = "at most 63 characters of letters, digits, '-', '_' or '.', starting and ending alphanumeric"


def label_key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return "the prefix before '/' must be a DNS subdomain (lowercase, at most 253 characters)"
    if not _K8S_NAME.fullmatch(name):
        return f"must be {_K8S_NAME_RULE}"
    return None


def label_value_problem(value: str) -> str | None:
    if value and not _K8S_NAME.fullmatch(value):
        return f"must be empty or {_K8S_NAME_RULE}"
    return None


_SECURITY_GROUP_ID = re.compile(r"^sg-[0-9a-f]{8}([0-9a-f]{9})?$")


class ApiAccessConfig(Model):
    """Who may open connections to the private API endpoint (tcp/443), besides the deploy runner, which is
    always admitted: a VPN's or a bastion's security group, or private networks routed into the VPC."""

    security_group_ids: list[str] = Field(default_factory=list)
    cidrs: list[IPv4Network] = Field(default_factory=list)

    def issues(self) -> Iterator[ConfigIssue]:
        for i, group in enumerate(self.security_group_ids):
            if not _SECURITY_GROUP_ID.fullmatch(group):
                yield ConfigIssue(
                    f"cluster.apiAccess.securityGroupIds[{i}]",
                    group,
                    "must be a security group id like sg-0123456789abcdef0",
                )
        for i, block in enumerate(self.cidrs):
            if block.prefixlen == 0:
                yield ConfigIssue(f"cluster.apiAccess.cidrs[{i}]", str(block), "the whole internet is never allowed")
            elif block.is_global:
                yield ConfigIssue(
                    f"cluster.apiAccess.cidrs[{i}]",
                    str(block),
                    "must be a private network (VPN, bastion); public networks reach the API only through "
                    "endpointAccess: privateAndPublic and publicAccessCidrs",
                )


class ClusterConfig(Model):
    kubernetes_version: str
    endpoint_access: EndpointAccess = EndpointAccess.PRIVATE
    public_access_cidrs: list[IPv4Network] = Field(default_factory=list)
    admin_role_arn: str
    api_access: ApiAccessConfig = Field(default_factory=ApiAccessConfig)
    control_plane_log_retention_days: int = 90
    addon_versions: dict[str, str] = Field(default_factory=dict)
    """Pinned add-on versions by EKS add-on name; an add-on left out gets EKS's default version for the cluster's
    Kubernetes version (which moves only when EKS changes its default, not with every new build)."""

    def issues(self) -> Iterator[ConfigIssue]:
        if self.kubernetes_version not in EKS_STANDARD_SUPPORT:
            yield ConfigIssue(
                "cluster.kubernetesVersion",
                self.kubernetes_version,
                f"must be a version EKS offers in standard support: {', '.join(EKS_STANDARD_SUPPORT)}",
            )
        if self.endpoint_access is EndpointAccess.PRIVATE and self.public_access_cidrs:
            yield ConfigIssue(
                "cluster.publicAccessCidrs",
                [str(c) for c in self.public_access_cidrs],
                "only allowed with endpointAccess: privateAndPublic",
            )
        if self.endpoint_access is EndpointAccess.PRIVATE_AND_PUBLIC and not self.public_access_cidrs:
            yield ConfigIssue(
                "cluster.publicAccessCidrs", [], "endpointAccess privateAndPublic needs the CIDRs allowed to reach it"
            )
        for i, block in enumerate(self.public_access_cidrs):
            if block.prefixlen == 0:
                yield ConfigIssue(f"cluster.publicAccessCidrs[{i}]", str(block), "the whole internet is never allowed")
            elif not block.is_global:
                yield ConfigIssue(f"cluster.publicAccessCidrs[{i}]", str(block), "must be a public (internet) range")
        yield from self.api_access.issues()
        if not _ROLE_ARN.fullmatch(self.admin_role_arn):
            yield ConfigIssue(
                "cluster.adminRoleArn",
                self.admin_role_arn,
                "must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
            )
        if self.control_plane_log_retention_days not in LOG_RETENTION_DAYS:
            yield ConfigIssue(
                "cluster.controlPlaneLogRetentionDays",
                self.control_plane_log_retention_days,
                "must be a CloudWatch Logs retention value",
            )
        for addon in self.addon_versions:
            if addon not in KNOWN_ADDONS:
                yield ConfigIssue(
                    f"cluster.addonVersions.{addon}", addon, f"unknown add-on; known: {', '.join(KNOWN_ADDONS)}"
                )


KNOWN_ADDONS = ("vpc-cni", "kube-proxy", "coredns", "aws-ebs-csi-driver", "metrics-server")


class Taint(Model):
    key: str
    value: str = ""
    effect: TaintEffect


class NodeGroupConfig(Model):
    """One managed node group; its labels and taints are also what workloads select and tolerate."""

    instance_types: list[str] = Field(min_length=1)
    min_size: int = Field(ge=0, le=1000)
    desired_size: int = Field(ge=0, le=1000)
    max_size: int = Field(ge=1, le=1000)
    capacity_type: CapacityType = CapacityType.ON_DEMAND
    disk_size_gib: int = Field(default=50, ge=20, le=16384)
    labels: dict[str, str] = Field(default_factory=dict)
    taints: list[Taint] = Field(default_factory=list, max_length=50)

    def pod_tolerations(self) -> list[dict[str, str]]:
        """The pod tolerations for this group's taints, in the Kubernetes spelling (NoSchedule)."""
        return [
            {"key": t.key, "operator": "Equal", "value": t.value, "effect": t.effect.kubernetes} for t in self.taints
        ]

    def issues(self, key: str) -> Iterator[ConfigIssue]:
        if not self.min_size <= self.desired_size <= self.max_size:
            yield ConfigIssue(
                f"{key}.desiredSize",
                {"minSize": self.min_size, "desiredSize": self.desired_size, "maxSize": self.max_size},
                "minSize <= desiredSize <= maxSize must hold",
            )
        for i, instance_type in enumerate(self.instance_types):
            if not _INSTANCE_TYPE.fullmatch(instance_type):
                yield ConfigIssue(
                    f"{key}.instanceTypes[{i}]", instance_type, "must be an EC2 instance type like t3.large"
                )
        for label, value in self.labels.items():
            if label in PROGRAM_LABELS:
                yield ConfigIssue(f"{key}.labels.{label}", value, "set by the program from `environment`; remove it")
            elif problem := label_key_problem(label):
                yield ConfigIssue(f"{key}.labels.{label}", label, f"label key {problem}")
            elif problem := label_value_problem(value):
                yield ConfigIssue(f"{key}.labels.{label}", value, f"label value {problem}")
        for i, taint in enumerate(self.taints):
            if problem := label_key_problem(taint.key):
                yield ConfigIssue(f"{key}.taints[{i}].key", taint.key, f"taint key {problem}")
            if problem := label_value_problem(taint.value):
                yield ConfigIssue(f"{key}.taints[{i}].value", taint.value, f"taint value {problem}")
