"""The bootstrap layer's config: what `bootstrap/Pulumi.<account>.yaml` says under `philosophy-bootstrap:`.

The bootstrap is the small project run once per AWS account, from an administrator's workstation, that creates
what the other layers stand on: the Pulumi state bucket (and its replica in the DR region), the key of the
stacks' `awskms://` secrets provider, GitHub's OIDC provider with the CI roles, and the ECR repositories of the
service's images. `load_bootstrap_config()` is its one entry point."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Any

import pulumi
from pydantic import Field

from philosophy_infra import regions
from philosophy_infra.config.aws import running_config
from philosophy_infra.config.base import (
    LOG_RETENTION_DAYS,
    REGION_KEY,
    ConfigIssue,
    DataProtection,
    LayerModel,
    Model,
    bucket_name_problem,
    parse_stack_config,
)
from philosophy_infra.config.placeholders import RunMode, check_placeholders, run_mode

BOOTSTRAP_NAMESPACE = "philosophy-bootstrap"

# The environment stacks' rule (`philosophy-infra:environment`): the deploy roles trust the GitHub environment
# of the same name, and each reads and writes only that stack's state.
_ENVIRONMENT = re.compile(r"^[a-z][a-z0-9-]{1,20}$")
# GitHub: an owner is 1-39 letters, digits or single dashes (not at either end); a repository name is 1-100
# letters, digits, '.', '_' or '-', and never `.` or `..`.
_GITHUB_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}/[A-Za-z0-9._-]{1,100}$")
# ECR: a repository name is path components of lowercase letters and digits, separated by '.', '_', '__' or
# dashes; the program adds the namespace, so a configured name is one component.
_ECR_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
# KMS alias names (without `alias/`): letters, digits, '/', '_' and '-'; `aws/` is AWS's own.
_ALIAS = re.compile(r"^[A-Za-z0-9/_-]{1,250}$")

# S3 keeps these for access points, Object Lambda, directory buckets and its own examples.

DR_SUFFIX = "-dr"


class EcrScanning(StrEnum):
    """How pushed images are scanned for vulnerabilities."""

    BASIC = "basic"  # ECR's own scan of OS packages on each push (free)
    ENHANCED = "enhanced"  # Amazon Inspector, registry-wide, continuously (billed per image scanned)


class GithubConfig(Model):
    infra_repository: str
    """`owner/name` of this repository: the preview role and the deploy roles trust its workflows only."""
    app_repository: str
    """`owner/name` of the service's repository: the push role trusts its `main` branch only."""

    def issues(self) -> Iterator[ConfigIssue]:
        for key, value in (("infraRepository", self.infra_repository), ("appRepository", self.app_repository)):
            name = value.partition("/")[2]
            if not _GITHUB_REPOSITORY.fullmatch(value) or name in (".", ".."):
                yield ConfigIssue(f"github.{key}", value, "must be a GitHub repository as owner/name")


class StateLifecycleConfig(Model):
    noncurrent_version_expiration_days: int = Field(default=90, ge=1)
    """Every update of a stack writes a new version of its checkpoint; the old ones are kept this long."""
    abort_incomplete_multipart_upload_days: int = Field(default=7, ge=1)


class EcrConfig(Model):
    namespace: str = "philosophy"
    """The repositories are `<namespace>/<name>`; workloads pull from `<registry>/<namespace>/<name>:<tag>`."""
    repositories: list[str] = Field(default_factory=lambda: ["api", "websocket", "claude-worker"], min_length=1)
    keep_releases: int = Field(default=30, ge=1, le=1000)
    """How many tagged images each repository keeps; enough to roll back, and more than one environment's
    release can lag behind the newest push."""
    untagged_expire_days: int = Field(default=7, ge=1)
    scanning: EcrScanning = EcrScanning.BASIC

    def issues(self) -> Iterator[ConfigIssue]:
        if not _ECR_COMPONENT.fullmatch(self.namespace):
            yield ConfigIssue(
                "ecr.namespace", self.namespace, "must be lowercase letters and digits, separated by '.', '_' or '-'"
            )
        seen: set[str] = set()
        for i, name in enumerate(self.repositories):
            if not _ECR_COMPONENT.fullmatch(name):
                yield ConfigIssue(
                    f"ecr.repositories[{i}]", name, "must be lowercase letters and digits, separated by '.', '_' or '-'"
                )
            elif name in seen:
                yield ConfigIssue(f"ecr.repositories[{i}]", name, "is listed twice")
            seen.add(name)
            if len(f"{self.namespace}/{name}") > 256:
                yield ConfigIssue(
                    f"ecr.repositories[{i}]", name, "the full name (namespace/name) is over 256 characters"
                )


