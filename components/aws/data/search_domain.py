"""The seed's Elasticsearch as an Amazon OpenSearch Service domain, in the database subnets.

- Encrypted at rest with its own key, node to node, and HTTPS only with TLS 1.2 or newer.
- Fine-grained access control whose master user is an IAM role, the search setup Job's (IRSA): no password
  exists, in config, state or anywhere else. That Job maps the tenants' roles (the api's `philosophy-*`
  indices, Jaeger's traces) and the operators' role, each an IAM role the domain's access policy lets in.
- A security group admitting 443 from the cluster's nodes only; no public endpoint (VPC domain).
- Slow and error logs to log groups encrypted with the domain's key, which OpenSearch may write (a CloudWatch
  Logs resource policy, for these groups only).
- Automated snapshots are OpenSearch Service's own: hourly, kept 14 days, no hour to choose
  (`AutomatedSnapshotStartHour` applies to legacy Elasticsearch only). `protect` in protected stacks.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.data.store_security_group import store_security_group
from components.aws.security.encryption_key import EncryptionKey, EncryptionKeyArgs
from philosophy_infra.arns import role_arn_without_path
from philosophy_infra.config.base import DataProtection
from philosophy_infra.config.search import SearchConfig

TLS_POLICY = "Policy-Min-TLS-1-2-PFS-2023-10"
LOGS = {"INDEX_SLOW_LOGS": "index-slow", "SEARCH_SLOW_LOGS": "search-slow", "ES_APPLICATION_LOGS": "error"}


@dataclass(frozen=True, kw_only=True)
class SearchDomainArgs:
    domain_name: str
    """At most 28 characters: lowercase letters, digits and hyphens, starting with a letter."""
    settings: SearchConfig
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """The database subnets, in zone order; the first `zoneCount` are used."""
    node_security_group_id: pulumi.Input[str]
    master_role_arn: pulumi.Input[str]
    """The search setup Job's role (IRSA), the only one with all rights before it maps the others."""
    client_role_arns: Sequence[pulumi.Input[str]]
    """The IAM roles (IRSA, and the operators') that may send requests; role mappings say what each may do."""
    data_protection: DataProtection = DataProtection.PROTECTED


class SearchDomain(pulumi.ComponentResource):
    endpoint: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: SearchDomainArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:SearchDomain", name, None, opts)
        s = args.settings
        protected = args.data_protection is DataProtection.PROTECTED
        invoke = pulumi.InvokeOutputOptions(parent=self)
        partition = aws.get_partition_output(opts=invoke).partition
        region = aws.get_region_output(opts=invoke).region
        account = aws.get_caller_identity_output(opts=invoke).account_id
        log_prefix = f"/aws/opensearch/{args.domain_name}/"
        key = EncryptionKey(
            f"{name}-encryption",
            EncryptionKeyArgs(
                description=f"{args.domain_name}: OpenSearch data and logs",
                alias=args.domain_name,
                log_group_prefix=log_prefix,
                data_protection=args.data_protection,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        groups = {
            kind: aws.cloudwatch.LogGroup(
                f"{name}-log-{suffix}",
                name=f"{log_prefix}{suffix}",
                retention_in_days=s.log_retention_days,
                kms_key_id=key.key_arn,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for kind, suffix in LOGS.items()
        }
        # OpenSearch writes through CloudWatch Logs' resource policy, not a role: these groups, this account only.
        log_policy = aws.cloudwatch.LogResourcePolicy(
            f"{name}-log-policy",
            policy_name=f"{args.domain_name}-opensearch-logs",
            policy_document=pulumi.Output.all(account, *(g.arn for g in groups.values())).apply(
                lambda v: opensearch_log_policy(v[0], v[1:])
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        group = store_security_group(
            name,
            parent=self,
            description=f"{args.domain_name} OpenSearch: HTTPS from the cluster's nodes",
            vpc_id=args.vpc_id,
            port=443,
            node_security_group_id=args.node_security_group_id,
        )
        domain_arn = pulumi.Output.all(partition, region, account).apply(
            lambda v: f"arn:{v[0]}:es:{v[1]}:{v[2]}:domain/{args.domain_name}"
        )
        masters = s.dedicated_masters
        cluster_config = aws.opensearch.DomainClusterConfigArgs(
            instance_type=s.instance_type,
            instance_count=s.instance_count,
            zone_awareness_enabled=s.zone_count > 1,
            zone_awareness_config=(
                aws.opensearch.DomainClusterConfigZoneAwarenessConfigArgs(availability_zone_count=s.zone_count)
                if s.zone_count > 1
                else None
            ),
            multi_az_with_standby_enabled=s.multi_az_with_standby,
            dedicated_master_enabled=masters is not None,
            dedicated_master_type=masters.instance_type if masters else None,
            dedicated_master_count=masters.count if masters else None,
        )
        self.domain = aws.opensearch.Domain(
            f"{name}-domain",
            domain_name=args.domain_name,
            engine_version=s.engine_version,
            cluster_config=cluster_config,
            ebs_options={"ebs_enabled": True, "volume_type": "gp3", "volume_size": s.volume_gib},
            encrypt_at_rest={"enabled": True, "kms_key_id": key.key_arn},
            node_to_node_encryption={"enabled": True},
            domain_endpoint_options={"enforce_https": True, "tls_security_policy": TLS_POLICY},
            advanced_security_options={
                "enabled": True,
                "internal_user_database_enabled": False,
                # As the master's signed requests show it (a session carries no path: philosophy_infra.arns); the
                # access policy below names the role itself, path and all, as IAM requires.
                "master_user_options": {
                    "master_user_arn": pulumi.Output.from_input(args.master_role_arn).apply(role_arn_without_path)
                },
            },
            vpc_options={
                "subnet_ids": pulumi.Output.from_input(args.subnet_ids).apply(lambda ids: list(ids)[: s.zone_count]),
                "security_group_ids": [group.id],
            },
            access_policies=pulumi.Output.all(domain_arn, args.master_role_arn, *args.client_role_arns).apply(
                lambda v: domain_access_policy(v[0], v[1:])
            ),
            log_publishing_options=[
                {"log_type": kind, "cloudwatch_log_group_arn": g.arn, "enabled": True} for kind, g in groups.items()
            ],
            # The index data lives only here; a replacement would start empty.
            opts=pulumi.ResourceOptions(parent=self, protect=protected, depends_on=[log_policy]),
        )
        self.endpoint = self.domain.endpoint
        self.arn = self.domain.arn
        self.register_outputs({"endpoint": self.endpoint, "arn": self.arn})


def domain_access_policy(domain_arn: str, principals: Sequence[str]) -> str:
    """Who may send requests at all: the master role and the service's roles. Fine-grained access control then
    decides what each may do."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": sorted(set(principals))},
                    "Action": "es:ESHttp*",
                    "Resource": f"{domain_arn}/*",
                }
            ],
        }
    )


def opensearch_log_policy(account: str, log_group_arns: Sequence[str]) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "es.amazonaws.com"},
                    "Action": ["logs:PutLogEvents", "logs:CreateLogStream"],
                    "Resource": [f"{arn}:*" for arn in sorted(log_group_arns)],
                    "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                }
            ],
        }
    )
