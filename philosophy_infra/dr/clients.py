"""The one place boto3 clients are made: the commands take a `Clients`, so tests hand in moto's or stubbed ones."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    # boto3-stubs (a dev dependency): the typed clients, so every call's parameters are checked by mypy.
    from mypy_boto3_backup import BackupClient
    from mypy_boto3_rds import RDSClient

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


class Boto3Clients:
    """Clients of one boto3 session: credentials from the environment (variables, profile, SSO, instance role),
    the region always explicit (from the stack's config), never the profile's default."""

    def __init__(self) -> None:
        self._session = boto3.session.Session()

    def rds(self, region: str) -> RDSClient:
        return self._session.client("rds", region_name=region, config=_CONFIG)

    def backup(self, region: str) -> BackupClient:
        return self._session.client("backup", region_name=region, config=_CONFIG)
