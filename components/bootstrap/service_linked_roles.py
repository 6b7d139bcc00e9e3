"""Service-linked roles the environments need and cannot own: one per account, shared by every environment.

`opensearchservice.amazonaws.com`: OpenSearch Service creates a VPC domain's network interfaces through it, and
refuses to create a VPC domain through the API until it exists. An account where it already exists: import it
(`pulumi -C bootstrap import aws:iam/serviceLinkedRole:ServiceLinkedRole service-roles-opensearch
arn:aws:iam::<account>:role/aws-service-role/opensearchservice.amazonaws.com/AWSServiceRoleForAmazonOpenSearchService`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True, kw_only=True)
class ServiceLinkedRolesArgs:
    services: dict[str, str] = field(default_factory=lambda: {"opensearch": "opensearchservice.amazonaws.com"})
    """By a stable suffix: the AWS service each role is for."""


class ServiceLinkedRoles(pulumi.ComponentResource):
    def __init__(self, name: str, args: ServiceLinkedRolesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:ServiceLinkedRoles", name, None, opts)
        for suffix, service in args.services.items():
            aws.iam.ServiceLinkedRole(
                f"{name}-{suffix}",
                aws_service_name=service,
                description=f"{service}, for every environment of this account",
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({})
