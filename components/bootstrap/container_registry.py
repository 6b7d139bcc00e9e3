"""The ECR repositories of the service's images (`<namespace>/<name>`): tags immutable, encrypted with the
account's key, scanned, pruned by a lifecycle policy, and replicated into the DR region, where a repository
creation template gives the replicas the same settings (and a DR-region key)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.bootstrap.policies import (
    ROLE_PATH,
    ecr_lifecycle_policy,
    repository_arn,
    repository_creation_role_policy,
    service_key_policy,
)
from philosophy_infra.config.base import DataProtection
from philosophy_infra.config.bootstrap import EcrScanning


@dataclass(frozen=True, kw_only=True)
class ContainerRegistryArgs:
    namespace: str
    repositories: Sequence[str]
    region: str
    dr_region: str
    dr_provider: pulumi.ProviderResource
    """An AWS provider for `dr_region`: the replicas' key and creation template are created through it."""
    key_alias: str
    """Without `alias/`; the DR region's key gets `<key_alias>-dr`."""
    keep_releases: int = 30
    untagged_expire_days: int = 7
    scanning: EcrScanning = EcrScanning.BASIC
    ci_role_arns: Sequence[pulumi.Input[str]] = field(default_factory=tuple)
    """Every CI role: none may change the keys (ECR itself uses them, through grants)."""
    data_protection: DataProtection = DataProtection.PROTECTED