class BootstrapStackConfig(LayerModel):
    """Everything one bootstrap stack (one AWS account) says, plus the account's home region."""

    region: str
    dr_region: str
    """Where the state's replica and the images' replicas live: what you need to run DR if `region` is down."""
    owner: str = Field(min_length=1)
    cost_center: str | None = None
    data_protection: DataProtection = DataProtection.PROTECTED
    """`protected`: Pulumi `protect` on the buckets, keys and repositories. `snapshotOnly` lifts it (a sandbox
    account that may be torn down); buckets and repositories still refuse to be deleted while not empty."""
    state_bucket_name: str
    """Fixed, not auto-named: `pulumi login s3://<name>` and every layer's config name it."""
    state_lifecycle: StateLifecycleConfig = Field(default_factory=StateLifecycleConfig)
    stack_key_alias: str = "philosophy-pulumi"
    """Without `alias/`: the environment stacks are initialised with `awskms://alias/<this>?region=<region>`."""
    github: GithubConfig
    environments: list[str] = Field(min_length=1)
    """The environment stacks in this account (`staging`, `prod`): one deploy role each, trusting the GitHub
    environment of the same name."""
    ecr: EcrConfig = Field(default_factory=EcrConfig)
    rds_os_metrics_retention_days: int = 30
    """How long the account's RDS enhanced-monitoring log group (RDSOSMetrics) keeps OS metrics."""

    def issues(self) -> Iterator[ConfigIssue]:
        if self.rds_os_metrics_retention_days not in LOG_RETENTION_DAYS:
            yield ConfigIssue(
                "rdsOsMetricsRetentionDays",
                self.rds_os_metrics_retention_days,
                "must be a retention CloudWatch Logs offers (1, 3, 5, 7, 14, 30, 60, 90, ...)",
            )
        for key, value in ((REGION_KEY, self.region), ("drRegion", self.dr_region)):
            if problem := regions.region_problem(value):
                yield ConfigIssue(key, value, problem)
        if self.dr_region == self.region:
            yield ConfigIssue(
                "drRegion",
                self.dr_region,
                f"must differ from {REGION_KEY}: a replica in the same region survives nothing",
            )
        problem = bucket_name_problem(self.state_bucket_name)
        if problem:
            yield ConfigIssue("stateBucketName", self.state_bucket_name, problem)
        elif len(self.replica_bucket_name) > 63:
            yield ConfigIssue(
                "stateBucketName",
                self.state_bucket_name,
                f"at most {63 - len(DR_SUFFIX)} characters: the replica is named <stateBucketName>{DR_SUFFIX}",
            )
        if not _ALIAS.fullmatch(self.stack_key_alias) or self.stack_key_alias.startswith("aws/"):
            yield ConfigIssue(
                "stackKeyAlias",
                self.stack_key_alias,
                "must be a KMS alias name without `alias/` (letters, digits, '/', '_', '-'), not under aws/",
            )
        yield from self.github.issues()
        seen: set[str] = set()
        for i, environment in enumerate(self.environments):
            if not _ENVIRONMENT.fullmatch(environment):
                yield ConfigIssue(
                    f"environments[{i}]",
                    environment,
                    "must be an environment stack's name: 2-21 lowercase letters, digits or dashes, starting with a "
                    "letter",
                )
            elif environment in seen:
                yield ConfigIssue(f"environments[{i}]", environment, "is listed twice")
            seen.add(environment)
        yield from self.ecr.issues()

    @property
    def protected(self) -> bool:
        return self.data_protection is DataProtection.PROTECTED

    @property
    def replica_bucket_name(self) -> str:
        return f"{self.state_bucket_name}{DR_SUFFIX}"

    @classmethod
    def from_raw(cls, stack: str, raw: Mapping[str, Any]) -> BootstrapStackConfig:
        return parse_stack_config(cls, namespace=BOOTSTRAP_NAMESPACE, stack=stack, raw=raw, region=True)


def load_bootstrap_config(mode: RunMode | None = None) -> BootstrapStackConfig:
    """The running stack's config, validated; placeholders refused in a real update, before anything exists."""
    raw = running_config()
    config = BootstrapStackConfig.from_raw(pulumi.get_stack(), raw)
    check_placeholders(pulumi.get_stack(), raw, (BOOTSTRAP_NAMESPACE,), mode or run_mode())
    return config
