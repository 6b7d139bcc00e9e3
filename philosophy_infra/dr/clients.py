"""The one place boto3 clients are made: the commands take a `Clients`, so tests hand in moto's or stubbed ones."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    # boto3-stubs (a dev dependency): the typed clients, so every call's parameters are checked by mypy.
    from mypy_boto3_backup import BackupClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_s3 import S3Client

# Standard retries ride out API throttling; the timeouts keep a hung endpoint from hanging the operator's terminal.
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=10,
    read_timeout=60,
    user_agent_extra="philosophy-infra-dr",
)


class Clients(Protocol):
    def rds(self, region: str) -> RDSClient: ...

    def backup(self, region: str) -> BackupClient: ...

    def s3(self, region: str) -> S3Client: ...

    def cloudwatch(self, region: str) -> CloudWatchClient: ...


class Boto3Clients:
    """Clients of one boto3 session: credentials from the environment (variables, profile, SSO, instance role),
    the region always explicit (from the stack's config), never the profile's default."""

    def __init__(self) -> None:
        self._session = boto3.session.Session()

    def rds(self, region: str) -> RDSClient:
        return self._session.client("rds", region_name=region, config=_CONFIG)

    def backup(self, region: str) -> BackupClient:
        return self._session.client("backup", region_name=region, config=_CONFIG)

    def s3(self, region: str) -> S3Client:
        return self._session.client("s3", region_name=region, config=_CONFIG)

    def cloudwatch(self, region: str) -> CloudWatchClient:
        return self._session.client("cloudwatch", region_name=region, config=_CONFIG)