class ContainerRegistry(pulumi.ComponentResource):
    registry: pulumi.Output[str]
    """`<account>.dkr.ecr.<region>.<dns suffix>`: the host every repository URL starts with."""
    repository_urls: dict[str, pulumi.Output[str]]
    repository_arns: dict[str, pulumi.Output[str]]
    key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ContainerRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("philosophy:index:ContainerRegistry", name, None, opts)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke).account_id
        partition_info = aws.get_partition_output(opts=invoke)
        partition, dns_suffix = partition_info.partition, partition_info.dns_suffix
        protected = args.data_protection is DataProtection.PROTECTED
        key_policy = pulumi.Output.all(partition, account, pulumi.Output.all(*args.ci_role_arns)).apply(
            lambda v: service_key_policy(partition=v[0], account=v[1], ci_role_arns=v[2])
        )
        lifecycle = ecr_lifecycle_policy(
            keep_releases=args.keep_releases, untagged_expire_days=args.untagged_expire_days
        )

        key = self._key(
            f"{name}-key", f"alias/{args.key_alias}", key_policy, pulumi.ResourceOptions(parent=self), protected
        )
        self.registry = pulumi.Output.concat(account, ".dkr.ecr.", args.region, ".", dns_suffix)
        self.repository_urls, self.repository_arns = {}, {}
        for repo in args.repositories:
            full_name = f"{args.namespace}/{repo}"
            repository = aws.ecr.Repository(
                f"{name}-{repo}",
                name=full_name,
                # A tag names one image for good: what was tested is what is deployed, and a leaked push
                # credential cannot replace a released image.
                image_tag_mutability="IMMUTABLE",
                encryption_configurations=[{"encryption_type": "KMS", "kms_key": key.arn}],
                # With enhanced scanning, Inspector scans the whole registry (below) and this is ignored.
                image_scanning_configuration={"scan_on_push": args.scanning is EcrScanning.BASIC},
                # Never delete a repository that still holds images.
                force_delete=False,
                opts=pulumi.ResourceOptions(parent=self, protect=protected),
            )
            aws.ecr.LifecyclePolicy(
                f"{name}-{repo}-lifecycle",
                repository=repository.name,
                policy=lifecycle,
                opts=pulumi.ResourceOptions(parent=repository),
            )
            self.repository_urls[repo] = pulumi.Output.concat(self.registry, "/", full_name)
            # Built, not read back: the same ARN the push role's policy names.
            self.repository_arns[repo] = pulumi.Output.all(partition, account).apply(
                functools.partial(_repository_arn, args.region, full_name)
            )

        in_dr = pulumi.ResourceOptions(parent=self, provider=args.dr_provider)
        if args.scanning is EcrScanning.ENHANCED:
            # Registry-wide, one per account and region, so it is the whole registry's: Inspector scans every
            # repository on push and again whenever a new vulnerability is published (scan-on-push alone never
            # rescans). The DR region too, where the replicas are what a failover would run.
            for suffix, region_opts in (("scanning", pulumi.ResourceOptions(parent=self)), ("dr-scanning", in_dr)):
                aws.ecr.RegistryScanningConfiguration(
                    f"{name}-{suffix}",
                    scan_type="ENHANCED",
                    rules=[
                        {
                            "scan_frequency": "CONTINUOUS_SCAN",
                            "repository_filters": [{"filter": "*", "filter_type": "WILDCARD"}],
                        }
                    ],
                    opts=region_opts,
                )

        # The DR region: ECR creates each replica's repository on the first replicated push, from this template.
        dr_key = self._key(f"{name}-dr-key", f"alias/{args.key_alias}-dr", key_policy, in_dr, protected)
        creation_role = aws.iam.Role(
            f"{name}-replica-creation-role",
            description=f"ECR: creates the {args.namespace}/* replicas in {args.dr_region} with the DR key",
            path=ROLE_PATH,
            # As AWS documents it for repository creation templates (ECR passes no source account to check).
            assume_role_policy=(
                '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                '"Principal": {"Service": "ecr.amazonaws.com"}, "Action": "sts:AssumeRole"}]}'
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        creation_policy = aws.iam.RolePolicy(
            f"{name}-replica-creation-policy",
            role=creation_role.id,
            policy=pulumi.Output.all(partition, account, dr_key.arn).apply(
                lambda v: repository_creation_role_policy(
                    repository_pattern=repository_arn(v[0], args.dr_region, v[1], f"{args.namespace}/*"),
                    key_arn=v[2],
                )
            ),
            opts=pulumi.ResourceOptions(parent=creation_role),
        )
        template = aws.ecr.RepositoryCreationTemplate(
            f"{name}-replica-template",
            prefix=args.namespace,
            applied_fors=["REPLICATION"],
            description=f"Replicas of {args.namespace}/* from {args.region}: the same settings as the sources",
            image_tag_mutability="IMMUTABLE",
            encryption_configurations=[{"encryption_type": "KMS", "kms_key": dr_key.arn}],
            lifecycle_policy=lifecycle,
            custom_role_arn=creation_role.arn,
            opts=pulumi.ResourceOptions.merge(in_dr, pulumi.ResourceOptions(depends_on=[creation_policy])),
        )
        # Registry-wide as well: every push to these repositories is copied to the DR region.
        aws.ecr.ReplicationConfiguration(
            f"{name}-replication",
            replication_configuration={
                "rules": [
                    {
                        "destinations": [{"region": args.dr_region, "registry_id": account}],
                        "repository_filters": [{"filter": args.namespace, "filter_type": "PREFIX_MATCH"}],
                    }
                ]
            },
            # The template first, or the first replicas would be created with ECR's defaults (mutable, AES256).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[template]),
        )

        self.key_arn = key.arn
        self.register_outputs(
            {
                "registry": self.registry,
                "repositoryUrls": self.repository_urls,
                "repositoryArns": self.repository_arns,
                "keyArn": self.key_arn,
            }
        )

    def _key(
        self, resource_name: str, alias: str, policy: pulumi.Input[str], opts: pulumi.ResourceOptions, protected: bool
    ) -> aws.kms.Key:
        key = aws.kms.Key(
            resource_name,
            description="ECR image encryption (philosophy repositories)",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=policy,
            # Every image layer is unreadable without it.
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=protected, retain_on_delete=True)),
        )
        aws.kms.Alias(
            f"{resource_name}-alias",
            name=alias,
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=key)),
        )
        return key


def _repository_arn(region: str, name: str, partition_and_account: list[str]) -> str:
    partition, account = partition_and_account
    return repository_arn(partition, region, account, name)
