"""The `deployRunner` section: the CodeBuild-hosted GitHub Actions runner inside the VPC that deploys the
Kubernetes layer, and the state backend it reads and writes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import StrEnum

from pydantic import Field

from philosophy_infra.config.base import LOG_RETENTION_DAYS, ConfigIssue, Model, bucket_name_problem

_GITHUB_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_CONNECTION_ARN = re.compile(
    r"^arn:aws(-[a-z]+)*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]{36}$"
)
# A key ARN, not an alias ARN: the value is an IAM Resource, and a grant on an alias ARN authorises nothing on
# the key behind it.
_KMS_KEY_ARN = re.compile(r"^arn:aws(-[a-z]+)*:kms:[a-z0-9-]+:\d{12}:key/(mrk-)?[0-9a-f-]{32,36}$")
_PREFIX = re.compile(r"^([A-Za-z0-9!_.*'()-]+/)*[A-Za-z0-9!_.*'()-]*$")


class RunnerCompute(StrEnum):
    """CodeBuild's Linux compute types: SMALL 2 vCPU/3 GB, MEDIUM 4 vCPU/7 GB, LARGE 8 vCPU/15 GB."""

    SMALL = "BUILD_GENERAL1_SMALL"
    MEDIUM = "BUILD_GENERAL1_MEDIUM"  # a Pulumi Python program with the AWS and Kubernetes SDKs wants > 3 GB
    LARGE = "BUILD_GENERAL1_LARGE"


class DeployRunnerConfig(Model):
    github_repository: str
    """`owner/name` of this repository: the only one whose workflow jobs the runner takes."""
    github_connection_arn: str
    """An AWS CodeConnections connection to GitHub, created and authorised once per account in the console
    (the GitHub App handshake needs a person), through which CodeBuild reads the repository and registers
    its webhook."""
    state_bucket: str
    """The S3 bucket of the Pulumi state backend (`pulumi login s3://<stateBucket>`)."""
    state_prefix: str = ""
    """The path inside the bucket, if the backend URL has one (`s3://<bucket>/<prefix>`)."""
    state_kms_key_arn: str | None = None
    """The KMS key of the stacks' `awskms://` secrets provider: the runner decrypts the AWS layer's secret
    outputs (the kubeconfig) and encrypts its own stack's secrets with it."""
    workflow_names: list[str] = Field(default_factory=lambda: ["deploy"], min_length=1)
    """The workflows (their `name:`) whose queued jobs start a runner: the repository's deploy and drift
    workflows. The runner is only a network location; credentials come from the Kubernetes layer's roles,
    which trust a GitHub environment or `main`, never a pull request."""
    compute_type: RunnerCompute = RunnerCompute.MEDIUM
    build_timeout_minutes: int = Field(default=60, ge=5, le=480)
    log_retention_days: int = 90

    def issues(self) -> Iterator[ConfigIssue]:
        if not _GITHUB_REPOSITORY.fullmatch(self.github_repository):
            yield ConfigIssue(
                "deployRunner.githubRepository", self.github_repository, "must be a GitHub repository as owner/name"
            )
        if not _CONNECTION_ARN.fullmatch(self.github_connection_arn):
            yield ConfigIssue(
                "deployRunner.githubConnectionArn",
                self.github_connection_arn,
                "must be a CodeConnections connection ARN (arn:aws:codeconnections:<region>:<account>:connection/<id>)",
            )
        if problem := bucket_name_problem(self.state_bucket):
            yield ConfigIssue("deployRunner.stateBucket", self.state_bucket, problem)
        if self.state_prefix.startswith("/") or not _PREFIX.fullmatch(self.state_prefix):
            yield ConfigIssue(
                "deployRunner.statePrefix",
                self.state_prefix,
                "must be a relative S3 key prefix such as `pulumi` (no leading '/')",
            )
        if self.state_kms_key_arn is not None and not _KMS_KEY_ARN.fullmatch(self.state_kms_key_arn):
            yield ConfigIssue(
                "deployRunner.stateKmsKeyArn",
                self.state_kms_key_arn,
                "must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>); an alias ARN grants nothing in IAM",
            )
        for i, workflow in enumerate(self.workflow_names):
            if not workflow.strip() or len(workflow) > 200:
                yield ConfigIssue(
                    f"deployRunner.workflowNames[{i}]", workflow, "must be a workflow's name (1-200 characters)"
                )
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            yield ConfigIssue(
                "deployRunner.logRetentionDays", self.log_retention_days, "must be a CloudWatch Logs retention value"
            )
